/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What users and their JavaScript see of themselves: the sessions page
 * (SetHandler remoteuser-sessions: the user's own sessions, and the forms
 * that end them), the identity as JSON (SetHandler remoteuser-info), and
 * the bodies of the 401s a script gets instead of a login redirect. The
 * pages and the tokens are built by the core (rus_selfsvc.h); this file
 * reads the request, asks the store and writes the answer. */

#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mod_core.h"

#include "rus_cookie.h"
#include "rus_redirect.h"
#include "rus_selfsvc.h"
#include "rus_token.h"

#include "httpd_private.h"

/* Largest form body the sessions page reads (bytes). */
#define FORM_MAX 4096

/* Highest count a ?done= notice shows; more is no notice. */
#define DONE_MAX 9999

/* The headers of every answer of the sessions page: never stored, never
 * framed, nothing loaded, forms posting only to this origin. */
static void page_headers(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; "
                   "form-action 'self'; frame-ancestors 'none'; "
                   "base-uri 'none'");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_mergen(r->err_headers_out, "Vary", "Accept");
}

/* The quality an Accept header @a accept gives the media type @a type
 * ("application/json"), and at which item (from 0) it names it, into
 * *pq and *ppos: -1 and -1 when it does not name it. Media ranges are
 * compared without their parameters, any case; a q that cannot be read
 * counts as 1. */
static void accept_quality(apr_pool_t *p, const char *accept, const char *type,
                           double *pq, int *ppos)
{
    char *list = apr_pstrdup(p, accept), *last = NULL, *item;
    int pos = 0;

    *pq = -1;
    *ppos = -1;
    for (item = apr_strtok(list, ",", &last); item != NULL;
         item = apr_strtok(NULL, ",", &last), pos++) {
        char *semi = strchr(item, ';'), *end;
        const char *q;
        double qv = 1;

        if (semi != NULL) {
            *semi = '\0';
            q = semi + 1;
            while ((q = strchr(q, 'q')) != NULL) {
                const char *b = q;

                while (b > semi + 1 && (b[-1] == ' ' || b[-1] == '\t')) {
                    b--;
                }
                if ((b == semi + 1 || b[-1] == ';') && q[1] == '=') {
                    char *stop = NULL;
                    double v = strtod(q + 2, &stop);

                    if (stop != q + 2 && v >= 0 && v <= 1) {
                        qv = v;
                    }
                    break;
                }
                q++;
            }
        }
        while (*item == ' ' || *item == '\t') {
            item++;
        }
        for (end = item + strlen(item);
             end > item && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        }
        *end = '\0';
        if (strcasecmp(item, type) == 0 && qv > *pq) {
            *pq = qv;
            *ppos = pos;
        }
    }
}

/* Does the sessions page answer in JSON? When Accept names
 * application/json with a q above 0, and text/html not at all, with a
 * lower q, or later at the same q. */
static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    double jq, hq;
    int jpos, hpos;

    if (accept == NULL) {
        return 0;
    }
    accept_quality(r->pool, accept, "application/json", &jq, &jpos);
    if (jq <= 0) {
        return 0;
    }
    accept_quality(r->pool, accept, "text/html", &hq, &hpos);
    return hq < 0 || jq > hq || (jq == hq && jpos < hpos);
}

int rus_httpd_accepts_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    double q, qa;
    int pos;

    if (accept == NULL) {
        return 0;
    }
    accept_quality(r->pool, accept, "application/json", &q, &pos);
    accept_quality(r->pool, accept, "application/*", &qa, &pos);
    return q > 0 || qa > 0;
}

void rus_httpd_challenge(request_rec *r, const char *fallback)
{
    const char *realm = ap_auth_name(r) ? ap_auth_name(r) : fallback;

    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, RUS_AUTH_TYPE " realm=\"",
                               ap_escape_quotes(r->pool, realm), "\"", NULL));
}

/* The request note that carries the Content-Type of an error body of
 * ours (rus_httpd_error_body) to rus_httpd_insert_error_filter. */
#define ERRTYPE_NOTE "remoteuser-error-type"

/* ERRTYPE_FILTER: the Content-Type of an error answer set by
 * rus_httpd_error_body() (its context), put in place of the text/html
 * that ap_send_error_response() set just before sending it. */
