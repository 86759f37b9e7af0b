/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The session cookie: attributes, the cookie path of a request, minting,
 * the login and logout handlers. */

#include <apr_hash.h>
#include <apr_strings.h>

#include "rus_cache.h"
#include "rus_cookie.h"
#include "rus_gate.h"
#include "rus_origin.h"
#include "rus_redirect.h"
#include "rus_selfsvc.h"
#include "rus_session.h"
#include "rus_store.h"
#include "rus_token.h"
#include "rus_username.h"

#include "httpd_private.h"

/* The request note that names the session of a request, for the access
 * log: %{remoteuser-session}n. */
#define SESSION_NOTE "remoteuser-session"

/* The scope a session is bound to: RemoteUserSessionScope, or the virtual
 * host that issued it, by name and port (ServerName's port, else the port
 * the connection came in on), so that two virtual hosts with one
 * ServerName on :80 and :443 do not share sessions. */
static const char *vhost_key(request_rec *r)
{
    const rus_server_conf *sconf = rus_httpd_server_conf(r->server);
    unsigned int port = r->server->port;

    if (sconf->session_scope != NULL) {
        return apr_pstrcat(r->pool, "scope=", sconf->session_scope, NULL);
    }
    if (port == 0 && r->connection->local_addr != NULL) {
        port = r->connection->local_addr->port;
    }
    return apr_psprintf(r->pool, "%s:%u",
                        r->server->server_hostname ? r->server->server_hostname
                                                   : "",
                        port);
}

static int is_tls(request_rec *r)
{
    return strcmp(ap_http_scheme(r), "https") == 0;
}

static rus_cookie_attrs_t cookie_attrs(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t a;

    rus_cookie_attrs_make(&a, rus_conf_cookie_name(conf),
                          rus_conf_cookie_path(conf), conf->cookie_domain,
                          rus_conf_samesite(conf),
                          (rus_cookie_secure_e)rus_conf_cookie_secure(conf),
                          is_tls(r));
    return a;
}

/* A response that sets or clears the cookie is nobody else's to cache. */
static void add_cookie_header(request_rec *r, const char *set_cookie)
{
    apr_table_addn(r->err_headers_out, "Set-Cookie", set_cookie);
    apr_table_mergen(r->err_headers_out, "Cache-Control",
                     "private, no-cache=\"set-cookie\"");
}

/* Answer for a store failure on the session path: logged here. */
int rus_httpd_session_store_failed(request_rec *r, apr_status_t rv,
                                   const char *what, const char *msg)
{
    rus_httpd_store_log(r, APLOG_ERR, rv,
                        apr_psprintf(r->pool,
                                     RUSLOGNO(00023) "user store failed (%s) "
                                                     "%s: %s",
                                     rus_store_error_kind(rv), what, msg));
    return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                            : HTTP_INTERNAL_SERVER_ERROR;
}

/* A cookie that is not a session is no error: note it at debug level. */
void rus_httpd_cookie_ignored(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00022) "session cookie ignored: %s", why);
}

/* rus_cookie_note_fn: the core's notes as RUS00022 debug lines. */
static void cookie_note(void *baton, const char *why)
{
    rus_httpd_cookie_ignored(baton, why);
}

/* What the cookie path needs of this child: its store, cache and gate. */
static void cookie_env(request_rec *r, rus_cookie_env_t *env)
{
    env->spool = rus_httpd_store.pool;
    env->cache = rus_httpd_store_cache(r);
    env->gate = &rus_httpd_store.write_gate;
    env->note = cookie_note;
    env->baton = r;
}

/* The stored forms (hashes) of the distinct well-formed tokens sent in
 * cookies of our name (rus_cookie_hashes()). */
static apr_array_header_t *cookie_hashes(request_rec *r,
                                         const rus_cookie_attrs_t *attrs)
{
    rus_cookie_env_t env;

    cookie_env(r, &env);
    return rus_cookie_hashes(apr_table_get(r->headers_in, "Cookie"),
                             attrs->name, &env, r->pool);
}

