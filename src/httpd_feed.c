/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The host's listener of a shared store (PostgreSQL): one thread in every
 * child, of which the one holding the board's lease (rus_board.h) follows
 * the store's commits. It keeps the store's feed open (a connection that
 * LISTENs), waits at most RUS_BOARD_RENEW_MS for a notification, then
 * publishes the change log's last id on the board; every process's
 * answer cache reads the board at each hit and the change log itself when
 * the board moved (rus_coherence.c). The other children's threads only
 * look, every RUS_BOARD_RENEW_MS, whether the lease is free to take (the
 * follower's child exited or hangs).
 *
 * While the feed cannot be opened or breaks, the board says so
 * (rus_board_down()): no process of the host uses its cache until the
 * feed is back, and every request asks the store. The feed is opened
 * again at once after a break, then at most once a second while that
 * fails. A warning per streak of failures (RUS00120), a line when it is
 * back (RUS00121). */

#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "rus_board.h"
#include "rus_store.h"

#include "httpd_private.h"

/* How long a failed opening of the feed waits before the next. */
#define FEED_RETRY_MS 1000

typedef struct rus_listener {
    const rus_store_t *store;
    rus_board_t *board;
    server_rec *s;
    apr_thread_mutex_t *lock; /* guards stop */
    apr_thread_cond_t *wake;  /* signalled to stop */
    int stop;                 /* the child is exiting */
    apr_thread_t *thread;
    apr_uint32_t pid;    /* this child's, the board's name for it */
    rus_feed_t *feed;    /* open while this child follows the store */
    apr_pool_t *fpool;   /* the feed's, cleared when it is closed */
    apr_time_t retry_at; /* no opening before this */
    int failing;         /* a warning was given for this streak */
    int reconnected;     /* the next publication starts an epoch */
    int published;       /* the open feed has published once */
} rus_listener;

/* Sleep @a ms unless told to stop; nonzero when told. */
static int listener_sleep(rus_listener *l, int ms)
{
    int stop;

    apr_thread_mutex_lock(l->lock);
    if (!l->stop) {
        apr_thread_cond_timedwait(l->wake, l->lock, apr_time_from_msec(ms));
    }
    stop = l->stop;
    apr_thread_mutex_unlock(l->lock);
    return stop;
}

/* Close the feed, if it is open, and free what it used. */
static void feed_close(rus_listener *l)
{
    if (l->feed != NULL) {
        rus_store_feed_close(l->feed);
        l->feed = NULL;
    }
    apr_pool_clear(l->fpool);
}

/* The feed failed to open or broke (@a msg says how, naming the store as
 * messages show it): readers stop trusting the board at once; told once
 * per streak. */
static void feed_failed(rus_listener *l, const char *msg)
{
    /* copied first: the message may live in the feed's pool */
    char why[512];
    const char *shown = rus_store_describe(l->store);

    apr_cpystrn(why, msg && *msg ? msg : "failed", sizeof(why));
    feed_close(l);
    rus_board_down(l->board, l->pid, rus_board_now());
    if (!l->failing) {
        l->failing = 1;
        /* the store named once: the backend's message may name it */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, l->s,
                     RUSLOGNO(00120) "this host cannot follow the commits "
                                     "of its store%s%s: %s; until it can, "
                                     "no process of the host uses its "
                                     "answer cache (every request asks "
                                     "the store); tried again every "
                                     "second, told once until it works",
                     strstr(why, shown) ? "" : " ",
                     strstr(why, shown) ? "" : shown, why);
    }
}

/* One turn as the lease holder: open the feed if it is not, wait for a
 * commit, publish. */
