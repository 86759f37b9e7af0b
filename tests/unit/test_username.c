/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* User name cleaning and validation (rus_username.c). */

#include <string.h>

#include <apr_strings.h>

#include "rus_username.h"
#include "test_common.h"

#define STRIP RUS_CLEAN_STRIP_REALM
#define LOWER RUS_CLEAN_LOWERCASE

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const struct {
    const char *raw;
    unsigned int flags;
    const char *clean; /* NULL: refused */
    rus_name_error_e err;
} cases[] = {
    { "alice", 0, "alice", RUS_NAME_OK },
    { "Alice", 0, "Alice", RUS_NAME_OK },
    { "Alice", LOWER, "alice", RUS_NAME_OK },
    { "alice@EXAMPLE.COM", 0, "alice@EXAMPLE.COM", RUS_NAME_OK },
    { "alice@EXAMPLE.COM", STRIP, "alice", RUS_NAME_OK },
    { "EXAMPLE\\alice", STRIP, "alice", RUS_NAME_OK },
    { "EXAMPLE\\alice", 0, "EXAMPLE\\alice", RUS_NAME_OK },
    { "EXAMPLE\\Alice@EXAMPLE.COM", STRIP | LOWER, "alice", RUS_NAME_OK },
    { "Alice@EXAMPLE.COM", STRIP | LOWER, "alice", RUS_NAME_OK },
    /* krb5 enterprise principal: the escaped '@' stays, unescaped */
    { "alice\\@corp.com@EXAMPLE.COM", STRIP, "alice@corp.com", RUS_NAME_OK },
    { "alice@corp.com@EXAMPLE.COM", STRIP, "alice@corp.com", RUS_NAME_OK },
    { "@EXAMPLE.COM", STRIP, NULL, RUS_NAME_EMPTY },
    { "EXAMPLE\\", STRIP, NULL, RUS_NAME_EMPTY },
    { "", 0, NULL, RUS_NAME_EMPTY },
    /* lower-casing is ASCII only: the UTF-8 bytes of "ÄLICE" keep the Ä */
    { "\xc3\x84LICE", LOWER, "\xc3\x84lice", RUS_NAME_OK },
    { "John Smith", 0, "John Smith", RUS_NAME_OK },
    { "\xc3\xa9milie", 0, "\xc3\xa9milie", RUS_NAME_OK },
    { "\xe4\xb8\xad\xe6\x96\x87", 0, "\xe4\xb8\xad\xe6\x96\x87", RUS_NAME_OK },
    { "smile\xf0\x9f\x98\x80", 0, "smile\xf0\x9f\x98\x80", RUS_NAME_OK },
    { "a'; DROP TABLE users; --", 0, "a'; DROP TABLE users; --", RUS_NAME_OK },
    /* control characters, anywhere, even in a part that would be cut */
    { "ali\nce", 0, NULL, RUS_NAME_CONTROL },
    { "alice\r", 0, NULL, RUS_NAME_CONTROL },
    { "al\tice", 0, NULL, RUS_NAME_CONTROL },
    { "al\x01ice", 0, NULL, RUS_NAME_CONTROL },
    { "al\x7fice", 0, NULL, RUS_NAME_CONTROL },
    { "al\x1fice", 0, NULL, RUS_NAME_CONTROL },
    { "al\xc2\x85ice", 0, NULL, RUS_NAME_CONTROL },
    { "al\xc2\x9fice", 0, NULL, RUS_NAME_CONTROL },
    { "alice@EXAM\nPLE.COM", STRIP, NULL, RUS_NAME_CONTROL },
    /* not UTF-8 */
    { "al\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xc0\xafice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xe0\x80\xafice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xed\xa0\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xf4\x90\x80\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xe2\x82", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "\xff", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xf8\x88\x80\x80\x80", 0, NULL, RUS_NAME_BAD_UTF8 },
};

START_TEST(test_clean_table)
{
    const char *clean = NULL;
    rus_name_error_e err = RUS_NAME_OK;
    apr_status_t rv;

    rv = rus_username_clean(&clean, &err, pool, cases[_i].raw, cases[_i].flags);
    if (cases[_i].clean != NULL) {
        ck_assert_msg(rv == APR_SUCCESS, "case %d refused: %s", _i,
                      rus_name_error_str(err));
        ck_assert_str_eq(clean, cases[_i].clean);
        ck_assert_int_eq(err, RUS_NAME_OK);
    }
    else {
        ck_assert_msg(rv == APR_EINVAL, "case %d accepted", _i);
        ck_assert_ptr_null(clean); /* untouched on failure */
        ck_assert_int_eq(err, cases[_i].err);
    }
}
END_TEST

START_TEST(test_length_limit)
{
    char name[400];
    const char *clean = NULL;
    rus_name_error_e err;

    memset(name, 'x', sizeof(name));
    name[150] = '\0';
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, 0),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(clean), 150);

    name[150] = 'x';
    name[151] = '\0';
    clean = NULL;
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, 0),
                     APR_EINVAL);
    ck_assert_int_eq(err, RUS_NAME_TOO_LONG);
    ck_assert_ptr_null(clean);

    /* 150 bytes once the realm is cut off is fine */
    memcpy(name + 150, "@EXAMPLE.COM", 13);
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, STRIP),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(clean), 150);
    /* ...and without the strip it is too long */
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, 0),
                     APR_EINVAL);
    ck_assert_int_eq(err, RUS_NAME_TOO_LONG);

    /* multi-byte characters count in bytes: 75 x "é" = 150 bytes */
    for (int i = 0; i < 76; i++) {
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    }
    name[150] = '\0';
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, 0),
                     APR_SUCCESS);
    name[150] = '\xc3';
    name[152] = '\0';
    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, name, 0),
                     APR_EINVAL);
    ck_assert_int_eq(err, RUS_NAME_TOO_LONG);
}
END_TEST

