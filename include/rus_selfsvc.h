/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_selfsvc.h
 * @brief What a user sees of their own sessions (the remoteuser-sessions
 *        page and its JSON), the identity a JavaScript front end asks for
 *        (remoteuser-info), and whether a request without identity is a
 *        program's (401) or a browser navigation (302 to the login URL).
 *        No httpd here: the glue hands the rows in, and writes out what
 *        these functions build.
 *
 * No token and no stored token hash ever leaves the module on these
 * paths: a session is named on the page by a reference derived from the
 * viewing session's own token (rus_selfsvc_ref()), and the page's forms
 * carry a CSRF token derived from it too (rus_selfsvc_csrf()); neither
 * means anything to another session or another user.
 */
#ifndef RUS_SELFSVC_H
#define RUS_SELFSVC_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rus_store.h"

/** Longest User-Agent kept with a session, in bytes. */
#define RUS_UA_MAX 256

/** Hex characters of a session reference (rus_selfsvc_ref()). */
#define RUS_SELFSVC_REF_LEN 32
/** Hex characters of a CSRF token (rus_selfsvc_csrf()). */
#define RUS_SELFSVC_CSRF_LEN 64

/**
 * A User-Agent as a session row keeps it: control bytes (C0, DEL, and the
 * C1 range when encoded as UTF-8) removed, bytes that are not UTF-8
 * replaced by '?', cut to at most RUS_UA_MAX bytes at a character
 * boundary.
 * @return the cleaned value from @a p; "" for NULL
 */
const char *rus_ua_clean(apr_pool_t *p, const char *ua);

/**
 * HMAC-SHA-256 (RFC 2104, on rus_sha256()) of @a mlen bytes at @a msg
 * under the key of @a klen bytes at @a key, into @a out. Scratch from
 * @a ptemp, wiped before returning.
 */
void rus_hmac_sha256(unsigned char out[32], const void *key, apr_size_t klen,
                     const void *msg, apr_size_t mlen, apr_pool_t *ptemp);

/**
 * The CSRF token of the session page's forms for the session whose
 * cookie carries @a token (the raw token, never stored): lowercase hex of
 * HMAC-SHA-256(@a token, "remoteuser-sessions csrf"), from @a p; NULL
 * for a NULL or empty @a token (equal to nothing).
 */
const char *rus_selfsvc_csrf(apr_pool_t *p, const char *token);

/**
 * How the page of the session with raw token @a token names the session
 * whose stored hash is @a hash: the first RUS_SELFSVC_REF_LEN lowercase
 * hex characters of HMAC-SHA-256(@a token, "remoteuser-sessions ref " +
 * @a hash), from @a p; NULL for a NULL or empty @a token or a NULL
 * @a hash (equal to nothing).
 */
const char *rus_selfsvc_ref(apr_pool_t *p, const char *token, const char *hash);

/** Are @a a and @a b the same string? In time that depends on their
 *  lengths only, not on where they differ. NULL is equal to nothing. */
int rus_selfsvc_equal(const char *a, const char *b);

/** One session of the page. */
typedef struct rus_selfsvc_row_t {
    const char *ref;        /**< rus_selfsvc_ref() of its hash */
    int current;            /**< 1: the session viewing the page */
    apr_int64_t created_at; /**< UNIX seconds: the login */
    apr_int64_t last_seen;
    apr_int64_t expires_at;
    const char *ip;         /**< "" when unknown */
    const char *user_agent; /**< "" when unknown */
} rus_selfsvc_row_t;

/**
 * The HTML page of @a user's sessions @a rows (rus_selfsvc_row_t, in the
 * order to show), every string HTML-escaped, no external resource, a
 * small inline style, with a "Sign out" form per other session and one
 * "Sign out all other sessions" form, posting to @a action (the page's own
 * path, already a safe local path) with @a csrf. @a notice (may be NULL)
 * is a line to show at the top (what the last form did). @a now for
 * relative times. From @a p.
 */
const char *rus_selfsvc_html(apr_pool_t *p, const char *user,
                             const apr_array_header_t *rows, const char *action,
                             const char *csrf, const char *notice,
                             apr_int64_t now);

/**
 * The same list as JSON: {"user": ..., "csrf": ..., "sessions": [{"id":
 * ref, "current": true|false, "created": n, "last_seen": n, "expires": n,
 * "ip": ..., "user_agent": ...}, ...]}, strings escaped, from @a p.
 */
const char *rus_selfsvc_json(apr_pool_t *p, const char *user,
                             const apr_array_header_t *rows, const char *csrf);

/** What remoteuser-info tells about the request's identity. */
typedef struct rus_info_t {
    const rus_user_t *user; /**< the resolved user (groups, attributes) */
    const char *source;     /**< "frontend", "header" or "session" */
    /** for source "session": the session, and when its idle timeout
     *  ends it (0: no idle timeout) */
    const rus_session_t *session;
    apr_int64_t idle_expires;
    apr_int64_t expires; /**< when the session ends at the latest (the
                                 stored expires_at or the MaxAge in force,
                                 whichever is first) */
} rus_info_t;

/**
 * The JSON of remoteuser-info: {"user": name, "id": n, "groups": [...],
 * "email": ..., "first_name": ..., "last_name": ..., "attributes":
 * {name: value, ...}, "source": ...} and, for a session, "created",
 * "expires" and "idle_expires" (null when none). Strings escaped; a value
 * failing rus_text_check() is left out. From @a p.
 */
const char *rus_info_json(apr_pool_t *p, const rus_info_t *info);

/** The JSON body of a 401 of remoteuser-info or of a programmatic
 *  request: {"error": "unauthenticated", "login": login_url or null}. */
const char *rus_unauth_json(apr_pool_t *p, const char *login_url);

/**
 * Does a request without identity look like a program's rather than a
 * browser navigation (RemoteUserUnauthenticatedAction Auto)? Yes when it
 * has X-Requested-With: XMLHttpRequest (any case), or a Sec-Fetch-Mode
 * that is not "navigate", or an Accept header that lists neither
 * text/html nor * / * (media ranges compared without parameters, any
 * case; an Accept with q=0 for them does not list them; "text / *" takes
 * text/html too, "application / *" does not; an empty Accept lists
 * nothing). No Accept at all, or "* / *" (curl), is a navigation.
 * @param xrw     X-Requested-With, or NULL
 * @param mode    Sec-Fetch-Mode, or NULL
 * @param accept  Accept, or NULL
 * @return 1 for a program (401), 0 for a navigation (302)
 */
int rus_unauth_programmatic(const char *xrw, const char *mode,
                            const char *accept);

#endif /* RUS_SELFSVC_H */
