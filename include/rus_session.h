/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_session.h
 * @brief Session policy (expiry, idle timeout, touch interval, virtual
 *        host binding) and the session cookie's wire format. Time is
 *        always passed in, so tests drive the clock.
 */
#ifndef RUS_SESSION_H
#define RUS_SESSION_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Django's SESSION_COOKIE_AGE: two weeks. */
#define RUS_SESSION_MAX_AGE_DEFAULT 1209600
/** last_seen is written at most this often (seconds). */
#define RUS_SESSION_TOUCH_INTERVAL 60
/** Characters of a session's public id (rus_session_public_id). */
#define RUS_SESSION_PUBLIC_ID_LEN 12
/** Longest Cookie header value looked at; longer ones carry no session. */
#define RUS_COOKIE_HEADER_MAX 16384
/** At most this many distinct well-formed tokens of our cookie name are
 *  looked up for one request; more is no session (and is logged). Logout
 *  revokes all of them, however many. */
#define RUS_COOKIE_CANDIDATES_MAX 16
/**
 * How far the wall clock may jump, forward or back, without harm to the
 * sessions (seconds). The server cannot tell a jump from time passing, so:
 * - a session past its expiry or idle timeout is not valid, but its row is
 *   deleted only once it is past them by more than this (on sight, or by
 *   the purge): after a forward jump it is invalid while the clock is
 *   ahead, and valid again once the clock is set right;
 * - created_at and last_seen in the future (written while the clock was
 *   ahead) count as now, and the next touch writes them so; expires_at
 *   moves back with created_at, so the skew stretches neither the idle
 *   timeout nor MaxAge.
 */
#define RUS_CLOCK_GRACE 3600

/** A row of the sessions table (the token hash is its key). */
typedef struct rus_session_t {
    apr_int64_t user_id;    /**< the user it authenticates */
    const char *vhost;      /**< the virtual host it was issued for */
    apr_int64_t created_at; /**< UNIX seconds */
    apr_int64_t last_seen;  /**< UNIX seconds, written every touch interval */
    apr_int64_t expires_at; /**< UNIX seconds; invalid from then on */
    const char *ip;         /**< the client address at login (useragent_ip),
                                 "" when unknown; rus_session_list() gives
                                 it, rus_session_find() need not */
    const char *user_agent; /**< the User-Agent at login as
                                 rus_ua_clean() kept it, "" when none; as
                                 ip */
} rus_session_t;

/** What a stored session is worth for one request. */
typedef enum {
    RUS_SESSION_VALID = 0,
    RUS_SESSION_EXPIRED,    /**< now >= expires_at */
    RUS_SESSION_TOO_OLD,    /**< older than the MaxAge in force here */
    RUS_SESSION_IDLE,       /**< unused for longer than the idle timeout */
    RUS_SESSION_OTHER_VHOST /**< issued for another virtual host */
} rus_session_state_e;

/**
 * Bring a session written while the clock was ahead back to @a now: a
 * created_at after @a now becomes @a now and expires_at moves back by as
 * much (the session keeps its lifetime, counted from now); a last_seen
 * after @a now becomes @a now. Past values are left alone. This is what
 * rus_session_touch() writes, and what every check here assumes.
 */
void rus_session_clamp(rus_session_t *s, apr_int64_t now);

/**
 * Update @a s as rus_session_touch() updated its row at @a now: clamped
 * (rus_session_clamp()), and last_seen set to @a now.
 */
void rus_session_touched(rus_session_t *s, apr_int64_t now);

/**
 * Judge a session for a request on @a vhost at @a now, under the limits of
 * the location at hand: a session issued under a longer MaxAge (another
 * location, or before the setting was lowered) is still held to this one.
 * Times in the future count as @a now (rus_session_clamp()).
 * @param max_age       seconds from created_at, 0 for none (expires_at
 *                      always applies)
 * @param idle_timeout  seconds, 0 for none
 */
rus_session_state_e rus_session_check(const rus_session_t *s, const char *vhost,
                                      apr_int64_t max_age,
                                      apr_int64_t idle_timeout,
                                      apr_int64_t now);

/**
 * May a session that is not valid be deleted on sight? Only when it expired
 * or went idle (under @a idle_timeout, 0 for none) more than
 * RUS_CLOCK_GRACE seconds before @a now: one just past its time may only
 * look so because the clock jumped ahead. Times in the future count as
 * @a now.
 * @return 1 if it is dead for good, else 0
 */
int rus_session_dead(const rus_session_t *s, apr_int64_t idle_timeout,
                     apr_int64_t now);

/** Short English text for a state, for debug log lines. */
const char *rus_session_state_str(rus_session_state_e state);

/**
 * A session's public id, for logs, request notes and remoteuser-admin: the
 * first RUS_SESSION_PUBLIC_ID_LEN characters of its stored hash (hex of
 * the token's SHA-256). It names the session; it is worth nothing toward
 * the cookie, which the hash itself cannot be turned back into.
 * @return the id in @a p, or "-" for a hash that is not one
 */
