/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* mod_remoteuser_session: the httpd glue's lifecycle.
 *
 * Startup (pre_config, check_config, test_config, post_config,
 * child_init), hook registration and the module record; the directives
 * are in src/httpd_config.c, the store in src/httpd_store.c, the identity
 * in src/httpd_identity.c, the session cookie in src/httpd_session.c and
 * the group provider in src/httpd_authz.c. Everything that decides (which
 * names are valid, which users get in, how the store is kept) lives in the
 * httpd-free core under src/ and include/; this file only translates
 * between httpd's request_rec and that core. */

#include <errno.h>
#include <grp.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_main.h"
#include "mod_status.h"
#include "unixd.h"
#include "util_cfgtree.h"

#include <apr_strings.h>

#include "rus_store.h"
#include "rus_version.h"

#include "src/httpd_private.h"

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

/* Can the user httpd's children run as create files in @a dir? The kernel
 * is asked, so that ACLs, supplementary groups and read-only mounts all
 * count: as root, a process of our own takes that user's uid, group and
 * groups (as the children will) and tries access(2); not as root, the
 * children run as we do. The groups are looked up here, before fork:
 * the child only calls what is safe after fork in a process that may
 * have threads. APR_SUCCESS, the errno of access(2), or APR_EINCOMPLETE
 * when the question could not be asked (fork, the group lookup, the
 * child's end). */
static apr_status_t children_can_write(const char *dir, apr_pool_t *ptemp)
{
    int status = 0, rc = 0, ngroups = 64;
    gid_t gid = ap_unixd_config.group_id, *groups;
    pid_t pid;

    if (geteuid() != 0) {
        return access(dir, W_OK | X_OK) == 0 ? APR_SUCCESS
                                             : APR_FROM_OS_ERROR(errno);
    }
    groups = apr_palloc(ptemp, sizeof(gid_t) * (apr_size_t)ngroups);
    if (getgrouplist(ap_unixd_config.user_name, gid, groups, &ngroups) < 0) {
        groups = apr_palloc(ptemp, sizeof(gid_t) * (apr_size_t)ngroups);
        if (getgrouplist(ap_unixd_config.user_name, gid, groups, &ngroups)
            < 0) {
            return APR_EINCOMPLETE;
        }
    }
    pid = fork();
    if (pid < 0) {
        return APR_EINCOMPLETE;
    }
    if (pid == 0) {
        /* 1 to 255: access(2)'s errno; 0: writable */
        if (setgroups((size_t)ngroups, groups) != 0 || setgid(gid) != 0
            || setuid(ap_unixd_config.user_id) != 0) {
            _exit(0); /* cannot become the user: not ours to judge */
        }
        if (access(dir, W_OK | X_OK) != 0) {
            rc = errno != 0 ? errno : EACCES;
        }
        _exit(rc & 0xff);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return APR_EINCOMPLETE;
        }
    }
    if (!WIFEXITED(status)) {
        return APR_EINCOMPLETE;
    }
    rc = WEXITSTATUS(status);
    return rc == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(rc);
}

/* The store's directory must take the children's -wal and -shm files:
 * otherwise every request would get 503. NULL when it does, else what
 * to log (RUS00096). */
static const char *store_dir_refusal(const rus_server_conf *conf,
                                     apr_pool_t *ptemp, apr_status_t *prv)
{
    const char *dir = rus_store_dir(conf->store, ptemp);
    const char *who, *path = rus_store_describe(conf->store);

    *prv = dir != NULL ? children_can_write(dir, ptemp) : APR_SUCCESS;
    if (APR_STATUS_IS_EINCOMPLETE(*prv)) {
        /* a failure to ask is not a "no": the children will tell */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL,
                     RUSLOGNO(00108) "RemoteUserStore %s: could not check "
                                     "whether the directory %s is writable "
                                     "by the user httpd's children run as "
                                     "(fork or the group lookup failed); "
                                     "starting anyway",
                     path, dir);
        *prv = APR_SUCCESS;
    }
    if (*prv == APR_SUCCESS) {
        return NULL;
    }
    who = geteuid() == 0 ? apr_psprintf(ptemp, "%s (uid %ld, group %ld)",
                                        ap_unixd_config.user_name,
                                        (long)ap_unixd_config.user_id,
                                        (long)ap_unixd_config.group_id)
                         : apr_psprintf(ptemp, "uid %ld", (long)geteuid());
    return apr_psprintf(
        ptemp,
        "directory %s is not writable by %s, the user httpd's children "
        "run as: SQLite creates %s-wal and %s-shm there, and every "
        "request would get 503. Give the directory to that user, e.g. "
        "chown %s:%s %s && chmod 0750 %s",
        dir, who, path, path,
        geteuid() == 0 ? ap_unixd_config.user_name : "USER",
        geteuid() == 0 ? ap_unixd_config.group_name : "GROUP", dir, dir);
}

