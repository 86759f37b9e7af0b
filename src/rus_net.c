/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* CIDR blocks for RemoteUserTrustedProxy: strict parsing, exact matching. */

#include <arpa/inet.h>
#include <string.h>

#include <apr_strings.h>

#include "rus_net.h"

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0,    0,
                                                   0, 0, 0, 0, 0xff, 0xff };

/* Dotted-quad with exactly four decimal parts 0-255 and no leading zeros
 * (inet_pton alone differs between C libraries on "010.0.0.1"). */
static int parse_v4(const char *s, unsigned char out[4])
{
    int part = 0;

    while (part < 4) {
        unsigned int v = 0;
        int digits = 0;

        while (*s >= '0' && *s <= '9') {
            if (digits > 0 && v == 0) {
                return 0; /* leading zero */
            }
            v = v * 10 + (unsigned int)(*s - '0');
            if (v > 255) {
                return 0;
            }
            digits++;
            s++;
        }
        if (digits == 0) {
            return 0;
        }
        out[part++] = (unsigned char)v;
        if (part < 4) {
            if (*s != '.') {
                return 0;
            }
            s++;
        }
    }
    return *s == '\0';
}

/* A decimal prefix length 0..max without sign or leading zeros. */
static int parse_bits(const char *s, unsigned int max, unsigned int *pbits)
{
    unsigned int v = 0;
    const char *start = s;

    if (*s == '\0' || (s[0] == '0' && s[1] != '\0')) {
        return 0;
    }
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned int)(*s - '0');
        if (v > max) {
            return 0;
        }
        s++;
    }
    if (*s != '\0' || s == start) {
        return 0;
    }
    *pbits = v;
    return 1;
}

/* Are all bits of addr (len bytes) after the first `bits` zero? */
static int host_bits_clear(const unsigned char *addr, apr_size_t len,
                           unsigned int bits)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned int first = (unsigned int)i * 8;
        unsigned char mask;

        if (first + 8 <= bits) {
            continue;
        }
        mask = first >= bits ? 0xff : (unsigned char)(0xff >> (bits - first));
        if (addr[i] & mask) {
            return 0;
        }
    }
    return 1;
}

apr_status_t rus_cidr_parse(rus_cidr_t *cidr, const char *text, apr_pool_t *p,
                            const char **pmsg)
{
    rus_cidr_t out;
    const char *slash = strchr(text, '/');
    char *addr_text;
    int has_bits = slash != NULL;

    memset(&out, 0, sizeof(out));
    addr_text = has_bits ? apr_pstrmemdup(p, text, (apr_size_t)(slash - text))
                         : apr_pstrdup(p, text);
    if (parse_v4(addr_text, out.addr)) {
        out.v6 = 0;
        out.bits = 32;
    }
    else if (strchr(addr_text, ':') != NULL
             && inet_pton(AF_INET6, addr_text, out.addr) == 1) {
        out.v6 = 1;
        out.bits = 128;
    }
    else {
        *pmsg =
            apr_psprintf(p, "'%s' is not an IPv4 or IPv6 address", addr_text);
        return APR_EINVAL;
    }
    if (has_bits && !parse_bits(slash + 1, out.bits, &out.bits)) {
        *pmsg = apr_psprintf(p, "'%s' is not a prefix length from 0 to %u",
                             slash + 1, out.v6 ? 128u : 32u);
        return APR_EINVAL;
    }
    if (!host_bits_clear(out.addr, out.v6 ? 16 : 4, out.bits)) {
        *pmsg = apr_psprintf(p,
                             "'%s' has bits set after the first %u (write "
                             "the network address of the block)",
                             text, out.bits);
        return APR_EINVAL;
    }
    /* ::ffff:a.b.c.d/n (n >= 96) is the IPv4 block a.b.c.d/(n - 96). */
    if (out.v6 && out.bits >= 96
        && memcmp(out.addr, v4mapped_prefix, 12) == 0) {
        memmove(out.addr, out.addr + 12, 4);
        memset(out.addr + 4, 0, 12);
        out.v6 = 0;
        out.bits -= 96;
    }
    *cidr = out;
    return APR_SUCCESS;
}

int rus_cidr_match(const rus_cidr_t *cidr, int v6, const unsigned char *addr)
{
    unsigned int full, rest;

    if (v6 && memcmp(addr, v4mapped_prefix, 12) == 0) {
        v6 = 0;
        addr += 12;
    }
    if (v6 != cidr->v6) {
        return 0;
    }
    full = cidr->bits / 8;
    rest = cidr->bits % 8;
    if (memcmp(addr, cidr->addr, full) != 0) {
        return 0;
    }
    if (rest != 0) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));

        if ((addr[full] & mask) != (cidr->addr[full] & mask)) {
            return 0;
        }
    }
    return 1;
}

int rus_cidr_too_wide(const rus_cidr_t *cidr)
{
    return cidr->bits < (cidr->v6 ? RUS_CIDR_WIDE_V6 : RUS_CIDR_WIDE_V4);
}
