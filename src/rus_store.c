/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The store facade: picks the backend for a spec and dispatches to it, and
 * keeps a per-process pool of connections for threaded callers. It holds no
 * query language of its own, and knows no backend but through the registry
 * below: the order of lists, the absence of optional callbacks and the
 * words of the integrity check are settled here, the same for every
 * backend. */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "rus_backend.h"
#include "rus_board.h"
#include "rus_store.h"

/* ---- the backend registry ------------------------------------------ */

/* Every backend this build knows, by scheme; the first one's example is
 * the one messages show. */
const rus_backend_t *const rus_backends[] = {
    &rus_backend_sqlite,
    &rus_backend_pg,
    NULL,
};

const rus_backend_t *rus_backend_find(const char *scheme, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; rus_backends[i] != NULL; i++) {
        const char *alias = rus_backends[i]->alias;

        if (strlen(rus_backends[i]->scheme) == len
            && strncmp(rus_backends[i]->scheme, scheme, len) == 0) {
            return rus_backends[i];
        }
        if (alias != NULL && strlen(alias) == len
            && strncmp(alias, scheme, len) == 0) {
            return rus_backends[i];
        }
    }
    return NULL;
}

const char *rus_backend_schemes(apr_pool_t *p)
{
    const char *out = "";
    apr_size_t i;

    for (i = 0; rus_backends[i] != NULL; i++) {
        out = apr_pstrcat(p, out, i ? ", " : "", rus_backends[i]->scheme, NULL);
    }
    return out;
}

const char *rus_backend_missing(const rus_backend_t *b)
{
    /* The fields messages use and the callbacks a request may reach
     * (rus_backend.h), in the struct's order; the first missing one is
     * named. */
    const struct {
        const char *name;
        int present;
    } required[] = {
        { "example", b->example != NULL },
        { "restore_hint", b->restore_hint != NULL },
        { "check", b->check != NULL },
        { "prepare", b->prepare != NULL },
        { "connect", b->connect != NULL },
        { "validate", b->validate != NULL },
        { "disconnect", b->disconnect != NULL },
        { "user_find", b->user_find != NULL },
        { "user_create", b->user_create != NULL },
        { "user_touch", b->user_touch != NULL },
        { "user_sync", b->user_sync != NULL },
        { "session_insert", b->session_insert != NULL },
        { "session_find", b->session_find != NULL },
        { "session_touch", b->session_touch != NULL },
        { "session_revoke", b->session_revoke != NULL },
        { "session_revoke_user", b->session_revoke_user != NULL },
        { "session_purge", b->session_purge != NULL },
        { "session_trim_user", b->session_trim_user != NULL },
    };
    /* A feed is all three callbacks or none: a store whose commits are
     * followed but cannot be waited on would leave every host's cache
     * without invalidation. */
    const struct {
        const char *name;
        int present;
    } feed[] = {
        { "feed_open", b->feed_open != NULL },
        { "feed_wait", b->feed_wait != NULL },
        { "feed_close", b->feed_close != NULL },
    };
    apr_size_t i;
    int feeds = 0;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!required[i].present) {
            return required[i].name;
        }
    }
    for (i = 0; i < sizeof(feed) / sizeof(feed[0]); i++) {
        feeds += feed[i].present;
    }
    for (i = 0; feeds != 0 && i < sizeof(feed) / sizeof(feed[0]); i++) {
        if (!feed[i].present) {
            return feed[i].name;
        }
    }
    return NULL;
}

void rus_store_options_default(rus_store_options_t *opts)
{
    opts->busy_timeout_ms = 5000;
    opts->auto_checkpoint = 1;
    opts->admin = 0;
}

void rus_conn_set_error(rus_conn_t *conn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(conn->error, sizeof(conn->error), fmt, ap);
    va_end(ap);
}

/* @a s with what could be a password masked: the part after the first ':'
 * of a URI's user information ("//USER:PASSWORD@HOST", the last '@'
 * before the path ending it), and the value of every "password="
 * parameter (up to the next '&' or white space). */
/* Does @a s start with @a word (lowercase), compared without case and
 * with %XX escapes decoded? */
static int starts_decoded(const char *s, const char *word)
{
    while (*word != '\0') {
        int ch = (unsigned char)*s;

        if (ch == '%' && apr_isxdigit(s[1]) && apr_isxdigit(s[2])) {
            char hex[3] = { s[1], s[2], '\0' };

            ch = (int)strtol(hex, NULL, 16);
            s += 3;
        }
        else if (ch == '\0') {
            return 0;
        }
        else {
            s++;
        }
        if (apr_tolower(ch) != *word++) {
            return 0;
        }
    }
    return 1;
}

