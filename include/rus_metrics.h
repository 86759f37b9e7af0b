/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_metrics.h
 * @brief The module's counters, in memory shared by every process of a
 *        host: one set per virtual host (the server_name label), updated
 *        with atomic adds (no lock, no system call), never reset on read,
 *        rendered as Prometheus text exposition (version 0.0.4), JSON, and
 *        mod_status's "Key: value" lines.
 *
 * The memory is laid out once (rus_metrics_init()) and outlives graceful
 * restarts where its owner keeps it (httpd: a segment made in the
 * process pool, found again through ap_retained_data). A virtual host
 * finds its set by name (rus_metrics_vhost()), so its counts survive a
 * restart too; names beyond RUS_METRICS_VHOSTS share the last set, whose
 * label is RUS_METRICS_OVERFLOW.
 */
#ifndef RUS_METRICS_H
#define RUS_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

/** Virtual hosts with a set of their own. */
#define RUS_METRICS_VHOSTS 64
/** Longest server_name kept, in bytes; longer ones are cut. */
#define RUS_METRICS_NAME_MAX 127
/** The server_name of the set shared by the virtual hosts beyond
 *  RUS_METRICS_VHOSTS. */
#define RUS_METRICS_OVERFLOW "_other"

/** What is counted. Each has its metric name, label and help text in
 *  rus_metrics.c (rus_metric_info()); the names are the contract. */
typedef enum {
    /* remoteuser_requests_total{source}: requests whose identity the
     * module accepted, by where it came from */
    RUS_M_REQ_FRONTEND = 0, /**< source="frontend": r->user */
    RUS_M_REQ_HEADER,       /**< source="header": trusted header */
    RUS_M_REQ_SESSION,      /**< source="session": the session cookie */
    /* remoteuser_users_created_total */
    RUS_M_USERS_CREATED,
    /* remoteuser_logins_total: accepted front-end identities (r->user or
     * the trusted header), once per request chain: Django's
     * authenticate() + login() */
    RUS_M_LOGINS,
    /* remoteuser_profile_syncs_total: logins that wrote a changed profile
     * (attributes, groups) */
    RUS_M_PROFILE_SYNCS,
    /* remoteuser_refusals_total{cause} */
    RUS_M_REFUSED_INACTIVE,  /**< cause="inactive" */
    RUS_M_REFUSED_UNKNOWN,   /**< cause="unknown": create is off */
    RUS_M_REFUSED_NAME,      /**< cause="invalid_name" */
    RUS_M_REFUSED_UNTRUSTED, /**< cause="untrusted_peer": the identity
                                  header from a peer not trusted */
    RUS_M_REFUSED_SPOOFED,   /**< cause="spoofed_header": a look-alike or
                                  repeated identity header */
    RUS_M_REFUSED_HTACCESS,  /**< cause="htaccess" */
    /* remoteuser_sessions_minted_total */
    RUS_M_SESS_MINTED,
    /* remoteuser_sessions_validated_total: cookies accepted */
    RUS_M_SESS_VALIDATED,
    /* remoteuser_sessions_expired_total{kind} */
    RUS_M_SESS_EXPIRED_ABSOLUTE, /**< kind="absolute": expires_at or the
                                      MaxAge in force passed */
    RUS_M_SESS_EXPIRED_IDLE,     /**< kind="idle" */
    /* remoteuser_sessions_revoked_total{reason}: by this host */
    RUS_M_SESS_REVOKED_LOGOUT,      /**< reason="logout" */
    RUS_M_SESS_REVOKED_USER_SWITCH, /**< reason="user_switch": a login as
                                         someone else over a session */
    RUS_M_SESS_REVOKED_EVICTED,     /**< reason="evicted":
                                         RemoteUserSessionMaxPerUser */
    /* remoteuser_cache_requests_total{result} */
    RUS_M_CACHE_HIT,  /**< result="hit" */
    RUS_M_CACHE_MISS, /**< result="miss" */
    /* remoteuser_cache_invalidations_total: answers dropped because the
     * store changed (coherence), or by this host's own writes */
    RUS_M_CACHE_INVALIDATIONS,
    /* remoteuser_store_errors_total{kind} */
    RUS_M_STORE_ERR_BUSY,        /**< kind="busy": locked, timed out */
    RUS_M_STORE_ERR_UNAVAILABLE, /**< kind="unavailable": unreachable,
                                      missing, unreadable, disk full */
    RUS_M_STORE_ERR_CORRUPT,     /**< kind="corrupt": corrupt, schema */
    RUS_M_STORE_ERR_OTHER,       /**< kind="other" */
    RUS_M_COUNTERS               /**< how many there are */
} rus_metric_e;

