/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The sessions page, its JSON, remoteuser-info's JSON, the page's CSRF
 * tokens and session references, and the Auto rule (rus_selfsvc.c). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "rus_profile.h"
#include "rus_selfsvc.h"
#include "rus_token.h"
#include "rus_username.h"
#include "test_common.h"

/* ---- helpers ------------------------------------------------------------ */

/* The bytes of hex string @a hex, from @a p; *plen gets their count. */
static unsigned char *unhex(apr_pool_t *p, const char *hex, apr_size_t *plen)
{
    apr_size_t n = strlen(hex) / 2, i;
    unsigned char *b = apr_palloc(p, n + 1);

    for (i = 0; i < n; i++) {
        unsigned int v;

        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        b[i] = (unsigned char)v;
    }
    *plen = n;
    return b;
}

/* Lowercase hex of @a n bytes, from @a p. */
static const char *tohex(apr_pool_t *p, const unsigned char *b, apr_size_t n)
{
    char *s = apr_palloc(p, 2 * n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        apr_snprintf(s + 2 * i, 3, "%02x", b[i]);
    }
    s[2 * n] = '\0';
    return s;
}

/* @a c repeated @a n times, as hex. */
static const char *rep(apr_pool_t *p, const char *hexbyte, int n)
{
    char *s = apr_palloc(p, 2 * (apr_size_t)n + 1);
    int i;

    for (i = 0; i < n; i++) {
        memcpy(s + 2 * i, hexbyte, 2);
    }
    s[2 * n] = '\0';
    return s;
}

/* How many times @a needle occurs in @a hay. */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    apr_size_t len = strlen(needle);

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += len;
    }
    return n;
}

/* A strict RFC 8259 checker: is the text at *ps one JSON value? Strings
 * must be UTF-8 without raw control characters, escapes must be known. */
static int json_value(const char **ps, int depth);

static void json_ws(const char **ps)
{
    while (**ps == ' ' || **ps == '\t' || **ps == '\n' || **ps == '\r') {
        (*ps)++;
    }
}

static int json_string(const char **ps)
{
    const unsigned char *s = (const unsigned char *)*ps;

    if (*s++ != '"') {
        return 0;
    }
    for (;;) {
        if (*s == '"') {
            *ps = (const char *)s + 1;
            return 1;
        }
        if (*s < 0x20) {
            return 0; /* raw control character, or the end */
        }
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                int i;

                for (i = 1; i <= 4; i++) {
                    if (!apr_isxdigit(s[i])) {
                        return 0;
                    }
                }
                s += 5;
            }
            else if (*s != '\0' && strchr("\"\\/bfnrt", *s) != NULL) {
                s++;
            }
            else {
                return 0;
            }
        }
        else if (*s < 0x80) {
            s++;
        }
        else {
            /* one well-formed UTF-8 character */
            const char *end = (const char *)s + 1;

            while (((unsigned char)*end & 0xC0) == 0x80) {
                end++;
            }
            if (rus_text_check((const char *)s,
                               (apr_size_t)(end - (const char *)s))
                    == RUS_NAME_BAD_UTF8
                || end - (const char *)s > 4) {
                return 0;
            }
            s = (const unsigned char *)end;
        }
    }
}

static int json_number(const char **ps)
{
    const char *s = *ps;

    if (*s == '-') {
        s++;
    }
    if (*s == '0') {
        s++;
    }
    else if (*s >= '1' && *s <= '9') {
        while (apr_isdigit(*s)) {
            s++;
        }
    }
    else {
        return 0;
    }
    *ps = s;
    return 1;
}

static int json_value(const char **ps, int depth)
{
    json_ws(ps);
    if (depth > 16) {
        return 0;
    }
    if (**ps == '{' || **ps == '[') {
        char close = **ps == '{' ? '}' : ']';
        int object = close == '}';

        (*ps)++;
        json_ws(ps);
        if (**ps == close) {
            (*ps)++;
            return 1;
        }
        for (;;) {
            if (object) {
                json_ws(ps);
                if (!json_string(ps)) {
                    return 0;
                }
                json_ws(ps);
                if (*(*ps)++ != ':') {
                    return 0;
                }
            }
            if (!json_value(ps, depth + 1)) {
                return 0;
            }
            json_ws(ps);
            if (**ps == ',') {
                (*ps)++;
                continue;
            }
            if (**ps == close) {
                (*ps)++;
                return 1;
            }
            return 0;
        }
    }
    if (**ps == '"') {
        return json_string(ps);
    }
    if (strncmp(*ps, "true", 4) == 0 || strncmp(*ps, "null", 4) == 0) {
        *ps += 4;
        return 1;
    }
    if (strncmp(*ps, "false", 5) == 0) {
        *ps += 5;
        return 1;
    }
    return json_number(ps);
}