START_TEST(test_null_and_optional_err)
{
    const char *clean = NULL;
    rus_name_error_e err = RUS_NAME_OK;

    ck_assert_int_eq(rus_username_clean(&clean, &err, pool, NULL, 0),
                     APR_EINVAL);
    ck_assert_int_eq(err, RUS_NAME_EMPTY);
    /* perr may be NULL */
    ck_assert_int_eq(rus_username_clean(&clean, NULL, pool, "bob", 0),
                     APR_SUCCESS);
    ck_assert_str_eq(clean, "bob");
}
END_TEST

START_TEST(test_error_strings)
{
    rus_name_error_e e;

    for (e = RUS_NAME_OK; e <= RUS_NAME_CONTROL; e++) {
        ck_assert_ptr_nonnull(rus_name_error_str(e));
        ck_assert_int_gt(strlen(rus_name_error_str(e)), 0);
    }
}
END_TEST

START_TEST(test_text_check)
{
    ck_assert_int_eq(rus_text_check("abc", 3), RUS_NAME_OK);
    ck_assert_int_eq(rus_text_check("", 0), RUS_NAME_OK);
    /* the length is honoured: a NUL inside is a control character */
    ck_assert_int_eq(rus_text_check("a\0b", 3), RUS_NAME_CONTROL);
    /* a sequence cut by the length is not UTF-8 */
    ck_assert_int_eq(rus_text_check("\xc3\xa9", 1), RUS_NAME_BAD_UTF8);
    ck_assert_int_eq(rus_text_check("\xc3\xa9", 2), RUS_NAME_OK);
    /* U+00A0 (first non-control after C1) and U+10FFFF are fine */
    ck_assert_int_eq(rus_text_check("\xc2\xa0", 2), RUS_NAME_OK);
    ck_assert_int_eq(rus_text_check("\xf4\x8f\xbf\xbf", 4), RUS_NAME_OK);
}
END_TEST

START_TEST(test_group_names)
{
    char long_name[RUS_USERNAME_MAX + 2];

    ck_assert(rus_group_name_valid("staff"));
    ck_assert(rus_group_name_valid("web-admins_2"));
    ck_assert(rus_group_name_valid("\xc3\xa9quipe"));
    ck_assert(!rus_group_name_valid(""));
    ck_assert(!rus_group_name_valid(NULL));
    ck_assert(!rus_group_name_valid("a,b"));
    ck_assert(!rus_group_name_valid("a b"));
    ck_assert(!rus_group_name_valid("a\tb"));
    ck_assert(!rus_group_name_valid("a\nb"));
    ck_assert(!rus_group_name_valid("a\xff"
                                    "b"));
    memset(long_name, 'g', sizeof(long_name));
    long_name[RUS_USERNAME_MAX] = '\0';
    ck_assert(rus_group_name_valid(long_name));
    long_name[RUS_USERNAME_MAX] = 'g';
    long_name[RUS_USERNAME_MAX + 1] = '\0';
    ck_assert(!rus_group_name_valid(long_name));
}
END_TEST

TCase *rus_username_test_case(void)
{
    TCase *tc = tcase_create("username");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_clean_table, 0,
                        sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_length_limit);
    tcase_add_test(tc, test_null_and_optional_err);
    tcase_add_test(tc, test_error_strings);
    tcase_add_test(tc, test_text_check);
    tcase_add_test(tc, test_group_names);
    return tc;
}