/** Gauges, host-wide (no server_name): read from the store by one
 *  process at most every RUS_METRICS_GAUGE_INTERVAL seconds, never on
 *  the request path. */
typedef enum {
    RUS_G_USERS = 0,       /**< remoteuser_users */
    RUS_G_SESSIONS_ACTIVE, /**< remoteuser_sessions_active */
    /* store-wide counts kept by the store (remoteuser-admin's own
     * revocations are not this host's): remoteuser_store_sessions_revoked_total
     * {reason="admin"|"deactivation"} */
    RUS_G_REVOKED_ADMIN,
    RUS_G_REVOKED_DEACTIVATION,
    RUS_G_GAUGES
} rus_gauge_e;

/** Seconds between two reads of the gauges from the store. */
#define RUS_METRICS_GAUGE_INTERVAL 10

/** Upper bounds of the store latency histogram's buckets, in seconds
 *  (0.1 ms to 5 s; +Inf is implied):
 *  remoteuser_store_call_duration_seconds. */
#define RUS_METRICS_BUCKETS 13
extern const double rus_metrics_bucket_bounds[RUS_METRICS_BUCKETS];

/** What a counter is called where it is shown (static strings). */
typedef struct rus_metric_info_t {
    const char *name;   /**< the Prometheus family:
                             "remoteuser_requests_total" */
    const char *label;  /**< its label besides server_name ("source"), or
                             NULL */
    const char *value;  /**< this counter's label value ("frontend") */
    const char *help;   /**< the family's HELP text */
    const char *json;   /**< the family's key in rus_metrics_json()
                             ("requests") */
    const char *status; /**< its ?auto key after "RemoteUser"
                             ("RequestsFrontend") */
} rus_metric_info_t;

/** The names of counter @a c, or NULL when there is no such counter. */
const rus_metric_info_t *rus_metric_info(rus_metric_e c);

typedef struct rus_metrics_t rus_metrics_t;
/** One virtual host's set (a place in the shared memory, the same in
 *  every process that inherited it). */
typedef struct rus_metrics_vhost_t rus_metrics_vhost_t;

/** Bytes of memory the counters need. */
apr_size_t rus_metrics_size(void);

/** The layout of this build's counters, as one number: memory laid out
 *  by a build with another number must not be written by this one (nor
 *  this one's by the other), so a new segment is made instead of laying
 *  it out again under the old generation's children. */
apr_uint64_t rus_metrics_layout(void);

/**
 * Use @a mem (@a size bytes, at least rus_metrics_size(), 8-byte aligned
 * as shared memory is) for the counters: laid out and zeroed when it
 * holds none yet (or another layout: another magic, layout version,
 * number of counters, gauges, buckets or sets), kept as it is when it
 * holds ours (a graceful restart). Not for two processes at once: the
 * owner calls it at startup.
 * @return the handle (from @a p), or NULL when @a mem is too small or
 *         not aligned
 */
rus_metrics_t *rus_metrics_init(void *mem, apr_size_t size, apr_pool_t *p);

/**
 * The set of the virtual host @a server_name (cleaned: a control
 * character or a byte that is not UTF-8 becomes '?'; cut to
 * RUS_METRICS_NAME_MAX bytes at a character boundary), taken in the
 * shared memory at its first
 * use; the overflow set when every set is taken, and for a NULL or empty
 * @a server_name or RUS_METRICS_OVERFLOW itself (never two series with
 * one label). Sets are never given back: a name gone from the
 * configuration keeps its set and its counts. Not for the request
 * path: call it once per virtual host at startup (it takes a spin lock of
 * the shared memory).
 * @return never NULL when @a m is not NULL
 */
rus_metrics_vhost_t *rus_metrics_vhost(rus_metrics_t *m,
                                       const char *server_name);

/** Add @a n to counter @a c of @a v (NULL: nothing). Lock-free. */
void rus_metrics_add(rus_metrics_vhost_t *v, rus_metric_e c, apr_uint64_t n);

