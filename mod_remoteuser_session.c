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

#include <errno.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "mod_auth.h"
#include "unixd.h"
#include "util_cfgtree.h"

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "rus_cache.h"
#include "rus_gate.h"
#include "rus_header.h"
#include "rus_net.h"
#include "rus_origin.h"
#include "rus_redirect.h"
#include "rus_session.h"
#include "rus_store.h"
#include "rus_token.h"
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
    int session;                 /* RemoteUserSession */
    const char *cookie_name;     /* RemoteUserSessionCookieName */
    const char *cookie_path;     /* RemoteUserSessionCookiePath */
    const char *cookie_domain;   /* RemoteUserSessionCookieDomain */
    int cookie_secure;           /* RemoteUserSessionCookieSecure: SECURE_* */
    const char *samesite;        /* RemoteUserSessionCookieSameSite */
    apr_int64_t max_age;         /* RemoteUserSessionMaxAge, UNSET */
    apr_int64_t idle_timeout;    /* RemoteUserSessionIdleTimeout, UNSET */
    apr_int64_t max_per_user;    /* RemoteUserSessionMaxPerUser, UNSET */
    const char *login_url;       /* RemoteUserLoginURL */
    const char *login_redirect;  /* RemoteUserLoginRedirect */
    const char *logout_redirect; /* RemoteUserLogoutRedirect */
    int logout_allow_get;        /* RemoteUserLogoutAllowGet */
    const char *user_header;     /* RemoteUserRequestHeader */
    const char *groups_header;   /* RemoteUserGroupsHeader */
} rus_dir_conf;

#define SECURE_OFF  0
#define SECURE_ON   1
#define SECURE_AUTO 2

#define COOKIE_NAME_DEFAULT "remoteuser_session"
#define LOGIN_HANDLER       "remoteuser-login"
#define LOGOUT_HANDLER      "remoteuser-logout"
/* RemoteUserSessionMaxPerUser's default. */
#define MAX_PER_USER_DEFAULT 20
/* Expired sessions are deleted at most this often per child (seconds). */
#define PURGE_INTERVAL 300

/* The AuthType this module implements by itself. */
#define RUS_AUTH_TYPE "RemoteUser"

#define FLAG(v, def) ((v) == UNSET ? (def) : (v))
#define MERGE_PTR(conf, base, add, f) \
    (conf)->f = (add)->f ? (add)->f : (base)->f
#define MERGE_FLAG(conf, base, add, f) \
    (conf)->f = ((add)->f != UNSET) ? (add)->f : (base)->f

/* Server settings; only the main server's are used (GLOBAL_ONLY). */
typedef struct rus_server_conf {
    const char *store_spec; /* RemoteUserStore, as written */
    const char *store_file; /* the file of the RemoteUserStore that won */
    int store_line;         /* and its line */
    int busy_timeout_ms;    /* RemoteUserStoreBusyTimeout, UNSET: default */
    int max_writers;        /* RemoteUserStoreMaxWriters, UNSET: default */
    int cache_ttl;          /* RemoteUserCacheTTL, UNSET: default */
    rus_store_t *store;     /* built in check_config */
    /* Per virtual host (merged): */
    int trust_htaccess;        /* RemoteUserTrustHtaccess, UNSET: Off */
    const char *session_scope; /* RemoteUserSessionScope, NULL: the vhost */
} rus_server_conf;

/* This child's connections to the store, made in child_init. NULL when no
 * store is configured or it could not be set up: requests then fail. */
static rus_store_pool_t *child_store_pool;

/* Set when this generation's store was refused at a restart (its files
 * untouched): httpd stays up, children open no connection, and requests
 * needing the store get 503 until the store is fixed and httpd restarted
 * again. Reset by every configuration pass. */
static int store_refused;

/* The cache of store answers, in memory shared by every child of this
 * generation (made in post_config, before fork); NULL when
 * RemoteUserCacheTTL is 0. */
static rus_cache_t *child_cache;

/* When the next store checkpoint is due (milliseconds, wrapping), in
 * memory shared by every child of this generation (made in post_config):
 * the child whose thread moves it forward checkpoints, so one process does
 * per interval however many children there are. NULL when the shared
 * memory could not be had: each child then checkpoints on its own. */
static apr_uint32_t *checkpoint_due;

/* The store's WAL is emptied once per CHECKPOINT_INTERVAL_MS by one child;
 * each child's thread looks CHECKPOINT_TICK_MS apart whether it is its
 * turn. The checkpoint waits at most CHECKPOINT_WAIT_MS for other
 * connections (writers wait that long plus the copy, far below
 * RemoteUserStoreBusyTimeout). A warning after CHECKPOINT_WARN_AFTER
 * failed attempts in a row. */
#define CHECKPOINT_INTERVAL_MS 250
#define CHECKPOINT_TICK_MS     100
#define CHECKPOINT_WAIT_MS     20
#define CHECKPOINT_WARN_AFTER  100

/* Store writes that may wait for the store's write lock, in flight at
 * once in this child (RemoteUserStoreMaxWriters, set in child_init);
 * beyond it a login answers 503 at once and bookkeeping writes are
 * skipped, so that writers never hold every worker. Reads never pass it. */
static rus_gate_t write_gate;

/* RemoteUserStoreMaxWriters by default: half of the child's threads, at
 * least MAX_WRITERS_MIN. Writers can then never hold more than half of a
 * child's workers. Measured (make bench, ThreadsPerChild 32): with 16, a
 * legitimate load of 32 connections of first logins got 503 for 0.1 %
 * of its requests or less (44 % with 8), and a flood of them left the cookie
 * load as much as a static flood of the same size did (with 8 as well). */
#define MAX_WRITERS_MIN 2

/* Seconds store answers are reused (RemoteUserCacheTTL). */
#define CACHE_TTL_DEFAULT 2
#define CACHE_SLOTS       4096

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
    conf->session = UNSET;
    conf->cookie_name = NULL;
    conf->cookie_path = NULL;
    conf->cookie_domain = NULL;
    conf->cookie_secure = UNSET;
    conf->samesite = NULL;
    conf->max_age = UNSET;
    conf->idle_timeout = UNSET;
    conf->max_per_user = UNSET;
    conf->login_url = NULL;
    conf->login_redirect = NULL;
    conf->logout_redirect = NULL;
    conf->logout_allow_get = UNSET;
    conf->user_header = NULL;
    conf->groups_header = NULL;
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
    MERGE_FLAG(conf, base, add, session);
    MERGE_PTR(conf, base, add, cookie_name);
    MERGE_PTR(conf, base, add, cookie_path);
    MERGE_PTR(conf, base, add, cookie_domain);
    MERGE_FLAG(conf, base, add, cookie_secure);
    MERGE_PTR(conf, base, add, samesite);
    MERGE_FLAG(conf, base, add, max_age);
    MERGE_FLAG(conf, base, add, idle_timeout);
    MERGE_FLAG(conf, base, add, max_per_user);
    MERGE_PTR(conf, base, add, login_url);
    MERGE_PTR(conf, base, add, login_redirect);
    MERGE_PTR(conf, base, add, logout_redirect);
    MERGE_FLAG(conf, base, add, logout_allow_get);
    MERGE_PTR(conf, base, add, user_header);
    MERGE_PTR(conf, base, add, groups_header);
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->busy_timeout_ms = UNSET;
    conf->max_writers = UNSET;
    conf->cache_ttl = UNSET;
    conf->trust_htaccess = UNSET;
    return conf;
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    rus_server_conf *base = basev, *add = addv;
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->store_spec = add->store_spec ? add->store_spec : base->store_spec;
    conf->store_file = add->store_spec ? add->store_file : base->store_file;
    conf->store_line = add->store_spec ? add->store_line : base->store_line;
    conf->busy_timeout_ms = add->busy_timeout_ms != UNSET
                                ? add->busy_timeout_ms
                                : base->busy_timeout_ms;
    conf->max_writers =
        add->max_writers != UNSET ? add->max_writers : base->max_writers;
    conf->store = add->store ? add->store : base->store;
    conf->cache_ttl =
        add->cache_ttl != UNSET ? add->cache_ttl : base->cache_ttl;
    conf->trust_htaccess = add->trust_htaccess != UNSET ? add->trust_htaccess
                                                        : base->trust_htaccess;
    conf->session_scope =
        add->session_scope ? add->session_scope : base->session_scope;
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
    /* The last RemoteUserStore wins; remoteuser-admin --config shows
     * which one it was (DUMP_REMOTEUSER_STORE). */
    conf->store_spec = arg;
    conf->store_file = cmd->directive->filename;
    conf->store_line = cmd->directive->line_num;
    return NULL;
}

/* A whole number of @a unit from @a min to @a max, or the error. */
static const char *parse_number(cmd_parms *cmd, const char *arg,
                                apr_int64_t min, apr_int64_t max,
                                const char *unit, apr_int64_t *pout)
{
    apr_int64_t v;
    char *end;

    v = apr_strtoi64(arg, &end, 10);
    if (end == arg || *end != '\0' || v < min || v > max) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of %s from "
                            "%" APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->directive->directive, arg, unit, min, max);
    }
    *pout = v;
    return NULL;
}

/* A server-wide number (GLOBAL_ONLY) into an int of the server config at
 * the offset in cmd->info: RemoteUserStoreBusyTimeout (milliseconds),
 * RemoteUserStoreMaxWriters (0: no limit), RemoteUserCacheTTL. */
static const char *set_global_number(cmd_parms *cmd, const char *arg,
                                     apr_int64_t max, const char *unit)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0;

    if (err == NULL) {
        err = parse_number(cmd, arg, 0, max, unit, &v);
    }
    if (err == NULL) {
        *(int *)((char *)server_conf(cmd->server) + (apr_size_t)cmd->info) =
            (int)v;
    }
    return err;
}

