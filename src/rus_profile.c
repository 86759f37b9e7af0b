/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What the front end says about a user: which values may be kept, how a
 * group source's value splits, whether a login would change the stored
 * row, and the one-column encoding of attributes the backends read. No
 * httpd headers here. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "rus_profile.h"
#include "rus_store.h"
#include "rus_username.h"

int rus_attr_name_valid(const char *name)
{
    apr_size_t i;

    if (name == NULL || name[0] < 'a' || name[0] > 'z') {
        return 0;
    }
    for (i = 1; name[i] != '\0'; i++) {
        char ch = name[i];

        if (i >= RUS_ATTR_NAME_MAX
            || !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
                 || ch == '_')) {
            return 0;
        }
    }
    return 1;
}

int rus_attr_is_column(const char *name)
{
    return name != NULL
           && (strcmp(name, "email") == 0 || strcmp(name, "first_name") == 0
               || strcmp(name, "last_name") == 0);
}

apr_size_t rus_attr_value_max(const char *name)
{
    if (name != NULL && strcmp(name, "email") == 0) {
        return RUS_EMAIL_MAX;
    }
    if (rus_attr_is_column(name)) {
        return RUS_PERSON_NAME_MAX;
    }
    return RUS_ATTR_VALUE_MAX;
}

rus_value_error_e rus_attr_value_check(const char *name, const char *value,
                                       apr_size_t len)
{
    if (len > rus_attr_value_max(name)) {
        return RUS_VALUE_TOO_LONG;
    }
    switch (rus_text_check(value, len)) {
    case RUS_NAME_OK:
        return RUS_VALUE_OK;
    case RUS_NAME_BAD_UTF8:
        return RUS_VALUE_BAD_UTF8;
    default:
        return RUS_VALUE_CONTROL;
    }
}

const char *rus_value_error_str(rus_value_error_e err)
{
    switch (err) {
    case RUS_VALUE_OK:
        return "accepted";
    case RUS_VALUE_TOO_LONG:
        return "value is longer than its limit";
    case RUS_VALUE_BAD_UTF8:
        return "value is not valid UTF-8";
    case RUS_VALUE_CONTROL:
        return "value contains a control character";
    }
    return "unknown reason";
}

/* @a s (@a len bytes) without the ASCII spaces and tabs at either end. */
static const char *trimmed(apr_pool_t *p, const char *s, apr_size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    return apr_pstrmemdup(p, s, len);
}

apr_array_header_t *rus_groups_split(apr_pool_t *p, const char *value,
                                     const char *sep)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    apr_size_t seplen = (sep != NULL && *sep) ? strlen(sep) : 0;
    const char *c = value;

    if (seplen == 0) {
        sep = ",";
        seplen = 1;
    }
    while (c != NULL) {
        const char *end = strstr(c, sep);
        const char *item =
            trimmed(p, c, end ? (apr_size_t)(end - c) : strlen(c));

        if (*item && !rus_names_have(out, item)) {
            APR_ARRAY_PUSH(out, const char *) = item;
        }
        c = end ? end + seplen : NULL;
    }
    return out;
}