static void follow_once(rus_listener *l)
{
    apr_int64_t last = 0;
    const char *msg = NULL;
    apr_time_t now = rus_board_now();
    apr_status_t rv;

    if (l->feed == NULL) {
        if (now < l->retry_at) {
            rus_board_down(l->board, l->pid, now); /* keeps the lease */
            listener_sleep(l, RUS_BOARD_RENEW_MS);
            return;
        }
        l->retry_at = now + apr_time_from_msec(FEED_RETRY_MS);
        rv = rus_store_feed_open(&l->feed, l->store, l->fpool, &msg);
        if (rv != APR_SUCCESS) {
            l->feed = NULL;
            feed_failed(l, msg);
            listener_sleep(l, RUS_BOARD_RENEW_MS);
            return;
        }
        l->reconnected = 1;
        l->published = 0;
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, l->s,
                     "this child (pid %" APR_UINT64_T_FMT ") follows the "
                     "commits of the store %s",
                     (apr_uint64_t)l->pid, rus_store_describe(l->store));
    }
    rv = rus_store_feed_wait(l->feed, RUS_BOARD_RENEW_MS, &last, &msg);
    if (rv != APR_SUCCESS) {
        feed_failed(l, msg);
        if (l->published) {
            /* at once: the server may only have dropped this connection;
             * a feed that breaks before it publishes waits its second */
            l->retry_at = 0;
        }
        return;
    }
    if (!rus_board_publish(l->board, l->pid, last, l->reconnected,
                           rus_board_now())) {
        /* the lease was taken meanwhile (this thread was late): the new
         * holder follows; one LISTEN per host */
        feed_close(l);
        return;
    }
    l->reconnected = 0;
    l->published = 1;
    if (l->failing) {
        l->failing = 0;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, l->s,
                     RUSLOGNO(00121) "this host follows the commits of the "
                                     "store %s again: its answer cache is "
                                     "used again",
                     rus_store_describe(l->store));
    }
}

/* This child has no listener thread (it could not be made, or its pool);
 * the other children's may follow the store. */
static void cannot_start(server_rec *s, apr_status_t rv)
{
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                 RUSLOGNO(00122) "cannot start the store listener thread "
                                 "in this child; while no child of the "
                                 "host has one, the host does not use its "
                                 "answer cache");
}

/* The thread: claims the lease every turn, follows while it holds it,
 * and gives it up when the child exits. */
static void *APR_THREAD_FUNC listener_main(apr_thread_t *thd, void *data)
{
    rus_listener *l = data;
    apr_pool_t *p = NULL;
    apr_status_t rv;

    /* Its own unmanaged pool: pchild is not for other threads. */
    rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create(&l->fpool, p);
    }
    if (rv != APR_SUCCESS) {
        cannot_start(l->s, rv);
        goto leave;
    }
    for (;;) {
        apr_thread_mutex_lock(l->lock);
        if (l->stop) {
            apr_thread_mutex_unlock(l->lock);
            break;
        }
        apr_thread_mutex_unlock(l->lock);
        if (rus_board_claim(l->board, l->pid, rus_board_now())) {
            follow_once(l);
            continue;
        }
        if (l->feed != NULL) {
            feed_close(l); /* another child holds the lease now */
        }
        listener_sleep(l, RUS_BOARD_RENEW_MS);
    }
    rus_board_release(l->board, l->pid);
    feed_close(l);

leave:
    if (p != NULL) {
        apr_pool_destroy(p);
    }
    apr_thread_exit(thd, rv);
    return NULL;
}

/* pchild pre-cleanup: stop the thread and wait for it; at most one wait
 * for a commit (RUS_BOARD_RENEW_MS) and one read of the change log. */
static apr_status_t listener_stop(void *data)
{
    rus_listener *l = data;
    apr_status_t trv;

    apr_thread_mutex_lock(l->lock);
    l->stop = 1;
    apr_thread_cond_signal(l->wake);
    apr_thread_mutex_unlock(l->lock);
    apr_thread_join(&trv, l->thread);
    return APR_SUCCESS;
}

void rus_httpd_feed_start(apr_pool_t *pchild, server_rec *s,
                          const rus_store_t *store, struct rus_board_t *board)
{
    rus_listener *l = apr_pcalloc(pchild, sizeof(*l));
    apr_status_t rv;

    l->store = store;
    l->board = board;
    l->s = s;
    l->pid = (apr_uint32_t)getpid();
    rv = apr_thread_mutex_create(&l->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&l->wake, pchild);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&l->thread, NULL, listener_main, l, pchild);
    }
    if (rv != APR_SUCCESS) {
        cannot_start(s, rv);
        return;
    }
    /* A pre-cleanup, as the checkpoint thread's: before pchild's
     * subpools go. */
    apr_pool_pre_cleanup_register(pchild, l, listener_stop);
}
