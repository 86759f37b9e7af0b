/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_token.h
 * @brief Session tokens: 256 random bits from the system CSPRNG, carried
 *        base64url-encoded in the cookie, stored only as their SHA-256.
 */
#ifndef RUS_TOKEN_H
#define RUS_TOKEN_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Random bytes in a token. */
#define RUS_TOKEN_BYTES 32
/** Length of the cookie form: unpadded base64url of RUS_TOKEN_BYTES. */
#define RUS_TOKEN_CHARS 43
/** Length of the stored form: lower-case hex SHA-256. */
#define RUS_TOKEN_HASH_CHARS 64

/**
 * Make a new token.
 * @param ptoken  receives the cookie form (RUS_TOKEN_CHARS characters)
 * @param phash   receives the stored form (RUS_TOKEN_HASH_CHARS hex)
 * @return APR_SUCCESS, or the CSPRNG's error (then nothing is set)
 */
apr_status_t rus_token_new(const char **ptoken, const char **phash,
                           apr_pool_t *p);

/**
 * Check a cookie value strictly (exact length, base64url alphabet,
 * canonical last character) and compute its stored form.
 * @param phash  receives the stored form on success
 * @return APR_SUCCESS, or APR_EINVAL for anything malformed
 */
apr_status_t rus_token_hash(const char **phash, const char *token,
                            apr_pool_t *p);

/** SHA-256 of @a len bytes at @a data into @a out (32 bytes). */
void rus_sha256(unsigned char out[32], const void *data, apr_size_t len);

/** 1 when rus_sha256 uses the processor's SHA extensions. */
int rus_sha256_accel(void);

/** Use the SHA extensions when @a on and the processor has them, else the
 *  portable code (the tests run both). */
void rus_sha256_set_accel(int on);

/**
 * Compare two strings of equal length in time that depends only on the
 * length. @return 1 when equal, 0 otherwise (also for different lengths)
 */
int rus_secret_equal(const char *a, const char *b);

#endif /* RUS_TOKEN_H */
