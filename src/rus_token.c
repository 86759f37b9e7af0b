/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Session tokens and the SHA-256 their stored form uses, from OpenSSL's
 * libcrypto (reviewed, and accelerated where the processor has the SHA
 * extensions): hashing the cookie is on the path of every request. */

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "rus_token.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ==================================================================== */
/* SHA-256                                                              */

/* Fetched once per process: EVP_sha256() alone would look the algorithm
 * up in the provider store on every call (about 2.5 times the cost). The
 * reference is held for the life of the process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

apr_status_t rus_sha256(unsigned char out[32], const void *data, apr_size_t len)
{
    unsigned int n = 0;

    if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL) {
        return APR_EGENERAL;
    }
    if (!EVP_Digest(data, len, out, &n, sha256_md, NULL) || n != 32) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* tokens                                                               */

/* The stored form of raw token bytes: hex of their SHA-256; NULL when
 * libcrypto fails. */
static const char *hash_hex(const unsigned char *raw, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[32];
    char *out;
    int i;

    if (rus_sha256(digest, raw, RUS_TOKEN_BYTES) != APR_SUCCESS) {
        return NULL;
    }
    out = apr_palloc(p, RUS_TOKEN_HASH_CHARS + 1);
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
    const char *hash;
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
    hash = hash_hex(raw, p);
    memset(raw, 0, sizeof(raw));
    if (hash == NULL) {
        return APR_EGENERAL;
    }
    *ptoken = token;
    *phash = hash;
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
    const char *hash;
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
    hash = hash_hex(raw, p);
    memset(raw, 0, sizeof(raw));
    if (hash == NULL) {
        return APR_EGENERAL;
    }
    *phash = hash;
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
