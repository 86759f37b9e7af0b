/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* mod_remoteuser_session: the httpd glue.
 *
 * Directives, configuration merge, hooks. Everything that decides (which
 * names are valid, which users get in, how the store is kept) lives in the
 * httpd-free core under src/ and include/; this file only translates
 * between httpd's request_rec and that core. */

#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_request.h"
#include "unixd.h"
#include "util_cfgtree.h"

#include <apr_lib.h>
#include <apr_strings.h>

#include "rus_header.h"
#include "rus_net.h"
#include "rus_store.h"
#include "rus_user.h"
#include "rus_username.h"
#include "rus_version.h"

#if !AP_MODULE_MAGIC_AT_LEAST(20120211, 0)
#error "mod_remoteuser_session needs Apache httpd 2.4 or later"
#endif

/* Our own log ids, listed in docs/log-ids.md. */
#define RUSLOGNO(n) "RUS" #n ": "

module AP_MODULE_DECLARE_DATA remoteuser_session_module;
APLOG_USE_MODULE(remoteuser_session);

/* ==================================================================== */
/* configuration                                                        */

#define UNSET (-1)

/* Per-directory settings. Every flag starts UNSET so that merging can tell
 * "not said here" from "said Off here"; FLAG() applies the default. */
typedef struct rus_dir_conf {
    int engine;                  /* RemoteUserEngine */
    int create_unknown;          /* RemoteUserCreateUnknown */
    int allow_inactive;          /* RemoteUserAllowInactive */
    int strip_realm;             /* RemoteUserStripRealm */
    int lowercase;               /* RemoteUserLowercase */
    const char *header;          /* RemoteUserHeader, NULL: r->user only */
    apr_array_header_t *trusted; /* RemoteUserTrustedProxy (rus_cidr_t),
                                    NULL: not set here */
} rus_dir_conf;

/* The AuthType this module implements by itself. */
#define RUS_AUTH_TYPE "RemoteUser"

#define FLAG(v, def) ((v) == UNSET ? (def) : (v))
#define MERGE_FLAG(conf, base, add, f) \
    (conf)->f = ((add)->f != UNSET) ? (add)->f : (base)->f

/* Server settings; only the main server's are used (GLOBAL_ONLY). */
typedef struct rus_server_conf {
    const char *store_spec; /* RemoteUserStore, as written */
    int busy_timeout_ms;    /* RemoteUserStoreBusyTimeout, UNSET: default */
    rus_store_t *store;     /* built in check_config */
} rus_server_conf;

/* This child's connections to the store, made in child_init. NULL when no
 * store is configured or it could not be set up: requests then fail. */
static rus_store_pool_t *child_store_pool;

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    rus_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    (void)dir;
    conf->engine = UNSET;
    conf->create_unknown = UNSET;
    conf->allow_inactive = UNSET;
    conf->strip_realm = UNSET;
    conf->lowercase = UNSET;
    conf->header = NULL;
    conf->trusted = NULL;
    return conf;
}

/* An inner section inherits whatever it does not set itself. */
static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    rus_dir_conf *base = basev, *add = addv;
    rus_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    MERGE_FLAG(conf, base, add, engine);
    MERGE_FLAG(conf, base, add, create_unknown);
    MERGE_FLAG(conf, base, add, allow_inactive);
    MERGE_FLAG(conf, base, add, strip_realm);
    MERGE_FLAG(conf, base, add, lowercase);
    conf->header = add->header ? add->header : base->header;
    /* A section that lists trusted peers replaces the outer list: the
     * list in force is always one that is written down in one place. */
    conf->trusted = add->trusted ? add->trusted : base->trusted;
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->busy_timeout_ms = UNSET;
    return conf;
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    rus_server_conf *base = basev, *add = addv;
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->store_spec = add->store_spec ? add->store_spec : base->store_spec;
    conf->busy_timeout_ms = add->busy_timeout_ms != UNSET
                                ? add->busy_timeout_ms
                                : base->busy_timeout_ms;
    conf->store = add->store ? add->store : base->store;
    return conf;
}

static rus_server_conf *server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &remoteuser_session_module);
}

/* RemoteUserStore SCHEME:LOCATION: checked for form here, so a typo is
 * reported with its line number; opened at startup. */
static const char *set_store(cmd_parms *cmd, void *dummy, const char *arg)
{
    rus_server_conf *conf = server_conf(cmd->server);
    const char *err, *msg = NULL;
    rus_store_t *store;

    (void)dummy;
    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    if (rus_store_create(&store, cmd->pool, arg, ap_server_root, NULL, &msg)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->directive->directive,
                            arg, msg);
    }
    conf->store_spec = arg;
    return NULL;
}

