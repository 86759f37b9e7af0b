/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What a login says about its user besides the name (Django's
 * configure_user): the values of RemoteUserAttribute and
 * RemoteUserGroupsFrom, read from the request's environment or from the
 * trusted proxy's headers, mapped (RemoteUserGroupMap) and checked, into
 * the rus_profile_t the store writes with the login. Every value is
 * hostile: one that cannot be kept is left out and logged by its length,
 * never by its content; the rest of the login goes on. */

#include <apr_strings.h>

#include "rus_header.h"
#include "rus_profile.h"
#include "rus_username.h"

#include "httpd_private.h"

/* What reading a source gave. */
typedef enum {
    SRC_ABSENT = 0, /* not there (or not to be used): keep what is stored */
    SRC_VALUE       /* a value, possibly "" */
} src_read_e;

/* The value of the request variable @a name: the environment first (what
 * mod_authnz_ldap, mod_auth_mellon and mod_auth_openidc set), then the
 * notes. NULL when neither has it. */
static const char *env_get(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->subprocess_env, name);

    return v != NULL ? v : apr_table_get(r->notes, name);
}

/* Read @a src for @a what (an attribute's name, or "groups") of @a user
 * into *pvalue. A header only when @a from_header, found under the rules
 * of the identity header: a look-alike spelling or a repeat is not used
 * (warning). */
static src_read_e source_read(request_rec *r, const rus_httpd_source_t *src,
                              const char *env_name, const char *what,
                              const char *user, int from_header,
                              const char **pvalue)
{
    const char *raw = NULL, *offender = NULL, *absent, *why;
    rus_header_e found;

    if (!src->header) {
        *pvalue = env_get(r, env_name);
        absent = apr_pstrcat(r->pool, "variable ", env_name, NULL);
        found = *pvalue != NULL ? RUS_HEADER_FOUND : RUS_HEADER_ABSENT;
    }
    else if (!from_header) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00127) "%s of user '%s': %s ignored, the "
                                      "identity did not come from "
                                      "RemoteUserHeader of a trusted proxy",
                      what, rus_httpd_log_name(r, user), src->spec);
        return SRC_ABSENT;
    }
    else {
        found = rus_header_find(r->headers_in, src->name, &raw, &offender);
        absent = apr_pstrcat(r->pool, "header ", src->name, NULL);
        *pvalue = raw;
    }
    switch (found) {
    case RUS_HEADER_ABSENT:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RUSLOGNO(00128) "%s of user '%s': %s is not set, the "
                                      "stored value is kept",
                      what, rus_httpd_log_name(r, user), absent);
        return SRC_ABSENT;
    case RUS_HEADER_VARIANT:
    case RUS_HEADER_REPEATED:
        why = found == RUS_HEADER_VARIANT
                  ? apr_psprintf(r->pool,
                                 "the request has header '%s', a "
                                 "look-alike of %s (underscore/dash spoof)",
                                 rus_httpd_log_name(r, offender), src->name)
                  : apr_psprintf(r->pool,
                                 "header %s was sent more than once (or "
                                 "its value holds \", \")",
                                 src->name);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00126) "%s of user '%s' not taken: %s", what,
                      rus_httpd_log_name(r, user), why);
        return SRC_ABSENT;
    case RUS_HEADER_FOUND:
        break;
    }
    return SRC_VALUE;
}

/* The value of attribute @a a, checked, or NULL (not given). */
static const char *attr_value(request_rec *r, const rus_httpd_attr_source_t *a,
                              const char *user, int from_header)
{
    const char *value = NULL;
    rus_value_error_e err;

    if (source_read(r, &a->src, a->src.name, a->name, user, from_header, &value)
        != SRC_VALUE) {
        return NULL;
    }
    err = rus_attr_value_check(a->name, value, strlen(value));
    if (err != RUS_VALUE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      RUSLOGNO(00125) "%s of user '%s' from %s not stored: "
                                      "%s (%lu bytes; the limit is %lu)",
                      a->name, rus_httpd_log_name(r, user), a->src.spec,
                      rus_value_error_str(err), (unsigned long)strlen(value),
                      (unsigned long)rus_attr_value_max(a->name));
        return NULL;
    }
    return apr_pstrdup(r->pool, value);
}

/* @a s without ASCII spaces and tabs at either end. */
static const char *trim(apr_pool_t *p, const char *s)
{
    const char *e = s + strlen(s);

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    return apr_pstrmemdup(p, s, (apr_size_t)(e - s));
}

/* The raw group values of the login: split at the separator, or one per
 * variable VAR_0, VAR_1, ... NULL when the source is absent. */
static apr_array_header_t *group_values(request_rec *r,
                                        const rus_httpd_source_t *src,
                                        const char *user, int from_header)
{
    apr_array_header_t *vals;
    const char *value = NULL;
    int i;

    if (!src->iterate) {
        if (source_read(r, src, src->name, "groups", user, from_header, &value)
            != SRC_VALUE) {
            return NULL;
        }
        return rus_groups_split(r->pool, value, src->sep);
    }
    vals = NULL;
    /* One past the limit is enough to tell the list is too long. */
    for (i = 0; i <= RUS_PROFILE_GROUPS_MAX; i++) {
        const char *name = apr_psprintf(r->pool, "%s%d", src->name, i);
        const char *item;

        if (source_read(r, src, name, "groups", user, from_header, &value)
            != SRC_VALUE) {
            break;
        }
        if (vals == NULL) {
            vals = apr_array_make(r->pool, 8, sizeof(const char *));
        }
        item = trim(r->pool, value);
        if (item[0] != '\0' && !rus_names_have(vals, item)) {
            APR_ARRAY_PUSH(vals, const char *) = item;
        }
    }
    return vals;
}

