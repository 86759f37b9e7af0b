/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Who the request is: r->user from the front end or the trusted header,
 * resolved through the store; the headers stripped and scrubbed; the
 * identity exported to what runs the request; the final fixup. */

#include <apr_lib.h>
#include <apr_strings.h>

#include "rus_header.h"
#include "rus_net.h"
#include "rus_origin.h"
#include "rus_profile.h"
#include "rus_username.h"
#include "rus_redirect.h"
#include "rus_selfsvc.h"

#include "httpd_private.h"

/* The CGI variables of attributes other than the three columns:
 * REMOTE_USER_ATTR_ and the name in upper case. */
#define ATTR_VAR_PREFIX "REMOTE_USER_ATTR_"

/* The first request of the chain (main request, before any redirect). */
request_rec *rus_httpd_chain_root(request_rec *r)
{
    for (;;) {
        if (r->main != NULL) {
            r = r->main;
        }
        else if (r->prev != NULL) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

/* @a src into @a dst, every string and the attributes copied into @a p
 * (the chain's first pool: the row outlives the pool it was read into). */
void rus_httpd_user_keep(rus_user_t *dst, const rus_user_t *src, apr_pool_t *p)
{
    int i;

    *dst = *src;
    dst->username = src->username ? apr_pstrdup(p, src->username) : NULL;
    dst->groups = apr_pstrdup(p, src->groups ? src->groups : "");
    dst->frontend_groups =
        apr_pstrdup(p, src->frontend_groups ? src->frontend_groups : "");
    dst->email = apr_pstrdup(p, src->email ? src->email : "");
    dst->first_name = apr_pstrdup(p, src->first_name ? src->first_name : "");
    dst->last_name = apr_pstrdup(p, src->last_name ? src->last_name : "");
    dst->attrs = NULL;
    if (src->attrs != NULL && src->attrs->nelts > 0) {
        dst->attrs = apr_array_make(p, src->attrs->nelts, sizeof(rus_attr_t));
        for (i = 0; i < src->attrs->nelts; i++) {
            const rus_attr_t *a = &APR_ARRAY_IDX(src->attrs, i, rus_attr_t);
            rus_attr_t *x = apr_array_push(dst->attrs);

            x->name = apr_pstrdup(p, a->name);
            x->value = apr_pstrdup(p, a->value);
        }
    }
}

rus_req_state *rus_httpd_req_state(request_rec *r, int create)
{
    request_rec *root = rus_httpd_chain_root(r);
    rus_req_state *st;

    st = ap_get_module_config(root->request_config, &remoteuser_session_module);
    if (st == NULL && create) {
        st = apr_pcalloc(root->pool, sizeof(*st));
        ap_set_module_config(root->request_config, &remoteuser_session_module,
                             st);
    }
    return st;
}

/* A user name bounded for a log line. httpd's error log escapes control
 * characters, quotes and backslashes in every message itself (unless built
 * with AP_UNSAFE_ERROR_LOG_UNESCAPED), so escaping here would double it. */
const char *rus_httpd_log_name(request_rec *r, const char *name)
{
    if (name == NULL) {
        return "(none)";
    }
    if (strlen(name) > 2 * RUS_USERNAME_MAX) {
        return apr_pstrcat(r->pool,
                           apr_pstrndup(r->pool, name, 2 * RUS_USERNAME_MAX),
                           "...", NULL);
    }
    return name;
}

apr_int64_t rus_httpd_now_sec(request_rec *r)
{
    return (apr_int64_t)apr_time_sec(r->request_time);
}

/* The name cleaning this location asks for. */
unsigned int rus_httpd_clean_flags(const rus_dir_conf *conf)
{
    unsigned int flags = 0;

    if (rus_conf_strip_realm(conf)) {
        flags |= RUS_CLEAN_STRIP_REALM;
    }
    if (rus_conf_lowercase(conf)) {
        flags |= RUS_CLEAN_LOWERCASE;
    }
    return flags;
}

/* Django's user_can_authenticate(): an inactive user gets 403. */
int rus_httpd_refuse_inactive(request_rec *r, const char *name)
{
    rus_httpd_count_once(r, RUS_M_REFUSED_INACTIVE);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  RUSLOGNO(00008) "user '%s' is inactive",
                  rus_httpd_log_name(r, name));
    return HTTP_FORBIDDEN;
}

/* Where the name @a sent came from, for the audit lines: the trusted
 * header and its peer, or r->user and the front end's AuthType. */
const char *rus_httpd_identity_source(request_rec *r, const char *sent)
{
    const rus_req_state *st = rus_httpd_req_state(r, 0);

    if (st != NULL && st->header_value != NULL && sent != NULL
        && strcmp(st->header_value, sent) == 0) {
        return apr_psprintf(r->pool, "header %s from %s", st->header_name,
                            r->connection->client_ip);
    }
    return apr_psprintf(r->pool, "r->user, AuthType %s",
                        r->ap_auth_type ? r->ap_auth_type : "(none)");
}

/* A request whose identity was accepted, counted once per chain by where
 * the identity came from (st->source). */
static void count_accepted(request_rec *r, const rus_req_state *st)
{
    const apr_uint64_t any = ((apr_uint64_t)1 << RUS_M_REQ_FRONTEND)
                             | ((apr_uint64_t)1 << RUS_M_REQ_HEADER)
                             | ((apr_uint64_t)1 << RUS_M_REQ_SESSION);
    rus_metric_e c = RUS_M_REQ_FRONTEND;

    if (st->counted & any) {
        return;
    }
    if (st->source != NULL && strcmp(st->source, "session") == 0) {
        c = RUS_M_REQ_SESSION;
    }
    else if (st->source != NULL && strcmp(st->source, "header") == 0) {
        c = RUS_M_REQ_HEADER;
    }
    rus_httpd_count_once(r, c);
}

/* Resolve r->user, as set by the front end, into a local user: clean it,
 * find or create it, apply the policy, and make r->user the cleaned name.
 * Returns DECLINED to let authorization go on, or an HTTP error status. */
static int resolve_request_user(request_rec *r, const rus_dir_conf *conf)
{
    unsigned int flags = rus_httpd_clean_flags(conf);
    rus_resolution_t res;
    rus_name_error_e nerr;
    const char *clean = NULL;
    rus_req_state *st;
    apr_pool_t *keep;
    int status;

    st = rus_httpd_req_state(r, 1);
    if (st->clean != NULL && st->flags == flags
        && strcmp(st->raw, r->user) == 0) {
        /* Resolved earlier in this request chain: only the policy of this
         * location remains to be applied. */
        if (!st->user.is_active && !rus_conf_allow_inactive(conf)) {
            return rus_httpd_refuse_inactive(r, st->clean);
        }
        r->user = (char *)st->clean;
        st->resolved_for = r->per_dir_config;
        count_accepted(r, st);
        return DECLINED;
    }

    if (rus_username_clean(&clean, &nerr, r->pool, r->user, flags)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00006) "refusing user name '%s': %s",
                      rus_httpd_log_name(r, r->user), rus_name_error_str(nerr));
        rus_httpd_count_once(r, RUS_M_REFUSED_NAME);
        return HTTP_FORBIDDEN;
    }
    status = rus_httpd_store_resolve(r, conf, clean, &res);
    if (status != OK) {
        return status;
    }
    switch (res.verdict) {
    case RUS_VERDICT_UNKNOWN:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00007) "user '%s' (sent as '%s' by %s) is "
                                      "not in the store and "
                                      "RemoteUserCreateUnknown is Off",
                      rus_httpd_log_name(r, clean),
                      rus_httpd_log_name(r, r->user),
                      rus_httpd_identity_source(r, r->user));
        rus_httpd_count_once(r, RUS_M_REFUSED_UNKNOWN);
        return HTTP_FORBIDDEN;
    case RUS_VERDICT_INACTIVE:
        return rus_httpd_refuse_inactive(r, clean);
    case RUS_VERDICT_ACCEPT:
        break;
    }
    rus_httpd_count(r, RUS_M_USERS_CREATED, res.created ? 1 : 0);
    rus_httpd_count(r, RUS_M_PROFILE_SYNCS, res.synced && !res.created ? 1 : 0);
    if (res.created) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      RUSLOGNO(00011) "created user '%s' (id %" APR_INT64_T_FMT
                                      ") from the name '%s' sent by %s",
                      rus_httpd_log_name(r, clean), res.user.id,
                      rus_httpd_log_name(r, r->user),
                      rus_httpd_identity_source(r, r->user));
    }

    /* Keep the result where the whole request chain can see it; the
     * chain's first pool outlives every subrequest pool. */
    keep = rus_httpd_chain_root(r)->pool;
    st->raw = apr_pstrdup(keep, r->user);
    st->flags = flags;
    st->clean = apr_pstrdup(keep, clean);
    rus_httpd_user_keep(&st->user, &res.user, keep);
    st->user.username = st->clean;
    st->created = st->created || res.created;
    st->source =
        (st->header_value != NULL && strcmp(st->header_value, st->raw) == 0)
            ? "header"
            : "frontend";
    r->user = (char *)st->clean;
    st->resolved_for = r->per_dir_config;
    rus_httpd_count_once(r, RUS_M_LOGINS);
    count_accepted(r, st);
    return DECLINED;
}

