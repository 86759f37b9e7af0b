/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Session policy and the session cookie's wire format. */

#include <string.h>

#include <apr_strings.h>

#include "rus_header.h"
#include "rus_session.h"

void rus_session_clamp(rus_session_t *s, apr_int64_t now)
{
    if (s->created_at > now) {
        s->expires_at -= s->created_at - now;
        s->created_at = now;
    }
    if (s->last_seen > now) {
        s->last_seen = now;
    }
}

void rus_session_touched(rus_session_t *s, apr_int64_t now)
{
    rus_session_clamp(s, now);
    s->last_seen = now;
}

rus_session_state_e rus_session_check(const rus_session_t *s, const char *vhost,
                                      apr_int64_t max_age,
                                      apr_int64_t idle_timeout, apr_int64_t now)
{
    rus_session_t c = *s; /* clamped */

    rus_session_clamp(&c, now);
    if (c.vhost == NULL || vhost == NULL || strcmp(c.vhost, vhost) != 0) {
        return RUS_SESSION_OTHER_VHOST;
    }
    if (now >= c.expires_at) {
        return RUS_SESSION_EXPIRED;
    }
    if (max_age > 0 && now - c.created_at >= max_age) {
        return RUS_SESSION_TOO_OLD;
    }
    if (idle_timeout > 0 && now - c.last_seen > idle_timeout) {
        return RUS_SESSION_IDLE;
    }
    return RUS_SESSION_VALID;
}

int rus_session_dead(const rus_session_t *s, apr_int64_t idle_timeout,
                     apr_int64_t now)
{
    rus_session_t c = *s; /* clamped */

    rus_session_clamp(&c, now);
    if (now - c.expires_at >= RUS_CLOCK_GRACE) {
        return 1;
    }
    return idle_timeout > 0
           && now - c.last_seen > idle_timeout + RUS_CLOCK_GRACE;
}

const char *rus_session_state_str(rus_session_state_e state)
{
    switch (state) {
    case RUS_SESSION_VALID:
        return "valid";
    case RUS_SESSION_EXPIRED:
        return "expired";
    case RUS_SESSION_TOO_OLD:
        return "older than the MaxAge in force here";
    case RUS_SESSION_IDLE:
        return "idle too long";
    case RUS_SESSION_OTHER_VHOST:
        return "issued for another virtual host";
    }
    return "unknown";
}

const char *rus_session_public_id(const char *hash, apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; hash != NULL && i < RUS_SESSION_PUBLIC_ID_LEN; i++) {
        if (!((hash[i] >= '0' && hash[i] <= '9')
              || (hash[i] >= 'a' && hash[i] <= 'f'))) {
            break;
        }
    }
    return i == RUS_SESSION_PUBLIC_ID_LEN
               ? apr_pstrmemdup(p, hash, RUS_SESSION_PUBLIC_ID_LEN)
               : "-";
}

int rus_session_touch_due(const rus_session_t *s, apr_int64_t idle_timeout,
                          apr_int64_t now)
{
    apr_int64_t interval = RUS_SESSION_TOUCH_INTERVAL;

    if (idle_timeout > 0 && idle_timeout / 4 < interval) {
        interval = idle_timeout / 4 > 0 ? idle_timeout / 4 : 1;
    }
    if (s->created_at > now || s->last_seen > now) {
        return 1; /* written while the clock was ahead: clamp the row */
    }
    return now - s->last_seen >= interval;
}

/* RFC 6265 cookie-name = token (RFC 9110). */
int rus_cookie_name_valid(const char *name)
{
    return rus_http_token_valid(name);
}

int rus_cookie_name_prefixed(const char *name)
{
    return strncmp(name, "__Host-", 7) == 0
           || strncmp(name, "__Secure-", 9) == 0;
}

void rus_cookie_attrs_make(rus_cookie_attrs_t *a, const char *name,
                           const char *path, const char *domain,
                           const char *samesite, rus_cookie_secure_e secure,
                           int tls)
{
    a->name = name;
    a->path = path;
    a->domain = domain;
    a->samesite = samesite;
    a->secure = secure == RUS_COOKIE_SECURE_ON
                || (secure == RUS_COOKIE_SECURE_AUTO && tls)
                || strcmp(samesite, "None") == 0
                || rus_cookie_name_prefixed(name);
    if (strncmp(name, "__Host-", 7) == 0) {
        /* What browsers accept for the prefix, whatever else is set. */
        a->path = "/";
        a->domain = NULL;
    }
}

rus_session_verdict_e rus_session_verdict(const rus_session_t *s,
                                          int user_active,
                                          const rus_session_limits_t *lim,
                                          apr_int64_t now,
                                          rus_session_state_e *pstate)
{
    rus_session_state_e state;

    state =
        rus_session_check(s, lim->vhost, lim->max_age, lim->idle_timeout, now);
    if (pstate != NULL) {
        *pstate = state;
    }
    switch (state) {
    case RUS_SESSION_VALID:
        break;
    case RUS_SESSION_OTHER_VHOST:
        return RUS_SV_FOREIGN_VHOST;
    case RUS_SESSION_EXPIRED:
        return rus_session_dead(s, lim->idle_timeout, now)
                   ? RUS_SV_REVOKE_EXPIRED
                   : RUS_SV_INVALID;
    case RUS_SESSION_IDLE:
        return rus_session_dead(s, lim->idle_timeout, now) ? RUS_SV_REVOKE_IDLE
                                                           : RUS_SV_INVALID;
    default:
        return RUS_SV_INVALID;
    }
    if (!user_active && !lim->allow_inactive) {
        return RUS_SV_USER_INACTIVE;
    }
    return rus_session_touch_due(s, lim->idle_timeout, now) ? RUS_SV_VALID_TOUCH
                                                            : RUS_SV_VALID;
}

int rus_cookie_values(const char *header, const char *name, const char **values,
                      int max, apr_pool_t *p)
{
    apr_size_t nlen = strlen(name);
    const char *c = header;
    int n = 0;

    if (header == NULL || strlen(header) > RUS_COOKIE_HEADER_MAX) {
        return 0;
    }
    while (*c && n < max) {
        const char *start, *end;

        while (*c == ' ' || *c == '\t' || *c == ';' || *c == ',') {
            c++;
        }
        start = c;
        while (*c && *c != ';' && *c != ',') {
            c++;
        }
        end = c;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((apr_size_t)(end - start) > nlen + 1 && start[nlen] == '='
            && strncmp(start, name, nlen) == 0) {
            const char *v = start + nlen + 1;

            if (end - v >= 2 && *v == '"' && end[-1] == '"') {
                v++;
                end--;
            }
            values[n++] = apr_pstrmemdup(p, v, (apr_size_t)(end - v));
        }
    }
    return n;
}

const char *rus_cookie_header(apr_pool_t *p, const rus_cookie_attrs_t *a,
                              const char *value, apr_int64_t max_age)
{
    return apr_pstrcat(p, a->name, "=", value ? value : "", "; Path=", a->path,
                       a->domain ? "; Domain=" : "", a->domain ? a->domain : "",
                       "; Max-Age=",
                       apr_psprintf(p, "%" APR_INT64_T_FMT,
                                    value ? max_age : 0),
                       "; HttpOnly", a->secure ? "; Secure" : "",
                       "; SameSite=", a->samesite, NULL);
}
