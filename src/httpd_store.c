/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The store as the glue uses it: this child's connections, the shared
 * answer cache, the write gate, the checkpoint thread, and the lookup of a
 * user on behalf of a request. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "ap_mpm.h"

#include "rus_board.h"
#include "rus_cache.h"
#include "rus_coherence.h"
#include "rus_gate.h"
#include "rus_ratelimit.h"
#include "rus_store.h"
#include "rus_user.h"
#include "rus_username.h"

#include "httpd_private.h"

rus_httpd_store_t rus_httpd_store;

/* Store failures are logged in full once, then counted: one summary line
 * (RUS00106) per STORE_LOG_INTERVAL per child while they go on. Made in
 * child_init; NULL (every failure logged) if that failed. */
#define STORE_LOG_INTERVAL_SEC 10
static rus_ratelimit_t *store_errors;
static void store_errors_flush(server_rec *s, int force);

/* The store this child's failures are about, as log lines name it (a
 * password masked); set in child_init. */
static const rus_store_t *store_named;

/* When the next store checkpoint is due (milliseconds, wrapping), in
 * memory shared by every child of this generation (made in post_config):
 * the child whose thread moves it forward checkpoints, so one process does
 * per interval however many children there are. NULL when the shared
 * memory could not be had: each child then checkpoints on its own. */
static apr_uint32_t *checkpoint_due;

/* When the next purge of expired sessions is due (UNIX seconds, wrapping),
 * in the same shared memory: the child that checkpoints also purges when
 * it is due, so one child does it per RemoteUserSessionPurgeInterval.
 * NULL with checkpoint_due. */
static apr_uint32_t *purge_due;

/* The store's WAL is emptied once per CHECKPOINT_INTERVAL_MS by one child;
 * each child's thread looks CHECKPOINT_TICK_MS apart whether it is its
 * turn. The checkpoint waits at most CHECKPOINT_WAIT_MS for other
 * connections (writers wait that long plus the copy, far below
 * RemoteUserStoreBusyTimeout). A warning after CHECKPOINT_WARN_AFTER
 * failed attempts in a row. */
#define CHECKPOINT_INTERVAL_MS 250
#define CHECKPOINT_TICK_MS     100
#define CHECKPOINT_WAIT_MS     20
#define CHECKPOINT_WARN_AFTER  100

/* RemoteUserStoreMaxWriters by default: half of the child's threads, at
 * least MAX_WRITERS_MIN. Writers can then never hold more than half of a
 * child's workers. Measured (make bench, ThreadsPerChild 32): with 16, a
 * legitimate load of 32 connections of first logins got 503 for 0.1 %
 * of its requests or less (44 % with 8), and a flood of them left the cookie
 * load as much as a static flood of the same size did (with 8 as well). */
#define MAX_WRITERS_MIN 2

#define CACHE_SLOTS 4096

/* The store's change log is pruned once per CHANGES_PRUNE_MS by the child
 * that checkpoints, of the rows older than the cache TTL and at least
 * CHANGES_KEEP_MIN seconds: a process that has not read them yet can
 * then only hold answers that have expired anyway. */
#define CHANGES_PRUNE_MS 30000
#define CHANGES_KEEP_MIN 60

/* The purge deletes at most PURGE_BATCH expired sessions per statement,
 * one statement per checkpoint turn (CHECKPOINT_INTERVAL_MS): each is a
 * write transaction of a few milliseconds, and a backlog is worked off at
 * PURGE_BATCH rows per turn without ever holding the write lock long. */
#define PURGE_BATCH 500

/* Make the checkpoint due time @a ms (milliseconds modulo 2^32) and the
 * purge's @a sec (seconds) due now. */
static void due_now(apr_uint32_t *ms, apr_uint32_t *sec)
{
    apr_time_t now = apr_time_now();

    apr_atomic_set32(ms, (apr_uint32_t)apr_time_as_msec(now));
    apr_atomic_set32(sec, (apr_uint32_t)apr_time_sec(now));
}

