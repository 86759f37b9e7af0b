/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The httpd glue's private header: what the files of the glue
 * (mod_remoteuser_session.c and src/httpd_*.c) share. Only they include
 * it; the core under src/rus_* and include/ never sees httpd. In the
 * style of mod_md's mod_md_private.h. */
#ifndef RUS_HTTPD_PRIVATE_H
#define RUS_HTTPD_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include <apr_tables.h>

#include "rus_cache.h"
#include "rus_gate.h"
#include "rus_header.h"
#include "rus_metrics.h"
#include "rus_origin.h"
#include "rus_profile.h"
#include "rus_session.h"
#include "rus_store.h"
#include "rus_user.h"

#if !AP_MODULE_MAGIC_AT_LEAST(20120211, 0)
#error "mod_remoteuser_session needs Apache httpd 2.4 or later"
#endif

/* Our own log ids, listed in docs/log-ids.md. */
#define RUSLOGNO(n) "RUS" #n ": "

APLOG_USE_MODULE(remoteuser_session);

/* ==================================================================== */
/* configuration                                                        */

#define UNSET (-1)

/* Where a value of RemoteUserAttribute or RemoteUserGroupsFrom comes
 * from: a variable of the request's environment (or notes), set by an
 * earlier module, or a header of the trusted proxy. */
typedef struct rus_httpd_source_t {
    int header;       /* 1: header:NAME, 0: env:VAR */
    const char *name; /* the header or variable; with iterate, the
                         variable's prefix ("MELLON_groups_") */
    int iterate;      /* env:VAR_N: VAR_0, VAR_1, ... until one is absent */
    const char *sep;  /* RemoteUserGroupsFrom's separator ("," default) */
    const char *spec; /* as written, for log lines */
} rus_httpd_source_t;

/* One RemoteUserAttribute NAME SOURCE. */
typedef struct rus_httpd_attr_source_t {
    const char *name; /* email, first_name, last_name or an attribute */
    rus_httpd_source_t src;
} rus_httpd_attr_source_t;

/* One RemoteUserGroupMap REGEX REPLACEMENT. */
typedef struct rus_httpd_group_map_t {
    ap_regex_t *re;
    const char *pattern;     /* as written, for log lines */
    const char *replacement; /* $0..$9 are the match and its groups */
} rus_httpd_group_map_t;

/* One RemoteUserAttributeHeader NAME HEADER. */
typedef struct rus_httpd_attr_header_t {
    const char *name;   /* email, first_name, last_name or an attribute */
    const char *header; /* the request header proxied applications read */
} rus_httpd_attr_header_t;

/* Per-directory settings. Every flag and number starts UNSET and every
 * pointer NULL, so that merging can tell "not said here" from "said Off
 * here"; the rus_conf_*() getters apply the defaults. */
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
    int cookie_secure;           /* RemoteUserSessionCookieSecure:
                                    rus_cookie_secure_e */
    const char *samesite;        /* RemoteUserSessionCookieSameSite */
    apr_int64_t max_age;         /* RemoteUserSessionMaxAge, UNSET */
    apr_int64_t idle_timeout;    /* RemoteUserSessionIdleTimeout, UNSET */
    apr_int64_t max_per_user;    /* RemoteUserSessionMaxPerUser, UNSET */
    const char *login_url;       /* RemoteUserLoginURL */
    const char *login_redirect;  /* RemoteUserLoginRedirect */
    const char *logout_redirect; /* RemoteUserLogoutRedirect */
    int logout_allow_get;        /* RemoteUserLogoutAllowGet */
    int unauth_action;           /* RemoteUserUnauthenticatedAction:
                                    rus_unauth_action_e */
    const char *user_header;     /* RemoteUserRequestHeader */
    const char *groups_header;   /* RemoteUserGroupsHeader */
    /* The lists below: an inner section that sets one replaces the
     * outer list. NULL: not set here. */
    /* RemoteUserAttribute (rus_httpd_attr_source_t) */
    apr_array_header_t *attributes;
    /* RemoteUserAttributeSync: 1 Login, 0 Create */
    int attr_sync;
    /* RemoteUserGroupsFrom */
    const rus_httpd_source_t *groups_from;
    /* RemoteUserGroupsSync: 1 Replace, 0 Add */
    int groups_sync;
    /* RemoteUserGroupMap (rus_httpd_group_map_t) */
    apr_array_header_t *group_maps;
    /* RemoteUserAttributeHeader (rus_httpd_attr_header_t) */
    apr_array_header_t *attr_headers;
} rus_dir_conf;

