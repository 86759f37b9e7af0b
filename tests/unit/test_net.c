/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* CIDR parsing and peer matching (rus_net.c). */

#include <arpa/inet.h>
#include <string.h>

#include <check.h>

#include <apr_pools.h>

#include "rus_net.h"
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

/* Parsing: what is accepted, and what is refused at configuration time. */
static const struct {
    const char *text;
    int ok;
} parse_cases[] = {
    { "127.0.0.1", 1 },
    { "10.0.0.0/8", 1 },
    { "0.0.0.0/0", 1 },
    { "192.168.1.128/25", 1 },
    { "::1", 1 },
    { "2001:db8::/32", 1 },
    { "::/0", 1 },
    { "::ffff:10.0.0.0/104", 1 },
    { "fe80::1/128", 1 },
    { "10.0.0.0/33", 0 },
    { "10.0.0.1/8", 0 }, /* host bits set */
    { "2001:db8::1/32", 0 },
    { "::1/129", 0 },
    { "10.0.0.0/", 0 },
    { "10.0.0.0/abc", 0 },
    { "10.0.0.0/-1", 0 },
    { "10.0.0.0/+8", 0 },
    { "10.0.0.0/08", 0 },
    { "010.0.0.1", 0 },
    { "256.0.0.1", 0 },
    { "1.2.3", 0 },
    { "1.2.3.4.5", 0 },
    { "1.2.3.4 ", 0 },
    { "example.com", 0 },
    { "", 0 },
    { "/8", 0 },
    { ":::1", 0 },
    { "10.0.0.0/8/8", 0 },
};

START_TEST(test_cidr_parse_table)
{
    rus_cidr_t c;
    const char *msg = NULL;
    apr_status_t rv;

    rv = rus_cidr_parse(&c, parse_cases[_i].text, pool, &msg);
    if (parse_cases[_i].ok) {
        ck_assert_msg(rv == APR_SUCCESS, "'%s' refused: %s",
                      parse_cases[_i].text, msg);
    }
    else {
        ck_assert_msg(rv == APR_EINVAL, "'%s' accepted", parse_cases[_i].text);
        ck_assert_ptr_nonnull(msg);
        ck_assert_int_gt(strlen(msg), 0);
    }
}
END_TEST

/* Matching: block, peer, expected. */
static const struct {
    const char *block;
    const char *peer;
    int match;
} match_cases[] = {
    { "127.0.0.1", "127.0.0.1", 1 },
    { "127.0.0.1", "127.0.0.2", 0 },
    { "10.0.0.0/8", "10.255.1.2", 1 },
    { "10.0.0.0/8", "11.0.0.0", 0 },
    { "192.168.1.128/25", "192.168.1.200", 1 },
    { "192.168.1.128/25", "192.168.1.127", 0 },
    { "0.0.0.0/0", "8.8.8.8", 1 },
    { "0.0.0.0/0", "::1", 0 },
    { "::1", "::1", 1 },
    { "::1", "::2", 0 },
    { "2001:db8::/32", "2001:db8:ffff::1", 1 },
    { "2001:db8::/32", "2001:db9::1", 0 },
    { "::/0", "fe80::1", 1 },
    { "::/0", "127.0.0.1", 0 },
    /* a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d */
    { "127.0.0.1", "::ffff:127.0.0.1", 1 },
    { "10.0.0.0/8", "::ffff:10.1.2.3", 1 },
    { "10.0.0.0/8", "::ffff:11.1.2.3", 0 },
    /* an IPv4 block written as mapped IPv6 is the IPv4 block */
    { "::ffff:10.0.0.0/104", "10.9.9.9", 1 },
    { "::ffff:10.0.0.0/104", "11.9.9.9", 0 },
    { "::ffff:127.0.0.1", "127.0.0.1", 1 },
};

START_TEST(test_cidr_match_table)
{
    unsigned char addr[16];
    rus_cidr_t c;
    const char *msg = NULL;
    int v6;

    ck_assert_int_eq(rus_cidr_parse(&c, match_cases[_i].block, pool, &msg),
                     APR_SUCCESS);
    v6 = strchr(match_cases[_i].peer, ':') != NULL;
    ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, match_cases[_i].peer,
                               addr),
                     1);
    ck_assert_msg(rus_cidr_match(&c, v6, addr) == match_cases[_i].match,
                  "%s in %s: expected %d", match_cases[_i].peer,
                  match_cases[_i].block, match_cases[_i].match);
}
END_TEST

START_TEST(test_cidr_parse_leaves_output_on_failure)
{
    rus_cidr_t c;
    const char *msg = NULL;

    memset(&c, 0x5a, sizeof(c));
    ck_assert_int_eq(rus_cidr_parse(&c, "10.0.0.0/99", pool, &msg), APR_EINVAL);
    ck_assert_int_eq(c.bits, 0x5a5a5a5a);
}
END_TEST

/* Which blocks RemoteUserTrustedProxy warns about (wider than /8 or
 * /32), as parsed: a mapped IPv4 block counts as IPv4. */
static const struct {
    const char *block;
    int wide;
} wide_cases[] = {
    { "0.0.0.0/0", 1 },
    { "10.0.0.0/7", 1 },
    { "10.0.0.0/8", 0 },
    { "10.1.2.3", 0 },
    { "::/0", 1 },
    { "2001:c00::/23", 1 },
    { "2001:db8::/31", 1 },
    { "2001:db8::/32", 0 },
    { "2001:db8:5::/64", 0 },
    { "::ffff:0.0.0.0/96", 1 },
    { "::ffff:10.0.0.0/104", 0 },
};

START_TEST(test_cidr_too_wide_table)
{
    rus_cidr_t c;
    const char *msg = NULL;

    ck_assert_int_eq(rus_cidr_parse(&c, wide_cases[_i].block, pool, &msg),
                     APR_SUCCESS);
    ck_assert_msg(rus_cidr_too_wide(&c) == wide_cases[_i].wide,
                  "%s: expected %d", wide_cases[_i].block, wide_cases[_i].wide);
}
END_TEST

TCase *rus_net_test_case(void)
{
    TCase *tc = tcase_create("net");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_cidr_parse_table, 0,
                        sizeof(parse_cases) / sizeof(parse_cases[0]));
    tcase_add_loop_test(tc, test_cidr_match_table, 0,
                        sizeof(match_cases) / sizeof(match_cases[0]));
    tcase_add_test(tc, test_cidr_parse_leaves_output_on_failure);
    tcase_add_loop_test(tc, test_cidr_too_wide_table, 0,
                        sizeof(wide_cases) / sizeof(wide_cases[0]));
    return tc;
}
