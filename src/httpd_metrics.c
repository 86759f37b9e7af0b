/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The counters as httpd has them (rus_metrics.h): their shared memory,
 * made once and kept across graceful restarts; each virtual host's set;
 * what a request counts; the gauges read from the store by the
 * maintenance thread; the remoteuser-metrics handler and the
 * server-status section. */

#include <string.h>

#include <apr_shm.h>
#include <apr_strings.h>

#include "ap_mpm.h"
#include "mod_status.h"

#include "rus_coherence.h"
#include "rus_metrics.h"
#include "rus_store.h"

#include "httpd_private.h"

/* ap_retained_data's key: the segment outlives the generations of the
 * configuration (graceful restarts), not the parent process. */
/* The name of what is retained; a new name when metrics_retained_t
 * changes, since a graceful restart may load a build whose struct differs
 * from the one the retained block was made for. */
#define RETAINED_KEY "mod_remoteuser_session-metrics-2"

/* What the parent keeps from one generation to the next (ap_retained_data,
 * in its process pool). */
typedef struct metrics_retained_t {
    apr_shm_t *shm;      /* anonymous, from the process pool */
    apr_size_t size;     /* its size: rus_metrics_size() of the build of the
                          module that made it; another size after a
                          restart (another version) gets a new segment */
    apr_uint64_t layout; /* and rus_metrics_layout(): likewise, since old
                            children still write into the old segment */
} metrics_retained_t;

/* This generation's handle on the counters (from pconf), NULL when no
 * shared memory could be had: nothing is counted then. */
static rus_metrics_t *metrics;

/* The coherence invalidations of this child already added to a set
 * (rus_coh_invalidations() counts them per process). */
static apr_uint64_t coh_reported;

/* post_config: find the segment again (a graceful restart) or make it in
 * the process pool, lay the counters out in it unless it holds them (the
 * gauges' due time with them), and give every virtual host its set. */
void rus_httpd_metrics_init(apr_pool_t *pconf, server_rec *s)
{
    metrics_retained_t *ret;
    apr_size_t size = rus_metrics_size();
    apr_status_t rv;
    server_rec *v;

    metrics = NULL;
    ret = ap_retained_data_get(RETAINED_KEY);
    if (ret == NULL) {
        ret = ap_retained_data_create(RETAINED_KEY, sizeof(*ret));
        memset(ret, 0, sizeof(*ret));
    }
    if (ret->shm != NULL
        && (ret->size != size || ret->layout != rus_metrics_layout())) {
        /* another build's layout: children of the old generation keep
         * their mapping; the parent lets go of it */
        apr_shm_destroy(ret->shm);
        ret->shm = NULL;
    }
    if (ret->shm == NULL) {
        rv = apr_shm_create(&ret->shm, size, NULL, s->process->pool);
        if (rv != APR_SUCCESS) {
            ret->shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00138) "cannot make %" APR_SIZE_T_FMT
                                         " bytes of shared memory for the "
                                         "counters: nothing is counted, "
                                         "remoteuser-metrics and "
                                         "server-status show none",
                         size);
            return;
        }
        ret->size = size;
        ret->layout = rus_metrics_layout();
    }
    metrics =
        rus_metrics_init(apr_shm_baseaddr_get(ret->shm), ret->size, pconf);
    if (metrics == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00139) "the shared memory of the counters is "
                                     "too small (%" APR_SIZE_T_FMT
                                     " bytes): nothing is counted",
                     ret->size);
        return;
    }
    for (v = s; v != NULL; v = v->next) {
        rus_server_conf *conf = rus_httpd_server_conf(v);
        const char *name =
            v->server_hostname ? v->server_hostname : s->server_hostname;

        conf->metrics = rus_metrics_vhost(metrics, name ? name : "");
    }
}

/* After fork: this child has reported none of its invalidations yet. */
void rus_httpd_metrics_child_init(void)
{
    __atomic_store_n(&coh_reported, 0, __ATOMIC_RELAXED);
}

/* The set of the virtual host of @a r (NULL: nothing is counted). */
static rus_metrics_vhost_t *set_of(const request_rec *r)
{
    return rus_httpd_server_conf(r->server)->metrics;
}

/* Add @a n to counter @a c of the virtual host of @a r: one atomic add,
 * none for 0. */
