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

/* A profile as the glue builds it: email, last name, groups. */
static rus_profile_t *profile_of(const char *email, const char *last,
                                 const char *groups, int replace)
{
    rus_profile_t *pr = apr_pcalloc(pool, sizeof(*pr));

    pr->email = email;
    pr->last_name = last;
    pr->groups = groups ? rus_groups_split(pool, groups, ",") : NULL;
    pr->groups_replace = replace;
    return pr;
}

/* Django's RemoteUserCustomTest: the email comes with the creation; a
 * later login with Sync Create changes nothing, with Sync Login the last
 * name follows, in the same write as the login's record. */
START_TEST(test_profile_on_create_and_login)
{
    rus_user_policy_t pol = { 1, 0, NULL, NULL, 0 };
    rus_resolution_t res;

    pol.profile = profile_of("ann@example.com", "Lee", "staff,ops", 1);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ann", &pol, 1000, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.created, 1);
    ck_assert_int_eq(res.synced, 1);
    ck_assert_str_eq(res.user.email, "ann@example.com");
    ck_assert_str_eq(res.user.last_name, "Lee");
    ck_assert_str_eq(res.user.groups, "ops,staff");
    ck_assert_str_eq(res.user.frontend_groups, "ops,staff");

    /* Create only: a later login with other values writes nothing */
    pol.profile = profile_of("new@example.com", "Smith", "staff", 1);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ann", &pol, 1010, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.synced, 0);
    ck_assert_str_eq(res.user.last_name, "Lee");
    ck_assert_str_eq(rus_test_sql_str(pool, db, "SELECT last_name FROM users"),
                     "Lee");

    /* Login: written, with last_login, and the answer is the new row */
    pol.sync_login = 1;
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ann", &pol, 1020, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.synced, 1);
    ck_assert_int_eq(res.sync_rv, APR_SUCCESS);
    ck_assert_str_eq(res.user.email, "new@example.com");
    ck_assert_str_eq(res.user.last_name, "Smith");
    ck_assert_str_eq(res.user.groups, "staff");
    ck_assert_int_eq(res.user.last_login, 1000); /* within the interval */
    ck_assert_str_eq(rus_test_sql_str(pool, db, "SELECT last_name FROM users"),
                     "Smith");
    /* the same values again: nothing to write */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ann", &pol, 1030, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.synced, 0);
    /* due: the sync records the login */
    pol.profile = profile_of("new@example.com", "Smythe", NULL, 1);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "ann", &pol,
                                      1000 + RUS_LOGIN_TOUCH_INTERVAL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.synced, 1);
    ck_assert_int_eq(last_login(), 1000 + RUS_LOGIN_TOUCH_INTERVAL);
    ck_assert_str_eq(res.user.groups, "staff"); /* no group source: kept */
}
END_TEST

/* A refused login writes nothing of what it said; with the gate full a
 * due sync is refused rather than answered with a stale profile. */
START_TEST(test_profile_refused_and_gated)
{
    rus_user_policy_t pol = { 1, 0, NULL, NULL, 1 };
    rus_user_change_t change;
    rus_resolution_t res;
    rus_gate_t gate;

    pol.profile = profile_of("a@x", "A", "g1", 1);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "bob", &pol, 1000, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(conn, res.user.id, 0, &change),
                     APR_SUCCESS);
    pol.profile = profile_of("b@x", "B", "g2", 1);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "bob", &pol, 1010, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.verdict, RUS_VERDICT_INACTIVE);
    ck_assert_int_eq(res.synced, 0);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "SELECT email FROM users"),
                     "a@x");
    ck_assert_int_eq(rus_user_set_active(conn, res.user.id, 1, &change),
                     APR_SUCCESS);

    rus_gate_init(&gate, 1);
    pol.gate = &gate;
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS); /* a writer */
    ck_assert_int_eq(rus_user_resolve(&res, conn, "bob", &pol, 1020, pool),
                     RUS_GATE_EFULL);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "SELECT email FROM users"),
                     "a@x");
    rus_gate_leave(&gate);
    ck_assert_int_eq(rus_user_resolve(&res, conn, "bob", &pol, 1020, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(res.synced, 1);
    ck_assert_str_eq(res.user.groups, "g2");
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
    tcase_add_test(tc, test_profile_on_create_and_login);
    tcase_add_test(tc, test_profile_refused_and_gated);
    return tc;
}
