/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* Require remoteuser-group NAME...: the authz provider. */

#include <apr_strings.h>

#include "rus_username.h"

#include "httpd_private.h"

/* Parse the group names once, at configuration time. */
static const char *group_parse(cmd_parms *cmd, const char *args,
                               const void **parsed)
{
    apr_array_header_t *names = apr_array_make(cmd->pool, 4, sizeof(char *));
    const char *line = args, *word;

    while (*(word = ap_getword_conf(cmd->pool, &line)) != '\0') {
        if (!rus_group_name_valid(word)) {
            return apr_psprintf(cmd->pool,
                                "Require remoteuser-group: '%s' is not a "
                                "group name",
                                word);
        }
        APR_ARRAY_PUSH(names, const char *) = word;
    }
    if (names->nelts == 0) {
        return "Require remoteuser-group needs at least one group name";
    }
    *parsed = names;
    return NULL;
}

/* Grant when the resolved user belongs to any listed group. The groups
 * came with the user from the store: no further query here. */
static authz_status group_check(request_rec *r, const char *require_args,
                                const void *parsed)
{
    const apr_array_header_t *names = parsed;
    rus_req_state *st;
    int i;

    (void)require_args;
    if (r->user == NULL) {
        return AUTHZ_DENIED_NO_USER;
    }
    st = rus_httpd_req_state(r, 0);
    if (st == NULL || st->clean == NULL || strcmp(st->clean, r->user) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RUSLOGNO(00032) "Require remoteuser-group needs the "
                                      "user resolved by this module: set "
                                      "RemoteUserEngine On here");
        return AUTHZ_GENERAL_ERROR;
    }
    for (i = 0; i < names->nelts; i++) {
        if (rus_group_list_has(st->user.groups,
                               APR_ARRAY_IDX(names, i, const char *))) {
            return AUTHZ_GRANTED;
        }
    }
    return AUTHZ_DENIED;
}

/* Under AuthType RemoteUser, after our own check_authz resolved the user:
 * a user who fails Require gets 403. mod_authz_core answers an
 * authenticated user's failure with 401 whenever an AuthType is set (so
 * that Basic or Negotiate may ask for other credentials), but this
 * AuthType has no challenge to send: a 401 without WWW-Authenticate is a
 * protocol error, and no login would change the answer. The same Require
 * sections are evaluated as an access check (mod_authz_core's
 * access_checker_ex, which answers 403 for a user denied); a grant, or
 * anything else, is left to mod_authz_core's own check that follows. */
int rus_httpd_check_authz_status(request_rec *r)
{
    const char *type;
    int status;

    if (r->user == NULL) {
        return DECLINED;
    }
    type = ap_auth_type(r);
    if (type == NULL || strcasecmp(type, RUS_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    status = ap_run_access_checker_ex(r);
    if (status != HTTP_FORBIDDEN) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  RUSLOGNO(00101) "user '%s' not authorized for %s under "
                                  "AuthType %s: 403",
                  rus_httpd_log_name(r, r->user), rus_httpd_log_name(r, r->uri),
                  RUS_AUTH_TYPE);
    return HTTP_FORBIDDEN;
}

const authz_provider rus_httpd_group_provider = {
    &group_check,
    &group_parse,
};
