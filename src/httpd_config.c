/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The directives: command table, create and merge, setters. */

#include <apr_lib.h>
#include <apr_strings.h>

#include "rus_header.h"
#include "rus_net.h"
#include "rus_profile.h"
#include "rus_redirect.h"
#include "rus_session.h"
#include "rus_store.h"

#include "httpd_private.h"

/* ==================================================================== */
/* defaults, create, merge                                              */

/* What every setting is where no section set it: the one place a default
 * is written (mod_md's defconf). Read through the getters below, never
 * directly. NULL pointers have no default (not set: not used). */
static const rus_dir_conf dir_defaults = {
    .engine = 0,
    .create_unknown = 1,
    .allow_inactive = 0,
    .strip_realm = 0,
    .lowercase = 0,
    .session = 0,
    .cookie_name = COOKIE_NAME_DEFAULT,
    .cookie_path = "/",
    .cookie_secure = RUS_COOKIE_SECURE_AUTO,
    .samesite = "Lax",
    .max_age = RUS_SESSION_MAX_AGE_DEFAULT,
    .idle_timeout = 0,
    .max_per_user = MAX_PER_USER_DEFAULT,
    .login_redirect = "/",
    .logout_redirect = "/",
    .logout_allow_get = 0,
    .unauth_action = RUS_UNAUTH_AUTO,
    .attr_sync = 1,   /* RemoteUserAttributeSync Login */
    .groups_sync = 1, /* RemoteUserGroupsSync Replace */
};

/* The server settings' defaults. busy_timeout_ms and max_writers have
 * none here: UNSET leaves them to the store's options and to the number
 * of threads (write_gate_init). */
static const rus_server_conf server_defaults = {
    .busy_timeout_ms = UNSET,
    .max_writers = UNSET,
    .cache_ttl = CACHE_TTL_DEFAULT,
    .purge_interval = PURGE_INTERVAL_DEFAULT,
    .trust_htaccess = 0,
};

#define DIR_GET(conf, f)     ((conf)->f != UNSET ? (conf)->f : dir_defaults.f)
#define DIR_GET_STR(conf, f) ((conf)->f != NULL ? (conf)->f : dir_defaults.f)
#define SERVER_GET(conf, f)  ((conf)->f != UNSET ? (conf)->f : server_defaults.f)

int rus_conf_engine(const rus_dir_conf *conf)
{
    return DIR_GET(conf, engine);
}

int rus_conf_create_unknown(const rus_dir_conf *conf)
{
    return DIR_GET(conf, create_unknown);
}

int rus_conf_allow_inactive(const rus_dir_conf *conf)
{
    return DIR_GET(conf, allow_inactive);
}

int rus_conf_strip_realm(const rus_dir_conf *conf)
{
    return DIR_GET(conf, strip_realm);
}

int rus_conf_lowercase(const rus_dir_conf *conf)
{
    return DIR_GET(conf, lowercase);
}

int rus_conf_session(const rus_dir_conf *conf)
{
    return DIR_GET(conf, session);
}

const char *rus_conf_cookie_name(const rus_dir_conf *conf)
{
    return DIR_GET_STR(conf, cookie_name);
}

const char *rus_conf_cookie_path(const rus_dir_conf *conf)
{
    return DIR_GET_STR(conf, cookie_path);
}

int rus_conf_cookie_secure(const rus_dir_conf *conf)
{
    return DIR_GET(conf, cookie_secure);
}

const char *rus_conf_samesite(const rus_dir_conf *conf)
{
    return DIR_GET_STR(conf, samesite);
}

apr_int64_t rus_conf_max_age(const rus_dir_conf *conf)
{
    return DIR_GET(conf, max_age);
}

apr_int64_t rus_conf_idle_timeout(const rus_dir_conf *conf)
{
    return DIR_GET(conf, idle_timeout);
}

apr_int64_t rus_conf_max_per_user(const rus_dir_conf *conf)
{
    return DIR_GET(conf, max_per_user);
}

const char *rus_conf_login_redirect(const rus_dir_conf *conf)
{
    return DIR_GET_STR(conf, login_redirect);
}

const char *rus_conf_logout_redirect(const rus_dir_conf *conf)
{
    return DIR_GET_STR(conf, logout_redirect);
}