static const char *mask_secrets(apr_pool_t *p, const char *s)
{
    const char *slashes = strstr(s, "//"), *end, *at = NULL, *colon, *q;
    char *out;
    apr_size_t len, i;

    out = apr_pstrdup(p, s);
    if (slashes != NULL) {
        const char *auth = slashes + 2;

        /* the last '@' of all: a raw '/', '?', '#' or '@' in a password
         * stays hidden too (a '@' in a parameter only hides more) */
        end = auth + strlen(auth);
        for (q = auth; q < end; q++) {
            if (*q == '@') {
                at = q;
            }
        }
        colon = at ? memchr(auth, ':', (apr_size_t)(at - auth)) : NULL;
        if (colon != NULL) {
            out = apr_psprintf(p, "%.*s***%s", (int)(colon + 1 - s), s, at);
        }
    }
    /* A password parameter, in a query or a key=value list, its key
     * spelt in any case or percent-encoded as libpq decodes it
     * ("pass%77ord=", "password = 'x y'"): everything from its key on is
     * hidden, whatever quoting or separators follow. */
    len = strlen(out);
    for (i = 0; i < len; i++) {
        if ((i == 0 || out[i - 1] == '?' || out[i - 1] == '&'
             || out[i - 1] == ' ' || out[i - 1] == '\t')
            && starts_decoded(out + i, "password")) {
            return apr_psprintf(p, "%.*spassword=***", (int)i, out);
        }
    }
    return out;
}

/* The backend a spec names, which must have what rus_backend.h requires;
 * *plocation gets what follows the colon. */
static apr_status_t spec_backend(const rus_backend_t **pbackend,
                                 const char **plocation, apr_pool_t *p,
                                 const char *spec, const char **pmsg)
{
    const rus_backend_t *backend;
    const char *colon = spec ? strchr(spec, ':') : NULL, *missing;
    apr_size_t slen;

    if (colon == NULL || colon == spec) {
        *pmsg = apr_psprintf(p, "expected SCHEME:LOCATION, e.g. %s:%s",
                             rus_backends[0]->scheme, rus_backends[0]->example);
        return RUS_STORE_ESPEC;
    }
    slen = (apr_size_t)(colon - spec);
    backend = rus_backend_find(spec, slen);
    if (backend == NULL) {
        *pmsg = apr_psprintf(p, "unknown store scheme '%.*s' (known: %s)",
                             (int)slen, spec, rus_backend_schemes(p));
        return RUS_STORE_ESPEC;
    }
    missing = rus_backend_missing(backend);
    if (missing != NULL) {
        *pmsg = apr_psprintf(p, "the %s backend lacks its required '%s'",
                             backend->scheme, missing);
        return RUS_STORE_ESPEC;
    }
    *pbackend = backend;
    *plocation = colon + 1;
    return APR_SUCCESS;
}

apr_status_t rus_store_create(rus_store_t **pstore, apr_pool_t *p,
                              const char *spec, const char *root,
                              const rus_store_options_t *opts,
                              const char **pmsg)
{
    const rus_backend_t *backend = NULL;
    const char *location = NULL;
    rus_store_t *store;
    apr_status_t rv;

    rv = spec_backend(&backend, &location, p, spec, pmsg);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (location[0] == '\0') {
        *pmsg = "the store location is empty";
        return RUS_STORE_ESPEC;
    }
    if (backend->location_is_path) {
        char *merged;

        /* A NULL root means the current working directory. */
        rv = apr_filepath_merge(&merged, root, location,
                                APR_FILEPATH_NOTRELATIVE, p);
        if (rv != APR_SUCCESS) {
            *pmsg = apr_psprintf(p, "cannot make '%s' an absolute path: %pm",
                                 location, &rv);
            return RUS_STORE_ESPEC;
        }
        location = merged;
    }

    store = apr_pcalloc(p, sizeof(*store));
    store->backend = backend;
    store->location = apr_pstrdup(p, location);
    /* Once, here: a secret in the location never reaches a message (what
     * the display missed, password=VALUE in any form, is masked too). */
    store->shown = backend->display
                       ? mask_secrets(p, backend->display(store->location, p))
                       : store->location;
    if (opts) {
        store->opts = *opts;
    }
    else {
        rus_store_options_default(&store->opts);
    }
    *pstore = store;
    return APR_SUCCESS;
}

const char *rus_store_file_spec(apr_pool_t *p, const char *path)
{
    apr_size_t i;

    for (i = 0; rus_backends[i] != NULL; i++) {
        if (rus_backends[i]->location_is_path) {
            break;
        }
    }
    /* A build without a file backend: the spec names none, and
     * rus_store_create() says which schemes there are. */
    return apr_pstrcat(p, rus_backends[i] ? rus_backends[i]->scheme : "", ":",
                       path, NULL);
}

const char *rus_store_describe(const rus_store_t *store)
{
    /* Allocation-free: callers log it often. */
    return store->shown ? store->shown : store->location;
}

const char *rus_store_scheme(const rus_store_t *store)
{
    return store->backend->scheme;
}

const char *rus_store_spec_describe(apr_pool_t *p, const char *spec)
{
    const char *colon = spec ? strchr(spec, ':') : NULL;
    const rus_backend_t *backend;

    if (spec == NULL) {
        return "";
    }
    backend = colon ? rus_backend_find(spec, (apr_size_t)(colon - spec)) : NULL;
    if (backend != NULL && backend->display == NULL) {
        return spec; /* nothing secret in its locations */
    }
    if (backend != NULL) {
        /* as rus_store_describe() shows it */
        return mask_secrets(p, backend->display(colon + 1, p));
    }
    return mask_secrets(p, spec);
}

apr_status_t rus_store_check(const rus_store_t *store, apr_pool_t *ptemp,
                             const char **pmsg)
{
    return store->backend->check(store, ptemp, pmsg);
}

