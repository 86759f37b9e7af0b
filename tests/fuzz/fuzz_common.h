/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Shared by the libFuzzer targets in tests/fuzz: APR set-up, the pool that
 * is cleared after every input, an exact-size heap copy of the input, and
 * the invariant check that aborts (libFuzzer then saves the input). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

/** Inputs longer than this are ignored (the Cookie header limit). */
#define FUZZ_MAX_INPUT 16384

/* libFuzzer's entry points. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * Start one input: returns a malloc'ed NUL-terminated copy of exactly
 * @a size + 1 bytes (so ASan sees any read past its end) and the pool for
 * this input. Until fuzz_end(), apr_palloc() and apr_pcalloc() hand out
 * individually malloc'ed blocks, so that ASan also sees overflows of pool
 * memory, which a real APR pool would hide inside its larger blocks.
 */
char *fuzz_begin(const uint8_t *data, size_t size, apr_pool_t **pp);

/** End the input: clear the pool, free the copy and the pool blocks. */
void fuzz_end(char *copy);

/** Problems fuzz_text_problems() can report, as a bit mask. */
#define FUZZ_TEXT_MALFORMED 0x01 /**< not well-formed UTF-8 somewhere */
#define FUZZ_TEXT_CONTROL   0x02 /**< a C0/C1 control character or DEL */

/**
 * A second, independent reading of RFC 3629 (its Table 3 byte ranges) for
 * checking rus_text_check(): which problems @a len bytes at @a s have
 * anywhere, 0 for none.
 */
int fuzz_text_problems(const char *s, size_t len);

/** Report a broken invariant and abort. */
void fuzz_fail(const char *file, int line, const char *what);

#define FUZZ_ASSERT(cond)                         \
    do {                                          \
        if (!(cond)) {                            \
            fuzz_fail(__FILE__, __LINE__, #cond); \
        }                                         \
    } while (0)

#endif /* FUZZ_COMMON_H */