const char *rus_session_public_id(const char *hash, apr_pool_t *p);

/**
 * Is it time to write last_seen? At most every RUS_SESSION_TOUCH_INTERVAL
 * seconds, and more often under a short idle timeout (a quarter of it) so
 * that an active user is never taken for an idle one. Always when
 * created_at or last_seen is in the future, so that the touch clamps them.
 */
int rus_session_touch_due(const rus_session_t *s, apr_int64_t idle_timeout,
                          apr_int64_t now);

/**
 * Collect the values of cookie @a name from a Cookie header value. httpd
 * joins repeated Cookie headers with ", ", so both ';' and ',' separate.
 * Values are returned as sent (without surrounding quotes); nothing is
 * returned for a header longer than RUS_COOKIE_HEADER_MAX.
 * @param values  room for @a max pointers
 * @return the number of values found (at most @a max)
 */
int rus_cookie_values(const char *header, const char *name, const char **values,
                      int max, apr_pool_t *p);

/** What a session found for a request's cookie is worth, and what the
 *  glue does about it. */
typedef enum {
    RUS_SV_VALID = 0,      /**< use it */
    RUS_SV_VALID_TOUCH,    /**< use it, and write last_seen now */
    RUS_SV_INVALID,        /**< no session (expired or idle only just, or
                                older than the MaxAge here): ignore it */
    RUS_SV_REVOKE_EXPIRED, /**< expired for good: ignore it and delete it */
    RUS_SV_REVOKE_IDLE,    /**< idle for good: ignore it and delete it */
    RUS_SV_FOREIGN_VHOST,  /**< issued for another scope: ignore it */
    RUS_SV_USER_INACTIVE   /**< its user is inactive: refuse, and revoke
                                every session of the user */
} rus_session_verdict_e;

/** The settings a session is judged by, at one location. */
typedef struct rus_session_limits_t {
    const char *vhost;        /**< the scope of this request (vhost key) */
    apr_int64_t max_age;      /**< seconds from created_at, 0 for none */
    apr_int64_t idle_timeout; /**< seconds, 0 for none */
    int allow_inactive;       /**< inactive users may use their sessions */
} rus_session_limits_t;

/**
 * Judge a stored session and its user for a request at @a now: the
 * session's own state first (rus_session_check()), a session that is not
 * valid being deleted only when rus_session_dead() says so; then the user;
 * then whether last_seen is due (rus_session_touch_due()).
 * @param user_active  the user row's is_active
 * @param pstate       if not NULL, the session's state, for the log line
 * @return the verdict
 */
rus_session_verdict_e rus_session_verdict(const rus_session_t *s,
                                          int user_active,
                                          const rus_session_limits_t *lim,
                                          apr_int64_t now,
                                          rus_session_state_e *pstate);

/** Attributes of the session cookie. */
typedef struct rus_cookie_attrs_t {
    const char *name;     /**< cookie name */
    const char *path;     /**< Path attribute */
    const char *domain;   /**< Domain attribute, NULL: host-only */
    const char *samesite; /**< "Lax", "Strict" or "None" */
    int secure;           /**< add Secure */
} rus_cookie_attrs_t;

/** RemoteUserSessionCookieSecure. */
typedef enum {
    RUS_COOKIE_SECURE_OFF = 0,
    RUS_COOKIE_SECURE_ON = 1,
    RUS_COOKIE_SECURE_AUTO = 2 /**< Secure over TLS */
} rus_cookie_secure_e;

/**
 * Is @a name a cookie name with the __Host- or __Secure- prefix (RFC
 * 6265bis)? Such a cookie is only set, and only read, over TLS.
 * @return 1 if so, else 0
 */
int rus_cookie_name_prefixed(const char *name);

/**
 * The session cookie's attributes from the settings: Secure when
 * @a secure is On, or Auto over TLS (@a tls), and always under
 * SameSite=None or a prefixed name; a __Host- cookie gets Path=/ and no
 * Domain, whatever is set. The strings are not copied.
 */
void rus_cookie_attrs_make(rus_cookie_attrs_t *a, const char *name,
                           const char *path, const char *domain,
                           const char *samesite, rus_cookie_secure_e secure,
                           int tls);

/**
 * A Set-Cookie header value: the cookie with @a value and Max-Age
 * @a max_age, HttpOnly. With a NULL @a value, one that expires the cookie
 * (empty value, Max-Age=0).
 */
const char *rus_cookie_header(apr_pool_t *p, const rus_cookie_attrs_t *a,
                              const char *value, apr_int64_t max_age);

/**
 * Is @a name usable as a cookie name (an RFC 6265 token)?
 * @return 1 if so, else 0
 */
int rus_cookie_name_valid(const char *name);

#endif /* RUS_SESSION_H */
