/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Administration of the store (users, groups, sessions, info), as
 * remoteuser-admin uses it, on a real SQLite file. */

#include <string.h>

#include <apr_strings.h>

#include "rus_store.h"
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

START_TEST(test_users)
{
    apr_array_header_t *users = NULL;
    rus_user_t u, v;

    ck_assert_int_eq(rus_user_add(conn, "zed", 5, 1, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(conn, "amy", 6, 0, &v, pool), APR_SUCCESS);
    ck_assert_int_eq(v.is_active, 0);
    ck_assert_int_eq(v.last_login, 0);
    ck_assert_str_eq(v.groups, "");
    ck_assert_int_eq(rus_user_add(conn, "amy", 7, 1, &v, pool), APR_EEXIST);

    ck_assert_int_eq(rus_user_list(conn, &users, pool), APR_SUCCESS);
    ck_assert_int_eq(users->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(users, 0, rus_user_t).username, "amy");
    ck_assert_str_eq(APR_ARRAY_IDX(users, 1, rus_user_t).username, "zed");

    ck_assert_int_eq(rus_user_rename(conn, u.id, "amy"), APR_EEXIST);
    ck_assert_int_eq(rus_user_rename(conn, u.id, "zoe"), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "zoe", &v, pool), APR_SUCCESS);
    ck_assert_int_eq(v.id, u.id);
    ck_assert_int_eq(rus_user_rename(conn, 9999, "x"), APR_ENOENT);

    ck_assert_int_eq(rus_user_set_active(conn, 9999, 1, NULL), APR_ENOENT);
    ck_assert_int_eq(rus_user_delete(conn, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_user_delete(conn, u.id), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "zoe", &v, pool), APR_ENOENT);
}
END_TEST

START_TEST(test_disable_and_delete_revoke_sessions)
{
    const char *h1 =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
    const char *h2 =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2";
    rus_user_t u, w;
    int n = -1;

    ck_assert_int_eq(rus_user_add(conn, "u", 1, 1, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(conn, "w", 1, 1, &w, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, h1, u.id, "v", 1, 9e9),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, h2, w.id, "v", 1, 9e9),
                     APR_SUCCESS);
    /* enabling keeps sessions, disabling ends them in the same step */
    ck_assert_int_eq(rus_user_set_active(conn, u.id, 1, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 2);
    ck_assert_int_eq(rus_user_set_active(conn, u.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions "
                                          "WHERE user_id = (SELECT id FROM "
                                          "users WHERE username = 'u')"),
                     0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT is_active FROM users "
                                          "WHERE username = 'u'"),
                     0);
    /* deleting takes sessions along */
    ck_assert_int_eq(rus_user_delete(conn, w.id), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 0);
    ck_assert_int_eq(rus_session_insert(conn, h1, u.id, "v", 1, 9e9),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_all(conn, &n), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(test_groups)
{
    apr_array_header_t *groups = NULL, *names = NULL;
    rus_group_t staff, admins, g;
    rus_user_t u, v;

    ck_assert_int_eq(rus_user_add(conn, "ann", 1, 1, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(conn, "ben", 1, 1, &v, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "admins"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_EEXIST);
    ck_assert_int_eq(rus_group_find(conn, "nope", &g, pool), APR_ENOENT);
    ck_assert_int_eq(rus_group_find(conn, "staff", &staff, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(conn, "admins", &admins, pool),
                     APR_SUCCESS);

    ck_assert_int_eq(rus_group_add_member(conn, staff.id, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, staff.id, u.id), APR_EEXIST);
    ck_assert_int_eq(rus_group_add_member(conn, staff.id, v.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, admins.id, u.id), APR_SUCCESS);

    /* the user's groups come with the user, sorted */
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "admins,staff");
    ck_assert_int_eq(rus_user_find(conn, "ben", &v, pool), APR_SUCCESS);
    ck_assert_str_eq(v.groups, "staff");

    ck_assert_int_eq(rus_group_members(conn, staff.id, &names, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(names, 0, char *), "ann");
    ck_assert_int_eq(rus_group_list(conn, &groups, pool), APR_SUCCESS);
    ck_assert_int_eq(groups->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(groups, 0, rus_group_t).name, "admins");
    ck_assert_int_eq(APR_ARRAY_IDX(groups, 1, rus_group_t).members, 2);

    ck_assert_int_eq(rus_group_remove_member(conn, admins.id, v.id),
                     APR_ENOENT);
    ck_assert_int_eq(rus_group_remove_member(conn, admins.id, u.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_delete(conn, staff.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_delete(conn, staff.id), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM user_groups"),
                     0);
}
END_TEST

START_TEST(test_sessions_info_integrity)
{
    apr_array_header_t *rows = NULL;
    rus_store_info_t info;
    const char *result = NULL;
    rus_user_t u;
    rus_session_t s;
    int ok = 0;

    ck_assert_int_eq(rus_user_add(conn, "ann", 1, 1, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "a:80", 10, 20),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", u.id, "a:80", 30, 9e9),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_list(conn, 0, &rows, pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 0, rus_session_row_t).token_hash,
                     "h2"); /* newest first */
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 0, rus_session_row_t).username, "ann");
    s = APR_ARRAY_IDX(rows, 1, rus_session_row_t).session;
    ck_assert_int_eq(s.expires_at, 20);
    ck_assert_int_eq(rus_session_list(conn, u.id + 1, &rows, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 0);

    ck_assert_int_eq(rus_store_info(conn, 25, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, 7);
    ck_assert_int_eq(info.users, 1);
    ck_assert_int_eq(info.groups, 0);
    ck_assert_int_eq(info.sessions, 2);
    ck_assert_int_eq(info.sessions_expired, 1);

    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 1);
    ck_assert_str_eq(result, "ok");
}
END_TEST

TCase *rus_admin_test_case(void)
{
    TCase *tc = tcase_create("admin");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_users);
    tcase_add_test(tc, test_disable_and_delete_revoke_sessions);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_sessions_info_integrity);
    return tc;
}
