/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The user policy: find, create, refuse inactive, record the login. The
 * store does the storing; this file decides. */

#include <string.h>

#include <apr_strings.h>

#include "rus_user.h"

/* Does the policy ask for a known user's profile to be written, here
 * @a user as the store (or the cache) has it? */
static int wants_sync(const rus_user_policy_t *policy, const rus_user_t *user)
{
    return policy->sync_login && policy->profile != NULL
           && rus_profile_differs(user, policy->profile);
}

/* A known, accepted user whose profile differs: write it with the login's
 * record in one transaction, then read the row as it is now. */
static apr_status_t sync_user(rus_resolution_t *out, rus_conn_t *conn,
                              const char *username,
                              const rus_user_policy_t *policy, apr_int64_t now,
                              apr_pool_t *p)
{
    apr_status_t rv;

    /* Not bookkeeping: answered without it, the request would carry
     * memberships the front end just took away. */
    rv = rus_gate_enter(policy->gate);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = rus_user_sync(conn, out->user.id, policy->profile, now,
                       RUS_LOGIN_TOUCH_INTERVAL);
    rus_gate_leave(policy->gate);
    out->sync_rv = rv;
    if (rv == APR_SUCCESS) {
        rv = rus_user_find(conn, username, &out->user, p);
    }
    out->synced = rv == APR_SUCCESS;
    return rv;
}

apr_status_t rus_user_resolve(rus_resolution_t *res, rus_conn_t *conn,
                              const char *username,
                              const rus_user_policy_t *policy, apr_int64_t now,
                              apr_pool_t *p)
{
    rus_resolution_t out;
    apr_status_t rv;

    memset(&out, 0, sizeof(out));
    out.verdict = RUS_VERDICT_ACCEPT;
    out.touch_rv = APR_SUCCESS;
    out.sync_rv = APR_SUCCESS;
    rv = rus_user_find(conn, username, &out.user, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        if (!policy->create_unknown) {
            out.verdict = RUS_VERDICT_UNKNOWN;
            rv = APR_SUCCESS;
            goto leave;
        }
        rv = rus_gate_enter(policy->gate);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        rv = rus_user_create_with(conn, username, now, policy->profile,
                                  &out.user, &out.created, p);
        rus_gate_leave(policy->gate);
        out.synced =
            rv == APR_SUCCESS && out.created && policy->profile != NULL;
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (!out.user.is_active && !policy->allow_inactive) {
        /* A refused login writes nothing of what it said. */
        out.verdict = RUS_VERDICT_INACTIVE;
        goto leave;
    }
    if (!out.created && wants_sync(policy, &out.user)) {
        /* The sync records the login too (rus_user_sync()). */
        rv = sync_user(&out, conn, username, policy, now, p);
        goto leave;
    }
    /* A just-created row carries last_login = now already; otherwise write
     * only when the recorded one is older than the interval, so most
     * requests never take the write lock. Bookkeeping: with the gate full
     * it waits for a later request rather than make this one wait. */
    if (!out.created
        && (out.user.last_login == 0
            || now - out.user.last_login >= RUS_LOGIN_TOUCH_INTERVAL)) {
        if (rus_gate_enter(policy->gate) != APR_SUCCESS) {
            out.touch_skipped = 1;
        }
        else {
            out.touch_rv = rus_user_touch_login(conn, out.user.id, now,
                                                RUS_LOGIN_TOUCH_INTERVAL);
            rus_gate_leave(policy->gate);
        }
        if (!out.touch_skipped && out.touch_rv == APR_SUCCESS) {
            out.user.last_login = now;
        }
    }

leave:
    if (rv == APR_SUCCESS) {
        *res = out;
    }
    return rv;
}

apr_status_t rus_user_lookup(rus_user_lookup_t *out, rus_store_pool_t *spool,
                             rus_cache_t *cache, const char *username,
                             const rus_user_policy_t *policy, apr_int64_t now,
                             apr_pool_t *p)
{
    const char *key = apr_pstrcat(p, "u:", username, NULL);
    rus_conn_t *conn = NULL;
    rus_cache_ticket_t ticket;
    apr_status_t rv = APR_SUCCESS;

    memset(out, 0, sizeof(*out));
    if (rus_cache_get(cache, key, now, &out->res.user, NULL, p)
        && out->res.user.last_login > 0
        && now - out->res.user.last_login < RUS_LOGIN_TOUCH_INTERVAL
        && !((out->res.user.is_active || policy->allow_inactive)
             && wants_sync(policy, &out->res.user))) {
        out->res.verdict = (out->res.user.is_active || policy->allow_inactive)
                               ? RUS_VERDICT_ACCEPT
                               : RUS_VERDICT_INACTIVE;
        out->res.touch_rv = APR_SUCCESS;
        out->res.sync_rv = APR_SUCCESS;
        out->cached = 1;
        goto leave;
    }
    ticket = rus_cache_ticket(cache, key);
    out->stage = RUS_LOOKUP_CONNECT;
    rv = rus_store_acquire(&conn, spool, p, &out->msg);
    if (rv != APR_SUCCESS) {
        conn = NULL;
        goto leave;
    }
    out->stage = RUS_LOOKUP_RESOLVE;
    rv = rus_user_resolve(&out->res, conn, username, policy, now, p);
    if (rv != APR_SUCCESS || out->res.touch_rv != APR_SUCCESS) {
        out->msg = APR_STATUS_IS_ENOENT(rv)
                       ? "the user was deleted while logging in"
                       : apr_pstrdup(p, rus_store_error(conn));
    }
    if (rv == APR_SUCCESS && out->res.verdict != RUS_VERDICT_UNKNOWN) {
        rus_cache_put(cache, key, now, ticket, &out->res.user, NULL);
    }

leave:
    rus_store_release(spool, conn);
    return rv;
}