/* RemoteUserStoreBusyTimeout MILLISECONDS */
static const char *set_busy_timeout(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    rus_server_conf *conf = server_conf(cmd->server);
    apr_int64_t ms;
    const char *err;
    char *end;

    (void)dummy;
    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    ms = apr_strtoi64(arg, &end, 10);
    if (end == arg || *end != '\0' || ms < 0 || ms > 600000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of milliseconds "
                            "between 0 and 600000",
                            cmd->directive->directive, arg);
    }
    conf->busy_timeout_ms = (int)ms;
    return NULL;
}

/* RemoteUserHeader NAME: a header field name (RFC 9110 token). */
static const char *set_header(cmd_parms *cmd, void *dconf, const char *arg)
{
    rus_dir_conf *conf = dconf;
    const char *c;

    if (arg[0] == '\0') {
        return apr_psprintf(cmd->pool, "%s needs a header name",
                            cmd->directive->directive);
    }
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("!#$%&'*+-.^_`|~", *c)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a header name",
                                cmd->directive->directive, arg);
        }
    }
    conf->header = arg;
    return NULL;
}

/* RemoteUserTrustedProxy ADDR[/BITS]...: each argument adds a block. */
static const char *add_trusted(cmd_parms *cmd, void *dconf, const char *arg)
{
    rus_dir_conf *conf = dconf;
    const char *msg = NULL;
    rus_cidr_t cidr;

    if (rus_cidr_parse(&cidr, arg, cmd->pool, &msg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive,
                            msg);
    }
    if (conf->trusted == NULL) {
        conf->trusted = apr_array_make(cmd->pool, 4, sizeof(rus_cidr_t));
    }
    APR_ARRAY_PUSH(conf->trusted, rus_cidr_t) = cidr;
    return NULL;
}

static const command_rec rus_cmds[] = {
    AP_INIT_TAKE1("RemoteUserStore", set_store, NULL, RSRC_CONF,
                  "The user store, e.g. sqlite:/var/lib/apache2/"
                  "remoteuser_session/users.db (relative paths are "
                  "ServerRoot-relative)"),
    AP_INIT_TAKE1("RemoteUserStoreBusyTimeout", set_busy_timeout, NULL,
                  RSRC_CONF,
                  "Milliseconds to wait for a store lock held elsewhere "
                  "before answering 503 (default 5000)"),
    AP_INIT_FLAG("RemoteUserEngine", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, engine),
                 RSRC_CONF | OR_AUTHCFG,
                 "On: resolve this location's authenticated user through "
                 "the store (default Off)"),
    AP_INIT_FLAG("RemoteUserCreateUnknown", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, create_unknown),
                 RSRC_CONF | ACCESS_CONF,
                 "On: create users not yet in the store (default On)"),
    AP_INIT_FLAG("RemoteUserAllowInactive", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, allow_inactive),
                 RSRC_CONF | ACCESS_CONF,
                 "On: let users marked inactive in (default Off)"),
    AP_INIT_FLAG("RemoteUserStripRealm", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, strip_realm),
                 RSRC_CONF | ACCESS_CONF,
                 "On: alice@EXAMPLE.COM and EXAMPLE\\alice become alice "
                 "(default Off)"),
    AP_INIT_FLAG("RemoteUserLowercase", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, lowercase),
                 RSRC_CONF | ACCESS_CONF,
                 "On: fold user names to lower case (ASCII; default Off)"),
    AP_INIT_TAKE1("RemoteUserHeader", set_header, NULL, RSRC_CONF | ACCESS_CONF,
                  "Take the identity from this request header, sent by a "
                  "trusted proxy (RemoteUserTrustedProxy)"),
    AP_INIT_ITERATE("RemoteUserTrustedProxy", add_trusted, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "IP addresses or CIDR blocks of the peers allowed to "
                    "send RemoteUserHeader"),
    { NULL }
};

/* ==================================================================== */
/* startup                                                              */

/* Is "RemoteUserEngine On" or "AuthType RemoteUser" written anywhere in
 * the configuration? */
static int engine_in_tree(const ap_directive_t *d)
{
    for (; d != NULL; d = d->next) {
        if (d->args != NULL
            && ((strcasecmp(d->directive, "RemoteUserEngine") == 0
                 && strcasecmp(d->args, "on") == 0)
                || (strcasecmp(d->directive, "AuthType") == 0
                    && strcasecmp(d->args, RUS_AUTH_TYPE) == 0))) {
            return 1;
        }
        if (d->first_child != NULL && engine_in_tree(d->first_child)) {
            return 1;
        }
    }
    return 0;
}

