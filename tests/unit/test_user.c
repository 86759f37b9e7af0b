/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The user policy (rus_user.c) on a real SQLite store. */

#include <apr_strings.h>

#include "rus_user.h"
#include "test_common.h"

static apr_pool_t *pool;
static const char *dir;
static const char *db;
static rus_conn_t *conn;

static void setup(void)
{
    rus_store_t *store = NULL;
    const char *msg = NULL, *warn = NULL;

    apr_pool_create(&pool, NULL);
    dir = rus_test_tmpdir(pool);
    db = apr_pstrcat(pool, dir, "/users.db", NULL);
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg), APR_SUCCESS);
}

static void teardown(void)
{
    rus_store_disconnect(conn);
    rus_test_rmtree(dir);
    apr_pool_destroy(pool);
}

static const rus_user_policy_t create_on = { 1, 0 };
static const rus_user_policy_t create_off = { 0, 0 };
static const rus_user_policy_t allow_all = { 1, 1 };

START_TEST(test_unknown_without_create)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "ghost", &create_off, 100,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_UNKNOWN);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
}
END_TEST

START_TEST(test_unknown_is_created_then_known)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 1);
    ck_assert_str_eq(res.user.username, "alice");
    ck_assert_int_eq(res.user.date_joined, 100);
    ck_assert_int_eq(res.user.last_login, 100);

    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_off, 110,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
}
END_TEST

START_TEST(test_inactive)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &create_on, 1000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_INACTIVE);
    /* a refused login is not a login */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"), 100);

    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &allow_all, 1000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.user.is_active, 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000);
}
END_TEST

START_TEST(test_last_login_interval)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_on, 1000,
                                      pool),
                     APR_SUCCESS);
    /* less than RUS_LOGIN_TOUCH_INTERVAL later: not written */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_on,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL - 1,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 1000);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000);
    /* at the interval: written, and reported */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_on,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.touch_rv, APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 1000 + RUS_LOGIN_TOUCH_INTERVAL);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000 + RUS_LOGIN_TOUCH_INTERVAL);
}
END_TEST

TCase *rus_user_test_case(void)
{
    TCase *tc = tcase_create("user");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unknown_without_create);
    tcase_add_test(tc, test_unknown_is_created_then_known);
    tcase_add_test(tc, test_inactive);
    tcase_add_test(tc, test_last_login_interval);
    return tc;
}