#define COOKIE_NAME_DEFAULT "remoteuser_session"
#define LOGIN_HANDLER       "remoteuser-login"
#define LOGOUT_HANDLER      "remoteuser-logout"
#define METRICS_HANDLER     "remoteuser-metrics"
#define SESSIONS_HANDLER    "remoteuser-sessions"
#define INFO_HANDLER        "remoteuser-info"
/* RemoteUserSessionMaxPerUser's default. */
#define MAX_PER_USER_DEFAULT 20

/* RemoteUserUnauthenticatedAction: what AuthType RemoteUser with a
 * RemoteUserLoginURL answers a request without identity. */
typedef enum {
    RUS_UNAUTH_AUTO = 0,     /* 401 for a program, 302 for a navigation
                                (rus_unauth_programmatic()) */
    RUS_UNAUTH_REDIRECT = 1, /* 302 to the login URL (GET and HEAD) */
    RUS_UNAUTH_401 = 2       /* always 401 */
} rus_unauth_action_e;

/* The AuthType this module implements by itself. */
#define RUS_AUTH_TYPE "RemoteUser"

/* Server settings; only the main server's are used (GLOBAL_ONLY). */
typedef struct rus_server_conf {
    const char *store_spec; /* RemoteUserStore, as written */
    const char *store_file; /* the file of the RemoteUserStore that won */
    int store_line;         /* and its line */
    int busy_timeout_ms;    /* RemoteUserStoreBusyTimeout, UNSET: default */
    int max_writers;        /* RemoteUserStoreMaxWriters, UNSET: default */
    int cache_ttl;          /* RemoteUserCacheTTL, UNSET: default */
    int purge_interval;     /* RemoteUserSessionPurgeInterval, UNSET */
    rus_store_t *store;     /* built in check_config */
    /* Per virtual host (merged): */
    int trust_htaccess;        /* RemoteUserTrustHtaccess, UNSET: Off */
    const char *session_scope; /* RemoteUserSessionScope, NULL: the vhost */
    /* This server's set of counters, found by its name at post_config
     * (rus_httpd_metrics_init); NULL: nothing is counted. */
    rus_metrics_vhost_t *metrics;
} rus_server_conf;

/* Seconds store answers are reused (RemoteUserCacheTTL). */
#define CACHE_TTL_DEFAULT 2
/* Seconds between purges of expired sessions
 * (RemoteUserSessionPurgeInterval). */
#define PURGE_INTERVAL_DEFAULT 300

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
    const char *cookie_token; /* and its raw token, once a handler asked
                                 for it (rus_httpd_session_token); never
                                 logged */
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
    const apr_array_header_t *exported_attr_headers; /* and these
                                         (rus_httpd_attr_header_t) */
    const char *source;   /* "frontend", "header" or "session" */
    apr_uint64_t counted; /* bit 1 << c: counter c (rus_metric_e) was
                             counted for this chain (rus_httpd_count_once) */
} rus_req_state;

/* What every section of the configuration said, for what
 * post_read_request does before any section is known: every
 * RemoteUserHeader, RemoteUserRequestHeader and RemoteUserGroupsHeader name
 * and every RemoteUserTrustedProxy block anywhere in the server. Rebuilt
 * at each configuration read (pre_config), in pconf. */
typedef struct rus_httpd_seen_t {
    apr_array_header_t *identity_headers; /* const char * */
    apr_array_header_t *export_headers;   /* const char * */
    apr_array_header_t *trusted;          /* rus_cidr_t */
    apr_array_header_t *noted;            /* rus_httpd_noted_t, in the
                                             order read */
} rus_httpd_seen_t;