/* post_config, in the parent: the shared memory of this generation for
 * the answer cache and for the checkpoint election. */
void rus_httpd_store_shm_init(apr_pool_t *pconf, server_rec *s,
                              const rus_server_conf *conf)
{
    apr_status_t rv;

    if (rus_conf_cache_ttl(conf) > 0) {
        apr_size_t size = rus_cache_size(CACHE_SLOTS);
        apr_shm_t *shm = NULL;

        /* Anonymous shared memory, inherited by the children: a logout in
         * one child drops the entry for all of them, and each answer is
         * looked up once per TTL for the whole server, not once per
         * child. It goes with pconf; children of the previous generation
         * keep their mapping until they exit. */
        rv = apr_shm_create(&shm, size, NULL, pconf);
        if (rv == APR_SUCCESS) {
            rus_httpd_store.cache =
                rus_cache_init(apr_shm_baseaddr_get(shm), size, CACHE_SLOTS,
                               rus_conf_cache_ttl(conf), pconf);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00034) "cannot make %" APR_SIZE_T_FMT
                                         " bytes of shared memory for the "
                                         "answer cache; each child keeps "
                                         "its own",
                         size);
        }
    }
    rus_httpd_store.board = NULL;
    /* Only with the shared cache: a child's own cache would keep a
     * session this host's other children logged out until the board
     * moved, while a shared one drops it for all at the logout. */
    if (rus_httpd_store.cache != NULL && rus_store_is_shared(conf->store)) {
        apr_shm_t *shm = NULL;

        /* Like the cache's, anonymous and inherited; goes with pconf.
         * Without it no process trusts its cache: every request asks the
         * store (rus_store_watch() fails without a board). */
        rv = apr_shm_create(&shm, rus_board_size(), NULL, pconf);
        if (rv == APR_SUCCESS) {
            rus_httpd_store.board = rus_board_init(apr_shm_baseaddr_get(shm));
            rus_store_set_board(conf->store, rus_httpd_store.board);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00124) "cannot make %" APR_SIZE_T_FMT
                                         " bytes of shared memory for the "
                                         "board of the store %s: this "
                                         "host does not use its answer "
                                         "cache (every request asks the "
                                         "store)",
                         rus_board_size(), rus_store_describe(conf->store));
        }
    }
    checkpoint_due = NULL;
    purge_due = NULL;
    {
        apr_shm_t *shm = NULL;

        /* Like the cache, anonymous and inherited; goes with pconf. */
        rv = apr_shm_create(&shm, 2 * sizeof(apr_uint32_t), NULL, pconf);
        if (rv == APR_SUCCESS) {
            checkpoint_due = apr_shm_baseaddr_get(shm);
            purge_due = checkpoint_due + 1;
            /* Due now, and the first purge with the first checkpoint. Not
             * 0: due times are compared as a signed difference modulo
             * 2^32, and 0 lies in the future for half the clock's range
             * (24.8 days of every 49.7 for milliseconds). */
            due_now(checkpoint_due, purge_due);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         RUSLOGNO(00060) "no shared memory to elect the "
                                         "child that checkpoints the store: "
                                         "every child does, every 250 ms");
        }
    }
}

/* ==================================================================== */
/* store maintenance: one thread per child, one checkpoint per interval  */

typedef struct rus_checkpointer {
    const rus_store_t *store;
    apr_int64_t keep_changes; /* seconds the change log is kept */
    apr_time_t pruned_at;     /* when this thread last pruned it */
    server_rec *s;
    apr_thread_mutex_t *lock; /* guards stop */
    apr_thread_cond_t *wake;  /* signalled to stop */
    int stop;                 /* the child is exiting */
    apr_thread_t *thread;
    apr_uint32_t own_due;       /* when checkpoint_due is NULL */
    int failures;               /* attempts in a row that did not empty it */
    int purge_interval;         /* RemoteUserSessionPurgeInterval, 0: never */
    apr_uint32_t own_purge_due; /* when purge_due is NULL */
    int purge_failures;         /* purges in a row that failed */
} rus_checkpointer;