/* This location's limits on a session: MaxAge from created_at, idle. */
rus_session_state_e rus_httpd_session_state(request_rec *r,
                                            const rus_dir_conf *conf,
                                            const rus_session_t *sess)
{
    return rus_session_check(sess, vhost_key(r), rus_conf_max_age(conf),
                             rus_conf_idle_timeout(conf), rus_httpd_now_sec(r));
}

/* When the session @a sess ends at the latest under this location's
 * settings: its stored expires_at, or created_at + the MaxAge in force
 * (RemoteUserSessionMaxAge), whichever is first. */
apr_int64_t rus_httpd_session_expires(const rus_dir_conf *conf,
                                      const rus_session_t *sess)
{
    apr_int64_t max_age = rus_conf_max_age(conf);

    if (max_age > 0 && sess->created_at + max_age < sess->expires_at) {
        return sess->created_at + max_age;
    }
    return sess->expires_at;
}

/* The raw token of the request's valid session (st->cookie_hash): the
 * value of a cookie of our name whose stored form is that hash, found
 * once and kept in the request state for the handlers that derive
 * tokens from it (rus_selfsvc_csrf(), rus_selfsvc_ref()). Never logged.
 * NULL when the request has no valid session from its cookie, or the
 * session was minted by this request. */
const char *rus_httpd_session_token(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    rus_req_state *st = rus_httpd_req_state(r, 0);
    const char *values[RUS_COOKIE_CANDIDATES_MAX];
    const char *hash;
    int i, n;

    if (st == NULL || st->cookie_hash == NULL || st->minted) {
        return NULL;
    }
    if (st->cookie_token != NULL) {
        return st->cookie_token;
    }
    n = rus_cookie_values(apr_table_get(r->headers_in, "Cookie"), attrs.name,
                          values, RUS_COOKIE_CANDIDATES_MAX, r->pool);
    for (i = 0; i < n; i++) {
        if (rus_token_hash(&hash, values[i], r->pool) == APR_SUCCESS
            && rus_secret_equal(hash, st->cookie_hash)) {
            st->cookie_token =
                apr_pstrdup(rus_httpd_chain_root(r)->pool, values[i]);
            return st->cookie_token;
        }
    }
    return NULL;
}

/* This location's settings for a session verdict. */
static void session_limits(request_rec *r, const rus_dir_conf *conf,
                           rus_session_limits_t *lim)
{
    lim->vhost = vhost_key(r);
    lim->max_age = rus_conf_max_age(conf);
    lim->idle_timeout = rus_conf_idle_timeout(conf);
    lim->allow_inactive = rus_conf_allow_inactive(conf);
}

/* Look at the session cookie(s) of this request once per chain, through
 * rus_cookie_lookup(): exactly one valid session is recorded in the
 * request state (user row, hash); malformed, unknown, expired, idle or
 * foreign ones are simply not sessions, and two different valid ones are
 * none. Returns OK, or the HTTP error to answer (store failure, inactive
 * user). */