/* The first RemoteUserHeader with no RemoteUserTrustedProxy in its own
 * section or an enclosing one, or NULL. */
static const ap_directive_t *header_without_peers(const ap_directive_t *d,
                                                  int peers_above)
{
    const ap_directive_t *x, *bad;
    int peers = peers_above;

    for (x = d; x != NULL; x = x->next) {
        if (strcasecmp(x->directive, "RemoteUserTrustedProxy") == 0) {
            peers = 1;
        }
    }
    for (x = d; x != NULL; x = x->next) {
        if (strcasecmp(x->directive, "RemoteUserHeader") == 0 && !peers) {
            return x;
        }
        if (x->first_child != NULL) {
            bad = header_without_peers(x->first_child, peers);
            if (bad != NULL) {
                return bad;
            }
        }
    }
    return NULL;
}

/* Runs at every start and restart, and under configtest: build the store
 * handle with its final options and check it without changing anything. */
static int rus_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    rus_store_options_t opts;
    const ap_directive_t *bad;
    const char *msg = NULL;
    apr_status_t rv;

    (void)plog;
    bad = header_without_peers(ap_conftree, 0);
    if (bad != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     RUSLOGNO(00015) "RemoteUserHeader %s on line %d of %s "
                                     "has no RemoteUserTrustedProxy in its "
                                     "section or an enclosing one: any "
                                     "client could send the header and be "
                                     "whoever it names",
                     bad->args, bad->line_num, bad->filename);
        return !OK;
    }
    if (conf->store_spec == NULL) {
        if (engine_in_tree(ap_conftree)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         RUSLOGNO(00004) "RemoteUserEngine On is configured "
                                         "but no RemoteUserStore is set in "
                                         "the server config");
            return !OK;
        }
        return OK;
    }
    rus_store_options_default(&opts);
    if (conf->busy_timeout_ms != UNSET) {
        opts.busy_timeout_ms = conf->busy_timeout_ms;
    }
    rv = rus_store_create(&conf->store, pconf, conf->store_spec, ap_server_root,
                          &opts, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_check(conf->store, ptemp, &msg);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00002) "RemoteUserStore %s: %s", conf->store_spec,
                     msg);
        return !OK;
    }
    return OK;
}

/* In the parent, before any child exists: create the store and migrate
 * its schema, owned by the user the children will run as. */
static int rus_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    rus_store_owner_t owner = { -1, -1 };
    const char *msg = NULL, *warn = NULL;
    apr_status_t rv;

    (void)pconf;
    (void)plog;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the first of the two startup passes: nothing yet */
    }
    if (conf->store == NULL) {
        return OK;
    }
    if (geteuid() == 0) {
        owner.uid = (long)ap_unixd_config.user_id;
        owner.gid = (long)ap_unixd_config.group_id;
    }
    rv = rus_store_prepare(conf->store, ptemp, &owner, &warn, &msg);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00003) "RemoteUserStore %s: %s", conf->store_spec,
                     msg);
        return !OK;
    }
    if (warn != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00014) "RemoteUserStore %s: %s", conf->store_spec,
                     warn);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 RUSLOGNO(00001) "mod_remoteuser_session/%s, store %s",
                 RUS_VERSION, rus_store_describe(conf->store));
    return OK;
}

/* After fork: this child's own connections, closed with pchild. */
static void rus_child_init(apr_pool_t *pchild, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    apr_status_t rv;

    if (conf->store == NULL) {
        return;
    }
    rv = rus_store_pool_create(&child_store_pool, conf->store, pchild);
    if (rv != APR_SUCCESS) {
        child_store_pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00005) "cannot set up store connections in "
                                     "this child; requests needing the "
                                     "store will fail");
    }
}

/* ==================================================================== */
/* requests                                                             */

/* What one top-level request learned about its user, kept on the first
 * request of the chain so that internal redirects and subrequests with
 * another configuration reuse it instead of asking the store again. */
typedef struct rus_req_state {
    const char *raw;          /* the name as the front end gave it */
    unsigned int flags;       /* the cleaning it went through */
    const char *clean;        /* the cleaned name */
    rus_user_t user;          /* the store's row */
    int created;              /* this request created the row */
    const char *header_name;  /* RemoteUserHeader that was accepted */
    const char *header_value; /* and the identity it carried */
} rus_req_state;