/* Is this location's AuthType the one this module implements? */
static int is_our_auth_type(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type != NULL && strcasecmp(type, RUS_AUTH_TYPE) == 0;
}

/* Resolve users here? RemoteUserEngine On, or AuthType RemoteUser (which
 * makes no sense without the engine). */
static int engine_on(request_rec *r, const rus_dir_conf *conf)
{
    return rus_conf_engine(conf) == 1 || is_our_auth_type(r);
}

/* The directory of a .htaccess file read for this request that may use
 * the directives of @a override (OR_AUTHCFG: set authentication;
 * OR_FILEINFO: set environment variables with SetEnv, SetEnvIf or
 * RewriteRule's [E=]), or one of an AllowOverrideList, or NULL. NULL too
 * when the virtual host says RemoteUserTrustHtaccess On. */
const char *rus_httpd_htaccess_dir(request_rec *r, int override)
{
    const struct htaccess_result *h;
    core_dir_config *core;
    int listed;

    if (rus_conf_trust_htaccess(rus_httpd_server_conf(r->server)) == 1) {
        return NULL;
    }
    /* httpd does not fill in htaccess_result's override_list (it is not
     * initialized): the AllowOverrideList in force comes from the merged
     * core configuration. Any list at all counts, since it may name the
     * authentication directives. */
    core = ap_get_core_module_config(r->per_dir_config);
    listed = core != NULL && core->override_list != NULL
             && !apr_is_empty_table(core->override_list);
    for (h = r->htaccess; h != NULL; h = h->next) {
        apr_size_t n = h->dir != NULL ? strlen(h->dir) : 0;

        /* a file that was read, in this request's directory or above it
         * ("/home/mallory/" is not above "/home/mallory2/x") */
        if (h->htaccess != NULL && n > 0 && r->filename != NULL
            && strncmp(r->filename, h->dir, n) == 0
            && (h->dir[n - 1] == '/' || r->filename[n] == '/'
                || r->filename[n] == '\0')
            && ((h->override & override) || listed)) {
            return h->dir;
        }
    }
    return NULL;
}

