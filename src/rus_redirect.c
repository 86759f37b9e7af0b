/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Redirect targets after login and logout: local paths only. */

#include <string.h>

#include <apr_strings.h>

#include "rus_redirect.h"

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

/* Decode %XX (and '+' when plus_space) into a new string; NULL when a '%'
 * is not followed by two hex digits or encodes NUL. */
static char *decode(apr_pool_t *p, const char *s, apr_size_t len,
                    int plus_space)
{
    char *out = apr_palloc(p, len + 1), *w = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= len) {
                return NULL;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL; /* broken, or a NUL that would cut the rest */
            }
            *w++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (plus_space && s[i] == '+') {
            *w++ = ' ';
        }
        else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return out;
}

/* The shape every decoded form must keep: one leading '/', then no second
 * '/' or '\' right after it, no backslash, no control character. */
static int local_shape(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (u[0] != '/' || u[1] == '/' || u[1] == '\\') {
        return 0;
    }
    for (; *u; u++) {
        if (*u < 0x20 || *u == 0x7f || *u == '\\') {
            return 0;
        }
    }
    return 1;
}

int rus_redirect_safe(const char *target)
{
    apr_pool_t *p = NULL;
    const char *s = target;
    const unsigned char *u;
    int round, ok = 0;

    if (target == NULL || strlen(target) > RUS_REDIRECT_MAX) {
        return 0;
    }
    /* As sent: a request-target, so printable ASCII without spaces. */
    for (u = (const unsigned char *)target; *u; u++) {
        if (*u <= 0x20 || *u >= 0x7f) {
            return 0;
        }
    }
    if (!local_shape(target)) {
        return 0;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    for (round = 0; round < 4; round++) {
        const char *d;

        if (strchr(s, '%') == NULL) {
            ok = 1;
            break;
        }
        d = decode(p, s, strlen(s), 0);
        if (d == NULL || !local_shape(d)) {
            break;
        }
        s = d;
    }
    apr_pool_destroy(p);
    return ok;
}

apr_status_t rus_query_param(const char **pvalue, const char *args,
                             const char *name, apr_pool_t *p)
{
    apr_size_t nlen = strlen(name);
    const char *c = args;

    if (args == NULL) {
        return APR_ENOENT;
    }
    while (*c) {
        const char *end = c + strcspn(c, "&;");

        if ((apr_size_t)(end - c) > nlen && c[nlen] == '='
            && strncmp(c, name, nlen) == 0) {
            const char *v = c + nlen + 1;
            char *d = decode(p, v, (apr_size_t)(end - v), 1);

            if (d == NULL) {
                return APR_EINVAL;
            }
            *pvalue = d;
            return APR_SUCCESS;
        }
        c = *end ? end + 1 : end;
    }
    return APR_ENOENT;
}

/* Not apr_pescape_urlencoded(): it writes ' ' as '+', leaves '*' and
 * escapes '~', in lower-case hex (the form encoding of HTML, not RFC 3986's
 * unreserved set that the login link and its tests promise). Nor
 * apr_pescape_path_segment(): it leaves '&', '=' and '+' as they are, which
 * would cut or change a query value. */
const char *rus_url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *w = out;
    const unsigned char *u;

    for (u = (const unsigned char *)s; *u; u++) {
        if ((*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z')
            || (*u >= '0' && *u <= '9') || *u == '-' || *u == '.' || *u == '_'
            || *u == '~') {
            *w++ = (char)*u;
        }
        else {
            *w++ = '%';
            *w++ = hex[*u >> 4];
            *w++ = hex[*u & 0x0f];
        }
    }
    *w = '\0';
    return out;
}