/* Is @a text exactly one JSON value (surrounding white space allowed)? */
static int json_ok(const char *text)
{
    const char *s = text;

    if (!json_value(&s, 0)) {
        return 0;
    }
    json_ws(&s);
    return *s == '\0';
}

/* ---- HMAC-SHA-256: RFC 4231's test cases ---------------------------------- */

static const struct {
    const char *key;  /* hex; "R:xx:n" is byte xx n times */
    const char *data; /* hex, or "R:xx:n" */
    const char *mac;  /* hex, maybe truncated (case 5) */
} hmac_cases[] = {
    { "R:0b:20", "4869205468657265",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    { "R:aa:20", "R:dd:50",
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    { "0102030405060708090a0b0c0d0e0f10111213141516171819", "R:cd:50",
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    { "R:0c:20", "546573742057697468205472756e636174696f6e",
      "a3b6167473100ee06e0c796c2955552b" },
    { "R:aa:131",
      "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a"
      "65204b6579202d2048617368204b6579204669727374",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    { "R:aa:131",
      "5468697320697320612074657374207573696e672061206c6172676572207468"
      "616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074"
      "68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565"
      "647320746f20626520686173686564206265666f7265206265696e6720757365"
      "642062792074686520484d414320616c676f726974686d2e",
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

/* A test vector's field as bytes. */
static unsigned char *vec(apr_pool_t *p, const char *f, apr_size_t *plen)
{
    if (strncmp(f, "R:", 2) == 0) {
        char byte[3] = { f[2], f[3], '\0' };

        return unhex(p, rep(p, byte, atoi(f + 5)), plen);
    }
    return unhex(p, f, plen);
}

START_TEST(test_hmac_rfc4231)
{
    apr_pool_t *p;
    unsigned char mac[32];
    unsigned char *key, *data;
    apr_size_t klen, dlen;
    const char *want = hmac_cases[_i].mac;
    int accel;

    apr_pool_create(&p, NULL);
    key = vec(p, hmac_cases[_i].key, &klen);
    data = vec(p, hmac_cases[_i].data, &dlen);
    /* both SHA-256 implementations */
    for (accel = 0; accel <= 1; accel++) {
        rus_sha256_set_accel(accel);
        rus_hmac_sha256(mac, key, klen, data, dlen, p);
        ck_assert_str_eq(tohex(p, mac, strlen(want) / 2), want);
    }
    rus_sha256_set_accel(1);
    apr_pool_destroy(p);
}
END_TEST

/* ---- CSRF tokens and session references -------------------------------- */

#define TOKEN_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define TOKEN_B "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define HASH_0 \
    "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_1 \
    "1000000000000000000000000000000000000000000000000000000000000000"

START_TEST(test_csrf_ref)
{
    apr_pool_t *p;
    const char *ca, *cb, *r0, *r1, *rb0;

    apr_pool_create(&p, NULL);
    ca = rus_selfsvc_csrf(p, TOKEN_A);
    cb = rus_selfsvc_csrf(p, TOKEN_B);
    /* what the header says it is (Python's hmac agrees) */
    ck_assert_str_eq(
        ca, "28a7ed88d6047178b60d8a3fa8b1b2cb70f9232929f9def201be572e4e6c15bb");
    ck_assert_uint_eq(strlen(ca), RUS_SELFSVC_CSRF_LEN);
    /* stable, and per token */
    ck_assert_str_eq(rus_selfsvc_csrf(p, TOKEN_A), ca);
    ck_assert_str_ne(ca, cb);

    r0 = rus_selfsvc_ref(p, TOKEN_A, HASH_0);
    r1 = rus_selfsvc_ref(p, TOKEN_A, HASH_1);
    rb0 = rus_selfsvc_ref(p, TOKEN_B, HASH_0);
    ck_assert_str_eq(r0, "34b78cad5c366b7b6c2af51e0f37d2ea");
    ck_assert_uint_eq(strlen(r0), RUS_SELFSVC_REF_LEN);
    ck_assert_str_eq(rus_selfsvc_ref(p, TOKEN_A, HASH_0), r0);
    ck_assert_str_ne(r0, r1);  /* per hash */
    ck_assert_str_ne(r0, rb0); /* per viewing token */
    /* neither is the hash or the token, nor a piece of them */
    ck_assert_ptr_null(strstr(HASH_0, r0));
    ck_assert_ptr_null(strstr(ca, TOKEN_A));
    /* a ref is not the CSRF token's prefix */
    ck_assert_int_ne(strncmp(ca, r0, RUS_SELFSVC_REF_LEN), 0);

    /* no token: nothing that could ever match */
    ck_assert_ptr_null(rus_selfsvc_csrf(p, NULL));
    ck_assert_ptr_null(rus_selfsvc_csrf(p, ""));
    ck_assert_ptr_null(rus_selfsvc_ref(p, NULL, HASH_0));
    ck_assert_ptr_null(rus_selfsvc_ref(p, TOKEN_A, NULL));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_equal)
{
    ck_assert_int_eq(rus_selfsvc_equal("abc", "abc"), 1);
    ck_assert_int_eq(rus_selfsvc_equal("", ""), 1);
    ck_assert_int_eq(rus_selfsvc_equal("abc", "abd"), 0);
    ck_assert_int_eq(rus_selfsvc_equal("abc", "xbc"), 0);
    ck_assert_int_eq(rus_selfsvc_equal("abc", "ab"), 0);
    ck_assert_int_eq(rus_selfsvc_equal("ab", "abc"), 0);
    ck_assert_int_eq(rus_selfsvc_equal("abc", ""), 0);
    ck_assert_int_eq(rus_selfsvc_equal(NULL, "abc"), 0);
    ck_assert_int_eq(rus_selfsvc_equal("abc", NULL), 0);
    ck_assert_int_eq(rus_selfsvc_equal(NULL, NULL), 0);
    ck_assert_int_eq(rus_selfsvc_equal("", NULL), 0);
}
END_TEST

/* ---- User-Agent --------------------------------------------------------- */

static const struct {
    const char *in;
    const char *want;
} ua_cases[] = {
    { "curl/8.5.0", "curl/8.5.0" },
    { "", "" },
    { "a\x01"
      "b\tc\r\nd\x7f"
      "e",
      "abcde" },
    /* C1 as UTF-8 (U+0085, U+009F) removed; U+00A0 kept */
    { "x\xc2\x85y\xc2\x9fz\xc2\xa0", "xyz\xc2\xa0" },
    /* not UTF-8: each byte '?' */
    { "a\xff"
      "b",
      "a?b" },
    { "\xc0\xaf", "??" },      /* overlong */
    { "\xed\xa0\x80", "???" }, /* a surrogate */
    { "ok\xe2\x82", "ok??" },  /* cut short */
    { "\x80x", "?x" },         /* a lone continuation byte */
    { "Mozilla/5.0 (X11; Linux x86_64) \xe2\x82\xac \xf0\x9f\x98\x80",
      "Mozilla/5.0 (X11; Linux x86_64) \xe2\x82\xac \xf0\x9f\x98\x80" },
};

START_TEST(test_ua_table)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    ck_assert_msg(strcmp(rus_ua_clean(p, ua_cases[_i].in), ua_cases[_i].want)
                      == 0,
                  "case %d: got \"%s\"", _i,
                  rus_test_printable(p, rus_ua_clean(p, ua_cases[_i].in)));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_ua_cut)
{
    apr_pool_t *p;
    char in[600];
    const char *out;

    apr_pool_create(&p, NULL);
    ck_assert_str_eq(rus_ua_clean(p, NULL), "");

    /* 300 ASCII bytes: 256 kept */
    memset(in, 'a', 300);
    in[300] = '\0';
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), RUS_UA_MAX);
    ck_assert_int_eq(strncmp(out, in, RUS_UA_MAX), 0);

    /* exactly 256: all kept */
    in[RUS_UA_MAX] = '\0';
    ck_assert_str_eq(rus_ua_clean(p, in), in);

    /* 255 bytes, then a 2-byte character: it does not fit, nor a half */
    memset(in, 'a', 255);
    memcpy(in + 255, "\xc3\xa9z", 4);
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), 255);
    ck_assert_int_eq(strncmp(out, in, 255), 0);

    /* 254 bytes, then a 4-byte character: cut before it */
    memset(in, 'a', 254);
    memcpy(in + 254, "\xf0\x9f\x98\x80", 5);
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), 254);

    /* 252 + 4 bytes fit exactly */
    memset(in, 'a', 252);
    memcpy(in + 252, "\xf0\x9f\x98\x80zz", 7);
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), 256);
    ck_assert_str_eq(out + 252, "\xf0\x9f\x98\x80");

    /* removed control bytes do not count toward the limit */
    memset(in, '\x01', 100);
    memset(in + 100, 'b', 256);
    memcpy(in + 356, "cc", 3);
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), 256);
    ck_assert_int_eq(count(out, "b"), 256);

    /* whatever comes in, what comes out is clean text */
    memset(in, '\xff', 400);
    in[400] = '\0';
    out = rus_ua_clean(p, in);
    ck_assert_uint_eq(strlen(out), 256);
    ck_assert_int_eq(rus_text_check(out, strlen(out)), RUS_NAME_OK);
    apr_pool_destroy(p);
}
END_TEST