/** Count one store call that took @a elapsed (NULL @a v: nothing). */
void rus_metrics_observe(rus_metrics_vhost_t *v, apr_interval_time_t elapsed);

/** Set a gauge (NULL @a m: nothing); @a at: when it was read. */
void rus_metrics_gauge_set(rus_metrics_t *m, rus_gauge_e g, apr_int64_t value,
                           apr_time_t at);

/**
 * Read gauge @a g: *pvalue and *pat (either may be NULL) get its value and
 * when it was read.
 * @return 1, or 0 when it was never set (or @a m is NULL)
 */
int rus_metrics_gauge_get(rus_metrics_t *m, rus_gauge_e g, apr_int64_t *pvalue,
                          apr_time_t *pat);

/**
 * Claim the next read of the gauges: 1 for the one caller of all the
 * processes sharing @a m that finds it due at @a now (and makes it due
 * RUS_METRICS_GAUGE_INTERVAL seconds later), 0 for the others and until
 * then (or when @a m is NULL). A due time more than an interval ahead
 * (the clock stepped back) is due at once.
 */
int rus_metrics_gauges_claim(rus_metrics_t *m, apr_time_t now);

/** The value of counter @a c summed over every virtual host. */
apr_uint64_t rus_metrics_total(rus_metrics_t *m, rus_metric_e c);

/** The Prometheus text exposition of everything (# HELP, # TYPE, one
 *  sample per virtual host and label value, the histogram's _bucket,
 *  _sum and _count), from @a p; a gauge never read has no sample (its
 *  family no lines). Label values are escaped as the format says
 *  (backslash, double quote, newline); names are valid UTF-8 without
 *  control characters (rus_metrics_vhost() made them so). */
const char *rus_metrics_prometheus(rus_metrics_t *m, apr_pool_t *p);

/** The same data as one JSON object, from @a p:
 *  {"server_names": {NAME: {"requests": {"frontend": N, "header": N,
 *  "session": N}, "users_created": N, "logins": N, "profile_syncs": N,
 *  "refusals": {CAUSE: N...}, "sessions_minted": N, "sessions_validated":
 *  N, "sessions_expired": {KIND: N...}, "sessions_revoked": {REASON:
 *  N...}, "cache_requests": {"hit": N, "miss": N}, "cache_invalidations":
 *  N, "store_errors": {KIND: N...}, "store_call_duration_seconds":
 *  {"buckets": {"0.0001": N... "+Inf": N} (cumulative), "sum": SECONDS,
 *  "count": N}}...}, "gauges": {"users": N, "sessions_active": N,
 *  "store_sessions_revoked": {"admin": N, "deactivation": N}}}: the keys
 *  are the family names without "remoteuser_" and "_total", the label
 *  values as in Prometheus; a gauge never read is null. Names are
 *  escaped as JSON asks, UTF-8 as it is. */
const char *rus_metrics_json(rus_metrics_t *m, apr_pool_t *p);

/** mod_status's ?auto lines, totals over the virtual hosts, from @a p:
 *  "RemoteUser" and rus_metric_info()'s status key for each counter
 *  ("RemoteUserLogins: N\n", "RemoteUserRefusalsInactive: N\n"), the
 *  sums RemoteUserRefusals, RemoteUserSessionsExpired,
 *  RemoteUserSessionsRevoked and RemoteUserStoreErrors before their
 *  parts, RemoteUserCacheHitRatio (hits / (hits + misses), a decimal with
 *  a dot, "0" when there was no lookup) after RemoteUserCacheMisses,
 *  RemoteUserStoreCalls and RemoteUserStoreCallSeconds (the histogram's
 *  count and sum), then the gauges read so far: RemoteUserUsers,
 *  RemoteUserSessionsActive, RemoteUserStoreSessionsRevokedAdmin,
 *  RemoteUserStoreSessionsRevokedDeactivation. */
const char *rus_metrics_status_auto(rus_metrics_t *m, apr_pool_t *p);

/** For mod_status's HTML page: a table of every counter (a row each,
 *  a column per virtual host, names escaped), the histogram's count and
 *  sum, then the gauges read so far, from @a p. No heading. */
const char *rus_metrics_status_html(rus_metrics_t *m, apr_pool_t *p);

#endif /* RUS_METRICS_H */
