/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_backend.h
 * @brief The interface a store backend implements: a struct of function
 *        pointers. rus_store.c dispatches to it; a backend file (and only a
 *        backend file) holds its query language.
 *
 * Contracts shared by every callback:
 *   - APR_ENOENT means "no such row" and is not an error to log;
 *   - on any other failure the backend writes a one-line explanation into
 *     conn->error, and sets conn->broken when the connection should not be
 *     reused;
 *   - outputs are written only on success;
 *   - lists may come back in any order: the facade sorts them (see each
 *     function in rus_store.h for the order callers get), and the names in
 *     rus_user_t.groups and frontend_groups may come in any order too, as
 *     may rus_user_t.attrs;
 *   - a user row carries its attributes and memberships in the one
 *     statement that finds it (rus_attrs_decode() reads the attributes
 *     from one column), so that the hot path stays one round trip.
 *
 * Required and optional callbacks (as curl's vtls does it):
 *   - required: the strings scheme, example and restore_hint, the
 *     lifecycle (check, prepare, connect, validate,
 *     disconnect) and what a request needs (user_find, user_create,
 *     user_touch, user_sync, session_insert, session_find, session_touch,
 *     session_revoke, session_revoke_user, session_trim_user,
 *     session_purge). rus_store_create() refuses a backend that lacks one
 *     (RUS_STORE_ESPEC, naming it), so a request never meets a NULL;
 *   - optional: the administration (user_list ... integrity, with
 *     session_find_prefix and backup),
 *     checkpoint, and the change watch (watch, watch_mark, changes_since,
 *     changes_prune). A NULL one makes the rus_store.h function return
 *     APR_ENOTIMPL with conn->error saying what is missing; a NULL
 *     checkpoint means the backend keeps no log, and rus_store_checkpoint()
 *     succeeds with nothing to do; without watch, watch_mark and
 *     changes_since the answer cache is not used (rus_coherence.h), and
 *     a NULL changes_prune has nothing to prune;
 *   - the feed of a shared store (feed_open, feed_wait, feed_close): all
 *     three or none; rus_store_create() refuses a backend with only some
 *     of them, as it refuses one that lacks a required callback.
 */
#ifndef RUS_BACKEND_H
#define RUS_BACKEND_H

#include <apr_time.h>

#include "rus_store.h"

/** Size of the per-connection error text buffer. */
#define RUS_CONN_ERROR_MAX 256

/** The fields every backend connection starts with. */
struct rus_conn_t {
    const struct rus_backend_t *backend; /**< who implements it */
    const rus_store_t *store;            /**< what it is connected to */
    apr_pool_t *pool;        /**< the connection's own pool (unmanaged) */
    struct rus_conn_t *next; /**< free-list link in a rus_store_pool_t */
    int broken;              /**< close instead of pooling it again */
    apr_time_t checked_at;   /**< when validate last ran on it */
    char error[RUS_CONN_ERROR_MAX]; /**< last failure, "" when none */
};

/** A configured store. */
struct rus_store_t {
    const struct rus_backend_t *backend; /**< the scheme's backend */
    const char *location; /**< backend-specific, e.g. an absolute path */
    rus_store_options_t opts;
    struct rus_board_t *board; /**< a shared store's board, or NULL */
    const char *shown;         /**< the location as messages show it (a password
                            masked: rus_backend_t.display), or NULL */
};

/** Check the store without changing it (configtest). */
typedef apr_status_t rus_backend_check_cb(const rus_store_t *store,
                                          apr_pool_t *ptemp, const char **pmsg);

/** Create and migrate the store; close it again. */
typedef apr_status_t rus_backend_prepare_cb(const rus_store_t *store,
                                            apr_pool_t *ptemp,
                                            const rus_store_owner_t *owner,
                                            const char **pwarn,
                                            const char **pmsg);

/** Open a connection whose memory lives in @a cpool (owned by the caller,
 *  who destroys it after disconnect). */
typedef apr_status_t
rus_backend_connect_cb(rus_conn_t **pconn, const rus_store_t *store,
                       apr_pool_t *cpool, apr_pool_t *ptemp, const char **pmsg);

/** Is this open connection still talking to the live store?
 *  @return APR_SUCCESS; RUS_STORE_ESTALE when the store was replaced underneath
 *          (reconnect); another error when the store is unreachable now. */
typedef apr_status_t rus_backend_validate_cb(rus_conn_t *conn);

/** Release what connect acquired (not the pool). */
typedef void rus_backend_disconnect_cb(rus_conn_t *conn);

/** See rus_user_find(). */
typedef apr_status_t rus_backend_user_find_cb(rus_conn_t *conn,
                                              const char *username,
                                              rus_user_t *user, apr_pool_t *p);

/** See rus_user_create_with(); @a profile may be NULL (rus_user_create()).
 *  The profile's values were checked by the caller (rus_profile.h). */
typedef apr_status_t
rus_backend_user_create_cb(rus_conn_t *conn, const char *username,
                           apr_int64_t now, const rus_profile_t *profile,
                           rus_user_t *user, int *pcreated, apr_pool_t *p);

/** See rus_user_sync() (required); @a profile is never NULL. */
typedef apr_status_t rus_backend_user_sync_cb(rus_conn_t *conn,
                                              apr_int64_t user_id,
                                              const rus_profile_t *profile,
                                              apr_int64_t now,
                                              apr_int64_t interval);

/** See rus_user_touch_login(). */
typedef apr_status_t rus_backend_user_touch_cb(rus_conn_t *conn,
                                               apr_int64_t user_id,
                                               apr_int64_t now,
                                               apr_int64_t interval);

/** See rus_session_insert_with(); @a ip and @a user_agent are never NULL
 *  ("" when unknown). */
typedef apr_status_t
rus_backend_session_insert_cb(rus_conn_t *conn, const char *token_hash,
                              apr_int64_t user_id, const char *vhost,
                              const char *ip, const char *user_agent,
                              apr_int64_t now, apr_int64_t expires_at);

/** See rus_session_find(). */
typedef apr_status_t rus_backend_session_find_cb(rus_conn_t *conn,
                                                 const char *token_hash,
                                                 rus_session_t *session,
                                                 rus_user_t *user,
                                                 apr_pool_t *p);

/** See rus_session_touch(). */
typedef apr_status_t rus_backend_session_touch_cb(rus_conn_t *conn,
                                                  const char *token_hash,
                                                  apr_int64_t now);

/** See rus_session_revoke(). */
typedef apr_status_t rus_backend_session_revoke_cb(rus_conn_t *conn,
                                                   const char *token_hash);

/** See rus_session_revoke_user(). */
typedef apr_status_t rus_backend_session_revoke_user_cb(rus_conn_t *conn,
                                                        apr_int64_t user_id);

/** See rus_session_trim_user(). */
typedef apr_status_t
rus_backend_session_trim_user_cb(rus_conn_t *conn, apr_int64_t user_id,
                                 int keep, const char *newest,
                                 apr_array_header_t **phashes, apr_pool_t *p);

/** See rus_session_purge(): delete the sessions with expires_at <=
 *  @a before (the grace is the facade's), at most @a limit of them
 *  (0: all) in one transaction. */
typedef apr_status_t rus_backend_session_purge_cb(rus_conn_t *conn,
                                                  apr_int64_t before, int limit,
                                                  int *pcount);

/* Administration: see the functions of the same names in rus_store.h. */
typedef apr_status_t rus_backend_user_list_cb(rus_conn_t *conn,
                                              apr_array_header_t **pusers,
                                              apr_pool_t *p);
typedef apr_status_t rus_backend_user_add_cb(rus_conn_t *conn,
                                             const char *username,
                                             apr_int64_t now, int active,
                                             rus_user_t *user, apr_pool_t *p);
/** See rus_user_set_active(); @a change is never NULL here. */
typedef apr_status_t rus_backend_user_set_active_cb(rus_conn_t *conn,
                                                    apr_int64_t user_id,
                                                    int active,
                                                    rus_user_change_t *change);
typedef apr_status_t rus_backend_user_delete_cb(rus_conn_t *conn,
                                                apr_int64_t user_id);
typedef apr_status_t rus_backend_user_rename_cb(rus_conn_t *conn,
                                                apr_int64_t user_id,
                                                const char *new_name);
typedef apr_status_t rus_backend_group_list_cb(rus_conn_t *conn,
                                               apr_array_header_t **pgroups,
                                               apr_pool_t *p);
typedef apr_status_t rus_backend_group_find_cb(rus_conn_t *conn,
                                               const char *name,
                                               rus_group_t *group,
                                               apr_pool_t *p);
typedef apr_status_t rus_backend_group_add_cb(rus_conn_t *conn,
                                              const char *name);
typedef apr_status_t rus_backend_group_delete_cb(rus_conn_t *conn,
                                                 apr_int64_t group_id);
typedef apr_status_t rus_backend_group_members_cb(rus_conn_t *conn,
                                                  apr_int64_t group_id,
                                                  apr_array_header_t **pnames,
                                                  apr_pool_t *p);
typedef apr_status_t rus_backend_group_member_cb(rus_conn_t *conn,
                                                 apr_int64_t group_id,
                                                 apr_int64_t user_id);
typedef apr_status_t rus_backend_user_memberships_cb(rus_conn_t *conn,
                                                     apr_int64_t user_id,
                                                     apr_array_header_t **prows,
                                                     apr_pool_t *p);
typedef apr_status_t rus_backend_session_list_cb(rus_conn_t *conn,
                                                 apr_int64_t user_id,
                                                 apr_array_header_t **prows,
                                                 apr_pool_t *p);
typedef apr_status_t rus_backend_session_revoke_all_cb(rus_conn_t *conn,
                                                       int *pcount);
/** See rus_session_find_prefix(); @a prefix was checked by the facade. */
typedef apr_status_t rus_backend_session_find_prefix_cb(rus_conn_t *conn,
                                                        const char *prefix,
                                                        int *pcount,
                                                        rus_session_row_t *row,
                                                        apr_pool_t *p);
/** See rus_store_backup(). */
typedef apr_status_t rus_backend_backup_cb(rus_conn_t *conn, const char *path,
                                           int overwrite, apr_pool_t *ptemp);
/** Counts as of @a now (UNIX seconds): a session is expired when its
 *  expires_at <= @a now. */
typedef apr_status_t rus_backend_info_cb(rus_conn_t *conn, apr_int64_t now,
                                         rus_store_info_t *info);
/** The backend's own consistency check: *pok 1 when it found nothing
 *  wrong, else 0 with the problems in *presult, one per line; *presult is
 *  the backend's report either way (e.g. "ok"). */
typedef apr_status_t rus_backend_integrity_cb(rus_conn_t *conn, int *pok,
                                              const char **presult,
                                              apr_pool_t *p);

/** Optional (NULL: the backend keeps no log to empty). See
 *  rus_store_checkpoint(): copy the backend's write-ahead log into the
 *  store and empty it, waiting at most @a wait_ms for other connections.
 *  @return APR_SUCCESS when the log was emptied, APR_EBUSY when readers or
 *          a writer held it longer than @a wait_ms (partial work is kept;
 *          try again later), or another error */
typedef apr_status_t rus_backend_checkpoint_cb(rus_conn_t *conn, int wait_ms,
                                               rus_store_checkpoint_t *result);

/** Every watch starts with this. */
struct rus_watch_t {
    const struct rus_backend_t *backend; /**< who implements it */
};

/* The answer cache's invalidation (optional, all four or none; NULL: the
 * cache is not used, see rus_coherence.h). See rus_store_watch() and the
 * functions after it. A backend shared across hosts (PostgreSQL) marks
 * with something every host can read cheaply, and must hand out change
 * ids that never go below one already read (commit order). */
typedef apr_status_t rus_backend_watch_cb(rus_conn_t *conn,
                                          rus_watch_t **pwatch, apr_pool_t *p);
typedef apr_status_t rus_backend_watch_mark_cb(rus_watch_t *watch,
                                               apr_int64_t now,
                                               rus_store_mark_t *mark,
                                               const char **pmsg);
typedef apr_status_t rus_backend_changes_since_cb(rus_conn_t *conn,
                                                  apr_int64_t since,
                                                  rus_change_fn *fn,
                                                  void *baton,
                                                  apr_int64_t *plast);
typedef apr_status_t
rus_backend_changes_prune_cb(rus_conn_t *conn, apr_int64_t before, int *pcount);

/** Every feed starts with this (the facade sets it after feed_open, as
 *  it sets a connection's; a backend's own feed embeds it first). */
struct rus_feed_t {
    const struct rus_backend_t *backend; /**< who implements it */
};

/* A shared store (optional, all three or none; PostgreSQL): see
 * rus_store_feed_open() and the functions after it. A backend with a feed
 * has no watch of its own: the facade's watch reads the board
 * (rus_board.h) the host's feed publishes to. */
typedef apr_status_t rus_backend_feed_open_cb(const rus_store_t *store,
                                              rus_feed_t **pfeed, apr_pool_t *p,
                                              const char **pmsg);
typedef apr_status_t rus_backend_feed_wait_cb(rus_feed_t *feed, int timeout_ms,
                                              apr_int64_t *plast,
                                              const char **pmsg);
typedef void rus_backend_feed_close_cb(rus_feed_t *feed);

/* A dump and a load for rus_store_copy() (optional; dump alone makes a
 * store a source, the three load callbacks a target). */
/** Every row, in the order of rus_row_kind_e, from one read transaction. */
typedef apr_status_t rus_backend_dump_cb(rus_conn_t *conn, rus_row_fn *fn,
                                         void *baton, apr_pool_t *p);
/** Start the load's transaction; APR_EEXIST (conn->error saying what)
 *  when the store holds a user, group or session. */
typedef apr_status_t rus_backend_load_begin_cb(rus_conn_t *conn);
/** Insert one row with its ids as given. */
typedef apr_status_t rus_backend_load_row_cb(rus_conn_t *conn,
                                             const rus_store_row_t *row);
/** @a commit 1: make ids handed out later come after the loaded ones,
 *  and commit; 0: roll back. */
typedef apr_status_t rus_backend_load_end_cb(rus_conn_t *conn, int commit);

/** The location as messages show it: a secret in it masked (a password
 *  in a URI). Optional: NULL shows the location as it is. */
typedef const char *rus_backend_display_cb(const char *location, apr_pool_t *p);

/** A backend. Its strings and the first block of callbacks are required,
 *  the rest optional (see the file comment). */
typedef struct rus_backend_t {
    const char *scheme;   /**< "sqlite" in "sqlite:PATH" */
    const char *alias;    /**< another scheme for it, or NULL ("postgres") */
    int location_is_path; /**< resolve relative locations against a root */
    const char *example;  /**< a location for messages, "/var/lib/x/users.db" */
    /** Advice for an administrator whose store was replaced under a
     *  running httpd (RUS_STORE_ESTALE): how to restore instead, e.g.
     *  "do not replace the store file of a running httpd: ..." */
    const char *restore_hint;
    rus_backend_check_cb *check;
    rus_backend_prepare_cb *prepare;
    rus_backend_connect_cb *connect;
    rus_backend_validate_cb *validate;
    rus_backend_disconnect_cb *disconnect;
    rus_backend_user_find_cb *user_find;
    rus_backend_user_create_cb *user_create;
    rus_backend_user_touch_cb *user_touch;
    rus_backend_user_sync_cb *user_sync;
    rus_backend_session_insert_cb *session_insert;
    rus_backend_session_find_cb *session_find;
    rus_backend_session_touch_cb *session_touch;
    rus_backend_session_revoke_cb *session_revoke;
    rus_backend_session_revoke_user_cb *session_revoke_user;
    rus_backend_session_purge_cb *session_purge;
    rus_backend_session_trim_user_cb *session_trim_user;
    /* optional from here on */
    rus_backend_user_list_cb *user_list;
    rus_backend_user_add_cb *user_add;
    rus_backend_user_set_active_cb *user_set_active;
    rus_backend_user_delete_cb *user_delete;
    rus_backend_user_rename_cb *user_rename;
    rus_backend_group_list_cb *group_list;
    rus_backend_group_find_cb *group_find;
    rus_backend_group_add_cb *group_add;
    rus_backend_group_delete_cb *group_delete;
    rus_backend_group_members_cb *group_members;
    rus_backend_group_member_cb *group_add_member;
    rus_backend_group_member_cb *group_remove_member;
    rus_backend_user_memberships_cb *user_memberships;
    rus_backend_session_list_cb *session_list;
    rus_backend_session_revoke_all_cb *session_revoke_all;
    rus_backend_session_find_prefix_cb *session_find_prefix;
    rus_backend_backup_cb *backup;
    rus_backend_info_cb *info;
    rus_backend_integrity_cb *integrity;
    rus_backend_checkpoint_cb *checkpoint; /**< optional, may be NULL */
    rus_backend_watch_cb *watch;           /**< optional, see above */
    rus_backend_watch_mark_cb *watch_mark;
    rus_backend_changes_since_cb *changes_since;
    rus_backend_changes_prune_cb *changes_prune;
    rus_backend_feed_open_cb *feed_open; /**< shared stores, see above */
    rus_backend_feed_wait_cb *feed_wait;
    rus_backend_feed_close_cb *feed_close;
    rus_backend_dump_cb *dump; /**< rus_store_copy(), see above */
    rus_backend_load_begin_cb *load_begin;
    rus_backend_load_row_cb *load_row;
    rus_backend_load_end_cb *load_end;
    rus_backend_display_cb *display;
} rus_backend_t;

/** The SQLite backend (rus_store_sqlite.c). */
extern const rus_backend_t rus_backend_sqlite;

/** The PostgreSQL backend (rus_store_pg.c): "postgresql://..." and
 *  "postgres://...", a libpq connection URI. */
extern const rus_backend_t rus_backend_pg;

/** Every backend this build knows, NULL-terminated: the one registry that
 *  rus_store_create() searches and rus_backend_schemes() lists. A new
 *  backend adds one line to it in rus_store.c. */
extern const rus_backend_t *const rus_backends[];

/** The backend for @a scheme (@a len bytes, not terminated), or NULL. */
const rus_backend_t *rus_backend_find(const char *scheme, apr_size_t len);

/** The known schemes for messages, "sqlite" or "sqlite, pgsql". */
const char *rus_backend_schemes(apr_pool_t *p);

/** The name of the first required field or callback @a backend lacks
 *  ("example", "session_touch"), or NULL when it has them all. */
const char *rus_backend_missing(const rus_backend_t *backend);

/** Write a formatted explanation into conn->error. */
void rus_conn_set_error(rus_conn_t *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* RUS_BACKEND_H */
