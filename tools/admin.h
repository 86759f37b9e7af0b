/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* remoteuser-admin's own header: what its files share. The commands live
 * in remoteuser-admin.c; asking httpd (and apachectl) about a
 * configuration in admin_httpd.c. Functions that can fail return an exit
 * code (0 on success) and leave a one-line message in *pmsg; the caller
 * prints it, as text or as JSON. */
#ifndef RUS_ADMIN_H
#define RUS_ADMIN_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Exit codes. */
#define EXIT_NOTFOUND 1
#define EXIT_USAGE    2
#define EXIT_FAILED   3

/* A directive httpd read: a RemoteUserSeen line of DUMP_REMOTEUSER_STORE
 * (every RemoteUserStore, every RemoteUserLowercase On and
 * RemoteUserStripRealm On), in the order httpd read them. */
typedef struct admin_seen_t {
    const char *directive; /* "RemoteUserStore", "RemoteUserLowercase" */
    const char *arg;       /* as written */
    const char *origin;    /* "FILE:LINE" */
} admin_seen_t;

/* What httpd said about a configuration. */
typedef struct admin_conf_t {
    const char *file;         /* the configuration file, absolute */
    const char *spec;         /* the store in force, location absolute */
    const char *origin;       /* "FILE:LINE" of the RemoteUserStore used */
    apr_array_header_t *seen; /* admin_seen_t */
} admin_conf_t;

/* Ask @a httpd which store @a config gives the module:
 *   HTTPD -t -f CONFIG -D DUMP_REMOTEUSER_STORE
 * from a clean environment (an envvars file beside CONFIG is sourced, as
 * apache2ctl does). @return 0 with @a conf filled in, EXIT_USAGE when
 * CONFIG is missing, rejected or names no store, EXIT_FAILED when httpd
 * cannot be run; *pmsg says why. */
int admin_httpd_ask(apr_pool_t *p, const char *httpd, const char *config,
                    admin_conf_t *conf, const char **pmsg);

/* The configuration file httpd reads by default: SERVER_CONFIG_FILE
 * under HTTPD_ROOT, as '@a apachectl -V' prints them (Debian's
 * apache2ctl sources /etc/apache2/envvars itself). @a apachectl is a
 * path, or a name looked up on PATH. @return 0 with *pconfig set, else
 * EXIT_USAGE or EXIT_FAILED with *pmsg. */
int admin_apachectl_config(apr_pool_t *p, const char *apachectl,
                           const char **pconfig, const char **pmsg);

/* The first executable file @a name in the directories of $PATH, or NULL. */
const char *admin_which(apr_pool_t *p, const char *name);

#endif /* RUS_ADMIN_H */