/* RemoteUserStoreBusyTimeout MILLISECONDS */
static const char *set_busy_timeout(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    (void)dummy;
    return set_global_number(cmd, arg, 600000, "milliseconds");
}

/* Every RemoteUserHeader, RemoteUserRequestHeader and RemoteUserGroupsHeader
 * name and every RemoteUserTrustedProxy block anywhere in the server, for
 * what post_read_request does before any section is known. Rebuilt at
 * each configuration read (pre_config), in pconf. */
static apr_array_header_t *all_identity_headers; /* const char * */
static apr_array_header_t *all_export_headers;   /* const char * */
static apr_array_header_t *all_trusted;          /* rus_cidr_t */

static void remember(apr_array_header_t **parr, apr_pool_t *p, const void *elt,
                     int size)
{
    if (*parr == NULL) {
        *parr = apr_array_make(p, 4, size);
    }
    memcpy(apr_array_push(*parr), elt, (apr_size_t)size);
}

/* RemoteUserStoreMaxWriters N (0: no limit) */
static const char *set_max_writers(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return set_global_number(cmd, arg, 100000, "writers (0: no limit)");
}

/* RemoteUserHeader, RemoteUserRequestHeader, RemoteUserGroupsHeader: a
 * header field name (RFC 9110 token), stored at the offset in cmd->info. */
static const char *set_header(cmd_parms *cmd, void *dconf, const char *arg)
{
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
    *(const char **)((char *)dconf + (apr_size_t)cmd->info) = arg;
    remember((apr_size_t)cmd->info == APR_OFFSETOF(rus_dir_conf, header)
                 ? &all_identity_headers
                 : &all_export_headers,
             cmd->pool, &arg, (int)sizeof(arg));
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
    remember(&all_trusted, cmd->pool, &cidr, (int)sizeof(cidr));
    return NULL;
}

/* A number of seconds, 0 .. ten years. */
static const char *parse_seconds(cmd_parms *cmd, const char *arg,
                                 apr_int64_t min, apr_int64_t *pout)
{
    return parse_number(cmd, arg, min, 315360000, "seconds", pout);
}

/* RemoteUserSessionMaxAge / RemoteUserSessionIdleTimeout */
static const char *set_seconds(cmd_parms *cmd, void *dconf, const char *arg)
{
    rus_dir_conf *conf = dconf;
    int max_age = cmd->info != NULL;

    return parse_seconds(cmd, arg, max_age ? 1 : 0,
                         max_age ? &conf->max_age : &conf->idle_timeout);
}

/* RemoteUserSessionCookieName: an RFC 6265 token. */
static const char *set_cookie_name(cmd_parms *cmd, void *dconf, const char *arg)
{
    if (!rus_cookie_name_valid(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a cookie name",
                            cmd->directive->directive, arg);
    }
    ((rus_dir_conf *)dconf)->cookie_name = arg;
    return NULL;
}

/* A cookie attribute value: printable, no ';' or ',' or space. */
static const char *check_attr(cmd_parms *cmd, const char *arg)
{
    const char *c;

    for (c = arg; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == ';' || *c == ',') {
            return apr_psprintf(cmd->pool, "%s: '%s' cannot go in a cookie",
                                cmd->directive->directive, arg);
        }
    }
    return arg[0] ? NULL
                  : apr_psprintf(cmd->pool, "%s needs a value",
                                 cmd->directive->directive);
}

static const char *set_cookie_path(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = check_attr(cmd, arg);

    if (err == NULL && arg[0] != '/') {
        err = apr_psprintf(cmd->pool, "%s: '%s' does not start with '/'",
                           cmd->directive->directive, arg);
    }
    if (err == NULL) {
        ((rus_dir_conf *)dconf)->cookie_path = arg;
    }
    return err;
}

static const char *set_cookie_domain(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    const char *err = check_attr(cmd, arg);

    if (err == NULL) {
        ((rus_dir_conf *)dconf)->cookie_domain = arg;
    }
    return err;
}

static const char *set_cookie_secure(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    rus_dir_conf *conf = dconf;

    if (strcasecmp(arg, "auto") == 0) {
        conf->cookie_secure = SECURE_AUTO;
    }
    else if (strcasecmp(arg, "on") == 0) {
        conf->cookie_secure = SECURE_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->cookie_secure = SECURE_OFF;
    }
    else {
        return apr_psprintf(cmd->pool, "%s takes Auto, On or Off",
                            cmd->directive->directive);
    }
    return NULL;
}

static const char *set_samesite(cmd_parms *cmd, void *dconf, const char *arg)
{
    static const char *const values[] = { "Lax", "Strict", "None" };
    apr_size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (strcasecmp(arg, values[i]) == 0) {
            ((rus_dir_conf *)dconf)->samesite = values[i];
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s takes Lax, Strict or None",
                        cmd->directive->directive);
}

/* RemoteUserLoginURL / RemoteUserLoginRedirect / RemoteUserLogoutRedirect:
 * local paths, held to the same rule as the redirects they configure. */
static const char *set_local_url(cmd_parms *cmd, void *dconf, const char *arg)
{
    if (!rus_redirect_safe(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a local path (it must start "
                            "with a single '/')",
                            cmd->directive->directive, arg);
    }
    *(const char **)((char *)dconf + (apr_size_t)cmd->info) = arg;
    return NULL;
}

/* RemoteUserEngine On|Off. In a .htaccess file only where the
 * administrator said RemoteUserTrustHtaccess On for the virtual host: the
 * author of the file would otherwise choose, with their own AuthUserFile,
 * which store user a request maps to. */
static const char *set_engine(cmd_parms *cmd, void *dconf, int on)
{
    if (ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL
        && FLAG(server_conf(cmd->server)->trust_htaccess, 0) != 1) {
        return RUSLOGNO(00041) "RemoteUserEngine is not allowed in .htaccess "
                               "files unless the server configuration says "
                               "RemoteUserTrustHtaccess On";
    }
    ((rus_dir_conf *)dconf)->engine = on;
    return NULL;
}

/* RemoteUserTrustHtaccess On|Off (server config, virtual host) */
static const char *set_trust_htaccess(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    server_conf(cmd->server)->trust_htaccess = on;
    return NULL;
}

/* RemoteUserSessionScope NAME (server config, virtual host) */
static const char *set_session_scope(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    const char *c;

    (void)dummy;
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("._-", *c)) {
            break;
        }
    }
    if (arg[0] == '\0' || *c != '\0' || c - arg > 64) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a scope name (1 to 64 letters, "
                            "digits, '.', '_' or '-')",
                            cmd->directive->directive, arg);
    }
    server_conf(cmd->server)->session_scope = arg;
    return NULL;
}

/* RemoteUserSessionMaxPerUser N (0: no limit) */
static const char *set_max_per_user(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    return parse_number(cmd, arg, 0, 100000, "sessions (0: no limit)",
                        &((rus_dir_conf *)dconf)->max_per_user);
}

/* RemoteUserCacheTTL SECONDS */
static const char *set_cache_ttl(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return set_global_number(cmd, arg, 60, "seconds");
}