/* Nonzero when this process won the interval starting now: the due time
 * is moved forward by whoever swaps it first. */
static int checkpoint_claim(rus_checkpointer *cp)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_as_msec(apr_time_now());
    apr_uint32_t *due = checkpoint_due ? checkpoint_due : &cp->own_due;
    apr_uint32_t when = apr_atomic_read32(due);

    if ((apr_int32_t)(now - when) < 0) {
        return 0; /* not yet (the difference survives the wrap) */
    }
    return apr_atomic_cas32(due, now + CHECKPOINT_INTERVAL_MS, when) == when;
}

/* The purge of expired sessions, when it is due (the interval since the
 * last one, by whichever child): one batch. A full batch leaves more
 * behind, and the next turn takes the next batch. Failures are told once
 * per streak; the next purge is tried an interval later. */
static void purge_if_due(rus_checkpointer *cp, rus_conn_t *conn)
{
    apr_uint32_t *due = purge_due ? purge_due : &cp->own_purge_due;
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_uint32_t when = apr_atomic_read32(due);
    int purged = 0;
    apr_status_t rv;

    if (cp->purge_interval <= 0 || (apr_int32_t)((apr_uint32_t)now - when) < 0
        || apr_atomic_cas32(due, (apr_uint32_t)(now + cp->purge_interval), when)
               != when) {
        return;
    }
    rv = rus_session_purge_some(conn, now, PURGE_BATCH, &purged);
    if (rv != APR_SUCCESS) {
        if (++cp->purge_failures == 1) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rus_store_error_os(rv),
                         cp->s,
                         RUSLOGNO(00107) "purging expired sessions failed "
                                         "(%s): %s; tried again in %d s "
                                         "(told once until it works again)",
                         rus_store_error_kind(rv), rus_store_error(conn),
                         cp->purge_interval);
        }
        return;
    }
    cp->purge_failures = 0;
    if (purged > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, cp->s,
                     RUSLOGNO(00029) "purged %d expired sessions%s", purged,
                     purged == PURGE_BATCH ? " (more next turn)" : "");
    }
    if (purged == PURGE_BATCH) {
        apr_atomic_set32(due, (apr_uint32_t)now); /* the rest at once */
    }
}

/* One turn: checkpoint on the thread's own connection. Failures are told
 * once per streak, not every second. */
