/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: the session token check (rus_token_hash) on a raw cookie
 * value, and SHA-256 (rus_sha256) with and without the SHA extensions.
 *
 * Input: the cookie value. */

#include <string.h>

#include "rus_token.h"

#include "fuzz_common.h"

/* base64url, written out independently of the code under test. */
static int b64(unsigned char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *hit;

    if (c == '\0') {
        return -1;
    }
    hit = strchr(alphabet, c);
    return hit ? (int)(hit - alphabet) : -1;
}

/* The header's contract: exact length, base64url alphabet, canonical last
 * character (the 2 bits beyond the 256 are zero). Decodes into raw. */
static int token_ok(const char *t, unsigned char raw[RUS_TOKEN_BYTES])
{
    unsigned int bits = 0, acc = 0;
    int i, o = 0, v;

    if (strlen(t) != RUS_TOKEN_CHARS) {
        return 0;
    }
    for (i = 0; i < RUS_TOKEN_CHARS; i++) {
        v = b64((unsigned char)t[i]);
        if (v < 0) {
            return 0;
        }
        acc = ((acc << 6) | (unsigned int)v) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o == RUS_TOKEN_BYTES && (acc & ((1u << bits) - 1)) == 0;
}

static void to_hex(char out[65], const unsigned char d[32])
{
    static const char hex[] = "0123456789abcdef";
    int i;

    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0x0f];
    }
    out[64] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char raw[RUS_TOKEN_BYTES], d1[32], d2[32];
    const char *hash = NULL;
    char expect[65];
    apr_pool_t *p;
    apr_status_t rv;
    char *token;
    int ok, i;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    token = fuzz_begin(data, size, &p);

    ok = token_ok(token, raw);
    rv = rus_token_hash(&hash, token, p);
    FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL);
    FUZZ_ASSERT((rv == APR_SUCCESS) == ok);
    if (rv == APR_SUCCESS) {
        FUZZ_ASSERT(hash != NULL);
        FUZZ_ASSERT(strlen(hash) == RUS_TOKEN_HASH_CHARS);
        for (i = 0; i < RUS_TOKEN_HASH_CHARS; i++) {
            FUZZ_ASSERT((hash[i] >= '0' && hash[i] <= '9')
                        || (hash[i] >= 'a' && hash[i] <= 'f'));
        }
        FUZZ_ASSERT(strlen(token) == RUS_TOKEN_CHARS);
        for (i = 0; i < RUS_TOKEN_CHARS; i++) {
            FUZZ_ASSERT(b64((unsigned char)token[i]) >= 0);
        }
        /* The stored form is the hex SHA-256 of the 32 decoded bytes. */
        rus_sha256(d1, raw, sizeof(raw));
        to_hex(expect, d1);
        FUZZ_ASSERT(strcmp(hash, expect) == 0);
    }

    /* Both SHA-256 implementations agree on any message (the accelerated
     * one only runs where the processor has the SHA extensions). */
    rus_sha256_set_accel(0);
    rus_sha256(d1, token, size);
    rus_sha256_set_accel(1);
    rus_sha256(d2, token, size);
    FUZZ_ASSERT(memcmp(d1, d2, sizeof(d1)) == 0);

    fuzz_end(token);
    return 0;
}