/* The directory of a .htaccess file that may set authentication here, or
 * NULL. There the author of the file chooses the front end and its users
 * (their own AuthUserFile with an "admin" in it), so unless the virtual
 * host says RemoteUserTrustHtaccess On the module takes no identity. */
static const char *htaccess_auth_dir(request_rec *r)
{
    return rus_httpd_htaccess_dir(r, OR_AUTHCFG);
}

static int refuse_htaccess(request_rec *r, const char *dir)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  RUSLOGNO(00035) "refusing request: a .htaccess file in %s "
                                  "may set authentication here, and "
                                  "RemoteUserTrustHtaccess is Off",
                  dir);
    rus_httpd_count_once(r, RUS_M_REFUSED_HTACCESS);
    return HTTP_FORBIDDEN;
}

/* Is this request an error document (ErrorDocument, after a 401 or 403
 * for instance), or part of one? No session is minted in such a chain:
 * authentication or authorization failed somewhere in it. */
int rus_httpd_chain_failed(const request_rec *r)
{
    const request_rec *x, *m;

    for (m = r; m != NULL; m = m->main) {
        for (x = m; x != NULL; x = x->prev) {
            if (x != r && x->status >= 400) {
                return 1;
            }
        }
    }
    return 0;
}

/* Is the TCP peer of this connection (the real one: not X-Forwarded-For,
 * not mod_remoteip's useragent address) in the trusted list? */
static int peer_trusted(request_rec *r, const apr_array_header_t *trusted)
{
    const apr_sockaddr_t *sa = r->connection->client_addr;
    int i, v6;

    if (sa == NULL || (sa->ipaddr_len != 4 && sa->ipaddr_len != 16)) {
        return 0;
    }
    v6 = sa->ipaddr_len == 16;
    for (i = 0; i < trusted->nelts; i++) {
        if (rus_cidr_match(&APR_ARRAY_IDX(trusted, i, rus_cidr_t), v6,
                           sa->ipaddr_ptr)) {
            return 1;
        }
    }
    return 0;
}

/* Is the header @a name one of @a names, or a look-alike of one? */
static int alike_any(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; names != NULL && i < names->nelts; i++) {
        if (rus_header_name_alike(APR_ARRAY_IDX(names, i, const char *),
                                  name)) {
            return 1;
        }
    }
    return 0;
}

/* As soon as the request is read, before any section applies:
 * - a Connection header that names an identity or export header (which
 *   mod_proxy would then drop as hop-by-hop, after the module set it) is
 *   a 400;
 * - from a peer that is no RemoteUserTrustedProxy anywhere in the
 *   server, every RemoteUserHeader name and its look-alikes go, so that
 *   no section (a RewriteRule [P] or ProxyPass back to this server, say)
 *   forwards the client's copy to where it would come from a trusted
 *   peer. */
int rus_httpd_post_read_request(request_rec *r)
{
    const char *conn, *tok;
    rus_req_state *st;
    int i;

    if (rus_httpd_seen.identity_headers == NULL
        && rus_httpd_seen.export_headers == NULL) {
        return DECLINED;
    }
    conn = apr_table_get(r->headers_in, "Connection");
    if (conn != NULL) {
        char *list = apr_pstrdup(r->pool, conn), *last = NULL;

        /* every comma-separated item, white space around it cut, as
         * mod_proxy reads the header */
        for (tok = apr_strtok(list, ", \t", &last); tok != NULL;
             tok = apr_strtok(NULL, ", \t", &last)) {
            if (alike_any(rus_httpd_seen.identity_headers, tok)
                || alike_any(rus_httpd_seen.export_headers, tok)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              RUSLOGNO(00043) "refusing request whose "
                                              "Connection header names "
                                              "'%s', an identity or export "
                                              "header",
                              rus_httpd_log_name(r, tok));
                rus_httpd_count_once(r, RUS_M_REFUSED_SPOOFED);
                return HTTP_BAD_REQUEST;
            }
        }
    }
    if (rus_httpd_seen.identity_headers != NULL
        && (rus_httpd_seen.trusted == NULL
            || !peer_trusted(r, rus_httpd_seen.trusted))) {
        for (i = 0; i < rus_httpd_seen.identity_headers->nelts; i++) {
            const char *name =
                APR_ARRAY_IDX(rus_httpd_seen.identity_headers, i, const char *);
            const char *raw = NULL, *offender = NULL;
            rus_header_e found;

            found = rus_header_find(r->headers_in, name, &raw, &offender);
            if (found == RUS_HEADER_ABSENT) {
                continue;
            }
            /* remembered, so that a section that takes this header still
             * answers as it would have (400 for a look-alike, 403 for
             * the untrusted peer), with its log line */
            st = rus_httpd_req_state(r, 1);
            if (st->untrusted_name == NULL) {
                st->untrusted_name = name;
                st->untrusted_found = found;
                st->untrusted_offender = offender;
            }
            rus_header_remove_alike(r->headers_in, name);
        }
    }
    return DECLINED;
}

