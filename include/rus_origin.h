/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_origin.h
 * @brief Where a request comes from, as a browser says it: the
 *        `Sec-Fetch-Site` and `Origin` request headers against the origin
 *        the request was sent to. The login and logout handlers use it
 *        against login and logout CSRF.
 */
#ifndef RUS_ORIGIN_H
#define RUS_ORIGIN_H

/** Longest Origin header value looked at; longer ones are foreign. */
#define RUS_ORIGIN_MAX 512

/** The relation of a request to its target, weakest claim wins. */
typedef enum {
    RUS_SITE_UNKNOWN = 0, /**< neither header: curl, scripts, old browsers */
    RUS_SITE_SAME_ORIGIN, /**< Origin is ours, or Sec-Fetch-Site same-origin */
    RUS_SITE_NONE,        /**< Sec-Fetch-Site none: typed URL, bookmark */
    RUS_SITE_SAME_SITE,   /**< Sec-Fetch-Site same-site: a sibling host or
                               another port of this host */
    RUS_SITE_CROSS        /**< Sec-Fetch-Site cross-site, an Origin other
                               than ours ("null" included), or a value that
                               cannot be read */
} rus_site_e;

/**
 * Classify a request from its `Sec-Fetch-Site` and `Origin` header values
 * (NULL when absent) and its own origin: the scheme, host and port the
 * client sent it to. Hosts and schemes compare case-insensitively, IPv6
 * brackets and default ports (80 for http, 443 for https) are normalised.
 * A foreign, "null" or unreadable Origin, a cross-site or unknown
 * Sec-Fetch-Site value give RUS_SITE_CROSS whatever the other header says.
 * Otherwise Sec-Fetch-Site decides, except that an Origin equal to ours
 * turns "none" or an absent Sec-Fetch-Site into RUS_SITE_SAME_ORIGIN.
 * @param fetch_site  the Sec-Fetch-Site value, or NULL
 * @param origin      the Origin value, or NULL
 * @param scheme      this request's scheme ("http" or "https")
 * @param host        the host it was sent to (without port)
 * @param port        the port it was sent to, 0 for the scheme's default
 * @return the relation; never fails
 */
rus_site_e rus_request_site(const char *fetch_site, const char *origin,
                            const char *scheme, const char *host,
                            unsigned int port);

#endif /* RUS_ORIGIN_H */