apr_status_t rus_store_prepare(const rus_store_t *store, apr_pool_t *ptemp,
                               const rus_store_owner_t *owner,
                               const char **pwarn, const char **pmsg)
{
    *pwarn = NULL;
    return store->backend->prepare(store, ptemp, owner, pwarn, pmsg);
}

const char *rus_store_dir(const rus_store_t *store, apr_pool_t *p)
{
    const char *slash = strrchr(store->location, '/');

    if (!store->backend->location_is_path || slash == NULL) {
        return NULL;
    }
    return slash == store->location
               ? "/"
               : apr_pstrmemdup(p, store->location,
                                (apr_size_t)(slash - store->location));
}

/* Who may write the directory besides root and the store's owner. Only
 * the owner's primary group is known here, not supplementary ones. */
apr_status_t rus_store_dir_warnings(const rus_store_t *store,
                                    const rus_store_owner_t *owner,
                                    apr_pool_t *ptemp, const char **pothers,
                                    const char **pworld)
{
    long uid =
        (owner != NULL && owner->uid != -1) ? owner->uid : (long)geteuid();
    long gid =
        (owner != NULL && owner->gid != -1) ? owner->gid : (long)getegid();
    const char *slash = strrchr(store->location, '/');
    const char *dir, *others = NULL, *world = NULL;
    apr_status_t rv = APR_SUCCESS;
    struct stat st;

    if (!store->backend->location_is_path || slash == NULL) {
        goto leave;
    }
    dir = slash == store->location
              ? "/"
              : apr_pstrmemdup(ptemp, store->location,
                               (apr_size_t)(slash - store->location));
    if (stat(dir, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        goto leave;
    }
    if ((st.st_mode & S_IWUSR) && st.st_uid != 0 && (long)st.st_uid != uid) {
        others = apr_psprintf(ptemp, "uid %ld (its owner)", (long)st.st_uid);
    }
    if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && (long)st.st_gid != gid) {
        const char *g = apr_psprintf(ptemp, "group %ld", (long)st.st_gid);

        others = others ? apr_pstrcat(ptemp, others, " and ", g, NULL) : g;
    }
    if (others != NULL) {
        others = apr_psprintf(ptemp,
                              "directory %s is writable by %s, not only by "
                              "root and uid %ld: they can replace %s or "
                              "plant links beside it",
                              dir, others, uid, store->location);
    }
    if (st.st_mode & S_IWOTH) {
        world = apr_psprintf(ptemp,
                             "directory %s is world-writable (mode %04lo): "
                             "any local user can plant files or links "
                             "beside %s%s",
                             dir, (unsigned long)(st.st_mode & 07777),
                             store->location,
                             (st.st_mode & S_ISVTX)
                                 ? " (the sticky bit does not stop them "
                                   "creating its -wal and -shm files)"
                                 : "");
    }
leave:
    *pothers = (rv == APR_SUCCESS) ? others : NULL;
    *pworld = (rv == APR_SUCCESS) ? world : NULL;
    return rv;
}

apr_status_t rus_store_connect(rus_conn_t **pconn, const rus_store_t *store,
                               apr_pool_t *ptemp, const char **pmsg)
{
    apr_pool_t *cpool = NULL;
    rus_conn_t *conn = NULL;
    apr_status_t rv;

    /* An unmanaged pool: connections are created by request threads, and a
     * pool without a parent needs no lock shared with anyone. */
    rv = apr_pool_create_unmanaged_ex(&cpool, NULL, NULL);
    if (rv != APR_SUCCESS) {
        *pmsg = "out of memory";
        return rv;
    }
    rv = store->backend->connect(&conn, store, cpool, ptemp, pmsg);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(cpool);
        return rv;
    }
    conn->backend = store->backend;
    conn->store = store;
    conn->pool = cpool;
    conn->next = NULL;
    conn->broken = 0;
    conn->checked_at = apr_time_now();
    conn->error[0] = '\0';
    *pconn = conn;
    return APR_SUCCESS;
}

void rus_store_disconnect(rus_conn_t *conn)
{
    if (conn == NULL) {
        return;
    }
    conn->backend->disconnect(conn);
    apr_pool_destroy(conn->pool);
}

const char *rus_store_error(const rus_conn_t *conn)
{
    return conn->error;
}

int rus_store_error_is_transient(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EACCES(rv)
           || APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOSPC(rv)
           || rv == APR_EAGAIN || rv == APR_FROM_OS_ERROR(EROFS)
           || rv == APR_FROM_OS_ERROR(ENOTDIR) || rv == RUS_STORE_EREADONLY
           || rv == RUS_STORE_EUNREACHABLE;
}

const char *rus_store_error_kind(apr_status_t rv)
{
    if (APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM)) {
        return "permission denied";
    }
    if (rv == APR_FROM_OS_ERROR(EROFS)) {
        return "read-only file system";
    }
    if (APR_STATUS_IS_ENOENT(rv) || rv == APR_FROM_OS_ERROR(ENOTDIR)) {
        return "missing";
    }
    if (APR_STATUS_IS_TIMEUP(rv) || rv == APR_EAGAIN) {
        return "locked";
    }
    if (APR_STATUS_IS_ENOSPC(rv)) {
        return "disk full";
    }
    switch (rv) {
    case RUS_STORE_ECORRUPT:
        return "corrupt";
    case RUS_STORE_ESCHEMA:
        return "schema changed";
    case RUS_STORE_ESTALE:
        return "replaced while open";
    case RUS_STORE_EREADONLY:
        return "read-only";
    case RUS_STORE_EUNREACHABLE:
        return "unreachable";
    case APR_ENOMEM:
        return "out of memory";
    default:
        break;
    }
    if (rv == APR_FROM_OS_ERROR(EIO)) {
        return "I/O error";
    }
    return "failed";
}