int rus_httpd_check_session_cookie(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    rus_req_state *st = rus_httpd_req_state(r, 1);
    apr_pool_t *keep = rus_httpd_chain_root(r)->pool;
    rus_session_limits_t lim;
    rus_cookie_lookup_t lk;
    rus_cookie_env_t env;
    apr_time_t t0;
    int i;

    if (st->cookie_checked) {
        return OK;
    }
    st->cookie_checked = 1;
    st->cookie_checked_for = r->per_dir_config;
    st->valid = apr_array_make(keep, 1, sizeof(char *));
    if (rus_cookie_name_prefixed(attrs.name) && !is_tls(r)) {
        rus_httpd_cookie_ignored(r,
                                 "a __Host-/__Secure- cookie over plain HTTP");
        return OK;
    }
    session_limits(r, conf, &lim);
    cookie_env(r, &env);
    t0 = apr_time_now();
    rus_cookie_lookup(&lk, apr_table_get(r->headers_in, "Cookie"), attrs.name,
                      &lim, rus_httpd_now_sec(r), &env, r->pool);
    if (lk.store_asked) {
        rus_httpd_observe(r, t0);
    }
    rus_httpd_count_cache(r, lk.cache_hits, lk.cache_misses);
    rus_httpd_count(r, RUS_M_SESS_EXPIRED_ABSOLUTE,
                    (apr_uint64_t)lk.expired_absolute);
    rus_httpd_count(r, RUS_M_SESS_EXPIRED_IDLE, (apr_uint64_t)lk.expired_idle);
    for (i = 0; i < lk.valid->nelts; i++) {
        APR_ARRAY_PUSH(st->valid, const char *) =
            apr_pstrdup(keep, APR_ARRAY_IDX(lk.valid, i, const char *));
    }
    switch (lk.outcome) {
    case RUS_COOKIE_NONE:
        break;
    case RUS_COOKIE_TOO_MANY:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00036) "%d different session cookies in one "
                                      "request (at most %d are looked at): "
                                      "treated as no session",
                      lk.count, RUS_COOKIE_CANDIDATES_MAX);
        break;
    case RUS_COOKIE_AMBIGUOUS:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00037) "%d different valid sessions in one "
                                      "request (users '%s' and '%s'): "
                                      "treated as no session",
                      lk.count, rus_httpd_log_name(r, lk.user.username),
                      rus_httpd_log_name(r, lk.other_user));
        break;
    case RUS_COOKIE_INACTIVE:
        return rus_httpd_refuse_inactive(r, lk.user.username);
    case RUS_COOKIE_STORE_FAILED:
        return rus_httpd_session_store_failed(r, lk.rv, lk.what, lk.msg);
    case RUS_COOKIE_ONE:
        if (lk.touch_rv != APR_SUCCESS) {
            rus_httpd_store_log(
                r, APLOG_WARNING, lk.touch_rv,
                apr_psprintf(r->pool,
                             RUSLOGNO(00028) "could not record session use "
                                             "(%s): %s",
                             rus_store_error_kind(lk.touch_rv), lk.touch_msg));
        }
        st->sess = lk.sess;
        st->cookie_hash = APR_ARRAY_IDX(st->valid, 0, const char *);
        st->cookie_user = lk.user.id;
        rus_httpd_user_keep(&st->user, &lk.user, keep);
        st->sess.vhost = apr_pstrdup(keep, lk.sess.vhost);
        break;
    }
    return OK;
}

/* The public id(s) of the request's session, @a ids, as the request note
 * SESSION_NOTE on @a r and on the first request of its chain (what
 * mod_log_config's %{...}n and %<{...}n read). */
void rus_httpd_session_note(request_rec *r, const char *ids)
{
    request_rec *root = rus_httpd_chain_root(r);

    apr_table_set(r->notes, SESSION_NOTE, ids);
    if (root != r) {
        apr_table_set(root->notes, SESSION_NOTE, ids);
    }
}

/* Take the identity from the recorded session: r->user, and the request
 * state that authorization and the fixups read. */
void rus_httpd_use_session(request_rec *r, const rus_dir_conf *conf)
{
    rus_req_state *st = rus_httpd_req_state(r, 1);

    rus_httpd_session_note(r, rus_session_public_id(st->cookie_hash, r->pool));
    rus_httpd_count_once(r, RUS_M_SESS_VALIDATED);

    st->raw = st->user.username;
    st->clean = st->user.username;
    st->flags = rus_httpd_clean_flags(conf);
    st->from_session = 1;
    st->source = "session";
    r->user = (char *)st->user.username;
    r->ap_auth_type = (char *)RUS_AUTH_TYPE;
}

/* The writes of a login: every valid session the request came with
 * revoked, the new one (@a hash) inserted, the user's oldest beyond
 * @a max_per_user (0: no limit) trimmed into *ptrimmed; each with its
 * cache drop. Stops at the first failure, which it returns. */
static apr_status_t replace_sessions(request_rec *r, rus_conn_t *conn,
                                     const rus_req_state *st, const char *hash,
                                     apr_int64_t max_age,
                                     apr_int64_t max_per_user,
                                     apr_array_header_t **ptrimmed)
{
    apr_int64_t now = rus_httpd_now_sec(r);
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; st->valid != NULL && i < st->valid->nelts; i++) {
        rv = rus_cookie_revoke(conn, rus_httpd_store.cache,
                               APR_ARRAY_IDX(st->valid, i, char *), 0);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = rus_session_insert_with(conn, hash, st->user.id, vhost_key(r),
                                 r->useragent_ip,
                                 rus_ua_clean(r->pool,
                                              apr_table_get(r->headers_in,
                                                            "User-Agent")),
                                 now, now + max_age);
    if (rv == APR_SUCCESS && max_per_user > 0) {
        rv = rus_cookie_trim(conn, rus_httpd_store.cache, st->user.id,
                             (int)max_per_user, hash, ptrimmed, r->pool);
    }
    return rv;
}