/* The RemoteUserStore of @a conf as log lines show it, never as written
 * (it may hold a password): SCHEME:LOCATION as rus_store_describe() shows
 * the location (a password masked, a path made absolute); a spec no
 * store was made of, masked as such. */
static const char *store_shown(const rus_server_conf *conf, apr_pool_t *p)
{
    const char *shown, *colon;

    if (conf->store == NULL) {
        return rus_store_spec_describe(p, conf->store_spec);
    }
    shown = rus_store_describe(conf->store);
    colon = strchr(shown, ':');
    if (colon != NULL && (apr_size_t)(colon - shown) < strcspn(shown, "/")) {
        return shown; /* a URI, with its scheme */
    }
    colon = strchr(conf->store_spec, ':');
    return apr_pstrcat(p,
                       apr_pstrmemdup(p, conf->store_spec,
                                      (apr_size_t)(colon - conf->store_spec)),
                       ":", shown, NULL);
}

/* The store of check_config: built with its final options and checked,
 * its directory included, without changing anything. */
static int check_store(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       rus_server_conf *conf)
{
    rus_store_options_t opts;
    const char *msg = NULL;
    apr_status_t rv;

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
        /* remoteuser-admin --config (DUMP_REMOTEUSER_STORE) only asks
         * where the store is, and may be about to create it. */
        if (rv == APR_SUCCESS
            && !ap_exists_config_define("DUMP_REMOTEUSER_STORE")) {
            msg = store_dir_refusal(conf, ptemp, &rv);
            if (msg != NULL && !is_restart()) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                             RUSLOGNO(00096) "RemoteUserStore %s: %s",
                             store_shown(conf, ptemp), msg);
                return !OK;
            }
        }
        if (rv != APR_SUCCESS && is_restart()) {
            rus_httpd_store.refused = 1;
            ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                         RUSLOGNO(00052) "RemoteUserStore %s refused at "
                                         "restart: %s; httpd keeps "
                                         "running, requests needing the "
                                         "store get 503 until it is fixed "
                                         "and httpd restarted",
                         store_shown(conf, ptemp), msg);
            return OK;
        }
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                     RUSLOGNO(00050) "RemoteUserStore %s refused: %s",
                     store_shown(conf, ptemp), msg);
        return !OK;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                     RUSLOGNO(00002) "RemoteUserStore %s: %s",
                     store_shown(conf, ptemp), msg);
        return !OK;
    }
    return OK;
}

/* Runs at every start and restart, and under configtest: the checks of
 * the configuration as written (RUS00097, the warnings under configtest,
 * RUS00015, RUS00004), then the store's (check_store). */
static int rus_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    rus_server_conf *conf = rus_httpd_server_conf(s);
    const ap_directive_t *bad;

    (void)plog;
    rus_httpd_store.refused = 0;
    if (rus_httpd_check_engine_scopes(s, ptemp) != OK) {
        return !OK;
    }
    /* The warnings go to the error log at startup (post_config); under
     * configtest, where post_config never runs, to stderr here (not when
     * remoteuser-admin only asks for the store: DUMP_REMOTEUSER_STORE). */
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST
        && !ap_exists_config_define("DUMP_REMOTEUSER_STORE")) {
        rus_httpd_check_warnings(s, ptemp);
    }
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
    return check_store(pconf, ptemp, s, conf);
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
 * then one line for each directive noted while reading (every
 * RemoteUserStore, every RemoteUserLowercase On and RemoteUserStripRealm
 * On), in the order httpd read them:
 *   RemoteUserSeen RemoteUserLowercase On (/etc/apache2/x.conf:30)
 * This is how remoteuser-admin --config learns the store from httpd
 * itself (like DUMP_RUN_CFG in os/unix/unixd.c). Nothing without a store. */
