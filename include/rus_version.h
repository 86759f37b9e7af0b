/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_version.h
 * @brief The project's version, shown at httpd startup and by the tools.
 */
#ifndef RUS_VERSION_H
#define RUS_VERSION_H

#define RUS_VERSION "0.1.0"

#endif /* RUS_VERSION_H */