static void checkpoint_once(rus_checkpointer *cp, rus_store_pool_t *spool,
                            apr_pool_t *ptemp)
{
    rus_store_checkpoint_t res;
    rus_conn_t *conn = NULL;
    const char *msg = NULL, *what = "store checkpoint failed";
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    rv = rus_store_acquire(&conn, spool, ptemp, &msg);
    if (rv == APR_SUCCESS
        && t0 - cp->pruned_at >= apr_time_from_msec(CHANGES_PRUNE_MS)) {
        int pruned = 0;
        apr_status_t prv =
            rus_store_changes_prune(conn, apr_time_sec(t0) - cp->keep_changes,
                                    &pruned);

        cp->pruned_at = t0;
        ap_log_error(APLOG_MARK, APLOG_TRACE1, prv, cp->s,
                     "store change log: %d rows older than %" APR_INT64_T_FMT
                     " s pruned%s%s",
                     pruned, cp->keep_changes, prv ? ": " : "",
                     prv ? rus_store_error(conn) : "");
    }
    if (rv == APR_SUCCESS) {
        purge_if_due(cp, conn);
        rv = rus_store_checkpoint(conn, CHECKPOINT_WAIT_MS, &res);
        msg = apr_pstrdup(ptemp, rus_store_error(conn));
        rus_store_release(spool, conn);
    }
    else {
        what = "store maintenance cannot open the store";
    }
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, cp->s,
                     "store checkpoint: %" APR_INT64_T_FMT
                     " WAL frames copied and emptied in %" APR_TIME_T_FMT " us",
                     res.copied, apr_time_now() - t0);
        cp->failures = 0;
        return;
    }
    cp->failures++;
    /* Whoever looks next, in a tick, tries again. */
    apr_atomic_set32(checkpoint_due ? checkpoint_due : &cp->own_due,
                     (apr_uint32_t)apr_time_as_msec(apr_time_now()));
    if (APR_STATUS_IS_EBUSY(rv)) {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, cp->s,
                     "store checkpoint incomplete (%" APR_INT64_T_FMT
                     " of %" APR_INT64_T_FMT " WAL frames copied): %s",
                     res.copied, res.log_before, msg);
        if (cp->failures == CHECKPOINT_WARN_AFTER) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cp->s,
                         RUSLOGNO(00061) "the store's WAL could not be "
                                         "emptied %d times in a row: "
                                         "another process keeps reading "
                                         "or writing it for longer than "
                                         "%d ms; it grows until that "
                                         "stops",
                         cp->failures, CHECKPOINT_WAIT_MS);
        }
        return;
    }
    if (cp->failures == 1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rus_store_error_os(rv), cp->s,
                     RUSLOGNO(00062) "%s (%s): %s (told once until it works "
                                     "again)",
                     what, rus_store_error_kind(rv), msg ? msg : "");
    }
}

/* The thread: wakes every tick, checkpoints when it wins the interval,
 * and ends as soon as checkpoint_stop() signals. */
static void *APR_THREAD_FUNC checkpoint_main(apr_thread_t *thd, void *data)
{
    rus_checkpointer *cp = data;
    rus_store_pool_t *spool = NULL;
    apr_pool_t *p = NULL, *ptemp = NULL;
    apr_status_t rv;

    /* Its own unmanaged pool: pchild is not for other threads. */
    rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create(&ptemp, p);
    }
    if (rv == APR_SUCCESS) {
        rv = rus_store_pool_create(&spool, cp->store, p);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, cp->s,
                     RUSLOGNO(00063) "the store checkpoint thread cannot "
                                     "start in this child");
        goto leave;
    }
    apr_thread_mutex_lock(cp->lock);
    while (!cp->stop) {
        apr_thread_cond_timedwait(cp->wake, cp->lock,
                                  apr_time_from_msec(CHECKPOINT_TICK_MS));
        if (cp->stop) {
            break;
        }
        apr_thread_mutex_unlock(cp->lock);
        store_errors_flush(cp->s, 0);
        rus_httpd_metrics_gauges(cp->s, spool, ptemp);
        apr_pool_clear(ptemp);
        if (checkpoint_claim(cp)) {
            checkpoint_once(cp, spool, ptemp);
            apr_pool_clear(ptemp);
        }
        apr_thread_mutex_lock(cp->lock);
    }
    apr_thread_mutex_unlock(cp->lock);

leave:
    if (p != NULL) {
        apr_pool_destroy(p); /* closes its connection */
    }
    apr_thread_exit(thd, rv);
    return NULL;
}

/* pchild pre-cleanup: stop the thread and wait for it; that is at most one
 * checkpoint (CHECKPOINT_WAIT_MS plus the copy), never a tick. */
static apr_status_t checkpoint_stop(void *data)
{
    rus_checkpointer *cp = data;
    apr_status_t trv;

    apr_thread_mutex_lock(cp->lock);
    cp->stop = 1;
    apr_thread_cond_signal(cp->wake);
    apr_thread_mutex_unlock(cp->lock);
    apr_thread_join(&trv, cp->thread);
    return APR_SUCCESS;
}

