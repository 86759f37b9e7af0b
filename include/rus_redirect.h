/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_redirect.h
 * @brief Where login and logout may send the browser: local paths only
 *        (the CVE-2019-3877 / CVE-2022-23527 class of open redirects), and
 *        the URL coding around the `next` parameter.
 */
#ifndef RUS_REDIRECT_H
#define RUS_REDIRECT_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Longest redirect target accepted. */
#define RUS_REDIRECT_MAX 2048

/**
 * Is @a target a safe local redirect? It must be printable ASCII without
 * spaces or backslashes, start with exactly one '/', and stay so under
 * percent-decoding (repeatedly, as some applications decode twice): no
 * "//host", "/\host", scheme, control character or backslash in any
 * decoded form either.
 * @return 1 when safe, else 0
 */
int rus_redirect_safe(const char *target);

/**
 * Find query parameter @a name in @a args (the part after '?') and decode
 * it ('+' and %XX).
 * @return APR_SUCCESS, APR_ENOENT when absent, APR_EINVAL when its
 *         encoding is broken
 */
apr_status_t rus_query_param(const char **pvalue, const char *args,
                             const char *name, apr_pool_t *p);

/** Percent-encode everything but RFC 3986 unreserved characters. */
const char *rus_url_encode(apr_pool_t *p, const char *s);

#endif /* RUS_REDIRECT_H */