int rus_conf_logout_allow_get(const rus_dir_conf *conf)
{
    return DIR_GET(conf, logout_allow_get);
}

int rus_conf_unauth_action(const rus_dir_conf *conf)
{
    return DIR_GET(conf, unauth_action);
}

int rus_conf_attr_sync(const rus_dir_conf *conf)
{
    return DIR_GET(conf, attr_sync);
}

int rus_conf_groups_sync(const rus_dir_conf *conf)
{
    return DIR_GET(conf, groups_sync);
}

int rus_conf_cache_ttl(const rus_server_conf *conf)
{
    return SERVER_GET(conf, cache_ttl);
}

int rus_conf_purge_interval(const rus_server_conf *conf)
{
    return SERVER_GET(conf, purge_interval);
}

int rus_conf_trust_htaccess(const rus_server_conf *conf)
{
    return SERVER_GET(conf, trust_htaccess);
}

/* Zeroed, so that a pointer not set is NULL ("not set here"); every
 * number and flag starts UNSET, so that merging can tell "not said here"
 * from "said Off here". */
void *rus_httpd_create_dir_conf(apr_pool_t *p, char *dir)
{
    rus_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

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
    conf->unauth_action = UNSET;
    conf->user_header = NULL;
    conf->groups_header = NULL;
    conf->attributes = NULL;
    conf->attr_sync = UNSET;
    conf->groups_from = NULL;
    conf->groups_sync = UNSET;
    conf->group_maps = NULL;
    conf->attr_headers = NULL;
    return conf;
}

/* The merge helpers, one per kind: the inner section's value when it set
 * one, else the outer's. */
static int merge_int(int base, int add)
{
    return add != UNSET ? add : base;
}

static apr_int64_t merge_int64(apr_int64_t base, apr_int64_t add)
{
    return add != UNSET ? add : base;
}

static const char *merge_str(const char *base, const char *add)
{
    return add != NULL ? add : base;
}

static void *merge_ptr(void *base, void *add)
{
    return add != NULL ? add : base;
}

/* An inner section inherits whatever it does not set itself. */
void *rus_httpd_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    rus_dir_conf *base = basev, *add = addv;
    rus_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->engine = merge_int(base->engine, add->engine);
    conf->create_unknown = merge_int(base->create_unknown, add->create_unknown);
    conf->allow_inactive = merge_int(base->allow_inactive, add->allow_inactive);
    conf->strip_realm = merge_int(base->strip_realm, add->strip_realm);
    conf->lowercase = merge_int(base->lowercase, add->lowercase);
    conf->header = merge_str(base->header, add->header);
    /* A section that lists trusted peers replaces the outer list: the
     * list in force is always one that is written down in one place. */
    conf->trusted = merge_ptr(base->trusted, add->trusted);
    conf->session = merge_int(base->session, add->session);
    conf->cookie_name = merge_str(base->cookie_name, add->cookie_name);
    conf->cookie_path = merge_str(base->cookie_path, add->cookie_path);
    conf->cookie_domain = merge_str(base->cookie_domain, add->cookie_domain);
    conf->cookie_secure = merge_int(base->cookie_secure, add->cookie_secure);
    conf->samesite = merge_str(base->samesite, add->samesite);
    conf->max_age = merge_int64(base->max_age, add->max_age);
    conf->idle_timeout = merge_int64(base->idle_timeout, add->idle_timeout);
    conf->max_per_user = merge_int64(base->max_per_user, add->max_per_user);
    conf->login_url = merge_str(base->login_url, add->login_url);
    conf->login_redirect = merge_str(base->login_redirect, add->login_redirect);
    conf->logout_redirect =
        merge_str(base->logout_redirect, add->logout_redirect);
    conf->logout_allow_get =
        merge_int(base->logout_allow_get, add->logout_allow_get);
    conf->unauth_action = merge_int(base->unauth_action, add->unauth_action);
    conf->user_header = merge_str(base->user_header, add->user_header);
    conf->groups_header = merge_str(base->groups_header, add->groups_header);
    /* Lists as the trusted peers: the inner section's replaces the outer
     * one, so that what applies is written down in one place. */
    conf->attributes = merge_ptr(base->attributes, add->attributes);
    conf->attr_sync = merge_int(base->attr_sync, add->attr_sync);
    conf->groups_from = add->groups_from ? add->groups_from : base->groups_from;
    conf->groups_sync = merge_int(base->groups_sync, add->groups_sync);
    conf->group_maps = merge_ptr(base->group_maps, add->group_maps);
    conf->attr_headers = merge_ptr(base->attr_headers, add->attr_headers);
    return conf;
}

