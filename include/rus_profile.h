/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_profile.h
 * @brief What the front end says about a user besides the name: the
 *        columns email, first_name and last_name, other attributes, and
 *        group memberships (Django's RemoteUserBackend.configure_user).
 *
 * The httpd glue gathers the values a login carries (environment
 * variables set by mod_authnz_ldap, mod_auth_mellon, mod_auth_openidc,
 * mod_auth_gssapi, or headers of a trusted proxy), checks each one here,
 * and hands the store a rus_profile_t of the valid ones. The store writes
 * only what differs from what it holds (rus_profile_differs()), in the
 * same transaction as the login.
 */
#ifndef RUS_PROFILE_H
#define RUS_PROFILE_H

#include <apr_pools.h>
#include <apr_tables.h>

/** Longest email address kept, in bytes (RFC 5321's path limit, as
 *  Django's EmailField max_length 254). */
#define RUS_EMAIL_MAX 254
/** Longest first_name or last_name kept, in bytes (Django: 150). */
#define RUS_PERSON_NAME_MAX 150
/** Longest value of another attribute kept, in bytes. */
#define RUS_ATTR_VALUE_MAX 1024
/** Longest attribute name: [a-z][a-z0-9_]{0,31}. */
#define RUS_ATTR_NAME_MAX 32
/** Most groups one login may list; the rest are ignored (with a warning
 *  by the caller). */
#define RUS_PROFILE_GROUPS_MAX 256

/** Where a membership comes from (user_groups.origin). */
#define RUS_ORIGIN_ADMIN    "admin"    /**< remoteuser-admin or by hand */
#define RUS_ORIGIN_FRONTEND "frontend" /**< a login's group source */

/** One attribute of a user, other than the three columns. */
typedef struct rus_attr_t {
    const char *name;  /**< [a-z][a-z0-9_]{0,31} */
    const char *value; /**< UTF-8 without control characters */
} rus_attr_t;

/** One membership of a user, as administrators see it. */
typedef struct rus_membership_t {
    const char *group;  /**< the group's name */
    const char *origin; /**< RUS_ORIGIN_ADMIN or RUS_ORIGIN_FRONTEND */
} rus_membership_t;

/**
 * What one login says about its user, every value checked already. A
 * NULL field (or array) was not given: the store keeps what it has.
 */
typedef struct rus_profile_t {
    const char *email;      /**< "" clears it */
    const char *first_name; /**< "" clears it */
    const char *last_name;  /**< "" clears it */
    /** rus_attr_t given, at most one per name; a value of "" deletes the
     *  stored attribute. NULL: none given. */
    apr_array_header_t *attrs;
    /** const char *, the groups the front end lists (each
     *  rus_group_name_valid(), no duplicates, at most
     *  RUS_PROFILE_GROUPS_MAX), possibly none. NULL: no group source
     *  given this login, memberships stay as they are. */
    apr_array_header_t *groups;
    /** With groups: 1 (RemoteUserGroupsSync Replace) makes the user's
     *  RUS_ORIGIN_FRONTEND memberships exactly @c groups (administrator
     *  memberships are kept, and a listed group the user has as one stays
     *  an administrator's); 0 (Add) only adds the missing ones. */
    int groups_replace;
} rus_profile_t;

/** Why a value was not kept. */
typedef enum {
    RUS_VALUE_OK = 0,
    RUS_VALUE_TOO_LONG, /**< over the attribute's limit */
    RUS_VALUE_BAD_UTF8, /**< not well-formed UTF-8 */
    RUS_VALUE_CONTROL   /**< holds a control character (CR, LF, NUL, ...) */
} rus_value_error_e;

/** Is @a name an attribute name: [a-z][a-z0-9_]{0,31}? 1 if so. */
int rus_attr_name_valid(const char *name);

/** Is @a name one of the users columns "email", "first_name",
 *  "last_name"? 1 if so. */
int rus_attr_is_column(const char *name);

/** The byte limit of attribute @a name's values (RUS_EMAIL_MAX for
 *  "email", RUS_PERSON_NAME_MAX for the two names, else
 *  RUS_ATTR_VALUE_MAX). */
apr_size_t rus_attr_value_max(const char *name);

/**
 * May @a len bytes at @a value be kept as attribute @a name? UTF-8
 * without control characters, within rus_attr_value_max(). The empty
 * value is valid (it clears the attribute).
 */
rus_value_error_e rus_attr_value_check(const char *name, const char *value,
                                       apr_size_t len);

/** A short English text for a refusal, for log lines. Never NULL. */
const char *rus_value_error_str(rus_value_error_e err);

/**
 * Split a group source's value at @a sep (a non-empty string: "," by
 * default, LDAP's "; "), trimming ASCII spaces and tabs around each
 * item, skipping empty items and repeats (the first is kept).
 * @return array of const char * (from @a p), possibly empty; items are
 *         not checked (see rus_group_name_valid())
 */
apr_array_header_t *rus_groups_split(apr_pool_t *p, const char *value,
                                     const char *sep);

/**
 * Would writing @a want change the user @a cur (as rus_user_find() gives
 * it: the three columns, attrs, groups and frontend_groups)?
 * - a column given and different;
 * - an attribute given non-empty and different or absent, or given empty
 *   and present;
 * - groups given, and one of them not among the user's groups, or (with
 *   groups_replace) one of the user's frontend_groups not among them.
 * @param cur   a user row (rus_store.h), NULL fields taken as empty
 * @return 1 if something would be written, else 0 (@a want NULL: 0)
 */
struct rus_user_t;
int rus_profile_differs(const struct rus_user_t *cur,
                        const rus_profile_t *want);

/**
 * The encoded attribute list backends read in one column alongside the
 * user (SQL aggregates build it): for each attribute, in any order, the
 * byte length of its name in decimal, ':', the name, the byte length of
 * its value in decimal, ':', the value; nothing between items.
 * "5:title3:CTO" is { title = CTO }.
 * @param enc    the encoded list; NULL or "" for none
 * @param pattrs receives an array of rus_attr_t sorted by name (from
 *               @a p), or NULL when there is none
 * @return APR_SUCCESS, or APR_EINVAL for a malformed list (a length that
 *         does not fit, a name repeated)
 */
apr_status_t rus_attrs_decode(apr_pool_t *p, const char *enc, apr_size_t len,
                              apr_array_header_t **pattrs);

/** The encoding rus_attrs_decode() reads, of @a attrs (rus_attr_t; NULL
 *  for none), in their order. "" when there is none. */
const char *rus_attrs_encode(apr_pool_t *p, const apr_array_header_t *attrs);

/** The value of attribute @a name in @a attrs (rus_attr_t), or NULL. */
const char *rus_attrs_get(const apr_array_header_t *attrs, const char *name);

/** Is @a name in @a names (const char *; NULL is empty)? 1 if so. */
int rus_names_have(const apr_array_header_t *names, const char *name);

#endif /* RUS_PROFILE_H */