apr_status_t rus_httpd_errtype_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    if (f->ctx != NULL) {
        ap_set_content_type(f->r, (const char *)f->ctx);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* insert_error_filter: ap_die() sends an error answer through a fresh
 * set of filters; ERRTYPE_FILTER joins them when the answer's body is
 * one of ours. */
void rus_httpd_insert_error_filter(request_rec *r)
{
    const char *type = apr_table_get(r->notes, ERRTYPE_NOTE);

    if (type != NULL) {
        ap_add_output_filter(ERRTYPE_FILTER, (void *)type, r, r->connection);
    }
}

void rus_httpd_error_body(request_rec *r, int status, const char *type,
                          const char *body)
{
    int idx = ap_index_of_response(status);

    if (ap_response_code_string(r, idx) != NULL) {
        return; /* the administrator's ErrorDocument */
    }
    ap_custom_response(r, status, body);
    apr_table_setn(r->notes, ERRTYPE_NOTE, type);
}

/* The identity of @a r as this module resolved it (st->clean is
 * r->user), or NULL. */
static rus_req_state *resolved_identity(request_rec *r)
{
    rus_req_state *st = rus_httpd_req_state(r, 0);

    if (r->user == NULL || st == NULL || st->clean == NULL
        || strcmp(st->clean, r->user) != 0) {
        return NULL;
    }
    return st;
}

/* The page's own path, for its forms and its 303: r->uri, escaped, when
 * it is a safe local path (rus_redirect_safe()), else "/". */
static const char *page_path(request_rec *r)
{
    const char *here = ap_escape_uri(r->pool, r->uri);

    return rus_redirect_safe(here) ? here : "/";
}

/* The notice of ?done=N (N sessions ended by the form before the 303):
 * only a number of one to four digits is shown, never the query's text.
 * NULL when there is none. */
static const char *done_notice(request_rec *r)
{
    const char *v = NULL, *c;
    int n;

    if (rus_query_param(&v, r->args, "done", r->pool) != APR_SUCCESS
        || v[0] == '\0' || strlen(v) > 4) {
        return NULL;
    }
    for (c = v; *c; c++) {
        if (!apr_isdigit(*c)) {
            return NULL;
        }
    }
    n = (int)apr_strtoi64(v, NULL, 10);
    if (n > DONE_MAX) {
        return NULL;
    }
    return n == 1 ? "Signed out 1 session."
                  : apr_psprintf(r->pool, "Signed out %d sessions.", n);
}

/* Is @a row, of the request's user, one the page shows and its forms may
 * end: the viewing session, or one still valid under this location's
 * MaxAge and idle timeout, whatever virtual host it was issued for? */
static int row_live(request_rec *r, const rus_req_state *st,
                    const rus_session_row_t *row)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);

    return strcmp(row->token_hash, st->cookie_hash) == 0
           || rus_session_check(&row->session, row->session.vhost,
                                rus_conf_max_age(conf),
                                rus_conf_idle_timeout(conf),
                                rus_httpd_now_sec(r))
                  == RUS_SESSION_VALID;
}

/* The user's live sessions (rus_session_row_t, newest first; row_live())
 * from the store, into *prows: OK or the HTTP status to answer (logged).
 * A user id of 0
 * or below (a row imported or made by hand) is refused: to the store's
 * list it means every user's sessions. Rows of another user, whatever a
 * backend gave, are left out, so neither the page nor a form ever sees
 * them. */
static int list_rows(request_rec *r, rus_conn_t *conn, const rus_req_state *st,
                     apr_array_header_t **prows)
{
    apr_array_header_t *mine;
    apr_status_t rv;
    int i;

    if (st->user.id <= 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00156) "%s refused for user '%s': its id in "
                                      "the store is %" APR_INT64_T_FMT
                                      " (ids start at 1; a row made by "
                                      "hand?)",
                      SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean),
                      st->user.id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = rus_session_list(conn, st->user.id, prows, r->pool);
    if (rv != APR_SUCCESS) {
        return rus_httpd_session_store_failed(r, rv, "listing sessions",
                                              rus_store_error(conn));
    }
    mine = apr_array_make(r->pool, (*prows)->nelts > 0 ? (*prows)->nelts : 1,
                          sizeof(rus_session_row_t));
    for (i = 0; i < (*prows)->nelts; i++) {
        const rus_session_row_t *row =
            &APR_ARRAY_IDX(*prows, i, rus_session_row_t);

        if (row->session.user_id == st->user.id && row_live(r, st, row)) {
            *(rus_session_row_t *)apr_array_push(mine) = *row;
        }
    }
    *prows = mine;
    return OK;
}

/* The rows the page shows (rus_selfsvc_row_t): the live sessions of
 * @a rows (list_rows()), each named by its reference from @a token, the
 * current one marked. */
