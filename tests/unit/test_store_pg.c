/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What is particular to the PostgreSQL store (the contract suite covers
 * the rest): the URI and its masked form, a server that is not there or
 * goes away, timeouts, several connections at once, the feed, the schema
 * version, the copy callbacks. Run against the server of
 * tests/pyrus/pg.py (RUS_TEST_PG_URI), each test in a schema of its own;
 * without one, each test passes with a note. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include <libpq-fe.h>

#include "rus_backend.h"
#include "rus_store.h"
#include "test_common.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

/* Without a server: say so, and leave the test. */
#define NEED_SERVER()                                                  \
    do {                                                               \
        if (rus_test_pg_uri() == NULL) {                               \
            fprintf(stderr, "note: %s skipped (no RUS_TEST_PG_URI)\n", \
                    __func__);                                         \
            return;                                                    \
        }                                                              \
    } while (0)

/* A store on a fresh schema, options @a opts (NULL: the defaults),
 * created and prepared; @a extra is appended to the URI ("&k=v"). */
static rus_store_t *pg_store(const char **pschema,
                             const rus_store_options_t *opts, const char *extra)
{
    const char *spec = rus_test_pg_spec(pool, pschema), *msg = NULL,
               *warn = NULL;
    rus_store_t *store = NULL;

    spec = apr_pstrcat(pool, spec, extra ? extra : "", NULL);
    ck_assert_msg(rus_store_create(&store, pool, spec, NULL, opts, &msg)
                      == APR_SUCCESS,
                  "create: %s", msg);
    ck_assert_msg(rus_store_prepare(store, pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    return store;
}

static rus_conn_t *connected(const rus_store_t *store)
{
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    ck_assert_msg(rus_store_connect(&conn, store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    return conn;
}

static rus_user_t added(rus_conn_t *conn, const char *name)
{
    rus_user_t u;

    ck_assert_msg(rus_user_add(conn, name, 1000, 1, &u, pool) == APR_SUCCESS,
                  "add %s: %s", name, rus_store_error(conn));
    return u;
}

static rus_profile_t *profile_of(const char *email, const char *const *attrs,
                                 const char *groups, int replace);

/* The URI of the tests' server with its port replaced by one where no
 * server listens. */
static const char *dead_uri(void)
{
    const char *uri = rus_test_pg_uri();
    const char *host = strstr(uri, "@127.0.0.1:");
    const char *slash;

    ck_assert_ptr_nonnull(host);
    slash = strchr(host + 11, '/');
    ck_assert_ptr_nonnull(slash);
    return apr_pstrcat(pool,
                       apr_pstrmemdup(pool, uri, (apr_size_t)(host - uri)),
                       "@127.0.0.1:1", slash, NULL);
}

/* ---- the URI ---------------------------------------------------------- */

START_TEST(test_pg_display_masks_password)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://rus:s3cret@db1:5433,db2/"
                                      "rus?sslmode=require&password=two&x=1",
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    /* from a password parameter on, nothing (the facade's mask) */
    ck_assert_str_eq(rus_store_describe(store),
                     "postgresql://rus:***@db1:5433,db2/rus?sslmode=require&"
                     "password=***");
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgres://rus@db/rus?passfile=/p", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_ptr_eq(store->backend, &rus_backend_pg);
    ck_assert_str_eq(rus_store_describe(store),
                     "postgresql://rus@db/rus?passfile=/p");
    /* a ':' in the password, '@' is where the user information ends */
    ck_assert_int_eq(rus_store_create(&store, pool, "postgresql://u:a:b@h/d",
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store), "postgresql://u:***@h/d");
    ck_assert_str_eq(rus_backend_pg.display("//h/d", pool), "postgresql://h/d");
    /* libpq decodes the keys too */
    ck_assert_str_eq(rus_backend_pg.display("//h/d?pass%77ord=x&a=b", pool),
                     "postgresql://h/d?pass%77ord=***&a=b");
    ck_assert_str_eq(rus_backend_pg.display("//h/d?passwordx=y", pool),
                     "postgresql://h/d?passwordx=y");
    /* a raw '@' or '/' in the password: all of it masked, and refused */
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u:p@s/s@h/d?x=@", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    /* up to the last '@' of all: a '@' in a parameter hides more */
    ck_assert_str_eq(rus_store_describe(store), "postgresql://u:***@");
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_nonnull(strstr(msg, "percent-encoded"));
    ck_assert_ptr_null(strstr(msg, "p@s"));
    /* libpq ends the user information at the first '/' only: a raw '?'
     * or '#' belongs to the password */
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://rus:pa?ss#x@h/d", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store), "postgresql://rus:***@h/d");
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_null(strstr(msg, "pa?ss"));
    ck_assert_ptr_null(strstr(msg, "ss#x"));
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u:p%40s%2Fs@h/d", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store), "postgresql://u:***@h/d");
}
END_TEST

/* configtest parses and connects to nothing; libpq's refusal is the
 * message, without the password in it. */
START_TEST(test_pg_check_parses_only)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u:pw@127.0.0.1:1/x", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u:pw@h/x?nosuch=1", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_nonnull(strstr(msg, "nosuch"));
    ck_assert_ptr_nonnull(strstr(msg, "postgresql://u:***@h/x"));
    ck_assert_ptr_null(strchr(msg, '\n'));
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u:se%zzcret@h/x", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_null(strstr(msg, "se%zzcret"));
    ck_assert_ptr_null(strstr(msg, "zzcret"));
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql://u@h/x?password=pa%zzword",
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_null(strstr(msg, "zzword"));
    ck_assert_ptr_nonnull(strstr(msg, "password=***"));
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      "postgresql:host=h password=s3cret", NULL,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), RUS_STORE_ESPEC);
    ck_assert_ptr_nonnull(strstr(msg, "not a PostgreSQL URI"));
    ck_assert_ptr_null(strstr(msg, "s3cret"));
}
END_TEST

/* ---- a server not there ----------------------------------------------- */

START_TEST(test_pg_unreachable)
{
    rus_store_options_t opts;
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL, *warn = NULL;
    apr_status_t rv;

    NEED_SERVER();
    rus_store_options_default(&opts);
    ck_assert_int_eq(rus_store_create(&store, pool, dead_uri(), NULL, &opts,
                                      &msg),
                     APR_SUCCESS);
    rv = rus_store_prepare(store, pool, NULL, &warn, &msg);
    ck_assert_int_eq(rv, RUS_STORE_EUNREACHABLE);
    ck_assert_ptr_nonnull(strstr(msg, "postgresql://rus:***@127.0.0.1:1/"));
    ck_assert_ptr_null(strstr(msg, "rus-secret"));
    ck_assert_ptr_null(strchr(msg, '\n'));
    ck_assert(rus_store_error_is_transient(rv));
    ck_assert_str_eq(rus_store_error_kind(rv), "unreachable");
    rv = rus_store_connect(&conn, store, pool, &msg);
    ck_assert_int_eq(rv, RUS_STORE_EUNREACHABLE);
    ck_assert_ptr_null(strstr(msg, "rus-secret"));
}
END_TEST

