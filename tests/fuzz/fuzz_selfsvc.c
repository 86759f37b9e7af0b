/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: what the users' self-service pages make of client bytes
 * (rus_ua_clean, rus_unauth_programmatic, rus_selfsvc_html,
 * rus_selfsvc_json, rus_info_json, rus_unauth_json, rus_selfsvc_csrf,
 * rus_selfsvc_ref).
 *
 * Input: up to four lines: a User-Agent (also the user name, the notice
 * and a group list), an Accept header (also an address and the CSRF
 * token), an X-Requested-With (also a session reference) and a
 * Sec-Fetch-Mode (also the form action and the login URL). A line that is
 * not there is NULL. */

#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "rus_selfsvc.h"
#include "rus_username.h"

#include "fuzz_common.h"

/* The fields of the input: NULL when absent. */
#define FIELDS 4

/* How many bytes of @a s are one of @a set. */
static size_t count_of(const char *s, const char *set)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (strchr(set, *s) != NULL) {
            n++;
        }
    }
    return n;
}

/* Does every '&' of @a html start one of the five references the page
 * writes? */
static int refs_only(const char *html)
{
    static const char *const refs[] = { "&amp;", "&lt;", "&gt;", "&quot;",
                                        "&#39;" };
    const char *s;
    size_t i;

    for (s = strchr(html, '&'); s != NULL; s = strchr(s + 1, '&')) {
        for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
            if (strncmp(s, refs[i], strlen(refs[i])) == 0) {
                break;
            }
        }
        if (i == sizeof(refs) / sizeof(refs[0])) {
            return 0;
        }
    }
    return 1;
}

/* Is every line of @a text well-formed UTF-8 without control
 * characters? */
static int lines_clean(const char *text)
{
    const char *s = text, *nl;

    for (;;) {
        nl = strchr(s, '\n');
        if (rus_text_check(s, nl ? (size_t)(nl - s) : strlen(s))
            != RUS_NAME_OK) {
            return 0;
        }
        if (nl == NULL) {
            return 1;
        }
        s = nl + 1;
    }
}

/* The double quotes of @a json that are not escaped: the ones that open
 * or close a string. */
static size_t json_quotes(const char *json)
{
    size_t n = 0;

    for (; *json != '\0'; json++) {
        if (*json == '\\' && json[1] != '\0') {
            json++;
        }
        else if (*json == '"') {
            n++;
        }
    }
    return n;
}

/* Is @a s @a len lowercase hex characters? */
static int hex_of(const char *s, size_t len)
{
    return s != NULL && strlen(s) == len
           && strspn(s, "0123456789abcdef") == len;
}

/* The page and its JSON with the fields @a f in every string, against the
 * same with harmless strings: the same markup and the same strings. */
static void check_render(apr_pool_t *p, const char *const *f)
{
    const char *s[FIELDS], *html, *plain, *json, *pjson;
    apr_array_header_t *rows, *prows;
    rus_selfsvc_row_t *r;
    int i;

    for (i = 0; i < FIELDS; i++) {
        s[i] = f[i] ? f[i] : "";
    }
    rows = apr_array_make(p, 2, sizeof(rus_selfsvc_row_t));
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    memset(r, 0, sizeof(*r));
    r->ref = s[2];
    r->current = 1;
    r->created_at = 1;
    r->last_seen = 2;
    r->ip = s[1];
    r->user_agent = s[0];
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    *r = APR_ARRAY_IDX(rows, 0, rus_selfsvc_row_t);
    r->current = 0;

    prows = apr_array_copy(p, rows);
    for (i = 0; i < prows->nelts; i++) {
        r = &APR_ARRAY_IDX(prows, i, rus_selfsvc_row_t);
        /* an empty address or browser shows as "unknown" */
        r->ref = "x";
        r->ip = s[1][0] ? "x" : "";
        r->user_agent = s[0][0] ? "x" : "";
    }

    /* a notice that is never empty: there is one on both pages */
    html = rus_selfsvc_html(p, s[0], rows, s[3], s[1],
                            apr_pstrcat(p, "n", s[0], NULL), 100);
    plain = rus_selfsvc_html(p, "x", prows, "x", "x", "x", 100);
    FUZZ_ASSERT(count_of(html, "<>\"'") == count_of(plain, "<>\"'"));
    FUZZ_ASSERT(refs_only(html));
    FUZZ_ASSERT(count_of(html, "\n") == count_of(plain, "\n"));
    FUZZ_ASSERT(lines_clean(html));

    json = rus_selfsvc_json(p, s[0], rows, s[1]);
    pjson = rus_selfsvc_json(p, "x", prows, "x");
    FUZZ_ASSERT(json_quotes(json) == json_quotes(pjson));
    FUZZ_ASSERT(count_of(json, "<>&") == 0);
    FUZZ_ASSERT(rus_text_check(json, strlen(json)) == RUS_NAME_OK);

    json = rus_unauth_json(p, s[3]);
    FUZZ_ASSERT(json_quotes(json) == json_quotes(rus_unauth_json(p, "x")));
    FUZZ_ASSERT(rus_text_check(json, strlen(json)) == RUS_NAME_OK);
}

/* remoteuser-info with the fields as the user's strings: the strings that
 * pass rus_text_check() show, and the JSON stays well-formed text. */