/* Start this child's checkpoint thread. */
static void checkpoint_start(apr_pool_t *pchild, server_rec *s,
                             const rus_server_conf *conf)
{
    rus_checkpointer *cp = apr_pcalloc(pchild, sizeof(*cp));
    apr_status_t rv;

    cp->store = conf->store;
    cp->keep_changes =
        (rus_conf_cache_ttl(conf) > CHANGES_KEEP_MIN ? rus_conf_cache_ttl(conf)
                                                     : CHANGES_KEEP_MIN)
        + 1;
    cp->s = s;
    cp->purge_interval = rus_conf_purge_interval(conf);
    due_now(&cp->own_due, &cp->own_purge_due); /* without shared memory */
    rv = apr_thread_mutex_create(&cp->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&cp->wake, pchild);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&cp->thread, NULL, checkpoint_main, cp, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     RUSLOGNO(00064) "cannot start the store checkpoint "
                                     "thread in this child; if no child "
                                     "has one, the store's WAL grows "
                                     "under load");
        return;
    }
    /* A pre-cleanup: it runs before pchild's subpools go, the thread's
     * own among them. */
    apr_pool_pre_cleanup_register(pchild, cp, checkpoint_stop);
}

/* The summary of the store failures held back (RUS00106). */
static void store_summary_log(server_rec *s, apr_time_t now,
                              const rus_ratelimit_summary_t *sum)
{
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 RUSLOGNO(00106) "%" APR_UINT64_T_FMT " more store "
                                 "failure(s) in this child in the last "
                                 "%" APR_TIME_T_FMT " s, not logged one by "
                                 "one (one line per %d s); the last: %s",
                 sum->count,
                 apr_time_sec(now - sum->since + apr_time_from_msec(500)),
                 STORE_LOG_INTERVAL_SEC, sum->last);
}

/* Tell the store failures held back once the interval is over (the
 * checkpoint thread, every tick), or at once with @a force. */
static void store_errors_flush(server_rec *s, int force)
{
    rus_ratelimit_summary_t sum;
    apr_time_t now = apr_time_now();

    if (store_errors != NULL
        && rus_ratelimit_flush(store_errors, now, force, &sum)) {
        store_summary_log(s, now, &sum);
    }
}

/* pchild cleanup: what is still held back goes out as the child exits. */
static apr_status_t store_errors_exit(void *data)
{
    store_errors_flush(data, 1);
    return APR_SUCCESS;
}

/* A store failure of a request, @a msg with its RUS id, at @a level: in
 * full when this child logged none for an interval, else counted for the
 * summary. Logged with rv only when it is a true errno. The line names
 * the store (as rus_store_describe() shows it) when @a msg does not. */
void rus_httpd_store_log(request_rec *r, int level, apr_status_t rv,
                         const char *msg)
{
    rus_ratelimit_summary_t sum;
    apr_time_t now = apr_time_now();
    rus_ratelimit_e verdict = RUS_RL_LOG;
    const char *shown =
        store_named != NULL ? rus_store_describe(store_named) : NULL;

    if (shown != NULL && strstr(msg, shown) == NULL) {
        msg = apr_psprintf(r->pool, "%s [store %s]", msg, shown);
    }
    if (store_errors != NULL) {
        verdict = rus_ratelimit_hit(store_errors, now, msg, &sum);
    }
    rus_httpd_count_store_error(r, rv);
    if (verdict == RUS_RL_LOG) {
        ap_log_rerror(APLOG_MARK, level, rus_store_error_os(rv), r,
                      "%s (store failures in the next %d s are counted in "
                      "one line, RUS00106)",
                      msg, STORE_LOG_INTERVAL_SEC);
    }
    else if (verdict == RUS_RL_SUMMARY) {
        store_summary_log(r->server, now, &sum);
    }
}

/* This child's write gate: RemoteUserStoreMaxWriters, or by default half
 * of its threads (at least MAX_WRITERS_MIN). */
