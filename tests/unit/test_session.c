/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Tokens (rus_token.c), session policy and cookies (rus_session.c), and
 * redirect targets (rus_redirect.c). */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "rus_redirect.h"
#include "rus_session.h"
#include "rus_token.h"
#include "test_common.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- SHA-256 (FIPS 180-4 examples) ------------------------------------ */

static const char *hex(const unsigned char *d, int n)
{
    static const char h[] = "0123456789abcdef";
    char *out = apr_palloc(pool, (apr_size_t)n * 2 + 1);
    int i;

    for (i = 0; i < n; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

/* _i = 0: portable code; 1: SHA extensions where the processor has them */
START_TEST(test_sha256_vectors)
{
    unsigned char d[32];
    char million[1000];

    rus_sha256_set_accel(_i);
    ck_assert_int_le(rus_sha256_accel(), _i);
    rus_sha256(d, "", 0);
    ck_assert_str_eq(hex(d, 32), "e3b0c44298fc1c149afbf4c8996fb924"
                                 "27ae41e4649b934ca495991b7852b855");
    rus_sha256(d, "abc", 3);
    ck_assert_str_eq(hex(d, 32), "ba7816bf8f01cfea414140de5dae2223"
                                 "b00361a396177a9cb410ff61f20015ad");
    rus_sha256(d, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
               56);
    ck_assert_str_eq(hex(d, 32), "248d6a61d20638b8e5c026930c3e6039"
                                 "a33ce45964ff2167f6ecedd419db06c1");
    /* 55, 63, 64 bytes: the padding edges */
    memset(million, 'a', sizeof(million));
    rus_sha256(d, million, 55);
    ck_assert_str_eq(hex(d, 32), "9f4390f8d30c2dd92ec9f095b65e2b9a"
                                 "e9b0a925a5258e241c9f1e910f734318");
    rus_sha256(d, million, 64);
    ck_assert_str_eq(hex(d, 32), "ffe054fe7ae0cb6dc65c3af9b61d5209"
                                 "f439851db43d0ba5997337df154668eb");
    /* 1000 bytes: 15 full blocks and a tail */
    rus_sha256(d, million, sizeof(million));
    ck_assert_str_eq(hex(d, 32), "41edece42d63e8d9bf515a9ba6932e1c"
                                 "20cbc9f5a5d134645adb5db1b9737ea3");
    rus_sha256_set_accel(1);
}
END_TEST

/* Both implementations agree on every length over two blocks and more. */
START_TEST(test_sha256_paths_agree)
{
    unsigned char buf[300], a[32], b[32];
    unsigned int seed = 12345;
    apr_size_t len, i;

    for (len = 0; len <= sizeof(buf); len++) {
        for (i = 0; i < len; i++) {
            buf[i] = (unsigned char)rand_r(&seed);
        }
        rus_sha256_set_accel(0);
        rus_sha256(a, buf, len);
        rus_sha256_set_accel(1);
        rus_sha256(b, buf, len);
        ck_assert_mem_eq(a, b, 32);
    }
}
END_TEST

/* ---- tokens ------------------------------------------------------------ */

START_TEST(test_token_roundtrip)
{
    const char *t1, *h1, *t2, *h2, *again;
    const char *c;

    ck_assert_int_eq(rus_token_new(&t1, &h1, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_token_new(&t2, &h2, pool), APR_SUCCESS);
    ck_assert_uint_eq(strlen(t1), RUS_TOKEN_CHARS);
    ck_assert_uint_eq(strlen(h1), RUS_TOKEN_HASH_CHARS);
    ck_assert_str_ne(t1, t2);
    ck_assert_str_ne(h1, h2);
    for (c = t1; *c; c++) {
        ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-_",
                         *c)
                  != NULL);
    }
    /* the cookie form hashes to the stored form, and the stored form is
     * not the token */
    ck_assert_int_eq(rus_token_hash(&again, t1, pool), APR_SUCCESS);
    ck_assert_str_eq(again, h1);
    ck_assert(strstr(h1, t1) == NULL);
    ck_assert(rus_secret_equal(again, h1));
    ck_assert(!rus_secret_equal(h1, h2));
    ck_assert(!rus_secret_equal("abc", "abcd"));
}
END_TEST

START_TEST(test_token_hash_known)
{
    const char *h = NULL;

    /* 32 zero bytes: "AAAA...A" (43 chars); SHA-256 of 32 zero bytes */
    ck_assert_int_eq(
        rus_token_hash(&h, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pool),
        APR_SUCCESS);
    ck_assert_str_eq(h, "66687aadf862bd776c8fc18b8e9f8e20"
                        "089714856ee233b3902a591d0d5f2925");
}
END_TEST

START_TEST(test_session_public_id)
{
    const char *h = "66687aadf862bd776c8fc18b8e9f8e20"
                    "089714856ee233b3902a591d0d5f2925";

    ck_assert_str_eq(rus_session_public_id(h, pool), "66687aadf862");
    ck_assert_int_eq(strlen(rus_session_public_id(h, pool)),
                     RUS_SESSION_PUBLIC_ID_LEN);
    /* never anything but a hash prefix: not hex, too short, NULL */
    ck_assert_str_eq(rus_session_public_id("66687AADF862bd77", pool), "-");
    ck_assert_str_eq(rus_session_public_id("66687aadf86", pool), "-");
    ck_assert_str_eq(rus_session_public_id("66687aadf86\n2bd", pool), "-");
    ck_assert_str_eq(rus_session_public_id(NULL, pool), "-");
}
END_TEST

static const char *const bad_tokens[] = {
    "",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42: truncated */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* base64, not url */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* non-zero pad bits */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_",
    "AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAA\"AAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAA\xc3\xa9"
    "AAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
};

START_TEST(test_token_malformed)
{
    const char *h = NULL;

    ck_assert_int_eq(rus_token_hash(&h, bad_tokens[_i], pool), APR_EINVAL);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_token_huge_input)
{
    char *big = apr_palloc(pool, 100001);
    const char *h = NULL;

    memset(big, 'A', 100000);
    big[100000] = '\0';
    ck_assert_int_eq(rus_token_hash(&h, big, pool), APR_EINVAL);
    ck_assert_int_eq(rus_token_hash(&h, NULL, pool), APR_EINVAL);
}
END_TEST

/* ---- session policy, with the clock passed in ---------------------------- */

START_TEST(test_session_check)
{
    rus_session_t s = { 1, "a.test:80", 1000, 1000, 2000, "", "" };

    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 0, 0, 1000),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 0, 0, 1999),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 0, 0, 2000),
                     RUS_SESSION_EXPIRED);
    ck_assert_int_eq(rus_session_check(&s, "b.test:80", 0, 0, 1000),
                     RUS_SESSION_OTHER_VHOST);
    ck_assert_int_eq(rus_session_check(&s, "a.test:443", 0, 0, 1000),
                     RUS_SESSION_OTHER_VHOST);
    ck_assert_int_eq(rus_session_check(&s, NULL, 0, 0, 1000),
                     RUS_SESSION_OTHER_VHOST);
    /* idle: exactly the timeout is still fine, one more second is not */
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 0, 300, 1300),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 0, 300, 1301),
                     RUS_SESSION_IDLE);
    ck_assert_str_eq(rus_session_state_str(RUS_SESSION_IDLE), "idle too long");
    /* the MaxAge in force counts from created_at, whatever expires_at
     * says: a session issued under a longer one is held to it */
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 600, 0, 1599),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 600, 0, 1600),
                     RUS_SESSION_TOO_OLD);
    ck_assert_int_eq(rus_session_check(&s, "a.test:80", 5000, 0, 2000),
                     RUS_SESSION_EXPIRED);
}
END_TEST

