/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fuzz target: trusted proxy blocks (rus_cidr_parse, rus_cidr_match).
 *
 * Input: the RemoteUserTrustedProxy argument. On success the block is
 * matched against its own first and last address, against addresses just
 * outside it, and against addresses made from the input bytes, each also
 * in its IPv4-mapped IPv6 form. */

#include <arpa/inet.h>
#include <string.h>

#include <apr_strings.h>

#include "rus_net.h"

#include "fuzz_common.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff };

static int bit(const unsigned char *a, unsigned int i)
{
    return (a[i / 8] >> (7 - i % 8)) & 1;
}

static void set_bit(unsigned char *a, unsigned int i, int on)
{
    unsigned char m = (unsigned char)(0x80 >> (i % 8));

    a[i / 8] = (unsigned char)(on ? (a[i / 8] | m) : (a[i / 8] & ~m));
}

/* The header's contract, written out independently. */
static int ref_match(const rus_cidr_t *c, int v6, const unsigned char *addr)
{
    unsigned int i;

    if (v6 && memcmp(addr, v4mapped, 12) == 0) {
        v6 = 0;
        addr += 12;
    }
    if (v6 != c->v6) {
        return 0;
    }
    for (i = 0; i < c->bits; i++) {
        if (bit(addr, i) != bit(c->addr, i)) {
            return 0;
        }
    }
    return 1;
}

/* Match @a addr (4 or 16 bytes) and, for IPv4, its mapped form. */
static void check_match(const rus_cidr_t *c, int v6, const unsigned char *addr,
                        int expect)
{
    unsigned char mapped[16];
    int got = rus_cidr_match(c, v6, addr);

    /* An IPv4-mapped peer counts as IPv4, also for an IPv6 block that
     * covers ::ffff:0:0/96 (such as ::/80): no IPv6 block matches it. */
    if (v6 && memcmp(addr, v4mapped, 12) == 0) {
        expect = c->v6 ? 0 : expect;
    }

    FUZZ_ASSERT(got == ref_match(c, v6, addr));
    if (expect >= 0) {
        FUZZ_ASSERT(got == expect);
    }
    if (!v6) {
        memcpy(mapped, v4mapped, 12);
        memcpy(mapped + 12, addr, 4);
        FUZZ_ASSERT(rus_cidr_match(c, 1, mapped) == got);
    }
}

static void check_block(const rus_cidr_t *c, const char *text,
                        const uint8_t *data, size_t size, apr_pool_t *p)
{
    unsigned int width = c->v6 ? 128 : 32, i;
    unsigned char addr[16];
    char buf[INET6_ADDRSTRLEN];
    const char *again_text, *msg = NULL;
    rus_cidr_t again;
    size_t k;

    FUZZ_ASSERT(c->v6 == 0 || c->v6 == 1);
    FUZZ_ASSERT(c->bits <= width);
    if (strchr(text, '/') == NULL) {
        FUZZ_ASSERT(c->bits == width);
    }
    for (i = c->bits; i < 128; i++) {
        FUZZ_ASSERT(bit(c->addr, i) == 0); /* also the unused v4 bytes */
    }
    /* IPv4-mapped blocks are kept as IPv4. */
    FUZZ_ASSERT(
        !(c->v6 && c->bits >= 96 && memcmp(c->addr, v4mapped, 12) == 0));

    /* The canonical text of the block parses back to it. */
    if (c->v6) {
        FUZZ_ASSERT(inet_ntop(AF_INET6, c->addr, buf, sizeof(buf)) != NULL);
        again_text = apr_psprintf(p, "%s/%u", buf, c->bits);
    }
    else {
        again_text = apr_psprintf(p, "%u.%u.%u.%u/%u", c->addr[0], c->addr[1],
                                  c->addr[2], c->addr[3], c->bits);
    }
    FUZZ_ASSERT(rus_cidr_parse(&again, again_text, p, &msg) == APR_SUCCESS);
    FUZZ_ASSERT(again.v6 == c->v6 && again.bits == c->bits);
    FUZZ_ASSERT(memcmp(again.addr, c->addr, 16) == 0);

    /* First and last address of the block. */
    memcpy(addr, c->addr, 16);
    check_match(c, c->v6, addr, 1);
    for (i = c->bits; i < width; i++) {
        set_bit(addr, i, 1);
    }
    check_match(c, c->v6, addr, 1);

    /* A different prefix bit: outside. */
    if (c->bits > 0) {
        unsigned int flip = size > 0 ? data[0] % c->bits : c->bits - 1;

        memcpy(addr, c->addr, 16);
        set_bit(addr, flip, !bit(addr, flip));
        check_match(c, c->v6, addr, 0);
    }

    /* The prefix with host bits from the input: inside. */
    memcpy(addr, c->addr, 16);
    for (i = c->bits; i < width && size > 0; i++) {
        set_bit(addr, i, bit(data, i % (8 * (unsigned int)size)));
    }
    check_match(c, c->v6, addr, 1);

    /* Addresses made of the input bytes, of both families. */
    for (k = 0; k < 16; k++) {
        addr[k] = size > 0 ? data[k % size] : 0;
    }
    check_match(c, 0, addr, -1);
    check_match(c, 1, addr, -1);
    memcpy(addr, v4mapped, 12);
    check_match(c, 1, addr, c->v6 ? 0 : -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = NULL;
    apr_pool_t *p;
    rus_cidr_t c;
    apr_status_t rv;
    char *text;

    if (size > FUZZ_MAX_INPUT) {
        return -1;
    }
    text = fuzz_begin(data, size, &p);

    memset(&c, 0xa5, sizeof(c));
    rv = rus_cidr_parse(&c, text, p, &msg);
    if (rv == APR_SUCCESS) {
        check_block(&c, text, data, size, p);
    }
    else {
        FUZZ_ASSERT(rv == APR_EINVAL);
        FUZZ_ASSERT(msg != NULL && *msg != '\0');
    }

    fuzz_end(text);
    return 0;
}
