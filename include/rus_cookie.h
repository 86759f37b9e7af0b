/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_cookie.h
 * @brief The cookie path of a request in one call: from the Cookie header
 *        to the one valid session it carries, through the answer cache
 *        and the store; and the store writes that end sessions, each with
 *        the cache drop that goes with it. The glue translates httpd in
 *        (header, settings, handles) and the outcome out (status, log).
 */
#ifndef RUS_COOKIE_H
#define RUS_COOKIE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rus_cache.h"
#include "rus_gate.h"
#include "rus_session.h"
#include "rus_store.h"

/** Told why a cookie of ours is no session ("malformed", "unknown or
 *  revoked", a rus_session_state_str()...), in order, for a debug line. */
typedef void rus_cookie_note_fn(void *baton, const char *why);

/** What the cookie path needs besides the request. */
typedef struct rus_cookie_env_t {
    rus_store_pool_t *spool;  /**< connections are taken from it */
    rus_cache_t *cache;       /**< answers; NULL: no cache */
    rus_gate_t *gate;         /**< store writes go through it; NULL: none */
    rus_cookie_note_fn *note; /**< may be NULL */
    void *baton;              /**< for @c note */
} rus_cookie_env_t;

/** What the session cookies of a request came to. */
typedef enum {
    RUS_COOKIE_NONE = 0,    /**< no session (none sent, none valid) */
    RUS_COOKIE_ONE,         /**< exactly one valid session */
    RUS_COOKIE_TOO_MANY,    /**< more than RUS_COOKIE_CANDIDATES_MAX
                                  distinct tokens: none looked up */
    RUS_COOKIE_AMBIGUOUS,   /**< more than one valid session: none used */
    RUS_COOKIE_INACTIVE,    /**< a session of an inactive user: refuse;
                                  every session of the user was revoked
                                  (unless writers were queueing) */
    RUS_COOKIE_STORE_FAILED /**< the store failed: rv, what, msg */
} rus_cookie_outcome_e;

/** The outcome of rus_cookie_lookup(). */
typedef struct rus_cookie_lookup_t {
    rus_cookie_outcome_e outcome;
    int count;                 /**< TOO_MANY: distinct tokens sent;
                                    AMBIGUOUS: valid sessions */
    apr_array_header_t *valid; /**< hashes (const char *) of the valid
                                    sessions seen, in order */
    const char *hash;          /**< ONE: the session's hash */
    rus_session_t sess;        /**< ONE: the session, last_seen as it was
                                    before this request touched it */
    rus_user_t user;           /**< ONE, INACTIVE: its user; AMBIGUOUS:
                                    the first session's */
    const char *other_user;    /**< AMBIGUOUS: the second session's user */
    apr_status_t rv;           /**< STORE_FAILED: the error */
    const char *what;          /**< STORE_FAILED: "looking up a session" or
                                    "revoking sessions" */
    const char *msg;           /**< STORE_FAILED: the store's explanation */
    apr_status_t touch_rv;     /**< ONE: the last_seen write's result, when
                                    one was due (bookkeeping only) */
    const char *touch_msg;     /**< and its explanation */
    /* What the lookup did, for the counters (rus_metrics.h): */
    int cache_hits;       /**< tokens the cache answered */
    int cache_misses;     /**< tokens the cache was asked about and did
                               not answer (0 and 0 without a cache) */
    int store_asked;      /**< 1: the store was asked (a connection
                               taken, or trying to failed) */
    int expired_absolute; /**< tokens past expires_at or the MaxAge in
                               force */
    int expired_idle;     /**< tokens unused beyond the idle timeout */
} rus_cookie_lookup_t;

/**
 * The stored forms (hashes) of the distinct well-formed tokens in cookies
 * named @a name of the Cookie header value @a header (NULL: none), in
 * order, within RUS_COOKIE_HEADER_MAX. A malformed value is noted and
 * skipped, so junk cannot hide a real cookie.
 * @return an array of const char *, never NULL
 */
apr_array_header_t *rus_cookie_hashes(const char *header, const char *name,
                                      const rus_cookie_env_t *env,
                                      apr_pool_t *p);

/**
 * Find the session the cookies named @a name in @a header carry, under
 * the limits @a lim at @a now. Each token is looked up in the cache, or
 * in the store (one connection, taken when first needed and released
 * before returning), and judged (rus_session_verdict()): one dead for
 * good is deleted, one of an inactive user ends all of the user's
 * sessions and the lookup; whatever is not a session is noted. Exactly
 * one valid session is ONE: its last_seen is written when due and the
 * cache refreshed. Store writes pass @c env->gate; with it full they are
 * left for a later request.
 * @param out  always written; strings and arrays from @a p
 */
void rus_cookie_lookup(rus_cookie_lookup_t *out, const char *header,
                       const char *name, const rus_session_limits_t *lim,
                       apr_int64_t now, const rus_cookie_env_t *env,
                       apr_pool_t *p);

/**
 * End sessions in the store and drop the cached answer with it, in that
 * order: a request that read the row before the write cannot put it back
 * after the drop. With @a user_id > 0 every session of that user ends,
 * else the session of @a hash; the cache entry of @a hash goes in either
 * case, whatever the write returned (a dropped entry is only read again).
 * With a NULL @a conn (no write now) only the entry goes.
 * @return the store write's status
 */
apr_status_t rus_cookie_revoke(rus_conn_t *conn, rus_cache_t *cache,
                               const char *hash, apr_int64_t user_id);

/**
 * rus_session_trim_user(), and the cache entry of every session it ended
 * dropped with it.
 */
apr_status_t rus_cookie_trim(rus_conn_t *conn, rus_cache_t *cache,
                             apr_int64_t user_id, int keep, const char *newest,
                             apr_array_header_t **phashes, apr_pool_t *p);

#endif /* RUS_COOKIE_H */