void *rus_httpd_create_server_conf(apr_pool_t *p, server_rec *s)
{
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->store_spec = NULL;
    conf->store_file = NULL;
    conf->store_line = 0;
    conf->busy_timeout_ms = UNSET;
    conf->max_writers = UNSET;
    conf->cache_ttl = UNSET;
    conf->purge_interval = UNSET;
    conf->store = NULL;
    conf->trust_htaccess = UNSET;
    conf->session_scope = NULL;
    conf->metrics = NULL; /* rus_httpd_metrics_init(), at post_config */
    return conf;
}

void *rus_httpd_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    rus_server_conf *base = basev, *add = addv;
    rus_server_conf *conf = apr_pcalloc(p, sizeof(*conf));
    /* The three RemoteUserStore fields go together. */
    const rus_server_conf *store_from = add->store_spec ? add : base;

    conf->store_spec = store_from->store_spec;
    conf->store_file = store_from->store_file;
    conf->store_line = store_from->store_line;
    conf->busy_timeout_ms =
        merge_int(base->busy_timeout_ms, add->busy_timeout_ms);
    conf->max_writers = merge_int(base->max_writers, add->max_writers);
    conf->store = merge_ptr(base->store, add->store);
    conf->cache_ttl = merge_int(base->cache_ttl, add->cache_ttl);
    conf->purge_interval = merge_int(base->purge_interval, add->purge_interval);
    conf->trust_htaccess = merge_int(base->trust_htaccess, add->trust_htaccess);
    conf->session_scope = merge_str(base->session_scope, add->session_scope);
    conf->metrics = NULL; /* each server its own, by name, at post_config */
    return conf;
}

rus_server_conf *rus_httpd_server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &remoteuser_session_module);
}

static void note(cmd_parms *cmd, const char *arg);

/* RemoteUserStore SCHEME:LOCATION: checked for form here, so a typo is
 * reported with its line number; opened at startup. */
static const char *set_store(cmd_parms *cmd, void *dummy, const char *arg)
{
    rus_server_conf *conf = rus_httpd_server_conf(cmd->server);
    const char *err, *msg = NULL;
    rus_store_t *store;

    (void)dummy;
    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }
    if (rus_store_create(&store, cmd->pool, arg, ap_server_root, NULL, &msg)
        != APR_SUCCESS) {
        /* @a arg masked: it may hold a password. */
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->directive->directive,
                            rus_store_spec_describe(cmd->pool, arg), msg);
    }
    /* The last RemoteUserStore wins; remoteuser-admin --config shows
     * which one it was (DUMP_REMOTEUSER_STORE). */
    conf->store_spec = arg;
    conf->store_file = cmd->directive->filename;
    conf->store_line = cmd->directive->line_num;
    note(cmd, arg);
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
        *(int *)((char *)rus_httpd_server_conf(cmd->server)
                 + (apr_size_t)cmd->info) = (int)v;
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

rus_httpd_seen_t rus_httpd_seen;

static void remember(apr_array_header_t **parr, apr_pool_t *p, const void *elt,
                     int size)
{
    if (*parr == NULL) {
        *parr = apr_array_make(p, 4, size);
    }
    memcpy(apr_array_push(*parr), elt, (apr_size_t)size);
}

/* Note the directive being read for DUMP_REMOTEUSER_STORE. */
static void note(cmd_parms *cmd, const char *arg)
{
    rus_httpd_noted_t n;

    n.directive = cmd->cmd->name;
    n.arg = arg;
    n.file = cmd->directive->filename;
    n.line = cmd->directive->line_num;
    remember(&rus_httpd_seen.noted, cmd->pool, &n, (int)sizeof(n));
}

/* RemoteUserStripRealm, RemoteUserLowercase: a flag at the offset in
 * cmd->info; where it is On, noted. */