/* ---- the HTML page ---------------------------------------------------- */

#define NOW 1780000000 /* 2026-05-28 20:26:40 UTC */

/* Rows: the current session, a second one, a hostile third one. */
static apr_array_header_t *page_rows(apr_pool_t *p)
{
    apr_array_header_t *rows = apr_array_make(p, 3, sizeof(rus_selfsvc_row_t));
    rus_selfsvc_row_t *r;

    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    r->ref = rus_selfsvc_ref(p, TOKEN_A, HASH_0);
    r->current = 1;
    r->created_at = NOW - 300; /* 5 minutes ago */
    r->last_seen = NOW - 10;
    r->expires_at = NOW + 86400;
    r->ip = "127.0.0.1";
    r->user_agent = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0";

    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    r->ref = rus_selfsvc_ref(p, TOKEN_A, HASH_1);
    r->current = 0;
    r->created_at = NOW - 2 * 86400 - 5;
    r->last_seen = NOW - 3 * 3600;
    r->expires_at = NOW + 86400;
    r->ip = "";
    r->user_agent = "";

    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    r->ref = "\"><script>alert(1)</script>";
    r->current = 0;
    r->created_at = NOW - 60;
    r->last_seen = NOW + 500; /* clock skew: counts as now */
    r->expires_at = NOW + 86400;
    r->ip = "<b>10.0.0.1</b>";
    r->user_agent = "x\"><script>alert('ua')</script>&amp;";
    return rows;
}

