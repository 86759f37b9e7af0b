/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Sec-Fetch-Site and Origin against the request's origin (rus_origin.c). */

#include <string.h>

#include <check.h>

#include "rus_origin.h"
#include "test_common.h"

static const struct {
    const char *fetch_site;
    const char *origin;
    const char *scheme;
    const char *host;
    unsigned int port;
    rus_site_e want;
} site_cases[] = {
    /* neither header: curl, old browsers */
    { NULL, NULL, "http", "127.0.0.1", 8080, RUS_SITE_UNKNOWN },
    /* Sec-Fetch-Site alone */
    { "same-origin", NULL, "http", "a.test", 0, RUS_SITE_SAME_ORIGIN },
    { "none", NULL, "http", "a.test", 0, RUS_SITE_NONE },
    { "same-site", NULL, "http", "a.test", 0, RUS_SITE_SAME_SITE },
    { "cross-site", NULL, "http", "a.test", 0, RUS_SITE_CROSS },
    { "Cross-Site", NULL, "http", "a.test", 0, RUS_SITE_CROSS },
    { "", NULL, "http", "a.test", 0, RUS_SITE_CROSS },
    { "same-origin, cross-site", NULL, "http", "a.test", 0, RUS_SITE_CROSS },
    { "bogus", NULL, "http", "a.test", 0, RUS_SITE_CROSS },
    /* Origin alone: equal */
    { NULL, "http://127.0.0.1:8080", "http", "127.0.0.1", 8080,
      RUS_SITE_SAME_ORIGIN },
    { NULL, "HTTP://A.Test", "http", "a.test", 0, RUS_SITE_SAME_ORIGIN },
    { NULL, "http://a.test", "http", "A.TEST", 80, RUS_SITE_SAME_ORIGIN },
    { NULL, "http://a.test:80", "http", "a.test", 0, RUS_SITE_SAME_ORIGIN },
    { NULL, "https://a.test", "https", "a.test", 443, RUS_SITE_SAME_ORIGIN },
    { NULL, "https://a.test:443", "https", "a.test", 0, RUS_SITE_SAME_ORIGIN },
    { NULL, "http://[::1]:8080", "http", "::1", 8080, RUS_SITE_SAME_ORIGIN },
    { NULL, "http://[::1]:8080", "http", "[::1]", 8080, RUS_SITE_SAME_ORIGIN },
    /* Origin alone: foreign */
    { NULL, "null", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://b.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test.evil", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://evil.a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.tes", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "https://a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test", "https", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:8080", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test", "http", "a.test", 8080, RUS_SITE_CROSS },
    { NULL, "http://127.0.0.1:8081", "http", "127.0.0.1", 8080,
      RUS_SITE_CROSS },
    { NULL, "http://localhost:8080", "http", "127.0.0.1", 8080,
      RUS_SITE_CROSS },
    { NULL, "http://a.test/", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test/x", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://u@a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:0", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:65536", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:123456", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test:8o", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test, http://a.test", "http", "a.test", 0,
      RUS_SITE_CROSS },
    { NULL, "http://a.test http://b.test", "http", "a.test", 0,
      RUS_SITE_CROSS },
    { NULL, "http://", "http", "", 0, RUS_SITE_CROSS },
    { NULL, "ftp://a.test", "ftp", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://[::1]:8080", "http", "::2", 8080, RUS_SITE_CROSS },
    /* both: the weakest claim wins */
    { "same-origin", "http://a.test", "http", "a.test", 0,
      RUS_SITE_SAME_ORIGIN },
    { "none", "http://a.test", "http", "a.test", 0, RUS_SITE_SAME_ORIGIN },
    { "same-site", "http://a.test", "http", "a.test", 0, RUS_SITE_SAME_SITE },
    { "cross-site", "http://a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { "same-origin", "http://b.test", "http", "a.test", 0, RUS_SITE_CROSS },
    { "same-origin", "null", "http", "a.test", 0, RUS_SITE_CROSS },
    { "same-site", "http://sib.a.test", "http", "a.test", 0, RUS_SITE_CROSS },
    /* no own origin known: nothing matches */
    { NULL, "http://a.test", NULL, "a.test", 0, RUS_SITE_CROSS },
    { NULL, "http://a.test", "http", NULL, 0, RUS_SITE_CROSS },
};

START_TEST(test_site_table)
{
    rus_site_e got =
        rus_request_site(site_cases[_i].fetch_site, site_cases[_i].origin,
                         site_cases[_i].scheme, site_cases[_i].host,
                         site_cases[_i].port);

    ck_assert_msg(got == site_cases[_i].want,
                  "Sec-Fetch-Site %s, Origin %s against %s://%s:%u: got %d, "
                  "want %d",
                  site_cases[_i].fetch_site ? site_cases[_i].fetch_site : "-",
                  site_cases[_i].origin ? site_cases[_i].origin : "-",
                  site_cases[_i].scheme ? site_cases[_i].scheme : "-",
                  site_cases[_i].host ? site_cases[_i].host : "-",
                  site_cases[_i].port, (int)got, (int)site_cases[_i].want);
}
END_TEST

/* An Origin longer than RUS_ORIGIN_MAX is not read: foreign. */
START_TEST(test_site_long_origin)
{
    char origin[RUS_ORIGIN_MAX + 32];
    size_t i;

    memcpy(origin, "http://", 7);
    for (i = 7; i < sizeof(origin) - 1; i++) {
        origin[i] = 'a';
    }
    origin[sizeof(origin) - 1] = '\0';
    ck_assert_int_eq(rus_request_site(NULL, origin, "http", origin + 7, 0),
                     RUS_SITE_CROSS);
    /* at the limit it is read */
    origin[RUS_ORIGIN_MAX] = '\0';
    ck_assert_int_eq(rus_request_site(NULL, origin, "http", origin + 7, 0),
                     RUS_SITE_SAME_ORIGIN);
}
END_TEST

TCase *rus_origin_test_case(void)
{
    TCase *tc = tcase_create("origin");

    tcase_add_loop_test(tc, test_site_table, 0,
                        (int)(sizeof(site_cases) / sizeof(site_cases[0])));
    tcase_add_test(tc, test_site_long_origin);
    return tc;
}