/* Issue a new session for the resolved user of this request chain and
 * queue its cookie. Every valid session the request came with is revoked:
 * a login never adopts an incoming token. The user's oldest sessions
 * beyond RemoteUserSessionMaxPerUser go too. Returns OK or an HTTP
 * error. */
int rus_httpd_mint_session(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    rus_req_state *st = rus_httpd_req_state(r, 1);
    apr_int64_t max_age = rus_conf_max_age(conf);
    apr_int64_t max_per_user = rus_conf_max_per_user(conf);
    const char *token = NULL, *hash = NULL, *msg = NULL;
    apr_array_header_t *trimmed = NULL;
    rus_conn_t *conn = NULL;
    apr_status_t rv = APR_SUCCESS;
    int gated = 0, status = OK;
    apr_time_t t0 = 0;

    if (rus_cookie_name_prefixed(attrs.name) && !is_tls(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00038) "no session issued: cookie %s needs "
                                      "HTTPS, and this request came over "
                                      "plain HTTP",
                      attrs.name);
        status = HTTP_FORBIDDEN;
        goto leave;
    }
    rv = rus_token_new(&token, &hash, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RUSLOGNO(00024) "cannot draw a session token from the "
                                      "system random source");
        status = HTTP_INTERNAL_SERVER_ERROR;
        goto leave;
    }
    /* Everything below writes: it holds a place in the gate throughout. */
    if (rus_gate_enter(&rus_httpd_store.write_gate) != APR_SUCCESS) {
        status = rus_httpd_store_writes_full(r, "issuing a session");
        goto leave;
    }
    gated = 1;
    t0 = apr_time_now();
    rv = rus_store_acquire(&conn, rus_httpd_store.pool, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        conn = NULL;
        status =
            rus_httpd_session_store_failed(r, rv, "creating a session", msg);
        goto leave;
    }
    rv = replace_sessions(r, conn, st, hash, max_age, max_per_user, &trimmed);
    if (rv != APR_SUCCESS) {
        status = rus_httpd_session_store_failed(r, rv, "creating a session",
                                                rus_store_error(conn));
        goto leave;
    }
    rus_httpd_count(r, RUS_M_SESS_MINTED, 1);
    rus_httpd_count(r, RUS_M_SESS_REVOKED_USER_SWITCH,
                    st->valid ? (apr_uint64_t)st->valid->nelts : 0);
    rus_httpd_count(r, RUS_M_SESS_REVOKED_EVICTED,
                    trimmed ? (apr_uint64_t)trimmed->nelts : 0);
    if (trimmed != NULL && trimmed->nelts > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      RUSLOGNO(00039) "revoked the %d oldest session(s) of "
                                      "user '%s': RemoteUserSessionMaxPerUser "
                                      "is %" APR_INT64_T_FMT,
                      trimmed->nelts, rus_httpd_log_name(r, st->user.username),
                      max_per_user);
    }
    add_cookie_header(r, rus_cookie_header(r->pool, &attrs, token, max_age));
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  RUSLOGNO(00025) "session %s issued for user '%s' (id "
                                  "%" APR_INT64_T_FMT "), identity from %s",
                  rus_session_public_id(hash, r->pool),
                  rus_httpd_log_name(r, st->user.username), st->user.id,
                  rus_httpd_identity_source(r, st->raw));
    rus_httpd_session_note(r, rus_session_public_id(hash, r->pool));
    st->cookie_hash = apr_pstrdup(rus_httpd_chain_root(r)->pool, hash);
    st->cookie_user = st->user.id;
    st->valid = NULL;
    st->minted = 1;