START_TEST(test_session_touch_due)
{
    rus_session_t s = { 1, "v", 1000, 1000, 999999, "", "" };

    ck_assert(!rus_session_touch_due(&s, 0, 1000));
    ck_assert(!rus_session_touch_due(&s, 0, 1059));
    ck_assert(rus_session_touch_due(&s, 0, 1060));
    /* a short idle timeout touches more often: a quarter of it */
    ck_assert(!rus_session_touch_due(&s, 40, 1009));
    ck_assert(rus_session_touch_due(&s, 40, 1010));
    ck_assert(rus_session_touch_due(&s, 2, 1001));
}
END_TEST

/* ---- clock jumps (second security review, finding 8) ------------------ */

/* Issued and last used at 4600 by a clock an hour ahead, with a lifetime
 * of 4000 s; now the clock is back at 1000. */
START_TEST(test_session_clamp)
{
    rus_session_t s = { 1, "v", 4600, 4600, 8600, "", "" };
    rus_session_t past = { 1, "v", 900, 950, 4900, "", "" };

    rus_session_clamp(&s, 1000);
    ck_assert_int_eq(s.created_at, 1000);
    ck_assert_int_eq(s.last_seen, 1000);
    ck_assert_int_eq(s.expires_at, 5000); /* the lifetime, from now */
    /* past values are left alone */
    rus_session_clamp(&past, 1000);
    ck_assert_int_eq(past.created_at, 900);
    ck_assert_int_eq(past.last_seen, 950);
    ck_assert_int_eq(past.expires_at, 4900);
    /* only last_seen ahead: expires_at stays */
    past.last_seen = 1500;
    rus_session_clamp(&past, 1000);
    ck_assert_int_eq(past.last_seen, 1000);
    ck_assert_int_eq(past.created_at, 900);
    ck_assert_int_eq(past.expires_at, 4900);
    /* touched: clamped, then last_seen is now */
    past.created_at = 1200;
    rus_session_touched(&past, 1100);
    ck_assert_int_eq(past.created_at, 1100);
    ck_assert_int_eq(past.last_seen, 1100);
    ck_assert_int_eq(past.expires_at, 4800);
    rus_session_touched(&past, 1160);
    ck_assert_int_eq(past.created_at, 1100);
    ck_assert_int_eq(past.last_seen, 1160);
}
END_TEST

