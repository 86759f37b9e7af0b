/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The unit test suite: one TCase per core file, plus shared helpers. */
#ifndef RUS_TEST_COMMON_H
#define RUS_TEST_COMMON_H

#include <check.h>

#include <apr_pools.h>

TCase *rus_username_test_case(void);
TCase *rus_store_test_case(void);
TCase *rus_store_sqlite_test_case(void);
TCase *rus_user_test_case(void);
TCase *rus_net_test_case(void);
TCase *rus_header_test_case(void);
TCase *rus_session_test_case(void);
TCase *rus_admin_test_case(void);
TCase *rus_cache_test_case(void);
TCase *rus_origin_test_case(void);
TCase *rus_gate_test_case(void);
TCase *rus_decide_test_case(void);
TCase *rus_lookup_test_case(void);
TCase *rus_cookie_test_case(void);

/* A fresh temporary directory, path from @p: mkdtemp inside the run's own
 * mkdtemp directory under /tmp, which main() removes at the end (a failed
 * test skips its teardown). */
const char *rus_test_tmpdir(apr_pool_t *p);

/* Remove a directory made by rus_test_tmpdir() and everything in it. */
void rus_test_rmtree(const char *dir);

/* Run one SQL statement on the database file, outside the store code
 * (tests use it to inspect or prepare rows). Fails the test on error. */
void rus_test_sql(const char *db, const char *sql);

/* The integer result of a one-value query. */
long long rus_test_sql_int(const char *db, const char *sql);

/* The text result of a one-value query, allocated from @p ("" for NULL). */
const char *rus_test_sql_str(apr_pool_t *p, const char *db, const char *sql);

/* @s with every byte outside printable ASCII shown as '?', for messages. */
const char *rus_test_printable(apr_pool_t *p, const char *s);

#endif /* RUS_TEST_COMMON_H */