/* The first request of the chain (main request, before any redirect). */
static request_rec *chain_root(request_rec *r)
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

static rus_req_state *req_state(request_rec *r, int create)
{
    request_rec *root = chain_root(r);
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
static const char *log_name(request_rec *r, const char *name)
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

/* Ask the store about a cleaned name. Returns OK with *res filled in, or
 * the HTTP status to answer with (the cause is logged here). */
static int store_resolve(request_rec *r, const rus_dir_conf *conf,
                         const char *clean, rus_resolution_t *res)
{
    rus_user_policy_t policy;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    apr_status_t rv;

    if (child_store_pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00012) "RemoteUserEngine is On here but no "
                                      "store is available (is "
                                      "RemoteUserStore set?)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RUSLOGNO(00009) "user store unavailable: %s", msg);
        return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                                : HTTP_INTERNAL_SERVER_ERROR;
    }
    policy.create_unknown = FLAG(conf->create_unknown, 1);
    policy.allow_inactive = FLAG(conf->allow_inactive, 0);
    rv = rus_user_resolve(res, conn, clean, &policy,
                          (apr_int64_t)apr_time_sec(r->request_time), r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RUSLOGNO(00010) "user store failed resolving user "
                                      "'%s': %s",
                      log_name(r, clean), rus_store_error(conn));
        rus_store_release(child_store_pool, conn);
        return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                                : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (res->touch_rv != APR_SUCCESS) {
        /* Bookkeeping only: the user is known and allowed. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, res->touch_rv, r,
                      RUSLOGNO(00013) "could not record the login of user "
                                      "'%s': %s",
                      log_name(r, clean), rus_store_error(conn));
    }
    rus_store_release(child_store_pool, conn);
    return OK;
}

/* Django's user_can_authenticate(): an inactive user gets 403. */
static int refuse_inactive(request_rec *r, const char *name)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  RUSLOGNO(00008) "user '%s' is inactive", log_name(r, name));
    return HTTP_FORBIDDEN;
}

/* Resolve r->user, as set by the front end, into a local user: clean it,
 * find or create it, apply the policy, and make r->user the cleaned name.
 * Returns DECLINED to let authorization go on, or an HTTP error status. */
static int resolve_request_user(request_rec *r, const rus_dir_conf *conf)
{
    unsigned int flags = 0;
    rus_resolution_t res;
    rus_name_error_e nerr;
    const char *clean = NULL;
    rus_req_state *st;
    apr_pool_t *keep;
    int status;

    if (FLAG(conf->strip_realm, 0)) {
        flags |= RUS_CLEAN_STRIP_REALM;
    }
    if (FLAG(conf->lowercase, 0)) {
        flags |= RUS_CLEAN_LOWERCASE;
    }
    st = req_state(r, 1);
    if (st->clean != NULL && st->flags == flags
        && strcmp(st->raw, r->user) == 0) {
        /* Resolved earlier in this request chain: only the policy of this
         * location remains to be applied. */
        if (!st->user.is_active && !FLAG(conf->allow_inactive, 0)) {
            return refuse_inactive(r, st->clean);
        }
        r->user = (char *)st->clean;
        return DECLINED;
    }

    if (rus_username_clean(&clean, &nerr, r->pool, r->user, flags)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00006) "refusing user name '%s': %s",
                      log_name(r, r->user), rus_name_error_str(nerr));
        return HTTP_FORBIDDEN;
    }
    status = store_resolve(r, conf, clean, &res);
    if (status != OK) {
        return status;
    }
    switch (res.verdict) {
    case RUS_VERDICT_UNKNOWN:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00007) "user '%s' is not in the store and "
                                      "RemoteUserCreateUnknown is Off",
                      log_name(r, clean));
        return HTTP_FORBIDDEN;
    case RUS_VERDICT_INACTIVE:
        return refuse_inactive(r, clean);
    case RUS_VERDICT_ACCEPT:
        break;
    }
    if (res.created) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      RUSLOGNO(00011) "created user '%s' (id %" APR_INT64_T_FMT
                                      ")",
                      log_name(r, clean), res.user.id);
    }

    /* Keep the result where the whole request chain can see it; the
     * chain's first pool outlives every subrequest pool. */
    keep = chain_root(r)->pool;
    st->raw = apr_pstrdup(keep, r->user);
    st->flags = flags;
    st->clean = apr_pstrdup(keep, clean);
    st->user = res.user;
    st->user.username = st->clean;
    st->created = st->created || res.created;
    r->user = (char *)st->clean;
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
    return FLAG(conf->engine, 0) == 1 || is_our_auth_type(r);
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