/* A directive remoteuser-admin is told about under DUMP_REMOTEUSER_STORE:
 * every RemoteUserStore (several: the last wins), and every
 * RemoteUserLowercase On and RemoteUserStripRealm On (names that requests
 * there can never carry). */
typedef struct rus_httpd_noted_t {
    const char *directive; /* its canonical name */
    const char *arg;       /* as written */
    const char *file;
    int line;
} rus_httpd_noted_t;

extern rus_httpd_seen_t rus_httpd_seen;

/* The store as this generation and this child have it. */
typedef struct rus_httpd_store_t {
    /* This child's connections to the store, made in child_init. NULL
     * when no store is configured or it could not be set up: requests
     * then fail. */
    rus_store_pool_t *pool;
    /* Set when this generation's store was refused at a restart (its
     * files untouched): httpd stays up, children open no connection, and
     * requests needing the store get 503 until the store is fixed and
     * httpd restarted again. Reset by every configuration pass. */
    int refused;
    /* The cache of store answers, in memory shared by every child of this
     * generation (made in post_config, before fork); NULL when
     * RemoteUserCacheTTL is 0. */
    rus_cache_t *cache;
    /* This child's view of the store's changes, which keeps the cache
     * true to the store (made in child_init; NULL without a cache). A
     * request uses the cache only through rus_httpd_store_cache(). */
    struct rus_coh_t *coh;
    /* Store writes that may wait for the store's write lock, in flight at
     * once in this child (RemoteUserStoreMaxWriters, set in child_init);
     * beyond it a login answers 503 at once and bookkeeping writes are
     * skipped, so that writers never hold every worker. Reads never pass
     * it. */
    rus_gate_t write_gate;
    /* A shared store's board (rus_board.h), in memory shared by every
     * child of this generation (made in post_config when the answer cache
     * is on): the listener thread of one child publishes the store's
     * commits on it, every process's cache reads it. NULL otherwise. */
    struct rus_board_t *board;
} rus_httpd_store_t;

extern rus_httpd_store_t rus_httpd_store;

/* -------------------------------------------------------------------- */
/* src/httpd_config.c                                                   */

extern const command_rec rus_httpd_cmds[];
void *rus_httpd_create_dir_conf(apr_pool_t *p, char *dir);
void *rus_httpd_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *rus_httpd_create_server_conf(apr_pool_t *p, server_rec *s);
void *rus_httpd_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
rus_server_conf *rus_httpd_server_conf(const server_rec *s);

/* Each setting as it applies: the value set, else its default (the one
 * table of defaults in httpd_config.c). */
int rus_conf_engine(const rus_dir_conf *conf);
int rus_conf_create_unknown(const rus_dir_conf *conf);
int rus_conf_allow_inactive(const rus_dir_conf *conf);
int rus_conf_strip_realm(const rus_dir_conf *conf);
int rus_conf_lowercase(const rus_dir_conf *conf);
int rus_conf_session(const rus_dir_conf *conf);
const char *rus_conf_cookie_name(const rus_dir_conf *conf);
const char *rus_conf_cookie_path(const rus_dir_conf *conf);
int rus_conf_cookie_secure(const rus_dir_conf *conf);
const char *rus_conf_samesite(const rus_dir_conf *conf);
apr_int64_t rus_conf_max_age(const rus_dir_conf *conf);
apr_int64_t rus_conf_idle_timeout(const rus_dir_conf *conf);
apr_int64_t rus_conf_max_per_user(const rus_dir_conf *conf);
const char *rus_conf_login_redirect(const rus_dir_conf *conf);
const char *rus_conf_logout_redirect(const rus_dir_conf *conf);
int rus_conf_logout_allow_get(const rus_dir_conf *conf);
int rus_conf_unauth_action(const rus_dir_conf *conf);
int rus_conf_attr_sync(const rus_dir_conf *conf);
int rus_conf_groups_sync(const rus_dir_conf *conf);
int rus_conf_cache_ttl(const rus_server_conf *conf);
int rus_conf_purge_interval(const rus_server_conf *conf);
int rus_conf_trust_htaccess(const rus_server_conf *conf);

