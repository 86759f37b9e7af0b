/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The user resolution of a request in one call (rus_user_lookup() in
 * rus_user.c): cache first, then the store through a connection pool, on
 * a real SQLite store. */

#include <string.h>

#include <apr_strings.h>

#include "rus_cache.h"
#include "rus_gate.h"
#include "rus_user.h"
#include "test_common.h"

static apr_pool_t *pool;
static const char *dir;
static const char *db;
static rus_store_t *store;
static rus_store_pool_t *spool;
static rus_cache_t *cache;

static rus_test_store_t ts;

static void setup(void)
{
    rus_test_store_open(&ts, 0);
    pool = ts.pool;
    dir = ts.dir;
    db = ts.path;
    store = ts.store;
    spool = NULL;
    ck_assert_int_eq(rus_store_pool_create(&spool, store, pool), APR_SUCCESS);
    cache = rus_cache_create(pool, 64, 1000);
    ck_assert_ptr_nonnull(cache);
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

static const rus_user_policy_t create_on = { 1, 0, NULL, NULL, 0 };
static const rus_user_policy_t create_off = { 0, 0, NULL, NULL, 0 };
static const rus_user_policy_t allow_inactive = { 1, 1, NULL, NULL, 0 };

static apr_status_t lookup(rus_user_lookup_t *lk, const char *name,
                           const rus_user_policy_t *policy, apr_int64_t now)
{
    return rus_user_lookup(lk, spool, cache, name, policy, now, pool);
}

START_TEST(test_created_then_cached)
{
    rus_user_lookup_t lk;

    ck_assert_int_eq(lookup(&lk, "alice", &create_on, 100), APR_SUCCESS);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(lk.res.created, 1);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_str_eq(lk.res.user.username, "alice");
    /* Gone from the store behind the cache's back: still answered from
     * the cache while last_login needs no write. */
    rus_test_sql(db, "DELETE FROM users");
    ck_assert_int_eq(lookup(&lk, "alice", &create_off, 100 + 59), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 1);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(lk.res.created, 0);
    ck_assert_str_eq(lk.res.user.username, "alice");
    /* last_login due: the store is asked, and says unknown */
    ck_assert_int_eq(lookup(&lk, "alice", &create_off, 100 + 60), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_UNKNOWN);
}
END_TEST

START_TEST(test_last_login_due_goes_to_the_store)
{
    rus_user_lookup_t lk;

    ck_assert_int_eq(lookup(&lk, "bob", &create_on, 100), APR_SUCCESS);
    ck_assert_int_eq(lookup(&lk, "bob", &create_on, 200), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_int_eq(lk.res.created, 0);
    ck_assert_int_eq(lk.res.touch_rv, APR_SUCCESS);
    ck_assert_ptr_null(lk.msg);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"), 200);
    /* and the fresher row is what the cache answers next */
    ck_assert_int_eq(lookup(&lk, "bob", &create_on, 201), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 1);
    ck_assert_int_eq(lk.res.user.last_login, 200);
}
END_TEST

START_TEST(test_unknown_is_not_cached)
{
    rus_user_lookup_t lk;

    ck_assert_int_eq(lookup(&lk, "ghost", &create_off, 100), APR_SUCCESS);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_UNKNOWN);
    ck_assert_int_eq(lookup(&lk, "ghost", &create_off, 101), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_UNKNOWN);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
}
END_TEST

START_TEST(test_inactive_from_the_cache)
{
    rus_user_lookup_t lk;

    ck_assert_int_eq(lookup(&lk, "carol", &create_on, 100), APR_SUCCESS);
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    rus_cache_drop(cache, "u:carol");
    ck_assert_int_eq(lookup(&lk, "carol", &create_on, 101), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_INACTIVE);
    /* the cached row is judged by the policy of the call */
    ck_assert_int_eq(lookup(&lk, "carol", &create_on, 102), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 1);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_INACTIVE);
    ck_assert_int_eq(lookup(&lk, "carol", &allow_inactive, 102), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 1);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_ACCEPT);
}
END_TEST

START_TEST(test_no_cache)
{
    rus_user_lookup_t lk;

    cache = NULL;
    ck_assert_int_eq(lookup(&lk, "dave", &create_on, 100), APR_SUCCESS);
    ck_assert_int_eq(lk.res.created, 1);
    ck_assert_int_eq(lookup(&lk, "dave", &create_on, 101), APR_SUCCESS);
    ck_assert_int_eq(lk.cached, 0);
    ck_assert_int_eq(lk.res.created, 0);
    ck_assert_int_eq(lk.res.verdict, RUS_VERDICT_ACCEPT);
}
END_TEST

START_TEST(test_gate_full)
{
    rus_user_policy_t gated = create_on;
    rus_user_lookup_t lk;
    rus_gate_t gate;

    rus_gate_init(&gate, 1);
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    gated.gate = &gate;
    ck_assert_int_eq(lookup(&lk, "erin", &gated, 100), RUS_GATE_EFULL);
    ck_assert_int_eq(lk.stage, RUS_LOOKUP_RESOLVE);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
    rus_gate_leave(&gate);
    /* nothing was cached: the next call creates the user */
    ck_assert_int_eq(lookup(&lk, "erin", &gated, 100), APR_SUCCESS);
    ck_assert_int_eq(lk.res.created, 1);
}
END_TEST

TCase *rus_lookup_test_case(void)
{
    TCase *tc = tcase_create("lookup");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_created_then_cached);
    tcase_add_test(tc, test_last_login_due_goes_to_the_store);
    tcase_add_test(tc, test_unknown_is_not_cached);
    tcase_add_test(tc, test_inactive_from_the_cache);
    tcase_add_test(tc, test_no_cache);
    tcase_add_test(tc, test_gate_full);
    return tc;
}