static void write_gate_init(const rus_server_conf *conf)
{
    int threads = 0, cap = conf->max_writers;

    if (cap == UNSET) {
        if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
            threads = 0;
        }
        cap = threads / 2 > MAX_WRITERS_MIN ? threads / 2 : MAX_WRITERS_MIN;
    }
    rus_gate_init(&rus_httpd_store.write_gate, (apr_uint32_t)cap);
}

/* pchild cleanup: how the answer cache served this child. */
static apr_status_t cache_stats_log(void *data)
{
    server_rec *s = data;
    apr_uint64_t hits, misses;

    rus_cache_stats(rus_httpd_store.cache, &hits, &misses);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 RUSLOGNO(
                     00196) "answer cache in this child: %" APR_UINT64_T_FMT
                            " hits, %" APR_UINT64_T_FMT
                            " misses, %" APR_UINT64_T_FMT " invalidations",
                 hits, misses, rus_coh_invalidations(rus_httpd_store.coh));
    return APR_SUCCESS;
}

/* The answer cache for a request starting now. Its guard (set at child
 * init) answers a hit only once every change committed to the store so
 * far is applied, and turns every lookup into a miss while the changes
 * cannot be read; why is logged once per streak, by the request after the
 * one that met it. */
rus_cache_t *rus_httpd_store_cache(request_rec *r)
{
    char why[256];

    if (rus_httpd_store.cache == NULL) {
        return NULL;
    }
    if (rus_coh_take_warning(rus_httpd_store.coh, why, sizeof(why))) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00190) "the answer cache cannot be kept "
                                      "true to the store (%s): this child "
                                      "asks the store at every request "
                                      "until that works again",
                      why);
    }
    return rus_httpd_store.cache;
}

/* After fork: this child's own connections, closed with pchild. */
void rus_httpd_store_child_init(apr_pool_t *pchild, server_rec *s)
{
    rus_server_conf *conf = rus_httpd_server_conf(s);
    apr_status_t rv;

    store_errors = NULL;
    store_named = conf->store;
    if (conf->store == NULL) {
        return;
    }
    if (rus_ratelimit_create(&store_errors, pchild,
                             apr_time_from_sec(STORE_LOG_INTERVAL_SEC))
        == APR_SUCCESS) {
        apr_pool_cleanup_register(pchild, s, store_errors_exit,
                                  apr_pool_cleanup_null);
    }
    else {
        store_errors = NULL;
    }
    if (rus_httpd_store.refused) {
        return;
    }
    write_gate_init(conf);
    if (rus_store_is_shared(conf->store) && rus_httpd_store.board == NULL) {
        /* No board (RUS00034 or RUS00124 said why): nothing could keep a
         * cache true to the store, and trying would open a connection
         * each second from a request: no cache at all. */
        rus_httpd_store.cache = NULL;
    }
    else if (rus_httpd_store.cache
             == NULL) { /* no shared memory: a cache of its own */
        rus_httpd_store.cache =
            rus_cache_create(pchild, CACHE_SLOTS, rus_conf_cache_ttl(conf));
    }
    rus_httpd_store.coh = NULL;
    if (rus_httpd_store.cache != NULL) {
        rus_httpd_store.coh =
            rus_coh_create(conf->store, rus_httpd_store.cache, pchild);
        if (rus_httpd_store.coh == NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00191) "cannot set up the answer cache's "
                                         "view of store changes in this "
                                         "child: it asks the store at "
                                         "every request");
            rus_httpd_store.cache = NULL;
        }
        else {
            rus_cache_set_guard(rus_httpd_store.cache, rus_coh_guard,
                                rus_httpd_store.coh);
        }
        apr_pool_cleanup_register(pchild, s, cache_stats_log,
                                  apr_pool_cleanup_null);
    }
    rv = rus_store_pool_create(&rus_httpd_store.pool, conf->store, pchild);
    if (rv == APR_SUCCESS) {
        /* The store file's availability is looked at once a second per
         * connection, not at every request. */
        rus_store_pool_set_check_interval(rus_httpd_store.pool,
                                          apr_time_from_sec(1));
    }
    if (rv != APR_SUCCESS) {
        rus_httpd_store.pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     RUSLOGNO(00005) "cannot set up store connections in "
                                     "this child; requests needing the "
                                     "store will fail");
        return;
    }
    checkpoint_start(pchild, s, conf);
    if (rus_httpd_store.board != NULL) {
        rus_httpd_feed_start(pchild, s, conf->store, rus_httpd_store.board);
    }
}

