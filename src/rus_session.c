/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Session policy and the session cookie's wire format. */

#include <string.h>

#include <apr_strings.h>

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
static int is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int rus_cookie_name_valid(const char *name)
{
    if (name == NULL || *name == '\0') {
        return 0;
    }
    for (; *name; name++) {
        if (!is_token_char(*name)) {
            return 0;
        }
    }
    return 1;
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
