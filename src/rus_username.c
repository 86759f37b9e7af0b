/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* User name cleaning and validation: the one place that decides which
 * names are acceptable. No httpd headers here. */

#include <string.h>

#include <apr_strings.h>

#include "rus_username.h"

/* Length of the UTF-8 sequence that starts at s (at most len bytes), or 0
 * when it is not a well-formed sequence. The code point goes to *pcp. */
static apr_size_t utf8_decode(const unsigned char *s, apr_size_t len,
                              unsigned long *pcp)
{
    unsigned long cp, min;
    apr_size_t n, i;

    if (s[0] < 0x80) {
        *pcp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
        min = 0x80;
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
        min = 0x800;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
        min = 0x10000;
    }
    else {
        return 0; /* continuation byte, C0/C1 overlong lead, or > F4 */
    }
    if (len < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    *pcp = cp;
    return n;
}

rus_name_error_e rus_text_check(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t off = 0, n;
    unsigned long cp = 0;

    while (off < len) {
        n = utf8_decode(u + off, len - off, &cp);
        if (n == 0) {
            return RUS_NAME_BAD_UTF8;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            return RUS_NAME_CONTROL;
        }
        off += n;
    }
    return RUS_NAME_OK;
}

/* Unicode White_Space and Default_Ignorable_Code_Point (invisible: a soft
 * hyphen, joiners, variation selectors, fillers, tags): refused at either
 * end of a name, where they would make a look-alike of another user. The
 * white space below U+00A0 other than the space is control characters,
 * refused already. */
static int is_space_cp(unsigned long cp)
{
    return cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0xAD || cp == 0x34F
           || cp == 0x61C || cp == 0x115F || cp == 0x1160 || cp == 0x1680
           || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F)
           || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F)
           || (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0x3164
           || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0
           || (cp >= 0xFFF0 && cp <= 0xFFF8) || (cp >= 0x1BCA0 && cp <= 0x1BCA3)
           || (cp >= 0x1D173 && cp <= 0x1D17A)
           || (cp >= 0xE0000 && cp <= 0xE0FFF);
}

/* Does valid UTF-8 @a s (@a len bytes) start or end with white space? */
static int space_at_edges(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long cp = 0;
    apr_size_t last;

    if (len == 0) {
        return 0;
    }
    if (utf8_decode(u, len, &cp) > 0 && is_space_cp(cp)) {
        return 1;
    }
    last = len - 1;
    while (last > 0 && (u[last] & 0xC0) == 0x80) {
        last--;
    }
    return utf8_decode(u + last, len - last, &cp) > 0 && is_space_cp(cp);
}

/* Cut the realm: everything from the last '@' that is not escaped as "\@"
 * (krb5 escapes '@' inside enterprise principal names that way). */
static apr_size_t realm_cut(const char *s, apr_size_t len)
{
    apr_size_t i = len;

    while (i > 0) {
        i--;
        if (s[i] == '@' && !(i > 0 && s[i - 1] == '\\')) {
            return i;
        }
    }
    return len;
}

/* Offset just past a Windows domain prefix "DOMAIN\": the first backslash
 * that is not the escape of an '@'. 0 when there is none. */
static apr_size_t domain_skip(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '\\' && !(i + 1 < len && s[i + 1] == '@')) {
            return i + 1;
        }
    }
    return 0;
}

apr_status_t rus_username_clean(const char **pclean, rus_name_error_e *perr,
                                apr_pool_t *p, const char *raw,
                                unsigned int flags)
{
    rus_name_error_e err = RUS_NAME_OK;
    const char *start;
    char *out = NULL, *w;
    apr_size_t len, i;

    if (raw == NULL || raw[0] == '\0') {
        err = RUS_NAME_EMPTY;
        goto leave;
    }
    len = strlen(raw);
    err = rus_text_check(raw, len);
    if (err != RUS_NAME_OK) {
        goto leave;
    }
    if (space_at_edges(raw, len)) {
        err = RUS_NAME_SPACE;
        goto leave;
    }

    start = raw;
    if (flags & RUS_CLEAN_STRIP_REALM) {
        apr_size_t skip;

        len = realm_cut(start, len);
        skip = domain_skip(start, len);
        start += skip;
        len -= skip;
    }
    out = apr_palloc(p, len + 1);
    w = out;
    for (i = 0; i < len; i++) {
        char c = start[i];

        /* Unescape "\@" left over from an enterprise principal, so the name
         * stored is the user principal name the user knows. */
        if ((flags & RUS_CLEAN_STRIP_REALM) && c == '\\' && i + 1 < len
            && start[i + 1] == '@') {
            continue;
        }
        if ((flags & RUS_CLEAN_LOWERCASE) && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        *w++ = c;
    }
    *w = '\0';
    if (w == out) {
        err = RUS_NAME_EMPTY;
    }
    else if ((apr_size_t)(w - out) > RUS_USERNAME_MAX) {
        err = RUS_NAME_TOO_LONG;
    }
    else if (space_at_edges(out, (apr_size_t)(w - out))) {
        err = RUS_NAME_SPACE; /* "alice @EXAMPLE.COM" */
    }

leave:
    if (perr) {
        *perr = err;
    }
    if (err != RUS_NAME_OK) {
        return APR_EINVAL;
    }
    *pclean = out;
    return APR_SUCCESS;
}

const char *rus_name_error_str(rus_name_error_e err)
{
    switch (err) {
    case RUS_NAME_OK:
        return "accepted";
    case RUS_NAME_EMPTY:
        return "empty user name";
    case RUS_NAME_TOO_LONG:
        return "user name longer than 150 bytes";
    case RUS_NAME_BAD_UTF8:
        return "user name is not valid UTF-8";
    case RUS_NAME_CONTROL:
        return "user name contains a control character";
    case RUS_NAME_SPACE:
        return "user name starts or ends with white space or an invisible "
               "character";
    }
    return "unknown reason";
}

int rus_group_name_valid(const char *name)
{
    apr_size_t len;

    if (name == NULL) {
        return 0;
    }
    len = strlen(name);
    return len > 0 && len <= RUS_USERNAME_MAX && strpbrk(name, " ,") == NULL
           && rus_text_check(name, len) == RUS_NAME_OK;
}

int rus_group_list_has(const char *list, const char *name)
{
    apr_size_t n = strlen(name);
    const char *c = list;

    while (c != NULL && *c) {
        const char *end = strchr(c, ',');
        apr_size_t len = end ? (apr_size_t)(end - c) : strlen(c);

        if (len == n && strncmp(c, name, n) == 0) {
            return 1;
        }
        c = end ? end + 1 : NULL;
    }
    return 0;
}
