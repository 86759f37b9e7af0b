/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The cookie path in one call (rus_cookie.c) on a real SQLite store:
 * token hashes from the Cookie header, the session lookup and what it
 * does about each verdict, the revocation helpers with their cache
 * drops. */

#include <string.h>

#include <apr_strings.h>

#include "rus_cookie.h"
#include "rus_token.h"
#include "test_common.h"

#define NOW  1000000
#define NAME "remoteuser_session"
#define HOST "h:80"

static apr_pool_t *pool;
static const char *dir;
static const char *db;
static rus_store_t *store;
static rus_store_pool_t *spool;
static rus_conn_t *conn;
static rus_cookie_env_t env;
static rus_session_limits_t lim;
static const char *notes; /* every note, each followed by '|' */

static void record_note(void *baton, const char *why)
{
    (void)baton;
    notes = apr_pstrcat(pool, notes, why, "|", NULL);
}

static rus_test_store_t ts;

static void setup(void)
{
    rus_test_store_open(&ts, 0); /* the shared store fixture */
    pool = ts.pool;
    dir = ts.dir;
    db = ts.path;
    store = ts.store;
    conn = ts.conn;
    spool = NULL;
    ck_assert_int_eq(rus_store_pool_create(&spool, store, pool), APR_SUCCESS);
    memset(&env, 0, sizeof(env));
    env.spool = spool;
    env.cache = rus_cache_create(pool, 64, 1000);
    env.note = record_note;
    lim.vhost = HOST;
    lim.max_age = RUS_SESSION_MAX_AGE_DEFAULT;
    lim.idle_timeout = 0;
    lim.allow_inactive = 0;
    notes = "";
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

/* A user (created if new) with a session issued at @a at; its token. */
static const char *session_for(const char *user, apr_int64_t at,
                               const char **phash)
{
    const char *token = NULL, *hash = NULL;
    rus_user_t u;
    int created;

    ck_assert_int_eq(rus_user_create(conn, user, at, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_token_new(&token, &hash, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, hash, u.id, HOST, at,
                                        at + RUS_SESSION_MAX_AGE_DEFAULT),
                     APR_SUCCESS);
    if (phash != NULL) {
        *phash = hash;
    }
    return token;
}

static const char *cookie(const char *token)
{
    return apr_pstrcat(pool, NAME "=", token, NULL);
}

static long long sessions(void)
{
    return rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions");
}

START_TEST(test_hashes)
{
    const char *t1 = NULL, *h1 = NULL, *t2 = NULL, *h2 = NULL;
    apr_array_header_t *a;
    char *big;

    ck_assert_int_eq(rus_token_new(&t1, &h1, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_token_new(&t2, &h2, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_cookie_hashes(NULL, NAME, &env, pool)->nelts, 0);
    ck_assert_int_eq(rus_cookie_hashes("", NAME, &env, pool)->nelts, 0);
    a = rus_cookie_hashes(apr_pstrcat(pool, "other=", t1, "; " NAME "=junk; ",
                                      NAME "=", t2, "; " NAME "=", t1, "; ",
                                      NAME "=", t2, NULL),
                          NAME, &env, pool);
    ck_assert_int_eq(a->nelts, 2); /* distinct, in order, junk noted */
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, const char *), h2);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, const char *), h1);
    ck_assert_str_eq(notes, "malformed|");
    /* beyond RUS_COOKIE_HEADER_MAX nothing is looked at */
    big = apr_palloc(pool, RUS_COOKIE_HEADER_MAX + 1);
    memset(big, 'x', RUS_COOKIE_HEADER_MAX);
    big[RUS_COOKIE_HEADER_MAX] = '\0';
    ck_assert_int_eq(rus_cookie_hashes(apr_pstrcat(pool, cookie(t1),
                                                   "; a=", big, NULL),
                                       NAME, &env, pool)
                         ->nelts,
                     0);
}
END_TEST

