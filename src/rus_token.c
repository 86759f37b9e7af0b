/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Session tokens and the SHA-256 their stored form uses (FIPS 180-4; a
 * small local implementation keeps the core free of a crypto library).
 * On x86-64 processors with the SHA extensions, the compression function
 * uses them (chosen at run time with CPUID): hashing the cookie is on the
 * path of every request. */

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RUS_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <apr_general.h>
#include <apr_strings.h>

#include "rus_token.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ==================================================================== */
/* SHA-256                                                              */

static const apr_uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Process one 64-byte block into the state h (portable C). */
static void sha256_block_c(apr_uint32_t h[8], const unsigned char *blk)
{
    apr_uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = ((apr_uint32_t)blk[4 * i] << 24)
               | ((apr_uint32_t)blk[4 * i + 1] << 16)
               | ((apr_uint32_t)blk[4 * i + 2] << 8)
               | (apr_uint32_t)blk[4 * i + 3];
    }
    for (i = 16; i < 64; i++) {
        apr_uint32_t s0 =
            ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        apr_uint32_t s1 =
            ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    f = h[5];
    g = h[6];
    k = h[7];
    for (i = 0; i < 64; i++) {
        t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g))
             + K[i] + w[i];
        t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22))
             + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

#ifdef RUS_SHA_NI
/* The same with the SHA extensions: 16 groups of four rounds, the message
 * schedule four words at a time (Intel's "SHA extensions" white paper). */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_block_ni(apr_uint32_t h[8], const unsigned char *blk)
{
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abef, cdgh, abef0, cdgh0, tmp, msg, x[16];
    int i;

    tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
    cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);
    abef = _mm_alignr_epi8(tmp, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
    abef0 = abef;
    cdgh0 = cdgh;
    for (i = 0; i < 16; i++) {
        if (i < 4) {
            x[i] = _mm_shuffle_epi8(_mm_loadu_si128(
                                        (const __m128i *)(blk + 16 * i)),
                                    bswap);
        }
        else {
            /* W[t-16] + s0(W[t-15]), + W[t-7], + s1(W[t-2]) */
            tmp = _mm_add_epi32(_mm_sha256msg1_epu32(x[i - 4], x[i - 3]),
                                _mm_alignr_epi8(x[i - 1], x[i - 2], 4));
            x[i] = _mm_sha256msg2_epu32(tmp, x[i - 1]);
        }
        msg = _mm_add_epi32(x[i], _mm_loadu_si128((const __m128i *)&K[4 * i]));
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
        msg = _mm_shuffle_epi32(msg, 0x0E);
        abef = _mm_sha256rnds2_epu32(abef, cdgh, msg);
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
    tmp = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(tmp, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, tmp, 8));
}

/* 1 when the processor has the SHA extensions and SSE4.1 (CPUID leaf 7
 * EBX bit 29; leaf 1 ECX bits 9 and 19). */
static int cpu_has_sha(void)
{
    unsigned int a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9))
        || !(c & (1u << 19))) {
        return 0;
    }
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

/* -1: not decided yet; 0: portable C; 1: SHA extensions. */
static int use_accel = -1;

void rus_sha256_set_accel(int on)
{
#ifdef RUS_SHA_NI
    __atomic_store_n(&use_accel, on && cpu_has_sha(), __ATOMIC_RELAXED);
#else
    (void)on;
    use_accel = 0;
#endif
}

int rus_sha256_accel(void)
{
    int v = __atomic_load_n(&use_accel, __ATOMIC_RELAXED);

    if (v < 0) {
        rus_sha256_set_accel(1);
        v = __atomic_load_n(&use_accel, __ATOMIC_RELAXED);
    }
    return v;
}

static void sha256_block(apr_uint32_t h[8], const unsigned char *blk, int accel)
{
#ifdef RUS_SHA_NI
    if (accel) {
        sha256_block_ni(h, blk);
        return;
    }
#else
    (void)accel;
#endif
    sha256_block_c(h, blk);
}

void rus_sha256(unsigned char out[32], const void *data, apr_size_t len)
{
    int accel = rus_sha256_accel();
    apr_uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    const unsigned char *in = data;
    unsigned char tail[128];
    apr_uint64_t bits = (apr_uint64_t)len * 8;
    apr_size_t rest, tail_len, i;

    while (len >= 64) {
        sha256_block(h, in, accel);
        in += 64;
        len -= 64;
    }
    rest = len;
    memset(tail, 0, sizeof(tail));
    if (rest > 0) {
        memcpy(tail, in, rest);
    }
    tail[rest] = 0x80;
    tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++) {
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    sha256_block(h, tail, accel);
    if (tail_len == 128) {
        sha256_block(h, tail + 64, accel);
    }
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* ==================================================================== */
/* tokens                                                               */

/* The stored form of raw token bytes: hex of their SHA-256. */
static const char *hash_hex(const unsigned char *raw, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[32];
    char *out = apr_palloc(p, RUS_TOKEN_HASH_CHARS + 1);
    int i;

    rus_sha256(digest, raw, RUS_TOKEN_BYTES);
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[RUS_TOKEN_HASH_CHARS] = '\0';
    return out;
}

apr_status_t rus_token_new(const char **ptoken, const char **phash,
                           apr_pool_t *p)
{
    unsigned char raw[RUS_TOKEN_BYTES];
    char *token;
    apr_status_t rv;
    int i, o = 0;
    apr_uint32_t acc = 0;
    int nbits = 0;

    rv = apr_generate_random_bytes(raw, sizeof(raw));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    token = apr_palloc(p, RUS_TOKEN_CHARS + 1);
    for (i = 0; i < RUS_TOKEN_BYTES; i++) {
        acc = (acc << 8) | raw[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            token[o++] = b64url[(acc >> nbits) & 0x3f];
        }
    }
    if (nbits > 0) {
        token[o++] = b64url[(acc << (6 - nbits)) & 0x3f];
    }
    token[o] = '\0';
    *ptoken = token;
    *phash = hash_hex(raw, p);
    memset(raw, 0, sizeof(raw));
    return APR_SUCCESS;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

apr_status_t rus_token_hash(const char **phash, const char *token,
                            apr_pool_t *p)
{
    unsigned char raw[RUS_TOKEN_BYTES];
    apr_uint32_t acc = 0;
    int i, nbits = 0, o = 0, v;

    /* strnlen: never walk further than one character past a valid token */
    if (token == NULL
        || strnlen(token, RUS_TOKEN_CHARS + 1) != RUS_TOKEN_CHARS) {
        return APR_EINVAL;
    }
    for (i = 0; i < RUS_TOKEN_CHARS; i++) {
        v = b64url_value(token[i]);
        if (v < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            raw[o++] = (unsigned char)(acc >> nbits);
        }
    }
    /* 43 characters carry 258 bits: the 2 left over must be zero, so that
     * every token has exactly one cookie form. */
    if ((acc & ((1u << nbits) - 1)) != 0) {
        memset(raw, 0, sizeof(raw));
        return APR_EINVAL;
    }
    *phash = hash_hex(raw, p);
    memset(raw, 0, sizeof(raw));
    return APR_SUCCESS;
}

int rus_secret_equal(const char *a, const char *b)
{
    apr_size_t la = strlen(a), lb = strlen(b), i;
    unsigned char diff = 0;

    if (la != lb) {
        return 0;
    }
    for (i = 0; i < la; i++) {
        diff |= (unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}