/* A skew does not stretch the idle timeout or MaxAge: future values count
 * as now whenever the session is judged, and once the first use after the
 * jump back has written them so (rus_session_touched()), the limits count
 * from that use, not from an hour ahead. */
START_TEST(test_session_check_future)
{
    rus_session_t s = { 1, "v", 4600, 4600, 4600 + 600, "", "" };

    /* while created_at and last_seen are ahead: neither old nor idle */
    ck_assert_int_eq(rus_session_check(&s, "v", 600, 60, 1000),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "v", 600, 60, 1500),
                     RUS_SESSION_VALID);
    /* the first use writes them; from then on the usual limits */
    rus_session_touched(&s, 1000);
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 60, 1060),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 60, 1061),
                     RUS_SESSION_IDLE); /* not 4661 */
    ck_assert_int_eq(rus_session_check(&s, "v", 300, 0, 1299),
                     RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "v", 300, 0, 1300),
                     RUS_SESSION_TOO_OLD);
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 0, 1599), RUS_SESSION_VALID);
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 0, 1600),
                     RUS_SESSION_EXPIRED); /* not 5200 */
    /* only last_seen ahead (used while the clock was ahead) */
    s.created_at = 900;
    s.last_seen = 4600;
    s.expires_at = 9000;
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 60, 1000),
                     RUS_SESSION_VALID);
    rus_session_touched(&s, 1000);
    ck_assert_int_eq(s.created_at, 900);
    ck_assert_int_eq(s.expires_at, 9000);
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 60, 1061), RUS_SESSION_IDLE);
}
END_TEST

START_TEST(test_session_touch_due_future)
{
    rus_session_t s = { 1, "v", 1000, 1000, 999999, "", "" };

    /* last_seen one second ahead: due, so the row is clamped */
    ck_assert(rus_session_touch_due(&s, 0, 999));
    ck_assert(rus_session_touch_due(&s, 600, 999));
    ck_assert(!rus_session_touch_due(&s, 0, 1000));
    /* created_at ahead alone (a hand-edited row): due as well */
    s.created_at = 2000;
    ck_assert(rus_session_touch_due(&s, 0, 1000));
}
END_TEST

/* Not valid is not dead: only RUS_CLOCK_GRACE past its time may a session
 * be deleted on sight. */