/* -------------------------------------------------------------------- */
/* src/httpd_store.c                                                    */

void rus_httpd_store_shm_init(apr_pool_t *pconf, server_rec *s,
                              const rus_server_conf *conf);
void rus_httpd_store_child_init(apr_pool_t *pchild, server_rec *s);
int rus_httpd_store_writes_full(request_rec *r, const char *what);
void rus_httpd_store_log(request_rec *r, int level, apr_status_t rv,
                         const char *msg);
rus_cache_t *rus_httpd_store_cache(request_rec *r);
int rus_httpd_store_resolve(request_rec *r, const rus_dir_conf *conf,
                            const char *clean, rus_resolution_t *res);

/* -------------------------------------------------------------------- */
/* src/httpd_metrics.c                                                  */

/* post_config: the counters' shared memory (made once in the process
 * pool, found again at graceful restarts), each server's set. */
void rus_httpd_metrics_init(apr_pool_t *pconf, server_rec *s);
/* child_init. */
void rus_httpd_metrics_child_init(void);
/* Add @a n to counter @a c of the virtual host of @a r. */
void rus_httpd_count(request_rec *r, rus_metric_e c, apr_uint64_t n);
/* Count @a c once per request chain. */
void rus_httpd_count_once(request_rec *r, rus_metric_e c);
/* One store call of @a r that began at @a since. */
void rus_httpd_observe(request_rec *r, apr_time_t since);
/* A store failure of @a r, by the kind of @a rv. */
void rus_httpd_count_store_error(request_rec *r, apr_status_t rv);
/* The cache hits and misses of a lookup of @a r, and this child's
 * coherence drops not counted yet. */
void rus_httpd_count_cache(request_rec *r, int hits, int misses);
/* The maintenance thread's turn at the gauges (at most every
 * RUS_METRICS_GAUGE_INTERVAL s for the host). */
void rus_httpd_metrics_gauges(server_rec *s, rus_store_pool_t *spool,
                              apr_pool_t *ptemp);
/* SetHandler remoteuser-metrics. */
int rus_httpd_metrics_handler(request_rec *r);
/* mod_status's status_hook. */
int rus_httpd_metrics_status(request_rec *r, int flags);

/* -------------------------------------------------------------------- */
/* src/httpd_profile.c                                                  */

/* What the login of @a r says about its user (RemoteUserAttribute,
 * RemoteUserGroupsFrom, RemoteUserGroupMap, RemoteUserGroupsSync), every
 * value checked, the refused ones logged and left out; header sources
 * only when @a from_header (the identity came from RemoteUserHeader of a
 * trusted proxy). @a user is the cleaned name, for log lines. NULL when
 * the location gathers nothing or the login gives nothing. */
const rus_profile_t *rus_httpd_profile_gather(request_rec *r,
                                              const rus_dir_conf *conf,
                                              const char *user,
                                              int from_header);

/* Does the location read a request variable (an env: source) for what a
 * login says? 1 if so. */
int rus_httpd_profile_reads_env(const rus_dir_conf *conf);

/* -------------------------------------------------------------------- */
/* src/httpd_feed.c                                                     */

/* Start this child's listener thread of a shared store, which follows its
 * commits onto @a board while it holds the board's lease; stopped (and
 * the lease given up) by a pchild pre-cleanup. */
void rus_httpd_feed_start(apr_pool_t *pchild, server_rec *s,
                          const rus_store_t *store, struct rus_board_t *board);

/* -------------------------------------------------------------------- */
/* src/httpd_identity.c                                                 */

#define PRIVATE_FILTER "REMOTEUSER_PRIVATE"