static const command_rec rus_cmds[] = {
    AP_INIT_TAKE1("RemoteUserStore", set_store, NULL, RSRC_CONF,
                  "The user store, e.g. sqlite:/var/lib/apache2/"
                  "remoteuser_session/users.db (relative paths are "
                  "ServerRoot-relative)"),
    AP_INIT_TAKE1("RemoteUserStoreBusyTimeout", set_busy_timeout,
                  (void *)APR_OFFSETOF(rus_server_conf, busy_timeout_ms),
                  RSRC_CONF,
                  "Milliseconds to wait for a store lock held elsewhere "
                  "before answering 503 (default 5000)"),
    AP_INIT_TAKE1("RemoteUserStoreMaxWriters", set_max_writers,
                  (void *)APR_OFFSETOF(rus_server_conf, max_writers), RSRC_CONF,
                  "Store writes (user creation, new session) that may wait "
                  "for the store's write lock at once per child; beyond "
                  "it a login gets 503 at once (default: half of "
                  "ThreadsPerChild, at least 2; 0: no limit)"),
    AP_INIT_TAKE1("RemoteUserCacheTTL", set_cache_ttl,
                  (void *)APR_OFFSETOF(rus_server_conf, cache_ttl), RSRC_CONF,
                  "Seconds a child reuses store answers about a user or a "
                  "session (default 2, 0: off); also the longest a change "
                  "made elsewhere takes to apply"),
    AP_INIT_FLAG("RemoteUserEngine", set_engine, NULL,
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,
                 "On: resolve this location's authenticated user through "
                 "the store (default Off; in .htaccess only with "
                 "RemoteUserTrustHtaccess On)"),
    AP_INIT_FLAG("RemoteUserTrustHtaccess", set_trust_htaccess, NULL, RSRC_CONF,
                 "On: .htaccess files may turn the engine on, and where "
                 "they may set authentication the front end's user is "
                 "still trusted (default Off)"),
    AP_INIT_TAKE1("RemoteUserSessionScope", set_session_scope, NULL, RSRC_CONF,
                  "Name shared by the virtual hosts (and the hosts of a "
                  "fleet) whose sessions are valid at each other (default: "
                  "each virtual host its own, by name and port)"),
    AP_INIT_TAKE1("RemoteUserSessionMaxPerUser", set_max_per_user, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Sessions a user may hold; a new login revokes the oldest "
                  "beyond it (default 20, 0: no limit)"),
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
    AP_INIT_TAKE1("RemoteUserHeader", set_header,
                  (void *)APR_OFFSETOF(rus_dir_conf, header),
                  RSRC_CONF | ACCESS_CONF,
                  "Take the identity from this request header, sent by a "
                  "trusted proxy (RemoteUserTrustedProxy)"),
    AP_INIT_ITERATE("RemoteUserTrustedProxy", add_trusted, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "IP addresses or CIDR blocks of the peers allowed to "
                    "send RemoteUserHeader"),
    AP_INIT_FLAG("RemoteUserSession", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, session),
                 RSRC_CONF | ACCESS_CONF,
                 "On: a session cookie authenticates here, and logins here "
                 "get one (default Off)"),
    AP_INIT_TAKE1("RemoteUserSessionCookieName", set_cookie_name, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Name of the session cookie (default remoteuser_session)"),
    AP_INIT_TAKE1("RemoteUserSessionCookiePath", set_cookie_path, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Path attribute of the session cookie (default /)"),
    AP_INIT_TAKE1("RemoteUserSessionCookieDomain", set_cookie_domain, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Domain attribute of the session cookie (default none: "
                  "host-only)"),
    AP_INIT_TAKE1("RemoteUserSessionCookieSecure", set_cookie_secure, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Auto (Secure over TLS), On or Off (default Auto)"),
    AP_INIT_TAKE1("RemoteUserSessionCookieSameSite", set_samesite, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Lax, Strict or None (default Lax; None forces Secure)"),
    AP_INIT_TAKE1("RemoteUserSessionMaxAge", set_seconds, (void *)1,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds a session lives (default 1209600, two weeks)"),
    AP_INIT_TAKE1("RemoteUserSessionIdleTimeout", set_seconds, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds without use after which a session ends (default "
                  "0: never)"),
    AP_INIT_TAKE1("RemoteUserLoginURL", set_local_url,
                  (void *)APR_OFFSETOF(rus_dir_conf, login_url),
                  RSRC_CONF | ACCESS_CONF,
                  "Under AuthType RemoteUser, where GET/HEAD without a "
                  "session are sent (with ?next=)"),
    AP_INIT_TAKE1("RemoteUserLoginRedirect", set_local_url,
                  (void *)APR_OFFSETOF(rus_dir_conf, login_redirect),
                  RSRC_CONF | ACCESS_CONF,
                  "Where remoteuser-login sends the browser without a safe "
                  "next (default /)"),
    AP_INIT_TAKE1("RemoteUserLogoutRedirect", set_local_url,
                  (void *)APR_OFFSETOF(rus_dir_conf, logout_redirect),
                  RSRC_CONF | ACCESS_CONF,
                  "Where remoteuser-logout sends the browser without a safe "
                  "next (default /)"),
    AP_INIT_FLAG("RemoteUserLogoutAllowGet", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(rus_dir_conf, logout_allow_get),
                 RSRC_CONF | ACCESS_CONF,
                 "On: remoteuser-logout also accepts GET (default Off: POST "
                 "only)"),
    AP_INIT_TAKE1("RemoteUserRequestHeader", set_header,
                  (void *)APR_OFFSETOF(rus_dir_conf, user_header),
                  RSRC_CONF | ACCESS_CONF,
                  "Request header that carries the resolved user name to "
                  "proxied applications"),
    AP_INIT_TAKE1("RemoteUserGroupsHeader", set_header,
                  (void *)APR_OFFSETOF(rus_dir_conf, groups_header),
                  RSRC_CONF | ACCESS_CONF,
                  "Request header that carries the user's groups "
                  "(comma-separated) to proxied applications"),
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

/* A restart of a running parent, as opposed to the first start or
 * configtest: httpd numbers its startup preflight pass 0 and the first
 * real pass 1. Refusing a restart (returning !OK) would take the running
 * server down. */
static int is_restart(void)
{
    return ap_state_query(AP_SQ_CONFIG_GEN) > 1;
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
    store_refused = 0;
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
    /* Each child's checkpoint thread empties the WAL (checkpoint_start);
     * request threads never checkpoint. */
    opts.auto_checkpoint = 0;
    rv = rus_store_create(&conf->store, pconf, conf->store_spec, ap_server_root,
                          &opts, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_check(conf->store, ptemp, &msg);
        if (rv != APR_SUCCESS && is_restart()) {
            store_refused = 1;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         RUSLOGNO(00052) "RemoteUserStore %s refused at "
                                         "restart: %s; httpd keeps "
                                         "running, requests needing the "
                                         "store get 503 until it is fixed "
                                         "and httpd restarted",
                         conf->store_spec, msg);
            return OK;
        }
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00050) "RemoteUserStore %s refused: %s",
                     conf->store_spec, msg);
        return !OK;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00002) "RemoteUserStore %s: %s", conf->store_spec,
                     msg);
        return !OK;
    }
    return OK;
}

/* One field of the DUMP_REMOTEUSER_STORE line: '\\', '(', ')' and control
 * bytes as \xHH, so that the line splits one way only. */
static const char *dump_field(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, strlen(s) * 4 + 1), *w = out;
    const unsigned char *u;

    for (u = (const unsigned char *)s; *u; u++) {
        if (*u < 0x20 || *u == 0x7f || *u == '\\' || *u == '(' || *u == ')') {
            *w++ = '\\';
            *w++ = 'x';
            *w++ = hex[*u >> 4];
            *w++ = hex[*u & 15];
        }
        else {
            *w++ = (char)*u;
        }
    }
    *w = '\0';
    return out;
}

/* httpd -t -D DUMP_REMOTEUSER_STORE: print the store the main server uses,
 * made absolute, and where it was set, as one line on stdout:
 *   RemoteUserStore sqlite:/abs/users.db (/etc/apache2/x.conf:12)
 * This is how remoteuser-admin --config learns the store from httpd
 * itself (like DUMP_RUN_CFG in os/unix/unixd.c). Nothing without a store. */
static void rus_test_config(apr_pool_t *pconf, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    const char *colon, *spec;
    apr_file_t *out = NULL;

    if (!ap_exists_config_define("DUMP_REMOTEUSER_STORE")
        || conf->store == NULL) {
        return;
    }
    /* SCHEME: as written (rus_store_create checked it), then the location
     * as the module opens it. */
    colon = strchr(conf->store_spec, ':');
    spec = apr_pstrcat(pconf,
                       apr_pstrmemdup(pconf, conf->store_spec,
                                      (apr_size_t)(colon - conf->store_spec)),
                       ":", rus_store_describe(conf->store), NULL);
    if (apr_file_open_stdout(&out, pconf) != APR_SUCCESS) {
        return;
    }
    apr_file_printf(out, "RemoteUserStore %s (%s:%d)\n",
                    dump_field(pconf, spec),
                    dump_field(pconf,
                               conf->store_file ? conf->store_file : "-"),
                    conf->store_line);
    apr_file_flush(out);
}

/* In the parent, before any child exists: create the store and migrate
 * its schema, owned by the user the children will run as. */
static int rus_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    rus_store_owner_t owner = { -1, -1 };
    const char *msg = NULL, *warn = NULL, *others = NULL, *world = NULL;
    apr_status_t rv;

    (void)plog;
    child_cache = NULL; /* a restart may have turned it off */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the first of the two startup passes: nothing yet */
    }
    if (conf->store == NULL || store_refused) {
        return OK; /* a refused store is left as it is (RUS00052) */
    }
    if (FLAG(conf->cache_ttl, CACHE_TTL_DEFAULT) > 0) {
        apr_size_t size = rus_cache_size(CACHE_SLOTS);
        apr_shm_t *shm = NULL;

        /* Anonymous shared memory, inherited by the children: a logout in
         * one child drops the entry for all of them, and each answer is
         * looked up once per TTL for the whole server, not once per
         * child. It goes with pconf; children of the previous generation
         * keep their mapping until they exit. */
        rv = apr_shm_create(&shm, size, NULL, pconf);
        if (rv == APR_SUCCESS) {
            child_cache =
                rus_cache_init(apr_shm_baseaddr_get(shm), size, CACHE_SLOTS,
                               FLAG(conf->cache_ttl, CACHE_TTL_DEFAULT), pconf);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00034) "cannot make %" APR_SIZE_T_FMT
                                         " bytes of shared memory for the "
                                         "answer cache; each child keeps "
                                         "its own",
                         size);
        }
    }
    checkpoint_due = NULL;
    {
        apr_shm_t *shm = NULL;

        /* Like the cache, anonymous and inherited; goes with pconf. */
        rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf);
        if (rv == APR_SUCCESS) {
            checkpoint_due = apr_shm_baseaddr_get(shm);
            apr_atomic_set32(checkpoint_due, 0);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00060) "no shared memory to elect the "
                                         "child that checkpoints the store: "
                                         "every child does, every 250 ms");
        }
    }
    if (geteuid() == 0) {
        owner.uid = (long)ap_unixd_config.user_id;
        owner.gid = (long)ap_unixd_config.group_id;
    }
    rv = rus_store_prepare(conf->store, ptemp, &owner, &warn, &msg);
    if (rv != APR_SUCCESS && is_restart()) {
        store_refused = 1;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00053) "RemoteUserStore %s refused at restart: "
                                     "%s; httpd keeps running, requests "
                                     "needing the store get 503 until it "
                                     "is fixed and httpd restarted",
                     conf->store_spec, msg);
        return OK;
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00051) "RemoteUserStore %s refused: %s",
                     conf->store_spec, msg);
        return !OK;
    }
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
    /* Whoever may write the directory may swap the store for another
     * file: the children still refuse links, but say so. */
    if (rus_store_dir_warnings(conf->store, &owner, ptemp, &others, &world)
        == APR_SUCCESS) {
        if (world != NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00057) "RemoteUserStore %s: %s",
                         conf->store_spec, world);
        }
        if (others != NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00056) "RemoteUserStore %s: %s",
                         conf->store_spec, others);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 RUSLOGNO(00001) "mod_remoteuser_session/%s, store %s",
                 RUS_VERSION, rus_store_describe(conf->store));
    return OK;
}

