/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_version.h
 * @brief The project's version, shown at httpd startup and by the tools.
 *
 * The version is kept in the top-level VERSION file only; the Makefile
 * passes it as -DRUS_VERSION='"N.N.N"' to every compilation.
 */
#ifndef RUS_VERSION_H
#define RUS_VERSION_H

#ifndef RUS_VERSION
#error "RUS_VERSION comes from the top-level VERSION file: build with make"
#endif

#endif /* RUS_VERSION_H */