leave:
    rus_store_release(rus_httpd_store.pool, conn);
    if (t0 != 0) {
        rus_httpd_observe(r, t0);
    }
    if (gated) {
        rus_gate_leave(&rus_httpd_store.write_gate);
    }
    return status;
}

/* Redirect to the decoded `next` parameter when it is a safe local path,
 * else to @a fallback. */
static int redirect_next(request_rec *r, const char *fallback)
{
    const char *next = NULL, *target = fallback;

    if (rus_query_param(&next, r->args, "next", r->pool) == APR_SUCCESS) {
        if (rus_redirect_safe(next)) {
            target = next;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          RUSLOGNO(00030) "ignoring unsafe next='%s', "
                                          "redirecting to %s",
                          rus_httpd_log_name(r, next), fallback);
        }
    }
    apr_table_setn(r->headers_out, "Location", target);
    apr_table_mergen(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_MOVED_TEMPORARILY;
}

/* Where @a r comes from, as its browser says (Sec-Fetch-Site, Origin),
 * against the origin it was sent to: the scheme, the Host and the port the
 * client wrote (parsed_uri holds the Host header's port). Not
 * ap_get_server_port(): under UseCanonicalName On it is ServerName's port,
 * not the one in the browser's Origin. */
rus_site_e rus_httpd_request_site(request_rec *r)
{
    unsigned int port = r->parsed_uri.port_str ? r->parsed_uri.port : 0;

    return rus_request_site(apr_table_get(r->headers_in, "Sec-Fetch-Site"),
                            apr_table_get(r->headers_in, "Origin"),
                            ap_http_scheme(r), r->hostname, port);
}

/* The two headers for a log line, bounded. */
const char *rus_httpd_site_headers(request_rec *r)
{
    const char *sfs = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");

    return apr_psprintf(r->pool, "Sec-Fetch-Site %.40s, Origin %.200s",
                        sfs ? sfs : "(none)", origin ? origin : "(none)");
}

/* A login another site started (login CSRF: its page sends the browser
 * here with the attacker's credentials): no session. 403 with a page that
 * names the user and links to this same URL; following the link is a
 * same-origin navigation, so a deep link from another site (mail, chat)
 * into the application still ends in a login after one click, which a
 * page of the attacker cannot make. The page may not be framed. */
static int refuse_cross_site_login(request_rec *r, const char *user)
{
    const char *name = ap_escape_html2(r->pool, user, 1);
    const char *here =
        apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri), r->args ? "?" : "",
                    r->args ? r->args : "", NULL);
    const char *again;

    /* a link, like a redirect, only to a local path ("//host" is not) */
    if (!rus_redirect_safe(here)) {
        here = "/";
    }
    again = ap_escape_html2(r->pool, here, 1);

    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  RUSLOGNO(00080) "%s refused for user '%s': another site "
                                  "sent this request (%s); no session "
                                  "issued",
                  LOGIN_HANDLER, rus_httpd_log_name(r, user),
                  rus_httpd_site_headers(r));
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "frame-ancestors 'none'");
    apr_table_mergen(r->headers_out, "Cache-Control", "no-store");
    r->status = HTTP_FORBIDDEN;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rvputs(r,
              "<!DOCTYPE html>\n<html><head><title>Log in?</title></head>"
              "<body>\n<h1>Log in as ",
              name,
              "?</h1>\n<p>Another site sent your browser to this login "
              "page. If you want to log in as ",
              name, ", <a id=\"continue\" href=\"", again,
              "\">continue</a>; otherwise close this page.</p>\n"
              "</body></html>\n",
              NULL);
    return OK;
}

/* SetHandler remoteuser-login: the location's front end (or the header)
 * has authenticated the user; issue a fresh session and send the browser
 * on to next=. A request that arrives with a valid session and no new
 * credentials is already logged in: it is only redirected. A request
 * another site sent gets no session (refuse_cross_site_login). */