/* ==================================================================== */
/* store maintenance: one thread per child, one checkpoint per interval  */

typedef struct rus_checkpointer {
    const rus_store_t *store;
    server_rec *s;
    apr_thread_mutex_t *lock; /* guards stop */
    apr_thread_cond_t *wake;  /* signalled to stop */
    int stop;                 /* the child is exiting */
    apr_thread_t *thread;
    apr_uint32_t own_due; /* when checkpoint_due is NULL */
    int failures;         /* attempts in a row that did not empty it */
} rus_checkpointer;

/* Nonzero when this process won the interval starting now: the due time
 * is moved forward by whoever swaps it first. */
static int checkpoint_claim(rus_checkpointer *cp)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_as_msec(apr_time_now());
    apr_uint32_t *due = checkpoint_due ? checkpoint_due : &cp->own_due;
    apr_uint32_t when = apr_atomic_read32(due);

    if ((apr_int32_t)(now - when) < 0) {
        return 0; /* not yet (the difference survives the wrap) */
    }
    return apr_atomic_cas32(due, now + CHECKPOINT_INTERVAL_MS, when) == when;
}

/* One turn: checkpoint on the thread's own connection. Failures are told
 * once per streak, not every second. */
static void checkpoint_once(rus_checkpointer *cp, rus_store_pool_t *spool,
                            apr_pool_t *ptemp)
{
    rus_store_checkpoint_t res;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    rv = rus_store_acquire(&conn, spool, ptemp, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_checkpoint(conn, CHECKPOINT_WAIT_MS, &res);
        msg = apr_pstrdup(ptemp, rus_store_error(conn));
        rus_store_release(spool, conn);
    }
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, cp->s,
                     "store checkpoint: %" APR_INT64_T_FMT
                     " WAL frames copied and emptied in %" APR_TIME_T_FMT " us",
                     res.copied, apr_time_now() - t0);
        cp->failures = 0;
        return;
    }
    cp->failures++;
    /* Whoever looks next, in a tick, tries again. */
    apr_atomic_set32(checkpoint_due ? checkpoint_due : &cp->own_due,
                     (apr_uint32_t)apr_time_as_msec(apr_time_now()));
    if (APR_STATUS_IS_EBUSY(rv)) {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, cp->s,
                     "store checkpoint incomplete (%" APR_INT64_T_FMT
                     " of %" APR_INT64_T_FMT " WAL frames copied): %s",
                     res.copied, res.log_before, msg);
        if (cp->failures == CHECKPOINT_WARN_AFTER) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, cp->s,
                         RUSLOGNO(00061) "the store's WAL could not be "
                                         "emptied %d times in a row: "
                                         "another process keeps reading "
                                         "or writing it for longer than "
                                         "%d ms; it grows until that "
                                         "stops",
                         cp->failures, CHECKPOINT_WAIT_MS);
        }
        return;
    }
    if (cp->failures == 1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, cp->s,
                     RUSLOGNO(00062) "store checkpoint failed: %s (told "
                                     "once until it works again)",
                     msg ? msg : "");
    }
}

/* The thread: wakes every tick, checkpoints when it wins the interval,
 * and ends as soon as checkpoint_stop() signals. */
static void *APR_THREAD_FUNC checkpoint_main(apr_thread_t *thd, void *data)
{
    rus_checkpointer *cp = data;
    rus_store_pool_t *spool = NULL;
    apr_pool_t *p = NULL, *ptemp = NULL;
    apr_status_t rv;

    /* Its own unmanaged pool: pchild is not for other threads. */
    rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create(&ptemp, p);
    }
    if (rv == APR_SUCCESS) {
        rv = rus_store_pool_create(&spool, cp->store, p);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, cp->s,
                     RUSLOGNO(00063) "the store checkpoint thread cannot "
                                     "start in this child");
        goto leave;
    }
    apr_thread_mutex_lock(cp->lock);
    while (!cp->stop) {
        apr_thread_cond_timedwait(cp->wake, cp->lock,
                                  apr_time_from_msec(CHECKPOINT_TICK_MS));
        if (cp->stop) {
            break;
        }
        apr_thread_mutex_unlock(cp->lock);
        if (checkpoint_claim(cp)) {
            checkpoint_once(cp, spool, ptemp);
            apr_pool_clear(ptemp);
        }
        apr_thread_mutex_lock(cp->lock);
    }
    apr_thread_mutex_unlock(cp->lock);

leave:
    if (p != NULL) {
        apr_pool_destroy(p); /* closes its connection */
    }
    apr_thread_exit(thd, rv);
    return NULL;
}

/* pchild pre-cleanup: stop the thread and wait for it; that is at most one
 * checkpoint (CHECKPOINT_WAIT_MS plus the copy), never a tick. */
static apr_status_t checkpoint_stop(void *data)
{
    rus_checkpointer *cp = data;
    apr_status_t trv;

    apr_thread_mutex_lock(cp->lock);
    cp->stop = 1;
    apr_thread_cond_signal(cp->wake);
    apr_thread_mutex_unlock(cp->lock);
    apr_thread_join(&trv, cp->thread);
    return APR_SUCCESS;
}

/* Start this child's checkpoint thread. */
static void checkpoint_start(apr_pool_t *pchild, server_rec *s,
                             const rus_store_t *store)
{
    rus_checkpointer *cp = apr_pcalloc(pchild, sizeof(*cp));
    apr_status_t rv;

    cp->store = store;
    cp->s = s;
    rv = apr_thread_mutex_create(&cp->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&cp->wake, pchild);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&cp->thread, NULL, checkpoint_main, cp, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     RUSLOGNO(00064) "cannot start the store checkpoint "
                                     "thread in this child; if no child "
                                     "has one, the store's WAL grows "
                                     "under load");
        return;
    }
    /* A pre-cleanup: it runs before pchild's subpools go, the thread's
     * own among them. */
    apr_pool_pre_cleanup_register(pchild, cp, checkpoint_stop);
}

/* This child's write gate: RemoteUserStoreMaxWriters, or by default half
 * of its threads (at least MAX_WRITERS_MIN). */
static void write_gate_init(const rus_server_conf *conf)
{
    int threads = 0, cap = conf->max_writers;

    if (cap == UNSET) {
        if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
            threads = 0;
        }
        cap = threads / 2 > MAX_WRITERS_MIN ? threads / 2 : MAX_WRITERS_MIN;
    }
    rus_gate_init(&write_gate, (apr_uint32_t)cap);
}

/* After fork: this child's own connections, closed with pchild. */
static void rus_child_init(apr_pool_t *pchild, server_rec *s)
{
    rus_server_conf *conf = server_conf(s);
    apr_status_t rv;

    if (conf->store == NULL || store_refused) {
        return;
    }
    write_gate_init(conf);
    if (child_cache == NULL) { /* no shared memory: a cache of its own */
        child_cache =
            rus_cache_create(pchild, CACHE_SLOTS,
                             FLAG(conf->cache_ttl, CACHE_TTL_DEFAULT));
    }
    rv = rus_store_pool_create(&child_store_pool, conf->store, pchild);
    if (rv == APR_SUCCESS) {
        /* The store file's availability is looked at once a second per
         * connection, not at every request. */
        rus_store_pool_set_check_interval(child_store_pool,
                                          apr_time_from_sec(1));
    }
    if (rv != APR_SUCCESS) {
        child_store_pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00005) "cannot set up store connections in "
                                     "this child; requests needing the "
                                     "store will fail");
        return;
    }
    checkpoint_start(pchild, s, conf->store);
}

/* Before each read of the configuration. */
static int rus_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    all_identity_headers = all_export_headers = NULL;
    all_trusted = NULL;
    return OK;
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
    int from_session;         /* the identity came from the session cookie */
    int cookie_checked;       /* the Cookie header was looked at */
    const char *cookie_hash;  /* stored form of the valid session cookie */
    apr_int64_t cookie_user;  /* that session's user id, 0: none */
    rus_session_t sess;       /* that session, last_seen as it was before
                                 this request touched it */
    const void *cookie_checked_for; /* the configuration it was judged by */
    apr_array_header_t *valid;      /* hashes of every valid session the request
                                  came with (more than one: none is used);
                                  a login revokes them all */
    int minted;                     /* a new session was issued in this chain */
    const void *resolved_for;       /* the per-directory configuration under
                                  which the identity was last accepted */
    const char *header_raw;         /* the identity header as the client sent
                                  it (kept for an h2c upgrade) */
    int header_restored;            /* ... and put back for mod_http2 */
    const char *untrusted_name;     /* a RemoteUserHeader that an untrusted */
    rus_header_e untrusted_found;   /* peer sent, removed when the */
    const char *untrusted_offender; /* request was read, and how */
    const char *exported_user_header;   /* export headers set by the */
    const char *exported_groups_header; /* fixups, and on which request */
    const request_rec *exported_r;      /* and under which configuration */
    const void *exported_for;
    const char *source; /* "frontend", "header" or "session" */
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

static apr_int64_t now_sec(request_rec *r)
{
    return (apr_int64_t)apr_time_sec(r->request_time);
}

/* Per child: when a refused write was last logged as a warning. */
static apr_uint32_t gate_warned;

/* A store write refused because RemoteUserStoreMaxWriters of them are in
 * flight in this child: 503 at once, with Retry-After, logged here (a
 * warning at most once a second per child, the rest at debug level: a
 * flood must not turn into one of log lines). */
