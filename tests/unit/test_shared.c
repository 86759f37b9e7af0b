/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* A store shared by several hosts as the facade and the answer cache see
 * it (rus_store.c, rus_coherence.c): the feed's dispatch, the watch that
 * reads the host's board, and the cache kept true through that board.
 * The shared backend here is SQLite with a feed of the test's own, so
 * that everything but the server is the real code. */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "rus_backend.h"
#include "rus_board.h"
#include "rus_cache.h"
#include "rus_coherence.h"
#include "rus_store.h"
#include "test_common.h"

#define NOW   5000
#define LATER APR_INT64_C(4000000000)
#define HASH_A1 \
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HASH_B1 \
    "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
#define PID 4242

static rus_test_store_t ts;
static rus_backend_t shared_backend;
static rus_store_t shared;
static rus_board_t *board;

/* What the fake feed and the wrapped callbacks do and saw. */
static apr_int64_t feed_last;   /* what feed_wait reads */
static int feed_closed;         /* feed_close calls */
static int connects;            /* connections opened to the shared store */
static int changes_fail;        /* the next changes_since loses its server */
static apr_status_t connect_rv; /* not APR_SUCCESS: connect fails so */

typedef struct fake_feed_t {
    rus_feed_t base;
    int waits;
} fake_feed_t;

static apr_status_t fake_feed_open(const rus_store_t *store, rus_feed_t **pfeed,
                                   apr_pool_t *p, const char **pmsg)
{
    fake_feed_t *feed = apr_pcalloc(p, sizeof(*feed));

    (void)store;
    (void)pmsg;
    *pfeed = &feed->base;
    return APR_SUCCESS;
}

static apr_status_t fake_feed_wait(rus_feed_t *feed, int timeout_ms,
                                   apr_int64_t *plast, const char **pmsg)
{
    (void)timeout_ms;
    (void)pmsg;
    ((fake_feed_t *)feed)->waits++;
    *plast = feed_last;
    return APR_SUCCESS;
}

static void fake_feed_close(rus_feed_t *feed)
{
    (void)feed;
    feed_closed++;
}

static apr_status_t counting_connect(rus_conn_t **pconn,
                                     const rus_store_t *store,
                                     apr_pool_t *cpool, apr_pool_t *ptemp,
                                     const char **pmsg)
{
    if (connect_rv != APR_SUCCESS) {
        *pmsg = "connection refused";
        return connect_rv;
    }
    connects++;
    return rus_backend_sqlite.connect(pconn, store, cpool, ptemp, pmsg);
}

static apr_status_t failing_changes_since(rus_conn_t *conn, apr_int64_t since,
                                          rus_change_fn *fn, void *baton,
                                          apr_int64_t *plast)
{
    if (changes_fail) {
        changes_fail = 0;
        rus_conn_set_error(conn, "server closed the connection");
        conn->broken = 1;
        return RUS_STORE_EUNREACHABLE;
    }
    return rus_backend_sqlite.changes_since(conn, since, fn, baton, plast);
}

/* alice and bob, each with a session; a shared store over the same file,
 * with a board nobody follows yet. */