static apr_array_header_t *page_rows(request_rec *r, const rus_dir_conf *conf,
                                     const rus_req_state *st, const char *token,
                                     const apr_array_header_t *rows)
{
    apr_array_header_t *out =
        apr_array_make(r->pool, rows->nelts, sizeof(rus_selfsvc_row_t));
    apr_int64_t now = rus_httpd_now_sec(r);
    int i;

    for (i = 0; i < rows->nelts; i++) {
        const rus_session_row_t *row =
            &APR_ARRAY_IDX(rows, i, rus_session_row_t);
        rus_selfsvc_row_t *x;
        int current = strcmp(row->token_hash, st->cookie_hash) == 0;

        x = apr_array_push(out);
        x->ref = rus_selfsvc_ref(r->pool, token, row->token_hash);
        x->current = current;
        x->created_at = row->session.created_at;
        x->last_seen = current ? now : row->session.last_seen;
        x->expires_at = rus_httpd_session_expires(conf, &row->session);
        x->ip = row->session.ip ? row->session.ip : "";
        x->user_agent = row->session.user_agent ? row->session.user_agent : "";
    }
    return out;
}

/* GET (and HEAD) of the sessions page: the list as HTML, or as JSON
 * when the request prefers it. */
static int sessions_get(request_rec *r, const rus_dir_conf *conf,
                        const rus_req_state *st, const char *token)
{
    apr_array_header_t *rows = NULL;
    rus_conn_t *conn = NULL;
    const char *csrf = rus_selfsvc_csrf(r->pool, token);
    apr_time_t t0 = apr_time_now();
    int status;

    status = rus_httpd_session_connect(r, SESSIONS_HANDLER, &conn);
    if (status == OK) {
        status = list_rows(r, conn, st, &rows);
    }
    rus_store_release(rus_httpd_store.pool, conn);
    if (conn != NULL) {
        rus_httpd_observe(r, t0);
    }
    if (status != OK) {
        return status;
    }
    rows = page_rows(r, conf, st, token, rows);
    if (wants_json(r)) {
        ap_set_content_type(r, "application/json");
        ap_rputs(rus_selfsvc_json(r->pool, st->clean, rows, csrf), r);
    }
    else {
        ap_set_content_type(r, "text/html; charset=utf-8");
        ap_rputs(rus_selfsvc_html(r->pool, st->clean, rows, page_path(r), csrf,
                                  done_notice(r), rus_httpd_now_sec(r)),
                 r);
    }
    return OK;
}

/* The body of a form POST, at most FORM_MAX bytes, into *pbody: OK, or
 * the HTTP status to answer (logged). */
static int read_form(request_rec *r, const char **pbody)
{
    char *buf = apr_palloc(r->pool, FORM_MAX + 2);
    apr_size_t len = 0;
    long n = 0;
    int status;

    status = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (status != OK) {
        return status;
    }
    if (r->remaining > FORM_MAX) {
        goto too_large;
    }
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + len, FORM_MAX + 1 - len))
               > 0) {
            len += (apr_size_t)n;
            if (len > FORM_MAX) {
                goto too_large;
            }
        }
    }
    buf[len] = '\0';
    if (n < 0 || strlen(buf) != len) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00145) "%s: the form's body could not be "
                                      "read, or holds a NUL byte (400); "
                                      "nothing revoked",
                      SESSIONS_HANDLER);
        return HTTP_BAD_REQUEST;
    }
    *pbody = buf;
    return OK;

too_large:
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  RUSLOGNO(00148) "%s: a form body over %d bytes refused "
                                  "(413); nothing revoked",
                  SESSIONS_HANDLER, FORM_MAX);
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

/* Is @a r's body a form (application/x-www-form-urlencoded, parameters
 * allowed)? */
static int is_form(request_rec *r)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t n = sizeof(form) - 1;

    if (ct == NULL) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return strncasecmp(ct, form, n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The form field @a name of @a body, or NULL when absent or not
 * decodable. */
static const char *form_field(request_rec *r, const char *body,
                              const char *name)
{
    const char *v = NULL;

    return rus_query_param(&v, body, name, r->pool) == APR_SUCCESS ? v : NULL;
}

/* The ends of a POST of the sessions page: what was revoked. */
typedef struct revoked_t {
    int count;       /* sessions revoked */
    const char *ids; /* their public ids, comma-separated */
} revoked_t;

/* Revoke the session of @a hash (and drop its cached answer, as logout
 * does), adding it to @a done. */
static apr_status_t revoke_one(request_rec *r, rus_conn_t *conn,
                               const char *hash, revoked_t *done)
{
    const char *id = rus_session_public_id(hash, r->pool);
    rus_session_t sess;
    rus_user_t user;
    apr_status_t rv;

    /* gone since the list was read (another tab's form, a logout): not
     * ended by this form, not counted */
    rv = rus_session_find(conn, hash, &sess, &user, r->pool);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        rv = rus_cookie_revoke(conn, rus_httpd_store.cache, hash, 0);
    }
    if (rv == APR_SUCCESS) {
        done->count++;
        done->ids =
            done->ids ? apr_pstrcat(r->pool, done->ids, ",", id, NULL) : id;
    }
    return rv;
}