apr_status_t rus_store_error_os(apr_status_t rv)
{
    return (rv > 0 && rv < APR_OS_START_ERROR) ? rv : 0;
}

/* ---- the order of what comes back ------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_user(const void *a, const void *b)
{
    return strcmp(((const rus_user_t *)a)->username,
                  ((const rus_user_t *)b)->username);
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const rus_group_t *)a)->name,
                  ((const rus_group_t *)b)->name);
}

/* Newest first, then by hash: the order `session list` prints. */
static int cmp_session_row(const void *a, const void *b)
{
    const rus_session_row_t *x = a, *y = b;

    if (x->session.created_at != y->session.created_at) {
        return x->session.created_at > y->session.created_at ? -1 : 1;
    }
    return strcmp(x->token_hash, y->token_hash);
}

static void sort_array(apr_array_header_t *a,
                       int (*cmp)(const void *, const void *))
{
    if (a != NULL && a->nelts > 1) {
        qsort(a->elts, (size_t)a->nelts, (size_t)a->elt_size, cmp);
    }
}

/* A comma-separated list of names, sorted. */
static const char *sort_names(const char *list, apr_pool_t *p)
{
    apr_array_header_t *names;
    char *copy, *tok, *last = NULL;

    if (list == NULL) {
        return "";
    }
    if (strchr(list, ',') == NULL) {
        return list;
    }
    names = apr_array_make(p, 8, sizeof(char *));
    copy = apr_pstrdup(p, list);
    for (tok = apr_strtok(copy, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(names, char *) = tok;
    }
    sort_array(names, cmp_str);
    return apr_array_pstrcat(p, names, ',');
}

static int cmp_attr(const void *a, const void *b)
{
    return strcmp(((const rus_attr_t *)a)->name, ((const rus_attr_t *)b)->name);
}

static int cmp_membership(const void *a, const void *b)
{
    return strcmp(((const rus_membership_t *)a)->group,
                  ((const rus_membership_t *)b)->group);
}

/* A backend may list a user's groups and attributes in any order (SQL's
 * group_concat() promises none): sort them, so that everyone sees one
 * order, and make the absent strings "". */
static void sort_groups(rus_user_t *user, apr_pool_t *p)
{
    user->groups = sort_names(user->groups, p);
    user->frontend_groups = sort_names(user->frontend_groups, p);
    if (user->email == NULL) {
        user->email = "";
    }
    if (user->first_name == NULL) {
        user->first_name = "";
    }
    if (user->last_name == NULL) {
        user->last_name = "";
    }
    if (user->attrs != NULL && user->attrs->nelts == 0) {
        user->attrs = NULL;
    }
    sort_array(user->attrs, cmp_attr);
}

/* ---- users ---------------------------------------------------------- */

apr_status_t rus_user_find(rus_conn_t *conn, const char *username,
                           rus_user_t *user, apr_pool_t *p)
{
    rus_user_t row; /* the backend's answer, from a clean start */
    apr_status_t rv;

    conn->error[0] = '\0';
    memset(&row, 0, sizeof(row));
    rv = conn->backend->user_find(conn, username, &row, p);
    if (rv == APR_SUCCESS) {
        sort_groups(&row, p);
        *user = row;
    }
    return rv;
}

apr_status_t rus_user_create(rus_conn_t *conn, const char *username,
                             apr_int64_t now, rus_user_t *user, int *pcreated,
                             apr_pool_t *p)
{
    return rus_user_create_with(conn, username, now, NULL, user, pcreated, p);
}

apr_status_t rus_user_create_with(rus_conn_t *conn, const char *username,
                                  apr_int64_t now, const rus_profile_t *profile,
                                  rus_user_t *user, int *pcreated,
                                  apr_pool_t *p)
{
    rus_user_t row; /* the backend's answer, from a clean start */
    apr_status_t rv;

    conn->error[0] = '\0';
    memset(&row, 0, sizeof(row));
    rv = conn->backend->user_create(conn, username, now, profile, &row,
                                    pcreated, p);
    if (rv == APR_SUCCESS) {
        sort_groups(&row, p);
        *user = row;
    }
    return rv;
}

apr_status_t rus_user_sync(rus_conn_t *conn, apr_int64_t user_id,
                           const rus_profile_t *profile, apr_int64_t now,
                           apr_int64_t interval)
{
    conn->error[0] = '\0';
    if (profile == NULL) {
        return conn->backend->user_touch(conn, user_id, now, interval);
    }
    return conn->backend->user_sync(conn, user_id, profile, now, interval);
}

apr_status_t rus_user_touch_login(rus_conn_t *conn, apr_int64_t user_id,
                                  apr_int64_t now, apr_int64_t interval)
{
    conn->error[0] = '\0';
    return conn->backend->user_touch(conn, user_id, now, interval);
}

/* ---- sessions --------------------------------------------------------- */

apr_status_t rus_session_insert(rus_conn_t *conn, const char *token_hash,
                                apr_int64_t user_id, const char *vhost,
                                apr_int64_t now, apr_int64_t expires_at)
{
    return rus_session_insert_with(conn, token_hash, user_id, vhost, NULL, NULL,
                                   now, expires_at);
}

apr_status_t rus_session_insert_with(rus_conn_t *conn, const char *token_hash,
                                     apr_int64_t user_id, const char *vhost,
                                     const char *ip, const char *user_agent,
                                     apr_int64_t now, apr_int64_t expires_at)
{
    conn->error[0] = '\0';
    return conn->backend->session_insert(conn, token_hash, user_id, vhost,
                                         ip ? ip : "",
                                         user_agent ? user_agent : "", now,
                                         expires_at);
}

apr_status_t rus_session_find(rus_conn_t *conn, const char *token_hash,
                              rus_session_t *session, rus_user_t *user,
                              apr_pool_t *p)
{
    rus_user_t row; /* the backend's answer, from a clean start */
    rus_session_t srow;
    apr_status_t rv;

    conn->error[0] = '\0';
    memset(&row, 0, sizeof(row));
    memset(&srow, 0, sizeof(srow));
    rv = conn->backend->session_find(conn, token_hash, &srow,
                                     user ? &row : NULL, p);
    if (rv == APR_SUCCESS) {
        srow.ip = srow.ip ? srow.ip : "";
        srow.user_agent = srow.user_agent ? srow.user_agent : "";
        *session = srow;
    }
    if (rv == APR_SUCCESS && user != NULL) {
        sort_groups(&row, p);
        *user = row;
    }
    return rv;
}

apr_status_t rus_session_touch(rus_conn_t *conn, const char *token_hash,
                               apr_int64_t now)
{
    conn->error[0] = '\0';
    return conn->backend->session_touch(conn, token_hash, now);
}

apr_status_t rus_session_revoke(rus_conn_t *conn, const char *token_hash)
{
    conn->error[0] = '\0';
    return conn->backend->session_revoke(conn, token_hash);
}

apr_status_t rus_session_revoke_user(rus_conn_t *conn, apr_int64_t user_id)
{
    conn->error[0] = '\0';
    return conn->backend->session_revoke_user(conn, user_id);
}

apr_status_t rus_session_trim_user(rus_conn_t *conn, apr_int64_t user_id,
                                   int keep, const char *newest,
                                   apr_array_header_t **phashes, apr_pool_t *p)
{
    conn->error[0] = '\0';
    return conn->backend->session_trim_user(conn, user_id, keep, newest,
                                            phashes, p);
}

apr_status_t rus_session_purge(rus_conn_t *conn, apr_int64_t now, int *pcount)
{
    conn->error[0] = '\0';
    return conn->backend->session_purge(conn, now - RUS_CLOCK_GRACE, 0, pcount);
}

apr_status_t rus_session_purge_some(rus_conn_t *conn, apr_int64_t now,
                                    int limit, int *pcount)
{
    conn->error[0] = '\0';
    return conn->backend->session_purge(conn, now - RUS_CLOCK_GRACE,
                                        limit > 0 ? limit : 1, pcount);
}

/* ---- administration --------------------------------------------------- */

/* An optional callback the backend lacks (rus_backend.h). */
static apr_status_t not_implemented(rus_conn_t *conn, const char *what)
{
    rus_conn_set_error(conn, "the %s store cannot %s", conn->backend->scheme,
                       what);
    return APR_ENOTIMPL;
}

/* Clear the error text; fail with APR_ENOTIMPL when the backend lacks the
 * optional callback @a cb; else return what it returns. */
#define DISPATCH(conn, cb, what, args)              \
    do {                                            \
        (conn)->error[0] = '\0';                    \
        if ((conn)->backend->cb == NULL) {          \
            return not_implemented((conn), (what)); \
        }                                           \
        return (conn)->backend->cb args;            \
    } while (0)

/* The same, for the callbacks whose result the facade sorts: leaves the
 * status in @a rv instead of returning it. */
#define DISPATCH_RV(rv, conn, cb, what, args)       \
    do {                                            \
        (conn)->error[0] = '\0';                    \
        if ((conn)->backend->cb == NULL) {          \
            return not_implemented((conn), (what)); \
        }                                           \
        (rv) = (conn)->backend->cb args;            \
    } while (0)

apr_status_t rus_user_list(rus_conn_t *conn, apr_array_header_t **pusers,
                           apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    DISPATCH_RV(rv, conn, user_list, "list users", (conn, pusers, p));
    if (rv == APR_SUCCESS) {
        for (i = 0; i < (*pusers)->nelts; i++) {
            sort_groups(&APR_ARRAY_IDX(*pusers, i, rus_user_t), p);
        }
        sort_array(*pusers, cmp_user);
    }
    return rv;
}

apr_status_t rus_user_add(rus_conn_t *conn, const char *username,
                          apr_int64_t now, int active, rus_user_t *user,
                          apr_pool_t *p)
{
    rus_user_t row;
    apr_status_t rv;

    memset(&row, 0, sizeof(row));
    DISPATCH_RV(rv, conn, user_add, "add users",
                (conn, username, now, active, &row, p));
    if (rv == APR_SUCCESS) {
        sort_groups(&row, p);
        *user = row;
    }
    return rv;
}

apr_status_t rus_user_set_active(rus_conn_t *conn, apr_int64_t user_id,
                                 int active, rus_user_change_t *change)
{
    rus_user_change_t ignored;

    DISPATCH(conn, user_set_active, "enable or disable users",
             (conn, user_id, active, change ? change : &ignored));
}

apr_status_t rus_user_delete(rus_conn_t *conn, apr_int64_t user_id)
{
    DISPATCH(conn, user_delete, "delete users", (conn, user_id));
}

apr_status_t rus_user_rename(rus_conn_t *conn, apr_int64_t user_id,
                             const char *new_name)
{
    DISPATCH(conn, user_rename, "rename users", (conn, user_id, new_name));
}

apr_status_t rus_group_list(rus_conn_t *conn, apr_array_header_t **pgroups,
                            apr_pool_t *p)
{
    apr_status_t rv;

    DISPATCH_RV(rv, conn, group_list, "list groups", (conn, pgroups, p));
    if (rv == APR_SUCCESS) {
        sort_array(*pgroups, cmp_group);
    }
    return rv;
}

apr_status_t rus_group_find(rus_conn_t *conn, const char *name,
                            rus_group_t *group, apr_pool_t *p)
{
    DISPATCH(conn, group_find, "look groups up", (conn, name, group, p));
}

apr_status_t rus_group_add(rus_conn_t *conn, const char *name)
{
    DISPATCH(conn, group_add, "add groups", (conn, name));
}

apr_status_t rus_group_delete(rus_conn_t *conn, apr_int64_t group_id)
{
    DISPATCH(conn, group_delete, "delete groups", (conn, group_id));
}

apr_status_t rus_group_members(rus_conn_t *conn, apr_int64_t group_id,
                               apr_array_header_t **pnames, apr_pool_t *p)
{
    apr_status_t rv;

    DISPATCH_RV(rv, conn, group_members, "list group members",
                (conn, group_id, pnames, p));
    if (rv == APR_SUCCESS) {
        sort_array(*pnames, cmp_str);
    }
    return rv;
}

apr_status_t rus_group_add_member(rus_conn_t *conn, apr_int64_t group_id,
                                  apr_int64_t user_id)
{
    DISPATCH(conn, group_add_member, "add group members",
             (conn, group_id, user_id));
}

apr_status_t rus_group_remove_member(rus_conn_t *conn, apr_int64_t group_id,
                                     apr_int64_t user_id)
{
    DISPATCH(conn, group_remove_member, "remove group members",
             (conn, group_id, user_id));
}

apr_status_t rus_user_memberships(rus_conn_t *conn, apr_int64_t user_id,
                                  apr_array_header_t **prows, apr_pool_t *p)
{
    apr_status_t rv;

    DISPATCH_RV(rv, conn, user_memberships, "list a user's memberships",
                (conn, user_id, prows, p));
    if (rv == APR_SUCCESS) {
        sort_array(*prows, cmp_membership);
    }
    return rv;
}

apr_status_t rus_session_list(rus_conn_t *conn, apr_int64_t user_id,
                              apr_array_header_t **prows, apr_pool_t *p)
{
    apr_status_t rv;

    DISPATCH_RV(rv, conn, session_list, "list sessions",
                (conn, user_id, prows, p));
    if (rv == APR_SUCCESS) {
        sort_array(*prows, cmp_session_row);
    }
    return rv;
}

apr_status_t rus_session_revoke_all(rus_conn_t *conn, int *pcount)
{
    DISPATCH(conn, session_revoke_all, "revoke all sessions", (conn, pcount));
}

apr_status_t rus_session_find_prefix(rus_conn_t *conn, const char *prefix,
                                     int *pcount, rus_session_row_t *row,
                                     apr_pool_t *p)
{
    apr_size_t len = strspn(prefix, "0123456789abcdef");

    conn->error[0] = '\0';
    if (len == 0 || len > RUS_SESSION_HASH_LEN || prefix[len] != '\0') {
        rus_conn_set_error(conn,
                           "a session id is 1 to %d lowercase hex "
                           "characters",
                           RUS_SESSION_HASH_LEN);
        return APR_EINVAL;
    }
    DISPATCH(conn, session_find_prefix, "find sessions by id",
             (conn, prefix, pcount, row, p));
}

apr_status_t rus_store_backup(rus_conn_t *conn, const char *path, int overwrite,
                              apr_pool_t *ptemp)
{
    DISPATCH(conn, backup, "copy itself", (conn, path, overwrite, ptemp));
}

apr_status_t rus_store_info(rus_conn_t *conn, apr_int64_t now,
                            rus_store_info_t *info)
{
    DISPATCH(conn, info, "report its counts", (conn, now, info));
}

apr_status_t rus_store_integrity(rus_conn_t *conn, int *pok,
                                 const char **presult, apr_pool_t *p)
{
    DISPATCH(conn, integrity, "check its integrity", (conn, pok, presult, p));
}

apr_status_t rus_store_checkpoint(rus_conn_t *conn, int wait_ms,
                                  rus_store_checkpoint_t *result)
{
    memset(result, 0, sizeof(*result));
    conn->error[0] = '\0';
    if (conn->backend->checkpoint == NULL) {
        return APR_SUCCESS; /* nothing to keep small */
    }
    return conn->backend->checkpoint(conn, wait_ms, result);
}

/* ---- what changed ---------------------------------------------------- */

/* The watch of a shared store: the host's board, which the follower of
 * the store's feed keeps (rus_board.h). */
typedef struct board_watch_t {
    rus_watch_t base;
    const rus_board_t *board;
} board_watch_t;

apr_status_t rus_store_watch(rus_watch_t **pwatch, rus_conn_t *conn,
                             apr_pool_t *p)
{
    if (rus_store_is_shared(conn->store)) {
        board_watch_t *bw;

        conn->error[0] = '\0';
        if (conn->backend->changes_since == NULL) {
            return not_implemented(conn, "list its changes");
        }
        if (conn->store->board == NULL) {
            rus_conn_set_error(conn, "no listener board on this host");
            return APR_ENOTIMPL;
        }
        bw = apr_pcalloc(p, sizeof(*bw));
        bw->base.backend = conn->backend;
        bw->board = conn->store->board;
        *pwatch = &bw->base;
        return APR_SUCCESS;
    }
    if (conn->backend->watch_mark == NULL
        || conn->backend->changes_since == NULL) {
        conn->error[0] = '\0';
        return not_implemented(conn, "watch for changes");
    }
    DISPATCH(conn, watch, "watch for changes", (conn, pwatch, p));
}

apr_status_t rus_store_watch_mark(rus_watch_t *watch, apr_int64_t now,
                                  rus_store_mark_t *mark, const char **pmsg)
{
    if (watch->backend->feed_open != NULL) {
        /* the board's lease is in milliseconds: the clock, not @a now */
        return rus_board_mark(((board_watch_t *)watch)->board, rus_board_now(),
                              mark, pmsg);
    }
    return watch->backend->watch_mark(watch, now, mark, pmsg);
}

apr_status_t rus_store_changes_since(rus_conn_t *conn, apr_int64_t since,
                                     rus_change_fn *fn, void *baton,
                                     apr_int64_t *plast)
{
    DISPATCH(conn, changes_since, "list its changes",
             (conn, since, fn, baton, plast));
}

apr_status_t rus_store_changes_prune(rus_conn_t *conn, apr_int64_t before,
                                     int *pcount)
{
    *pcount = 0;
    conn->error[0] = '\0';
    if (conn->backend->changes_prune == NULL) {
        return APR_SUCCESS; /* no log to keep small */
    }
    return conn->backend->changes_prune(conn, before, pcount);
}

/* ---- a whole store copied to another ---------------------------------- */

/* What the dump's row function loads into, and what it counted. */
typedef struct copy_baton_t {
    rus_conn_t *to;
    rus_store_copy_counts_t counts;
} copy_baton_t;

/* Load one dumped row into the target and count it; a failure stops the
 * dump (the target's error text says what). */
static apr_status_t copy_row(void *baton, const rus_store_row_t *row)
{
    copy_baton_t *b = baton;
    apr_status_t rv;

    rv = b->to->backend->load_row(b->to, row);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    switch (row->kind) {
    case RUS_ROW_USER:
        b->counts.users++;
        break;
    case RUS_ROW_GROUP:
        b->counts.groups++;
        break;
    case RUS_ROW_MEMBER:
        b->counts.members++;
        break;
    case RUS_ROW_SESSION:
        b->counts.sessions++;
        break;
    case RUS_ROW_ATTR:
        b->counts.attributes++;
        break;
    }
    return APR_SUCCESS;
}

apr_status_t rus_store_copy(rus_conn_t *from, rus_conn_t *to,
                            rus_store_copy_counts_t *counts, apr_pool_t *p)
{
    copy_baton_t b;
    apr_status_t rv;

    from->error[0] = '\0';
    to->error[0] = '\0';
    if (from == to) {
        rus_conn_set_error(from, "a store cannot be copied onto itself");
        return APR_EINVAL;
    }
    if (from->backend->dump == NULL) {
        return not_implemented(from, "be copied from (it has no dump)");
    }
    if (to->backend->load_begin == NULL || to->backend->load_row == NULL
        || to->backend->load_end == NULL) {
        return not_implemented(to, "be copied to (it has no load)");
    }
    memset(&b, 0, sizeof(b));
    b.to = to;
    /* The target first: its transaction holds the write lock, and it
     * refuses a store that is not empty before anything is read. */
    rv = to->backend->load_begin(to);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = from->backend->dump(from, copy_row, &b, p);
    if (rv == APR_SUCCESS) {
        rv = to->backend->load_end(to, 1);
    }
    else {
        /* Roll back; the first failure stays the one reported, on the
         * connection that had it (a failed rollback breaks the target's
         * connection, which the backend marks). */
        char saved[RUS_CONN_ERROR_MAX];

        memcpy(saved, to->error, sizeof(saved));
        (void)to->backend->load_end(to, 0);
        memcpy(to->error, saved, sizeof(saved));
    }
    if (rv == APR_SUCCESS && counts != NULL) {
        *counts = b.counts;
    }
    return rv;
}

/* ---- a store shared by several hosts ---------------------------------- */

int rus_store_is_shared(const rus_store_t *store)
{
    return store->backend->feed_open != NULL;
}

void rus_store_set_board(rus_store_t *store, struct rus_board_t *board)
{
    store->board = board;
}

apr_status_t rus_store_feed_open(rus_feed_t **pfeed, const rus_store_t *store,
                                 apr_pool_t *p, const char **pmsg)
{
    rus_feed_t *feed = NULL;
    apr_status_t rv;

    if (!rus_store_is_shared(store)) {
        *pmsg = apr_psprintf(p,
                             "the %s store is not shared: it has no feed "
                             "of its commits",
                             store->backend->scheme);
        return APR_ENOTIMPL;
    }
    rv = store->backend->feed_open(store, &feed, p, pmsg);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    feed->backend = store->backend;
    *pfeed = feed;
    return APR_SUCCESS;
}

apr_status_t rus_store_feed_wait(rus_feed_t *feed, int timeout_ms,
                                 apr_int64_t *plast, const char **pmsg)
{
    return feed->backend->feed_wait(feed, timeout_ms, plast, pmsg);
}

void rus_store_feed_close(rus_feed_t *feed)
{
    if (feed != NULL) {
        feed->backend->feed_close(feed);
    }
}

/* ---- the per-process connection pool -------------------------------- */

struct rus_store_pool_t {
    const rus_store_t *store;
    apr_thread_mutex_t *lock;           /* guards idle */
    rus_conn_t *idle;                   /* connections nobody holds */
    volatile int replaced;              /* the store was replaced underneath */
    apr_interval_time_t check_interval; /* 0: validate at every acquire */
};

void rus_store_pool_set_check_interval(rus_store_pool_t *pool,
                                       apr_interval_time_t interval)
{
    pool->check_interval = interval;
}

/* Close every idle connection when the owning pool goes away (child exit,
 * graceful restart). */
static apr_status_t store_pool_cleanup(void *data)
{
    rus_store_pool_t *pool = data;
    rus_conn_t *conn, *next;

    for (conn = pool->idle; conn != NULL; conn = next) {
        next = conn->next;
        rus_store_disconnect(conn);
    }
    pool->idle = NULL;
    return APR_SUCCESS;
}

apr_status_t rus_store_pool_create(rus_store_pool_t **ppool,
                                   const rus_store_t *store, apr_pool_t *p)
{
    rus_store_pool_t *pool;
    apr_status_t rv;

    pool = apr_pcalloc(p, sizeof(*pool));
    pool->store = store;
    rv = apr_thread_mutex_create(&pool->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, pool, store_pool_cleanup,
                              apr_pool_cleanup_null);
    *ppool = pool;
    return APR_SUCCESS;
}

/* Pop an idle connection, or NULL when there is none. */
static rus_conn_t *pool_pop(rus_store_pool_t *pool)
{
    rus_conn_t *conn;

    apr_thread_mutex_lock(pool->lock);
    conn = pool->idle;
    if (conn != NULL) {
        pool->idle = conn->next;
        conn->next = NULL;
    }
    apr_thread_mutex_unlock(pool->lock);
    return conn;
}

apr_status_t rus_store_acquire(rus_conn_t **pconn, rus_store_pool_t *pool,
                               apr_pool_t *ptemp, const char **pmsg)
{
    rus_conn_t *conn;
    apr_status_t rv;

    if (pool->replaced) {
        *pmsg = apr_pstrcat(ptemp,
                            "the store was replaced while this process had "
                            "it open; restart httpd (and ",
                            pool->store->backend->restore_hint, ")", NULL);
        return RUS_STORE_ESTALE;
    }
    conn = pool_pop(pool);
    if (conn != NULL) {
        apr_time_t now = apr_time_now();

        if (pool->check_interval > 0
            && now - conn->checked_at < pool->check_interval) {
            conn->error[0] = '\0';
            *pconn = conn;
            return APR_SUCCESS;
        }
        rv = conn->backend->validate(conn);
        if (rv == APR_SUCCESS) {
            /* only a success counts: a failing store is asked again */
            conn->checked_at = now;
            conn->error[0] = '\0';
            *pconn = conn;
            return APR_SUCCESS;
        }
        conn->checked_at = 0; /* look again next time, whatever the interval */
        if (rv != RUS_STORE_ESTALE && conn->broken) {
            /* The connection is lost, not the store (a server restarted
             * since): a new one may serve at once. */
            rus_store_disconnect(conn);
            return rus_store_connect(pconn, pool->store, ptemp, pmsg);
        }
        if (rv != RUS_STORE_ESTALE) {
            /* The store is unreachable right now: fail, but keep the
             * connection, it may serve again once the fault is gone. */
            *pmsg = apr_pstrdup(ptemp, conn->error);
            rus_store_release(pool, conn);
            return rv;
        }
        /* The store was replaced underneath. Neither this connection (the
         * old store) nor a new one (the new store, with what the backend
         * kept of the old one beside it, e.g. a write-ahead log it would
         * replay onto it) can be trusted: fail closed until the process
         * is replaced. */
        pool->replaced = 1;
        rus_store_disconnect(conn);
        return rus_store_acquire(pconn, pool, ptemp, pmsg);
    }
    return rus_store_connect(pconn, pool->store, ptemp, pmsg);
}

void rus_store_release(rus_store_pool_t *pool, rus_conn_t *conn)
{
    if (conn == NULL) {
        return;
    }
    if (conn->broken) {
        rus_store_disconnect(conn);
        return;
    }
    apr_thread_mutex_lock(pool->lock);
    conn->next = pool->idle;
    pool->idle = conn;
    apr_thread_mutex_unlock(pool->lock);
}