/* Internal redirects and subrequests into another configuration run
 * authentication again, but the header was consumed by the first request
 * of the chain. Accept what it accepted, if this location trusts the same
 * header from the same peer. */
static int header_identity_again(request_rec *r, const rus_dir_conf *conf)
{
    rus_req_state *st = req_state(r, 0);

    if (chain_root(r) == r || st == NULL || st->header_value == NULL
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
                      log_name(r, offender), conf->header);
        return HTTP_BAD_REQUEST;
    case RUS_HEADER_REPEATED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00017) "refusing request with header %s "
                                      "sent more than once",
                      conf->header);
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
        return HTTP_FORBIDDEN;
    }
    if (rus_header_value(&value, &nerr, r->pool, raw) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00020) "refusing header %s value '%s': %s",
                      conf->header, log_name(r, raw), rus_name_error_str(nerr));
        return HTTP_BAD_REQUEST;
    }
    if (value[0] == '\0') {
        return DECLINED; /* empty counts as absent */
    }
    r->user = (char *)value;
    r->ap_auth_type = (char *)RUS_AUTH_TYPE;
    st = req_state(r, 1);
    st->header_name = conf->header;
    st->header_value = apr_pstrdup(chain_root(r)->pool, value);
    return OK;
}

/* Authentication, first in line: the trusted header (when configured)
 * wins over the location's front end; without one, AuthType RemoteUser
 * answers 401 and any other AuthType is left to its module. */
static int rus_check_authn(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    const char *realm;
    int status;

    if (!engine_on(r, conf)) {
        return DECLINED;
    }
    if (conf->header != NULL) {
        status = identity_from_header(r, conf);
        if (status != DECLINED) {
            return status;
        }
    }
    if (!is_our_auth_type(r)) {
        return DECLINED;
    }
    realm = ap_auth_name(r) ? ap_auth_name(r) : RUS_AUTH_TYPE;
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, RUS_AUTH_TYPE " realm=\"",
                               ap_escape_quotes(r->pool, realm), "\"", NULL));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00021) "no identity for AuthType %s: 401",
                  RUS_AUTH_TYPE);
    return HTTP_UNAUTHORIZED;
}

/* Authorization, first in line: by now the front end has authenticated
 * the request (r->user is set). Resolve the user, then decline so that
 * mod_authz_core evaluates Require against the cleaned name. */
static int rus_check_authz(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);

    if (!engine_on(r, conf) || r->user == NULL) {
        return DECLINED;
    }
    return resolve_request_user(r, conf);
}

/* Export the identity to whatever runs the request (CGI, SSI, FastCGI, log
 * formats). Done here rather than in authz because requests that skip
 * authorization (same-configuration subrequests and internal redirects)
 * must see it too. */
static int rus_fixups(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st;

    /* Whatever happened before (a public page where authentication never
     * ran, say), no client-sent copy of the identity header goes on. */
    if (conf->header != NULL) {
        rus_header_remove_alike(r->headers_in, conf->header);
    }
    if (!engine_on(r, conf) || r->user == NULL) {
        return DECLINED;
    }
    st = req_state(r, 0);
    if (st == NULL || st->clean == NULL || strcmp(st->clean, r->user) != 0) {
        return DECLINED;
    }
    apr_table_setn(r->subprocess_env, "REMOTE_USER_ID",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, st->user.id));
    if (st->created) {
        apr_table_setn(r->subprocess_env, "REMOTE_USER_CREATED", "1");
    }
    return DECLINED;
}

static void rus_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Check the store under configtest too, where post_config never runs. */
    ap_hook_check_config(rus_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Create and migrate the store before fork. */
    ap_hook_post_config(rus_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Connections are per child: SQLite handles must not cross fork(). */
    ap_hook_child_init(rus_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before the front ends (mod_auth_basic, mod_auth_gssapi...): a
     * trusted header wins over them, and AuthType RemoteUser is ours. */
    ap_hook_check_authn(rus_check_authn, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* Before mod_authz_core (APR_HOOK_LAST), so Require sees the cleaned
     * name; per configuration, so same-config subrequests skip it. */
    ap_hook_check_authz(rus_check_authz, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(rus_fixups, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA remoteuser_session_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,    /* per-directory config */
    merge_dir_conf,     /* merge per-directory config */
    create_server_conf, /* per-server config */
    merge_server_conf,  /* merge per-server config */
    rus_cmds,           /* directives */
    rus_register_hooks, /* hooks */
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 70)
    0 /* flags */
#endif
};
