/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The answer cache kept true to the store (see rus_coherence.h).
 *
 * Fast path, every request: read the store's mark and compare it word by
 * word with the one this process applied last (atomic loads; the applier
 * stores it word by word only after its drops, so a torn comparison can
 * only disagree and take the slow path). Slow path, once per commit per
 * process: under the process's lock, read the mark again, read the change
 * log after the last change applied to the shared cache (by any process),
 * drop what it names, move the shared "applied" id up, then record the
 * mark. A mark that could not be read whole (a commit under way) is not
 * recorded: the log is read anyway, and the next call looks again.
 *
 * A shared store's watch reads the host's board (rus_board.h), not memory
 * of the connection: a board that cannot be trusted now (its follower
 * disconnected) keeps the watch, which works again as soon as the
 * follower publishes, and a connection the store's server dropped is
 * closed and opened again (at most once a second, and only while the
 * board is trusted) without touching the watch. Opening one may wait for
 * a server that does not answer: a thread that finds another applying
 * takes a miss instead of waiting. */

#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "rus_coherence.h"

/* Attempts at reading a whole mark while commits are being recorded. */
#define MARK_TRIES 3

/* Past this many changes in one read (remoteuser-admin session
 * revoke-all on a large store), the cache is emptied instead of dropping
 * them one by one while this process's requests wait. */
#define CHANGES_MAX 256

struct rus_coh_t {
    const rus_store_t *store;
    rus_cache_t *cache;
    apr_pool_t *pool;            /* the parent of each watch's pool */
    apr_thread_mutex_t *lock;    /* one applier at a time */
    rus_conn_t *conn;            /* this process's own; keeps the watch valid */
    apr_array_header_t *retired; /* connections of watches given up */
    rus_watch_t *watch;          /* NULL until opened, or after a failure */
    apr_int64_t retry_sec;       /* when opening was last tried */
    apr_int64_t last_id;         /* the last change this process applied */
    apr_uint32_t applied[RUS_STORE_MARK_WORDS]; /* 0s: none recorded */
    int failing;   /* a warning was given for this streak */
    int warn_due;  /* ... and rus_coh_take_warning has not taken it */
    char why[256]; /* the reason of the current failure */
    int walked;    /* changes in the current read */
    apr_uint64_t invalidations;
};

/* The pool's cleanup: the connection goes with it (the watches' pools,
 * its subpools, are gone by then). */
static apr_status_t coh_cleanup(void *data)
{
    rus_coh_t *coh = data;
    int i;

    rus_store_disconnect(coh->conn);
    coh->conn = NULL;
    coh->watch = NULL;
    for (i = 0; coh->retired != NULL && i < coh->retired->nelts; i++) {
        rus_store_disconnect(APR_ARRAY_IDX(coh->retired, i, rus_conn_t *));
    }
    coh->retired = NULL;
    return APR_SUCCESS;
}