int rus_names_have(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; names != NULL && i < names->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *rus_attrs_get(const apr_array_header_t *attrs, const char *name)
{
    int i;

    for (i = 0; attrs != NULL && i < attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(attrs, i, rus_attr_t);

        if (strcmp(a->name, name) == 0) {
            return a->value;
        }
    }
    return NULL;
}

/* Does a column given as @a want differ from @a have (NULL: "")? */
static int column_differs(const char *have, const char *want)
{
    return want != NULL && strcmp(have ? have : "", want) != 0;
}

int rus_profile_differs(const rus_user_t *cur, const rus_profile_t *want)
{
    int i;

    if (want == NULL) {
        return 0;
    }
    if (column_differs(cur->email, want->email)
        || column_differs(cur->first_name, want->first_name)
        || column_differs(cur->last_name, want->last_name)) {
        return 1;
    }
    for (i = 0; want->attrs != NULL && i < want->attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(want->attrs, i, rus_attr_t);
        const char *have = rus_attrs_get(cur->attrs, a->name);

        if (*a->value ? (have == NULL || strcmp(have, a->value) != 0)
                      : have != NULL) {
            return 1;
        }
    }
    if (want->groups == NULL) {
        return 0;
    }
    for (i = 0; i < want->groups->nelts; i++) {
        if (!rus_group_list_has(cur->groups,
                                APR_ARRAY_IDX(want->groups, i, const char *))) {
            return 1;
        }
    }
    if (want->groups_replace && cur->frontend_groups != NULL) {
        const char *c = cur->frontend_groups;

        while (*c) {
            const char *end = strchr(c, ',');
            apr_size_t len = end ? (apr_size_t)(end - c) : strlen(c);

            for (i = 0; i < want->groups->nelts; i++) {
                const char *g = APR_ARRAY_IDX(want->groups, i, const char *);

                if (strlen(g) == len && memcmp(g, c, len) == 0) {
                    break;
                }
            }
            if (i == want->groups->nelts) {
                return 1; /* a front-end membership the login drops */
            }
            if (end == NULL) {
                break;
            }
            c = end + 1;
        }
    }
    return 0;
}

/* Read "<decimal>:" at *pc (before @a end) into *plen, moving *pc past
 * it. 0 on anything else, or a length beyond @a end. */
static int read_len(const char **pc, const char *end, apr_size_t *plen)
{
    const char *c = *pc;
    apr_size_t n = 0;
    int digits = 0;

    while (c < end && *c >= '0' && *c <= '9') {
        if (++digits > 7) {
            return 0; /* no item is this long */
        }
        n = n * 10 + (apr_size_t)(*c - '0');
        c++;
    }
    if (digits == 0 || c >= end || *c != ':'
        || n > (apr_size_t)(end - (c + 1))) {
        return 0;
    }
    *pc = c + 1;
    *plen = n;
    return 1;
}

static int cmp_attr_name(const void *a, const void *b)
{
    return strcmp(((const rus_attr_t *)a)->name, ((const rus_attr_t *)b)->name);
}

apr_status_t rus_attrs_decode(apr_pool_t *p, const char *enc, apr_size_t len,
                              apr_array_header_t **pattrs)
{
    const char *c = enc, *end = enc + len;
    apr_array_header_t *out;
    int i;

    *pattrs = NULL;
    if (enc == NULL || len == 0) {
        return APR_SUCCESS;
    }
    out = apr_array_make(p, 4, sizeof(rus_attr_t));
    while (c < end) {
        rus_attr_t *a;
        apr_size_t n;

        if (!read_len(&c, end, &n) || n == 0 || memchr(c, '\0', n)) {
            return APR_EINVAL;
        }
        a = apr_array_push(out);
        a->name = apr_pstrmemdup(p, c, n);
        c += n;
        if (!read_len(&c, end, &n) || memchr(c, '\0', n)) {
            return APR_EINVAL;
        }
        a->value = apr_pstrmemdup(p, c, n);
        c += n;
    }
    qsort(out->elts, (size_t)out->nelts, sizeof(rus_attr_t), cmp_attr_name);
    for (i = 1; i < out->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(out, i - 1, rus_attr_t).name,
                   APR_ARRAY_IDX(out, i, rus_attr_t).name)
            == 0) {
            return APR_EINVAL;
        }
    }
    *pattrs = out;
    return APR_SUCCESS;
}

const char *rus_attrs_encode(apr_pool_t *p, const apr_array_header_t *attrs)
{
    apr_array_header_t *parts;
    int i;

    if (attrs == NULL || attrs->nelts == 0) {
        return "";
    }
    parts = apr_array_make(p, attrs->nelts, sizeof(const char *));
    for (i = 0; i < attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(attrs, i, rus_attr_t);

        APR_ARRAY_PUSH(parts, const char *) =
            apr_psprintf(p, "%" APR_SIZE_T_FMT ":%s%" APR_SIZE_T_FMT ":%s",
                         strlen(a->name), a->name, strlen(a->value), a->value);
    }
    return apr_array_pstrcat(p, parts, 0);
}