static void rus_test_config(apr_pool_t *pconf, server_rec *s)
{
    rus_server_conf *conf = rus_httpd_server_conf(s);
    const char *colon, *spec;
    apr_file_t *out = NULL;
    int i;

    if (!ap_exists_config_define("DUMP_REMOTEUSER_STORE")
        || conf->store == NULL) {
        return;
    }
    /* A file store: SCHEME: as written (rus_store_create checked it),
     * then the path as the module opens it. Any other (a URI) as written,
     * its password included: remoteuser-admin connects with it, and this
     * goes to the caller's stdout, never to a log. */
    spec = conf->store_spec;
    if (rus_store_dir(conf->store, pconf) != NULL) {
        colon = strchr(conf->store_spec, ':');
        spec =
            apr_pstrcat(pconf,
                        apr_pstrmemdup(pconf, conf->store_spec,
                                       (apr_size_t)(colon - conf->store_spec)),
                        ":", rus_store_describe(conf->store), NULL);
    }
    if (apr_file_open_stdout(&out, pconf) != APR_SUCCESS) {
        return;
    }
    apr_file_printf(out, "RemoteUserStore %s (%s:%d)\n",
                    dump_field(pconf, spec),
                    dump_field(pconf,
                               conf->store_file ? conf->store_file : "-"),
                    conf->store_line);
    for (i = 0; rus_httpd_seen.noted && i < rus_httpd_seen.noted->nelts; i++) {
        const rus_httpd_noted_t *n =
            &APR_ARRAY_IDX(rus_httpd_seen.noted, i, rus_httpd_noted_t);

        apr_file_printf(out, "RemoteUserSeen %s %s (%s:%d)\n", n->directive,
                        dump_field(pconf, n->arg),
                        dump_field(pconf, n->file ? n->file : "-"), n->line);
    }
    apr_file_flush(out);
}

/* In the parent, before any child exists: create the store and migrate
 * its schema, owned by the user the children will run as. */
static int rus_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    rus_server_conf *conf = rus_httpd_server_conf(s);
    rus_store_owner_t owner = { -1, -1 };
    const char *msg = NULL, *warn = NULL, *others = NULL, *world = NULL;
    apr_status_t rv;

    (void)plog;
    rus_httpd_store.cache = NULL; /* a restart may have turned it off */
    rus_httpd_store.board = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the first of the two startup passes: nothing yet */
    }
    rus_httpd_check_warnings(s, ptemp);
    rus_httpd_metrics_init(pconf, s);
    if (conf->store == NULL || rus_httpd_store.refused) {
        return OK; /* a refused store is left as it is (RUS00052) */
    }
    rus_httpd_store_shm_init(pconf, s, conf);
    if (geteuid() == 0) {
        owner.uid = (long)ap_unixd_config.user_id;
        owner.gid = (long)ap_unixd_config.group_id;
    }
    rv = rus_store_prepare(conf->store, ptemp, &owner, &warn, &msg);
    if (rv == RUS_STORE_EUNREACHABLE) {
        /* A server of its own (PostgreSQL) not answering now is no fault
         * of the configuration: each child connects (and creates or
         * migrates the schema) when it can. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00123) "RemoteUserStore %s cannot be reached "
                                     "now: %s; httpd starts anyway, and "
                                     "requests needing the store get 503 "
                                     "until it can be",
                     store_shown(conf, ptemp), msg);
        rv = APR_SUCCESS;
    }
    else if (rv != APR_SUCCESS && is_restart()) {
        rus_httpd_store.refused = 1;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                     RUSLOGNO(00053) "RemoteUserStore %s refused at restart: "
                                     "%s; httpd keeps running, requests "
                                     "needing the store get 503 until it "
                                     "is fixed and httpd restarted",
                     store_shown(conf, ptemp), msg);
        return OK;
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                     RUSLOGNO(00051) "RemoteUserStore %s refused: %s",
                     store_shown(conf, ptemp), msg);
        return !OK;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rus_store_error_os(rv), s,
                     RUSLOGNO(00003) "RemoteUserStore %s: %s",
                     store_shown(conf, ptemp), msg);
        return !OK;
    }
    if (warn != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00014) "RemoteUserStore %s: %s",
                     store_shown(conf, ptemp), warn);
    }
    /* Whoever may write the directory may swap the store for another
     * file: the children still refuse links, but say so. */
    if (rus_store_dir_warnings(conf->store, &owner, ptemp, &others, &world)
        == APR_SUCCESS) {
        if (world != NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00057) "RemoteUserStore %s: %s",
                         store_shown(conf, ptemp), world);
        }
        if (others != NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00056) "RemoteUserStore %s: %s",
                         store_shown(conf, ptemp), others);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 RUSLOGNO(00001) "mod_remoteuser_session/%s, store %s",
                 RUS_VERSION, rus_store_describe(conf->store));
    return OK;
}