static int login_handler(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st = rus_httpd_req_state(r, 0);
    int status;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->user == NULL || st == NULL || st->clean == NULL
        || strcmp(st->clean, r->user) != 0 || rus_httpd_store.pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00027) "%s reached without a user resolved "
                                      "by this module: its location needs "
                                      "an AuthType, Require valid-user and "
                                      "RemoteUserEngine On",
                      LOGIN_HANDLER);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rus_httpd_chain_failed(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00042) "%s reached as an error document "
                                      "(authentication or authorization "
                                      "failed first): no session issued",
                      LOGIN_HANDLER);
        return HTTP_FORBIDDEN;
    }
    if (rus_conf_session(conf) != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00040) "%s where RemoteUserSession is not On: "
                                      "no session issued",
                      LOGIN_HANDLER);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_discard_request_body(r);
    rus_httpd_mark_private(r);
    if (!st->from_session) {
        if (rus_httpd_request_site(r) == RUS_SITE_CROSS) {
            return refuse_cross_site_login(r, st->clean);
        }
        status = rus_httpd_mint_session(r, conf);
        if (status != OK) {
            return status;
        }
    }
    return redirect_next(r, rus_conf_login_redirect(conf));
}

/* A store connection for the handler @a handler (remoteuser-logout,
 * remoteuser-sessions) to read and revoke sessions in, into *pconn: OK,
 * or the HTTP status to answer (logged here). */
int rus_httpd_session_connect(request_rec *r, const char *handler,
                              rus_conn_t **pconn)
{
    const char *msg = NULL;
    apr_status_t rv;

    *pconn = NULL;
    if (rus_httpd_store.pool == NULL && rus_httpd_store.refused) {
        rus_httpd_store_log(r, APLOG_ERR, 0,
                            apr_psprintf(r->pool,
                                         RUSLOGNO(00055) "%s cannot revoke "
                                                         "sessions: the user "
                                                         "store was refused "
                                                         "at the last "
                                                         "restart",
                                         handler));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (rus_httpd_store.pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00033) "%s needs a RemoteUserStore to "
                                      "revoke sessions in",
                      handler);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = rus_store_acquire(pconn, rus_httpd_store.pool, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        *pconn = NULL;
        return rus_httpd_session_store_failed(r, rv, "revoking a session", msg);
    }
    return OK;
}

/* What a logout revoked, for its log line, the note and r->user. */
typedef struct logout_done_t {
    int count;        /* sessions revoked that the store knew */
    const char *user; /* the first one's user */
    const char *ids;  /* their public ids, comma-separated */
    const char *text; /* "ID (user 'NAME'), ..." */
} logout_done_t;

/* Revoke the session of @a hash, and when the store knew it, add it and
 * its user to @a done. The user is looked up first (one indexed read; a
 * logout is rare) so that the audit line can say whose session ended. */
static apr_status_t logout_one(request_rec *r, rus_conn_t *conn,
                               const char *hash, logout_done_t *done)
{
    const char *id = rus_session_public_id(hash, r->pool);
    rus_session_t sess;
    rus_user_t user;
    apr_status_t frv, rv;

    frv = rus_session_find(conn, hash, &sess, &user, r->pool);
    rv = rus_cookie_revoke(conn, rus_httpd_store.cache, hash, 0);
    if (rv != APR_SUCCESS || frv != APR_SUCCESS) {
        return rv; /* an unknown session is no error: nothing to end */
    }
    done->count++;
    if (done->user == NULL) {
        done->user = user.username;
    }
    done->ids = done->ids ? apr_pstrcat(r->pool, done->ids, ",", id, NULL) : id;
    done->text =
        apr_psprintf(r->pool, "%s%s%s (user '%s')",
                     done->text ? done->text : "", done->text ? ", " : "", id,
                     rus_httpd_log_name(r, user.username));
    return APR_SUCCESS;
}

/* SetHandler remoteuser-logout: revoke the session server-side, expire
 * the cookie, redirect. POST only unless RemoteUserLogoutAllowGet: a
 * cross-site GET (an image tag) must not log people out. A POST must be
 * same-origin (Origin or Sec-Fetch-Site), or carry neither header (curl,
 * scripts); a request another site sent is refused either way. The cookie
 * is expired only when the request carried one of our name: a cross-site
 * request without it (SameSite) must not end the browser's session while
 * the server keeps it. */