void rus_httpd_count(request_rec *r, rus_metric_e c, apr_uint64_t n)
{
    if (n > 0) {
        rus_metrics_add(set_of(r), c, n);
    }
}

/* Count @a c once for the whole request chain of @a r: an internal
 * redirect (an ErrorDocument) or a subrequest that meets the same event
 * again adds nothing. */
void rus_httpd_count_once(request_rec *r, rus_metric_e c)
{
    rus_req_state *st = rus_httpd_req_state(r, 1);
    apr_uint64_t bit = (apr_uint64_t)1 << c;

    if (!(st->counted & bit)) {
        st->counted |= bit;
        rus_metrics_add(set_of(r), c, 1);
    }
}

/* One store call of @a r, from @a since until now, into the latency
 * histogram. */
void rus_httpd_observe(request_rec *r, apr_time_t since)
{
    rus_metrics_observe(set_of(r), apr_time_now() - since);
}

/* A store failure of @a r, by the kind rus_store_error_kind() gives it;
 * @a rv 0: the store is not there at all (refused at a restart). */
void rus_httpd_count_store_error(request_rec *r, apr_status_t rv)
{
    static const char *const busy[] = { "locked", NULL };
    static const char *const unavailable[] = {
        "unreachable",           "missing",   "permission denied",
        "read-only file system", "disk full", "I/O error",
        "replaced while open",   "read-only", NULL
    };
    static const char *const corrupt[] = { "corrupt", "schema changed", NULL };
    const char *kind = rus_store_error_kind(rv);
    rus_metric_e c = RUS_M_STORE_ERR_OTHER;
    int i;

    for (i = 0; busy[i] != NULL; i++) {
        if (strcmp(kind, busy[i]) == 0) {
            c = RUS_M_STORE_ERR_BUSY;
        }
    }
    for (i = 0; unavailable[i] != NULL; i++) {
        if (strcmp(kind, unavailable[i]) == 0) {
            c = RUS_M_STORE_ERR_UNAVAILABLE;
        }
    }
    for (i = 0; corrupt[i] != NULL; i++) {
        if (strcmp(kind, corrupt[i]) == 0) {
            c = RUS_M_STORE_ERR_CORRUPT;
        }
    }
    if (rv == APR_SUCCESS) {
        c = RUS_M_STORE_ERR_UNAVAILABLE;
    }
    rus_metrics_add(set_of(r), c, 1);
}

/* What the answer cache of @a r's lookup did: @a hits and @a misses, and
 * the answers this child's view of the store dropped since it last said
 * (added once, to the set of the request that finds them). */
void rus_httpd_count_cache(request_rec *r, int hits, int misses)
{
    apr_uint64_t now, seen;

    rus_httpd_count(r, RUS_M_CACHE_HIT, (apr_uint64_t)hits);
    rus_httpd_count(r, RUS_M_CACHE_MISS, (apr_uint64_t)misses);
    now = rus_coh_invalidations(rus_httpd_store.coh);
    seen = __atomic_load_n(&coh_reported, __ATOMIC_RELAXED);
    if (now > seen
        && __atomic_compare_exchange_n(&coh_reported, &seen, now, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        rus_metrics_add(set_of(r), RUS_M_CACHE_INVALIDATIONS, now - seen);
    }
}

/* ==================================================================== */
/* the gauges                                                           */

/* The maintenance thread, at each tick: when this child wins the
 * interval, read the store's counts on a connection of @a spool and set
 * the gauges. A failure leaves them as they were (the next interval
 * tries again); it is told at debug level, the requests tell the rest. */
void rus_httpd_metrics_gauges(server_rec *s, rus_store_pool_t *spool,
                              apr_pool_t *ptemp)
{
    rus_store_info_t info;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    apr_time_t now;
    apr_status_t rv;

    now = apr_time_now();
    if (!rus_metrics_gauges_claim(metrics, now)) {
        return; /* another process's turn, or not yet */
    }
    memset(&info, 0, sizeof(info));
    rv = rus_store_acquire(&conn, spool, ptemp, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_info(conn, apr_time_sec(now), &info);
        msg = rv ? apr_pstrdup(ptemp, rus_store_error(conn)) : NULL;
        rus_store_release(spool, conn);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     RUSLOGNO(00140) "the gauges could not be read from "
                                     "the store (%s): %s; tried again in "
                                     "%d s",
                     rus_store_error_kind(rv), msg ? msg : "",
                     RUS_METRICS_GAUGE_INTERVAL);
        return;
    }
    rus_metrics_gauge_set(metrics, RUS_G_USERS, info.users, now);
    rus_metrics_gauge_set(metrics, RUS_G_SESSIONS_ACTIVE,
                          info.sessions - info.sessions_expired, now);
    rus_metrics_gauge_set(metrics, RUS_G_REVOKED_ADMIN, info.revoked_admin,
                          now);
    rus_metrics_gauge_set(metrics, RUS_G_REVOKED_DEACTIVATION,
                          info.revoked_deactivation, now);
}

