/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Common part of the fuzz targets; see fuzz_common.h. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "fuzz_common.h"

typedef void *palloc_fn(apr_pool_t *p, apr_size_t size);

static apr_pool_t *fuzz_pool;
static palloc_fn *real_palloc;

/* Blocks handed out by apr_palloc() during the current input. */
static void **blocks;
static size_t nblocks, blocks_room;
static int tracking;

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    *(void **)&real_palloc = dlsym(RTLD_NEXT, "apr_palloc");
    if (real_palloc == NULL || apr_initialize() != APR_SUCCESS
        || apr_pool_create(&fuzz_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: cannot set up APR\n");
        abort();
    }
    return 0;
}

static void *tracked_alloc(apr_size_t size, int zero)
{
    void *m;

    if (nblocks == blocks_room) {
        size_t room = blocks_room ? blocks_room * 2 : 256;
        void **grown = realloc(blocks, room * sizeof(*blocks));

        if (grown == NULL) {
            abort();
        }
        blocks = grown;
        blocks_room = room;
    }
    m = zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
    if (m == NULL) {
        abort();
    }
    blocks[nblocks++] = m;
    return m;
}

/* These override libapr's own (its internal calls go through the PLT too,
 * so apr_pstrdup(), apr_pstrmemdup(), apr_pstrcat(), apr_array_push() and
 * the tables are covered). Outside an input they forward to APR. */
void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    if (!tracking) {
        return real_palloc(p, size);
    }
    return tracked_alloc(size, 0);
}

/* apr_pools.h makes apr_pcalloc() a macro around apr_palloc(); libapr
 * still exports the function, which some of its code may call. */
#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *p, apr_size_t size);
void *apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    if (!tracking) {
        return memset(real_palloc(p, size), 0, size);
    }
    return tracked_alloc(size, 1);
}

char *fuzz_begin(const uint8_t *data, size_t size, apr_pool_t **pp)
{
    char *copy = malloc(size + 1);

    if (copy == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    copy[size] = '\0';
    tracking = 1;
    *pp = fuzz_pool;
    return copy;
}

void fuzz_end(char *copy)
{
    size_t i;

    /* Cleanups registered during the input may live in tracked blocks:
     * run them before the blocks go. */
    apr_pool_clear(fuzz_pool);
    tracking = 0;
    for (i = 0; i < nblocks; i++) {
        free(blocks[i]);
    }
    nblocks = 0;
    free(copy);
}

/* Length of the well-formed sequence at u (RFC 3629 section 4), 0 if none.
 * The code point goes to *pcp. */
static size_t utf8_seq(const unsigned char *u, size_t len, unsigned long *pcp)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i;
    unsigned long cp;

    if (u[0] <= 0x7F) {
        *pcp = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        n = 2;
    }
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        lo = u[0] == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = u[0] == 0xED ? 0x9F : 0xBF; /* no surrogates */
    }
    else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        lo = u[0] == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
        hi = u[0] == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    }
    else {
        return 0;
    }
    if (len < n || u[1] < lo || u[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (u[i] < 0x80 || u[i] > 0xBF) {
            return 0;
        }
    }
    cp = u[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (i = 1; i < n; i++) {
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    *pcp = cp;
    return n;
}

int fuzz_text_problems(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t off = 0, n;
    unsigned long cp = 0;
    int found = 0;

    while (off < len) {
        n = utf8_seq(u + off, len - off, &cp);
        if (n == 0) {
            found |= FUZZ_TEXT_MALFORMED;
            off++;
            continue;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            found |= FUZZ_TEXT_CONTROL;
        }
        off += n;
    }
    return found;
}
