/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: user name cleaning and validation (rus_username_clean,
 * rus_text_check, rus_group_name_valid).
 *
 * Input: one flag byte (bit 0: RUS_CLEAN_STRIP_REALM, bit 1:
 * RUS_CLEAN_LOWERCASE, bit 2: pass no perr), then the name as the front end
 * (or the trusted header) hands it over. */

#include <string.h>

#include "rus_username.h"

#include "fuzz_common.h"

/* rus_text_check() against the independent reading: OK exactly when there
 * is no problem; when there is only one kind of problem, that one. */
static void check_text(const char *s, size_t len)
{
    rus_name_error_e err = rus_text_check(s, len);
    int problems = fuzz_text_problems(s, len);

    FUZZ_ASSERT((err == RUS_NAME_OK) == (problems == 0));
    FUZZ_ASSERT(err == RUS_NAME_OK || err == RUS_NAME_BAD_UTF8
                || err == RUS_NAME_CONTROL);
    if (problems == FUZZ_TEXT_MALFORMED) {
        FUZZ_ASSERT(err == RUS_NAME_BAD_UTF8);
    }
    if (problems == FUZZ_TEXT_CONTROL) {
        FUZZ_ASSERT(err == RUS_NAME_CONTROL);
    }
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void check_clean(const char *raw, unsigned int flags, int with_err,
                        apr_pool_t *p)
{
    const char *clean = NULL;
    rus_name_error_e err = (rus_name_error_e)-1;
    size_t rawlen = strlen(raw), len, i;
    int problems = fuzz_text_problems(raw, rawlen);
    apr_status_t rv;

    rv = rus_username_clean(&clean, with_err ? &err : NULL, p, raw, flags);
    FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL);
    if (with_err) {
        FUZZ_ASSERT((rv == APR_SUCCESS) == (err == RUS_NAME_OK));
        FUZZ_ASSERT(rus_name_error_str(err) != NULL);
        /* The raw name is checked as a whole first. */
        if (rawlen == 0) {
            FUZZ_ASSERT(err == RUS_NAME_EMPTY);
        }
        else if (problems == FUZZ_TEXT_MALFORMED) {
            FUZZ_ASSERT(err == RUS_NAME_BAD_UTF8);
        }
        else if (problems == FUZZ_TEXT_CONTROL) {
            FUZZ_ASSERT(err == RUS_NAME_CONTROL);
        }
        else if (problems != 0) {
            FUZZ_ASSERT(err == RUS_NAME_BAD_UTF8 || err == RUS_NAME_CONTROL);
        }
        else if (raw[0] == ' ' || raw[rawlen - 1] == ' ') {
            FUZZ_ASSERT(err == RUS_NAME_SPACE);
        }
    }
    if (problems != 0 || rawlen == 0) {
        FUZZ_ASSERT(rv == APR_EINVAL);
    }
    if (rv != APR_SUCCESS) {
        FUZZ_ASSERT(clean == NULL); /* set only on success */
        /* Without realm stripping only the length can refuse a sound
         * name. */
        if (!(flags & RUS_CLEAN_STRIP_REALM) && problems == 0 && rawlen > 0) {
            FUZZ_ASSERT(rawlen > RUS_USERNAME_MAX || err == RUS_NAME_SPACE
                        || !with_err);
        }
        return;
    }

    FUZZ_ASSERT(clean != NULL);
    len = strlen(clean);
    FUZZ_ASSERT(len >= 1 && len <= RUS_USERNAME_MAX);
    FUZZ_ASSERT(len <= rawlen);
    FUZZ_ASSERT(rus_text_check(clean, len) == RUS_NAME_OK);
    FUZZ_ASSERT(fuzz_text_problems(clean, len) == 0);
    FUZZ_ASSERT(clean[0] != ' ' && clean[len - 1] != ' ');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)clean[i];

        FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
        if (flags & RUS_CLEAN_LOWERCASE) {
            FUZZ_ASSERT(!(c >= 'A' && c <= 'Z'));
        }
    }
    /* Nothing to strip: the name comes through (lower-cased if asked). */
    if (!(flags & RUS_CLEAN_STRIP_REALM) || strpbrk(raw, "@\\") == NULL) {
        FUZZ_ASSERT(len == rawlen);
        for (i = 0; i < len; i++) {
            FUZZ_ASSERT(clean[i]
                        == ((flags & RUS_CLEAN_LOWERCASE) ? ascii_lower(raw[i])
                                                          : raw[i]));
        }
    }
}

static void check_group(const char *name)
{
    size_t len = strlen(name), i;
    int valid = rus_group_name_valid(name), ascii = 1, plain;

    for (i = 0; i < len; i++) {
        if ((unsigned char)name[i] >= 0x80) {
            ascii = 0;
        }
    }
    plain = len >= 1 && len <= RUS_USERNAME_MAX && strpbrk(name, " ,") == NULL
            && fuzz_text_problems(name, len) == 0;
    if (valid) {
        FUZZ_ASSERT(plain); /* no control (so no \t\n\v\f\r), space, comma */
    }
    else if (ascii) {
        FUZZ_ASSERT(!plain);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *input;
    const char *name;
    unsigned int flags;

    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return -1;
    }
    input = fuzz_begin(data, size, &p);
    flags = (unsigned char)input[0];
    name = input + 1;

    check_text(name, size - 1); /* embedded NULs included */
    check_clean(name, flags & (RUS_CLEAN_STRIP_REALM | RUS_CLEAN_LOWERCASE),
                !(flags & 0x04), p);
    check_group(name);
    FUZZ_ASSERT(rus_group_name_valid(NULL) == 0);
    {
        const char *none = NULL;
        rus_name_error_e err = RUS_NAME_OK;

        FUZZ_ASSERT(rus_username_clean(&none, &err, p, NULL, flags)
                    == APR_EINVAL);
        FUZZ_ASSERT(err == RUS_NAME_EMPTY && none == NULL);
    }

    fuzz_end(input);
    return 0;
}
