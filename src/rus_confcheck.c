/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The decisions of the startup checks: section paths and settings. */

#include <string.h>

#include "rus_confcheck.h"

int rus_confcheck_path_literal(const char *path)
{
    return path != NULL && path[0] != '\0' && strpbrk(path, "*?[") == NULL;
}

/* The length of @a path without its trailing slashes ("/" stays "/"). */
static apr_size_t trimmed_len(const char *path)
{
    apr_size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    return n;
}

int rus_confcheck_path_covers(const char *outer, const char *inner)
{
    apr_size_t no = trimmed_len(outer), ni = trimmed_len(inner);

    if (no == 1 && outer[0] == '/') {
        return inner[0] == '/';
    }
    if (ni < no || strncmp(outer, inner, no) != 0) {
        return 0;
    }
    return ni == no || inner[no] == '/';
}

int rus_confcheck_path_depth(const char *path)
{
    apr_size_t i, n = trimmed_len(path);
    int depth = 0;

    for (i = 0; i < n; i++) {
        if (path[i] == '/' && i + 1 < n) {
            depth++;
        }
    }
    return depth;
}

int rus_confcheck_idle_exceeds(apr_int64_t idle, apr_int64_t max_age)
{
    return idle > 0 && idle > max_age;
}
