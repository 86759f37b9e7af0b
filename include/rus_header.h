/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_header.h
 * @brief The trusted identity header: finding it among the request
 *        headers without being fooled by look-alike spellings or repeats.
 *
 * CGI (and mod_proxy's backends, and many frameworks) map "X-Auth-User" and
 * "X_Auth_User" to the same variable HTTP_X_AUTH_USER. A client that sends
 * the underscore spelling past a proxy that only sets or strips the dash
 * spelling can therefore forge the identity (CVE-2015-0219). Any spelling
 * that differs from the configured name only in '-' versus '_' (and case)
 * is refused outright.
 */
#ifndef RUS_HEADER_H
#define RUS_HEADER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rus_username.h"

/** What the request carries. */
typedef enum {
    RUS_HEADER_ABSENT = 0, /**< neither the header nor a look-alike */
    RUS_HEADER_FOUND,      /**< exactly one copy, under the exact name */
    RUS_HEADER_VARIANT,    /**< a look-alike spelling: a spoof attempt */
    RUS_HEADER_REPEATED    /**< sent more than once */
} rus_header_e;

/**
 * Are two header names the same for CGI? Case-insensitive, with '-' and '_'
 * taken as equal.
 * @return 1 if alike, else 0
 */
int rus_header_name_alike(const char *a, const char *b);

/**
 * Look for the header @a name in @a headers.
 *
 * httpd joins a header sent several times into one value separated by
 * ", ", so such a separator in the value counts as a repeat; a user name
 * carried in this header therefore cannot contain ", ".
 * @param pvalue     receives the raw value for RUS_HEADER_FOUND
 * @param poffender  receives the offending header name for
 *                   RUS_HEADER_VARIANT and RUS_HEADER_REPEATED
 */
rus_header_e rus_header_find(const apr_table_t *headers, const char *name,
                             const char **pvalue, const char **poffender);

/** Remove @a name and every look-alike spelling of it from @a headers. */
void rus_header_remove_alike(apr_table_t *headers, const char *name);

/**
 * Prepare a header value for use as a user name: check it is UTF-8
 * without control characters. It is not trimmed (HTTP parsing has removed
 * the white space around field values; what is left is part of the name,
 * which rus_username_clean() refuses at either end, as for r->user).
 * @param pvalue  receives the value, allocated from @a p; "" means the
 *                header counts as absent
 * @param perr    receives RUS_NAME_BAD_UTF8 or RUS_NAME_CONTROL on failure
 * @return APR_SUCCESS or APR_EINVAL
 */
apr_status_t rus_header_value(const char **pvalue, rus_name_error_e *perr,
                              apr_pool_t *p, const char *raw);

/**
 * Is @a s an RFC 9110 token (1*tchar: ASCII letters, digits and
 * !#$%&'*+-.^_`|~)? Header field names and cookie names are tokens.
 * @return 1 if so, 0 if not (NULL and "" are not)
 */
int rus_http_token_valid(const char *s);

#endif /* RUS_HEADER_H */
