/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The startup checks' decisions (rus_confcheck.c). */

#include <check.h>

#include "rus_confcheck.h"
#include "test_common.h"

static const struct {
    const char *outer, *inner;
    int covers;
} cover_cases[] = {
    { "/", "/", 1 },
    { "/", "/app", 1 },
    { "/app", "/app", 1 },
    { "/app", "/app/", 1 },
    { "/app/", "/app", 1 },
    { "/app", "/app/admin", 1 },
    { "/app/", "/app/admin", 1 },
    { "/app", "/apple", 0 },
    { "/app/admin", "/app", 0 },
    { "/app", "/", 0 },
    { "/var/www", "/var/www/html", 1 },
    { "/var/www", "/var/www2", 0 },
    { "/login", "/logout", 0 },
};

START_TEST(test_path_covers_table)
{
    ck_assert_msg(rus_confcheck_path_covers(cover_cases[_i].outer,
                                            cover_cases[_i].inner)
                      == cover_cases[_i].covers,
                  "%s at %s: expected %d", cover_cases[_i].outer,
                  cover_cases[_i].inner, cover_cases[_i].covers);
}
END_TEST

START_TEST(test_path_literal_and_depth)
{
    ck_assert_int_eq(rus_confcheck_path_literal("/app"), 1);
    ck_assert_int_eq(rus_confcheck_path_literal("/app/*.cgi"), 0);
    ck_assert_int_eq(rus_confcheck_path_literal("/a?c"), 0);
    ck_assert_int_eq(rus_confcheck_path_literal("/[ab]"), 0);
    ck_assert_int_eq(rus_confcheck_path_literal(""), 0);
    ck_assert_int_eq(rus_confcheck_path_depth("/"), 0);
    ck_assert_int_eq(rus_confcheck_path_depth("/var"), 1);
    ck_assert_int_eq(rus_confcheck_path_depth("/var/www/"), 2);
    ck_assert_int_eq(rus_confcheck_path_depth("/var/www/html"), 3);
}
END_TEST

START_TEST(test_idle_exceeds)
{
    ck_assert_int_eq(rus_confcheck_idle_exceeds(0, 60), 0);
    ck_assert_int_eq(rus_confcheck_idle_exceeds(60, 60), 0);
    ck_assert_int_eq(rus_confcheck_idle_exceeds(59, 60), 0);
    ck_assert_int_eq(rus_confcheck_idle_exceeds(61, 60), 1);
    ck_assert_int_eq(rus_confcheck_idle_exceeds(1209601, 1209600), 1);
}
END_TEST

TCase *rus_confcheck_test_case(void)
{
    TCase *tc = tcase_create("confcheck");

    tcase_add_loop_test(tc, test_path_covers_table, 0,
                        sizeof(cover_cases) / sizeof(cover_cases[0]));
    tcase_add_test(tc, test_path_literal_and_depth);
    tcase_add_test(tc, test_idle_exceeds);
    return tc;
}
