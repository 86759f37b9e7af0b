/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: the Cookie request header (rus_cookie_values), the session
 * token check every value found goes through (rus_token_hash), and
 * rus_cookie_name_valid.
 *
 * Input: the Cookie header value. When it holds a NUL, the bytes after it
 * are also used as a cookie name to look for. */

#include <string.h>

#include <apr_strings.h>

#include "rus_session.h"
#include "rus_token.h"

#include "fuzz_common.h"

#define COOKIE_NAME "remoteuser_session"

/* RFC 9110 tchar, written out independently of the code under test. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int name_ok(const char *name)
{
    const unsigned char *u = (const unsigned char *)name;

    if (*u == '\0') {
        return 0;
    }
    for (; *u; u++) {
        if (!is_tchar(*u)) {
            return 0;
        }
    }
    return 1;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void check_hash(const char *hash)
{
    size_t i;

    FUZZ_ASSERT(hash != NULL);
    FUZZ_ASSERT(strlen(hash) == RUS_TOKEN_HASH_CHARS);
    for (i = 0; i < RUS_TOKEN_HASH_CHARS; i++) {
        FUZZ_ASSERT((hash[i] >= '0' && hash[i] <= '9')
                    || (hash[i] >= 'a' && hash[i] <= 'f'));
    }
}

/* Look for cookie @a name in @a header; check what comes back. */
static void values_of(const char *header, const char *name, apr_pool_t *p)
{
    const char *values[RUS_COOKIE_CANDIDATES_MAX + 1];
    const char *hash;
    int n, i;

    values[RUS_COOKIE_CANDIDATES_MAX] = NULL;
    n = rus_cookie_values(header, name, values, RUS_COOKIE_CANDIDATES_MAX, p);
    FUZZ_ASSERT(n >= 0 && n <= RUS_COOKIE_CANDIDATES_MAX);
    FUZZ_ASSERT(values[RUS_COOKIE_CANDIDATES_MAX] == NULL);
    if (strlen(header) > RUS_COOKIE_HEADER_MAX) {
        FUZZ_ASSERT(n == 0);
    }
    if (n > 0) {
        /* A value only comes from a "name=value" pair. */
        char *pair = apr_pstrcat(p, name, "=", NULL);

        FUZZ_ASSERT(strstr(header, pair) != NULL);
    }
    for (i = 0; i < n; i++) {
        apr_status_t rv;

        FUZZ_ASSERT(values[i] != NULL);
        /* Values are returned as sent: a piece of the header, which
         * cookie separators delimit. */
        FUZZ_ASSERT(strstr(header, values[i]) != NULL);
        FUZZ_ASSERT(strchr(values[i], ';') == NULL);
        FUZZ_ASSERT(strchr(values[i], ',') == NULL);

        hash = NULL;
        rv = rus_token_hash(&hash, values[i], p);
        if (rv == APR_SUCCESS) {
            size_t k;

            check_hash(hash);
            FUZZ_ASSERT(strlen(values[i]) == RUS_TOKEN_CHARS);
            for (k = 0; k < RUS_TOKEN_CHARS; k++) {
                FUZZ_ASSERT(b64url_char(values[i][k]));
            }
        }
        else {
            FUZZ_ASSERT(rv == APR_EINVAL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *header;
    size_t hlen;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    header = fuzz_begin(data, size, &p);
    hlen = strlen(header);

    FUZZ_ASSERT(rus_cookie_name_valid(header) == name_ok(header));
    values_of(header, COOKIE_NAME, p);
    if (hlen < size) {
        const char *name = header + hlen + 1;

        if (rus_cookie_name_valid(name)) {
            FUZZ_ASSERT(name_ok(name));
            values_of(header, name, p);
        }
    }
    fuzz_end(header);
    return 0;
}