/* Does this request ask for an h2c upgrade (RFC 7540 3.2)? */
static int wants_h2c(request_rec *r)
{
    const char *up = apr_table_get(r->headers_in, "Upgrade");

    return r->main == NULL && r->prev == NULL && up != NULL
           && ap_find_token(r->pool, up, "h2c")
           && apr_table_get(r->headers_in, "HTTP2-Settings") != NULL;
}

/* An h2c upgrade: mod_http2 builds HTTP/2 stream 1 from this request's
 * headers in core's upgrade handler, and that stream is authenticated
 * anew. The identity header this module consumed goes back for it, just
 * before that handler, and away again right after it if the connection
 * stays HTTP/1.1. */
int rus_httpd_h2c_restore(request_rec *r)
{
    rus_req_state *st;

    if (!wants_h2c(r) || (st = rus_httpd_req_state(r, 0)) == NULL
        || st->header_raw == NULL) {
        return DECLINED;
    }
    apr_table_setn(r->headers_in, st->header_name, st->header_raw);
    st->header_restored = 1;
    return DECLINED;
}

int rus_httpd_h2c_rescrub(request_rec *r)
{
    rus_req_state *st = rus_httpd_req_state(r, 0);

    if (st != NULL && st->header_restored) {
        st->header_restored = 0;
        rus_header_remove_alike(r->headers_in, st->header_name);
    }
    return DECLINED;
}

/* Internal redirects and subrequests into another configuration run
 * authentication again, but the header was consumed by the first request
 * of the chain. Accept what it accepted, if this location trusts the same
 * header from the same peer. */
static int header_identity_again(request_rec *r, const rus_dir_conf *conf)
{
    rus_req_state *st = rus_httpd_req_state(r, 0);

    if (rus_httpd_chain_root(r) == r || st == NULL || st->header_value == NULL
        || strcasecmp(st->header_name, conf->header) != 0
        || conf->trusted == NULL || !peer_trusted(r, conf->trusted)) {
        return DECLINED;
    }
    r->user = (char *)st->header_value;
    r->ap_auth_type = (char *)RUS_AUTH_TYPE;
    return OK;
}

/* Take the identity from RemoteUserHeader. Returns OK with r->user set,
 * DECLINED when the header is absent or empty (the location's own AuthType
 * then runs), or the HTTP error to answer. Whatever the outcome, the
 * client's copy and its look-alikes are gone from the request afterwards,
 * so nothing behind httpd ever sees them. */
static int identity_from_header(request_rec *r, const rus_dir_conf *conf)
{
    const char *raw = NULL, *offender = NULL, *value = NULL;
    rus_name_error_e nerr = RUS_NAME_OK;
    rus_header_e found;
    rus_req_state *st;

    found = rus_header_find(r->headers_in, conf->header, &raw, &offender);
    st = rus_httpd_req_state(r, 0);
    if (found == RUS_HEADER_ABSENT && st != NULL && st->untrusted_name != NULL
        && rus_header_name_alike(st->untrusted_name, conf->header)) {
        /* removed when the request was read: sent by an untrusted peer */
        found = st->untrusted_found;
        offender = st->untrusted_offender;
    }
    if (found == RUS_HEADER_ABSENT) {
        return header_identity_again(r, conf);
    }
    rus_header_remove_alike(r->headers_in, conf->header);
    switch (found) {
    case RUS_HEADER_VARIANT:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00016) "refusing request with header '%s', "
                                      "a look-alike of RemoteUserHeader %s "
                                      "(underscore/dash spoof)",
                      rus_httpd_log_name(r, offender), conf->header);
        rus_httpd_count_once(r, RUS_M_REFUSED_SPOOFED);
        return HTTP_BAD_REQUEST;
    case RUS_HEADER_REPEATED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00017) "refusing request with header %s "
                                      "sent more than once",
                      conf->header);
        rus_httpd_count_once(r, RUS_M_REFUSED_SPOOFED);
        return HTTP_BAD_REQUEST;
    default:
        break;
    }
    if (conf->trusted == NULL || conf->trusted->nelts == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00018) "RemoteUserHeader %s is set here but "
                                      "no RemoteUserTrustedProxy applies",
                      conf->header);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!peer_trusted(r, conf->trusted)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00019) "refusing header %s from %s, which is "
                                      "not a RemoteUserTrustedProxy",
                      conf->header, r->connection->client_ip);
        rus_httpd_count_once(r, RUS_M_REFUSED_UNTRUSTED);
        return HTTP_FORBIDDEN;
    }
    if (rus_header_value(&value, &nerr, r->pool, raw) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00020) "refusing header %s value '%s': %s",
                      conf->header, rus_httpd_log_name(r, raw),
                      rus_name_error_str(nerr));
        rus_httpd_count_once(r, RUS_M_REFUSED_NAME);
        return HTTP_BAD_REQUEST;
    }
    if (value[0] == '\0') {
        return DECLINED; /* empty counts as absent */
    }
    r->user = (char *)value;
    r->ap_auth_type = (char *)RUS_AUTH_TYPE;
    st = rus_httpd_req_state(r, 1);
    st->header_name = conf->header;
    st->header_value = apr_pstrdup(rus_httpd_chain_root(r)->pool, value);
    st->header_raw = apr_pstrdup(rus_httpd_chain_root(r)->pool, raw);
    return OK;
}