static void setup(void)
{
    rus_user_t u;
    void *mem;

    rus_test_store_open(&ts, 0);
    ck_assert_int_eq(rus_user_add(ts.conn, "alice", 100, 1, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(ts.conn, HASH_A1, u.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(ts.conn, "bob", 100, 1, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(ts.conn, HASH_B1, u.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);

    shared_backend = rus_backend_sqlite;
    shared_backend.connect = counting_connect;
    shared_backend.watch = NULL; /* a feed, no watch of its own */
    shared_backend.watch_mark = NULL;
    shared_backend.changes_since = failing_changes_since;
    shared_backend.feed_open = fake_feed_open;
    shared_backend.feed_wait = fake_feed_wait;
    shared_backend.feed_close = fake_feed_close;
    ck_assert_ptr_null(rus_backend_missing(&shared_backend));
    shared = *ts.store;
    shared.backend = &shared_backend;
    shared.board = NULL;
    mem = apr_palloc(ts.pool, rus_board_size());
    board = rus_board_init(mem);
    feed_last = 0;
    feed_closed = 0;
    connects = 0;
    changes_fail = 0;
    connect_rv = APR_SUCCESS;
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

static apr_int64_t max_change(void)
{
    return rus_test_sql_int(ts.path,
                            "SELECT COALESCE(max(id), 0) FROM changes");
}

/* What the host's follower does after a notification: read the log's
 * end, publish it. */
static void follower_publishes(int reconnected)
{
    ck_assert_int_eq(rus_board_claim(board, PID, rus_board_now()), 1);
    ck_assert_int_eq(rus_board_publish(board, PID, max_change(), reconnected,
                                       rus_board_now()),
                     1);
}

static const char *const keys[] = { "u:alice", "u:bob", HASH_A1, HASH_B1 };
#define NKEYS ((int)(sizeof(keys) / sizeof(keys[0])))

/* Cache every key from the store of @a conn, as the request path does. */
static void cache_all_from(rus_cache_t *cache, rus_conn_t *conn)
{
    int i;

    for (i = 0; i < NKEYS; i++) {
        rus_cache_ticket_t ticket = rus_cache_ticket(cache, keys[i]);
        rus_session_t s;
        rus_user_t u;

        if (i < 2) {
            ck_assert_int_eq(rus_user_find(conn, keys[i] + 2, &u, ts.pool),
                             APR_SUCCESS);
            rus_cache_put(cache, keys[i], NOW, ticket, &u, NULL);
        }
        else {
            ck_assert_int_eq(rus_session_find(ts.conn, keys[i], &s, &u,
                                              ts.pool),
                             APR_SUCCESS);
            rus_cache_put(cache, keys[i], NOW, ticket, &u, &s);
        }
    }
}

static void cache_all(rus_cache_t *cache)
{
    cache_all_from(cache, ts.conn);
}

/* Which keys are hits at @a now, "1" or "0" each, in their order. */
static const char *hits_at(rus_cache_t *cache, apr_int64_t now)
{
    char *out = apr_pcalloc(ts.pool, NKEYS + 1);
    int i;

    for (i = 0; i < NKEYS; i++) {
        rus_session_t s;
        rus_user_t u;

        out[i] =
            rus_cache_get(cache, keys[i], now, &u, i < 2 ? NULL : &s, ts.pool)
                ? '1'
                : '0';
    }
    return out;
}

START_TEST(test_shared_feed_dispatch)
{
    rus_feed_t *feed = NULL;
    const char *msg = NULL;
    apr_int64_t last = -1;

    ck_assert_int_eq(rus_store_is_shared(ts.store), 0);
    ck_assert_int_eq(rus_store_is_shared(&shared), 1);
    /* SQLite: no feed, said so */
    ck_assert_int_eq(rus_store_feed_open(&feed, ts.store, ts.pool, &msg),
                     APR_ENOTIMPL);
    ck_assert_ptr_null(feed);
    ck_assert_ptr_nonnull(strstr(msg, "not shared"));
    /* the shared one: the backend's feed, with its backend set */
    ck_assert_int_eq(rus_store_feed_open(&feed, &shared, ts.pool, &msg),
                     APR_SUCCESS);
    ck_assert_ptr_eq(feed->backend, &shared_backend);
    feed_last = 17;
    ck_assert_int_eq(rus_store_feed_wait(feed, 10, &last, &msg), APR_SUCCESS);
    ck_assert_int_eq(last, 17);
    ck_assert_int_eq(((fake_feed_t *)feed)->waits, 1);
    rus_store_feed_close(feed);
    ck_assert_int_eq(feed_closed, 1);
    rus_store_feed_close(NULL);
    ck_assert_int_eq(feed_closed, 1);
}
END_TEST

/* A backend with part of a feed is refused by name. */
START_TEST(test_shared_feed_all_or_none)
{
    rus_backend_t half = shared_backend;

    half.feed_wait = NULL;
    ck_assert_str_eq(rus_backend_missing(&half), "feed_wait");
    half = rus_backend_sqlite;
    half.feed_close = fake_feed_close;
    ck_assert_str_eq(rus_backend_missing(&half), "feed_open");
    ck_assert_ptr_null(rus_backend_missing(&rus_backend_sqlite));
}
END_TEST

START_TEST(test_shared_watch_needs_board)
{
    rus_conn_t *conn = NULL;
    rus_watch_t *watch = NULL;
    rus_store_mark_t mark;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_connect(&conn, &shared, ts.pool, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_watch(&watch, conn, ts.pool), APR_ENOTIMPL);
    ck_assert_str_eq(rus_store_error(conn), "no listener board on this host");

    rus_store_set_board(&shared, board);
    ck_assert_int_eq(rus_store_watch(&watch, conn, ts.pool), APR_SUCCESS);
    /* nobody follows the store yet: the mark cannot be read */
    msg = NULL;
    ck_assert_int_ne(rus_store_watch_mark(watch, NOW, &mark, &msg),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    follower_publishes(1);
    ck_assert_int_eq(rus_store_watch_mark(watch, NOW, &mark, &msg),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
}
END_TEST

/* The cache of a host follows the board: a commit elsewhere is seen once
 * the follower publishes the log's new end, not before (the control), and
 * the process reads the log itself on its own connection. */
START_TEST(test_shared_cache_follows_board)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    const char *warn = NULL;

    rus_store_set_board(&shared, board);
    coh = rus_coh_create(&shared, cache, ts.pool);
    ck_assert_ptr_nonnull(coh);
    follower_publishes(1);
    ck_assert_int_eq(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all(cache);
    ck_assert_str_eq(hits_at(cache, NOW), "1111");

    /* alice disabled on another host: until the follower publishes, this
     * host cannot know (the control: the board is what tells it) */
    rus_test_sql(ts.path, "UPDATE users SET is_active = 0 "
                          "WHERE username = 'alice'");
    ck_assert_str_eq(hits_at(cache, NOW), "1111");
    follower_publishes(0);
    ck_assert_str_eq(hits_at(cache, NOW), "0101");
    cache_all(cache);
    ck_assert_str_eq(hits_at(cache, NOW), "1111");
    /* bookkeeping is not logged: the same mark, the cache stays */
    rus_test_sql(ts.path, "UPDATE users SET last_login = 7");
    follower_publishes(0);
    ck_assert_str_eq(hits_at(cache, NOW), "1111");
    ck_assert_int_eq(connects, 1);
}
END_TEST

/* The follower disconnected: no hit at all (every request asks the
 * store), and no warning of the process's own; back: hits again, on the same connection
 * (the watch was kept: nothing opened per second meanwhile). */
START_TEST(test_shared_board_down_means_no_cache)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    const char *warn = NULL;
    char why[256];
    int i;

    rus_store_set_board(&shared, board);
    coh = rus_coh_create(&shared, cache, ts.pool);
    follower_publishes(1);
    ck_assert_int_eq(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all(cache);
    ck_assert_str_eq(hits_at(cache, NOW), "1111");

    rus_board_down(board, PID, rus_board_now());
    for (i = 0; i < 5; i++) {
        ck_assert_str_eq(hits_at(cache, NOW + i), "0000");
    }
    /* the listener tells it (RUS00120), not each process */
    ck_assert_int_eq(rus_coh_take_warning(coh, why, sizeof(why)), 0);
    ck_assert_int_ne(rus_coh_sync(coh, NOW + 5, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_null(warn);

    /* meanwhile alice was disabled: the new epoch makes this host read
     * the log, whatever it missed */
    rus_test_sql(ts.path, "UPDATE users SET is_active = 0 "
                          "WHERE username = 'alice'");
    follower_publishes(1);
    ck_assert_str_eq(hits_at(cache, NOW + 6), "0101");
    ck_assert_int_eq(connects, 1);

    /* released (the follower's child exited): no hit until another
     * process follows */
    cache_all(cache);
    rus_board_release(board, PID);
    ck_assert_str_eq(hits_at(cache, NOW + 7), "0000");
    ck_assert_int_eq(rus_board_claim(board, PID + 1, rus_board_now()), 1);
    ck_assert_str_eq(hits_at(cache, NOW + 7), "0000");
    ck_assert_int_eq(rus_board_publish(board, PID + 1, max_change(), 1,
                                       rus_board_now()),
                     1);
    cache_all(cache);
    ck_assert_str_eq(hits_at(cache, NOW + 8), "1111");
}
END_TEST

/* The process's own connection lost (the server restarted): the sync
 * fails, no hit is served, and a new connection is opened at most once a
 * second; with it, the changes missed meanwhile are applied. */
START_TEST(test_shared_lost_connection_reconnects)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    const char *warn = NULL;

    rus_store_set_board(&shared, board);
    coh = rus_coh_create(&shared, cache, ts.pool);
    follower_publishes(1);
    ck_assert_int_eq(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(connects, 1);
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all(cache);

    rus_test_sql(ts.path, "UPDATE users SET is_active = 0 "
                          "WHERE username = 'bob'");
    changes_fail = 1;
    connect_rv = RUS_STORE_EUNREACHABLE; /* the server still down */
    follower_publishes(0);
    ck_assert_int_ne(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(warn);
    ck_assert_msg(strstr(warn, "server closed") != NULL, "%s", warn);
    ck_assert_str_eq(hits_at(cache, NOW), "0000");
    ck_assert_str_eq(hits_at(cache, NOW + 1), "0000");
    ck_assert_int_eq(connects, 1);

    /* the server back: the next second's sync connects again, once */
    connect_rv = APR_SUCCESS;
    ck_assert_str_eq(hits_at(cache, NOW + 1), "0000"); /* tried this second */
    ck_assert_int_eq(connects, 1);
    ck_assert_int_eq(rus_coh_sync(coh, NOW + 2, &warn, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(connects, 2);
    ck_assert_str_eq(hits_at(cache, NOW + 2), "1010");
}
END_TEST

/* The connection lost and the board down with it (the server stopped):
 * no connection is tried while the board cannot be trusted (a server that
 * does not answer would hold up the process's cache lock for a connect
 * timeout every second); once the follower publishes, one is. */
START_TEST(test_shared_no_reconnect_while_board_down)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    const char *warn = NULL;
    int i;

    rus_store_set_board(&shared, board);
    coh = rus_coh_create(&shared, cache, ts.pool);
    follower_publishes(1);
    ck_assert_int_eq(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all(cache);
    rus_test_sql(ts.path, "UPDATE users SET is_active = 0 "
                          "WHERE username = 'bob'");
    changes_fail = 1;
    follower_publishes(0);
    ck_assert_int_ne(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    rus_board_down(board, PID, rus_board_now());
    for (i = 1; i <= 3; i++) {
        ck_assert_str_eq(hits_at(cache, NOW + i), "0000");
    }
    ck_assert_int_eq(connects, 1);
    follower_publishes(1);
    ck_assert_str_eq(hits_at(cache, NOW + 4), "1010");
    ck_assert_int_eq(connects, 2);
}
END_TEST

/* ---- against PostgreSQL --------------------------------------------- */

/* One turn of the host's follower (httpd_feed.c) on @a feed: wait for a
 * commit, publish the log's end. */
static apr_int64_t pg_follow(rus_feed_t *feed, int reconnected, int wait_ms)
{
    apr_int64_t last = -1;
    const char *msg = NULL;

    ck_assert_int_eq(rus_board_claim(board, PID, rus_board_now()), 1);
    ck_assert_msg(rus_store_feed_wait(feed, wait_ms, &last, &msg)
                      == APR_SUCCESS,
                  "feed: %s", msg ? msg : "?");
    ck_assert_int_eq(rus_board_publish(board, PID, last, reconnected,
                                       rus_board_now()),
                     1);
    return last;
}

/* Two hosts' worth of it on a real server: another connection (another
 * host, psql) commits; the feed hears of it well within a turn, the
 * board moves, this host's cache drops what changed. The process's own
 * connection killed by the server: no hit until it is opened again, the
 * next second, and what changed meanwhile is applied. */
START_TEST(test_shared_pg_host)
{
    const char *schema = NULL, *msg = NULL, *warn = NULL, *app;
    rus_store_t *store = NULL;
    rus_conn_t *other = NULL;
    rus_watch_t *watch = NULL;
    rus_feed_t *feed = NULL;
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    rus_user_t alice, bob;
    apr_int64_t before, after;
    apr_time_t t0, waited;

    if (rus_test_pg_uri() == NULL) {
        fprintf(stderr, "note: %s skipped (no RUS_TEST_PG_URI)\n", __func__);
        return;
    }
    app = apr_psprintf(ts.pool, "ut-shared-%ld", (long)getpid());
    ck_assert_msg(rus_store_create(&store, ts.pool,
                                   apr_pstrcat(ts.pool,
                                               rus_test_pg_spec(ts.pool,
                                                                &schema),
                                               "&application_name=", app, NULL),
                                   NULL, NULL, &msg)
                      == APR_SUCCESS,
                  "create: %s", msg);
    ck_assert_int_eq(rus_store_is_shared(store), 1);
    ck_assert_msg(rus_store_prepare(store, ts.pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    ck_assert_msg(rus_store_connect(&other, store, ts.pool, &msg)
                      == APR_SUCCESS,
                  "connect: %s", msg);
    /* no board yet: no watch, said so */
    ck_assert_int_eq(rus_store_watch(&watch, other, ts.pool), APR_ENOTIMPL);
    ck_assert_str_eq(rus_store_error(other), "no listener board on this host");
    rus_store_set_board(store, board);

    ck_assert_int_eq(rus_user_add(other, "alice", 100, 1, &alice, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(other, "bob", 100, 1, &bob, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(other, HASH_A1, alice.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(other, HASH_B1, bob.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);

    ck_assert_msg(rus_store_feed_open(&feed, store, ts.pool, &msg)
                      == APR_SUCCESS,
                  "feed: %s", msg);
    ck_assert_ptr_eq(feed->backend, store->backend);
    before = pg_follow(feed, 1, 0);
    coh = rus_coh_create(store, cache, ts.pool);
    ck_assert_msg(rus_coh_sync(coh, NOW, &warn, ts.pool) == APR_SUCCESS,
                  "sync: %s", warn ? warn : "?");
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all_from(cache, other);
    ck_assert_str_eq(hits_at(cache, NOW), "1111");

    /* alice disabled by the other host: heard of at once */
    ck_assert_int_eq(rus_user_set_active(other, alice.id, 0, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(hits_at(cache, NOW), "1111"); /* not published yet */
    t0 = rus_board_now();
    after = pg_follow(feed, 0, 2000);
    waited = rus_board_now() - t0;
    ck_assert_int_gt(after, before);
    ck_assert_msg(waited < apr_time_from_msec(500),
                  "the feed took %" APR_TIME_T_FMT " us", waited);
    ck_assert_str_eq(hits_at(cache, NOW), "0101");

    /* this process's connection killed; bob disabled meanwhile */
    cache_all_from(cache, other);
    rus_test_pg_exec(NULL,
                     apr_pstrcat(ts.pool,
                                 "SELECT pg_terminate_backend(pid)"
                                 " FROM pg_stat_activity WHERE"
                                 " application_name = '",
                                 app, "' AND pid <> pg_backend_pid()", NULL));
    rus_store_disconnect(other); /* it was one of them */
    other = NULL;
    ck_assert_msg(rus_store_connect(&other, store, ts.pool, &msg)
                      == APR_SUCCESS,
                  "connect: %s", msg);
    ck_assert_int_eq(rus_user_set_active(other, bob.id, 0, NULL), APR_SUCCESS);
    pg_follow(feed, 0, 2000);
    ck_assert_int_eq(rus_coh_sync(coh, NOW, &warn, ts.pool),
                     RUS_STORE_EUNREACHABLE);
    ck_assert_ptr_nonnull(warn);
    ck_assert_ptr_null(strstr(warn, "rus-secret"));
    ck_assert_str_eq(hits_at(cache, NOW), "0000");
    ck_assert_msg(rus_coh_sync(coh, NOW + 1, &warn, ts.pool) == APR_SUCCESS,
                  "sync: %s", warn ? warn : "?");
    ck_assert_str_eq(hits_at(cache, NOW + 1), "1010");

    rus_store_feed_close(feed);
    rus_store_disconnect(other);
}
END_TEST

TCase *rus_shared_test_case(void)
{
    TCase *tc = tcase_create("shared");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_shared_feed_dispatch);
    tcase_add_test(tc, test_shared_feed_all_or_none);
    tcase_add_test(tc, test_shared_watch_needs_board);
    tcase_add_test(tc, test_shared_cache_follows_board);
    tcase_add_test(tc, test_shared_board_down_means_no_cache);
    tcase_add_test(tc, test_shared_lost_connection_reconnects);
    tcase_add_test(tc, test_shared_no_reconnect_while_board_down);
    tcase_add_test(tc, test_shared_pg_host);
    return tc;
}