START_TEST(test_html_page)
{
    apr_pool_t *p;
    const char *csrf, *html, *form;
    const char *r1;

    apr_pool_create(&p, NULL);
    csrf = rus_selfsvc_csrf(p, TOKEN_A);
    r1 = rus_selfsvc_ref(p, TOKEN_A, HASH_1);
    html = rus_selfsvc_html(p, "alice", page_rows(p), "/me/sessions", csrf,
                            "Signed out 1 session.", NOW);

    /* the document */
    ck_assert_int_eq(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32),
                     0);
    ck_assert_int_eq(count(html, "<meta charset=\"utf-8\">"), 1);
    ck_assert_int_eq(count(html, "<title>Your sessions</title>"), 1);
    ck_assert_int_eq(count(html, "<style>"), 1);
    ck_assert_int_eq(count(html, "<h1>Your sessions "), 1);
    ck_assert_ptr_nonnull(strstr(html, "<span class=\"user\">Signed in as "
                                       "<strong>alice</strong></span></h1>"));
    ck_assert_int_eq(count(html,
                           "<p class=\"notice\" role=\"status\">Signed out 1 "
                           "session.</p>"),
                     1);
    /* no script, no external resource */
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<link"));
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "url("));
    ck_assert_ptr_null(strstr(html, "http:"));
    ck_assert_ptr_null(strstr(html, "https:"));

    /* the table: a header row, a row per session, this one marked */
    ck_assert_int_eq(count(html, "<table id=\"sessions\">"), 1);
    ck_assert_int_eq(count(html, "<th scope=\"col\">"), 5);
    ck_assert_int_eq(count(html, "<tr class=\"session\">"), 2);
    ck_assert_int_eq(count(html, "<tr class=\"session current\">"), 1);
    ck_assert_int_eq(count(html, "This session"), 1);
    ck_assert_int_eq(count(html, "<button type=\"submit\">Sign out</button>"),
                     2);
    ck_assert_int_eq(
        count(html,
              "<td class=\"address\" data-label=\"Address\">127.0.0.1</td>"),
        1);
    ck_assert_ptr_nonnull(strstr(
        html,
        "<td class=\"browser\" data-label=\"Browser\">Mozilla/5.0 (X11; Linux x86_64) "
        "Chrome/120.0</td>"));
    /* the second session: unknown address and browser */
    ck_assert_int_eq(count(html,
                           "<td class=\"address\" data-label=\"Address\"><span "
                           "class=\"unknown\">unknown</span></td>"),
                     1);
    ck_assert_int_eq(count(html,
                           "<td class=\"browser\" data-label=\"Browser\"><span "
                           "class=\"unknown\">unknown</span></td>"),
                     1);

    /* times: UTC minutes and how long ago */
    ck_assert_ptr_nonnull(
        strstr(html, "<time datetime=\"2026-05-28T20:21:40Z\">2026-05-28 "
                     "20:21 UTC</time><span class=\"ago\">5 minutes "
                     "ago</span>"));
    ck_assert_ptr_nonnull(strstr(html, ">2 days ago<"));
    ck_assert_ptr_nonnull(strstr(html, ">3 hours ago<"));
    ck_assert_ptr_nonnull(strstr(html, ">1 minute ago<"));
    ck_assert_int_eq(count(html, ">just now<"), 2); /* -10 s and skew */

    /* the per-session form, exactly as the contract says */
    form = apr_pstrcat(
        p,
        "<form method=\"post\" action=\"/me/sessions\" class=\"signout\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"",
        csrf,
        "\"><input type=\"hidden\" name=\"action\" value=\"signout\">"
        "<input type=\"hidden\" name=\"session\" value=\"",
        r1, "\"><button type=\"submit\">Sign out</button></form>", NULL);
    ck_assert_int_eq(count(html, form), 1);
    /* the current session has no such form: its ref is not on the page */
    ck_assert_ptr_null(strstr(html, rus_selfsvc_ref(p, TOKEN_A, HASH_0)));
    /* the sign-out-others form */
    form = apr_pstrcat(
        p,
        "<form method=\"post\" action=\"/me/sessions\" "
        "id=\"signout-others\"><input type=\"hidden\" name=\"csrf\" "
        "value=\"",
        csrf,
        "\"><input type=\"hidden\" name=\"action\" value=\"signout-others\">"
        "<button type=\"submit\">Sign out all other sessions</button></form>",
        NULL);
    ck_assert_int_eq(count(html, form), 1);
    ck_assert_int_eq(count(html, csrf), 3);

    /* hostile values escaped, everywhere */
    ck_assert_ptr_nonnull(strstr(html,
                                 "value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/"
                                 "script&gt;\""));
    ck_assert_ptr_nonnull(strstr(html, "&lt;b&gt;10.0.0.1&lt;/b&gt;"));
    ck_assert_ptr_nonnull(
        strstr(html, "x&quot;&gt;&lt;script&gt;alert(&#39;ua&#39;)&lt;/"
                     "script&gt;&amp;amp;"));
    ck_assert_ptr_null(strstr(html, "<b>"));

    /* no token and no stored hash */
    ck_assert_ptr_null(strstr(html, TOKEN_A));
    ck_assert_ptr_null(strstr(html, HASH_0));
    ck_assert_ptr_null(strstr(html, HASH_1));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_html_alone)
{
    apr_pool_t *p;
    apr_array_header_t *rows;
    rus_selfsvc_row_t *r;
    const char *html;

    apr_pool_create(&p, NULL);
    rows = apr_array_make(p, 1, sizeof(rus_selfsvc_row_t));
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    memset(r, 0, sizeof(*r));
    r->ref = "r";
    r->current = 1;
    r->created_at = NOW;
    r->last_seen = NOW;
    r->ip = "::1";
    r->user_agent = "curl/8";
    /* a hostile user name, action and notice */
    html = rus_selfsvc_html(p, "<i>bob</i>", rows, "/s?a=\"1\"&b='2'", "c",
                            NULL, NOW);
    /* no other session: no form at all, no notice */
    ck_assert_ptr_null(strstr(html, "<form"));
    ck_assert_ptr_null(strstr(html, "id=\"signout-others\""));
    ck_assert_ptr_null(strstr(html, "class=\"notice\""));
    ck_assert_int_eq(count(html, "<tr class=\"session current\">"), 1);
    ck_assert_ptr_nonnull(strstr(html, "&lt;i&gt;bob&lt;/i&gt;"));
    ck_assert_ptr_null(strstr(html, "<i>"));

    r->current = 0;
    html = rus_selfsvc_html(p, "bob", rows, "/s?a=\"1\"&b='2'", "c",
                            "<em>done</em>\x01", NOW);
    ck_assert_ptr_nonnull(
        strstr(html, "action=\"/s?a=&quot;1&quot;&amp;b=&#39;2&#39;\""));
    ck_assert_ptr_nonnull(
        strstr(html, "<p class=\"notice\" role=\"status\">&lt;em&gt;done&lt;/"
                     "em&gt;</p>"));
    ck_assert_int_eq(count(html, "<form "), 2);
    ck_assert_ptr_null(strchr(html, '\x01'));

    /* not UTF-8, or C1 controls: never raw on the page */
    r->user_agent = "a\xff"
                    "b\xc2\x85"
                    "c\xc3";
    html = rus_selfsvc_html(p, "bob", rows, "/s", "c", NULL, NOW);
    ck_assert_ptr_nonnull(strstr(html, ">a?bc?</td>"));

    /* no rows at all */
    rows->nelts = 0;
    html = rus_selfsvc_html(p, "bob", rows, "/s", "c", NULL, NOW);
    ck_assert_ptr_null(strstr(html, "<tr class=\"session"));
    ck_assert_ptr_nonnull(strstr(html, "No sessions."));
    apr_pool_destroy(p);
}
END_TEST