static const char *set_name_flag(cmd_parms *cmd, void *dconf, int on)
{
    const char *err = ap_set_flag_slot(cmd, dconf, on);

    if (err == NULL && on) {
        note(cmd, "On");
    }
    return err;
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
    if (arg[0] == '\0') {
        return apr_psprintf(cmd->pool, "%s needs a header name",
                            cmd->directive->directive);
    }
    if (!rus_http_token_valid(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a header name",
                            cmd->directive->directive, arg);
    }
    *(const char **)((char *)dconf + (apr_size_t)cmd->info) = arg;
    remember((apr_size_t)cmd->info == APR_OFFSETOF(rus_dir_conf, header)
                 ? &rus_httpd_seen.identity_headers
                 : &rus_httpd_seen.export_headers,
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
    remember(&rus_httpd_seen.trusted, cmd->pool, &cidr, (int)sizeof(cidr));
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
        conf->cookie_secure = RUS_COOKIE_SECURE_AUTO;
    }
    else if (strcasecmp(arg, "on") == 0) {
        conf->cookie_secure = RUS_COOKIE_SECURE_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->cookie_secure = RUS_COOKIE_SECURE_OFF;
    }
    else {
        return apr_psprintf(cmd->pool, "%s takes Auto, On or Off",
                            cmd->directive->directive);
    }
    return NULL;
}

/* RemoteUserUnauthenticatedAction Redirect|401|Auto. */
static const char *set_unauth_action(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    rus_dir_conf *conf = dconf;

    if (strcasecmp(arg, "auto") == 0) {
        conf->unauth_action = RUS_UNAUTH_AUTO;
    }
    else if (strcasecmp(arg, "redirect") == 0) {
        conf->unauth_action = RUS_UNAUTH_REDIRECT;
    }
    else if (strcmp(arg, "401") == 0) {
        conf->unauth_action = RUS_UNAUTH_401;
    }
    else {
        return apr_psprintf(cmd->pool, "%s takes Redirect, 401 or Auto",
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
        && rus_conf_trust_htaccess(rus_httpd_server_conf(cmd->server)) != 1) {
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
    rus_httpd_server_conf(cmd->server)->trust_htaccess = on;
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
    rus_httpd_server_conf(cmd->server)->session_scope = arg;
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

/* RemoteUserSessionPurgeInterval SECONDS (0: never) */
static const char *set_purge_interval(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    (void)dummy;
    return set_global_number(cmd, arg, 86400, "seconds (0: never)");
}

/* SOURCE of RemoteUserAttribute and RemoteUserGroupsFrom: env:VAR or
 * header:NAME, VAR and NAME RFC 9110 tokens; with @a iterate_ok, env:VAR_N
 * is the iteration over VAR_0, VAR_1, ... */
static const char *parse_source(cmd_parms *cmd, const char *arg, int iterate_ok,
                                rus_httpd_source_t *src)
{
    const char *name;
    apr_size_t n;

    memset(src, 0, sizeof(*src));
    src->spec = arg;
    if (strncasecmp(arg, "env:", 4) == 0) {
        name = arg + 4;
    }
    else if (strncasecmp(arg, "header:", 7) == 0) {
        name = arg + 7;
        src->header = 1;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a source (env:VARIABLE or "
                            "header:NAME)",
                            cmd->directive->directive, arg);
    }
    if (!rus_http_token_valid(name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a %s name",
                            cmd->directive->directive, name,
                            src->header ? "header" : "variable");
    }
    n = strlen(name);
    if (iterate_ok && !src->header && n > 2
        && strcmp(name + n - 2, "_N") == 0) {
        src->iterate = 1;
        name = apr_pstrmemdup(cmd->pool, name, n - 1); /* "VAR_" */
    }
    src->name = name;
    return NULL;
}

/* An attribute NAME of RemoteUserAttribute and RemoteUserAttributeHeader:
 * email, first_name, last_name, or another [a-z][a-z0-9_]{0,31}. */
static const char *check_attr_name(cmd_parms *cmd, const char *name)
{
    if (!rus_attr_name_valid(name)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an attribute name (email, "
                            "first_name, last_name, or a lower-case "
                            "letter followed by at most 31 lower-case "
                            "letters, digits or '_')",
                            cmd->directive->directive, name);
    }
    return NULL;
}

/* RemoteUserAttribute NAME SOURCE, one per NAME in a section. */
static const char *add_attribute(cmd_parms *cmd, void *dconf, const char *name,
                                 const char *source)
{
    rus_dir_conf *conf = dconf;
    rus_httpd_attr_source_t a;
    const char *err = check_attr_name(cmd, name);
    int i;

    if (err == NULL) {
        err = parse_source(cmd, source, 0, &a.src);
    }
    if (err != NULL) {
        return err;
    }
    if (conf->attributes == NULL) {
        conf->attributes =
            apr_array_make(cmd->pool, 4, sizeof(rus_httpd_attr_source_t));
    }
    for (i = 0; i < conf->attributes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(conf->attributes, i, rus_httpd_attr_source_t)
                       .name,
                   name)
            == 0) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' has a source in this section "
                                "already",
                                cmd->directive->directive, name);
        }
    }
    a.name = name;
    APR_ARRAY_PUSH(conf->attributes, rus_httpd_attr_source_t) = a;
    return NULL;
}

