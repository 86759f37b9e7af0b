/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The user policy (rus_user.c) on a real SQLite store. */

#include <string.h>

#include <apr_strings.h>

#include <sqlite3.h>

#include "rus_user.h"
#include "test_common.h"

static rus_test_store_t ts;
static apr_pool_t *pool;
static const char *db;
static rus_conn_t *conn;

/* The shared fixture on SQLite: these tests look at its rows. */
static void setup(void)
{
    rus_test_store_open(&ts, 0);
    pool = ts.pool;
    db = ts.path;
    conn = ts.conn;
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

static const rus_user_policy_t create_on = { 1, 0, NULL, NULL, 0 };
static const rus_user_policy_t create_off = { 0, 0, NULL, NULL, 0 };
static const rus_user_policy_t allow_inactive = { 0, 1, NULL, NULL, 0 };
static const rus_user_policy_t allow_all = { 1, 1, NULL, NULL, 0 };

static long long last_login(void)
{
    return rus_test_sql_int(db, "SELECT last_login FROM users");
}

START_TEST(test_unknown_without_create)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "ghost", &create_off, 100,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_UNKNOWN);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
    /* letting inactive users in creates nobody either */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ghost", &allow_inactive, 100,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_UNKNOWN);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
}
END_TEST

START_TEST(test_unknown_is_created)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 1);
    ck_assert_int_eq(res.touch_rv, APR_SUCCESS);
    ck_assert_int_gt(res.user.id, 0);
    ck_assert_str_eq(res.user.username, "alice");
    ck_assert_int_eq(res.user.is_active, 1);
    ck_assert_int_eq(res.user.date_joined, 100);
    ck_assert_int_eq(res.user.last_login, 100);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT id FROM users"), res.user.id);
    ck_assert_int_eq(last_login(), 100);
}
END_TEST

START_TEST(test_known)
{
    rus_resolution_t first, res;

    ck_assert_int_eq(rus_user_resolve(&first, conn, "alice", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    /* known: accepted, whether creation is on or off */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_on, 110,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(res.user.id, first.user.id);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_off, 120,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(res.user.id, first.user.id);
    ck_assert_int_eq(res.user.date_joined, 100);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
}
END_TEST

START_TEST(test_inactive_refused)
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
    ck_assert_int_eq(res.created, 0);
    ck_assert_str_eq(res.user.username, "judy"); /* the row comes along */
    ck_assert_int_eq(res.user.is_active, 0);
    ck_assert_int_eq(res.user.last_login, 100);
    /* a refused login is not a login */
    ck_assert_int_eq(last_login(), 100);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &create_off, 2000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_INACTIVE);
    ck_assert_int_eq(last_login(), 100);
}
END_TEST

START_TEST(test_inactive_allowed)
{
    rus_resolution_t res;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &allow_inactive, 1000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.user.is_active, 0);
    ck_assert_int_eq(res.touch_rv, APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 1000);
    ck_assert_int_eq(last_login(), 1000);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "judy", &allow_all, 2000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(last_login(), 2000);
    /* still inactive: letting it in does not enable it */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT is_active FROM users"), 0);
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
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.user.last_login, 1000);
    ck_assert_int_eq(last_login(), 1000);
    /* at the interval: written, and reported */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_on,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.touch_rv, APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 1000 + RUS_LOGIN_TOUCH_INTERVAL);
    ck_assert_int_eq(last_login(), 1000 + RUS_LOGIN_TOUCH_INTERVAL);
    /* much older: written */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_off, 100000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 100000);
    ck_assert_int_eq(last_login(), 100000);
    /* a clock gone backwards: not written */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "niaj", &create_off, 50000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(last_login(), 100000);
}
END_TEST

/* A user added without a login (remoteuser-admin) records the first one,
 * however early. */
START_TEST(test_first_login_of_added_user)
{
    rus_resolution_t res;
    rus_user_t u;

    ck_assert_int_eq(rus_user_add(conn, "new", 10, 1, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.last_login, 0);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "new", &create_off, 20, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.created, 0);
    ck_assert_int_eq(res.user.last_login, 20);
    ck_assert_int_eq(last_login(), 20);
}
END_TEST