/* ---- JSON -------------------------------------------------------------- */

START_TEST(test_json_sessions)
{
    apr_pool_t *p;
    apr_array_header_t *rows;
    rus_selfsvc_row_t *r;
    const char *json;

    apr_pool_create(&p, NULL);
    rows = apr_array_make(p, 2, sizeof(rus_selfsvc_row_t));
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    r->ref = "ab12";
    r->current = 1;
    r->created_at = 100;
    r->last_seen = 200;
    r->expires_at = 300;
    r->ip = "127.0.0.1";
    r->user_agent = "curl/8";
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    r->ref = "cd34";
    r->current = 0;
    r->created_at = 1;
    r->last_seen = 2;
    r->expires_at = 3;
    r->ip = "";
    r->user_agent = "a\"b\\c\x01\x1f\x7f</script>\xe2\x80\xa8\xc2\x85\xff\xc3";
    json = rus_selfsvc_json(p, "al\"ice", rows, "tok");
    ck_assert_str_eq(
        json,
        "{\"user\":\"al\\\"ice\",\"csrf\":\"tok\",\"sessions\":["
        "{\"id\":\"ab12\",\"current\":true,\"created\":100,\"last_seen\":200,"
        "\"expires\":300,\"ip\":\"127.0.0.1\",\"user_agent\":\"curl/8\"},"
        "{\"id\":\"cd34\",\"current\":false,\"created\":1,\"last_seen\":2,"
        "\"expires\":3,\"ip\":\"\",\"user_agent\":\"a\\\"b\\\\c\\u0001"
        "\\u001f\\u007f\\u003c/script\\u003e\\u2028\\u0085\\ufffd\\ufffd\"}"
        "]}");
    ck_assert(json_ok(json));

    /* no rows, no csrf */
    rows->nelts = 0;
    json = rus_selfsvc_json(p, "bob", rows, NULL);
    ck_assert_str_eq(json, "{\"user\":\"bob\",\"csrf\":null,\"sessions\":[]}");
    ck_assert(json_ok(json));
    apr_pool_destroy(p);
}
END_TEST