/* After fork: this child's own connections, closed with pchild. */
static void rus_child_init(apr_pool_t *pchild, server_rec *s)
{
    rus_httpd_metrics_child_init();
    rus_httpd_store_child_init(pchild, s);
}

/* Before each read of the configuration. */
static int rus_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    rus_httpd_seen.identity_headers = rus_httpd_seen.export_headers = NULL;
    rus_httpd_seen.trusted = rus_httpd_seen.noted = NULL;
    return OK;
}

static const char *const handler_succ[] = { "mod_proxy.c", NULL };
static const char *const core_module_name[] = { "core.c", NULL };

static void rus_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Strip client copies of our headers as early as per-dir config
     * allows. */
    ap_hook_header_parser(rus_httpd_header_parser, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_pre_config(rus_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(rus_httpd_post_read_request, NULL, NULL,
                              APR_HOOK_FIRST);
    /* around core's Upgrade handler (h2c) */
    ap_hook_handler(rus_httpd_h2c_restore, NULL, core_module_name,
                    APR_HOOK_REALLY_FIRST);
    ap_hook_handler(rus_httpd_h2c_rescrub, core_module_name, NULL,
                    APR_HOOK_REALLY_FIRST);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "remoteuser-group",
                              AUTHZ_PROVIDER_VERSION, &rus_httpd_group_provider,
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
    ap_hook_check_authn(rus_httpd_check_authn, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* Before mod_authz_core (APR_HOOK_LAST), so Require sees the cleaned
     * name; per configuration, so same-config subrequests skip it. */
    ap_hook_check_authz(rus_httpd_check_authz, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    /* Right after it, still before mod_authz_core: under AuthType
     * RemoteUser a resolved user who fails Require gets 403, not 401. */
    ap_hook_check_authz(rus_httpd_check_authz_status, NULL, NULL,
                        APR_HOOK_FIRST + 1, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(rus_httpd_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_dir's and mod_negotiation's fast redirects. */
    ap_hook_fixups(rus_httpd_fixups_final, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_register_output_filter(PRIVATE_FILTER, rus_httpd_private_filter, NULL,
                              AP_FTYPE_CONTENT_SET + 5);
    /* The Content-Type of the module's 401 bodies (rus_httpd_error_body). */
    ap_register_output_filter(ERRTYPE_FILTER, rus_httpd_errtype_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(rus_httpd_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    /* remoteuser-login, remoteuser-logout, remoteuser-sessions and
     * remoteuser-info, by handler name, and before
     * mod_proxy: its handler serves any request ProxyPass mapped, whatever
     * SetHandler said, so a ProxyPass covering the login or logout URL
     * would send them to the back end: no login, no revocation
     * (CVE-2019-3878 class). */
    ap_hook_handler(rus_httpd_handler, NULL, handler_succ,
                    APR_HOOK_REALLY_FIRST);
    /* remoteuser-metrics, for the same reason before mod_proxy. */
    ap_hook_handler(rus_httpd_metrics_handler, NULL, handler_succ,
                    APR_HOOK_REALLY_FIRST);
    /* A section of server-status, when mod_status is loaded. */
    APR_OPTIONAL_HOOK(ap, status_hook, rus_httpd_metrics_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA remoteuser_session_module = {
    STANDARD20_MODULE_STUFF,
    rus_httpd_create_dir_conf,    /* per-directory config */
    rus_httpd_merge_dir_conf,     /* merge per-directory config */
    rus_httpd_create_server_conf, /* per-server config */
    rus_httpd_merge_server_conf,  /* merge per-server config */
    rus_httpd_cmds,               /* directives */
    rus_register_hooks,           /* hooks */
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 70)
    0 /* flags */
#endif
};