/* A last_login write that fails (lock held elsewhere) is reported in
 * touch_rv and does not change the verdict. */
START_TEST(test_touch_failure_keeps_verdict)
{
    rus_store_options_t opts;
    rus_store_t *quick = NULL;
    rus_conn_t *c = NULL;
    const char *msg = NULL;
    rus_resolution_t res;
    sqlite3 *holder = NULL;

    ck_assert_int_eq(rus_user_resolve(&res, conn, "alice", &create_on, 100,
                                      pool),
                     APR_SUCCESS);
    rus_store_options_default(&opts);
    opts.busy_timeout_ms = 50;
    ck_assert_int_eq(rus_store_create(&quick, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_connect(&c, quick, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(rus_user_resolve(&res, c, "alice", &create_off, 10000,
                                      pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.touch_rv, APR_TIMEUP);
    ck_assert_int_eq(res.user.last_login, 100); /* what the store holds */
    sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(holder);
    ck_assert_int_eq(last_login(), 100);
    rus_store_disconnect(c);
}
END_TEST

/* A store failure is returned, and the resolution is left alone. */
START_TEST(test_store_error_leaves_resolution)
{
    rus_resolution_t res;
    apr_status_t rv;

    rus_test_sql(db, "DROP TABLE user_groups; DROP TABLE sessions;"
                     "DROP TABLE users");
    memset(&res, 0, sizeof(res));
    res.verdict = (rus_verdict_e)42;
    rv = rus_user_resolve(&res, conn, "alice", &create_on, 100, pool);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_int_ne(rv, APR_ENOENT);
    ck_assert_int_eq(res.verdict, 42);
    ck_assert_str_ne(rus_store_error(conn), "");
}
END_TEST

/* With the write gate full, an unknown name is refused (nothing written)
 * and a due last_login write is skipped; a known user is still let in,
 * and once a place is free both writes happen again. */
START_TEST(test_gate_full)
{
    rus_user_policy_t gated = { 1, 0, NULL, NULL, 0 };
    rus_resolution_t res;
    rus_gate_t gate;

    rus_gate_init(&gate, 1);
    gated.gate = &gate;
    ck_assert_int_eq(rus_user_resolve(&res, conn, "old", &gated, 1000, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.created, 1);
    ck_assert_int_eq(rus_gate_inside(&gate), 0);

    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS); /* a writer */
    res.verdict = RUS_VERDICT_INACTIVE;
    ck_assert_int_eq(rus_user_resolve(&res, conn, "new", &gated, 1000, pool),
                     RUS_GATE_EFULL);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_INACTIVE); /* untouched */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users "
                                          "WHERE username = 'new'"),
                     0);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "old", &gated,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_ACCEPT);
    ck_assert_int_eq(res.touch_skipped, 1);
    ck_assert_int_eq(res.touch_rv, APR_SUCCESS);
    ck_assert_int_eq(res.user.last_login, 1000);
    ck_assert_int_eq(last_login(), 1000);
    rus_gate_leave(&gate);

    ck_assert_int_eq(rus_user_resolve(&res, conn, "old", &gated,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.touch_skipped, 0);
    ck_assert_int_eq(last_login(), 1000 + RUS_LOGIN_TOUCH_INTERVAL);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "new", &gated, 1000, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.created, 1);
    ck_assert_int_eq(rus_gate_inside(&gate), 0);
}
END_TEST

TCase *rus_user_test_case(void)
{
    TCase *tc = tcase_create("user");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unknown_without_create);
    tcase_add_test(tc, test_unknown_is_created);
    tcase_add_test(tc, test_known);
    tcase_add_test(tc, test_inactive_refused);
    tcase_add_test(tc, test_inactive_allowed);
    tcase_add_test(tc, test_last_login_interval);
    tcase_add_test(tc, test_first_login_of_added_user);
    tcase_add_test(tc, test_touch_failure_keeps_verdict);
    tcase_add_test(tc, test_store_error_leaves_resolution);
    tcase_add_test(tc, test_gate_full);
    return tc;
}