static int store_writes_full(request_rec *r, const char *what)
{
    apr_uint32_t now32 = (apr_uint32_t)now_sec(r);
    apr_uint32_t seen = apr_atomic_read32(&gate_warned);
    int level = APLOG_DEBUG;

    if (now32 != seen && apr_atomic_cas32(&gate_warned, now32, seen) == seen) {
        level = APLOG_WARNING;
    }
    ap_log_rerror(APLOG_MARK, level, 0, r,
                  RUSLOGNO(00095) "%s refused: %u store writes already in "
                                  "flight in this child "
                                  "(RemoteUserStoreMaxWriters): 503",
                  what, rus_gate_inside(&write_gate));
    apr_table_setn(r->err_headers_out, "Retry-After", "1");
    return HTTP_SERVICE_UNAVAILABLE;
}

/* Ask the store about a cleaned name. Returns OK with *res filled in, or
 * the HTTP status to answer with (the cause is logged here). */
static int store_resolve(request_rec *r, const rus_dir_conf *conf,
                         const char *clean, rus_resolution_t *res)
{
    apr_int64_t now = now_sec(r);
    rus_user_policy_t policy;
    rus_conn_t *conn = NULL;
    const char *msg = NULL, *key;
    apr_uint32_t ticket;
    apr_status_t rv;

    if (child_store_pool == NULL && store_refused) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00054) "the user store was refused at the "
                                      "last restart (RUS00052/RUS00053): "
                                      "503 until it is fixed and httpd "
                                      "restarted");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (child_store_pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00012) "RemoteUserEngine is On here but no "
                                      "store is available (is "
                                      "RemoteUserStore set?)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* A user seen moments ago, whose last_login needs no write yet, is
     * answered from the cache: the request never touches the store. */
    memset(res, 0, sizeof(*res));
    key = apr_pstrcat(r->pool, "u:", clean, NULL);
    if (rus_cache_get(child_cache, key, now, &res->user, NULL, r->pool)
        && res->user.last_login > 0
        && now - res->user.last_login < RUS_LOGIN_TOUCH_INTERVAL) {
        res->verdict = (res->user.is_active || FLAG(conf->allow_inactive, 0))
                           ? RUS_VERDICT_ACCEPT
                           : RUS_VERDICT_INACTIVE;
        res->touch_rv = APR_SUCCESS;
        return OK;
    }
    ticket = rus_cache_ticket(child_cache, key);
    rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RUSLOGNO(00009) "user store unavailable: %s", msg);
        return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                                : HTTP_INTERNAL_SERVER_ERROR;
    }
    policy.create_unknown = FLAG(conf->create_unknown, 1);
    policy.allow_inactive = FLAG(conf->allow_inactive, 0);
    policy.gate = &write_gate;
    rv = rus_user_resolve(res, conn, clean, &policy, now, r->pool);
    if (rv == RUS_GATE_EFULL) {
        rus_store_release(child_store_pool, conn);
        return store_writes_full(r, apr_pstrcat(r->pool, "creating user '",
                                                log_name(r, clean), "'", NULL));
    }
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
    if (res->verdict != RUS_VERDICT_UNKNOWN) {
        rus_cache_put(child_cache, key, now, ticket, &res->user, NULL);
    }
    rus_store_release(child_store_pool, conn);
    return OK;
}

/* The name cleaning this location asks for. */
static unsigned int clean_flags(const rus_dir_conf *conf)
{
    unsigned int flags = 0;

    if (FLAG(conf->strip_realm, 0)) {
        flags |= RUS_CLEAN_STRIP_REALM;
    }
    if (FLAG(conf->lowercase, 0)) {
        flags |= RUS_CLEAN_LOWERCASE;
    }
    return flags;
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
    unsigned int flags = clean_flags(conf);
    rus_resolution_t res;
    rus_name_error_e nerr;
    const char *clean = NULL;
    rus_req_state *st;
    apr_pool_t *keep;
    int status;

    st = req_state(r, 1);
    if (st->clean != NULL && st->flags == flags
        && strcmp(st->raw, r->user) == 0) {
        /* Resolved earlier in this request chain: only the policy of this
         * location remains to be applied. */
        if (!st->user.is_active && !FLAG(conf->allow_inactive, 0)) {
            return refuse_inactive(r, st->clean);
        }
        r->user = (char *)st->clean;
        st->resolved_for = r->per_dir_config;
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
    st->source =
        (st->header_value != NULL && strcmp(st->header_value, st->raw) == 0)
            ? "header"
            : "frontend";
    r->user = (char *)st->clean;
    st->resolved_for = r->per_dir_config;
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

/* The directory of a .htaccess file read for this request that may set
 * authentication (AllowOverride AuthConfig, or an AllowOverrideList), or
 * NULL. There the author of the file chooses the front end and its users
 * (their own AuthUserFile with an "admin" in it), so unless the virtual
 * host says RemoteUserTrustHtaccess On the module takes no identity. */
static const char *htaccess_auth_dir(request_rec *r)
{
    const struct htaccess_result *h;
    core_dir_config *core;
    int listed;

    if (FLAG(server_conf(r->server)->trust_htaccess, 0) == 1) {
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
            && ((h->override & OR_AUTHCFG) || listed)) {
            return h->dir;
        }
    }
    return NULL;
}

static int refuse_htaccess(request_rec *r, const char *dir)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  RUSLOGNO(00035) "refusing request: a .htaccess file in %s "
                                  "may set authentication here, and "
                                  "RemoteUserTrustHtaccess is Off",
                  dir);
    return HTTP_FORBIDDEN;
}

/* Is this request an error document (ErrorDocument, after a 401 or 403
 * for instance), or part of one? No session is minted in such a chain:
 * authentication or authorization failed somewhere in it. */