static int logout_handler(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    int allow_get = rus_conf_logout_allow_get(conf) == 1;
    logout_done_t done = { 0, NULL, NULL, NULL };
    apr_array_header_t *hashes;
    rus_conn_t *conn = NULL;
    const char *one = NULL;
    int i, status;
    rus_site_e site;
    apr_status_t rv;
    apr_time_t t0 = 0;

    if (r->method_number != M_POST
        && !(allow_get && r->method_number == M_GET)) {
        r->allowed = AP_METHOD_BIT << M_POST;
        if (allow_get) {
            r->allowed |= AP_METHOD_BIT << M_GET;
        }
        status = HTTP_METHOD_NOT_ALLOWED;
        goto leave;
    }
    site = rus_httpd_request_site(r);
    if (site == RUS_SITE_CROSS
        || (r->method_number == M_POST && site != RUS_SITE_SAME_ORIGIN
            && site != RUS_SITE_UNKNOWN)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00081) "%s refused: this %s is not "
                                      "same-origin (%s); nothing revoked",
                      LOGOUT_HANDLER, r->method, rus_httpd_site_headers(r));
        status = HTTP_FORBIDDEN;
        goto leave;
    }
    ap_discard_request_body(r);
    /* Every well-formed token sent, however many (within the Cookie
     * header's size limit): a planted cookie next to the user's own must
     * not leave the user's session alive. */
    hashes = cookie_hashes(r, &attrs);
    if (hashes->nelts > 0) {
        t0 = apr_time_now();
        status = rus_httpd_session_connect(r, LOGOUT_HANDLER, &conn);
        if (status != OK) {
            goto leave;
        }
    }
    for (i = 0; i < hashes->nelts; i++) {
        const char *hash = APR_ARRAY_IDX(hashes, i, const char *);

        rv = logout_one(r, conn, hash, &done);
        if (rv != APR_SUCCESS) {
            status = rus_httpd_session_store_failed(r, rv, "revoking a session",
                                                    rus_store_error(conn));
            goto leave;
        }
    }
    if (rus_cookie_values(apr_table_get(r->headers_in, "Cookie"), attrs.name,
                          &one, 1, r->pool)
        > 0) {
        add_cookie_header(r, rus_cookie_header(r->pool, &attrs, NULL, 0));
    }
    if (done.ids != NULL) {
        /* who logged out, for the access log's %u and the note */
        r->user = (char *)done.user;
        rus_httpd_session_note(r, done.ids);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  RUSLOGNO(00026) "logout: %d session(s) revoked%s%s",
                  done.count, done.count ? ": " : "",
                  done.count ? done.text : "");
    status = redirect_next(r, rus_conf_logout_redirect(conf));

leave:
    rus_store_release(rus_httpd_store.pool, conn);
    if (t0 != 0 && rus_httpd_store.pool != NULL) {
        rus_httpd_observe(r, t0); /* the store was asked */
    }
    rus_httpd_count(r, RUS_M_SESS_REVOKED_LOGOUT, (apr_uint64_t)done.count);
    return status;
}

/* The module's handlers by name. The login, logout and sessions
 * handlers answer main requests only: in a subrequest (an SSI include,
 * mod_rewrite's lookahead) a session minted would never reach the
 * browser and a revoked one would end the page's own session. */
int rus_httpd_handler(request_rec *r)
{
    if (r->handler == NULL) {
        return DECLINED;
    }
    if (r->main != NULL
        && (strcmp(r->handler, LOGIN_HANDLER) == 0
            || strcmp(r->handler, LOGOUT_HANDLER) == 0
            || strcmp(r->handler, SESSIONS_HANDLER) == 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00082) "%s declined in a subrequest (%s)",
                      r->handler, rus_httpd_log_name(r, r->unparsed_uri));
        return DECLINED;
    }
    if (strcmp(r->handler, LOGIN_HANDLER) == 0) {
        return login_handler(r);
    }
    if (strcmp(r->handler, LOGOUT_HANDLER) == 0) {
        return logout_handler(r);
    }
    if (strcmp(r->handler, SESSIONS_HANDLER) == 0) {
        return rus_httpd_sessions_handler(r);
    }
    if (strcmp(r->handler, INFO_HANDLER) == 0) {
        return rus_httpd_info_handler(r);
    }
    return DECLINED;
}