static void check_info(apr_pool_t *p, const char *const *f)
{
    rus_user_t u;
    rus_info_t info;
    rus_session_t sess;
    rus_attr_t *a;
    const char *json;

    memset(&u, 0, sizeof(u));
    memset(&info, 0, sizeof(info));
    memset(&sess, 0, sizeof(sess));
    u.id = 1;
    u.username = f[0] ? f[0] : "x";
    u.groups = f[0];
    u.email = f[1];
    u.first_name = f[2];
    u.last_name = f[3];
    u.attrs = apr_array_make(p, 1, sizeof(rus_attr_t));
    a = &APR_ARRAY_PUSH(u.attrs, rus_attr_t);
    a->name = "a";
    a->value = f[1] ? f[1] : "";
    info.user = &u;
    info.source = "session";
    info.session = &sess;
    json = rus_info_json(p, &info);
    FUZZ_ASSERT(rus_text_check(json, strlen(json)) == RUS_NAME_OK);
    FUZZ_ASSERT(count_of(json, "<>&") == 0);
    FUZZ_ASSERT(strncmp(json, "{\"user\":\"", 9) == 0);
    FUZZ_ASSERT(json[strlen(json) - 1] == '}');
    FUZZ_ASSERT(json_quotes(json) % 2 == 0);
}

/* The Auto rule: what the header promises whatever the bytes. */
static void check_auto(apr_pool_t *p, const char *const *f)
{
    const char *accept = f[1], *xrw = f[2], *mode = f[3];

    /* the rule is total and a yes/no */
    FUZZ_ASSERT(rus_unauth_programmatic(xrw, mode, accept) == 0
                || rus_unauth_programmatic(xrw, mode, accept) == 1);
    /* an XHR, or a fetch that is not a navigation, is a program's */
    FUZZ_ASSERT(rus_unauth_programmatic("XMLHttpRequest", mode, accept) == 1);
    FUZZ_ASSERT(rus_unauth_programmatic(xrw, "cors", accept) == 1);
    /* neither header, and no Accept: a navigation */
    FUZZ_ASSERT(rus_unauth_programmatic(NULL, NULL, NULL) == 0);
    if (accept != NULL) {
        /* whatever came before, a listed text/html or any type makes it
         * one too */
        FUZZ_ASSERT(
            rus_unauth_programmatic(NULL, NULL,
                                    apr_pstrcat(p, accept, ",text/html", NULL))
            == 0);
        FUZZ_ASSERT(
            rus_unauth_programmatic(NULL, "navigate",
                                    apr_pstrcat(p, "*/*, ", accept, NULL))
            == 0);
    }
}

/* User-Agent cleaning: short clean text, the same again when cleaned
 * again, the input itself when it was short clean text already. */
static void check_ua(apr_pool_t *p, const char *ua)
{
    const char *clean = rus_ua_clean(p, ua);
    size_t len = strlen(clean);

    FUZZ_ASSERT(len <= RUS_UA_MAX);
    FUZZ_ASSERT(rus_text_check(clean, len) == RUS_NAME_OK);
    FUZZ_ASSERT(strcmp(rus_ua_clean(p, clean), clean) == 0);
    if (ua == NULL) {
        FUZZ_ASSERT(len == 0);
        return;
    }
    if (fuzz_text_problems(ua, strlen(ua)) == 0) {
        /* a prefix, cut at a character boundary */
        FUZZ_ASSERT(strncmp(clean, ua, len) == 0);
        FUZZ_ASSERT(((unsigned char)ua[len] & 0xC0) != 0x80);
        if (strlen(ua) <= RUS_UA_MAX) {
            FUZZ_ASSERT(strcmp(clean, ua) == 0);
        }
        else {
            FUZZ_ASSERT(len > RUS_UA_MAX - 4);
        }
    }
}

/* The page's tokens: fixed-length hex, a function of their inputs. */
static void check_tokens(apr_pool_t *p, const char *const *f)
{
    const char *token = f[0], *hash = f[1];
    const char *csrf = rus_selfsvc_csrf(p, token);
    const char *ref = rus_selfsvc_ref(p, token, hash);

    if (token == NULL || token[0] == '\0') {
        FUZZ_ASSERT(csrf == NULL && ref == NULL);
        return;
    }
    FUZZ_ASSERT(hex_of(csrf, RUS_SELFSVC_CSRF_LEN));
    FUZZ_ASSERT(rus_selfsvc_equal(csrf, rus_selfsvc_csrf(p, token)));
    if (hash == NULL) {
        FUZZ_ASSERT(ref == NULL);
        return;
    }
    FUZZ_ASSERT(hex_of(ref, RUS_SELFSVC_REF_LEN));
    FUZZ_ASSERT(rus_selfsvc_equal(ref, rus_selfsvc_ref(p, token, hash)));
    FUZZ_ASSERT(!rus_selfsvc_equal(ref, csrf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *f[FIELDS] = { NULL, NULL, NULL, NULL };
    apr_pool_t *p;
    char *input, *s;
    int i;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    input = fuzz_begin(data, size, &p);
    s = input;
    for (i = 0; i < FIELDS; i++) {
        char *nl = strchr(s, '\n');

        f[i] = s;
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        s = nl + 1;
    }

    check_ua(p, f[0]);
    check_auto(p, f);
    check_render(p, f);
    check_info(p, f);
    check_tokens(p, f);

    fuzz_end(input);
    return 0;
}