/* @a value through the location's RemoteUserGroupMap list: the first map
 * that matches gives the group; with maps but none matching, NULL. */
static const char *group_mapped(request_rec *r, const rus_dir_conf *conf,
                                const char *value, const char *user)
{
    ap_regmatch_t m[AP_MAX_REG_MATCH];
    int i;

    if (conf->group_maps == NULL || conf->group_maps->nelts == 0) {
        return value;
    }
    for (i = 0; i < conf->group_maps->nelts; i++) {
        const rus_httpd_group_map_t *map =
            &APR_ARRAY_IDX(conf->group_maps, i, rus_httpd_group_map_t);

        if (ap_regexec(map->re, value, AP_MAX_REG_MATCH, m, 0) == 0) {
            return ap_pregsub(r->pool, map->replacement, value,
                              AP_MAX_REG_MATCH, m);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  RUSLOGNO(00131) "a group value of user '%s' (%lu bytes) "
                                  "matches no RemoteUserGroupMap: not used",
                  rus_httpd_log_name(r, user), (unsigned long)strlen(value));
    return NULL;
}

/* The groups the login lists, mapped and checked, at most
 * RUS_PROFILE_GROUPS_MAX; NULL when the source is absent. */
static apr_array_header_t *groups_gather(request_rec *r,
                                         const rus_dir_conf *conf,
                                         const char *user, int from_header)
{
    const rus_httpd_source_t *src = conf->groups_from;
    apr_array_header_t *vals, *groups;
    int i;

    vals = group_values(r, src, user, from_header);
    if (vals == NULL) {
        return NULL;
    }
    groups = apr_array_make(r->pool, vals->nelts > 0 ? vals->nelts : 1,
                            sizeof(const char *));
    for (i = 0; i < vals->nelts; i++) {
        const char *g =
            group_mapped(r, conf, APR_ARRAY_IDX(vals, i, const char *), user);

        if (g == NULL || rus_names_have(groups, g)) {
            continue;
        }
        if (!rus_group_name_valid(g)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          RUSLOGNO(00129) "a group of user '%s' from %s "
                                          "(%lu bytes) is not a group "
                                          "name (empty, too long, a "
                                          "control character, a space, a "
                                          "comma or invalid UTF-8): not "
                                          "used",
                          rus_httpd_log_name(r, user), src->spec,
                          (unsigned long)strlen(g));
            continue;
        }
        if (groups->nelts == RUS_PROFILE_GROUPS_MAX) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          RUSLOGNO(00130) "user '%s' has more than %d "
                                          "groups in %s: the rest are "
                                          "ignored",
                          rus_httpd_log_name(r, user), RUS_PROFILE_GROUPS_MAX,
                          src->spec);
            break;
        }
        APR_ARRAY_PUSH(groups, const char *) = g;
    }
    return groups;
}

int rus_httpd_profile_reads_env(const rus_dir_conf *conf)
{
    int i;

    if (conf->groups_from != NULL && !conf->groups_from->header) {
        return 1;
    }
    for (i = 0; conf->attributes != NULL && i < conf->attributes->nelts; i++) {
        if (!APR_ARRAY_IDX(conf->attributes, i, rus_httpd_attr_source_t)
                 .src.header) {
            return 1;
        }
    }
    return 0;
}

const rus_profile_t *rus_httpd_profile_gather(request_rec *r,
                                              const rus_dir_conf *conf,
                                              const char *user, int from_header)
{
    rus_profile_t *prof;
    int i, given = 0;

    if ((conf->attributes == NULL || conf->attributes->nelts == 0)
        && conf->groups_from == NULL) {
        return NULL;
    }
    prof = apr_pcalloc(r->pool, sizeof(*prof));
    for (i = 0; conf->attributes != NULL && i < conf->attributes->nelts; i++) {
        const rus_httpd_attr_source_t *a =
            &APR_ARRAY_IDX(conf->attributes, i, rus_httpd_attr_source_t);
        const char *v = attr_value(r, a, user, from_header);

        if (v == NULL) {
            continue;
        }
        given = 1;
        if (strcmp(a->name, "email") == 0) {
            prof->email = v;
        }
        else if (strcmp(a->name, "first_name") == 0) {
            prof->first_name = v;
        }
        else if (strcmp(a->name, "last_name") == 0) {
            prof->last_name = v;
        }
        else {
            rus_attr_t *x;

            if (prof->attrs == NULL) {
                prof->attrs = apr_array_make(r->pool, 4, sizeof(rus_attr_t));
            }
            x = apr_array_push(prof->attrs);
            x->name = a->name;
            x->value = v;
        }
    }
    if (conf->groups_from != NULL) {
        prof->groups = groups_gather(r, conf, user, from_header);
        prof->groups_replace = rus_conf_groups_sync(conf) == 1;
        given = given || prof->groups != NULL;
    }
    return given ? prof : NULL;
}
