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
#include <sys/stat.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <sqlite3.h>

#include "test_common.h"

/* The run's own directory; every test directory is made inside it. */
static char run_dir[] = "/tmp/rus-unit-XXXXXX";

const char *rus_test_tmpdir(apr_pool_t *p)
{
    char *dir = apr_pstrcat(p, run_dir, "/t-XXXXXX", NULL);

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

const char *rus_test_sql_str(apr_pool_t *p, const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    const unsigned char *text;
    const char *v;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    text = sqlite3_column_text(st, 0);
    v = apr_pstrdup(p, text ? (const char *)text : "");
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

const char *rus_test_printable(apr_pool_t *p, const char *s)
{
    char *out, *w;

    if (s == NULL) {
        return "(null)";
    }
    out = apr_pstrdup(p, s);
    for (w = out; *w != '\0'; w++) {
        if (*w < 0x20 || *w > 0x7e) {
            *w = '?';
        }
    }
    return out;
}

int main(void)
{
    Suite *suite;
    SRunner *runner;
    char cmd[64];
    int failed;

    apr_initialize();
    /* 0711: tests that drop root privileges still reach their directory */
    if (mkdtemp(run_dir) == NULL || chmod(run_dir, 0711) != 0) {
        perror(run_dir);
        return EXIT_FAILURE;
    }
    rus_test_backends_init();
    suite = suite_create("rus");
    suite_add_tcase(suite, rus_username_test_case());
    suite_add_tcase(suite, rus_store_test_case());
    suite_add_tcase(suite, rus_store_sqlite_test_case());
    suite_add_tcase(suite, rus_store_pg_test_case());
    suite_add_tcase(suite, rus_user_test_case());
    suite_add_tcase(suite, rus_net_test_case());
    suite_add_tcase(suite, rus_header_test_case());
    suite_add_tcase(suite, rus_session_test_case());
    suite_add_tcase(suite, rus_admin_test_case());
    suite_add_tcase(suite, rus_cache_test_case());
    suite_add_tcase(suite, rus_origin_test_case());
    suite_add_tcase(suite, rus_gate_test_case());
    suite_add_tcase(suite, rus_store_contract_test_case());
    suite_add_tcase(suite, rus_decide_test_case());
    suite_add_tcase(suite, rus_lookup_test_case());
    suite_add_tcase(suite, rus_cookie_test_case());
    suite_add_tcase(suite, rus_coherence_test_case());
    suite_add_tcase(suite, rus_ratelimit_test_case());
    suite_add_tcase(suite, rus_confcheck_test_case());
    suite_add_tcase(suite, rus_copy_test_case());
    suite_add_tcase(suite, rus_board_test_case());
    suite_add_tcase(suite, rus_shared_test_case());
    suite_add_tcase(suite, rus_profile_test_case());
    suite_add_tcase(suite, rus_metrics_test_case());
    suite_add_tcase(suite, rus_selfsvc_test_case());

    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    /* also what failed tests left behind */
    apr_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run_dir);
    if (system(cmd) != 0) {
        failed++;
    }
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