request_rec *rus_httpd_chain_root(request_rec *r);
const char *rus_httpd_htaccess_dir(request_rec *r, int override);
void rus_httpd_user_keep(rus_user_t *dst, const rus_user_t *src, apr_pool_t *p);
rus_req_state *rus_httpd_req_state(request_rec *r, int create);
const char *rus_httpd_log_name(request_rec *r, const char *name);
const char *rus_httpd_identity_source(request_rec *r, const char *sent);
apr_int64_t rus_httpd_now_sec(request_rec *r);
unsigned int rus_httpd_clean_flags(const rus_dir_conf *conf);
int rus_httpd_refuse_inactive(request_rec *r, const char *name);
int rus_httpd_chain_failed(const request_rec *r);
void rus_httpd_mark_private(request_rec *r);
apr_status_t rus_httpd_private_filter(ap_filter_t *f, apr_bucket_brigade *bb);
int rus_httpd_post_read_request(request_rec *r);
int rus_httpd_h2c_restore(request_rec *r);
int rus_httpd_h2c_rescrub(request_rec *r);
int rus_httpd_check_authn(request_rec *r);
int rus_httpd_check_authz(request_rec *r);
int rus_httpd_header_parser(request_rec *r);
int rus_httpd_fixups(request_rec *r);
int rus_httpd_fixups_final(request_rec *r);

/* -------------------------------------------------------------------- */
/* src/httpd_session.c                                                  */

int rus_httpd_check_session_cookie(request_rec *r, const rus_dir_conf *conf);
rus_session_state_e rus_httpd_session_state(request_rec *r,
                                            const rus_dir_conf *conf,
                                            const rus_session_t *sess);
void rus_httpd_cookie_ignored(request_rec *r, const char *why);
void rus_httpd_use_session(request_rec *r, const rus_dir_conf *conf);
int rus_httpd_mint_session(request_rec *r, const rus_dir_conf *conf);
void rus_httpd_session_note(request_rec *r, const char *ids);
int rus_httpd_handler(request_rec *r);
int rus_httpd_session_store_failed(request_rec *r, apr_status_t rv,
                                   const char *what, const char *msg);
int rus_httpd_session_connect(request_rec *r, const char *handler,
                              rus_conn_t **pconn);
apr_int64_t rus_httpd_session_expires(const rus_dir_conf *conf,
                                      const rus_session_t *sess);
const char *rus_httpd_session_token(request_rec *r, const rus_dir_conf *conf);
/* Where @a r comes from (Sec-Fetch-Site, Origin against its own origin),
 * and those two headers, bounded, for a log line. */
rus_site_e rus_httpd_request_site(request_rec *r);
const char *rus_httpd_site_headers(request_rec *r);

/* -------------------------------------------------------------------- */
/* src/httpd_selfsvc.c                                                  */

/* SetHandler remoteuser-sessions: the user's own sessions (HTML or
 * JSON), and the POST forms that end them. */
int rus_httpd_sessions_handler(request_rec *r);
/* SetHandler remoteuser-info: the request's identity as JSON. */
int rus_httpd_info_handler(request_rec *r);
/* The realm of a 401's WWW-Authenticate: AuthName, else @a fallback. */
void rus_httpd_challenge(request_rec *r, const char *fallback);
/* Does the request's Accept header list application/json (or
 * application/ *) with a q above 0? */
int rus_httpd_accepts_json(request_rec *r);
/* Answer a 401 or 403 that ap_die() sends with @a body of type @a type
 * instead of httpd's HTML page, unless an ErrorDocument is set for it. */
void rus_httpd_error_body(request_rec *r, int status, const char *type,
                          const char *body);
#define ERRTYPE_FILTER "REMOTEUSER_ERRTYPE"
apr_status_t rus_httpd_errtype_filter(ap_filter_t *f, apr_bucket_brigade *bb);
void rus_httpd_insert_error_filter(request_rec *r);

/* -------------------------------------------------------------------- */
/* src/httpd_check.c                                                    */

/* Startup checks of the configuration as written: directives that need
 * the engine where no section turns it on (logged, !OK), and settings
 * that cannot work as meant (logged as warnings). */
int rus_httpd_check_engine_scopes(server_rec *s, apr_pool_t *ptemp);
void rus_httpd_check_warnings(server_rec *s, apr_pool_t *ptemp);

/* -------------------------------------------------------------------- */
/* src/httpd_authz.c                                                    */

extern const authz_provider rus_httpd_group_provider;
int rus_httpd_check_authz_status(request_rec *r);

#endif /* RUS_HTTPD_PRIVATE_H */