/* Per child: when a refused write was last logged as a warning. */
static apr_uint32_t gate_warned;

/* A store write refused because RemoteUserStoreMaxWriters of them are in
 * flight in this child: 503 at once, with Retry-After, logged here (a
 * warning at most once a second per child, the rest at debug level: a
 * flood must not turn into one of log lines). */
int rus_httpd_store_writes_full(request_rec *r, const char *what)
{
    apr_uint32_t now32 = (apr_uint32_t)rus_httpd_now_sec(r);
    apr_uint32_t seen = apr_atomic_read32(&gate_warned);
    int level = APLOG_DEBUG;

    if (now32 != seen && apr_atomic_cas32(&gate_warned, now32, seen) == seen) {
        level = APLOG_WARNING;
    }
    ap_log_rerror(APLOG_MARK, level, 0, r,
                  RUSLOGNO(00095) "%s refused: %u store writes already in "
                                  "flight in this child "
                                  "(RemoteUserStoreMaxWriters): 503",
                  what, rus_gate_inside(&rus_httpd_store.write_gate));
    apr_table_setn(r->err_headers_out, "Retry-After", "1");
    return HTTP_SERVICE_UNAVAILABLE;
}

/* What the login of @a r says about the user @a clean, into *pprof (NULL:
 * nothing): only for an identity the front end or the trusted header gave
 * in this request, never for one a session cookie carried (a cookie
 * request writes nothing). Header sources count only when the name is the
 * one RemoteUserHeader carried from a trusted proxy.
 * A .htaccess author with AllowOverride FileInfo can set any request
 * variable (SetEnvIf, RewriteRule [E=]) before authentication: where a
 * login's attributes or groups come from variables, such a file would
 * choose them. So that login is refused unless RemoteUserTrustHtaccess On,
 * as an identity is under AuthConfig (RUS00035).
 * Returns OK, or HTTP_FORBIDDEN (logged). */
static int login_profile(request_rec *r, const rus_dir_conf *conf,
                         const char *clean, const rus_profile_t **pprof)
{
    const rus_req_state *st = rus_httpd_req_state(r, 0);
    const char *dir;
    int from_header;

    *pprof = NULL;
    if (r->user == NULL
        || (st != NULL && st->from_session && st->raw != NULL
            && strcmp(st->raw, r->user) == 0)) {
        return OK;
    }
    if (rus_httpd_profile_reads_env(conf)
        && (dir = rus_httpd_htaccess_dir(r, OR_FILEINFO)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00135) "refusing the login of user '%s': a "
                                      ".htaccess file in %s may set the "
                                      "request variables its attributes or "
                                      "groups are read from (AllowOverride "
                                      "FileInfo), and "
                                      "RemoteUserTrustHtaccess is Off",
                      rus_httpd_log_name(r, clean), dir);
        rus_httpd_count_once(r, RUS_M_REFUSED_HTACCESS);
        return HTTP_FORBIDDEN;
    }
    from_header = st != NULL && st->header_value != NULL
                  && strcmp(st->header_value, r->user) == 0;
    *pprof = rus_httpd_profile_gather(r, conf, clean, from_header);
    return OK;
}

/* Ask the store about a cleaned name, with what the login says about it
 * (login_profile()). Returns OK with *res filled in, or the HTTP status
 * to answer with (the cause is logged here). */
