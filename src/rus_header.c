/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The trusted identity header: exact-name lookup with look-alike and
 * repeat detection, removal, value trimming. */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "rus_header.h"

/* Fold a header-name byte for comparison: ASCII lower case, '_' as '-'. */
static int fold(unsigned char c)
{
    if (c == '_') {
        return '-';
    }
    return apr_tolower(c);
}

int rus_header_name_alike(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x && *y) {
        if (fold(*x) != fold(*y)) {
            return 0;
        }
        x++;
        y++;
    }
    return *x == *y;
}

rus_header_e rus_header_find(const apr_table_t *headers, const char *name,
                             const char **pvalue, const char **poffender)
{
    const apr_array_header_t *arr = apr_table_elts(headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *value = NULL;
    int i, copies = 0;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key == NULL || !rus_header_name_alike(e[i].key, name)) {
            continue;
        }
        if (strcasecmp(e[i].key, name) != 0) {
            *poffender = e[i].key;
            return RUS_HEADER_VARIANT;
        }
        copies++;
        value = e[i].val;
    }
    if (copies == 0) {
        return RUS_HEADER_ABSENT;
    }
    if (copies > 1 || (value != NULL && strstr(value, ", ") != NULL)) {
        *poffender = name;
        return RUS_HEADER_REPEATED;
    }
    *pvalue = value ? value : "";
    return RUS_HEADER_FOUND;
}

void rus_header_remove_alike(apr_table_t *headers, const char *name)
{
    const apr_array_header_t *arr = apr_table_elts(headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    /* apr_table_unset() compacts the array: restart after each removal. */
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key != NULL && rus_header_name_alike(e[i].key, name)) {
            apr_table_unset(headers, e[i].key);
            e = (const apr_table_entry_t *)arr->elts;
            i = -1;
        }
    }
}

apr_status_t rus_header_value(const char **pvalue, rus_name_error_e *perr,
                              apr_pool_t *p, const char *raw)
{
    rus_name_error_e err;
    apr_size_t len = strlen(raw);

    /* Not trimmed: HTTP's own parsing has dropped the white space around
     * the field value already, and white space that is left belongs to
     * the name, where the user name rules refuse it at either end (as
     * they do for r->user). */
    err = rus_text_check(raw, len);
    if (err != RUS_NAME_OK) {
        *perr = err;
        return APR_EINVAL;
    }
    *pvalue = apr_pstrmemdup(p, raw, len);
    return APR_SUCCESS;
}

/* RFC 9110 tchar. */
static int is_tchar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int rus_http_token_valid(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!is_tchar(*s)) {
            return 0;
        }
    }
    return 1;
}