START_TEST(test_session_dead)
{
    rus_session_t s = { 1, "v", 1000, 1000, 2000, "", "" };

    /* expiry */
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 0, 2000),
                     RUS_SESSION_EXPIRED);
    ck_assert(!rus_session_dead(&s, 0, 2000));
    ck_assert(!rus_session_dead(&s, 0, 2000 + RUS_CLOCK_GRACE - 1));
    ck_assert(rus_session_dead(&s, 0, 2000 + RUS_CLOCK_GRACE));
    /* idle (300 s), here before the expiry */
    s.expires_at = 999999;
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 300, 1301),
                     RUS_SESSION_IDLE);
    ck_assert(!rus_session_dead(&s, 300, 1301));
    ck_assert(!rus_session_dead(&s, 300, 1300 + RUS_CLOCK_GRACE));
    ck_assert(rus_session_dead(&s, 300, 1301 + RUS_CLOCK_GRACE));
    /* no idle timeout here: idle never kills */
    ck_assert(!rus_session_dead(&s, 0, 1301 + RUS_CLOCK_GRACE));
    /* a valid session is not dead */
    ck_assert(!rus_session_dead(&s, 300, 1000));
    /* future values count as now: a session from a clock far ahead is not
     * dead (nor idle) */
    s.created_at = s.last_seen = 1000 + 5 * RUS_CLOCK_GRACE;
    s.expires_at = s.created_at + 600;
    ck_assert(!rus_session_dead(&s, 300, 1000));
    ck_assert_int_eq(rus_session_check(&s, "v", 0, 300, 1000),
                     RUS_SESSION_VALID);
}
END_TEST

/* ---- cookies ---------------------------------------------------------- */

START_TEST(test_cookie_values)
{
    const char *v[4];

    ck_assert_int_eq(rus_cookie_values("a=1; sid=XYZ; b=2", "sid", v, 4, pool),
                     1);
    ck_assert_str_eq(v[0], "XYZ");
    /* several, as httpd joins repeated Cookie headers with ", " */
    ck_assert_int_eq(rus_cookie_values("sid=one; x=y, sid=two", "sid", v, 4,
                                       pool),
                     2);
    ck_assert_str_eq(v[0], "one");
    ck_assert_str_eq(v[1], "two");
    ck_assert_int_eq(rus_cookie_values("sid=\"q\"", "sid", v, 4, pool), 1);
    ck_assert_str_eq(v[0], "q");
    /* names match exactly */
    ck_assert_int_eq(rus_cookie_values("xsid=1; sidx=2; SID=3; sid =4", "sid",
                                       v, 4, pool),
                     0);
    ck_assert_int_eq(rus_cookie_values("sid=", "sid", v, 4, pool), 0);
    ck_assert_int_eq(rus_cookie_values(NULL, "sid", v, 4, pool), 0);
    ck_assert_int_eq(rus_cookie_values("sid=1;sid=2;sid=3;sid=4;sid=5;sid=6",
                                       "sid", v, 4, pool),
                     4);
}
END_TEST

START_TEST(test_cookie_thousands_and_huge)
{
    char *h = apr_palloc(pool, RUS_COOKIE_HEADER_MAX + 100);
    const char *v[4];
    int i, o = 0;

    for (i = 0; o < RUS_COOKIE_HEADER_MAX - 20; i++) {
        o += apr_snprintf(h + o, 20, "c%d=v; ", i);
    }
    o += apr_snprintf(h + o, 20, "sid=last");
    ck_assert_int_eq(rus_cookie_values(h, "sid", v, 4, pool), 1);
    ck_assert_str_eq(v[0], "last");
    /* past the limit nothing is looked at */
    memset(h, 'x', RUS_COOKIE_HEADER_MAX + 50);
    memcpy(h, "sid=a; ", 7);
    h[RUS_COOKIE_HEADER_MAX + 50] = '\0';
    ck_assert_int_eq(rus_cookie_values(h, "sid", v, 4, pool), 0);
}
END_TEST

START_TEST(test_cookie_header)
{
    rus_cookie_attrs_t a = { "sid", "/", NULL, "Lax", 0 };

    ck_assert_str_eq(rus_cookie_header(pool, &a, "TOKEN", 1209600),
                     "sid=TOKEN; Path=/; Max-Age=1209600; HttpOnly; "
                     "SameSite=Lax");
    a.domain = "example.com";
    a.secure = 1;
    a.samesite = "None";
    a.path = "/app";
    ck_assert_str_eq(rus_cookie_header(pool, &a, NULL, 1209600),
                     "sid=; Path=/app; Domain=example.com; Max-Age=0; "
                     "HttpOnly; Secure; SameSite=None");
    ck_assert(rus_cookie_name_valid("remoteuser_session"));
    ck_assert(!rus_cookie_name_valid("a b"));
    ck_assert(!rus_cookie_name_valid("a=b"));
    ck_assert(!rus_cookie_name_valid("a;b"));
    ck_assert(!rus_cookie_name_valid(""));
}
END_TEST

/* ---- redirect targets --------------------------------------------------- */

