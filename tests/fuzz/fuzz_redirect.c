/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: where login and logout may redirect (rus_redirect_safe),
 * the `next` query parameter (rus_query_param) and percent-encoding
 * (rus_url_encode).
 *
 * Input: used whole as a redirect target, as a query string (args), and as
 * a string to encode. A `next` value found in it is judged as a target
 * too. */

#include <string.h>

#include <apr_strings.h>

#include "rus_redirect.h"

#include "fuzz_common.h"

#define DECODE_ROUNDS 8

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One round of %XX decoding ('+' as space when plus). NULL when an escape
 * is broken or decodes to NUL (the string would be cut there). */
static char *decode(apr_pool_t *p, const char *s, size_t len, int plus)
{
    char *out = apr_palloc(p, len + 1), *w = out;
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0
                || (lo = hexval(s[i + 2])) < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *w++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *w++ = (plus && s[i] == '+') ? ' ' : s[i];
        }
    }
    *w = '\0';
    return out;
}

/* The shape the header promises for the target and each decoded form. */
static void check_local(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    FUZZ_ASSERT(u[0] == '/');
    FUZZ_ASSERT(u[1] != '/' && u[1] != '\\');
    for (; *u; u++) {
        FUZZ_ASSERT(*u >= 0x20 && *u != 0x7f && *u != '\\');
    }
}

static void check_safe(const char *target, apr_pool_t *p)
{
    const unsigned char *u;
    const char *s = target;
    int round;

    if (!rus_redirect_safe(target)) {
        return;
    }
    FUZZ_ASSERT(strlen(target) <= RUS_REDIRECT_MAX);
    /* As sent: printable ASCII, no space, no backslash. */
    for (u = (const unsigned char *)target; *u; u++) {
        FUZZ_ASSERT(*u > 0x20 && *u < 0x7f && *u != '\\');
    }
    check_local(target);
    /* And so it stays, however often it is decoded. */
    for (round = 0; round < DECODE_ROUNDS && strchr(s, '%'); round++) {
        s = decode(p, s, strlen(s), 0);
        if (s == NULL) {
            break;
        }
        check_local(s);
    }
}

/* Only unreserved characters and %XX (upper-case hex) come out, and
 * decoding gives the input back. */
static void check_encode(const char *s, apr_pool_t *p)
{
    const char *enc = rus_url_encode(p, s), *e;
    const char *back;

    FUZZ_ASSERT(enc != NULL);
    FUZZ_ASSERT(strlen(enc) <= 3 * strlen(s));
    for (e = enc; *e; e++) {
        if (*e == '%') {
            FUZZ_ASSERT(strchr("0123456789ABCDEF", e[1]) && e[1] != '\0');
            FUZZ_ASSERT(strchr("0123456789ABCDEF", e[2]) && e[2] != '\0');
            e += 2;
        }
        else {
            FUZZ_ASSERT((*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z')
                        || (*e >= '0' && *e <= '9') || *e == '-' || *e == '.'
                        || *e == '_' || *e == '~');
        }
    }
    back = decode(p, enc, strlen(enc), 0);
    FUZZ_ASSERT(back != NULL && strcmp(back, s) == 0);
}

/* Does some &- or ;-separated field of args start with "next="? */
static int has_next(const char *args)
{
    const char *c = args;

    for (;;) {
        if (strncmp(c, "next=", 5) == 0) {
            return 1;
        }
        c += strcspn(c, "&;");
        if (*c == '\0') {
            return 0;
        }
        c++;
    }
}

static void check_query(const char *args, apr_pool_t *p)
{
    const char *value = NULL, *again = NULL;
    apr_status_t rv;

    rv = rus_query_param(&value, args, "next", p);
    FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_ENOENT || rv == APR_EINVAL);
    FUZZ_ASSERT((rv == APR_ENOENT) == !has_next(args));
    if (rv != APR_SUCCESS) {
        return;
    }
    FUZZ_ASSERT(value != NULL);
    FUZZ_ASSERT(strlen(value) <= strlen(args));
    check_safe(value, p);
    check_encode(value, p);

    /* What the login handler sends is read back the same. */
    rv = rus_query_param(&again,
                         apr_pstrcat(p, "a=1&next=", rus_url_encode(p, value),
                                     ";b=2", NULL),
                         "next", p);
    FUZZ_ASSERT(rv == APR_SUCCESS && strcmp(again, value) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *none = NULL;
    apr_pool_t *p;
    char *input;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    input = fuzz_begin(data, size, &p);

    check_safe(input, p);
    check_query(input, p);
    check_encode(input, p);
    FUZZ_ASSERT(rus_redirect_safe(NULL) == 0);
    FUZZ_ASSERT(rus_query_param(&none, NULL, "next", p) == APR_ENOENT);

    fuzz_end(input);
    return 0;
}
