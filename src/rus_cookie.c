/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The cookie path: from the Cookie header to the one valid session, and
 * the writes that end sessions with their cache drops. */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "rus_cookie.h"
#include "rus_token.h"
#include "rus_username.h"

static void note(const rus_cookie_env_t *env, const char *why)
{
    if (env->note != NULL) {
        env->note(env->baton, why);
    }
}

apr_array_header_t *rus_cookie_hashes(const char *header, const char *name,
                                      const rus_cookie_env_t *env,
                                      apr_pool_t *p)
{
    apr_array_header_t *hashes = apr_array_make(p, 2, sizeof(char *));
    apr_hash_t *seen;
    const char **values;
    apr_size_t len;
    int i, n, max;

    len = header ? strlen(header) : 0;
    if (len == 0 || len > RUS_COOKIE_HEADER_MAX) {
        return hashes;
    }
    /* every cookie of ours takes at least "NAME=x" and a separator */
    max = (int)(len / (strlen(name) + 2)) + 1;
    values = apr_palloc(p, sizeof(*values) * (apr_size_t)max);
    n = rus_cookie_values(header, name, values, max, p);
    seen = n > 1 ? apr_hash_make(p) : NULL;
    for (i = 0; i < n; i++) {
        const char *hash = NULL;

        if (rus_token_hash(&hash, values[i], p) != APR_SUCCESS) {
            note(env, "malformed");
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

apr_status_t rus_cookie_revoke(rus_conn_t *conn, rus_cache_t *cache,
                               const char *hash, apr_int64_t user_id)
{
    apr_status_t rv = APR_SUCCESS;

    if (conn != NULL) {
        rv = user_id > 0 ? rus_session_revoke_user(conn, user_id)
                         : rus_session_revoke(conn, hash);
    }
    rus_cache_drop(cache, hash);
    return rv;
}

apr_status_t rus_cookie_trim(rus_conn_t *conn, rus_cache_t *cache,
                             apr_int64_t user_id, int keep, const char *newest,
                             apr_array_header_t **phashes, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    rv = rus_session_trim_user(conn, user_id, keep, newest, phashes, p);
    for (i = 0; rv == APR_SUCCESS && *phashes != NULL && i < (*phashes)->nelts;
         i++) {
        rus_cache_drop(cache, APR_ARRAY_IDX(*phashes, i, const char *));
    }
    return rv;
}

/* A session found among the request's cookies. */
typedef struct candidate_t {
    const char *hash;
    rus_session_t sess;
    rus_user_t user;
    int cached;
    rus_cache_ticket_t ticket;
    rus_session_verdict_e verdict; /* what it is worth here */
    int valid;                     /* a session, for this request */
} candidate_t;

/* The lookup's state: the connection is taken when first needed. */
typedef struct cookie_walk_t {
    rus_cookie_lookup_t *out;
    const rus_cookie_env_t *env;
    const rus_session_limits_t *lim;
    apr_int64_t now;
    rus_conn_t *conn;
    apr_pool_t *p;
} cookie_walk_t;

/* The lookup stops on a store failure: *w->out says where. */
static void store_failed(cookie_walk_t *w, apr_status_t rv, const char *what,
                         const char *msg)
{
    w->out->outcome = RUS_COOKIE_STORE_FAILED;
    w->out->rv = rv;
    w->out->what = what;
    w->out->msg = msg;
}

static int candidate_act(cookie_walk_t *w, candidate_t *c,
                         rus_session_state_e state);

/* Judge the candidate @a c (its hash set), from the cache or the store,
 * and act on the verdict: c->valid tells whether it is a session.
 * Returns 0 to go on, 1 when the lookup ends here (*w->out says why). */
static int candidate_judge(cookie_walk_t *w, candidate_t *c)
{
    const rus_cookie_env_t *env = w->env;
    rus_session_state_e state = RUS_SESSION_VALID;
    const char *msg = NULL;
    apr_status_t rv;

    c->valid = 0;
    c->ticket = rus_cache_ticket(env->cache, c->hash);
    c->cached =
        rus_cache_get(env->cache, c->hash, w->now, &c->user, &c->sess, w->p);
    if (env->cache != NULL) {
        w->out->cache_hits += c->cached;
        w->out->cache_misses += !c->cached;
    }
    c->verdict = c->cached ? rus_session_verdict(&c->sess, c->user.is_active,
                                                 w->lim, w->now, &state)
                           : RUS_SV_VALID;
    /* A store connection unless the session is fine from the cache. */
    if ((!c->cached
         || (c->verdict != RUS_SV_VALID && c->verdict != RUS_SV_VALID_TOUCH))
        && w->conn == NULL) {
        rv = rus_store_acquire(&w->conn, env->spool, w->p, &msg);
        if (rv != APR_SUCCESS) {
            w->conn = NULL;
            store_failed(w, rv, "looking up a session", msg);
            return 1;
        }
    }
    if (!c->cached) {
        rv = rus_session_find(w->conn, c->hash, &c->sess, &c->user, w->p);
        if (APR_STATUS_IS_ENOENT(rv)) {
            note(env, "unknown or revoked");
            return 0;
        }
        if (rv != APR_SUCCESS) {
            store_failed(w, rv, "looking up a session",
                         apr_pstrdup(w->p, rus_store_error(w->conn)));
            return 1;
        }
        c->verdict = rus_session_verdict(&c->sess, c->user.is_active, w->lim,
                                         w->now, &state);
    }
    if (rus_text_check(c->user.username, strlen(c->user.username))
        != RUS_NAME_OK) {
        /* Only a hand-edited store gets here; nothing from it goes into
         * r->user, headers or logs unchecked. */
        note(env, "the user name in the store is not clean");
        return 0;
    }
    return candidate_act(w, c, state);
}

/* Act on the verdict of a candidate whose session and user were read
 * (@a state: the session's, for the note). Returns as candidate_judge(). */
static int candidate_act(cookie_walk_t *w, candidate_t *c,
                         rus_session_state_e state)
{
    const rus_cookie_env_t *env = w->env;
    apr_status_t rv;

    if (c->verdict == RUS_SV_INVALID || c->verdict == RUS_SV_REVOKE_EXPIRED
        || c->verdict == RUS_SV_REVOKE_IDLE) {
        w->out->expired_absolute +=
            state == RUS_SESSION_EXPIRED || state == RUS_SESSION_TOO_OLD;
        w->out->expired_idle += state == RUS_SESSION_IDLE;
    }
    switch (c->verdict) {
    case RUS_SV_VALID:
    case RUS_SV_VALID_TOUCH:
        c->valid = 1;
        return 0;
    case RUS_SV_USER_INACTIVE:
        /* Disabled: every session of the user ends now (refused either
         * way; with writers queueing, at a later request). */
        rv = APR_SUCCESS;
        if (rus_gate_enter(env->gate) == APR_SUCCESS) {
            rv = rus_cookie_revoke(w->conn, env->cache, c->hash, c->user.id);
            rus_gate_leave(env->gate);
        }
        else {
            rus_cookie_revoke(NULL, env->cache, c->hash, c->user.id);
        }
        if (rv != APR_SUCCESS) {
            store_failed(w, rv, "revoking sessions",
                         apr_pstrdup(w->p, rus_store_error(w->conn)));
            return 1;
        }
        w->out->outcome = RUS_COOKIE_INACTIVE;
        w->out->user = c->user;
        return 1;
    case RUS_SV_REVOKE_EXPIRED:
    case RUS_SV_REVOKE_IDLE:
        note(env, rus_session_state_str(state));
        /* dead for good, beyond a clock jump: tidy up now, unless writers
         * are queueing; one just past its time (RUS_SV_INVALID) is left
         * to the purge */
        if (rus_gate_enter(env->gate) == APR_SUCCESS) {
            rus_cookie_revoke(w->conn, env->cache, c->hash, 0);
            rus_gate_leave(env->gate);
        }
        return 0;
    case RUS_SV_INVALID:
    case RUS_SV_FOREIGN_VHOST:
        break;
    }
    note(env, rus_session_state_str(state));
    return 0;
}

/* The one valid session: recorded in *w->out, last_seen written when
 * due, the cache refreshed. */
static void candidate_use(cookie_walk_t *w, candidate_t *c)
{
    const rus_cookie_env_t *env = w->env;
    rus_cookie_lookup_t *out = w->out;
    const char *msg = NULL;
    apr_status_t rv = APR_SUCCESS;

    out->outcome = RUS_COOKIE_ONE;
    out->hash = c->hash;
    out->sess = c->sess;
    out->user = c->user;
    /* last_seen is bookkeeping (and under IdleTimeout, written well before
     * it matters): with writers queueing it waits for a later request
     * rather than make this one wait. */
    if (c->verdict == RUS_SV_VALID_TOUCH
        && rus_gate_enter(env->gate) == APR_SUCCESS) {
        if (w->conn == NULL) {
            rv = rus_store_acquire(&w->conn, env->spool, w->p, &msg);
            w->conn = rv == APR_SUCCESS ? w->conn : NULL;
        }
        /* without a connection, the acquire's failure is the cause */
        if (w->conn != NULL) {
            rv = rus_session_touch(w->conn, c->hash, w->now);
        }
        rus_gate_leave(env->gate);
        if (rv == APR_SUCCESS) {
            rus_session_touched(&c->sess, w->now);
            c->cached = 0; /* store the fresher copy */
        }
        else {
            out->touch_rv = rv;
            out->touch_msg =
                w->conn ? apr_pstrdup(w->p, rus_store_error(w->conn)) : msg;
        }
    }
    if (!c->cached) {
        rus_cache_put(env->cache, c->hash, w->now, c->ticket, &c->user,
                      &c->sess);
    }
}

void rus_cookie_lookup(rus_cookie_lookup_t *out, const char *header,
                       const char *name, const rus_session_limits_t *lim,
                       apr_int64_t now, const rus_cookie_env_t *env,
                       apr_pool_t *p)
{
    apr_array_header_t *hashes, *found;
    cookie_walk_t w;
    candidate_t *c;
    int i;

    memset(out, 0, sizeof(*out));
    out->outcome = RUS_COOKIE_NONE;
    out->touch_rv = APR_SUCCESS;
    out->valid = apr_array_make(p, 1, sizeof(char *));
    w.out = out;
    w.env = env;
    w.lim = lim;
    w.now = now;
    w.conn = NULL;
    w.p = p;
    hashes = rus_cookie_hashes(header, name, env, p);
    if (hashes->nelts > RUS_COOKIE_CANDIDATES_MAX) {
        out->outcome = RUS_COOKIE_TOO_MANY;
        out->count = hashes->nelts;
        goto leave;
    }
    found = apr_array_make(p, 1, sizeof(candidate_t));
    for (i = 0; i < hashes->nelts; i++) {
        c = apr_array_push(found);
        c->hash = APR_ARRAY_IDX(hashes, i, const char *);
        if (candidate_judge(&w, c)) {
            goto leave;
        }
        if (!c->valid) {
            found->nelts--;
            continue;
        }
        APR_ARRAY_PUSH(out->valid, const char *) = c->hash;
    }
    if (found->nelts > 1) {
        /* A cookie planted from a sibling domain or over plain HTTP sits
         * next to the user's own: neither can be told from the other. */
        out->outcome = RUS_COOKIE_AMBIGUOUS;
        out->count = found->nelts;
        out->user = APR_ARRAY_IDX(found, 0, candidate_t).user;
        out->other_user = APR_ARRAY_IDX(found, 1, candidate_t).user.username;
    }
    else if (found->nelts == 1) {
        candidate_use(&w, &APR_ARRAY_IDX(found, 0, candidate_t));
    }

leave:
    out->store_asked =
        w.conn != NULL || out->outcome == RUS_COOKIE_STORE_FAILED;
    rus_store_release(env->spool, w.conn);
}
