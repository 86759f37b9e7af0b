/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Runs every unit test of the core. No httpd is linked: if this binary
 * needed httpd to build, the core/glue layering would be broken. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <sqlite3.h>

#include "test_common.h"

const char *rus_test_tmpdir(apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, "/tmp/rus-unit-XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

void rus_test_rmtree(const char *dir)
{
    char cmd[512];

    /* Only ever our own mkdtemp directories. */
    ck_assert(strncmp(dir, "/tmp/rus-unit-", 14) == 0);
    apr_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

void rus_test_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    char *err = NULL;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s",
                  sql, err ? err : "?");
    sqlite3_close(h);
}

long long rus_test_sql_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

int main(void)
{
    Suite *suite;
    SRunner *runner;
    int failed;

    apr_initialize();
    suite = suite_create("rus");
    suite_add_tcase(suite, rus_username_test_case());
    suite_add_tcase(suite, rus_store_test_case());
    suite_add_tcase(suite, rus_user_test_case());
    suite_add_tcase(suite, rus_net_test_case());
    suite_add_tcase(suite, rus_header_test_case());
    suite_add_tcase(suite, rus_session_test_case());
    suite_add_tcase(suite, rus_admin_test_case());
    suite_add_tcase(suite, rus_cache_test_case());

    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
