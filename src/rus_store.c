/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The store facade: picks the backend for a spec and dispatches to it, and
 * keeps a per-process pool of connections for threaded callers. It holds no
 * query language of its own. */

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "rus_backend.h"
#include "rus_store.h"

/* Every backend this build knows, by scheme. */
static const rus_backend_t *const backends[] = {
    &rus_backend_sqlite,
};

void rus_store_options_default(rus_store_options_t *opts)
{
    opts->busy_timeout_ms = 5000;
    opts->auto_checkpoint = 1;
}

void rus_conn_set_error(rus_conn_t *conn, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(conn->error, sizeof(conn->error), fmt, ap);
    va_end(ap);
}

apr_status_t rus_store_create(rus_store_t **pstore, apr_pool_t *p,
                              const char *spec, const char *root,
                              const rus_store_options_t *opts,
                              const char **pmsg)
{
    const rus_backend_t *backend = NULL;
    const char *colon, *location;
    rus_store_t *store;
    apr_size_t i, slen;
    apr_status_t rv;

    colon = spec ? strchr(spec, ':') : NULL;
    if (colon == NULL || colon == spec) {
        *pmsg = "expected SCHEME:LOCATION, e.g. sqlite:/var/lib/x/users.db";
        return RUS_STORE_ESPEC;
    }
    slen = (apr_size_t)(colon - spec);
    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->scheme) == slen
            && strncmp(backends[i]->scheme, spec, slen) == 0) {
            backend = backends[i];
        }
    }
    if (backend == NULL) {
        *pmsg = apr_psprintf(p, "unknown store scheme '%.*s' (known: sqlite)",
                             (int)slen, spec);
        return RUS_STORE_ESPEC;
    }
    location = colon + 1;
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
    if (opts) {
        store->opts = *opts;
    }
    else {
        rus_store_options_default(&store->opts);
    }
    *pstore = store;
    return APR_SUCCESS;
}

const char *rus_store_describe(const rus_store_t *store)
{
    /* Allocation-free: callers log it often. */
    return store->location;
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
           || rv == APR_EAGAIN || rv == APR_FROM_OS_ERROR(EROFS);
}

/* ---- users ---------------------------------------------------------- */

apr_status_t rus_user_find(rus_conn_t *conn, const char *username,
                           rus_user_t *user, apr_pool_t *p)
{
    conn->error[0] = '\0';
    return conn->backend->user_find(conn, username, user, p);
}

apr_status_t rus_user_create(rus_conn_t *conn, const char *username,
                             apr_int64_t now, rus_user_t *user, int *pcreated,
                             apr_pool_t *p)
{
    conn->error[0] = '\0';
    return conn->backend->user_create(conn, username, now, user, pcreated, p);
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
    conn->error[0] = '\0';
    return conn->backend->session_insert(conn, token_hash, user_id, vhost, now,
                                         expires_at);
}

apr_status_t rus_session_find(rus_conn_t *conn, const char *token_hash,
                              rus_session_t *session, rus_user_t *user,
                              apr_pool_t *p)
{
    conn->error[0] = '\0';
    return conn->backend->session_find(conn, token_hash, session, user, p);
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
    return conn->backend->session_purge(conn, now - RUS_CLOCK_GRACE, pcount);
}

/* ---- administration --------------------------------------------------- */

/* Each one only clears the error text and dispatches. */
#define DISPATCH(conn, call)          \
    do {                              \
        (conn)->error[0] = '\0';      \
        return (conn)->backend->call; \
    } while (0)

apr_status_t rus_user_list(rus_conn_t *conn, apr_array_header_t **pusers,
                           apr_pool_t *p)
{
    DISPATCH(conn, user_list(conn, pusers, p));
}

apr_status_t rus_user_add(rus_conn_t *conn, const char *username,
                          apr_int64_t now, int active, rus_user_t *user,
                          apr_pool_t *p)
{
    DISPATCH(conn, user_add(conn, username, now, active, user, p));
}

apr_status_t rus_user_set_active(rus_conn_t *conn, apr_int64_t user_id,
                                 int active)
{
    DISPATCH(conn, user_set_active(conn, user_id, active));
}

apr_status_t rus_user_delete(rus_conn_t *conn, apr_int64_t user_id)
{
    DISPATCH(conn, user_delete(conn, user_id));
}

apr_status_t rus_user_rename(rus_conn_t *conn, apr_int64_t user_id,
                             const char *new_name)
{
    DISPATCH(conn, user_rename(conn, user_id, new_name));
}

apr_status_t rus_group_list(rus_conn_t *conn, apr_array_header_t **pgroups,
                            apr_pool_t *p)
{
    DISPATCH(conn, group_list(conn, pgroups, p));
}

apr_status_t rus_group_find(rus_conn_t *conn, const char *name,
                            rus_group_t *group, apr_pool_t *p)
{
    DISPATCH(conn, group_find(conn, name, group, p));
}

apr_status_t rus_group_add(rus_conn_t *conn, const char *name)
{
    DISPATCH(conn, group_add(conn, name));
}

apr_status_t rus_group_delete(rus_conn_t *conn, apr_int64_t group_id)
{
    DISPATCH(conn, group_delete(conn, group_id));
}

apr_status_t rus_group_members(rus_conn_t *conn, apr_int64_t group_id,
                               apr_array_header_t **pnames, apr_pool_t *p)
{
    DISPATCH(conn, group_members(conn, group_id, pnames, p));
}

apr_status_t rus_group_add_member(rus_conn_t *conn, apr_int64_t group_id,
                                  apr_int64_t user_id)
{
    DISPATCH(conn, group_add_member(conn, group_id, user_id));
}

apr_status_t rus_group_remove_member(rus_conn_t *conn, apr_int64_t group_id,
                                     apr_int64_t user_id)
{
    DISPATCH(conn, group_remove_member(conn, group_id, user_id));
}

apr_status_t rus_session_list(rus_conn_t *conn, apr_int64_t user_id,
                              apr_array_header_t **prows, apr_pool_t *p)
{
    DISPATCH(conn, session_list(conn, user_id, prows, p));
}

apr_status_t rus_session_revoke_all(rus_conn_t *conn, int *pcount)
{
    DISPATCH(conn, session_revoke_all(conn, pcount));
}

apr_status_t rus_store_info(rus_conn_t *conn, rus_store_info_t *info)
{
    DISPATCH(conn, info(conn, info));
}

apr_status_t rus_store_integrity(rus_conn_t *conn, const char **presult,
                                 apr_pool_t *p)
{
    DISPATCH(conn, integrity(conn, presult, p));
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
        *pmsg = "the store was replaced while this process had it open; "
                "restart httpd (and do not replace the store file of a "
                "running httpd: restore with sqlite3 .restore instead)";
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
        if (rv != RUS_STORE_ESTALE) {
            /* The store is unreachable right now: fail, but keep the
             * connection, it may serve again once the fault is gone. */
            *pmsg = apr_pstrdup(ptemp, conn->error);
            rus_store_release(pool, conn);
            return rv;
        }
        /* The file was replaced underneath. Neither this connection (the
         * old file) nor a new one (the new file with the old file's WAL
         * still beside it, which SQLite would replay onto it) can be
         * trusted: fail closed until the process is replaced. */
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
