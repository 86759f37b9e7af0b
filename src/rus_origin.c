/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Fetch metadata and Origin against the request's own origin. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "rus_origin.h"

/* The default port of @scheme, 0 for a scheme we do not know. */
static unsigned int default_port(const char *scheme, apr_size_t len)
{
    if (len == 4 && strncasecmp(scheme, "http", 4) == 0) {
        return 80;
    }
    if (len == 5 && strncasecmp(scheme, "https", 5) == 0) {
        return 443;
    }
    return 0;
}

/* @s[0..len) without IPv6 brackets: sets *pstart and *plen. */
static void unbracket(const char *s, apr_size_t len, const char **pstart,
                      apr_size_t *plen)
{
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    *pstart = s;
    *plen = len;
}

/* Is @origin (an Origin header value, serialized as RFC 6454 says:
 * scheme "://" host [":" port], nothing else) the origin @scheme, @host,
 * @port? Anything unreadable is not. */
static int origin_is(const char *origin, const char *scheme, const char *host,
                     unsigned int port)
{
    const char *sep, *h, *colon, *self_h;
    apr_size_t slen, hlen, self_hlen;
    unsigned int oport = 0, self_port;
    const char *c;

    if (strlen(origin) > RUS_ORIGIN_MAX) {
        return 0;
    }
    sep = strstr(origin, "://");
    if (sep == NULL) {
        return 0; /* "null" too */
    }
    slen = (apr_size_t)(sep - origin);
    if (slen != strlen(scheme) || strncasecmp(origin, scheme, slen) != 0) {
        return 0;
    }
    self_port = port != 0 ? port : default_port(scheme, slen);
    h = sep + 3;
    /* the port follows the last ':' after an IPv6 literal's ']' */
    c = strrchr(h, ']');
    colon = strrchr(c != NULL ? c : h, ':');
    if (colon != NULL) {
        const char *d;

        if (colon[1] == '\0' || strlen(colon + 1) > 5) {
            return 0;
        }
        for (d = colon + 1; *d != '\0'; d++) {
            if (*d < '0' || *d > '9') {
                return 0;
            }
            oport = oport * 10 + (unsigned int)(*d - '0');
        }
        if (oport == 0 || oport > 65535) {
            return 0;
        }
        hlen = (apr_size_t)(colon - h);
    }
    else {
        oport = default_port(scheme, slen);
        hlen = strlen(h);
    }
    for (c = h; c < h + hlen; c++) {
        /* no path, user info, white space or control bytes */
        if (*c == '/' || *c == '@' || *c == '?' || *c == '#' || *c == '\\'
            || (unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return 0;
        }
    }
    unbracket(h, hlen, &h, &hlen);
    unbracket(host, strlen(host), &self_h, &self_hlen);
    return hlen > 0 && hlen == self_hlen && strncasecmp(h, self_h, hlen) == 0
           && oport == self_port && self_port != 0;
}

rus_site_e rus_request_site(const char *fetch_site, const char *origin,
                            const char *scheme, const char *host,
                            unsigned int port)
{
    rus_site_e site = RUS_SITE_UNKNOWN;

    if (fetch_site != NULL) {
        if (strcasecmp(fetch_site, "same-origin") == 0) {
            site = RUS_SITE_SAME_ORIGIN;
        }
        else if (strcasecmp(fetch_site, "none") == 0) {
            site = RUS_SITE_NONE;
        }
        else if (strcasecmp(fetch_site, "same-site") == 0) {
            site = RUS_SITE_SAME_SITE;
        }
        else {
            return RUS_SITE_CROSS; /* cross-site, or not a browser's value */
        }
    }
    if (origin != NULL) {
        if (scheme == NULL || host == NULL
            || !origin_is(origin, scheme, host, port)) {
            return RUS_SITE_CROSS;
        }
        if (site == RUS_SITE_UNKNOWN || site == RUS_SITE_NONE) {
            site = RUS_SITE_SAME_ORIGIN;
        }
    }
    return site;
}
