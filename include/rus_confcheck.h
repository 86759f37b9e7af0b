/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_confcheck.h
 * @brief The decisions of the startup checks (configtest): which section
 *        paths apply to which, and which settings contradict each other.
 *        The glue walks httpd's configuration and asks these.
 */
#ifndef RUS_CONFCHECK_H
#define RUS_CONFCHECK_H

#include <apr.h>

/**
 * Can a section path be matched without running httpd's matcher? A path
 * with a wildcard (`*`, `?`, `[`) is matched by fnmatch at request time,
 * a regular expression section not at all here: both are "patterns".
 * @return 1 for a literal path, else 0
 */
int rus_confcheck_path_literal(const char *path);

/**
 * Does the literal section path @a outer apply at @a inner, the way httpd
 * matches `<Location>` and `<Directory>` paths: @a inner equals @a outer,
 * or continues it after a '/' ("/app" applies at "/app/admin", not at
 * "/apple"). Trailing slashes are not significant ("/app/" and "/app"
 * are one directory), except that "/" applies everywhere.
 * @return 1 when it applies, else 0
 */
int rus_confcheck_path_covers(const char *outer, const char *inner);

/**
 * How many path components a literal path has ("/" 0, "/var/www/" 2):
 * httpd merges `<Directory>` sections shortest first.
 */
int rus_confcheck_path_depth(const char *path);

/**
 * Is RemoteUserSessionIdleTimeout @a idle longer than MaxAge @a max_age,
 * so that it can never end a session (MaxAge always does first)?
 * @param idle     seconds, 0: no idle timeout
 * @return 1 when the idle timeout cannot take effect, else 0
 */
int rus_confcheck_idle_exceeds(apr_int64_t idle, apr_int64_t max_age);

#endif /* RUS_CONFCHECK_H */