static int chain_failed(const request_rec *r)
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
static int rus_post_read_request(request_rec *r)
{
    const char *conn, *tok;
    rus_req_state *st;
    int i;

    if (all_identity_headers == NULL && all_export_headers == NULL) {
        return DECLINED;
    }
    conn = apr_table_get(r->headers_in, "Connection");
    if (conn != NULL) {
        char *list = apr_pstrdup(r->pool, conn), *last = NULL;

        /* every comma-separated item, white space around it cut, as
         * mod_proxy reads the header */
        for (tok = apr_strtok(list, ", \t", &last); tok != NULL;
             tok = apr_strtok(NULL, ", \t", &last)) {
            if (alike_any(all_identity_headers, tok)
                || alike_any(all_export_headers, tok)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              RUSLOGNO(00043) "refusing request whose "
                                              "Connection header names "
                                              "'%s', an identity or export "
                                              "header",
                              log_name(r, tok));
                return HTTP_BAD_REQUEST;
            }
        }
    }
    if (all_identity_headers != NULL
        && (all_trusted == NULL || !peer_trusted(r, all_trusted))) {
        for (i = 0; i < all_identity_headers->nelts; i++) {
            const char *name =
                APR_ARRAY_IDX(all_identity_headers, i, const char *);
            const char *raw = NULL, *offender = NULL;
            rus_header_e found;

            found = rus_header_find(r->headers_in, name, &raw, &offender);
            if (found == RUS_HEADER_ABSENT) {
                continue;
            }
            /* remembered, so that a section that takes this header still
             * answers as it would have (400 for a look-alike, 403 for
             * the untrusted peer), with its log line */
            st = req_state(r, 1);
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
static int rus_h2c_restore(request_rec *r)
{
    rus_req_state *st;

    if (!wants_h2c(r) || (st = req_state(r, 0)) == NULL
        || st->header_raw == NULL) {
        return DECLINED;
    }
    apr_table_setn(r->headers_in, st->header_name, st->header_raw);
    st->header_restored = 1;
    return DECLINED;
}

static int rus_h2c_rescrub(request_rec *r)
{
    rus_req_state *st = req_state(r, 0);

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
    st = req_state(r, 0);
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
    st->header_raw = apr_pstrdup(chain_root(r)->pool, raw);
    return OK;
}

/* ==================================================================== */
/* sessions                                                             */

/* Per child: when expired sessions were last purged (UNIX seconds). */
static apr_uint32_t last_purge;

/* The scope a session is bound to: RemoteUserSessionScope, or the virtual
 * host that issued it, by name and port (ServerName's port, else the port
 * the connection came in on), so that two virtual hosts with one
 * ServerName on :80 and :443 do not share sessions. */
static const char *vhost_key(request_rec *r)
{
    const rus_server_conf *sconf = server_conf(r->server);
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

/* A cookie name with the __Host- or __Secure- prefix (RFC 6265bis). */
static int cookie_prefixed(const char *name)
{
    return strncmp(name, "__Host-", 7) == 0
           || strncmp(name, "__Secure-", 9) == 0;
}

static int is_tls(request_rec *r)
{
    return strcmp(ap_http_scheme(r), "https") == 0;
}

static rus_cookie_attrs_t cookie_attrs(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t a;
    int secure = FLAG(conf->cookie_secure, SECURE_AUTO);

    a.name = conf->cookie_name ? conf->cookie_name : COOKIE_NAME_DEFAULT;
    a.path = conf->cookie_path ? conf->cookie_path : "/";
    a.domain = conf->cookie_domain;
    a.samesite = conf->samesite ? conf->samesite : "Lax";
    a.secure = secure == SECURE_ON || (secure == SECURE_AUTO && is_tls(r))
               || strcmp(a.samesite, "None") == 0 || cookie_prefixed(a.name);
    if (strncmp(a.name, "__Host-", 7) == 0) {
        /* What browsers accept for the prefix, whatever else is set. */
        a.path = "/";
        a.domain = NULL;
    }
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
static int session_store_failed(request_rec *r, apr_status_t rv,
                                const char *what, const char *msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                  RUSLOGNO(00023) "user store failed %s: %s", what, msg);
    return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                            : HTTP_INTERNAL_SERVER_ERROR;
}

/* A cookie that is not a session is no error: note it at debug level. */
static void cookie_ignored(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00022) "session cookie ignored: %s", why);
}

/* The stored forms (hashes) of the distinct well-formed tokens sent in
 * cookies of our name, in order, within RUS_COOKIE_HEADER_MAX. Malformed
 * values are skipped here, so junk cannot hide a real cookie. */
static apr_array_header_t *cookie_hashes(request_rec *r,
                                         const rus_cookie_attrs_t *attrs)
{
    const char *header = apr_table_get(r->headers_in, "Cookie");
    apr_array_header_t *hashes = apr_array_make(r->pool, 2, sizeof(char *));
    apr_hash_t *seen;
    const char **values;
    apr_size_t len;
    int i, n, max;

    len = header ? strlen(header) : 0;
    if (len == 0 || len > RUS_COOKIE_HEADER_MAX) {
        return hashes;
    }
    /* every cookie of ours takes at least "NAME=x" and a separator */
    max = (int)(len / (strlen(attrs->name) + 2)) + 1;
    values = apr_palloc(r->pool, sizeof(*values) * (apr_size_t)max);
    n = rus_cookie_values(header, attrs->name, values, max, r->pool);
    seen = n > 1 ? apr_hash_make(r->pool) : NULL;
    for (i = 0; i < n; i++) {
        const char *hash = NULL;

        if (rus_token_hash(&hash, values[i], r->pool) != APR_SUCCESS) {
            cookie_ignored(r, "malformed");
            continue;
        }
        if (seen == NULL) {
            APR_ARRAY_PUSH(hashes, const char *) = hash;
        }
        else if (apr_hash_get(seen, hash, APR_HASH_KEY_STRING) == NULL) {
            apr_hash_set(seen, hash, APR_HASH_KEY_STRING, hash);
            APR_ARRAY_PUSH(hashes, const char *) = hash;
        }
    }
    return hashes;
}

/* This location's limits on a session: MaxAge from created_at, idle. */
static rus_session_state_e session_state(request_rec *r,
                                         const rus_dir_conf *conf,
                                         const rus_session_t *sess)
{
    return rus_session_check(sess, vhost_key(r),
                             FLAG(conf->max_age, RUS_SESSION_MAX_AGE_DEFAULT),
                             FLAG(conf->idle_timeout, 0), now_sec(r));
}

/* A valid session found among the request's cookies. */
typedef struct candidate_t {
    const char *hash;
    rus_session_t sess;
    rus_user_t user;
    int cached;
    apr_uint32_t ticket;
} candidate_t;

/* Look at the session cookie(s) of this request once per chain. Exactly
 * one valid session is recorded in the request state (user row, hash);
 * malformed, unknown, expired, idle or foreign ones are simply not
 * sessions, and two different valid ones are none. Returns OK, or the
 * HTTP error to answer (store failure, inactive user). */
static int check_session_cookie(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    rus_req_state *st = req_state(r, 1);
    apr_pool_t *keep = chain_root(r)->pool;
    apr_int64_t idle = FLAG(conf->idle_timeout, 0), now = now_sec(r);
    apr_array_header_t *hashes, *found;
    const char *msg = NULL;
    rus_conn_t *conn = NULL;
    candidate_t *c;
    int i, status = OK;
    apr_status_t rv;

    if (st->cookie_checked) {
        return OK;
    }
    st->cookie_checked = 1;
    st->cookie_checked_for = r->per_dir_config;
    st->valid = apr_array_make(keep, 1, sizeof(char *));
    if (cookie_prefixed(attrs.name) && !is_tls(r)) {
        cookie_ignored(r, "a __Host-/__Secure- cookie over plain HTTP");
        return OK;
    }
    hashes = cookie_hashes(r, &attrs);
    if (hashes->nelts > RUS_COOKIE_CANDIDATES_MAX) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00036) "%d different session cookies in one "
                                      "request (at most %d are looked at): "
                                      "treated as no session",
                      hashes->nelts, RUS_COOKIE_CANDIDATES_MAX);
        return OK;
    }
    found = apr_array_make(r->pool, 1, sizeof(candidate_t));
    for (i = 0; i < hashes->nelts && status == OK; i++) {
        const char *hash = APR_ARRAY_IDX(hashes, i, const char *);
        rus_session_state_e state;

        c = apr_array_push(found);
        c->hash = hash;
        c->ticket = rus_cache_ticket(child_cache, hash);
        c->cached =
            rus_cache_get(child_cache, hash, now, &c->user, &c->sess, r->pool);
        state =
            c->cached ? session_state(r, conf, &c->sess) : RUS_SESSION_VALID;
        /* A store connection unless the session is fine from the cache. */
        if ((!c->cached || state != RUS_SESSION_VALID
             || (!c->user.is_active && !FLAG(conf->allow_inactive, 0)))
            && conn == NULL) {
            rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
            if (rv != APR_SUCCESS) {
                conn = NULL;
                status =
                    session_store_failed(r, rv, "looking up a session", msg);
                break;
            }
        }
        if (!c->cached) {
            rv = rus_session_find(conn, hash, &c->sess, &c->user, r->pool);
            if (APR_STATUS_IS_ENOENT(rv)) {
                cookie_ignored(r, "unknown or revoked");
                found->nelts--;
                continue;
            }
            if (rv != APR_SUCCESS) {
                status = session_store_failed(r, rv, "looking up a session",
                                              rus_store_error(conn));
                break;
            }
            state = session_state(r, conf, &c->sess);
        }
        if (rus_text_check(c->user.username, strlen(c->user.username))
            != RUS_NAME_OK) {
            /* Only a hand-edited store gets here; nothing from it goes
             * into r->user, headers or logs unchecked. */
            cookie_ignored(r, "the user name in the store is not clean");
            found->nelts--;
            continue;
        }
        if (state != RUS_SESSION_VALID) {
            cookie_ignored(r, rus_session_state_str(state));
            if ((state == RUS_SESSION_EXPIRED || state == RUS_SESSION_IDLE)
                && rus_session_dead(&c->sess, idle, now)
                && rus_gate_enter(&write_gate) == APR_SUCCESS) {
                /* dead for good, beyond a clock jump: tidy up now (the
                 * row first, then the cache, so no reader can put it
                 * back), unless writers are queueing; one just past its
                 * time is left to the purge */
                rus_session_revoke(conn, hash);
                rus_gate_leave(&write_gate);
                rus_cache_drop(child_cache, hash);
            }
            found->nelts--;
            continue;
        }
        if (!c->user.is_active && !FLAG(conf->allow_inactive, 0)) {
            /* Disabled: every session of the user ends now (refused
             * either way; with writers queueing, at a later request). */
            rv = APR_SUCCESS;
            if (rus_gate_enter(&write_gate) == APR_SUCCESS) {
                rv = rus_session_revoke_user(conn, c->user.id);
                rus_gate_leave(&write_gate);
            }
            rus_cache_drop(child_cache, hash);
            status = rv == APR_SUCCESS
                         ? refuse_inactive(r, c->user.username)
                         : session_store_failed(r, rv, "revoking sessions",
                                                rus_store_error(conn));
            break;
        }
        APR_ARRAY_PUSH(st->valid, const char *) = apr_pstrdup(keep, hash);
    }
    if (status == OK && found->nelts > 1) {
        candidate_t *a = &APR_ARRAY_IDX(found, 0, candidate_t);
        candidate_t *b = &APR_ARRAY_IDX(found, 1, candidate_t);

        /* A cookie planted from a sibling domain or over plain HTTP sits
         * next to the user's own: neither can be told from the other. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00037) "%d different valid sessions in one "
                                      "request (users '%s' and '%s'): "
                                      "treated as no session",
                      found->nelts, log_name(r, a->user.username),
                      log_name(r, b->user.username));
    }
    else if (status == OK && found->nelts == 1) {
        c = &APR_ARRAY_IDX(found, 0, candidate_t);
        st->sess = c->sess;
        /* last_seen is bookkeeping (and under IdleTimeout, written well
         * before it matters): with writers queueing it waits for a later
         * request rather than make this one wait. */
        if (rus_session_touch_due(&c->sess, idle, now)
            && rus_gate_enter(&write_gate) == APR_SUCCESS) {
            if (conn == NULL) {
                rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
                conn = rv == APR_SUCCESS ? conn : NULL;
            }
            rv = conn ? rus_session_touch(conn, c->hash, now) : APR_EGENERAL;
            rus_gate_leave(&write_gate);
            if (rv == APR_SUCCESS) {
                rus_session_touched(&c->sess, now);
                c->cached = 0; /* store the fresher copy */
            }
            else {
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                              RUSLOGNO(00028) "could not record session "
                                              "use: %s",
                              conn ? rus_store_error(conn) : msg);
            }
        }
        if (!c->cached) {
            rus_cache_put(child_cache, c->hash, now, c->ticket, &c->user,
                          &c->sess);
        }
        st->cookie_hash = APR_ARRAY_IDX(st->valid, 0, const char *);
        st->cookie_user = c->user.id;
        st->user = c->user;
        st->user.username = apr_pstrdup(keep, c->user.username);
        st->user.groups = apr_pstrdup(keep, c->user.groups);
        st->sess.vhost = apr_pstrdup(keep, c->sess.vhost);
    }
    rus_store_release(child_store_pool, conn);
    return status;
}

/* Take the identity from the recorded session: r->user, and the request
 * state that authorization and the fixups read. */
static void use_session(request_rec *r, const rus_dir_conf *conf)
{
    rus_req_state *st = req_state(r, 1);

    st->raw = st->user.username;
    st->clean = st->user.username;
    st->flags = clean_flags(conf);
    st->from_session = 1;
    st->source = "session";
    r->user = (char *)st->user.username;
    r->ap_auth_type = (char *)RUS_AUTH_TYPE;
}