/* RemoteUserGroupsFrom SOURCE [SEPARATOR] (httpd passes an empty
 * SEPARATOR as none: the default) */
static const char *set_groups_from(cmd_parms *cmd, void *dconf,
                                   const char *source, const char *sep)
{
    rus_httpd_source_t *src = apr_palloc(cmd->pool, sizeof(*src));
    const char *err = parse_source(cmd, source, 1, src);

    if (err != NULL) {
        return err;
    }
    if (sep != NULL && src->iterate) {
        return apr_psprintf(cmd->pool,
                            "%s: %s names one group per variable (%s0, "
                            "%s1, ...): it takes no separator",
                            cmd->directive->directive, source, src->name,
                            src->name);
    }
    src->sep = sep != NULL ? sep : ",";
    ((rus_dir_conf *)dconf)->groups_from = src;
    return NULL;
}

/* RemoteUserAttributeSync Create|Login, RemoteUserGroupsSync Add|Replace:
 * Login and Replace set 1, Create and Add 0. */
static const char *set_sync(cmd_parms *cmd, void *dconf, const char *arg)
{
    rus_dir_conf *conf = dconf;
    int login = strcmp(cmd->cmd->name, "RemoteUserAttributeSync") == 0;
    const char *zero = login ? "Create" : "Add";
    const char *one = login ? "Login" : "Replace";
    int *slot = login ? &conf->attr_sync : &conf->groups_sync;

    if (strcasecmp(arg, zero) == 0) {
        *slot = 0;
    }
    else if (strcasecmp(arg, one) == 0) {
        *slot = 1;
    }
    else {
        return apr_psprintf(cmd->pool, "%s takes %s or %s",
                            cmd->directive->directive, zero, one);
    }
    return NULL;
}

/* RemoteUserGroupMap REGEX REPLACEMENT: the replacement may name the
 * regular expression's groups ($1 ...) that exist, and no other. */
static const char *add_group_map(cmd_parms *cmd, void *dconf,
                                 const char *pattern, const char *replacement)
{
    rus_dir_conf *conf = dconf;
    rus_httpd_group_map_t m;
    const char *c;

    m.re = ap_pregcomp(cmd->pool, pattern, AP_REG_EXTENDED);
    if (m.re == NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a regular expression",
                            cmd->directive->directive, pattern);
    }
    for (c = replacement; *c; c++) {
        if (*c == '\\' && c[1] != '\0') {
            c++;
        }
        else if (*c == '$' && apr_isdigit(c[1]) && c[1] - '0' > m.re->re_nsub) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' names $%c, but '%s' has %d "
                                "group%s",
                                cmd->directive->directive, replacement, c[1],
                                pattern, m.re->re_nsub,
                                m.re->re_nsub == 1 ? "" : "s");
        }
    }
    if (m.re->re_nsub >= AP_MAX_REG_MATCH) {
        return apr_psprintf(cmd->pool, "%s: '%s' has more than %d groups",
                            cmd->directive->directive, pattern,
                            AP_MAX_REG_MATCH - 1);
    }
    m.pattern = pattern;
    m.replacement = replacement;
    if (conf->group_maps == NULL) {
        conf->group_maps =
            apr_array_make(cmd->pool, 2, sizeof(rus_httpd_group_map_t));
    }
    APR_ARRAY_PUSH(conf->group_maps, rus_httpd_group_map_t) = m;
    return NULL;
}