START_TEST(test_none)
{
    const char *token = NULL, *hash = NULL;
    rus_cookie_lookup_t lk;

    rus_cookie_lookup(&lk, NULL, NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_int_eq(lk.valid->nelts, 0);
    ck_assert_int_eq(rus_token_new(&token, &hash, pool), APR_SUCCESS);
    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_str_eq(notes, "unknown or revoked|");
}
END_TEST

START_TEST(test_one_touched_then_cached)
{
    const char *hash = NULL, *token = session_for("alice", NOW - 600, &hash);
    rus_cookie_lookup_t lk;

    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_str_eq(lk.hash, hash);
    ck_assert_str_eq(lk.user.username, "alice");
    ck_assert_int_eq(lk.valid->nelts, 1);
    ck_assert_int_eq(lk.touch_rv, APR_SUCCESS);
    /* the session as it was before this request touched it */
    ck_assert_int_eq(lk.sess.last_seen, NOW - 600);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_seen FROM sessions"),
                     NOW);
    /* gone from the store: the cache still answers, touched */
    rus_test_sql(db, "DELETE FROM sessions");
    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW + 1, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_int_eq(lk.sess.last_seen, NOW);
    /* and the drop that goes with a revocation ends that */
    ck_assert_int_eq(rus_cookie_revoke(conn, env.cache, hash, 0), APR_SUCCESS);
    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW + 2, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
}
END_TEST

START_TEST(test_ambiguous)
{
    const char *a = session_for("alice", NOW - 10, NULL);
    const char *b = session_for("bob", NOW - 10, NULL);
    rus_cookie_lookup_t lk;

    rus_cookie_lookup(&lk, apr_pstrcat(pool, cookie(a), "; ", cookie(b), NULL),
                      NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_AMBIGUOUS);
    ck_assert_int_eq(lk.count, 2);
    ck_assert_int_eq(lk.valid->nelts, 2);
    ck_assert_str_eq(lk.user.username, "alice");
    ck_assert_str_eq(lk.other_user, "bob");
}
END_TEST

START_TEST(test_too_many)
{
    const char *header = "";
    rus_cookie_lookup_t lk;
    int i;

    for (i = 0; i <= RUS_COOKIE_CANDIDATES_MAX; i++) {
        const char *token = NULL, *hash = NULL;

        ck_assert_int_eq(rus_token_new(&token, &hash, pool), APR_SUCCESS);
        header = apr_pstrcat(pool, header, i ? "; " : "", cookie(token), NULL);
    }
    rus_cookie_lookup(&lk, header, NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_TOO_MANY);
    ck_assert_int_eq(lk.count, RUS_COOKIE_CANDIDATES_MAX + 1);
    ck_assert_str_eq(notes, ""); /* none was looked up */
}
END_TEST