/* The revocations a checked form asks for, in @a conn: one other session
 * of the user named by its reference (action=signout), or every other
 * one (action=signout-others). OK, or the HTTP status to answer
 * (logged). */
static int sessions_revoke(request_rec *r, rus_conn_t *conn,
                           const rus_req_state *st, const char *token,
                           const char *action, const char *ref, revoked_t *done)
{
    apr_array_header_t *rows = NULL;
    int i, status, others = strcmp(action, "signout-others") == 0;
    apr_status_t rv;

    status = list_rows(r, conn, st, &rows);
    if (status != OK) {
        return status;
    }
    for (i = 0; !others && i < rows->nelts; i++) {
        const rus_session_row_t *row =
            &APR_ARRAY_IDX(rows, i, rus_session_row_t);

        if (!rus_selfsvc_equal(ref, rus_selfsvc_ref(r->pool, token,
                                                    row->token_hash))) {
            continue;
        }
        if (strcmp(row->token_hash, st->cookie_hash) == 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          RUSLOGNO(00150) "%s refused for user '%s': the "
                                          "form names the session viewing "
                                          "the page (only a logout ends "
                                          "it); nothing revoked",
                          SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean));
            return HTTP_FORBIDDEN;
        }
        rv = revoke_one(r, conn, row->token_hash, done);
        return rv == APR_SUCCESS
                   ? OK
                   : rus_httpd_session_store_failed(r, rv, "revoking a session",
                                                    rus_store_error(conn));
    }
    if (!others) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00151) "%s refused for user '%s': the form "
                                      "names no session of the user; "
                                      "nothing revoked",
                      SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean));
        return HTTP_FORBIDDEN;
    }
    for (i = 0; i < rows->nelts; i++) {
        const rus_session_row_t *row =
            &APR_ARRAY_IDX(rows, i, rus_session_row_t);

        if (strcmp(row->token_hash, st->cookie_hash) == 0) {
            continue;
        }
        rv = revoke_one(r, conn, row->token_hash, done);
        if (rv != APR_SUCCESS) {
            if (done->count > 0) {
                /* the ones before stay ended: say so, the answer is an
                 * error all the same */
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                              RUSLOGNO(00157) "%s for user '%s': signed out "
                                              "%d other session(s) before "
                                              "the store failed; the rest "
                                              "are still signed in",
                              SESSIONS_HANDLER,
                              rus_httpd_log_name(r, st->clean), done->count);
            }
            return rus_httpd_session_store_failed(r, rv, "revoking a session",
                                                  rus_store_error(conn));
        }
    }
    return OK;
}

/* POST of the sessions page: a same-origin form (or one without the
 * browser's headers) with the session's own CSRF token, asking to end
 * another session of the user or all of them. Any failure is a 403 with
 * nothing revoked; a success a 303 back to the page, with the count of
 * sessions ended as the notice. */
