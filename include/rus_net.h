/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_net.h
 * @brief Trusted peers: IPv4/IPv6 addresses and CIDR blocks, parsed
 *        strictly at configuration time and matched against the TCP peer.
 */
#ifndef RUS_NET_H
#define RUS_NET_H

#include <apr_pools.h>
#include <apr_errno.h>

/** One address block. IPv4 blocks are kept as IPv4 (also when written as
 *  IPv4-mapped IPv6, ::ffff:a.b.c.d/n with n >= 96). */
typedef struct rus_cidr_t {
    int v6;                 /**< 1: IPv6 block, 0: IPv4 block */
    unsigned char addr[16]; /**< network address (first 4 bytes for v4) */
    unsigned int bits;      /**< prefix length */
} rus_cidr_t;

/**
 * Parse "ADDR" or "ADDR/BITS". ADDR is dotted-quad IPv4 (no leading zeros)
 * or IPv6 text; BITS is a decimal prefix length within the family's range.
 * An address with bits set below the prefix is refused, since it is almost
 * always a typo for another block.
 * @param pmsg  receives the reason on failure, allocated from @a p
 * @return APR_SUCCESS or APR_EINVAL
 */
apr_status_t rus_cidr_parse(rus_cidr_t *cidr, const char *text, apr_pool_t *p,
                            const char **pmsg);

/**
 * Does the peer address belong to the block? An IPv4-mapped IPv6 peer
 * (::ffff:a.b.c.d, as a dual-stack listener reports IPv4 clients) is
 * compared as the IPv4 address it carries.
 * @param v6    1 when @a addr holds 16 bytes of IPv6, 0 for 4 bytes of IPv4
 * @return 1 on a match, else 0
 */
int rus_cidr_match(const rus_cidr_t *cidr, int v6, const unsigned char *addr);

/** The widest blocks that are not refused outright but warned about: an
 *  IPv4 block wider than a /8, an IPv6 block wider than a /32. */
#define RUS_CIDR_WIDE_V4 8
#define RUS_CIDR_WIDE_V6 32

/**
 * Is the block so wide that it can hardly be a list of proxies? Every
 * client inside it may send RemoteUserHeader and be whoever it names:
 * 0.0.0.0/0 and ::/0 trust the whole Internet.
 * @return 1 for an IPv4 block shorter than /RUS_CIDR_WIDE_V4 or an IPv6
 *         block shorter than /RUS_CIDR_WIDE_V6, else 0
 */
int rus_cidr_too_wide(const rus_cidr_t *cidr);

#endif /* RUS_NET_H */
