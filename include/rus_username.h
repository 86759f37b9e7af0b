/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_username.h
 * @brief Cleaning and validation of user names handed over by a front end.
 *
 * Every name that reaches the store, r->user, a header or a log line has
 * passed rus_username_clean() first.
 */
#ifndef RUS_USERNAME_H
#define RUS_USERNAME_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Longest accepted cleaned user name, in bytes (Django's username field). */
#define RUS_USERNAME_MAX 150

/** Cut a Kerberos realm ("alice@EXAMPLE.COM") or a Windows domain
 *  ("EXAMPLE\alice") off the name. */
#define RUS_CLEAN_STRIP_REALM 0x01
/** Fold ASCII letters A-Z to lower case. */
#define RUS_CLEAN_LOWERCASE 0x02

/** Why a name was refused. */
typedef enum {
    RUS_NAME_OK = 0,   /**< accepted */
    RUS_NAME_EMPTY,    /**< nothing left after cleaning */
    RUS_NAME_TOO_LONG, /**< longer than RUS_USERNAME_MAX bytes */
    RUS_NAME_BAD_UTF8, /**< not well-formed UTF-8 */
    RUS_NAME_CONTROL,  /**< holds a C0/C1 control character or DEL */
    RUS_NAME_SPACE     /**< starts or ends with white space or an
                            invisible character */
} rus_name_error_e;

/**
 * Clean and validate a user name.
 *
 * The raw name is first checked as a whole (well-formed UTF-8, no control
 * characters: a hostile realm part is refused, not silently cut away), then
 * cleaned according to @a flags, then checked for emptiness and length.
 * A name that starts or ends with white space (ASCII space or any Unicode
 * White_Space character) or an invisible character (Unicode
 * Default_Ignorable_Code_Point: U+00AD, U+200B-U+200F, U+2060-U+206F,
 * U+FEFF, ...), before or after cleaning, is refused rather than trimmed:
 * "admin " is not "admin", and is nobody.
 *
 * @param pclean  receives the cleaned name, allocated from @a p; set only on
 *                success
 * @param perr    receives the reason (RUS_NAME_OK on success); may be NULL
 * @param p       pool for the result
 * @param raw     the name as the front end gave it; NULL counts as empty
 * @param flags   RUS_CLEAN_STRIP_REALM | RUS_CLEAN_LOWERCASE
 * @return APR_SUCCESS, or APR_EINVAL when the name is refused
 */
apr_status_t rus_username_clean(const char **pclean, rus_name_error_e *perr,
                                apr_pool_t *p, const char *raw,
                                unsigned int flags);

/**
 * A short English text for a refusal reason, for log lines.
 * @return a static string, never NULL
 */
const char *rus_name_error_str(rus_name_error_e err);

/**
 * Tell whether @a len bytes at @a s are well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF) without any control
 * character (U+0000-U+001F, U+007F-U+009F).
 * @return RUS_NAME_OK, RUS_NAME_BAD_UTF8 or RUS_NAME_CONTROL
 */
rus_name_error_e rus_text_check(const char *s, apr_size_t len);

/**
 * Is @a name usable as a group name? 1 to RUS_USERNAME_MAX bytes of UTF-8
 * without control characters, ASCII space or commas (groups travel
 * comma-separated and are listed space-separated in Require lines, which
 * httpd splits on ASCII white space only; the other ASCII white space
 * characters are control characters).
 * @return 1 if so, else 0
 */
int rus_group_name_valid(const char *name);

/**
 * Is @a name one of the comma-separated names of @a list (compared
 * exactly, byte for byte, without trimming)?
 * @param list  a user's groups as stored; NULL is an empty list
 * @return 1 if so, else 0
 */
int rus_group_list_has(const char *list, const char *name);

#endif /* RUS_USERNAME_H */
