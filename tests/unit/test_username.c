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

/* Long names, built from literals so the table stays a static array. */
#define X10  "xxxxxxxxxx"
#define X50  X10 X10 X10 X10 X10
#define X150 X50 X50 X50
#define U10  "XXXXXXXXXX"
#define U150 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10
/* 75 x U+00E9 (2 bytes each): 150 bytes */
#define E5  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E25 E5 E5 E5 E5 E5
#define E75 E25 E25 E25

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
    /* plain names pass unchanged */
    { "alice", 0, "alice", RUS_NAME_OK },
    { "Alice", 0, "Alice", RUS_NAME_OK },
    { "John Smith", 0, "John Smith", RUS_NAME_OK },
    { "a'; DROP TABLE users; --", 0, "a'; DROP TABLE users; --", RUS_NAME_OK },
    { "a", 0, "a", RUS_NAME_OK },
    /* no flag, no change */
    { "alice@EXAMPLE.COM", 0, "alice@EXAMPLE.COM", RUS_NAME_OK },
    { "EXAMPLE\\alice", 0, "EXAMPLE\\alice", RUS_NAME_OK },
    { "@EXAMPLE.COM", 0, "@EXAMPLE.COM", RUS_NAME_OK },
    /* realm and domain */
    { "alice@EXAMPLE.COM", STRIP, "alice", RUS_NAME_OK },
    { "alice@", STRIP, "alice", RUS_NAME_OK },
    { "EXAMPLE\\alice", STRIP, "alice", RUS_NAME_OK },
    { "EXAMPLE\\alice@EXAMPLE.COM", STRIP, "alice", RUS_NAME_OK },
    { "alice", STRIP, "alice", RUS_NAME_OK },
    /* krb5 enterprise principal: the escaped '@' stays, unescaped */
    { "alice\\@corp.com@EXAMPLE.COM", STRIP, "alice@corp.com", RUS_NAME_OK },
    { "EXAMPLE\\alice\\@corp.com@EXAMPLE.COM", STRIP, "alice@corp.com",
      RUS_NAME_OK },
    { "EXAMPLE\\@EXAMPLE.COM", STRIP | LOWER, "example@example.com",
      RUS_NAME_OK },
    /* only the last '@' starts the realm */
    { "alice@corp.com@EXAMPLE.COM", STRIP, "alice@corp.com", RUS_NAME_OK },
    /* nothing left */
    { "@EXAMPLE.COM", STRIP, NULL, RUS_NAME_EMPTY },
    { "@", STRIP, NULL, RUS_NAME_EMPTY },
    { "EXAMPLE\\", STRIP, NULL, RUS_NAME_EMPTY },
    { "", 0, NULL, RUS_NAME_EMPTY },
    { "", STRIP | LOWER, NULL, RUS_NAME_EMPTY },
    { NULL, 0, NULL, RUS_NAME_EMPTY },
    { NULL, STRIP | LOWER, NULL, RUS_NAME_EMPTY },
    /* lower-casing: ASCII A-Z only, after the strip */
    { "Alice", LOWER, "alice", RUS_NAME_OK },
    { "ALICE-42_Z", LOWER, "alice-42_z", RUS_NAME_OK },
    { "Alice@EXAMPLE.COM", STRIP | LOWER, "alice", RUS_NAME_OK },
    { "EXAMPLE\\Alice@EXAMPLE.COM", STRIP | LOWER, "alice", RUS_NAME_OK },
    { "Alice@EXAMPLE.COM", LOWER, "alice@example.com", RUS_NAME_OK },
    /* the UTF-8 bytes of "ÄLICE" keep the Ä (C3 84), and "É" (C3 89) */
    { "\xc3\x84LICE", LOWER, "\xc3\x84lice", RUS_NAME_OK },
    { "\xc3\x89MILIE", LOWER, "\xc3\x89milie", RUS_NAME_OK },
    /* well-formed multi-byte UTF-8: 2, 3 and 4 bytes */
    { "\xc3\xa9milie", 0, "\xc3\xa9milie", RUS_NAME_OK },
    { "\xe4\xb8\xad\xe6\x96\x87", 0, "\xe4\xb8\xad\xe6\x96\x87", RUS_NAME_OK },
    { "smile\xf0\x9f\x98\x80", 0, "smile\xf0\x9f\x98\x80", RUS_NAME_OK },
    { "\xe4\xb8\xad@EXAMPLE.COM", STRIP, "\xe4\xb8\xad", RUS_NAME_OK },
    /* length: bytes of the cleaned name */
    { X150, 0, X150, RUS_NAME_OK },
    { X150 "x", 0, NULL, RUS_NAME_TOO_LONG },
    { X150 X150, 0, NULL, RUS_NAME_TOO_LONG },
    { X150 "@EXAMPLE.COM", STRIP, X150, RUS_NAME_OK },
    { X150 "@EXAMPLE.COM", 0, NULL, RUS_NAME_TOO_LONG },
    { "EXAMPLE\\" X150 "@EXAMPLE.COM", STRIP, X150, RUS_NAME_OK },
    { X150 "x@EXAMPLE.COM", STRIP, NULL, RUS_NAME_TOO_LONG },
    { U150, LOWER, X150, RUS_NAME_OK },
    { E75, 0, E75, RUS_NAME_OK },
    { E75 "\xc3\xa9", 0, NULL, RUS_NAME_TOO_LONG },
    /* control characters, anywhere */
    /* white space or invisible characters at either end: refused, never
     * trimmed (security review finding 7), inside a name they are fine */
    { "admin ", 0, NULL, RUS_NAME_SPACE },
    { " admin", 0, NULL, RUS_NAME_SPACE },
    { "admin\xc2\xa0", 0, NULL, RUS_NAME_SPACE }, /* U+00A0 */
    { "\xe3\x80\x80"
      "admin",
      0, NULL, RUS_NAME_SPACE },                      /* U+3000 */
    { "admin\xe2\x80\x8d", 0, NULL, RUS_NAME_SPACE }, /* U+200D */
    { "admin\xc2\xad", 0, NULL, RUS_NAME_SPACE },     /* U+00AD */
    { "\xef\xbb\xbf"
      "admin",
      0, NULL, RUS_NAME_SPACE },                      /* U+FEFF */
    { "admin\xe2\x81\xa0", 0, NULL, RUS_NAME_SPACE }, /* U+2060 */
    { "alice @EXAMPLE.COM", RUS_CLEAN_STRIP_REALM, NULL, RUS_NAME_SPACE },
    { "EXAMPLE\\ alice", RUS_CLEAN_STRIP_REALM, NULL, RUS_NAME_SPACE },
    { "ad min", 0, "ad min", RUS_NAME_OK },
    { "ad\xe2\x80\x8dmin", 0, "ad\xe2\x80\x8dmin", RUS_NAME_OK },
    { "ali\nce", 0, NULL, RUS_NAME_CONTROL },
    { "alice\r", 0, NULL, RUS_NAME_CONTROL },
    { "al\tice", 0, NULL, RUS_NAME_CONTROL },
    { "\x01user", 0, NULL, RUS_NAME_CONTROL },
    { "al\x1fice", 0, NULL, RUS_NAME_CONTROL },
    { "al\x7fice", 0, NULL, RUS_NAME_CONTROL },
    { "al\xc2\x80ice", 0, NULL, RUS_NAME_CONTROL }, /* U+0080 */
    { "al\xc2\x85ice", 0, NULL, RUS_NAME_CONTROL }, /* U+0085 NEL */
    { "al\xc2\x9fice", 0, NULL, RUS_NAME_CONTROL }, /* U+009F */
    { "alice\n", LOWER, NULL, RUS_NAME_CONTROL },
    /* ...even in a part the strip would cut away: refused, not hidden */
    { "alice@EXAM\nPLE.COM", STRIP, NULL, RUS_NAME_CONTROL },
    { "alice@EXAMPLE.COM\r\n", STRIP | LOWER, NULL, RUS_NAME_CONTROL },
    { "EXA\x01MPLE\\alice", STRIP, NULL, RUS_NAME_CONTROL },
    { "alice@EXAMPLE\xc2\x85", STRIP, NULL, RUS_NAME_CONTROL },
    /* not UTF-8 */
    { "\x80", 0, NULL, RUS_NAME_BAD_UTF8 },              /* lone continuation */
    { "al\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 },         /* lone continuation */
    { "al\xc0\xafice", 0, NULL, RUS_NAME_BAD_UTF8 },     /* overlong */
    { "al\xc1\xbfice", 0, NULL, RUS_NAME_BAD_UTF8 },     /* overlong */
    { "al\xe0\x80\xafice", 0, NULL, RUS_NAME_BAD_UTF8 }, /* overlong */
    { "al\xf0\x80\x80\xafice", 0, NULL, RUS_NAME_BAD_UTF8 }, /* overlong */
    { "al\xed\xa0\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 },     /* D800 */
    { "al\xed\xbf\xbfice", 0, NULL, RUS_NAME_BAD_UTF8 },     /* DFFF */
    { "al\xf4\x90\x80\x80ice", 0, NULL, RUS_NAME_BAD_UTF8 }, /* 110000 */
    { "al\xf5\x80\x80\x80", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xe2\x82", 0, NULL, RUS_NAME_BAD_UTF8 }, /* truncated */
    { "al\xe2\x82ice", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xf0\x9f\x98", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "\xff", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "\xfe", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "al\xf8\x88\x80\x80\x80", 0, NULL, RUS_NAME_BAD_UTF8 },
    { "alice@EXAMPLE\xff", STRIP, NULL, RUS_NAME_BAD_UTF8 },
    { "EXAMPLE\x80\\alice", STRIP, NULL, RUS_NAME_BAD_UTF8 },
};

/* One row of the table: NULL when it behaves, else what went wrong. */
static const char *clean_case(int i)
{
    static const char untouched[] = "untouched";
    const char *clean = untouched;
    rus_name_error_e err = (rus_name_error_e)-1;
    apr_status_t rv;

    rv = rus_username_clean(&clean, &err, pool, cases[i].raw, cases[i].flags);
    if (cases[i].clean != NULL) {
        if (rv != APR_SUCCESS || err != RUS_NAME_OK) {
            return apr_psprintf(pool, "refused (%s)", rus_name_error_str(err));
        }
        if (clean == untouched || strcmp(clean, cases[i].clean) != 0) {
            return apr_psprintf(pool, "cleaned to '%s'",
                                rus_test_printable(pool, clean));
        }
        if (clean == cases[i].raw) {
            return "result is not a copy";
        }
        return NULL;
    }
    if (rv != APR_EINVAL) {
        return apr_psprintf(pool, "accepted as '%s' (%d)",
                            rus_test_printable(pool, clean), rv);
    }
    if (err != cases[i].err) {
        return apr_psprintf(pool, "refused as '%s', expected '%s'",
                            rus_name_error_str(err),
                            rus_name_error_str(cases[i].err));
    }
    if (clean != untouched) {
        return "output written on failure";
    }
    return NULL;
}

/* Every row is checked; all the failing ones are reported together. */
START_TEST(test_clean_table)
{
    const char *report = "";
    int i, failed = 0;

    for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
        const char *why = clean_case(i);

        if (why != NULL) {
            report =
                apr_psprintf(pool, "%s\n  case %d '%s' flags %u: %s", report, i,
                             rus_test_printable(pool, cases[i].raw),
                             cases[i].flags, why);
            failed++;
        }
    }
    ck_assert_msg(failed == 0, "%d case(s) failed:%s", failed, report);
}
END_TEST

/* perr is optional, and the result does not depend on it. */
START_TEST(test_clean_without_perr)
{
    const char *clean = NULL;

    ck_assert_int_eq(rus_username_clean(&clean, NULL, pool, "Bob@R", STRIP),
                     APR_SUCCESS);
    ck_assert_str_eq(clean, "Bob");
    clean = NULL;
    ck_assert_int_eq(rus_username_clean(&clean, NULL, pool, "b\nob", 0),
                     APR_EINVAL);
    ck_assert_ptr_null(clean);
    ck_assert_int_eq(rus_username_clean(&clean, NULL, pool, NULL, 0),
                     APR_EINVAL);
}
END_TEST

/* The raw name is never written to. */
START_TEST(test_clean_leaves_input_alone)
{
    char raw[] = "EXAMPLE\\Alice\\@corp.com@EXAMPLE.COM";
    const char *clean = NULL;

    ck_assert_int_eq(rus_username_clean(&clean, NULL, pool, raw, STRIP | LOWER),
                     APR_SUCCESS);
    ck_assert_str_eq(clean, "alice@corp.com");
    ck_assert_str_eq(raw, "EXAMPLE\\Alice\\@corp.com@EXAMPLE.COM");
}
END_TEST

START_TEST(test_error_strings)
{
    static const rus_name_error_e all[] = {
        RUS_NAME_OK,       RUS_NAME_EMPTY,   RUS_NAME_TOO_LONG,
        RUS_NAME_BAD_UTF8, RUS_NAME_CONTROL,
    };
    size_t i, j;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *s = rus_name_error_str(all[i]);

        ck_assert_ptr_nonnull(s);
        ck_assert_int_gt(strlen(s), 0);
        /* one distinct text per reason, so log lines tell them apart */
        for (j = 0; j < i; j++) {
            ck_assert_str_ne(s, rus_name_error_str(all[j]));
        }
    }
    /* a value outside the enum still gets a text */
    ck_assert_ptr_nonnull(rus_name_error_str((rus_name_error_e)99));
    ck_assert_int_gt(strlen(rus_name_error_str((rus_name_error_e)99)), 0);
}
END_TEST

static const struct {
    const char *s;
    apr_size_t len;
    rus_name_error_e want;
} texts[] = {
    { "", 0, RUS_NAME_OK },
    { "abc", 3, RUS_NAME_OK },
    { " ~", 2, RUS_NAME_OK },                 /* 0x20 and 0x7E: the edges */
    { "\x1f", 1, RUS_NAME_CONTROL },          /* last C0 */
    { "\x7f", 1, RUS_NAME_CONTROL },          /* DEL */
    { "a\0b", 3, RUS_NAME_CONTROL },          /* the length counts, not NUL */
    { "\xc2\x80", 2, RUS_NAME_CONTROL },      /* first C1 */
    { "\xc2\x9f", 2, RUS_NAME_CONTROL },      /* last C1 */
    { "\xc2\xa0", 2, RUS_NAME_OK },           /* U+00A0 */
    { "\xdf\xbf", 2, RUS_NAME_OK },           /* U+07FF */
    { "\xe0\xa0\x80", 3, RUS_NAME_OK },       /* U+0800 */
    { "\xe0\x9f\xbf", 3, RUS_NAME_BAD_UTF8 }, /* overlong U+07FF */
    { "\xed\x9f\xbf", 3, RUS_NAME_OK },       /* U+D7FF */
    { "\xed\xa0\x80", 3, RUS_NAME_BAD_UTF8 }, /* U+D800 */
    { "\xee\x80\x80", 3, RUS_NAME_OK },       /* U+E000 */
    { "\xef\xbf\xbf", 3, RUS_NAME_OK },       /* U+FFFF */
    { "\xf0\x90\x80\x80", 4, RUS_NAME_OK },   /* U+10000 */
    { "\xf0\x8f\xbf\xbf", 4, RUS_NAME_BAD_UTF8 }, /* overlong U+FFFF */
    { "\xf4\x8f\xbf\xbf", 4, RUS_NAME_OK },       /* U+10FFFF */
    { "\xf4\x90\x80\x80", 4, RUS_NAME_BAD_UTF8 }, /* U+110000 */
    { "\xc3\xa9", 1, RUS_NAME_BAD_UTF8 },         /* cut by the length */
    { "\xc3\xa9", 2, RUS_NAME_OK },
    { "\xc3Z", 2, RUS_NAME_BAD_UTF8 },     /* lead, no continuation */
    { "\xe2\x82Z", 3, RUS_NAME_BAD_UTF8 }, /* continuation missing */
    { "abc\xff", 3, RUS_NAME_OK },         /* past the length: unread */
};

START_TEST(test_text_check)
{
    const char *report = "";
    int i, failed = 0;

    for (i = 0; i < (int)(sizeof(texts) / sizeof(texts[0])); i++) {
        rus_name_error_e got = rus_text_check(texts[i].s, texts[i].len);

        if (got != texts[i].want) {
            report = apr_psprintf(pool, "%s\n  text %d: %s, expected %s",
                                  report, i, rus_name_error_str(got),
                                  rus_name_error_str(texts[i].want));
            failed++;
        }
    }
    ck_assert_msg(failed == 0, "%d text(s) failed:%s", failed, report);
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
    tcase_add_test(tc, test_clean_table);
    tcase_add_test(tc, test_clean_without_perr);
    tcase_add_test(tc, test_clean_leaves_input_alone);
    tcase_add_test(tc, test_error_strings);
    tcase_add_test(tc, test_text_check);
    tcase_add_test(tc, test_group_names);
    return tc;
}