/* Every byte value in a string, one at a time, gives well-formed JSON. */
START_TEST(test_json_every_byte)
{
    apr_pool_t *p;
    apr_array_header_t *rows;
    rus_selfsvc_row_t *r;
    char s[8];
    int b;

    apr_pool_create(&p, NULL);
    rows = apr_array_make(p, 1, sizeof(rus_selfsvc_row_t));
    r = &APR_ARRAY_PUSH(rows, rus_selfsvc_row_t);
    memset(r, 0, sizeof(*r));
    for (b = 1; b < 256; b++) {
        apr_snprintf(s, sizeof(s), "x%cy", b);
        r->ref = s;
        r->ip = s;
        r->user_agent = s;
        ck_assert_msg(json_ok(rus_selfsvc_json(p, s, rows, s)), "byte %d", b);
        ck_assert_msg(json_ok(rus_unauth_json(p, s)), "byte %d", b);
    }
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_json_checker)
{
    /* the checker itself refuses what it should */
    ck_assert(json_ok("{\"a\":[1,true,null,\"x\"]}"));
    ck_assert(!json_ok("{\"a\":\"\x01\"}"));
    ck_assert(!json_ok("{\"a\":\"\\x\"}"));
    ck_assert(!json_ok("{\"a\":\"\xff\"}"));
    ck_assert(!json_ok("{\"a\":1,}"));
    ck_assert(!json_ok("{\"a\":1"));
    ck_assert(!json_ok("{\"a\" 1}"));
    ck_assert(!json_ok("[1]x"));
}
END_TEST