/* Issue a new session for the resolved user of this request chain and
 * queue its cookie. Every valid session the request came with is revoked:
 * a login never adopts an incoming token. The user's oldest sessions
 * beyond RemoteUserSessionMaxPerUser go too. Returns OK or an HTTP
 * error. */
static int mint_session(request_rec *r, const rus_dir_conf *conf)
{
    rus_cookie_attrs_t attrs = cookie_attrs(r, conf);
    rus_req_state *st = req_state(r, 1);
    apr_int64_t max_age = FLAG(conf->max_age, RUS_SESSION_MAX_AGE_DEFAULT);
    apr_int64_t max_per_user = FLAG(conf->max_per_user, MAX_PER_USER_DEFAULT);
    apr_int64_t now = now_sec(r);
    const char *token = NULL, *hash = NULL, *msg = NULL;
    apr_uint32_t seen, now32 = (apr_uint32_t)now;
    apr_array_header_t *trimmed = NULL;
    rus_conn_t *conn = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i, purged = 0;

    if (cookie_prefixed(attrs.name) && !is_tls(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00038) "no session issued: cookie %s needs "
                                      "HTTPS, and this request came over "
                                      "plain HTTP",
                      attrs.name);
        return HTTP_FORBIDDEN;
    }
    rv = rus_token_new(&token, &hash, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RUSLOGNO(00024) "cannot draw a session token from the "
                                      "system random source");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Everything below writes: it holds a place in the gate throughout. */
    if (rus_gate_enter(&write_gate) != APR_SUCCESS) {
        return store_writes_full(r, "issuing a session");
    }
    rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        rus_gate_leave(&write_gate);
        return session_store_failed(r, rv, "creating a session", msg);
    }
    for (i = 0; st->valid != NULL && i < st->valid->nelts; i++) {
        rv = rus_session_revoke(conn, APR_ARRAY_IDX(st->valid, i, char *));
        if (rv != APR_SUCCESS) {
            break;
        }
        rus_cache_drop(child_cache, APR_ARRAY_IDX(st->valid, i, char *));
    }
    if (rv == APR_SUCCESS) {
        rv = rus_session_insert(conn, hash, st->user.id, vhost_key(r), now,
                                now + max_age);
    }
    if (rv == APR_SUCCESS && max_per_user > 0) {
        rv = rus_session_trim_user(conn, st->user.id, (int)max_per_user, hash,
                                   &trimmed, r->pool);
    }
    if (rv != APR_SUCCESS) {
        int status = session_store_failed(r, rv, "creating a session",
                                          rus_store_error(conn));

        rus_store_release(child_store_pool, conn);
        rus_gate_leave(&write_gate);
        return status;
    }
    for (i = 0; trimmed != NULL && i < trimmed->nelts; i++) {
        rus_cache_drop(child_cache, APR_ARRAY_IDX(trimmed, i, char *));
    }
    if (trimmed != NULL && trimmed->nelts > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      RUSLOGNO(00039) "revoked the %d oldest session(s) of "
                                      "user '%s': RemoteUserSessionMaxPerUser "
                                      "is %" APR_INT64_T_FMT,
                      trimmed->nelts, log_name(r, st->user.username),
                      max_per_user);
    }
    /* Housekeeping rides on logins, at most every PURGE_INTERVAL per
     * child: the cookie path itself never writes for it. */
    seen = apr_atomic_read32(&last_purge);
    if (now32 - seen >= PURGE_INTERVAL
        && apr_atomic_cas32(&last_purge, now32, seen) == seen) {
        if (rus_session_purge(conn, now, &purged) == APR_SUCCESS
            && purged > 0) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          RUSLOGNO(00029) "purged %d expired sessions", purged);
        }
    }
    rus_store_release(child_store_pool, conn);
    rus_gate_leave(&write_gate);

    add_cookie_header(r, rus_cookie_header(r->pool, &attrs, token, max_age));
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        RUSLOGNO(00025) "session issued for user '%s' (id %" APR_INT64_T_FMT
                        ")",
        log_name(r, st->user.username), st->user.id);
    st->cookie_hash = apr_pstrdup(chain_root(r)->pool, hash);
    st->cookie_user = st->user.id;
    st->valid = NULL;
    st->minted = 1;
    return OK;
}

/* Under AuthType RemoteUser without identity: send GET/HEAD to the login
 * URL with this request as next=, answer 401 otherwise. */
static int no_identity(request_rec *r, const rus_dir_conf *conf)
{
    const char *realm, *here, *sep;

    if (conf->login_url != NULL
        && (r->method_number == M_GET || r->header_only)) {
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
    realm = ap_auth_name(r) ? ap_auth_name(r) : RUS_AUTH_TYPE;
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, RUS_AUTH_TYPE " realm=\"",
                               ap_escape_quotes(r->pool, realm), "\"", NULL));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00021) "no identity for AuthType %s: 401",
                  RUS_AUTH_TYPE);
    return HTTP_UNAUTHORIZED;
}

/* Authentication, first in line: the trusted header (when configured)
 * wins over the location's front end; without one, AuthType RemoteUser
 * answers 401 and any other AuthType is left to its module. */
