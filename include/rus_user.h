/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_user.h
 * @brief Turning an authenticated, cleaned name into a local user: Django's
 *        RemoteUserBackend (create_unknown_user) and
 *        AllowAllUsersRemoteUserBackend (inactive users let in) semantics.
 */
#ifndef RUS_USER_H
#define RUS_USER_H

#include "rus_cache.h"
#include "rus_gate.h"
#include "rus_store.h"

/** How often last_login is written at most, in seconds. */
#define RUS_LOGIN_TOUCH_INTERVAL 60

/** What the location allows. */
typedef struct rus_user_policy_t {
    int create_unknown; /**< create a row for a name not in the store */
    int allow_inactive; /**< let users with is_active = 0 in */
    rus_gate_t *gate;   /**< every write goes through it (NULL: none);
                             when it is full a creation is refused and
                             the last_login write skipped */
    /** What this login says about the user (RemoteUserAttribute,
     *  RemoteUserGroupsFrom), checked already; NULL: nothing. Written
     *  with a new user's row, and, with @c sync_login, to a known user
     *  whose stored profile differs (rus_profile_differs()). */
    const rus_profile_t *profile;
    int sync_login; /**< RemoteUserAttributeSync Login (1) or Create (0) */
} rus_user_policy_t;

/** The decision about one name. */
typedef enum {
    RUS_VERDICT_ACCEPT = 0, /**< a usable user: let the request proceed */
    RUS_VERDICT_UNKNOWN,    /**< not in the store, and creation is off */
    RUS_VERDICT_INACTIVE    /**< in the store but disabled */
} rus_verdict_e;

/** The outcome of rus_user_resolve(). */
typedef struct rus_resolution_t {
    rus_verdict_e verdict;
    rus_user_t user;       /**< the row, for ACCEPT and INACTIVE */
    int created;           /**< 1 when this call created the row */
    apr_status_t touch_rv; /**< the last_login write's result; it does not
                                change the verdict */
    int touch_skipped;     /**< 1: last_login was due, but the gate was
                                full: not written (touch_rv APR_SUCCESS) */
    int synced;            /**< 1: this call wrote the policy's profile
                                (with a creation, or a sync) */
    apr_status_t sync_rv;  /**< the sync's result (APR_SUCCESS when none
                                ran); a failed sync fails the call */
} rus_resolution_t;

/**
 * Resolve a cleaned name through the store: find it, create it when
 * allowed (with the policy's profile, in the same transaction), refuse it
 * when inactive and not allowed, and record the login (at most once per
 * RUS_LOGIN_TOUCH_INTERVAL) when accepted. An accepted known user whose
 * profile differs from the policy's is synced (with sync_login) in one
 * transaction with the login's record (rus_user_sync()), through the
 * gate; with the gate full the call fails with RUS_GATE_EFULL (nothing
 * written), since a stale profile would be answered otherwise; the row
 * returned is the one read after the write. The find is
 * a read and never waits on @c policy->gate; the creation and the
 * last_login write each hold a place in it while they run.
 * @param res   the outcome; written only on APR_SUCCESS
 * @param now   the time of the request, UNIX seconds
 * @return APR_SUCCESS when a verdict was reached (whatever it is),
 *         RUS_GATE_EFULL when the user must be created and the gate is
 *         full (nothing was written), or the store's error;
 *         rus_store_error(conn) explains it
 */
apr_status_t rus_user_resolve(rus_resolution_t *res, rus_conn_t *conn,
                              const char *username,
                              const rus_user_policy_t *policy, apr_int64_t now,
                              apr_pool_t *p);

/** Where rus_user_lookup() failed. */
typedef enum {
    RUS_LOOKUP_CONNECT = 0, /**< no store connection could be had */
    RUS_LOOKUP_RESOLVE      /**< the store failed while resolving */
} rus_lookup_stage_e;

/** The outcome of rus_user_lookup(). */
typedef struct rus_user_lookup_t {
    rus_resolution_t res;     /**< the verdict, on APR_SUCCESS */
    int cached;               /**< 1: answered from the cache alone */
    rus_lookup_stage_e stage; /**< where it failed, on an error */
    const char *msg;          /**< the store's explanation of an error,
                                   or of a failed last_login write
                                   (res.touch_rv); NULL otherwise */
} rus_user_lookup_t;

/**
 * The user resolution of a request, in one call: a user seen moments ago
 * whose last_login needs no write yet, and whose cached profile the
 * policy's would not change, is answered from @a cache (key
 * "u:" + @a username) without touching the store; otherwise a connection
 * is taken from @a spool for rus_user_resolve(), released before
 * returning, and the answer (unless UNKNOWN) goes into the cache, under
 * the ticket taken before the store was read.
 * @param out    the outcome, always written
 * @param cache  may be NULL (no cache)
 * @return APR_SUCCESS with out->res, RUS_GATE_EFULL (nothing written), or
 *         the store's error, with out->stage and out->msg
 */
apr_status_t rus_user_lookup(rus_user_lookup_t *out, rus_store_pool_t *spool,
                             rus_cache_t *cache, const char *username,
                             const rus_user_policy_t *policy, apr_int64_t now,
                             apr_pool_t *p);

#endif /* RUS_USER_H */