/* A user with groups, the three columns and attributes. */
static rus_user_t *info_user(apr_pool_t *p)
{
    rus_user_t *u = apr_pcalloc(p, sizeof(*u));
    rus_attr_t *a;

    u->id = 42;
    u->username = "alice";
    u->is_active = 1;
    u->groups = "admins,staff";
    u->email = "alice@example.org";
    u->first_name = "Al\"ice";
    u->last_name = "";
    u->attrs = apr_array_make(p, 3, sizeof(rus_attr_t));
    a = &APR_ARRAY_PUSH(u->attrs, rus_attr_t);
    a->name = "dept";
    a->value = "R&D <lab>";
    a = &APR_ARRAY_PUSH(u->attrs, rus_attr_t);
    a->name = "bad";
    a->value = "x\x01y"; /* fails rus_text_check(): left out */
    a = &APR_ARRAY_PUSH(u->attrs, rus_attr_t);
    a->name = "title";
    a->value = "CTO";
    return u;
}

START_TEST(test_info_json)
{
    apr_pool_t *p;
    rus_info_t info;
    rus_session_t s;
    rus_user_t *u;
    const char *json;

    apr_pool_create(&p, NULL);
    u = info_user(p);
    memset(&info, 0, sizeof(info));
    info.user = u;

    info.source = "frontend";
    json = rus_info_json(p, &info);
    ck_assert_str_eq(json, "{\"user\":\"alice\",\"id\":42,"
                           "\"groups\":[\"admins\",\"staff\"],"
                           "\"email\":\"alice@example.org\","
                           "\"first_name\":\"Al\\\"ice\","
                           "\"attributes\":{\"dept\":\"R\\u0026D "
                           "\\u003clab\\u003e\",\"title\":\"CTO\"},"
                           "\"source\":\"frontend\"}");
    ck_assert(json_ok(json));

    /* header: nothing of a session; no groups, no columns, no attributes */
    u->groups = "";
    u->email = "";
    u->first_name = "";
    u->last_name = "";
    u->attrs = NULL;
    info.source = "header";
    json = rus_info_json(p, &info);
    ck_assert_str_eq(json, "{\"user\":\"alice\",\"id\":42,\"groups\":[],"
                           "\"attributes\":{},\"source\":\"header\"}");
    ck_assert(json_ok(json));

    /* session: created, expires, idle_expires */
    memset(&s, 0, sizeof(s));
    s.created_at = 1000;
    s.last_seen = 1500;
    s.expires_at = 5000;
    info.source = "session";
    info.session = &s;
    info.expires = 4000;
    info.idle_expires = 2100;
    u->groups = "one";
    u->last_name = "Smith";
    json = rus_info_json(p, &info);
    ck_assert_str_eq(json, "{\"user\":\"alice\",\"id\":42,\"groups\":[\"one\"],"
                           "\"last_name\":\"Smith\",\"attributes\":{},"
                           "\"source\":\"session\",\"created\":1000,"
                           "\"expires\":4000,\"idle_expires\":2100}");
    ck_assert(json_ok(json));
    /* no idle timeout */
    info.idle_expires = 0;
    json = rus_info_json(p, &info);
    ck_assert_ptr_nonnull(strstr(json, ",\"idle_expires\":null}"));
    ck_assert(json_ok(json));

    /* hostile strings: group pieces, a bad column */
    u->groups = "a\"b,,c\x02,\xc3\xa9";
    u->email = "e\x7f";
    json = rus_info_json(p, &info);
    ck_assert_ptr_nonnull(
        strstr(json, "\"groups\":[\"a\\\"b\",\"\xc3\xa9\"],\"last_name\""));
    ck_assert_ptr_null(strstr(json, "email"));
    ck_assert(json_ok(json));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_unauth_json)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    ck_assert_str_eq(rus_unauth_json(p, NULL),
                     "{\"error\":\"unauthenticated\",\"login\":null}");
    ck_assert_str_eq(rus_unauth_json(p, "/login?next=%2F"),
                     "{\"error\":\"unauthenticated\","
                     "\"login\":\"/login?next=%2F\"}");
    ck_assert_str_eq(rus_unauth_json(p, "/l\"<x>"),
                     "{\"error\":\"unauthenticated\","
                     "\"login\":\"/l\\\"\\u003cx\\u003e\"}");
    apr_pool_destroy(p);
}
END_TEST