static int rus_check_authn(request_rec *r)
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
    if (FLAG(conf->session, 0) == 1 && child_store_pool != NULL) {
        /* Looked at even when the header named the user: a login as
         * someone else must end the session the request came with. */
        cookie_status = check_session_cookie(r, conf);
        if (cookie_status != OK) {
            return cookie_status;
        }
        st = req_state(r, 1);
        /* The session was looked at once for the chain, under the first
         * location's limits; every location it enters (an ErrorDocument,
         * a subrequest) holds it to its own MaxAge and IdleTimeout, with
         * last_seen as it was before this request. */
        state = st->cookie_hash != NULL && !st->minted
                        && st->cookie_checked_for != r->per_dir_config
                    ? session_state(r, conf, &st->sess)
                    : RUS_SESSION_VALID;
        if (state != RUS_SESSION_VALID) {
            cookie_ignored(r, rus_session_state_str(state));
        }
        /* Credentials for another AuthType in the request itself (the
         * browser answered that front end's challenge): let the front end
         * authenticate, the fixups compare the two identities. */
        if (status == DECLINED && st->cookie_hash != NULL
            && state == RUS_SESSION_VALID
            && (is_our_auth_type(r)
                || apr_table_get(r->headers_in, "Authorization") == NULL)) {
            use_session(r, conf);
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
static int rus_check_authz(request_rec *r)
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
 * headers of this location; with @identity_too, of RemoteUserHeader too
 * (only after authentication has read it). */
static void scrub_headers(request_rec *r, const rus_dir_conf *conf,
                          int identity_too)
{
    if (identity_too && conf->header != NULL) {
        rus_header_remove_alike(r->headers_in, conf->header);
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
}

/* Early, on the main request, before anything (a 401 or 403 page, a
 * module that answers the request itself) can pass the client's copies of
 * the export headers on. */
static int rus_header_parser(request_rec *r)
{
    scrub_headers(r,
                  ap_get_module_config(r->per_dir_config,
                                       &remoteuser_session_module),
                  0);
    return DECLINED;
}

/* The resolved identity, for CGI/SSI/FastCGI/log formats and, where
 * configured, as request headers for proxied applications. */
static void export_identity(request_rec *r, const rus_dir_conf *conf,
                            rus_req_state *st)
{
    const char *groups = st->user.groups ? st->user.groups : "";

    if (rus_text_check(groups, strlen(groups)) != RUS_NAME_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00031) "group names of user '%s' in the "
                                      "store hold control characters or "
                                      "invalid UTF-8: not exported",
                      log_name(r, st->clean));
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
    if (conf->user_header != NULL) {
        apr_table_setn(r->headers_in, conf->user_header, st->clean);
    }
    if (conf->groups_header != NULL) {
        apr_table_setn(r->headers_in, conf->groups_header, groups);
    }
    st->exported_user_header = conf->user_header;
    st->exported_groups_header = conf->groups_header;
    st->exported_r = r;
    st->exported_for = r->per_dir_config;
}

/* What export_identity() set, gone: the section in force did not
 * authenticate this identity. */
static void unexport_identity(request_rec *r, rus_req_state *st)
{
    static const char *const vars[] = { "REMOTE_USER_ID", "REMOTE_USER_GROUPS",
                                        "REMOTE_USER_SOURCE",
                                        "REMOTE_USER_CREATED" };
    apr_size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        apr_table_unset(r->subprocess_env, vars[i]);
    }
    if (st != NULL && st->exported_user_header != NULL) {
        rus_header_remove_alike(r->headers_in, st->exported_user_header);
    }
    if (st != NULL && st->exported_groups_header != NULL) {
        rus_header_remove_alike(r->headers_in, st->exported_groups_header);
    }
}

#define PRIVATE_FILTER "REMOTEUSER_PRIVATE"

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
static apr_status_t private_filter(ap_filter_t *f, apr_bucket_brigade *bb)
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
static void mark_private(request_rec *r)
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
static int rus_fixups(request_rec *r)
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
    st = req_state(r, 0);
    if (st == NULL || st->clean == NULL || strcmp(st->clean, r->user) != 0) {
        return DECLINED;
    }
    export_identity(r, conf, st);
    mark_private(r);
    /* Persistent sessions (Django's PersistentRemoteUserMiddleware): an
     * identity from the front end or the header gets a session, unless
     * the request already holds a valid one for the same user. The login
     * handler issues its own, always fresh. Never in an error document:
     * its chain began with a refusal. */
    if (FLAG(conf->session, 0) == 1 && r->main == NULL && !st->from_session
        && !st->minted && st->cookie_user != st->user.id
        && (r->handler == NULL || strcmp(r->handler, LOGIN_HANDLER) != 0)
        && !chain_failed(r)) {
        int status = mint_session(r, conf);

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
static int rus_fixups_final(request_rec *r)
{
    const rus_dir_conf *conf =
        ap_get_module_config(r->per_dir_config, &remoteuser_session_module);
    rus_req_state *st = req_state(r, 0);
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
    mark_private(r);
    return DECLINED;
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
                          log_name(r, next), fallback);
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
static rus_site_e request_site(request_rec *r)
{
    unsigned int port = r->parsed_uri.port_str ? r->parsed_uri.port : 0;

    return rus_request_site(apr_table_get(r->headers_in, "Sec-Fetch-Site"),
                            apr_table_get(r->headers_in, "Origin"),
                            ap_http_scheme(r), r->hostname, port);
}

/* The two headers for a log line, bounded. */
static const char *site_headers(request_rec *r)
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
                  LOGIN_HANDLER, log_name(r, user), site_headers(r));
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
    rus_req_state *st = req_state(r, 0);
    int status;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->user == NULL || st == NULL || st->clean == NULL
        || strcmp(st->clean, r->user) != 0 || child_store_pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00027) "%s reached without a user resolved "
                                      "by this module: its location needs "
                                      "an AuthType, Require valid-user and "
                                      "RemoteUserEngine On",
                      LOGIN_HANDLER);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (chain_failed(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00042) "%s reached as an error document "
                                      "(authentication or authorization "
                                      "failed first): no session issued",
                      LOGIN_HANDLER);
        return HTTP_FORBIDDEN;
    }
    if (FLAG(conf->session, 0) != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00040) "%s where RemoteUserSession is not On: "
                                      "no session issued",
                      LOGIN_HANDLER);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_discard_request_body(r);
    mark_private(r);
    if (!st->from_session) {
        if (request_site(r) == RUS_SITE_CROSS) {
            return refuse_cross_site_login(r, st->clean);
        }
        status = mint_session(r, conf);
        if (status != OK) {
            return status;
        }
    }
    return redirect_next(r, conf->login_redirect ? conf->login_redirect : "/");
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
    int allow_get = FLAG(conf->logout_allow_get, 0) == 1;
    apr_array_header_t *hashes;
    rus_conn_t *conn = NULL;
    const char *msg = NULL, *one = NULL;
    int i, revoked = 0;
    rus_site_e site;
    apr_status_t rv;

    if (r->method_number != M_POST
        && !(allow_get && r->method_number == M_GET)) {
        r->allowed = AP_METHOD_BIT << M_POST;
        if (allow_get) {
            r->allowed |= AP_METHOD_BIT << M_GET;
        }
        return HTTP_METHOD_NOT_ALLOWED;
    }
    site = request_site(r);
    if (site == RUS_SITE_CROSS
        || (r->method_number == M_POST && site != RUS_SITE_SAME_ORIGIN
            && site != RUS_SITE_UNKNOWN)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00081) "%s refused: this %s is not "
                                      "same-origin (%s); nothing revoked",
                      LOGOUT_HANDLER, r->method, site_headers(r));
        return HTTP_FORBIDDEN;
    }
    ap_discard_request_body(r);
    /* Every well-formed token sent, however many (within the Cookie
     * header's size limit): a planted cookie next to the user's own must
     * not leave the user's session alive. */
    hashes = cookie_hashes(r, &attrs);
    if (hashes->nelts > 0) {
        if (child_store_pool == NULL && store_refused) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          RUSLOGNO(00055) "%s cannot revoke sessions: the "
                                          "user store was refused at the "
                                          "last restart",
                          LOGOUT_HANDLER);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        if (child_store_pool == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          RUSLOGNO(00033) "%s needs a RemoteUserStore to "
                                          "revoke sessions in",
                          LOGOUT_HANDLER);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = rus_store_acquire(&conn, child_store_pool, r->pool, &msg);
        if (rv != APR_SUCCESS) {
            return session_store_failed(r, rv, "revoking a session", msg);
        }
    }
    for (i = 0; i < hashes->nelts; i++) {
        const char *hash = APR_ARRAY_IDX(hashes, i, const char *);

        /* The row first, then the cache: a request that read the row
         * before the delete cannot put it back after the drop. */
        rv = rus_session_revoke(conn, hash);
        if (rv != APR_SUCCESS) {
            int status = session_store_failed(r, rv, "revoking a session",
                                              rus_store_error(conn));

            rus_store_release(child_store_pool, conn);
            return status;
        }
        rus_cache_drop(child_cache, hash);
        revoked++;
    }
    rus_store_release(child_store_pool, conn);
    if (rus_cookie_values(apr_table_get(r->headers_in, "Cookie"), attrs.name,
                          &one, 1, r->pool)
        > 0) {
        add_cookie_header(r, rus_cookie_header(r->pool, &attrs, NULL, 0));
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  RUSLOGNO(00026) "logout: %d session cookie(s) revoked",
                  revoked);
    return redirect_next(r,
                         conf->logout_redirect ? conf->logout_redirect : "/");
}

/* The login and logout handlers answer main requests only: in a
 * subrequest (an SSI include, mod_rewrite's lookahead) a session minted
 * would never reach the browser and a revoked one would end the page's
 * own session. */
static int rus_handler(request_rec *r)
{
    if (r->handler == NULL) {
        return DECLINED;
    }
    if (r->main != NULL
        && (strcmp(r->handler, LOGIN_HANDLER) == 0
            || strcmp(r->handler, LOGOUT_HANDLER) == 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00082) "%s declined in a subrequest (%s)",
                      r->handler, log_name(r, r->unparsed_uri));
        return DECLINED;
    }
    if (strcmp(r->handler, LOGIN_HANDLER) == 0) {
        return login_handler(r);
    }
    if (strcmp(r->handler, LOGOUT_HANDLER) == 0) {
        return logout_handler(r);
    }
    return DECLINED;
}

/* ==================================================================== */
/* Require remoteuser-group NAME...                                     */

/* Is @name one of the comma-separated @list? */
static int in_list(const char *list, const char *name)
{
    apr_size_t n = strlen(name);
    const char *c = list;

    while (c != NULL && *c) {
        const char *end = strchr(c, ',');
        apr_size_t len = end ? (apr_size_t)(end - c) : strlen(c);

        if (len == n && strncmp(c, name, n) == 0) {
            return 1;
        }
        c = end ? end + 1 : NULL;
    }
    return 0;
}

/* Parse the group names once, at configuration time. */
static const char *group_parse(cmd_parms *cmd, const char *args,
                               const void **parsed)
{
    apr_array_header_t *names = apr_array_make(cmd->pool, 4, sizeof(char *));
    const char *line = args, *word;

    while (*(word = ap_getword_conf(cmd->pool, &line)) != '\0') {
        if (!rus_group_name_valid(word)) {
            return apr_psprintf(cmd->pool,
                                "Require remoteuser-group: '%s' is not a "
                                "group name",
                                word);
        }
        APR_ARRAY_PUSH(names, const char *) = word;
    }
    if (names->nelts == 0) {
        return "Require remoteuser-group needs at least one group name";
    }
    *parsed = names;
    return NULL;
}

/* Grant when the resolved user belongs to any listed group. The groups
 * came with the user from the store: no further query here. */
static authz_status group_check(request_rec *r, const char *require_args,
                                const void *parsed)
{
    const apr_array_header_t *names = parsed;
    rus_req_state *st;
    int i;

    (void)require_args;
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    st = req_state(r, 0);
    if (st == NULL || st->clean == NULL || strcmp(st->clean, r->user) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00032) "Require remoteuser-group needs the "
                                      "user resolved by this module: set "
                                      "RemoteUserEngine On here");
        return AUTHZ_GENERAL_ERROR;
    }
    for (i = 0; i < names->nelts; i++) {
        if (in_list(st->user.groups, APR_ARRAY_IDX(names, i, const char *))) {
            return AUTHZ_GRANTED;
        }
    }
    return AUTHZ_DENIED;
}

static const authz_provider group_provider = {
    &group_check,
    &group_parse,
};

static const char *const handler_succ[] = { "mod_proxy.c", NULL };
static const char *const core_module_name[] = { "core.c", NULL };

static void rus_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Strip client copies of our headers as early as per-dir config
     * allows. */
    ap_hook_header_parser(rus_header_parser, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_pre_config(rus_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(rus_post_read_request, NULL, NULL,
                              APR_HOOK_FIRST);
    /* around core's Upgrade handler (h2c) */
    ap_hook_handler(rus_h2c_restore, NULL, core_module_name,
                    APR_HOOK_REALLY_FIRST);
    ap_hook_handler(rus_h2c_rescrub, core_module_name, NULL,
                    APR_HOOK_REALLY_FIRST);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "remoteuser-group",
                              AUTHZ_PROVIDER_VERSION, &group_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    /* Check the store under configtest too, where post_config never runs. */
    ap_hook_check_config(rus_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* -t -D DUMP_REMOTEUSER_STORE, after check_config built the store. */
    ap_hook_test_config(rus_test_config, NULL, NULL, APR_HOOK_MIDDLE);
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
    /* After mod_dir's and mod_negotiation's fast redirects. */
    ap_hook_fixups(rus_fixups_final, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_register_output_filter(PRIVATE_FILTER, private_filter, NULL,
                              AP_FTYPE_CONTENT_SET + 5);
    /* remoteuser-login and remoteuser-logout, by handler name, and before
     * mod_proxy: its handler serves any request ProxyPass mapped, whatever
     * SetHandler said, so a ProxyPass covering the login or logout URL
     * would send them to the back end: no login, no revocation
     * (CVE-2019-3878 class). */
    ap_hook_handler(rus_handler, NULL, handler_succ, APR_HOOK_REALLY_FIRST);
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