/* RemoteUserAttributeHeader NAME HEADER, one per HEADER in a section. */
static const char *add_attr_header(cmd_parms *cmd, void *dconf,
                                   const char *name, const char *header)
{
    rus_dir_conf *conf = dconf;
    rus_httpd_attr_header_t h;
    const char *err = check_attr_name(cmd, name);
    int i;

    if (err != NULL) {
        return err;
    }
    if (!rus_http_token_valid(header)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a header name",
                            cmd->directive->directive, header);
    }
    if (conf->attr_headers == NULL) {
        conf->attr_headers =
            apr_array_make(cmd->pool, 4, sizeof(rus_httpd_attr_header_t));
    }
    for (i = 0; i < conf->attr_headers->nelts; i++) {
        if (rus_header_name_alike(APR_ARRAY_IDX(conf->attr_headers, i,
                                                rus_httpd_attr_header_t)
                                      .header,
                                  header)) {
            return apr_psprintf(cmd->pool,
                                "%s: header '%s' carries an attribute in "
                                "this section already",
                                cmd->directive->directive, header);
        }
    }
    h.name = name;
    h.header = header;
    APR_ARRAY_PUSH(conf->attr_headers, rus_httpd_attr_header_t) = h;
    remember(&rus_httpd_seen.export_headers, cmd->pool, &header,
             (int)sizeof(header));
    return NULL;
}

const command_rec rus_httpd_cmds[] = {
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
    AP_INIT_TAKE1("RemoteUserSessionPurgeInterval", set_purge_interval,
                  (void *)APR_OFFSETOF(rus_server_conf, purge_interval),
                  RSRC_CONF,
                  "Seconds between deletions of expired sessions by one "
                  "child (default 300, 0: never; then run remoteuser-admin "
                  "session purge from cron)"),
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
    AP_INIT_FLAG("RemoteUserStripRealm", set_name_flag,
                 (void *)APR_OFFSETOF(rus_dir_conf, strip_realm),
                 RSRC_CONF | ACCESS_CONF,
                 "On: alice@EXAMPLE.COM and EXAMPLE\\alice become alice "
                 "(default Off)"),
    AP_INIT_FLAG("RemoteUserLowercase", set_name_flag,
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
    AP_INIT_TAKE1("RemoteUserUnauthenticatedAction", set_unauth_action, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Under AuthType RemoteUser with RemoteUserLoginURL, what "
                  "a request without identity gets: Redirect (302 to the "
                  "login URL), 401, or Auto (401 when it looks like a "
                  "script's fetch or XHR, else 302; default Auto)"),
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
    AP_INIT_TAKE2("RemoteUserAttribute", add_attribute, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "NAME SOURCE: copy the user's email, first_name, "
                  "last_name or another attribute NAME from SOURCE, "
                  "env:VARIABLE (set by the front end) or header:NAME (of "
                  "a trusted proxy's RemoteUserHeader login), at logins"),
    AP_INIT_TAKE1("RemoteUserAttributeSync", set_sync, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Create: attributes and groups are copied when the user "
                  "is created only; Login: at every front-end login "
                  "(default Login)"),
    AP_INIT_TAKE12("RemoteUserGroupsFrom", set_groups_from, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "SOURCE [SEPARATOR]: the user's groups, from env:VARIABLE "
                   "or header:NAME, split at SEPARATOR (default ','); "
                   "env:VARIABLE_N reads VARIABLE_0, VARIABLE_1, ..."),
    AP_INIT_TAKE1("RemoteUserGroupsSync", set_sync, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Replace: after a login the user's front-end memberships "
                  "are exactly the groups listed (those remoteuser-admin "
                  "added stay); Add: listed groups are only added "
                  "(default Replace)"),
    AP_INIT_TAKE2("RemoteUserGroupMap", add_group_map, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "REGEX REPLACEMENT: a group value matching REGEX becomes "
                  "REPLACEMENT ($1 ...); with any map set, values matching "
                  "none are dropped"),
    AP_INIT_TAKE2("RemoteUserAttributeHeader", add_attr_header, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "NAME HEADER: request header that carries the user's "
                  "attribute NAME (email, first_name, last_name or another) "
                  "to proxied applications"),
    { NULL }
};