int rus_httpd_store_resolve(request_rec *r, const rus_dir_conf *conf,
                            const char *clean, rus_resolution_t *res)
{
    rus_user_policy_t policy;
    rus_user_lookup_t lk;
    rus_cache_t *cache;
    apr_time_t t0;
    apr_status_t rv;

    if (rus_httpd_store.pool == NULL && rus_httpd_store.refused) {
        rus_httpd_store_log(r, APLOG_ERR, 0,
                            RUSLOGNO(00054) "the user store was refused at "
                                            "the last restart "
                                            "(RUS00052/RUS00053): 503 until "
                                            "it is fixed and httpd "
                                            "restarted");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (rus_httpd_store.pool == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00012) "RemoteUserEngine is On here but no "
                                      "store is available (is "
                                      "RemoteUserStore set?)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    policy.create_unknown = rus_conf_create_unknown(conf);
    policy.allow_inactive = rus_conf_allow_inactive(conf);
    policy.gate = &rus_httpd_store.write_gate;
    if (login_profile(r, conf, clean, &policy.profile) != OK) {
        return HTTP_FORBIDDEN;
    }
    policy.sync_login = rus_conf_attr_sync(conf) == 1;
    cache = rus_httpd_store_cache(r);
    t0 = apr_time_now();
    rv = rus_user_lookup(&lk, rus_httpd_store.pool, cache, clean, &policy,
                         rus_httpd_now_sec(r), r->pool);
    if (!lk.cached) {
        rus_httpd_observe(r, t0); /* the store was asked */
    }
    if (cache != NULL) {
        rus_httpd_count_cache(r, lk.cached, !lk.cached);
    }
    if (rv == RUS_GATE_EFULL) {
        return rus_httpd_store_writes_full(
            r,
            apr_pstrcat(r->pool,
                        policy.profile != NULL ? "creating or updating user '"
                                               : "creating user '",
                        rus_httpd_log_name(r, clean), "'", NULL));
    }
    if (rv != APR_SUCCESS && lk.stage == RUS_LOOKUP_CONNECT) {
        rus_httpd_store_log(
            r, APLOG_ERR, rv,
            apr_psprintf(r->pool,
                         RUSLOGNO(00009) "user store unavailable (%s): %s",
                         rus_store_error_kind(rv), lk.msg));
    }
    else if (rv != APR_SUCCESS && policy.profile != NULL) {
        /* the creation with the profile, or the sync of a known user,
         * failed (or the read before it): one transaction, nothing of
         * the login is in the store */
        rus_httpd_store_log(
            r, APLOG_ERR, rv,
            apr_psprintf(r->pool,
                         RUSLOGNO(00133) "user store failed (%s) resolving "
                                         "user '%s' with the attributes and "
                                         "groups of the login (none of them "
                                         "written): %s",
                         rus_store_error_kind(rv), rus_httpd_log_name(r, clean),
                         lk.msg));
    }
    else if (rv != APR_SUCCESS) {
        rus_httpd_store_log(
            r, APLOG_ERR, rv,
            apr_psprintf(r->pool,
                         RUSLOGNO(00010) "user store failed (%s) resolving "
                                         "user '%s': %s",
                         rus_store_error_kind(rv), rus_httpd_log_name(r, clean),
                         lk.msg));
    }
    if (rv != APR_SUCCESS) {
        return rus_store_error_is_transient(rv) ? HTTP_SERVICE_UNAVAILABLE
                                                : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (lk.res.touch_rv != APR_SUCCESS) {
        /* Bookkeeping only: the user is known and allowed. */
        rus_httpd_store_log(
            r, APLOG_WARNING, lk.res.touch_rv,
            apr_psprintf(r->pool,
                         RUSLOGNO(00013) "could not record the login of "
                                         "user '%s' (%s): %s",
                         rus_httpd_log_name(r, clean),
                         rus_store_error_kind(lk.res.touch_rv), lk.msg));
    }
    *res = lk.res;
    return OK;
}
