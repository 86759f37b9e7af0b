/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The trusted-header matcher (rus_header.c). */

#include <stdarg.h>
#include <string.h>

#include <check.h>

#include <apr_pools.h>
#include <apr_tables.h>

#include "rus_header.h"
#include "test_common.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Build a header table from "Name", "value" pairs ending in NULL. */
static apr_table_t *headers(const char *first, ...)
{
    apr_table_t *t = apr_table_make(pool, 4);
    const char *name = first;
    va_list ap;

    va_start(ap, first);
    while (name != NULL) {
        apr_table_add(t, name, va_arg(ap, const char *));
        name = va_arg(ap, const char *);
    }
    va_end(ap);
    return t;
}

START_TEST(test_name_alike)
{
    ck_assert(rus_header_name_alike("X-Auth-User", "X-Auth-User"));
    ck_assert(rus_header_name_alike("X-Auth-User", "x-auth-user"));
    ck_assert(rus_header_name_alike("X-Auth-User", "X_Auth_User"));
    ck_assert(rus_header_name_alike("X-Auth-User", "x_auth-USER"));
    ck_assert(!rus_header_name_alike("X-Auth-User", "X-Auth-Users"));
    ck_assert(!rus_header_name_alike("X-Auth-User", "X-Auth-Use"));
    ck_assert(!rus_header_name_alike("X-Auth-User", "X.Auth.User"));
    ck_assert(!rus_header_name_alike("X-Auth-User", "XAuthUser"));
    ck_assert(!rus_header_name_alike("X-Auth-User", ""));
}
END_TEST

START_TEST(test_find_exact)
{
    const char *value = NULL, *off = NULL;
    apr_table_t *t = headers("Host", "x", "x-auth-user", " alice ", NULL);

    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_FOUND);
    ck_assert_str_eq(value, " alice ");
}
END_TEST

START_TEST(test_find_absent)
{
    const char *value = NULL, *off = NULL;
    apr_table_t *t = headers("Host", "x", "X-Auth-Users", "alice", NULL);

    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_ABSENT);
    ck_assert_ptr_null(value);
}
END_TEST

static const char *const variants[] = {
    "X_Auth_User", "X-Auth_User", "x_auth-user", "X_AUTH_USER", "x-auth_user",
};

START_TEST(test_find_variant_wins_over_exact)
{
    const char *value = NULL, *off = NULL;
    apr_table_t *t;

    /* alone, or next to a legitimate copy: a spoof either way */
    t = headers(variants[_i], "admin", NULL);
    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_VARIANT);
    ck_assert_str_eq(off, variants[_i]);
    t = headers("X-Auth-User", "alice", variants[_i], "admin", NULL);
    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_VARIANT);
}
END_TEST

START_TEST(test_find_repeated)
{
    const char *value = NULL, *off = NULL;
    apr_table_t *t;

    t = headers("X-Auth-User", "alice", "X-Auth-User", "bob", NULL);
    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_REPEATED);
    /* as httpd delivers it: one entry, joined with ", " */
    t = headers("X-Auth-User", "alice, bob", NULL);
    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_REPEATED);
    /* a comma alone is part of a name */
    t = headers("X-Auth-User", "smith,john", NULL);
    ck_assert_int_eq(rus_header_find(t, "X-Auth-User", &value, &off),
                     RUS_HEADER_FOUND);
}
END_TEST

START_TEST(test_remove_alike)
{
    apr_table_t *t =
        headers("Host", "x", "X-Auth-User", "a", "X_Auth_User", "b",
                "x-auth_user", "c", "Accept", "*/*", "X-AUTH-USER", "d", NULL);

    rus_header_remove_alike(t, "X-Auth-User");
    ck_assert_int_eq(apr_table_elts(t)->nelts, 2);
    ck_assert_str_eq(apr_table_get(t, "Host"), "x");
    ck_assert_str_eq(apr_table_get(t, "Accept"), "*/*");
}
END_TEST

static const struct {
    const char *raw;
    const char *value; /* NULL: refused */
    rus_name_error_e err;
} value_cases[] = {
    { "alice", "alice", RUS_NAME_OK },
    /* not trimmed: the user name rules refuse edge white space later */
    { "  alice ", "  alice ", RUS_NAME_OK },
    { "alice\t", NULL, RUS_NAME_CONTROL },
    { "", "", RUS_NAME_OK },
    { " \t ", NULL, RUS_NAME_CONTROL },
    { "John Smith", "John Smith", RUS_NAME_OK },
    { "\xc3\xa9milie", "\xc3\xa9milie", RUS_NAME_OK },
    { "ali\x01"
      "ce",
      NULL, RUS_NAME_CONTROL },
    { "ali\x7f"
      "ce",
      NULL, RUS_NAME_CONTROL },
    { "alice\r", NULL, RUS_NAME_CONTROL },
    { "ali\xc2\x85"
      "ce",
      NULL, RUS_NAME_CONTROL },
    { "ali\xff"
      "ce",
      NULL, RUS_NAME_BAD_UTF8 },
    { "ali\xc0\xaf"
      "ce",
      NULL, RUS_NAME_BAD_UTF8 },
};

START_TEST(test_value_table)
{
    const char *value = NULL;
    rus_name_error_e err = RUS_NAME_OK;
    apr_status_t rv;

    rv = rus_header_value(&value, &err, pool, value_cases[_i].raw);
    if (value_cases[_i].value != NULL) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_str_eq(value, value_cases[_i].value);
    }
    else {
        ck_assert_int_eq(rv, APR_EINVAL);
        ck_assert_ptr_null(value);
        ck_assert_int_eq(err, value_cases[_i].err);
    }
}
END_TEST

TCase *rus_header_test_case(void)
{
    TCase *tc = tcase_create("header");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_name_alike);
    tcase_add_test(tc, test_find_exact);
    tcase_add_test(tc, test_find_absent);
    tcase_add_loop_test(tc, test_find_variant_wins_over_exact, 0,
                        sizeof(variants) / sizeof(variants[0]));
    tcase_add_test(tc, test_find_repeated);
    tcase_add_test(tc, test_remove_alike);
    tcase_add_loop_test(tc, test_value_table, 0,
                        sizeof(value_cases) / sizeof(value_cases[0]));
    return tc;
}