/* A multi-host URI whose first host is down connects to the next. */
START_TEST(test_pg_failover_uri)
{
    const char *uri, *at, *msg = NULL, *warn = NULL, *schema = NULL;
    rus_store_t *store = NULL;
    rus_conn_t *conn;
    rus_user_t u;
    int created = 0;

    NEED_SERVER();
    uri = rus_test_pg_spec(pool, &schema);
    at = strstr(uri, "@127.0.0.1:");
    ck_assert_ptr_nonnull(at);
    uri = apr_pstrcat(pool, apr_pstrmemdup(pool, uri, (apr_size_t)(at - uri)),
                      "@127.0.0.1:1,", at + 1, NULL);
    ck_assert_int_eq(rus_store_create(&store, pool, uri, NULL, NULL, &msg),
                     APR_SUCCESS);
    ck_assert_msg(rus_store_prepare(store, pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    conn = connected(store);
    ck_assert_int_eq(rus_user_create(conn, "ann", 5, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
}
END_TEST

/* ---- several connections ---------------------------------------------- */

#define RACERS 8

typedef struct racer_t {
    const rus_store_t *store;
    apr_int64_t id;
    int created;
    apr_status_t rv;
    char error[RUS_CONN_ERROR_MAX];
} racer_t;

static void *APR_THREAD_FUNC race_create(apr_thread_t *t, void *data)
{
    racer_t *r = data;
    rus_conn_t *conn = NULL;
    apr_pool_t *p = NULL;
    const char *msg = NULL;
    rus_user_t u;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    r->rv = rus_store_connect(&conn, r->store, p, &msg);
    if (r->rv == APR_SUCCESS) {
        r->rv = rus_user_create(conn, "racer", 7, &u, &r->created, p);
        if (r->rv == APR_SUCCESS) {
            r->id = u.id;
        }
        apr_cpystrn(r->error, rus_store_error(conn), sizeof(r->error));
        rus_store_disconnect(conn);
    }
    else {
        apr_cpystrn(r->error, msg, sizeof(r->error));
    }
    apr_pool_destroy(p);
    /* Plain return, no apr_thread_exit(): pthread_exit() unwinding trips
     * a known AddressSanitizer false positive in sigaltstack. */
    (void)t;
    return NULL;
}

/* Connections racing to create one user make one row, which all get. */
START_TEST(test_pg_user_create_race)
{
    apr_thread_t *threads[RACERS];
    racer_t racers[RACERS];
    const char *schema = NULL;
    rus_store_t *store;
    apr_status_t trv;
    int i, created = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    memset(racers, 0, sizeof(racers));
    for (i = 0; i < RACERS; i++) {
        racers[i].store = store;
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, race_create,
                                           &racers[i], pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < RACERS; i++) {
        apr_thread_join(&trv, threads[i]);
    }
    for (i = 0; i < RACERS; i++) {
        ck_assert_msg(racers[i].rv == APR_SUCCESS, "racer %d: %s", i,
                      racers[i].error);
        ck_assert_int_eq(racers[i].id, racers[0].id);
        created += racers[i].created;
    }
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM users"), 1);
}
END_TEST

typedef struct seen_t {
    apr_array_header_t *ids;
} seen_t;

static apr_status_t note_change(void *baton, const rus_change_t *ch)
{
    seen_t *s = baton;

    APR_ARRAY_PUSH(s->ids, apr_int64_t) = ch->user_id;
    return APR_SUCCESS;
}

/* What one connection commits, another reads from the log; one from
 * outside the module (psql) too. */
START_TEST(test_pg_changes_across_connections)
{
    const char *schema = NULL;
    rus_store_t *store;
    rus_conn_t *a, *b;
    apr_int64_t last = -1, last2 = -1;
    seen_t seen;
    rus_user_t ann;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    a = connected(store);
    b = connected(store);
    ann = added(a, "ann");
    seen.ids = apr_array_make(pool, 4, sizeof(apr_int64_t));
    ck_assert_int_eq(rus_store_changes_since(b, 0, note_change, &seen, &last),
                     APR_SUCCESS);
    ck_assert_int_eq(seen.ids->nelts, 0);
    ck_assert_int_eq(last, 0);
    ck_assert_int_eq(rus_user_set_active(a, ann.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_store_changes_since(b, 0, note_change, &seen, &last),
                     APR_SUCCESS);
    ck_assert_int_eq(seen.ids->nelts, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(seen.ids, 0, apr_int64_t), ann.id);
    ck_assert_int_gt(last, 0);
    rus_test_pg_exec(schema, "UPDATE users SET is_active = true");
    ck_assert_int_eq(rus_store_changes_since(b, last, note_change, &seen,
                                             &last2),
                     APR_SUCCESS);
    ck_assert_int_eq(seen.ids->nelts, 2);
    ck_assert_int_gt(last2, last);
    /* the log went backwards (a restored copy): below since, no calls */
    ck_assert_int_eq(rus_store_changes_since(b, last2 + 100, note_change, &seen,
                                             &last),
                     RUS_CHANGES_ENOUGH);
    ck_assert_int_eq(last, last2);
    ck_assert_int_eq(seen.ids->nelts, 2);
    /* a TRUNCATE by psql is about every answer */
    rus_test_pg_exec(schema, "TRUNCATE sessions");
    ck_assert_int_eq(rus_store_changes_since(b, last2, note_change, &seen,
                                             &last),
                     RUS_CHANGES_ENOUGH);
    ck_assert_int_gt(last, last2);
    ck_assert_int_eq(seen.ids->nelts, 2);
    rus_store_disconnect(a);
    rus_store_disconnect(b);
}
END_TEST

/* ---- the feed --------------------------------------------------------- */

/* The feed wakes up for a commit by another connection, well within its
 * timeout, and reads the log's last id; without one it waits it out. */
START_TEST(test_pg_feed_sees_commit)
{
    const char *schema = NULL, *msg = NULL;
    rus_feed_t *feed = NULL;
    rus_store_t *store;
    rus_conn_t *conn;
    apr_int64_t first = -1, last = -1;
    apr_time_t t0, waited;
    rus_user_t ann;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    ann = added(conn, "ann");
    ck_assert_msg(rus_backend_pg.feed_open(store, &feed, pool, &msg)
                      == APR_SUCCESS,
                  "feed: %s", msg);
    ck_assert_ptr_eq(feed->backend, &rus_backend_pg);
    ck_assert_int_eq(rus_test_pg_int(NULL,
                                     "SELECT count(*) FROM pg_stat_activity"
                                     " WHERE application_name ="
                                     " 'remoteuser-session-listener'"),
                     1);
    ck_assert_int_eq(rus_backend_pg.feed_wait(feed, 0, &first, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(first, 0);
    t0 = apr_time_now();
    ck_assert_int_eq(rus_backend_pg.feed_wait(feed, 200, &last, &msg),
                     APR_SUCCESS);
    waited = apr_time_now() - t0;
    ck_assert_int_ge(waited, apr_time_from_msec(150));
    ck_assert_int_eq(last, 0);
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 0, NULL), APR_SUCCESS);
    t0 = apr_time_now();
    ck_assert_int_eq(rus_backend_pg.feed_wait(feed, 5000, &last, &msg),
                     APR_SUCCESS);
    waited = apr_time_now() - t0;
    ck_assert_int_lt(waited, apr_time_from_msec(1000));
    ck_assert_int_gt(last, first);
    /* its server connection killed: the feed says so */
    rus_test_pg_exec(NULL, "SELECT pg_terminate_backend(pid)"
                           " FROM pg_stat_activity WHERE application_name ="
                           " 'remoteuser-session-listener'");
    ck_assert_int_ne(rus_backend_pg.feed_wait(feed, 2000, &last, &msg),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_null(strstr(msg, "rus-secret"));
    rus_backend_pg.feed_close(feed);
    rus_store_disconnect(conn);
}
END_TEST

/* ---- connections lost and timeouts ------------------------------------ */

/* A request on a connection whose server process was killed fails as
 * unreachable and marks it broken; the pool gives out a new connection
 * the next time instead of failing again. */
START_TEST(test_pg_broken_connection)
{
    const char *schema = NULL, *msg = NULL, *app;
    rus_store_pool_t *spool = NULL;
    rus_store_t *store;
    rus_conn_t *conn, *a = NULL, *b = NULL;
    apr_status_t rv;
    rus_user_t u;
    int created = 0;

    NEED_SERVER();
    app = apr_psprintf(pool, "ut-broken-%ld", (long)getpid());
    store = pg_store(&schema, NULL,
                     apr_pstrcat(pool, "&application_name=", app, NULL));
    conn = connected(store);
    ck_assert_int_eq(rus_user_create(conn, "ann", 5, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_pool_create(&spool, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&a, spool, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(a, "ann", &u, pool), APR_SUCCESS);
    rus_store_release(spool, a);
    rus_test_pg_exec(NULL, apr_pstrcat(pool,
                                       "SELECT pg_terminate_backend(pid)"
                                       " FROM pg_stat_activity WHERE"
                                       " application_name = '",
                                       app, "'", NULL));
    apr_sleep(apr_time_from_msec(100));
    rv = rus_user_find(conn, "ann", &u, pool);
    ck_assert_int_eq(rv, RUS_STORE_EUNREACHABLE);
    ck_assert_int_eq(conn->broken, 1);
    ck_assert(rus_store_error_is_transient(rv));
    ck_assert_ptr_nonnull(
        strstr(rus_store_error(conn), "postgresql://rus:***@"));
    ck_assert_ptr_null(strstr(rus_store_error(conn), "rus-secret"));
    rus_store_disconnect(conn);
    /* the pooled one is found lost and replaced */
    ck_assert_msg(rus_store_acquire(&b, spool, pool, &msg) == APR_SUCCESS,
                  "acquire: %s", msg);
    ck_assert_msg(rus_user_find(b, "ann", &u, pool) == APR_SUCCESS, "find: %s",
                  rus_store_error(b));
    rus_store_release(spool, b);
}
END_TEST

/* A lock held elsewhere longer than the busy timeout: the transient
 * status SQLite gives for "locked", on a connection that stays usable. */
START_TEST(test_pg_busy_timeout)
{
    rus_store_options_t opts;
    const char *schema = NULL;
    const char *keys[3] = { "dbname", "options", NULL }, *vals[3];
    rus_store_t *store;
    rus_conn_t *conn;
    PGconn *holder;
    apr_time_t t0;
    apr_status_t rv;
    rus_user_t u;

    NEED_SERVER();
    rus_store_options_default(&opts);
    opts.busy_timeout_ms = 300;
    store = pg_store(&schema, &opts, NULL);
    conn = connected(store);
    added(conn, "ann");
    vals[0] = rus_test_pg_uri();
    vals[1] = apr_pstrcat(pool, "-csearch_path=", schema, NULL);
    vals[2] = NULL;
    holder = PQconnectdbParams(keys, vals, 1);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PQclear(PQexec(holder, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"));
    t0 = apr_time_now();
    rv = rus_user_find(conn, "ann", &u, pool);
    ck_assert_int_eq(rv, APR_TIMEUP);
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(3000));
    ck_assert(rus_store_error_is_transient(rv));
    ck_assert_str_eq(rus_store_error_kind(rv), "locked");
    ck_assert_int_eq(conn->broken, 0);
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    /* a statement that runs too long (statement_timeout): the same */
    rus_test_pg_exec(schema,
                     "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql"
                     " AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;"
                     " CREATE TRIGGER slow BEFORE INSERT ON sessions"
                     " FOR EACH ROW EXECUTE FUNCTION slow()");
    t0 = apr_time_now();
    rv = rus_session_insert(conn, "h1", u.id, "v", 1, 2);
    ck_assert_msg(rv == APR_TIMEUP, "insert: %d %s", rv, rus_store_error(conn));
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(1500));
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "busy timeout"));
    ck_assert_int_eq(conn->broken, 0);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    rus_store_disconnect(conn);
}
END_TEST

/* Logged writers are serialised from their first logged row to their
 * commit, so change ids come in commit order: while another transaction
 * holds an uncommitted change, a second one waits (here: past the busy
 * timeout), even on another user; unlogged writes do not wait. */
START_TEST(test_pg_changes_serialised)
{
    rus_store_options_t opts;
    const char *schema = NULL;
    const char *keys[3] = { "dbname", "options", NULL }, *vals[3];
    rus_store_t *store;
    rus_conn_t *conn;
    PGconn *holder;
    rus_user_t ann, bob, carl;
    int created = 0;

    NEED_SERVER();
    rus_store_options_default(&opts);
    opts.busy_timeout_ms = 300;
    store = pg_store(&schema, &opts, NULL);
    conn = connected(store);
    ann = added(conn, "ann");
    bob = added(conn, "bob");
    vals[0] = rus_test_pg_uri();
    vals[1] = apr_pstrcat(pool, "-csearch_path=", schema, NULL);
    vals[2] = NULL;
    holder = PQconnectdbParams(keys, vals, 1);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PQclear(PQexec(holder, apr_psprintf(pool,
                                        "UPDATE users SET is_active = false"
                                        " WHERE id = %" APR_INT64_T_FMT,
                                        ann.id)));
    ck_assert_int_eq(rus_user_set_active(conn, bob.id, 0, NULL), APR_TIMEUP);
    ck_assert_int_eq(rus_user_create(conn, "carl", 5, &carl, &created, pool),
                     APR_SUCCESS);
    PQclear(PQexec(holder, "COMMIT"));
    PQfinish(holder);
    ck_assert_int_eq(rus_user_set_active(conn, bob.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_test_pg_int(schema,
                                     "SELECT count(*) FROM changes c1 JOIN"
                                     " changes c2 ON c2.id > c1.id"
                                     " WHERE c1.user_id <> c2.user_id"),
                     1);
    rus_store_disconnect(conn);
}
END_TEST

/* A disable of a user while a logout of one of its sessions is under
 * way (its row locked, its change not yet logged): the disable takes its
 * sessions' row locks before the change log's lock, so the two never
 * wait for each other in a cycle. The other order deadlocked: PostgreSQL
 * failed one of them after deadlock_timeout. */
typedef struct disable_job_t {
    rus_conn_t *conn;
    apr_int64_t user_id;
    apr_status_t rv;
} disable_job_t;

static void *APR_THREAD_FUNC disable_user(apr_thread_t *t, void *data)
{
    disable_job_t *job = data;

    (void)t;
    job->rv = rus_user_set_active(job->conn, job->user_id, 0, NULL);
    return NULL; /* see race_create() */
}

START_TEST(test_pg_disable_racing_logout)
{
    const char *schema = NULL;
    const char *keys[3] = { "dbname", "options", NULL }, *vals[3];
    disable_job_t job;
    apr_thread_t *thread;
    apr_status_t trv;
    rus_store_t *store;
    PGconn *logout;
    PGresult *res;
    rus_user_t ann;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    job.conn = connected(store);
    ann = added(job.conn, "ann");
    job.user_id = ann.id;
    job.rv = APR_EGENERAL;
    ck_assert_int_eq(rus_session_insert(job.conn, "s1", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    vals[0] = rus_test_pg_uri();
    vals[1] = apr_pstrcat(pool, "-csearch_path=", schema, NULL);
    vals[2] = NULL;
    logout = PQconnectdbParams(keys, vals, 1);
    ck_assert_int_eq(PQstatus(logout), CONNECTION_OK);
    PQclear(PQexec(logout, "BEGIN"));
    PQclear(PQexec(logout, "SELECT 1 FROM sessions WHERE token_hash = 's1'"
                           " FOR UPDATE"));
    ck_assert_int_eq(apr_thread_create(&thread, NULL, disable_user, &job, pool),
                     APR_SUCCESS);
    apr_sleep(apr_time_from_msec(300)); /* the disable waits for s1 */
    res = PQexec(logout, "DELETE FROM sessions WHERE token_hash = 's1'");
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "logout: %s",
                  PQresultErrorMessage(res));
    PQclear(res);
    PQclear(PQexec(logout, "COMMIT"));
    PQfinish(logout);
    apr_thread_join(&trv, thread);
    ck_assert_msg(job.rv == APR_SUCCESS, "disable: %s",
                  rus_store_error(job.conn));
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM users"
                                             " WHERE NOT is_active"),
                     1);
    rus_store_disconnect(job.conn);
}
END_TEST

/* ---- the schema ------------------------------------------------------- */

/* A connection to a database without the schema creates it; one with a
 * newer version than this build knows is refused, at prepare and at
 * connect. */
START_TEST(test_pg_schema_versions)
{
    const char *spec, *schema = NULL, *msg = NULL, *warn = NULL;
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    rus_store_info_t info;

    NEED_SERVER();
    spec = rus_test_pg_spec(pool, &schema);
    ck_assert_int_eq(rus_store_create(&store, pool, spec, NULL, NULL, &msg),
                     APR_SUCCESS);
    conn = connected(store); /* no prepare */
    ck_assert_int_eq(rus_store_info(conn, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, 4);
    rus_store_disconnect(conn);
    rus_test_pg_exec(schema, "UPDATE rus_schema SET version = 99");
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(msg, "schema version 99"));
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(msg, "schema version 99"));
    ck_assert_ptr_null(strstr(msg, "rus-secret"));
}
END_TEST

/* The consistency check finds what the constraints should have
 * prevented. */
START_TEST(test_pg_integrity_finds_orphans)
{
    const char *schema = NULL, *result = NULL;
    rus_store_t *store;
    rus_conn_t *conn;
    int ok = -1;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    added(conn, "ann");
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 1);
    ck_assert_str_eq(result, "ok");
    rus_test_pg_exec(schema, "ALTER TABLE sessions DROP CONSTRAINT"
                             " sessions_user_id_fkey;"
                             " INSERT INTO sessions VALUES"
                             " ('orphan', 4242, 'v', 1, 1, 2)");
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 0);
    ck_assert_str_eq(result, "session orphan of missing user 4242");
    /* an id the sequence would hand out again */
    rus_test_pg_exec(schema, "DELETE FROM sessions;"
                             " INSERT INTO users (id, username, date_joined)"
                             " OVERRIDING SYSTEM VALUE VALUES (999, 'x', 1)");
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 0);
    ck_assert_str_eq(result, "user id 999 above its sequence");
    /* an attribute of no user */
    rus_test_pg_exec(schema, "DELETE FROM users WHERE id = 999;"
                             " ALTER TABLE user_attributes DROP CONSTRAINT"
                             " user_attributes_user_id_fkey;"
                             " INSERT INTO user_attributes"
                             " VALUES (4242, 'title', 'x')");
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 0);
    ck_assert_str_eq(result, "attribute 'title' of missing user 4242");
    rus_store_disconnect(conn);
}
END_TEST

/* ---- the copy callbacks ----------------------------------------------- */

static apr_status_t load_into(void *baton, const rus_store_row_t *row)
{
    rus_conn_t *to = baton;

    return rus_backend_pg.load_row(to, row);
}

/* A dump loaded into an empty store keeps ids, times and hashes, and ids
 * handed out later come after the copied ones; a store with rows in it is
 * refused. */
START_TEST(test_pg_dump_load)
{
    const char *sa = NULL, *sb = NULL;
    rus_store_t *from_store, *to_store;
    rus_conn_t *from, *to;
    rus_session_t s;
    rus_user_t ann, bob, u;
    rus_group_t g;

    NEED_SERVER();
    from_store = pg_store(&sa, NULL, NULL);
    to_store = pg_store(&sb, NULL, NULL);
    from = connected(from_store);
    to = connected(to_store);
    added(from, "gone");
    ann = added(from, "ann");
    bob = added(from, "bob");
    ck_assert_int_eq(rus_user_delete(from, ann.id - 1), APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(from, bob.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(from, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(from, "staff", &g, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(from, g.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(from, "hash1", ann.id, "v:443", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_touch(from, "hash1", 20), APR_SUCCESS);
    added(from, "we\\ird\tname\n");
    /* a profile: the columns, attributes (one with COPY's specials), a
     * front end's membership beside the administrator's */
    {
        static const char *const attrs[] = { "title", "C\\T\"O", "room", "1",
                                             NULL };
        rus_profile_t *pr = profile_of("ann@x", attrs, "staff,dev", 0);

        pr->last_name = "O'Neil";
        ck_assert_int_eq(rus_user_sync(from, ann.id, pr, 30, 3600),
                         APR_SUCCESS);
    }

    ck_assert_msg(rus_backend_pg.load_begin(to) == APR_SUCCESS, "begin: %s",
                  rus_store_error(to));
    ck_assert_msg(rus_backend_pg.dump(from, load_into, to, pool) == APR_SUCCESS,
                  "dump: %s / %s", rus_store_error(from), rus_store_error(to));
    ck_assert_msg(rus_backend_pg.load_end(to, 1) == APR_SUCCESS, "end: %s",
                  rus_store_error(to));

    ck_assert_int_eq(rus_session_find(to, "hash1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.user_id, ann.id);
    ck_assert_str_eq(s.vhost, "v:443");
    ck_assert_int_eq(s.created_at, 10);
    ck_assert_int_eq(s.last_seen, 20);
    ck_assert_int_eq(s.expires_at, 4000000000LL);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_str_eq(u.groups, "dev,staff");
    ck_assert_str_eq(u.frontend_groups, "dev");
    ck_assert_str_eq(u.email, "ann@x");
    ck_assert_str_eq(u.first_name, "");
    ck_assert_str_eq(u.last_name, "O'Neil");
    ck_assert_int_eq(u.attrs->nelts, 2);
    ck_assert_str_eq(rus_attrs_get(u.attrs, "title"), "C\\T\"O");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "room"), "1");
    ck_assert_int_eq(rus_user_find(to, "bob", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, bob.id);
    ck_assert_int_eq(u.is_active, 0);
    ck_assert_int_eq(u.date_joined, 1000);
    ck_assert_int_eq(u.last_login, 0);
    ck_assert_int_eq(rus_group_find(to, "staff", &g, pool), APR_SUCCESS);
    ck_assert_int_eq(g.members, 1);
    ck_assert_int_eq(rus_test_pg_int(sb, "SELECT count(*) FROM user_groups"
                                         " WHERE origin = 'admin'"),
                     1);
    ck_assert_int_eq(rus_user_find(to, "we\\ird\tname\n", &u, pool),
                     APR_SUCCESS);
    u = added(to, "carl");
    ck_assert_int_gt(u.id, bob.id);
    ck_assert_int_eq(rus_group_add(to, "more"), APR_SUCCESS);

    /* not empty now: refused, and left as it is */
    ck_assert_int_eq(rus_backend_pg.load_begin(to), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(rus_store_error(to), "not empty"));
    ck_assert_int_eq(rus_user_find(to, "carl", &u, pool), APR_SUCCESS);
    /* a load rolled back leaves nothing */
    rus_store_disconnect(from);
    rus_store_disconnect(to);
    from_store = pg_store(&sa, NULL, NULL);
    to = connected(from_store);
    ck_assert_int_eq(rus_backend_pg.load_begin(to), APR_SUCCESS);
    ck_assert_int_eq(rus_backend_pg.load_row(to,
                                             &(rus_store_row_t){
                                                 .kind = RUS_ROW_GROUP,
                                                 .group = { 5, "g", 0 } }),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_backend_pg.load_end(to, 0), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(to, "g", &g, pool), APR_ENOENT);
    /* a row the server refuses (a member of no user) fails the load,
     * at the latest when it ends, and nothing stays */
    ck_assert_int_eq(rus_backend_pg.load_begin(to), APR_SUCCESS);
    ck_assert_int_eq(rus_backend_pg.load_row(to,
                                             &(rus_store_row_t){
                                                 .kind = RUS_ROW_GROUP,
                                                 .group = { 5, "g", 0 } }),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_backend_pg.load_row(to,
                                             &(rus_store_row_t){
                                                 .kind = RUS_ROW_MEMBER,
                                                 .user_id = 77,
                                                 .group_id = 5 }),
                     APR_SUCCESS);
    ck_assert_int_ne(rus_backend_pg.load_end(to, 1), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(rus_store_error(to), "load"));
    ck_assert_int_eq(rus_group_find(to, "g", &g, pool), APR_ENOENT);
    ck_assert_int_eq(rus_backend_pg.load_begin(to), APR_SUCCESS);
    ck_assert_int_eq(rus_backend_pg.load_end(to, 0), APR_SUCCESS);
    rus_store_disconnect(to);
}
END_TEST

/* ---- #19: profiles -------------------------------------------------- */

/* A profile: @a email (NULL: not given), @a attrs name and value pairs
 * ending in NULL (NULL: none given), @a groups comma-separated (NULL: no
 * group source), Replace when @a replace. */
static rus_profile_t *profile_of(const char *email, const char *const *attrs,
                                 const char *groups, int replace)
{
    rus_profile_t *pr = apr_pcalloc(pool, sizeof(*pr));
    int i;

    pr->email = email;
    if (attrs != NULL) {
        pr->attrs = apr_array_make(pool, 4, sizeof(rus_attr_t));
        for (i = 0; attrs[i] != NULL; i += 2) {
            rus_attr_t *a = apr_array_push(pr->attrs);

            a->name = attrs[i];
            a->value = attrs[i + 1];
        }
    }
    if (groups != NULL) {
        pr->groups = rus_groups_split(pool, groups, ",");
    }
    pr->groups_replace = replace;
    return pr;
}

/* A database at schema version 1 (before #19) with a user, a group, a
 * membership and a session, migrated in place on the next connection:
 * the rows kept, the membership an administrator's, the new columns
 * empty, and the triggers logging the new kinds of change. The version 1
 * schema is this build's, with what migrations 1 -> 2, 2 -> 3 and 3 -> 4
 * add taken away (the old trigger put back as step 0 made it). */
START_TEST(test_pg_migrate_from_1)
{
    const char *schema = NULL, *msg = NULL;
    rus_store_t *store;
    rus_conn_t *conn;
    rus_store_info_t info;
    apr_array_header_t *ms = NULL;
    rus_session_t s;
    rus_user_t ann, u;
    rus_group_t g;
    long long before;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    ann = added(conn, "ann");
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(conn, "staff", &g, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, g.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_pg_exec(schema,
                     "DROP TABLE counters; DROP TABLE user_attributes;"
                     " ALTER TABLE sessions DROP COLUMN ip,"
                     " DROP COLUMN user_agent;"
                     " DROP TRIGGER changes_user_update ON users;"
                     " ALTER TABLE users DROP COLUMN email,"
                     " DROP COLUMN first_name, DROP COLUMN last_name;"
                     " ALTER TABLE user_groups DROP COLUMN origin;"
                     " CREATE TRIGGER changes_user_update AFTER UPDATE OF"
                     " is_active, username ON users FOR EACH ROW WHEN"
                     " (OLD.is_active IS DISTINCT FROM NEW.is_active OR"
                     " OLD.username IS DISTINCT FROM NEW.username)"
                     " EXECUTE FUNCTION rus_changes_user();"
                     " UPDATE rus_schema SET version = 1");
    ck_assert_int_eq(rus_test_pg_int(schema,
                                     "SELECT count(*) FROM"
                                     " information_schema.columns WHERE"
                                     " table_schema = current_schema() AND"
                                     " column_name IN ('email', 'origin')"),
                     0);
    ck_assert_msg(rus_store_connect(&conn, store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    ck_assert_int_eq(rus_store_info(conn, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, 4);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, ann.id);
    ck_assert_str_eq(u.groups, "staff");
    ck_assert_str_eq(u.frontend_groups, "");
    ck_assert_str_eq(u.email, "");
    ck_assert_ptr_null(u.attrs);
    ck_assert_int_eq(rus_user_memberships(conn, ann.id, &ms, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ms->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(ms, 0, rus_membership_t).origin,
                     RUS_ORIGIN_ADMIN);
    /* an administrator's already */
    ck_assert_int_eq(rus_group_add_member(conn, g.id, ann.id), APR_EEXIST);
    /* the triggers of version 2: a column, an attribute, a membership's
     * origin each log a change of the user */
    before = rus_test_pg_int(schema, "SELECT count(*) FROM changes");
    rus_test_pg_exec(schema, "UPDATE users SET email = 'a@x'");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before + 1);
    rus_test_pg_exec(schema, "UPDATE users SET last_login = 77");
    rus_test_pg_exec(schema, "INSERT INTO user_attributes"
                             " SELECT id, 'title', 'CTO' FROM users");
    rus_test_pg_exec(schema, "UPDATE user_attributes SET value = value");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before + 2);
    /* (an update logs its old and its new row's user) */
    rus_test_pg_exec(schema, "UPDATE user_groups SET origin = 'frontend'");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before + 4);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"
                                             " WHERE session_hash IS NOT NULL"
                                             " OR user_id IS NULL"),
                     0);
    rus_test_pg_exec(schema, "TRUNCATE user_attributes");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"
                                             " WHERE user_id IS NULL"),
                     1);
    rus_store_disconnect(conn);
}
END_TEST

/* A database at schema version 2 (before #20: this build's without the
 * counters table, all that migration 2 -> 3 adds, nor the sessions'
 * columns of 3 -> 4), migrated in place on
 * the next connection: its rows and change log kept, the counters empty,
 * and an administrator's revocations counted at once, by the one
 * statement that revokes (no extra round trip, no row in the log). */
START_TEST(test_pg_migrate_from_2)
{
    const char *schema = NULL, *msg = NULL;
    rus_store_options_t opts;
    rus_store_t *store, *adm_store = NULL;
    rus_conn_t *conn, *adm;
    rus_store_info_t info;
    rus_user_change_t ch;
    rus_session_t s;
    rus_user_t ann, u;
    int count = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    ann = added(conn, "ann");
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(conn, "h2"), APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_pg_exec(schema, "DROP TABLE counters;"
                             " ALTER TABLE sessions DROP COLUMN ip,"
                             " DROP COLUMN user_agent;"
                             " UPDATE rus_schema SET version = 2");

    rus_store_options_default(&opts);
    opts.admin = 1;
    ck_assert_int_eq(rus_store_create(&adm_store, pool,
                                      apr_pstrcat(pool, "postgresql:",
                                                  store->location, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    ck_assert_msg(rus_store_connect(&adm, adm_store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    ck_assert_int_eq(rus_store_info(adm, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, 4);
    ck_assert_int_eq(info.users, 1);
    ck_assert_int_eq(info.sessions, 1);
    ck_assert_int_eq(info.changes, 1);
    ck_assert_int_eq(info.revoked_admin, 0);
    ck_assert_int_eq(info.revoked_deactivation, 0);
    ck_assert_int_eq(rus_session_find(adm, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, ann.id);

    ck_assert_int_eq(rus_session_insert(adm, "h3", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(adm, "h3"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(adm, "h3"), APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(adm, ann.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.sessions_ended, 1);
    ck_assert_int_eq(ch.changed, 1);
    ck_assert_int_eq(rus_session_insert(adm, "h4", ann.id, "v", 10, 50),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_all(adm, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(rus_store_info(adm, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.revoked_admin, 2);
    ck_assert_int_eq(info.revoked_deactivation, 1);
    /* h3, h1 and ann's state; h4 was expired; the counters log nothing */
    ck_assert_int_eq(info.changes, 4);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT value FROM counters"
                                             " WHERE name = 'revoked_admin'"),
                     2);
    rus_store_disconnect(adm);
}
END_TEST

/* A database at schema version 3 (before #21: this build's without the
 * sessions' ip and user_agent, all that migration 3 -> 4 adds), migrated
 * in place on the next connection: its sessions kept with '' for both
 * (NOT NULL DEFAULT ''), still authenticating; the migration logs
 * nothing, the triggers are as they were (a session deleted is logged,
 * the new columns written by hand are not), and a login stores both at
 * once. */
START_TEST(test_pg_migrate_from_3)
{
    const char *schema = NULL, *msg = NULL;
    apr_array_header_t *rows = NULL;
    const rus_session_row_t *r;
    rus_store_t *store;
    rus_conn_t *conn;
    rus_store_info_t info;
    rus_session_t s;
    rus_user_t ann, u;
    long long before;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    ann = added(conn, "ann");
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", ann.id, "v", 20,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_pg_exec(schema, "ALTER TABLE sessions DROP COLUMN ip,"
                             " DROP COLUMN user_agent;"
                             " UPDATE rus_schema SET version = 3");
    before = rus_test_pg_int(schema, "SELECT count(*) FROM changes");

    ck_assert_msg(rus_store_connect(&conn, store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    ck_assert_int_eq(rus_store_info(conn, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, 4);
    ck_assert_int_eq(info.sessions, 2);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before);
    ck_assert_int_eq(rus_test_pg_int(schema,
                                     "SELECT count(*) FROM"
                                     " information_schema.columns WHERE"
                                     " table_schema = current_schema() AND"
                                     " table_name = 'sessions' AND"
                                     " column_name IN ('ip', 'user_agent')"
                                     " AND data_type = 'text' AND"
                                     " is_nullable = 'NO' AND"
                                     " column_default LIKE '''''%'"),
                     2);
    ck_assert_int_eq(rus_session_list(conn, ann.id, &rows, pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 2);
    r = &APR_ARRAY_IDX(rows, 1, rus_session_row_t);
    ck_assert_str_eq(r->token_hash, "h1");
    ck_assert_str_eq(r->session.ip, "");
    ck_assert_str_eq(r->session.user_agent, "");
    ck_assert_int_eq(r->session.created_at, 10);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, ann.id);

    /* the triggers */
    rus_test_pg_exec(schema, "UPDATE sessions SET ip = '192.0.2.1',"
                             " user_agent = 'x' WHERE token_hash = 'h1'");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before);
    rus_test_pg_exec(schema, "DELETE FROM sessions WHERE token_hash = 'h2'");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"
                                             " WHERE session_hash = 'h2'"),
                     1);

    /* a login after it */
    ck_assert_int_eq(rus_session_insert_with(conn, "h3", ann.id, "v",
                                             "2001:db8::2", "curl/8.5.0", 30,
                                             4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_test_pg_int(schema,
                                     "SELECT count(*) FROM sessions WHERE"
                                     " (token_hash, ip, user_agent) IN"
                                     " (('h1', '192.0.2.1', 'x'),"
                                     " ('h3', '2001:db8::2', 'curl/8.5.0'))"),
                     2);
    rus_store_disconnect(conn);
}
END_TEST

/* An administrator's revocation and its count are one transaction: when
 * the count cannot be written (a trigger refusing it here), no session
 * is revoked, nor a user disabled or deleted. */
START_TEST(test_pg_admin_count_is_atomic)
{
    const char *schema = NULL;
    rus_store_options_t opts;
    rus_user_change_t ch;
    rus_conn_t *conn;
    rus_user_t ann;
    int count = -1;

    NEED_SERVER();
    rus_store_options_default(&opts);
    opts.admin = 1;
    conn = connected(pg_store(&schema, &opts, NULL));
    ann = added(conn, "ann");
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_test_pg_exec(schema, "CREATE FUNCTION refuse() RETURNS trigger"
                             " LANGUAGE plpgsql AS $$ BEGIN"
                             " RAISE EXCEPTION 'refused here'; END $$;"
                             " CREATE TRIGGER refuse BEFORE INSERT ON counters"
                             " FOR EACH ROW EXECUTE FUNCTION refuse()");
    ck_assert_int_ne(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "refused here"));
    ck_assert_int_ne(rus_session_revoke_user(conn, ann.id), APR_SUCCESS);
    ck_assert_int_ne(rus_session_revoke_all(conn, &count), APR_SUCCESS);
    ck_assert_int_eq(count, -1);
    ck_assert_int_ne(rus_user_set_active(conn, ann.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_ne(rus_user_delete(conn, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM sessions"),
                     1);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM users"
                                             " WHERE is_active"),
                     1);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     0);
    rus_test_pg_exec(schema, "DROP TRIGGER refuse ON counters");
    ck_assert_int_eq(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT value FROM counters"), 1);
    rus_store_disconnect(conn);
}
END_TEST

/* A user created with a profile has it in the one transaction (the new
 * columns and table hold it), the groups created; a sync writes only
 * what differs, keeps an administrator's membership through Replace, and
 * says APR_ENOENT for no such user; a malformed attribute column is
 * RUS_STORE_ECORRUPT. */
/* The transaction ids that wrote the rows of the profile's tables: a
 * write (even of the same values) makes a new row version. */
#define ROW_VERSIONS                                                     \
    "SELECT sum(x::text::bigint) FROM (SELECT xmin AS x FROM users"      \
    " UNION ALL SELECT xmin FROM user_attributes"                        \
    " UNION ALL SELECT xmin FROM user_groups UNION ALL SELECT xmin FROM" \
    " groups) t"

START_TEST(test_pg_profile_rows)
{
    static const char *const attrs1[] = { "title", "CTO", "room", "1:2", NULL };
    static const char *const attrs2[] = { "title", "CEO", "room", "", NULL };
    const char *schema = NULL;
    rus_store_t *store;
    rus_conn_t *conn;
    rus_user_t u, v;
    rus_group_t g;
    long long before, xmins;
    int created = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    conn = connected(store);
    ck_assert_int_eq(rus_group_add(conn, "ops"), APR_SUCCESS);
    ck_assert_msg(rus_user_create_with(conn, "ann", 100,
                                       profile_of("ann@x", attrs1, "staff,ops",
                                                  1),
                                       &u, &created, pool)
                      == APR_SUCCESS,
                  "create: %s", rus_store_error(conn));
    ck_assert_int_eq(created, 1);
    ck_assert_str_eq(u.email, "ann@x");
    ck_assert_str_eq(u.groups, "ops,staff");
    ck_assert_str_eq(u.frontend_groups, "ops,staff");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "room"), "1:2");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM users"
                                             " WHERE email = 'ann@x'"
                                             " AND last_name = ''"),
                     1);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM"
                                             " user_attributes WHERE"
                                             " (name, value) IN (('title',"
                                             " 'CTO'), ('room', '1:2'))"),
                     2);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM"
                                             " user_groups WHERE origin ="
                                             " 'frontend'"),
                     2);
    /* a second creation of the same name writes nothing of its profile */
    ck_assert_int_eq(rus_user_create_with(conn, "ann", 200,
                                          profile_of("other@x", NULL, NULL, 0),
                                          &v, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_str_eq(v.email, "ann@x");
    /* ops becomes an administrator's: Replace keeps it */
    ck_assert_int_eq(rus_group_find(conn, "ops", &g, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, g.id, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, g.id, u.id), APR_EEXIST);
    before = rus_test_pg_int(schema, "SELECT count(*) FROM changes");
    xmins = rus_test_pg_int(schema, ROW_VERSIONS);
    /* the same again: no row written (no new row version), nothing
     * logged */
    ck_assert_int_eq(rus_user_sync(conn, u.id,
                                   profile_of("ann@x", attrs1, "staff,ops", 1),
                                   300, 3600),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before);
    ck_assert_int_eq(rus_test_pg_int(schema, ROW_VERSIONS), xmins);
    ck_assert_msg(rus_user_sync(conn, u.id, profile_of("", attrs2, "dev", 1),
                                300, 100)
                      == APR_SUCCESS,
                  "sync: %s", rus_store_error(conn));
    ck_assert_int_eq(rus_user_find(conn, "ann", &v, pool), APR_SUCCESS);
    ck_assert_str_eq(v.email, "");
    ck_assert_str_eq(v.groups, "dev,ops");
    ck_assert_str_eq(v.frontend_groups, "dev");
    ck_assert_int_eq(v.attrs->nelts, 1);
    ck_assert_str_eq(rus_attrs_get(v.attrs, "title"), "CEO");
    ck_assert_int_eq(v.last_login, 300);
    ck_assert_int_gt(rus_test_pg_int(schema, "SELECT count(*) FROM changes"),
                     before);
    ck_assert_int_eq(rus_user_sync(conn, u.id + 100,
                                   profile_of("x", NULL, NULL, 0), 300, 3600),
                     APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "ann", &v, pool), APR_SUCCESS);
    /* a row whose attributes do not decode (a name repeated) */
    rus_test_pg_exec(schema, "ALTER TABLE user_attributes DROP CONSTRAINT"
                             " user_attributes_pkey;"
                             " INSERT INTO user_attributes"
                             " SELECT id, 'title', 'x' FROM users");
    ck_assert_int_eq(rus_user_find(conn, "ann", &v, pool), RUS_STORE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "do not decode"));
    rus_store_disconnect(conn);
}
END_TEST

/* The attributes' lengths are counted in the client's encoding: with a
 * client_encoding other than the database's (LATIN1 against UTF8 here),
 * a value whose bytes the server converts (UTF-8 read as two Latin-1
 * characters, four bytes in the database) decodes as it was written. */
START_TEST(test_pg_attrs_client_encoding)
{
    static const char *const attrs[] = { "city", "Z\xc3\xbcrich", NULL };
    const char *schema = NULL;
    rus_store_t *store;
    rus_conn_t *conn;
    rus_user_t u;
    int created = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, "&client_encoding=LATIN1");
    conn = connected(store);
    ck_assert_int_eq(rus_user_create_with(conn, "ann", 5,
                                          profile_of(NULL, attrs, NULL, 0), &u,
                                          &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(rus_attrs_get(u.attrs, "city"), "Z\xc3\xbcrich");
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT octet_length(value)"
                                             " FROM user_attributes"),
                     9);
    rus_store_disconnect(conn);
}
END_TEST

/* ---- round trips ------------------------------------------------------ */

/* A TCP proxy between one client and the tests' server that counts the
 * client's Sync and Query messages: the client waits for the server's
 * answer after each, so each is one round trip. The URI it gives turns
 * SSL and GSS encryption off, so the protocol can be read. */
typedef struct counter_t {
    apr_socket_t *listener;
    apr_port_t port;
    const char *host; /* the server's */
    apr_port_t server_port;
    volatile apr_uint32_t trips;
    volatile apr_uint32_t stop;
} counter_t;

/* Forward what @a from has to @a to; count whole client messages when
 * @a c is given (*pneed: bytes left of the message being read, *pstate:
 * 0 before the startup message, 1 at a message's type, 2 in its length,
 * 3 in its body; *plen the length's bytes so far). 0 when @a from
 * closed. */
static int counter_pass(apr_socket_t *from, apr_socket_t *to, counter_t *c,
                        int *pstate, unsigned char *lenbuf, int *plen,
                        apr_uint32_t *pneed)
{
    char buf[8192];
    apr_size_t n = sizeof(buf), i, w;

    if (apr_socket_recv(from, buf, &n) != APR_SUCCESS || n == 0) {
        return 0;
    }
    for (i = 0; c != NULL && i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (*pstate == 1) {
            if (ch == 'S' || ch == 'Q') {
                apr_atomic_inc32(&c->trips);
            }
            *pstate = 2;
            *plen = 0;
        }
        else if (*pstate == 0 || *pstate == 2) {
            lenbuf[(*plen)++] = ch;
            if (*plen == 4) {
                *pneed = ((apr_uint32_t)lenbuf[0] << 24)
                         | ((apr_uint32_t)lenbuf[1] << 16)
                         | ((apr_uint32_t)lenbuf[2] << 8) | lenbuf[3];
                *pneed -= 4;
                *pstate = *pneed > 0 ? 3 : 1;
            }
        }
        else if (--*pneed == 0) {
            *pstate = 1;
        }
    }
    for (i = 0; i < n; i += w) {
        w = n - i;
        if (apr_socket_send(to, buf + i, &w) != APR_SUCCESS) {
            return 0;
        }
    }
    return 1;
}

static void *APR_THREAD_FUNC counter_run(apr_thread_t *t, void *data)
{
    counter_t *c = data;
    apr_pool_t *p = NULL;
    apr_socket_t *client = NULL, *server = NULL;
    apr_sockaddr_t *sa = NULL;
    apr_pollset_t *set = NULL;
    apr_pollfd_t fds[2];
    unsigned char lenbuf[4];
    apr_uint32_t need = 0;
    int state = 0, len = 0, i;

    (void)t;
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (apr_socket_accept(&client, c->listener, p) != APR_SUCCESS
        || apr_sockaddr_info_get(&sa, c->host, APR_INET, c->server_port, 0, p)
               != APR_SUCCESS
        || apr_socket_create(&server, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p)
               != APR_SUCCESS
        || apr_socket_connect(server, sa) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    memset(fds, 0, sizeof(fds));
    fds[0].desc_type = fds[1].desc_type = APR_POLL_SOCKET;
    fds[0].reqevents = fds[1].reqevents = APR_POLLIN;
    fds[0].desc.s = client;
    fds[1].desc.s = server;
    if (apr_pollset_create(&set, 2, p, 0) != APR_SUCCESS
        || apr_pollset_add(set, &fds[0]) != APR_SUCCESS
        || apr_pollset_add(set, &fds[1]) != APR_SUCCESS) {
        apr_atomic_set32(&c->stop, 1);
    }
    while (!apr_atomic_read32(&c->stop)) {
        apr_int32_t got = 0;
        const apr_pollfd_t *out = NULL;

        if (apr_pollset_poll(set, apr_time_from_msec(100), &got, &out)
            != APR_SUCCESS) {
            continue;
        }
        for (i = 0; i < got; i++) {
            int ok = out[i].desc.s == client
                         ? counter_pass(client, server, c, &state, lenbuf, &len,
                                        &need)
                         : counter_pass(server, client, NULL, NULL, NULL, NULL,
                                        NULL);

            if (!ok) {
                apr_atomic_set32(&c->stop, 1);
            }
        }
    }
    apr_socket_close(client);
    apr_socket_close(server);
    apr_pool_destroy(p);
    return NULL; /* see race_create() */
}

/* Start a counter for @a spec (a spec of rus_test_pg_spec()); *pspec
 * gets the spec that goes through it. */
static apr_thread_t *counter_start(counter_t *c, const char *spec,
                                   const char **pspec)
{
    const char *host = strstr(spec, "@127.0.0.1:"), *slash;
    apr_sockaddr_t *sa = NULL, *local = NULL;
    apr_thread_t *thread = NULL;

    memset(c, 0, sizeof(*c));
    ck_assert_ptr_nonnull(host);
    slash = strchr(host + 11, '/');
    ck_assert_ptr_nonnull(slash);
    c->host = "127.0.0.1";
    c->server_port = (apr_port_t)atoi(host + 11);
    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0,
                                           pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&c->listener, APR_INET, SOCK_STREAM,
                                       APR_PROTO_TCP, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_socket_bind(c->listener, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_listen(c->listener, 1), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_addr_get(&local, APR_LOCAL, c->listener),
                     APR_SUCCESS);
    c->port = local->port;
    *pspec = apr_psprintf(pool, "%s@127.0.0.1:%d%s%s",
                          apr_pstrmemdup(pool, spec, (apr_size_t)(host - spec)),
                          (int)c->port, slash,
                          "&sslmode=disable&gssencmode=disable");
    ck_assert_int_eq(apr_thread_create(&thread, NULL, counter_run, c, pool),
                     APR_SUCCESS);
    return thread;
}

/* The request path stays one round trip a call once its statements are
 * prepared, a user's groups, columns and attributes and all: finding a
 * user, finding a session with its user, creating a user without a
 * profile. */
START_TEST(test_pg_hot_path_round_trips)
{
    static const char *const attrs[] = { "title", "CTO", NULL };
    const char *schema = NULL, *spec, *through = NULL, *msg = NULL;
    rus_store_t *store = NULL;
    rus_conn_t *conn;
    apr_thread_t *thread;
    apr_status_t trv;
    apr_uint32_t t0;
    counter_t counter;
    rus_session_t s;
    rus_user_t u;
    int created = 0;

    NEED_SERVER();
    spec = rus_test_pg_spec(pool, &schema);
    thread = counter_start(&counter, spec, &through);
    ck_assert_int_eq(rus_store_create(&store, pool, through, NULL, NULL, &msg),
                     APR_SUCCESS);
    conn = connected(store); /* creates the schema: not counted below */
    ck_assert_int_eq(rus_user_create_with(conn, "ann", 5,
                                          profile_of("a@x", attrs, "g1,g2", 1),
                                          &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    /* each statement prepared once (one more round trip, the first time) */
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "bob", 5, &u, &created, pool),
                     APR_SUCCESS);

    t0 = apr_atomic_read32(&counter.trips);
    ck_assert_int_gt(t0, 0);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "g1,g2");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "title"), "CTO");
    ck_assert_int_eq(apr_atomic_read32(&counter.trips) - t0, 1);
    t0 = apr_atomic_read32(&counter.trips);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.email, "a@x");
    ck_assert_str_eq(u.frontend_groups, "g1,g2");
    ck_assert_int_eq(apr_atomic_read32(&counter.trips) - t0, 1);
    t0 = apr_atomic_read32(&counter.trips);
    ck_assert_int_eq(rus_user_create(conn, "carl", 5, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(apr_atomic_read32(&counter.trips) - t0, 1);
    /* a logout and a user switch (httpd's: not counted in the store, no
     * transaction around them), once prepared */
    ck_assert_int_eq(rus_session_revoke(conn, "nosuch"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_user(conn, 0), APR_SUCCESS);
    t0 = apr_atomic_read32(&counter.trips);
    ck_assert_int_eq(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_int_eq(apr_atomic_read32(&counter.trips) - t0, 1);
    t0 = apr_atomic_read32(&counter.trips);
    ck_assert_int_eq(rus_session_revoke_user(conn, u.id), APR_SUCCESS);
    ck_assert_int_eq(apr_atomic_read32(&counter.trips) - t0, 1);
    rus_store_disconnect(conn);
    apr_atomic_set32(&counter.stop, 1);
    apr_thread_join(&trv, thread);
}
END_TEST

/* ---- concurrent syncs ------------------------------------------------- */

/* A sync that finds the user's row taken by another writer waits for it,
 * and then writes what differs from what that one committed: the login
 * that commits last has its say (read without the row lock, the email
 * it wants would have looked unchanged, and been lost). */
typedef struct sync_job_t {
    rus_conn_t *conn;
    apr_int64_t user_id;
    const rus_profile_t *profile;
    int rounds;
    apr_status_t rv;
    char error[RUS_CONN_ERROR_MAX];
} sync_job_t;

static void *APR_THREAD_FUNC sync_user(apr_thread_t *t, void *data)
{
    sync_job_t *job = data;
    int i;

    (void)t;
    job->rv = APR_SUCCESS;
    for (i = 0; i < job->rounds && job->rv == APR_SUCCESS; i++) {
        job->rv =
            rus_user_sync(job->conn, job->user_id, job->profile, 500 + i, 3600);
    }
    apr_cpystrn(job->error, rus_store_error(job->conn), sizeof(job->error));
    return NULL; /* see race_create() */
}

START_TEST(test_pg_sync_waits_for_writer)
{
    const char *schema = NULL;
    const char *keys[3] = { "dbname", "options", NULL }, *vals[3];
    static const char *const attrs[] = { "title", "CTO", NULL };
    sync_job_t job;
    apr_thread_t *thread;
    apr_status_t trv;
    rus_store_t *store;
    PGconn *holder;
    PGresult *res;
    rus_user_t ann;
    int created = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    memset(&job, 0, sizeof(job));
    job.conn = connected(store);
    ck_assert_int_eq(rus_user_create_with(job.conn, "ann", 5,
                                          profile_of("a@x", attrs, "g1", 1),
                                          &ann, &created, pool),
                     APR_SUCCESS);
    job.user_id = ann.id;
    job.rounds = 1;
    job.profile = profile_of("a@x", attrs, "g1", 1);
    vals[0] = rus_test_pg_uri();
    vals[1] = apr_pstrcat(pool, "-csearch_path=", schema, NULL);
    vals[2] = NULL;
    holder = PQconnectdbParams(keys, vals, 1);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    res = PQexec(holder, "UPDATE users SET email = 'b@x';"
                         " UPDATE user_attributes SET value = 'CEO';"
                         " INSERT INTO groups (name) VALUES ('g2');"
                         " INSERT INTO user_groups (user_id, group_id, origin)"
                         " SELECT u.id, g.id, 'frontend' FROM users u, groups g"
                         " WHERE g.name = 'g2';"
                         " DELETE FROM user_groups ug USING groups g"
                         " WHERE g.id = ug.group_id AND g.name = 'g1'");
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "holder: %s",
                  PQresultErrorMessage(res));
    PQclear(res);
    ck_assert_int_eq(apr_thread_create(&thread, NULL, sync_user, &job, pool),
                     APR_SUCCESS);
    apr_sleep(apr_time_from_msec(300)); /* the sync waits for the row */
    PQclear(PQexec(holder, "COMMIT"));
    PQfinish(holder);
    apr_thread_join(&trv, thread);
    ck_assert_msg(job.rv == APR_SUCCESS, "sync: %s", job.error);
    ck_assert_int_eq(rus_user_find(job.conn, "ann", &ann, pool), APR_SUCCESS);
    ck_assert_str_eq(ann.email, "a@x");
    ck_assert_str_eq(rus_attrs_get(ann.attrs, "title"), "CTO");
    ck_assert_str_eq(ann.groups, "g1");
    ck_assert_str_eq(ann.frontend_groups, "g1");
    rus_store_disconnect(job.conn);
}
END_TEST

/* Syncs racing, none failing (a deadlock would fail one of them after
 * deadlock_timeout) and none losing a write: two connections syncing one
 * user over and over, each its own attribute and groups (Add); two users
 * synced at once whose logins list the same new groups in opposite
 * orders (each transaction creates them in name order, so neither waits
 * for a group the other created while holding one it waits for; in the
 * order given, they deadlocked). */
START_TEST(test_pg_sync_races)
{
    static const char *const attrs_a[] = { "a", "1", "email_seen", "x", NULL };
    static const char *const attrs_b[] = { "b", "2", NULL };
    const char *schema = NULL, *fwd, *rev;
    const char *keys[3] = { "dbname", "options", NULL }, *vals[3];
    sync_job_t jobs[2];
    PGconn *holder;
    apr_thread_t *threads[2];
    apr_status_t trv;
    rus_store_t *store;
    rus_user_t ann, bob;
    int i, created = 0;

    NEED_SERVER();
    store = pg_store(&schema, NULL, NULL);
    memset(jobs, 0, sizeof(jobs));
    for (i = 0; i < 2; i++) {
        jobs[i].conn = connected(store);
        jobs[i].rounds = 20;
    }
    ck_assert_int_eq(rus_user_create(jobs[0].conn, "ann", 5, &ann, &created,
                                     pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(jobs[0].conn, "bob", 5, &bob, &created,
                                     pool),
                     APR_SUCCESS);
    /* one user, two connections */
    jobs[0].user_id = jobs[1].user_id = ann.id;
    jobs[0].profile = profile_of(NULL, attrs_a, "a1,a2,shared", 0);
    jobs[1].profile = profile_of(NULL, attrs_b, "b1,shared,b2", 0);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, sync_user,
                                           &jobs[i], pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 2; i++) {
        apr_thread_join(&trv, threads[i]);
        ck_assert_msg(jobs[i].rv == APR_SUCCESS, "sync %d: %s", i,
                      jobs[i].error);
    }
    ck_assert_int_eq(rus_user_find(jobs[0].conn, "ann", &ann, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(ann.groups, "a1,a2,b1,b2,shared");
    ck_assert_str_eq(rus_attrs_get(ann.attrs, "a"), "1");
    ck_assert_str_eq(rus_attrs_get(ann.attrs, "b"), "2");
    /* two users, the same new groups in opposite orders; a third
     * transaction holds the one in the middle, so that both are under
     * way when it lets it go */
    jobs[1].user_id = bob.id;
    fwd = rev = "";
    for (i = 0; i < 12; i++) {
        const char *g = apr_psprintf(pool, "r%02d", i);

        fwd = apr_pstrcat(pool, fwd, *fwd ? "," : "", g, NULL);
        rev = apr_pstrcat(pool, g, *rev ? "," : "", rev, NULL);
    }
    jobs[0].profile = profile_of(NULL, NULL, fwd, 1);
    jobs[1].profile = profile_of(NULL, NULL, rev, 1);
    vals[0] = rus_test_pg_uri();
    vals[1] = apr_pstrcat(pool, "-csearch_path=", schema, NULL);
    vals[2] = NULL;
    holder = PQconnectdbParams(keys, vals, 1);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PQclear(PQexec(holder, "INSERT INTO groups (name) VALUES ('r06')"));
    for (i = 0; i < 2; i++) {
        jobs[i].rounds = 1;
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, sync_user,
                                           &jobs[i], pool),
                         APR_SUCCESS);
    }
    apr_sleep(apr_time_from_msec(300));
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);
    for (i = 0; i < 2; i++) {
        apr_thread_join(&trv, threads[i]);
        ck_assert_msg(jobs[i].rv == APR_SUCCESS, "sync %d: %s", i,
                      jobs[i].error);
    }
    ck_assert_int_eq(rus_test_pg_int(schema, "SELECT count(*) FROM"
                                             " user_groups ug JOIN groups g"
                                             " ON g.id = ug.group_id"
                                             " WHERE g.name LIKE 'r%'"),
                     24);
    for (i = 0; i < 2; i++) {
        rus_store_disconnect(jobs[i].conn);
    }
}
END_TEST

TCase *rus_store_pg_test_case(void)
{
    TCase *tc = tcase_create("store_pg");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_pg_display_masks_password);
    tcase_add_test(tc, test_pg_disable_racing_logout);
    tcase_add_test(tc, test_pg_check_parses_only);
    tcase_add_test(tc, test_pg_unreachable);
    tcase_add_test(tc, test_pg_failover_uri);
    tcase_add_test(tc, test_pg_user_create_race);
    tcase_add_test(tc, test_pg_changes_across_connections);
    tcase_add_test(tc, test_pg_feed_sees_commit);
    tcase_add_test(tc, test_pg_broken_connection);
    tcase_add_test(tc, test_pg_busy_timeout);
    tcase_add_test(tc, test_pg_changes_serialised);
    tcase_add_test(tc, test_pg_schema_versions);
    tcase_add_test(tc, test_pg_integrity_finds_orphans);
    tcase_add_test(tc, test_pg_dump_load);
    tcase_add_test(tc, test_pg_migrate_from_1);
    tcase_add_test(tc, test_pg_migrate_from_2);
    tcase_add_test(tc, test_pg_migrate_from_3);
    tcase_add_test(tc, test_pg_admin_count_is_atomic);
    tcase_add_test(tc, test_pg_profile_rows);
    tcase_add_test(tc, test_pg_attrs_client_encoding);
    tcase_add_test(tc, test_pg_hot_path_round_trips);
    tcase_add_test(tc, test_pg_sync_waits_for_writer);
    tcase_add_test(tc, test_pg_sync_races);
    return tc;
}