/* RemoteUserUnauthenticatedAction as written, for log lines. */
static const char *unauth_action_name(int action)
{
    switch (action) {
    case RUS_UNAUTH_REDIRECT:
        return "Redirect";
    case RUS_UNAUTH_401:
        return "401";
    default:
        return "Auto";
    }
}

/* Is the handler of @a r remoteuser-info? Before the fixups r->handler
 * does not say yet: SetHandler's expression is evaluated as core will. */
static int is_info_location(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *h = r->handler, *err = NULL;

    if (h == NULL && d != NULL && d->expr_handler != NULL) {
        h = ap_expr_str_exec(r, d->expr_handler, &err);
    }
    return err == NULL && h != NULL && strcasecmp(h, INFO_HANDLER) == 0;
}

/* Under AuthType RemoteUser without identity: send GET/HEAD to the login
 * URL with this request as next=, unless RemoteUserUnauthenticatedAction
 * says 401 (401, or Auto for a request that looks like a script's:
 * rus_unauth_programmatic()); answer 401 otherwise. A 401 carries a
 * RemoteUser challenge, and a JSON body (rus_unauth_json()) when the
 * request accepts JSON, else a line of text. */
static int no_identity(request_rec *r, const rus_dir_conf *conf)
{
    int action = rus_conf_unauth_action(conf);
    int info = is_info_location(r);
    const char *here, *sep;

    /* remoteuser-info is for scripts: it answers 401 with its JSON body,
     * never a redirect to a login page */
    if (conf->login_url != NULL && !info
        && (r->method_number == M_GET || r->header_only)) {
        if (action == RUS_UNAUTH_REDIRECT
            || (action == RUS_UNAUTH_AUTO
                && !rus_unauth_programmatic(
                    apr_table_get(r->headers_in, "X-Requested-With"),
                    apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                    apr_table_get(r->headers_in, "Accept")))) {
            here = (r->unparsed_uri && r->unparsed_uri[0] == '/')
                       ? r->unparsed_uri
                       : apr_pstrcat(r->pool, ap_escape_uri(r->pool, r->uri),
                                     r->args ? "?" : "", r->args, NULL);
            sep = strchr(conf->login_url, '?') ? "&" : "?";
            apr_table_setn(r->headers_out, "Location",
                           apr_pstrcat(r->pool, conf->login_url, sep, "next=",
                                       rus_url_encode(r->pool, here), NULL));
            apr_table_mergen(r->err_headers_out, "Cache-Control", "no-store");
            return HTTP_MOVED_TEMPORARILY;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00155) "no identity for AuthType %s: 401 "
                                      "rather than a redirect to "
                                      "RemoteUserLoginURL "
                                      "(RemoteUserUnauthenticatedAction %s)",
                      RUS_AUTH_TYPE, unauth_action_name(action));
    }
    rus_httpd_challenge(r, RUS_AUTH_TYPE);
    apr_table_mergen(r->err_headers_out, "Cache-Control", "no-store");
    /* remoteuser-info answers JSON, also when authentication refused the
     * request before the handler could */
    if (info || rus_httpd_accepts_json(r)) {
        rus_httpd_error_body(r, HTTP_UNAUTHORIZED, "application/json",
                             rus_unauth_json(r->pool, conf->login_url));
    }
    else {
        rus_httpd_error_body(r, HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
                             "Authentication required.\n");
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00021) "no identity for AuthType %s: 401",
                  RUS_AUTH_TYPE);
    return HTTP_UNAUTHORIZED;
}

/* Authentication, first in line: the trusted header (when configured)
 * wins over the location's front end; without one, AuthType RemoteUser
 * answers 401 and any other AuthType is left to its module. */
int rus_httpd_check_authn(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    int status = DECLINED, cookie_status;
    rus_session_state_e state;
    const char *htdir;
    rus_req_state *st;

    if (!engine_on(r, conf)) {
        return DECLINED;
    }
    htdir = htaccess_auth_dir(r);
    if (htdir != NULL) {
        return refuse_htaccess(r, htdir);
    }
    if (conf->header != NULL) {
        status = identity_from_header(r, conf);
        if (status != OK && status != DECLINED) {
            return status;
        }
    }
    if (rus_conf_session(conf) == 1 && rus_httpd_store.pool != NULL) {
        /* Looked at even when the header named the user: a login as
         * someone else must end the session the request came with. */
        cookie_status = rus_httpd_check_session_cookie(r, conf);
        if (cookie_status != OK) {
            return cookie_status;
        }
        st = rus_httpd_req_state(r, 1);
        /* The session was looked at once for the chain, under the first
         * location's limits; every location it enters (an ErrorDocument,
         * a subrequest) holds it to its own MaxAge and IdleTimeout, with
         * last_seen as it was before this request. */
        state = st->cookie_hash != NULL && !st->minted
                        && st->cookie_checked_for != r->per_dir_config
                    ? rus_httpd_session_state(r, conf, &st->sess)
                    : RUS_SESSION_VALID;
        if (state != RUS_SESSION_VALID) {
            rus_httpd_cookie_ignored(r, rus_session_state_str(state));
        }
        /* Credentials for another AuthType in the request itself (the
         * browser answered that front end's challenge): let the front end
         * authenticate, the fixups compare the two identities. */
        if (status == DECLINED && st->cookie_hash != NULL
            && state == RUS_SESSION_VALID
            && (is_our_auth_type(r)
                || apr_table_get(r->headers_in, "Authorization") == NULL)) {
            rus_httpd_use_session(r, conf);
            return OK;
        }
    }
    if (status == OK) {
        return OK;
    }
    return is_our_auth_type(r) ? no_identity(r, conf) : DECLINED;
}