/* ==================================================================== */
/* SetHandler remoteuser-metrics                                        */

/* The value of the argument @a key in the query string @a args, NULL
 * when absent ("" when given without a value). */
static const char *query_arg(apr_pool_t *p, const char *args, const char *key)
{
    apr_size_t n = strlen(key);
    const char *a = args, *end;

    while (a != NULL && *a != '\0') {
        end = strchr(a, '&');
        if (strncmp(a, key, n) == 0 && (a[n] == '=' || a[n] == '&' || !a[n])) {
            if (a[n] != '=') {
                return "";
            }
            return end ? apr_pstrmemdup(p, a + n + 1,
                                        (apr_size_t)(end - a - n - 1))
                       : apr_pstrdup(p, a + n + 1);
        }
        a = end ? end + 1 : NULL;
    }
    return NULL;
}

/* GET or HEAD: the counters as Prometheus text exposition (the default,
 * ?format=prometheus) or JSON (?format=json); any other format 400, any
 * other method 405. Who may read them is the administrator's to say
 * (Require): nothing here checks. */
int rus_httpd_metrics_handler(request_rec *r)
{
    const char *format, *body, *htdir;
    int json;

    if (r->handler == NULL || strcmp(r->handler, METRICS_HANDLER) != 0) {
        return DECLINED;
    }
    /* The counters are the whole server's: a .htaccess author who may set
     * the handler (AllowOverride FileInfo) must not publish them. */
    htdir = rus_httpd_htaccess_dir(r, OR_FILEINFO);
    if (htdir != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00136) "%s refused: a .htaccess file in %s "
                                      "may set handlers here (AllowOverride "
                                      "FileInfo), and RemoteUserTrustHtaccess "
                                      "is Off",
                      METRICS_HANDLER, htdir);
        return HTTP_FORBIDDEN;
    }
    if (r->method_number != M_GET) {
        /* set by hand: httpd's own Allow would add OPTIONS and TRACE */
        r->status = HTTP_METHOD_NOT_ALLOWED;
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        ap_set_content_type(r, "text/plain; charset=utf-8");
        ap_discard_request_body(r);
        ap_rputs("405 Method Not Allowed: GET or HEAD only\n", r);
        return OK;
    }
    format = query_arg(r->pool, r->args, "format");
    json = format != NULL && strcmp(format, "json") == 0;
    if (format != NULL && !json && strcmp(format, "prometheus") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00141) "%s: unknown format '%s' (json or "
                                      "prometheus): 400",
                      METRICS_HANDLER, rus_httpd_log_name(r, format));
        return HTTP_BAD_REQUEST;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, json ? "application/json"
                                : "text/plain; version=0.0.4; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    body = json ? rus_metrics_json(metrics, r->pool)
                : rus_metrics_prometheus(metrics, r->pool);
    if (body != NULL) {
        ap_rputs(body, r);
    }
    return OK;
}

/* ==================================================================== */
/* server-status                                                        */

/* mod_status's status_hook: under ?auto the RemoteUser... lines (totals
 * over the virtual hosts), else a "remoteuser_session" section with every
 * counter per virtual host. */
int rus_httpd_metrics_status(request_rec *r, int flags)
{
    if (metrics == NULL) {
        return OK;
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rputs(rus_metrics_status_auto(metrics, r->pool), r);
        return OK;
    }
    ap_rputs("<hr />\n<h2>remoteuser_session</h2>\n", r);
    ap_rputs(rus_metrics_status_html(metrics, r->pool), r);
    ap_rputs("<p>The same figures for Prometheus: <code>SetHandler "
             "remoteuser-metrics</code>.</p>\n",
             r);
    return OK;
}
