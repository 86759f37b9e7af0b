/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: the trusted identity header (rus_header_name_alike,
 * rus_header_find, rus_header_remove_alike, rus_header_value).
 *
 * Input: the configured header name, a newline (or NUL), then request
 * headers, one "Name: value" per line. The name and the rest (as one
 * string) are also compared with rus_header_name_alike. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "rus_header.h"
#include "rus_username.h"

#include "fuzz_common.h"

/* httpd's default LimitRequestFields. */
#define MAX_FIELDS 100

/* The header's definition of "alike", written out independently:
 * ASCII case-insensitive, '-' and '_' equal. */
static int fold(unsigned char c)
{
    if (c == '_') {
        return '-';
    }
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int alike(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    for (; *x && *y; x++, y++) {
        if (fold(*x) != fold(*y)) {
            return 0;
        }
    }
    return *x == '\0' && *y == '\0';
}

static void check_value(const char *raw, apr_pool_t *p)
{
    const char *value = NULL, *start = raw, *end;
    rus_name_error_e err = RUS_NAME_OK;
    apr_status_t rv;
    size_t len;
    int problems;

    /* Not trimmed: the value is the name, edge white space included. */
    end = start + strlen(start);
    problems = fuzz_text_problems(start, (size_t)(end - start));

    rv = rus_header_value(&value, &err, p, raw);
    if (rv == APR_SUCCESS) {
        FUZZ_ASSERT(problems == 0);
        FUZZ_ASSERT(value != NULL);
        len = strlen(value);
        FUZZ_ASSERT(len == (size_t)(end - start));
        FUZZ_ASSERT(memcmp(value, start, len) == 0);
        FUZZ_ASSERT(rus_text_check(value, len) == RUS_NAME_OK);
    }
    else {
        FUZZ_ASSERT(rv == APR_EINVAL);
        FUZZ_ASSERT(problems != 0);
        FUZZ_ASSERT(err == RUS_NAME_BAD_UTF8 || err == RUS_NAME_CONTROL);
        if (problems == FUZZ_TEXT_MALFORMED) {
            FUZZ_ASSERT(err == RUS_NAME_BAD_UTF8);
        }
        if (problems == FUZZ_TEXT_CONTROL) {
            FUZZ_ASSERT(err == RUS_NAME_CONTROL);
        }
    }
}

static void check_find(const apr_table_t *t, const char *name, apr_pool_t *p)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *value = NULL, *offender = NULL, *exact_val = NULL;
    int i, exact = 0, variants = 0;
    rus_header_e found;

    for (i = 0; i < arr->nelts; i++) {
        if (strcasecmp(e[i].key, name) == 0) {
            exact++;
            exact_val = e[i].val;
        }
        else if (alike(e[i].key, name)) {
            variants++;
        }
    }

    found = rus_header_find(t, name, &value, &offender);
    switch (found) {
    case RUS_HEADER_ABSENT:
        FUZZ_ASSERT(exact == 0 && variants == 0);
        break;
    case RUS_HEADER_FOUND:
        FUZZ_ASSERT(exact == 1 && variants == 0);
        FUZZ_ASSERT(value != NULL && strcmp(value, exact_val) == 0);
        FUZZ_ASSERT(strstr(value, ", ") == NULL);
        check_value(value, p);
        break;
    case RUS_HEADER_VARIANT:
        FUZZ_ASSERT(variants > 0);
        FUZZ_ASSERT(offender != NULL && alike(offender, name)
                    && strcasecmp(offender, name) != 0);
        break;
    case RUS_HEADER_REPEATED:
        FUZZ_ASSERT(exact > 1 || (exact == 1 && strstr(exact_val, ", ") != NULL)
                    || variants > 0);
        FUZZ_ASSERT(offender != NULL && alike(offender, name));
        break;
    default:
        FUZZ_ASSERT(!"rus_header_find: unknown result");
    }
    /* Exactly one copy under the name, no look-alike, no joined repeat:
     * that and only that is found. */
    if (exact == 1 && variants == 0 && strstr(exact_val, ", ") == NULL) {
        FUZZ_ASSERT(found == RUS_HEADER_FOUND);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *value = NULL, *offender = NULL;
    apr_table_t *t;
    apr_pool_t *p;
    char *input, *name, *rest, *line;
    int i, unrelated = 0;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    input = fuzz_begin(data, size, &p);

    name = input;
    rest = input + strcspn(input, "\n");
    if (*rest == '\0' && (size_t)(rest - input) < size) {
        rest++; /* split at a NUL */
    }
    else if (*rest == '\n') {
        *rest++ = '\0';
    }

    FUZZ_ASSERT(rus_header_name_alike(name, rest) == alike(name, rest));
    FUZZ_ASSERT(rus_header_name_alike(rest, name) == alike(name, rest));
    FUZZ_ASSERT(rus_header_name_alike(name, name) == 1);

    /* Request headers, as httpd would have them: repeats kept apart. */
    t = apr_table_make(p, 4);
    line = rest;
    while (*line && apr_table_elts(t)->nelts < MAX_FIELDS) {
        char *end = line + strcspn(line, "\n"), *colon;
        char *next = *end ? end + 1 : end;

        *end = '\0';
        if (end > line && end[-1] == '\r') {
            end[-1] = '\0';
        }
        colon = strchr(line, ':');
        if (colon != NULL) {
            *colon = '\0';
            apr_table_addn(t, line, colon + 1);
        }
        else {
            apr_table_addn(t, line, "");
        }
        line = next;
    }

    check_find(t, name, p);
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        check_value(e[i].val, p);
        if (!alike(e[i].key, name)) {
            unrelated++;
        }
    }

    /* After removal nothing alike is left, and everything else is. */
    rus_header_remove_alike(t, name);
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    FUZZ_ASSERT(arr->nelts == unrelated);
    for (i = 0; i < arr->nelts; i++) {
        FUZZ_ASSERT(!alike(e[i].key, name));
    }
    FUZZ_ASSERT(rus_header_find(t, name, &value, &offender)
                == RUS_HEADER_ABSENT);

    fuzz_end(input);
    return 0;
}