START_TEST(test_inactive_revokes_all)
{
    const char *a = session_for("alice", NOW - 10, NULL);
    rus_cookie_lookup_t lk;

    session_for("alice", NOW - 20, NULL);
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    ck_assert_int_eq(sessions(), 2);
    rus_cookie_lookup(&lk, cookie(a), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_INACTIVE);
    ck_assert_str_eq(lk.user.username, "alice");
    ck_assert_int_eq(sessions(), 0);
    /* allowed in: the same session (had it not been revoked) is one */
    lim.allow_inactive = 1;
    a = session_for("alice", NOW - 10, NULL);
    rus_cookie_lookup(&lk, cookie(a), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
}
END_TEST

START_TEST(test_inactive_with_writers_queueing)
{
    const char *a = session_for("alice", NOW - 10, NULL);
    rus_cookie_lookup_t lk;
    rus_gate_t gate;

    rus_gate_init(&gate, 1);
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    env.gate = &gate;
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    rus_cookie_lookup(&lk, cookie(a), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_INACTIVE); /* refused anyway */
    ck_assert_int_eq(sessions(), 1);                   /* revoked later */
    rus_gate_leave(&gate);
}
END_TEST

START_TEST(test_dead_session_deleted)
{
    const char *old =
        session_for("alice",
                    NOW - 3 * RUS_CLOCK_GRACE - RUS_SESSION_MAX_AGE_DEFAULT,
                    NULL);
    const char *late =
        session_for("bob", NOW - RUS_SESSION_MAX_AGE_DEFAULT, NULL);
    rus_cookie_lookup_t lk;

    /* one just past its time stays (the clock may have jumped) */
    rus_cookie_lookup(&lk, cookie(late), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_int_eq(sessions(), 2);
    /* one expired for good goes */
    rus_cookie_lookup(&lk, cookie(old), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_int_eq(sessions(), 1);
    ck_assert_str_eq(notes, "expired|expired|");
}
END_TEST

/* What a lookup tells the counters: cache hits and misses per token, the
 * store asked or not, expired tokens by kind. */
START_TEST(test_lookup_counts)
{
    const char *token = session_for("alice", NOW - 10, NULL);
    const char *idle = session_for("bob", NOW - 7200, NULL);
    const char *old =
        session_for("carol", NOW - RUS_SESSION_MAX_AGE_DEFAULT, NULL);
    rus_cookie_lookup_t lk;

    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_int_eq(lk.cache_hits, 0);
    ck_assert_int_eq(lk.cache_misses, 1);
    ck_assert_int_eq(lk.store_asked, 1);
    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_int_eq(lk.cache_hits, 1);
    ck_assert_int_eq(lk.cache_misses, 0);
    ck_assert_int_eq(lk.store_asked, 0);
    ck_assert_int_eq(lk.expired_absolute + lk.expired_idle, 0);
    /* one idle, one past its MaxAge, in one request */
    lim.idle_timeout = 3600;
    rus_cookie_lookup(&lk,
                      apr_pstrcat(pool, cookie(idle), "; ", cookie(old), NULL),
                      NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_int_eq(lk.expired_idle, 1);
    ck_assert_int_eq(lk.expired_absolute, 1);
    ck_assert_int_eq(lk.cache_misses, 2);
    /* no cache: neither hit nor miss */
    env.cache = NULL;
    rus_cookie_lookup(&lk, cookie(token), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_int_eq(lk.cache_hits + lk.cache_misses, 0);
    ck_assert_int_eq(lk.store_asked, 1);
}
END_TEST

START_TEST(test_foreign_vhost)
{
    const char *a = session_for("alice", NOW - 10, NULL);
    rus_cookie_lookup_t lk;

    lim.vhost = "h:443";
    rus_cookie_lookup(&lk, cookie(a), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
    ck_assert_str_eq(notes, "issued for another virtual host|");
    ck_assert_int_eq(sessions(), 1);
}
END_TEST

START_TEST(test_trim_drops)
{
    const char *h1 = NULL, *h2 = NULL, *h3 = NULL;
    const char *t1 = session_for("alice", NOW - 30, &h1);
    apr_array_header_t *trimmed = NULL;
    rus_cookie_lookup_t lk;
    rus_user_t u;
    int created;

    session_for("alice", NOW - 20, &h2);
    session_for("alice", NOW - 10, &h3);
    /* the oldest is in the cache */
    rus_cookie_lookup(&lk, cookie(t1), NAME, &lim, NOW, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_ONE);
    ck_assert_int_eq(rus_user_create(conn, "alice", NOW, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_cookie_trim(conn, env.cache, u.id, 2, h3, &trimmed,
                                     pool),
                     APR_SUCCESS);
    ck_assert_int_eq(trimmed->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(trimmed, 0, const char *), h1);
    /* dropped from the cache with its row */
    rus_cookie_lookup(&lk, cookie(t1), NAME, &lim, NOW + 1, &env, pool);
    ck_assert_int_eq(lk.outcome, RUS_COOKIE_NONE);
}
END_TEST

TCase *rus_cookie_test_case(void)
{
    TCase *tc = tcase_create("cookie");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hashes);
    tcase_add_test(tc, test_none);
    tcase_add_test(tc, test_one_touched_then_cached);
    tcase_add_test(tc, test_ambiguous);
    tcase_add_test(tc, test_too_many);
    tcase_add_test(tc, test_inactive_revokes_all);
    tcase_add_test(tc, test_inactive_with_writers_queueing);
    tcase_add_test(tc, test_dead_session_deleted);
    tcase_add_test(tc, test_foreign_vhost);
    tcase_add_test(tc, test_lookup_counts);
    tcase_add_test(tc, test_trim_drops);
    return tc;
}