static const char *const safe_targets[] = {
    "/",         "/app",       "/app/page?x=1&y=2",
    "/a%20b",    "/caf%C3%A9", "/p#frag",
    "/%7Euser/", "/a/b/../c",  "/app?next=//evil.example",
};

START_TEST(test_redirect_safe)
{
    ck_assert_msg(rus_redirect_safe(safe_targets[_i]), "refused %s",
                  safe_targets[_i]);
}
END_TEST

/* The open-redirect forms of CVE-2019-3877, CVE-2022-23527 and friends. */
static const char *const unsafe_targets[] = {
    "",
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "app",
    "/%2fevil.example",
    "/%2Fevil.example",
    "/%5cevil.example",
    "/%5Cevil.example",
    "/%252fevil.example",
    "/%25252fevil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:x=y",
    "/\r\nLocation: //evil",
    "/ /evil.example",
    "/\t/evil.example",
    "/app\\..\\evil",
    "/%",
    "/%zz",
    "/%2",
    " /app",
    "/caf\xc3\xa9",
    "/%00",
};

START_TEST(test_redirect_unsafe)
{
    ck_assert_msg(!rus_redirect_safe(unsafe_targets[_i]), "accepted '%s'",
                  unsafe_targets[_i]);
}
END_TEST

START_TEST(test_redirect_limits)
{
    char *big = apr_palloc(pool, RUS_REDIRECT_MAX + 2);

    memset(big, 'a', RUS_REDIRECT_MAX + 1);
    big[0] = '/';
    big[RUS_REDIRECT_MAX + 1] = '\0';
    ck_assert(!rus_redirect_safe(big));
    big[RUS_REDIRECT_MAX] = '\0';
    ck_assert(rus_redirect_safe(big));
    ck_assert(!rus_redirect_safe(NULL));
}
END_TEST

START_TEST(test_query_param_and_encode)
{
    const char *v = NULL;

    ck_assert_int_eq(rus_query_param(&v, "a=1&next=%2Fapp%3Fx%3D1&b=2", "next",
                                     pool),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "/app?x=1");
    ck_assert_int_eq(rus_query_param(&v, "next=a+b", "next", pool),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "a b");
    ck_assert_int_eq(rus_query_param(&v, "xnext=1&nextx=2", "next", pool),
                     APR_ENOENT);
    ck_assert_int_eq(rus_query_param(&v, "next=%zz", "next", pool), APR_EINVAL);
    ck_assert_int_eq(rus_query_param(&v, NULL, "next", pool), APR_ENOENT);
    ck_assert_str_eq(rus_url_encode(pool, "/app/x y?a=1&b=%"),
                     "%2Fapp%2Fx%20y%3Fa%3D1%26b%3D%25");
    ck_assert_str_eq(rus_url_encode(pool, "AZaz09-._~"), "AZaz09-._~");
}
END_TEST

TCase *rus_session_test_case(void)
{
    TCase *tc = tcase_create("session");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_sha256_vectors, 0, 2);
    tcase_add_test(tc, test_sha256_paths_agree);
    tcase_add_test(tc, test_token_roundtrip);
    tcase_add_test(tc, test_token_hash_known);
    tcase_add_test(tc, test_session_public_id);
    tcase_add_loop_test(tc, test_token_malformed, 0,
                        sizeof(bad_tokens) / sizeof(bad_tokens[0]));
    tcase_add_test(tc, test_token_huge_input);
    tcase_add_test(tc, test_session_check);
    tcase_add_test(tc, test_session_touch_due);
    tcase_add_test(tc, test_session_clamp);
    tcase_add_test(tc, test_session_check_future);
    tcase_add_test(tc, test_session_touch_due_future);
    tcase_add_test(tc, test_session_dead);
    tcase_add_test(tc, test_cookie_values);
    tcase_add_test(tc, test_cookie_thousands_and_huge);
    tcase_add_test(tc, test_cookie_header);
    tcase_add_loop_test(tc, test_redirect_safe, 0,
                        sizeof(safe_targets) / sizeof(safe_targets[0]));
    tcase_add_loop_test(tc, test_redirect_unsafe, 0,
                        sizeof(unsafe_targets) / sizeof(unsafe_targets[0]));
    tcase_add_test(tc, test_redirect_limits);
    tcase_add_test(tc, test_query_param_and_encode);
    return tc;
}