/* Authorization, first in line: by now the front end has authenticated
 * the request (r->user is set). Resolve the user, then decline so that
 * mod_authz_core evaluates Require against the cleaned name. */
int rus_httpd_check_authz(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    const char *htdir;

    if (!engine_on(r, conf) || r->user == NULL) {
        return DECLINED;
    }
    htdir = htaccess_auth_dir(r);
    if (htdir != NULL) {
        return refuse_htaccess(r, htdir);
    }
    return resolve_request_user(r, conf);
}

/* Remove client-sent copies (and look-alike spellings) of the export
 * headers of this location; with @identity_too (only after
 * authentication has read them), of RemoteUserHeader too, and of every
 * export header named anywhere in the server: a section's list of
 * RemoteUserAttributeHeader replaces the outer one, and the header an
 * outer section exports must not reach an application behind the inner
 * one as the client wrote it. */
static void scrub_headers(request_rec *r, const rus_dir_conf *conf,
                          int identity_too)
{
    const apr_array_header_t *seen = rus_httpd_seen.export_headers;
    int i;

    if (identity_too && conf->header != NULL) {
        rus_header_remove_alike(r->headers_in, conf->header);
    }
    for (i = 0; identity_too && seen != NULL && i < seen->nelts; i++) {
        rus_header_remove_alike(r->headers_in,
                                APR_ARRAY_IDX(seen, i, const char *));
    }
    if (conf->user_header != NULL
        && (conf->header == NULL
            || !rus_header_name_alike(conf->user_header, conf->header))) {
        rus_header_remove_alike(r->headers_in, conf->user_header);
    }
    if (conf->groups_header != NULL
        && (conf->header == NULL
            || !rus_header_name_alike(conf->groups_header, conf->header))) {
        rus_header_remove_alike(r->headers_in, conf->groups_header);
    }
    for (i = 0; conf->attr_headers != NULL && i < conf->attr_headers->nelts;
         i++) {
        const char *h =
            APR_ARRAY_IDX(conf->attr_headers, i, rus_httpd_attr_header_t)
                .header;

        if (conf->header == NULL || !rus_header_name_alike(h, conf->header)) {
            rus_header_remove_alike(r->headers_in, h);
        }
    }
}

/* Early, on the main request, before anything (a 401 or 403 page, a
 * module that answers the request itself) can pass the client's copies of
 * the export headers on. */
int rus_httpd_header_parser(request_rec *r)
{
    scrub_headers(r,
                  ap_get_module_config(r->per_dir_config,
                                       &remoteuser_session_module),
                  0);
    return DECLINED;
}

/* The stored value @a value of attribute @a name of the request's user,
 * if it may be exported: a valid attribute name, and UTF-8 without
 * control characters (a store written by hand may hold anything). NULL
 * when there is none or it may not (logged). */
static const char *export_value(request_rec *r, const rus_req_state *st,
                                const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return NULL;
    }
    if (!rus_attr_name_valid(name)
        || rus_text_check(value, strlen(value)) != RUS_NAME_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00132) "attribute '%s' of user '%s' in the "
                                      "store is not an attribute name, or "
                                      "its value (%lu bytes) holds control "
                                      "characters or invalid UTF-8: not "
                                      "exported",
                      rus_httpd_log_name(r, name),
                      rus_httpd_log_name(r, st->clean),
                      (unsigned long)strlen(value));
        return NULL;
    }
    return value;
}

/* The stored value of attribute @a name (a column or another) of the
 * request's user, as it may be exported, or NULL. */
static const char *user_attr(request_rec *r, const rus_req_state *st,
                             const char *name)
{
    const char *v;

    if (strcmp(name, "email") == 0) {
        v = st->user.email;
    }
    else if (strcmp(name, "first_name") == 0) {
        v = st->user.first_name;
    }
    else if (strcmp(name, "last_name") == 0) {
        v = st->user.last_name;
    }
    else {
        v = rus_attrs_get(st->user.attrs, name);
    }
    return export_value(r, st, name, v);
}

/* The CGI variables of the user's attributes: REMOTE_USER_EMAIL,
 * REMOTE_USER_FIRST_NAME, REMOTE_USER_LAST_NAME and
 * REMOTE_USER_ATTR_<NAME>, each only when it has a value. */
static void export_attributes(request_rec *r, const rus_req_state *st)
{
    static const char *const columns[][2] = {
        { "email", "REMOTE_USER_EMAIL" },
        { "first_name", "REMOTE_USER_FIRST_NAME" },
        { "last_name", "REMOTE_USER_LAST_NAME" },
    };
    apr_size_t i;
    int j;

    for (i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        const char *v = user_attr(r, st, columns[i][0]);

        if (v != NULL) {
            apr_table_setn(r->subprocess_env, columns[i][1], v);
        }
    }
    for (j = 0; st->user.attrs != NULL && j < st->user.attrs->nelts; j++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(st->user.attrs, j, rus_attr_t);
        const char *v = export_value(r, st, a->name, a->value);
        char *var, *c;

        if (v == NULL) {
            continue;
        }
        var = apr_pstrcat(r->pool, ATTR_VAR_PREFIX, a->name, NULL);
        for (c = var; *c; c++) {
            *c = apr_toupper(*c);
        }
        apr_table_setn(r->subprocess_env, var, v);
    }
}