/* ---- the Auto rule -------------------------------------------------------- */

static const struct {
    const char *xrw;
    const char *mode;
    const char *accept;
    int want; /* 1: 401, 0: 302 */
} auto_cases[] = {
    /* nothing at all: an old client */
    { NULL, NULL, NULL, 0 },
    /* curl */
    { NULL, NULL, "*/*", 0 },
    /* a browser navigation */
    { NULL, "navigate",
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
      "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
      0 },
    { NULL, "navigate", NULL, 0 },
    { NULL, "Navigate", "text/html", 0 },
    /* XHR */
    { "XMLHttpRequest", NULL, NULL, 1 },
    { "xmlhttprequest", NULL, "*/*", 1 },
    { " XMLHttpRequest ", "navigate", "text/html", 1 },
    { "fetch", NULL, NULL, 0 },
    { "", NULL, NULL, 0 },
    /* fetch() */
    { NULL, "cors", "*/*", 1 },
    { NULL, "no-cors", "*/*", 1 },
    { NULL, "same-origin", "*/*", 1 },
    { NULL, "websocket", NULL, 1 },
    { NULL, "", NULL, 1 },
    /* Accept alone */
    { NULL, NULL, "application/json", 1 },
    { NULL, NULL, "Application/JSON; charset=utf-8", 1 },
    { NULL, NULL, "text/html", 0 },
    { NULL, NULL, "TEXT/HTML", 0 },
    { NULL, NULL, "text/html;level=1", 0 },
    { NULL, NULL, "text/html ; q=0.5", 0 },
    { NULL, NULL, "application/json, text/html", 0 },
    { NULL, NULL, "application/json,*/*;q=0.1", 0 },
    { NULL, NULL, "text/html;q=0, application/json", 1 },
    { NULL, NULL, "text/html;q=0.000, application/json", 1 },
    { NULL, NULL, "text/html; Q = 0.0", 1 },
    { NULL, NULL, "text/html;q=0.001", 0 },
    { NULL, NULL, "*/*;q=0", 1 },
    { NULL, NULL, "application/*", 1 },
    { NULL, NULL, "text/plain", 1 },
    { NULL, NULL, "text/*", 0 }, /* takes HTML too */
    { NULL, NULL, "text/htmlx", 1 },
    { NULL, NULL, "xtext/html", 1 },
    { NULL, NULL, "", 1 },
    { NULL, NULL, ",,", 1 },
    { NULL, NULL, "text/html;charset=utf-8;q=0", 1 },
    { NULL, NULL, "text/html;q=bogus", 0 },
};

START_TEST(test_auto_table)
{
    ck_assert_msg(rus_unauth_programmatic(auto_cases[_i].xrw,
                                          auto_cases[_i].mode,
                                          auto_cases[_i].accept)
                      == auto_cases[_i].want,
                  "case %d: xrw=%s mode=%s accept=%s", _i,
                  auto_cases[_i].xrw ? auto_cases[_i].xrw : "(none)",
                  auto_cases[_i].mode ? auto_cases[_i].mode : "(none)",
                  auto_cases[_i].accept ? auto_cases[_i].accept : "(none)");
}
END_TEST

TCase *rus_selfsvc_test_case(void)
{
    TCase *tc = tcase_create("selfsvc");

    tcase_add_loop_test(tc, test_hmac_rfc4231, 0,
                        (int)(sizeof(hmac_cases) / sizeof(hmac_cases[0])));
    tcase_add_test(tc, test_csrf_ref);
    tcase_add_test(tc, test_equal);
    tcase_add_loop_test(tc, test_ua_table, 0,
                        (int)(sizeof(ua_cases) / sizeof(ua_cases[0])));
    tcase_add_test(tc, test_ua_cut);
    tcase_add_test(tc, test_html_page);
    tcase_add_test(tc, test_html_alone);
    tcase_add_test(tc, test_json_sessions);
    tcase_add_test(tc, test_json_every_byte);
    tcase_add_test(tc, test_json_checker);
    tcase_add_test(tc, test_info_json);
    tcase_add_test(tc, test_unauth_json);
    tcase_add_loop_test(tc, test_auto_table, 0,
                        (int)(sizeof(auto_cases) / sizeof(auto_cases[0])));
    return tc;
}