rus_coh_t *rus_coh_create(const rus_store_t *store, rus_cache_t *cache,
                          apr_pool_t *p)
{
    rus_coh_t *coh;

    if (cache == NULL) {
        return NULL;
    }
    coh = apr_pcalloc(p, sizeof(*coh));
    coh->store = store;
    coh->cache = cache;
    coh->retry_sec = -1;
    if (apr_pool_create(&coh->pool, p) != APR_SUCCESS
        || apr_thread_mutex_create(&coh->lock, APR_THREAD_MUTEX_DEFAULT, p)
               != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_cleanup_register(coh->pool, coh, coh_cleanup,
                              apr_pool_cleanup_null);
    return coh;
}

static int mark_is_applied(rus_coh_t *coh, const rus_store_mark_t *mark)
{
    int i;

    for (i = 0; i < RUS_STORE_MARK_WORDS; i++) {
        if (__atomic_load_n(&coh->applied[i], __ATOMIC_ACQUIRE) != mark->w[i]) {
            return 0;
        }
    }
    return 1;
}

static void mark_record(rus_coh_t *coh, const rus_store_mark_t *mark)
{
    int i;

    for (i = 0; i < RUS_STORE_MARK_WORDS; i++) {
        __atomic_store_n(&coh->applied[i], mark ? mark->w[i] : 0,
                         __ATOMIC_RELEASE);
    }
}

/* Give up the connection and the watch (under the lock). The watch's
 * memory stays until the process ends: a thread on the fast path may be
 * reading through it now. Only a watch that stopped working is given up,
 * which takes the store replaced underneath. */
static void coh_close(rus_coh_t *coh)
{
    __atomic_store_n(&coh->watch, NULL, __ATOMIC_RELEASE);
    mark_record(coh, NULL);
    /* Not closed now: the watch reads memory that lives as long as its
     * connection, and a thread on the fast path may be reading it. Kept
     * until the process ends (only a store replaced underneath gets
     * here, each time at most once a second). */
    if (coh->conn != NULL) {
        if (coh->retired == NULL) {
            coh->retired = apr_array_make(coh->pool, 2, sizeof(rus_conn_t *));
        }
        APR_ARRAY_PUSH(coh->retired, rus_conn_t *) = coh->conn;
    }
    coh->conn = NULL;
}

static apr_status_t coh_fail(rus_coh_t *coh, apr_status_t rv, const char *what,
                             const char *msg)
{
    apr_snprintf(coh->why, sizeof(coh->why), "%s: %s", what,
                 msg && *msg ? msg : "failed");
    return rv;
}

/* Open the connection and the watch (under the lock). */
static apr_status_t coh_open(rus_coh_t *coh, apr_int64_t now)
{
    rus_watch_t *watch = NULL;
    const char *msg = NULL;
    apr_pool_t *wp = NULL;
    apr_status_t rv;

    __atomic_store_n(&coh->retry_sec, now, __ATOMIC_RELAXED);
    rv = apr_pool_create(&wp, coh->pool);
    if (rv != APR_SUCCESS) {
        return coh_fail(coh, rv, "cannot watch the store", "out of memory");
    }
    rv = rus_store_connect(&coh->conn, coh->store, wp, &msg);
    if (rv != APR_SUCCESS) {
        coh->conn = NULL;
        coh_fail(coh, rv, "cannot open the store", msg);
        apr_pool_destroy(wp);
        return rv;
    }
    rv = rus_store_watch(&watch, coh->conn, wp);
    if (rv != APR_SUCCESS) {
        /* never published: nobody reads through it */
        coh_fail(coh, rv, "cannot watch the store for changes",
                 rus_store_error(coh->conn));
        rus_store_disconnect(coh->conn);
        coh->conn = NULL;
        apr_pool_destroy(wp);
        return rv;
    }
    __atomic_store_n(&coh->watch, watch, __ATOMIC_RELEASE);
    return APR_SUCCESS;
}

static apr_status_t apply_one(void *baton, const rus_change_t *change)
{
    rus_coh_t *coh = baton;

    if (++coh->walked > CHANGES_MAX) {
        return RUS_CHANGES_ENOUGH;
    }
    if (change->session_hash != NULL) {
        rus_cache_drop(coh->cache, change->session_hash);
    }
    else {
        rus_cache_drop_user(coh->cache, change->user_id);
    }
    __atomic_add_fetch(&coh->invalidations, 1, __ATOMIC_RELAXED);
    return APR_SUCCESS;
}

/* A shared store's connection again, its watch kept (under the lock). */
static apr_status_t coh_reconnect(rus_coh_t *coh, apr_int64_t now)
{
    const char *msg = NULL;
    apr_pool_t *ptemp = NULL;
    apr_status_t rv;

    __atomic_store_n(&coh->retry_sec, now, __ATOMIC_RELAXED);
    rv = apr_pool_create(&ptemp, coh->pool);
    if (rv != APR_SUCCESS) {
        return coh_fail(coh, rv, "cannot open the store", "out of memory");
    }
    rv = rus_store_connect(&coh->conn, coh->store, ptemp, &msg);
    if (rv != APR_SUCCESS) {
        coh->conn = NULL;
        coh_fail(coh, rv, "cannot open the store", msg);
    }
    apr_pool_destroy(ptemp);
    return rv;
}

/* The slow path, under the lock. */
static apr_status_t coh_apply(rus_coh_t *coh, apr_int64_t now)
{
    rus_store_mark_t mark;
    const char *msg = NULL;
    apr_int64_t since, last = 0;
    apr_status_t rv = APR_EAGAIN;
    int tries, whole;

    if (coh->watch == NULL) {
        if (coh->retry_sec == now) {
            return APR_EAGAIN; /* tried this second already */
        }
        rv = coh_open(coh, now);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = APR_EAGAIN; /* opened: its mark is still to be read */
    }
    for (tries = 0; tries < MARK_TRIES && APR_STATUS_IS_EAGAIN(rv); tries++) {
        rv = rus_store_watch_mark(coh->watch, now, &mark, &msg);
    }
    if (rv == APR_SUCCESS && mark_is_applied(coh, &mark)) {
        return APR_SUCCESS; /* another thread applied it meanwhile */
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)
        && rus_store_is_shared(coh->store)) {
        /* The board comes back by itself when its follower does, and
         * the follower tells why it is down (or never came up): no
         * warning of this process's own, only no cache. */
        mark_record(coh, NULL);
        coh_fail(coh, rv,
                 "the host's view of the store's commits cannot be trusted "
                 "now",
                 msg);
        return APR_EAGAIN;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        coh_fail(coh, rv, "the store's watch stopped working", msg);
        coh_close(coh);
        return rv;
    }
    whole = rv == APR_SUCCESS;
    if (coh->conn == NULL) {
        /* a shared store's connection was lost (see the file comment);
         * opened again only once the board is trusted */
        if (coh->retry_sec == now) {
            return APR_EAGAIN; /* tried this second already */
        }
        rv = coh_reconnect(coh, now);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    since = rus_cache_applied(coh->cache);
    if (since < coh->last_id) {
        since = coh->last_id;
    }
    coh->walked = 0;
    rv = rus_store_changes_since(coh->conn, since, apply_one, coh, &last);
    if (rv == RUS_CHANGES_ENOUGH) {
        /* after the read of the last id: whatever it covers goes */
        rus_cache_flush(coh->cache);
        __atomic_add_fetch(&coh->invalidations, 1, __ATOMIC_RELAXED);
        if (last < since) {
            /* the log went backwards (a restore): start over from it */
            rus_cache_reset_applied(coh->cache, last);
        }
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        /* The watch still works: the next call reads the log again. */
        mark_record(coh, NULL);
        coh_fail(coh, rv, "cannot read the store's changes",
                 rus_store_error(coh->conn));
        if (rv == RUS_STORE_EUNREACHABLE && rus_store_is_shared(coh->store)) {
            /* lost: another connection at the next call (the watch reads
             * the board, nothing of this connection) */
            rus_store_disconnect(coh->conn);
            coh->conn = NULL;
        }
        return rv;
    }
    coh->last_id = last;
    rus_cache_set_applied(coh->cache, last);
    /* Torn: applied as of the log read, but the mark to compare with is
     * unknown; the next call reads the log again. */
    mark_record(coh, whole ? &mark : NULL);
    return APR_SUCCESS;
}

apr_status_t rus_coh_sync(rus_coh_t *coh, apr_int64_t now, const char **pwarn,
                          apr_pool_t *p)
{
    rus_watch_t *watch;
    rus_store_mark_t mark;
    const char *msg = NULL;
    apr_status_t rv;

    if (pwarn != NULL) {
        *pwarn = NULL;
    }
    if (coh == NULL) {
        return APR_EINIT;
    }
    watch = __atomic_load_n(&coh->watch, __ATOMIC_ACQUIRE);
    if (watch != NULL
        && rus_store_watch_mark(watch, now, &mark, &msg) == APR_SUCCESS
        && mark_is_applied(coh, &mark)) {
        return APR_SUCCESS;
    }
    if (watch == NULL
        && __atomic_load_n(&coh->retry_sec, __ATOMIC_RELAXED) == now) {
        return APR_EAGAIN; /* not watching; opening is tried once a second */
    }
    if (rus_store_is_shared(coh->store)) {
        /* Never wait for another thread here: it may be opening a
         * connection to a server that does not answer (connect_timeout).
         * Busy: a miss, which asks the store. */
        if (apr_thread_mutex_trylock(coh->lock) != APR_SUCCESS) {
            return APR_EAGAIN;
        }
    }
    else {
        apr_thread_mutex_lock(coh->lock);
    }
    rv = coh_apply(coh, now);
    if (rv == APR_SUCCESS) {
        coh->failing = 0;
    }
    else if (!coh->failing && !APR_STATUS_IS_EAGAIN(rv)) {
        coh->failing = 1;
        if (pwarn != NULL) {
            *pwarn = apr_pstrdup(p, coh->why);
        }
        else {
            coh->warn_due = 1;
        }
    }
    apr_thread_mutex_unlock(coh->lock);
    return rv;
}

int rus_coh_fresh(rus_coh_t *coh, apr_int64_t now)
{
    rus_watch_t *watch;
    rus_store_mark_t mark;
    const char *msg = NULL;

    if (coh == NULL) {
        return 0;
    }
    watch = __atomic_load_n(&coh->watch, __ATOMIC_ACQUIRE);
    return watch != NULL
           && rus_store_watch_mark(watch, now, &mark, &msg) == APR_SUCCESS
           && mark_is_applied(coh, &mark);
}

int rus_coh_guard(void *baton, rus_cache_guard_e what, apr_int64_t now)
{
    rus_coh_t *coh = baton;

    if (what == RUS_CACHE_GUARD_PEEK) {
        return rus_coh_fresh(coh, now);
    }
    return rus_coh_sync(coh, now, NULL, NULL) == APR_SUCCESS;
}

int rus_coh_take_warning(rus_coh_t *coh, char *buf, apr_size_t len)
{
    int due;

    if (coh == NULL || len == 0
        || !__atomic_load_n(&coh->warn_due, __ATOMIC_RELAXED)) {
        return 0;
    }
    if (!rus_store_is_shared(coh->store)) {
        apr_thread_mutex_lock(coh->lock);
    }
    else if (apr_thread_mutex_trylock(coh->lock) != APR_SUCCESS) {
        return 0; /* busy (see rus_coh_sync()): given at a later call */
    }
    due = coh->warn_due;
    coh->warn_due = 0;
    if (due) {
        apr_cpystrn(buf, coh->why, len);
    }
    apr_thread_mutex_unlock(coh->lock);
    return due;
}

apr_uint64_t rus_coh_invalidations(rus_coh_t *coh)
{
    return coh ? __atomic_load_n(&coh->invalidations, __ATOMIC_RELAXED) : 0;
}