/* The resolved identity, for CGI/SSI/FastCGI/log formats and, where
 * configured, as request headers for proxied applications. */
static void export_identity(request_rec *r, const rus_dir_conf *conf,
                            rus_req_state *st)
{
    const char *groups = st->user.groups ? st->user.groups : "";
    int i;

    if (rus_text_check(groups, strlen(groups)) != RUS_NAME_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00031) "group names of user '%s' in the "
                                      "store hold control characters or "
                                      "invalid UTF-8: not exported",
                      rus_httpd_log_name(r, st->clean));
        groups = "";
    }
    apr_table_setn(r->subprocess_env, "REMOTE_USER_ID",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, st->user.id));
    apr_table_setn(r->subprocess_env, "REMOTE_USER_GROUPS", groups);
    apr_table_setn(r->subprocess_env, "REMOTE_USER_SOURCE",
                   st->source ? st->source : "frontend");
    if (st->created) {
        apr_table_setn(r->subprocess_env, "REMOTE_USER_CREATED", "1");
    }
    if (st->source != NULL && strcmp(st->source, "session") == 0
        && st->cookie_hash != NULL) {
        apr_table_setn(r->subprocess_env, "REMOTE_USER_SESSION_EXPIRES",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    rus_httpd_session_expires(conf,
                                                              &st->sess)));
    }
    if (conf->user_header != NULL) {
        apr_table_setn(r->headers_in, conf->user_header, st->clean);
    }
    if (conf->groups_header != NULL) {
        apr_table_setn(r->headers_in, conf->groups_header, groups);
    }
    export_attributes(r, st);
    for (i = 0; conf->attr_headers != NULL && i < conf->attr_headers->nelts;
         i++) {
        const rus_httpd_attr_header_t *h =
            &APR_ARRAY_IDX(conf->attr_headers, i, rus_httpd_attr_header_t);
        const char *v = user_attr(r, st, h->name);

        /* none: no header at all (a client's copy is gone already) */
        if (v != NULL) {
            apr_table_setn(r->headers_in, h->header, v);
        }
    }
    st->exported_user_header = conf->user_header;
    st->exported_groups_header = conf->groups_header;
    st->exported_attr_headers = conf->attr_headers;
    st->exported_r = r;
    st->exported_for = r->per_dir_config;
}

/* What export_identity() set, gone: the section in force did not
 * authenticate this identity. */
static void unexport_identity(request_rec *r, rus_req_state *st)
{
    static const char *const vars[] = {
        "REMOTE_USER_ID",        "REMOTE_USER_GROUPS",
        "REMOTE_USER_SOURCE",    "REMOTE_USER_CREATED",
        "REMOTE_USER_EMAIL",     "REMOTE_USER_FIRST_NAME",
        "REMOTE_USER_LAST_NAME", "REMOTE_USER_SESSION_EXPIRES",
    };
    const apr_array_header_t *arr = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e;
    apr_size_t i;
    int j;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        apr_table_unset(r->subprocess_env, vars[i]);
    }
    e = (const apr_table_entry_t *)arr->elts;
    /* apr_table_unset() compacts the array: restart after each removal */
    for (j = 0; j < arr->nelts; j++) {
        if (e[j].key != NULL
            && strncmp(e[j].key, ATTR_VAR_PREFIX, sizeof(ATTR_VAR_PREFIX) - 1)
                   == 0) {
            apr_table_unset(r->subprocess_env, e[j].key);
            e = (const apr_table_entry_t *)arr->elts;
            j = -1;
        }
    }
    for (j = 0; st != NULL && st->exported_attr_headers != NULL
                && j < st->exported_attr_headers->nelts;
         j++) {
        rus_header_remove_alike(r->headers_in,
                                APR_ARRAY_IDX(st->exported_attr_headers, j,
                                              rus_httpd_attr_header_t)
                                    .header);
    }
    if (st != NULL && st->exported_user_header != NULL) {
        rus_header_remove_alike(r->headers_in, st->exported_user_header);
    }
    if (st != NULL && st->exported_groups_header != NULL) {
        rus_header_remove_alike(r->headers_in, st->exported_groups_header);
    }
}

/* Does the Cache-Control value @a cc hold the directive @a name as a
 * whole token, any case; with @a bare, only without "=value" (a
 * `private="Set-Cookie"` lets shared caches keep the rest)? */
static int cc_has(const char *cc, const char *name, int bare)
{
    apr_size_t n = strlen(name);
    const char *c = cc, *e;

    while (c != NULL && *c) {
        while (*c == ' ' || *c == '\t' || *c == ',') {
            c++;
        }
        if (strncasecmp(c, name, n) == 0) {
            for (e = c + n; *e == ' ' || *e == '\t'; e++) {
            }
            if (*e == '\0' || *e == ',' || (!bare && *e == '=')) {
                return 1;
            }
        }
        c = strchr(c, ',');
    }
    return 0;
}

/* @a cc without its "public" and "s-maxage" directives. */
static const char *cc_without_shared(apr_pool_t *p, const char *cc)
{
    const char *out = NULL, *c = cc;

    while (c != NULL && *c) {
        const char *end = strchr(c, ',');
        const char *tok;

        apr_size_t len = end ? (apr_size_t)(end - c) : strlen(c);

        while (len > 0 && (*c == ' ' || *c == '\t')) {
            c++;
            len--;
        }
        while (len > 0 && (c[len - 1] == ' ' || c[len - 1] == '\t')) {
            len--;
        }
        tok = apr_pstrmemdup(p, c, len);
        if (*tok && !cc_has(tok, "public", 0) && !cc_has(tok, "s-maxage", 0)) {
            out = out ? apr_pstrcat(p, out, ", ", tok, NULL) : tok;
        }
        c = end ? end + 1 : NULL;
    }
    return out;
}