static int sessions_post(request_rec *r, const rus_req_state *st,
                         const char *token)
{
    revoked_t done = { 0, NULL };
    const char *body = NULL, *csrf, *action, *ref;
    rus_conn_t *conn = NULL;
    rus_site_e site = rus_httpd_request_site(r);
    apr_time_t t0;
    int status;

    if (site != RUS_SITE_SAME_ORIGIN && site != RUS_SITE_UNKNOWN) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00146) "%s refused for user '%s': this POST "
                                      "is not same-origin (%s); nothing "
                                      "revoked",
                      SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean),
                      rus_httpd_site_headers(r));
        return HTTP_FORBIDDEN;
    }
    if (!is_form(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      RUSLOGNO(00147) "%s: a POST that is no "
                                      "application/x-www-form-urlencoded "
                                      "form refused (415); nothing revoked",
                      SESSIONS_HANDLER);
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    status = read_form(r, &body);
    if (status != OK) {
        return status;
    }
    csrf = form_field(r, body, "csrf");
    if (csrf == NULL
        || !rus_selfsvc_equal(csrf, rus_selfsvc_csrf(r->pool, token))) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00149) "%s refused for user '%s': the form's "
                                      "CSRF token is %s; nothing revoked",
                      SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean),
                      csrf == NULL ? "missing" : "wrong");
        return HTTP_FORBIDDEN;
    }
    action = form_field(r, body, "action");
    ref = form_field(r, body, "session");
    if (action == NULL
        || (strcmp(action, "signout") != 0
            && strcmp(action, "signout-others") != 0)
        || (strcmp(action, "signout") == 0 && ref == NULL)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00152) "%s refused for user '%s': the form "
                                      "asks for no known action (action "
                                      "signout with a session, or "
                                      "signout-others); nothing revoked",
                      SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean));
        return HTTP_FORBIDDEN;
    }
    t0 = apr_time_now();
    status = rus_httpd_session_connect(r, SESSIONS_HANDLER, &conn);
    if (status == OK) {
        status = sessions_revoke(r, conn, st, token, action, ref, &done);
    }
    rus_store_release(rus_httpd_store.pool, conn);
    if (conn != NULL) {
        rus_httpd_observe(r, t0);
    }
    rus_httpd_count(r, RUS_M_SESS_REVOKED_LOGOUT, (apr_uint64_t)done.count);
    if (status != OK) {
        return status;
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  RUSLOGNO(00153) "%s: user '%s' signed out %d other "
                                  "session(s)%s%s",
                  SESSIONS_HANDLER, rus_httpd_log_name(r, st->clean),
                  done.count, done.count ? ": " : "",
                  done.count ? done.ids : "");
    apr_table_setn(r->headers_out, "Location",
                   apr_psprintf(r->pool, "%s?done=%d", page_path(r),
                                done.count));
    return HTTP_SEE_OTHER;
}

/* SetHandler remoteuser-sessions: where the request's identity is its
 * session cookie, the user's own sessions (GET, HEAD) and the forms that
 * end them (POST). A request whose identity came from elsewhere gets 403:
 * the page is the session's, and its tokens derive from the cookie. */
int rus_httpd_sessions_handler(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st;
    const char *token;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    page_headers(r);
    st = resolved_identity(r);
    /* the raw token: of this location's cookie name (a session found
     * under another name, at an outer location, is none here) */
    token = st != NULL && st->from_session && st->source != NULL
                    && strcmp(st->source, "session") == 0
                ? rus_httpd_session_token(r, conf)
                : NULL;
    if (token == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00144) "%s needs a session: this request's "
                                      "identity %s, not from this "
                                      "location's session cookie (403)",
                      SESSIONS_HANDLER,
                      st == NULL ? "was not resolved by this module"
                                 : apr_pstrcat(r->pool, "came from ",
                                               st->source ? st->source
                                                          : "the front end",
                                               NULL));
        return HTTP_FORBIDDEN;
    }
    rus_httpd_mark_private(r);
    if (r->method_number == M_POST) {
        return sessions_post(r, st, token);
    }
    return sessions_get(r, conf, st, token);
}

/* When the idle timeout of the request's session ends it, 0 for none:
 * from last_seen as the store has it after this request (written now
 * when a touch was due). */
static apr_int64_t idle_expires(request_rec *r, const rus_dir_conf *conf,
                                const rus_session_t *sess)
{
    apr_int64_t idle = rus_conf_idle_timeout(conf);
    apr_int64_t now = rus_httpd_now_sec(r);
    apr_int64_t seen = sess->last_seen;

    if (idle <= 0) {
        return 0;
    }
    if (rus_session_touch_due(sess, idle, now)) {
        seen = now;
    }
    return seen + idle;
}

/* SetHandler remoteuser-info: the request's identity as JSON
 * (rus_info_json()), never cached, without CORS headers; without an
 * identity a 401 with a JSON body and a RemoteUser challenge. */
int rus_httpd_info_handler(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st;
    rus_info_t info;

    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_type(r, "application/json");
    st = resolved_identity(r);
    if (st == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00154) "%s: no identity resolved by this "
                                      "module for this request: 401",
                      INFO_HANDLER);
        rus_httpd_challenge(r, r->server->server_hostname
                                   ? r->server->server_hostname
                                   : RUS_AUTH_TYPE);
        r->status = HTTP_UNAUTHORIZED;
        ap_rputs(rus_unauth_json(r->pool, conf->login_url), r);
        return OK;
    }
    rus_httpd_mark_private(r);
    memset(&info, 0, sizeof(info));
    info.user = &st->user;
    info.source = st->source ? st->source : "frontend";
    if (strcmp(info.source, "session") == 0 && st->cookie_hash != NULL) {
        info.session = &st->sess;
        info.expires = rus_httpd_session_expires(conf, &st->sess);
        info.idle_expires = idle_expires(r, conf, &st->sess);
    }
    ap_rputs(rus_info_json(r->pool, &info), r);
    return OK;
}