/* Just before the response headers go: a response to a request whose user
 * this module resolved depends on who is logged in, so no shared cache may
 * keep it (mod_cache, a proxy in front). "private" is added and "public"
 * and "s-maxage" are taken out unless the application said "private" or
 * "no-store" itself. r->no_cache (set in the fixups) keeps mod_cache from
 * storing it at all. */
apr_status_t rus_httpd_private_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *out = apr_table_get(r->headers_out, "Cache-Control");
    const char *err = apr_table_get(r->err_headers_out, "Cache-Control");
    const char *cc = out && err ? apr_pstrcat(r->pool, out, ", ", err, NULL)
                     : out      ? out
                                : err;

    /* what CDNs read instead of Cache-Control goes in any case */
    apr_table_unset(r->headers_out, "Surrogate-Control");
    apr_table_unset(r->headers_out, "CDN-Cache-Control");
    apr_table_unset(r->err_headers_out, "Surrogate-Control");
    apr_table_unset(r->err_headers_out, "CDN-Cache-Control");
    if (cc == NULL
        || (!cc_has(cc, "private", 1) && !cc_has(cc, "no-store", 0))) {
        const char *rest = cc ? cc_without_shared(r->pool, cc) : NULL;

        apr_table_unset(r->err_headers_out, "Cache-Control");
        apr_table_setn(r->headers_out, "Cache-Control",
                       rest ? apr_pstrcat(r->pool, "private, ", rest, NULL)
                            : "private");
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* The response to @a r depends on its user: never stored by a shared
 * cache, nor is the response of any request it is a subrequest of. */
void rus_httpd_mark_private(request_rec *r)
{
    request_rec *m, *top = r;
    ap_filter_t *f;

    for (m = r; m != NULL; m = m->main) {
        m->no_cache = 1;
        top = m;
    }
    /* On the outermost request (an SSI page including an engine location
     * is identity-dependent too), once. If that page's headers are gone
     * already, only r->no_cache protects it: see the README. */
    for (f = top->output_filters; f != NULL; f = f->next) {
        if (f->frec != NULL && f->frec->name != NULL
            && strcasecmp(f->frec->name, PRIVATE_FILTER) == 0) {
            return;
        }
    }
    ap_add_output_filter(PRIVATE_FILTER, NULL, top, top->connection);
}

/* Export the identity to whatever runs the request (CGI, SSI, FastCGI, log
 * formats). Done here rather than in authz because requests that skip
 * authorization (same-configuration subrequests and internal redirects)
 * must see it too. */
int rus_httpd_fixups(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st;

    /* Whatever happened before (a public page where authentication never
     * ran, say), no client-sent copy of the identity header or of an
     * export header goes on. */
    scrub_headers(r, conf, 1);
    if (!engine_on(r, conf) || r->user == NULL
        || htaccess_auth_dir(r) != NULL) {
        return DECLINED;
    }
    st = rus_httpd_req_state(r, 0);
    if (st == NULL || st->clean == NULL || strcmp(st->clean, r->user) != 0) {
        return DECLINED;
    }
    export_identity(r, conf, st);
    rus_httpd_mark_private(r);
    /* Persistent sessions (Django's PersistentRemoteUserMiddleware): an
     * identity from the front end or the header gets a session, unless
     * the request already holds a valid one for the same user. The login
     * handler issues its own, always fresh. Never in an error document:
     * its chain began with a refusal. */
    if (rus_conf_session(conf) == 1 && r->main == NULL && !st->from_session
        && !st->minted && st->cookie_user != st->user.id
        && (r->handler == NULL || strcmp(r->handler, LOGIN_HANDLER) != 0)
        && !rus_httpd_chain_failed(r)) {
        int status = rus_httpd_mint_session(r, conf);

        return status == OK ? DECLINED : status;
    }
    return DECLINED;
}

/* Last of all fixups, after mod_dir and mod_negotiation have had their
 * say: DirectoryIndex, FallbackResource and MultiViews switch a request
 * to another section (ap_internal_fast_redirect) after the other fixups
 * ran, keeping the request's headers, which were scrubbed under the first
 * section's rules only. Here the section in force decides again: client
 * copies of its identity and export headers go, and the identity is
 * exported only if this very section accepted it. */
int rus_httpd_fixups_final(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st = rus_httpd_req_state(r, 0);
    int ours;

    if (st != NULL && st->exported_r == r
        && st->exported_for == r->per_dir_config) {
        return DECLINED; /* nothing moved since the fixups exported */
    }
    if (st == NULL) {
        /* nothing of ours to take back; client copies still go */
        scrub_headers(r, conf, 1);
        return DECLINED;
    }
    ours = st->clean != NULL && st->resolved_for == r->per_dir_config
           && engine_on(r, conf) && htaccess_auth_dir(r) == NULL;
    unexport_identity(r, st);
    scrub_headers(r, conf, 1);
    if (!ours) {
        return DECLINED;
    }
    r->user = (char *)st->clean;
    if (r->ap_auth_type == NULL) {
        r->ap_auth_type = (char *)RUS_AUTH_TYPE;
    }
    export_identity(r, conf, st);
    rus_httpd_mark_private(r);
    return DECLINED;
}
