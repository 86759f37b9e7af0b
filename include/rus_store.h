/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_store.h
 * @brief The user store as its callers see it: open a store, take a
 *        connection, ask questions. Which database answers is the backend's
 *        business (rus_backend.h); nothing outside a backend knows SQL.
 *
 * Lifecycle in httpd:
 *   - configuration: rus_store_create() from the RemoteUserStore spec;
 *   - check_config (also under configtest): rus_store_check();
 *   - post_config (parent, before fork): rus_store_prepare() creates the
 *     store and migrates its schema, then closes everything;
 *   - child_init: rus_store_pool_create(); requests take connections with
 *     rus_store_acquire() and give them back with rus_store_release().
 */
#ifndef RUS_STORE_H
#define RUS_STORE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>

#include "rus_profile.h"
#include "rus_session.h"

/** The store's data is damaged (SQLite: corrupt, or not a database). */
#define RUS_STORE_ECORRUPT (APR_OS_START_USERERR + 1)
/** The store's schema is not one this code can use (e.g. newer). */
#define RUS_STORE_ESCHEMA (APR_OS_START_USERERR + 2)
/** The store spec names no known backend, or is malformed. */
#define RUS_STORE_ESPEC (APR_OS_START_USERERR + 3)
/** An open connection refers to a store file that was since replaced. */
#define RUS_STORE_ESTALE (APR_OS_START_USERERR + 4)
/** The store refused a write for a reason its files do not show (they
 *  look writable): SQLite's "attempt to write a readonly database". */
#define RUS_STORE_EREADONLY (APR_OS_START_USERERR + 6)
/** The store's server cannot be reached: connection refused or timed out,
 *  the connection lost, the server shutting down or not yet accepting
 *  connections (PostgreSQL). Transient: httpd answers 503. */
#define RUS_STORE_EUNREACHABLE (APR_OS_START_USERERR + 7)

typedef struct rus_store_t rus_store_t;           /**< a configured store */
typedef struct rus_conn_t rus_conn_t;             /**< one open connection */
typedef struct rus_store_pool_t rus_store_pool_t; /**< connections of a child */

/** Tunables of a store; rus_store_options_default() fills them in. */
typedef struct rus_store_options_t {
    int busy_timeout_ms; /**< how long to wait for a lock held elsewhere */
    int auto_checkpoint; /**< 1: the backend empties its log by itself as
                              well (default); 0: only rus_store_checkpoint()
                              does, which someone must then call */
    int admin;           /**< 1: an administrator's tool (remoteuser-admin):
                              the sessions its revocations end are counted
                              in the store (rus_store_info_t's revoked_*),
                              in the same transaction; 0 (httpd, default):
                              not counted there */
} rus_store_options_t;

/** A row of the users table. */
typedef struct rus_user_t {
    apr_int64_t id;          /**< row id, stable for the user's lifetime */
    const char *username;    /**< cleaned name, unique */
    int is_active;           /**< 0 when an administrator disabled the user */
    apr_int64_t date_joined; /**< UNIX seconds */
    apr_int64_t last_login;  /**< UNIX seconds, 0 when never */
    const char *groups;      /**< names of its groups, sorted by strcmp()
                                  (the facade sorts them), comma-separated;
                                  "" when none */
    const char *frontend_groups; /**< of those, the ones whose membership
                                      came from a login's group source
                                      (origin RUS_ORIGIN_FRONTEND), sorted,
                                      comma-separated; "" when none */
    const char *email;           /**< users.email, "" when none */
    const char *first_name;      /**< users.first_name, "" when none */
    const char *last_name;       /**< users.last_name, "" when none */
    /** user_attributes rows (rus_attr_t), sorted by name (the facade
     *  sorts them); NULL when none */
    apr_array_header_t *attrs;
} rus_user_t;

/** A row of the groups table. */
typedef struct rus_group_t {
    apr_int64_t id;
    const char *name;
    int members; /**< how many users belong to it */
} rus_group_t;

/** A session as administrators see it (never the token). */
typedef struct rus_session_row_t {
    const char *token_hash; /**< stored form */
    const char *username;   /**< whose */
    rus_session_t session;  /**< times and virtual host */
} rus_session_row_t;

/** Counts and version of a store. */
typedef struct rus_store_info_t {
    int schema_version;
    apr_int64_t users;
    apr_int64_t groups;
    apr_int64_t sessions;
    apr_int64_t sessions_expired; /**< expired, not yet purged */
    apr_int64_t changes;          /**< rows of the change log */
    /** Sessions ended by an administrator's tool (opts.admin), counted
     *  by the store since it was made: revoked (session revoke, revoke
     *  --user, revoke --all, user delete) ... */
    apr_int64_t revoked_admin;
    /** ... and ended by disabling their user (user disable). */
    apr_int64_t revoked_deactivation;
} rus_store_info_t;

/** What one rus_store_checkpoint() found and did, in the backend's units
 *  (SQLite: WAL frames of one page each). */
typedef struct rus_store_checkpoint_t {
    apr_int64_t log_before; /**< entries in the log when it started */
    apr_int64_t copied;     /**< of those, copied into the store */
    int emptied;            /**< the log was reset to empty */
} rus_store_checkpoint_t;

/** Who should own the files the store creates (uid/gid -1: leave as is). */
typedef struct rus_store_owner_t {
    long uid;
    long gid;
} rus_store_owner_t;

/** Fill @a opts with the defaults (busy timeout 5000 ms, automatic
 *  checkpoints on, admin 0). */
void rus_store_options_default(rus_store_options_t *opts);

/**
 * Create a store handle from a spec such as "sqlite:/var/lib/x/users.db".
 * Nothing is opened yet.
 * @param pstore  receives the store, allocated from @a p
 * @param p       pool the store lives in (httpd: pconf)
 * @param spec    "SCHEME:LOCATION"
 * @param root    directory that relative file locations are resolved
 *                against (httpd: ServerRoot); NULL for the current directory
 * @param opts    options, copied; NULL for the defaults
 * @param pmsg    receives an explanation on failure
 * @return APR_SUCCESS, or RUS_STORE_ESPEC for an unknown scheme or an empty
 *         location
 */
apr_status_t rus_store_create(rus_store_t **pstore, apr_pool_t *p,
                              const char *spec, const char *root,
                              const rus_store_options_t *opts,
                              const char **pmsg);

/**
 * The spec of a store kept in the file @a path, by the first registered
 * backend whose locations are paths ("sqlite:PATH"): what
 * remoteuser-admin --db PATH means, without the tool naming a backend.
 */
const char *rus_store_file_spec(apr_pool_t *p, const char *path);

/** The store's spec with the location made absolute, for messages. */
const char *rus_store_describe(const rus_store_t *store);

/** The scheme of the store's backend, for messages and reports: "sqlite",
 *  "postgresql" (its own scheme, whichever alias the spec used). */
const char *rus_store_scheme(const rus_store_t *store);

/**
 * A spec as messages may show it, without a store made of it (e.g. one
 * rus_store_create() refused, or an argument of a directive): for a
 * known backend what rus_store_describe() would show (its display
 * callback masks a password), or the spec as it is when the backend has
 * nothing to mask; for an unknown scheme, a password in what looks like a URI's
 * user information ("//USER:PASSWORD@") or a "password=" parameter masked
 * all the same, since a typo in the scheme is no reason to show it.
 * @return the spec for messages, allocated from @a p (NULL: "")
 */
const char *rus_store_spec_describe(apr_pool_t *p, const char *spec);

/**
 * Check, without creating or changing anything, that the store can be
 * used: called by configtest and at every (re)start. A file store is
 * refused when it, PATH-wal or PATH-shm is a symbolic link or not a
 * regular file, or when a directory on its path is a symbolic link.
 * @param pmsg  receives the reason on failure, allocated from @a ptemp
 *              (naming the offending path)
 * @return APR_SUCCESS, APR_FROM_OS_ERROR(ELOOP) for a symbolic link, or
 *         another APR error, with @a pmsg set
 */
apr_status_t rus_store_check(const rus_store_t *store, apr_pool_t *ptemp,
                             const char **pmsg);

/**
 * Create the store if absent and bring its schema up to date; then close
 * it again. Call in the parent before any child exists. Refuses what
 * rus_store_check() refuses; never follows a symbolic link, never creates
 * or changes the owner of a file by a path that could be one.
 * @param owner  who should own created files; NULL to leave them alone
 * @param pwarn  receives a warning that does not stop startup, or NULL
 *               (none at present; that @a owner can write the directory
 *               is the caller's check, see rus_store_dir())
 * @param pmsg   receives the reason on failure
 * @return APR_SUCCESS, APR_FROM_OS_ERROR(ELOOP) for a symbolic link, or
 *         another APR error, with @a pmsg set
 */
apr_status_t rus_store_prepare(const rus_store_t *store, apr_pool_t *ptemp,
                               const rus_store_owner_t *owner,
                               const char **pwarn, const char **pmsg);

/**
 * The directory a file store keeps its files in (SQLite creates PATH-wal
 * and PATH-shm there): whoever uses the store must be able to create
 * files in it.
 * @return the directory, allocated from @a p, or NULL for a store that is
 *         not a file
 */
const char *rus_store_dir(const rus_store_t *store, apr_pool_t *p);

/**
 * Look at who may write the directory of a file store: whoever can write
 * it can swap the store (or its -wal/-shm files) for another file.
 * @param owner    the user the store is for (who httpd's children run
 *                 as); NULL or uid -1 for the calling process's own
 * @param pothers  receives a warning when a user or group other than root
 *                 and @a owner may write the directory, else NULL
 * @param pworld   receives a warning when the directory is world-writable,
 *                 else NULL
 * @return APR_SUCCESS (both NULL for a store that is not a file), or the
 *         error of stat() on the directory
 */
apr_status_t rus_store_dir_warnings(const rus_store_t *store,
                                    const rus_store_owner_t *owner,
                                    apr_pool_t *ptemp, const char **pothers,
                                    const char **pworld);

/**
 * Open one connection. It owns its memory and lives until
 * rus_store_disconnect().
 * @param pmsg  receives the reason on failure, allocated from @a ptemp
 */
apr_status_t rus_store_connect(rus_conn_t **pconn, const rus_store_t *store,
                               apr_pool_t *ptemp, const char **pmsg);

/** Close a connection and free everything it holds. NULL is a no-op. */
void rus_store_disconnect(rus_conn_t *conn);

/**
 * The text of the last failure on this connection ("" when none). Valid
 * until the next call on the connection.
 */
const char *rus_store_error(const rus_conn_t *conn);

/**
 * Nonzero when a failure is expected to pass without an administrator
 * changing the store's content (lock held too long, file unreadable or
 * gone, disk full): httpd answers 503 for those and 500 for the rest.
 */
int rus_store_error_is_transient(apr_status_t rv);

/**
 * What a store failure is, in a few words for a log line: "permission
 * denied", "read-only file system", "missing", "locked", "disk full",
 * "corrupt", "schema changed", "replaced while open", "read-only",
 * "unreachable", "I/O error", "out of memory", or "failed".
 */
const char *rus_store_error_kind(apr_status_t rv);

/**
 * The status to give a logger with a store failure's text: @a rv when it
 * is an operating-system error number (its text, e.g. "Permission
 * denied", is then true), else 0, so that neither the store's own codes
 * (shown by httpd as "APR does not understand this error code") nor APR's
 * are printed as if they were the cause.
 */
apr_status_t rus_store_error_os(apr_status_t rv);

/* ---- users ---------------------------------------------------------- */

/**
 * Look a user up by cleaned name.
 * @param user  filled in on success; strings allocated from @a p
 * @return APR_SUCCESS, APR_ENOENT when there is no such user, or an error
 */
apr_status_t rus_user_find(rus_conn_t *conn, const char *username,
                           rus_user_t *user, apr_pool_t *p);

/**
 * Create an active user with date_joined = last_login = @a now, unless one
 * with that name exists already; either way fill @a user with the row.
 * Safe against concurrent callers in other threads and processes: exactly
 * one row results and every caller gets it.
 * @param pcreated  set to 1 when this call inserted the row, else 0
 */
apr_status_t rus_user_create(rus_conn_t *conn, const char *username,
                             apr_int64_t now, rus_user_t *user, int *pcreated,
                             apr_pool_t *p);

/**
 * rus_user_create() with what the login says about the user: when this
 * call inserts the row, @a profile (may be NULL) is written in the same
 * transaction (the three columns, the attributes, and the groups, created
 * when missing, as RUS_ORIGIN_FRONTEND memberships), and @a user is the
 * row with it. When the row existed already nothing of @a profile is
 * written: the caller syncs it (rus_user_sync()) if its policy says so.
 * Either way the user and its profile come into being together or not at
 * all.
 */
apr_status_t rus_user_create_with(rus_conn_t *conn, const char *username,
                                  apr_int64_t now, const rus_profile_t *profile,
                                  rus_user_t *user, int *pcreated,
                                  apr_pool_t *p);

/**
 * A login of a known user whose profile differs (rus_profile_differs()):
 * in one transaction, write what in @a profile differs from the stored
 * row (nothing else: an unchanged value is not written), and record the
 * login as rus_user_touch_login() does. Groups named in @a profile that
 * do not exist are created. Each change is logged for the answer cache
 * (rus_store_changes_since()) as the store's triggers log any change of
 * a user.
 * @return APR_SUCCESS, APR_ENOENT when there is no such user (nothing
 *         written), or an error (nothing written)
 */
apr_status_t rus_user_sync(rus_conn_t *conn, apr_int64_t user_id,
                           const rus_profile_t *profile, apr_int64_t now,
                           apr_int64_t interval);

/**
 * Record a login: set last_login to @a now unless it was written less than
 * @a interval seconds ago (so the hot path stays a read).
 * @return APR_SUCCESS (also when nothing needed writing), or an error
 */
apr_status_t rus_user_touch_login(rus_conn_t *conn, apr_int64_t user_id,
                                  apr_int64_t now, apr_int64_t interval);

/* ---- administration (remoteuser-admin) ------------------------------ */

/* A backend need not implement these (rus_backend.h): the ones it lacks
 * return APR_ENOTIMPL, with rus_store_error() naming the operation. */

/* The lists below come sorted by the facade, whatever order the backend
 * returned: names compare by strcmp() (bytes, as SQLite's BINARY
 * collation), which is a total order since names are unique. */

/** All users, by name. @param pusers array of rus_user_t */
apr_status_t rus_user_list(rus_conn_t *conn, apr_array_header_t **pusers,
                           apr_pool_t *p);

/** Add a user; APR_EEXIST when the name is taken. */
apr_status_t rus_user_add(rus_conn_t *conn, const char *username,
                          apr_int64_t now, int active, rus_user_t *user,
                          apr_pool_t *p);

/** What rus_user_set_active() did. */
typedef struct rus_user_change_t {
    int changed;        /**< 1: is_active changed; 0: it already was so */
    int sessions_ended; /**< sessions deleted (when disabling) */
} rus_user_change_t;

/**
 * Enable or disable a user; disabling deletes its sessions in the same
 * transaction (also when the user was disabled already: a disabled user
 * never keeps a session).
 * @param change  receives what was done; may be NULL
 * @return APR_SUCCESS, APR_ENOENT when there is no such user, or an error
 */
apr_status_t rus_user_set_active(rus_conn_t *conn, apr_int64_t user_id,
                                 int active, rus_user_change_t *change);

/** Delete a user with its sessions and memberships. APR_ENOENT if none. */
apr_status_t rus_user_delete(rus_conn_t *conn, apr_int64_t user_id);

/** Rename a user; APR_EEXIST when the new name is taken. */
apr_status_t rus_user_rename(rus_conn_t *conn, apr_int64_t user_id,
                             const char *new_name);

/** All groups, by name. @param pgroups array of rus_group_t */
apr_status_t rus_group_list(rus_conn_t *conn, apr_array_header_t **pgroups,
                            apr_pool_t *p);

/** Look a group up by name; APR_ENOENT when there is none. */
apr_status_t rus_group_find(rus_conn_t *conn, const char *name,
                            rus_group_t *group, apr_pool_t *p);

/** Add a group; APR_EEXIST when the name is taken. */
apr_status_t rus_group_add(rus_conn_t *conn, const char *name);

/** Delete a group and its memberships. */
apr_status_t rus_group_delete(rus_conn_t *conn, apr_int64_t group_id);

/** The user names in a group, sorted. @param pnames array of char * */
apr_status_t rus_group_members(rus_conn_t *conn, apr_int64_t group_id,
                               apr_array_header_t **pnames, apr_pool_t *p);

/** Put a user in a group as an administrator's membership
 *  (RUS_ORIGIN_ADMIN, which a login's Replace keeps). A membership the
 *  front end gave becomes an administrator's. APR_EEXIST when the user
 *  is in the group as an administrator's membership already. */
apr_status_t rus_group_add_member(rus_conn_t *conn, apr_int64_t group_id,
                                  apr_int64_t user_id);

/** Take a user out of a group; APR_ENOENT when not there. */
apr_status_t rus_group_remove_member(rus_conn_t *conn, apr_int64_t group_id,
                                     apr_int64_t user_id);

/** A user's memberships with their origins, by group name.
 *  @param prows array of rus_membership_t */
apr_status_t rus_user_memberships(rus_conn_t *conn, apr_int64_t user_id,
                                  apr_array_header_t **prows, apr_pool_t *p);

/** Sessions, newest first (created_at descending, then token_hash
 *  ascending); of one user when @a user_id > 0.
 *  @param prows array of rus_session_row_t */
apr_status_t rus_session_list(rus_conn_t *conn, apr_int64_t user_id,
                              apr_array_header_t **prows, apr_pool_t *p);

/** Delete every session; *pcount gets how many. */
apr_status_t rus_session_revoke_all(rus_conn_t *conn, int *pcount);

/** Longest prefix rus_session_find_prefix() takes: a whole stored hash. */
#define RUS_SESSION_HASH_LEN 64

/**
 * The sessions whose stored hash starts with @a prefix (what
 * rus_session_public_id() shows is one): how many there are, and the one
 * when there is exactly one.
 * @param prefix  1 to RUS_SESSION_HASH_LEN lowercase hex characters
 * @param pcount  receives how many sessions match
 * @param row     filled in when one or more match, with the first by hash
 *                (strings from @a p)
 * @return APR_SUCCESS (also for no match: *pcount is 0), APR_EINVAL for a
 *         prefix that is not lowercase hex of that length, or an error
 */
apr_status_t rus_session_find_prefix(rus_conn_t *conn, const char *prefix,
                                     int *pcount, rus_session_row_t *row,
                                     apr_pool_t *p);

/** Schema version and counts; sessions_expired counts the sessions with
 *  expires_at <= @a now (UNIX seconds). */
apr_status_t rus_store_info(rus_conn_t *conn, apr_int64_t now,
                            rus_store_info_t *info);

/**
 * Write a consistent copy of the whole store to the file @a path while
 * others go on using it (SQLite: the online backup API, from one read
 * transaction). The copy is written beside @a path under another name,
 * with mode 0600, and then put in place: a reader of @a path never sees
 * half a copy. Symbolic links are neither followed nor replaced.
 * @param overwrite  0: fail with APR_EEXIST when @a path exists; 1:
 *                   replace a regular file there (not one with a -wal or
 *                   -journal file beside it: a store in use)
 * @return APR_SUCCESS; APR_EEXIST; APR_ENOTIMPL when the backend cannot
 *         copy itself; or another error; rus_store_error() explains
 */
apr_status_t rus_store_backup(rus_conn_t *conn, const char *path, int overwrite,
                              apr_pool_t *ptemp);

/** Run the backend's own consistency check.
 * @param pok      set to 1 when it found nothing wrong, else 0
 * @param presult  the backend's report: its word for "fine" (SQLite: "ok")
 *                 or the problems found, one per line
 * @return APR_SUCCESS when the check ran (whatever it found), or an error */
apr_status_t rus_store_integrity(rus_conn_t *conn, int *pok,
                                 const char **presult, apr_pool_t *p);

/**
 * Maintenance, for one process at a time on a timer: copy the store's
 * write-ahead log (SQLite's PATH-wal) into the store and empty it, so that
 * it stays small under any load. The automatic checkpoint of SQLite runs
 * in whichever writer crosses 1000 pages and never waits: under steady
 * traffic some reader always overlaps, the log is never started over, and
 * it grows without bound (checkpoint starvation).
 *
 * Writers of other connections wait while this holds the write lock: at
 * most @a wait_ms for readers, plus the time to copy what the log holds
 * then (the log is first copied without the lock, so that is little).
 * @param wait_ms  how long to wait for other connections, in ms
 * @param result   filled in (zeros when the backend keeps no log)
 * @return APR_SUCCESS when the log was emptied (or there is none),
 *         APR_EBUSY when other connections held it longer than
 *         @a wait_ms (what could be copied was; try again later), or an
 *         error as rus_store_error() explains
 */
apr_status_t rus_store_checkpoint(rus_conn_t *conn, int wait_ms,
                                  rus_store_checkpoint_t *result);

/* ---- what changed: the answer cache's invalidation ------------------- */

/**
 * One committed change that can make a cached answer wrong, from the
 * store's change log: a user disabled, enabled, renamed or deleted, a
 * membership or a group changed (user_id set, session_hash NULL: every
 * answer about that user), or a session deleted or altered (session_hash
 * set: that session's answer). Bookkeeping (last_login, last_seen, new
 * sessions) is never logged. Every writer of the store feeds the log, not
 * only this module (SQLite: triggers in the schema).
 */
typedef struct rus_change_t {
    apr_int64_t id;           /**< increasing in commit order */
    apr_int64_t user_id;      /**< 0 when unknown */
    const char *session_hash; /**< NULL: the change is about the user */
    apr_int64_t at;           /**< UNIX seconds of the commit */
} rus_change_t;

/** Called for each change, in id order; a non-success stops the walk.
 *  RUS_CHANGES_ENOUGH stops it too, as a success: the caller will drop
 *  everything instead (see rus_store_changes_since()). */
typedef apr_status_t rus_change_fn(void *baton, const rus_change_t *change);

/** What a rus_change_fn returns to stop a walk it finds too long. */
#define RUS_CHANGES_ENOUGH (APR_OS_START_USERERR + 5)

/** A cheap detector of commits made by anyone to one store. */
typedef struct rus_watch_t rus_watch_t;

/** The store's commit state as a watch reads it; equal marks mean that
 *  nothing committed in between. Opaque words. */
#define RUS_STORE_MARK_WORDS 12
typedef struct rus_store_mark_t {
    apr_uint32_t w[RUS_STORE_MARK_WORDS];
} rus_store_mark_t;

/**
 * Set up a commit detector on @a conn, which must stay open as long as
 * the watch is used (it keeps what the watch reads in place).
 * @return APR_SUCCESS; APR_ENOTIMPL when the backend has none (its
 *         conn->error says so); another error (conn->error) when the store
 *         cannot be watched now, e.g. not in WAL mode
 */
apr_status_t rus_store_watch(rus_watch_t **pwatch, rus_conn_t *conn,
                             apr_pool_t *p);

/**
 * Read the commit state, without a system call at most once per second
 * of @a now (UNIX seconds). Safe from any thread.
 * @return APR_SUCCESS with *mark filled in; APR_EAGAIN when a commit was
 *         being recorded at that moment (no mark: try again or treat as
 *         changed); another error when the watch no longer works (the
 *         store replaced, an unknown layout), with a reason in *pmsg
 */
apr_status_t rus_store_watch_mark(rus_watch_t *watch, apr_int64_t now,
                                  rus_store_mark_t *mark, const char **pmsg);

/**
 * Call @a fn for each change with an id greater than @a since, in id
 * order, from one read of the store; *plast receives the greatest id
 * seen (@a since when there was none). When @a fn returns
 * RUS_CHANGES_ENOUGH, the walk stops and *plast receives the greatest id
 * in the log as of a later read: the caller must then drop every answer
 * (after this returns), as if it had been told of every change up to it.
 * The same, without calling @a fn, when the log went backwards (its
 * highest id ever is below @a since: the store was restored from a copy
 * without logging what that changed); *plast is then below @a since.
 * The same, too, at a change about every answer (PostgreSQL: a TRUNCATE
 * of a table), *plast then being that change's id or later.
 * @return APR_SUCCESS (RUS_CHANGES_ENOUGH when @a fn said so, or as above),
 *         APR_ENOTIMPL when the backend keeps no change log, or the first
 *         failure (conn->error, or what @a fn returned)
 */
apr_status_t rus_store_changes_since(rus_conn_t *conn, apr_int64_t since,
                                     rus_change_fn *fn, void *baton,
                                     apr_int64_t *plast);

/**
 * Forget the changes committed before @a before (UNIX seconds); keep them
 * at least as long as a cached answer may live. *pcount gets how many.
 * @return APR_SUCCESS (nothing to do when the backend keeps no log), or
 *         an error as rus_store_error() explains
 */
apr_status_t rus_store_changes_prune(rus_conn_t *conn, apr_int64_t before,
                                     int *pcount);

/* ---- a whole store copied to another (remoteuser-admin db copy) ------ */

/** What one row of a store dump is. Dumps come in this order, so that a
 *  row only refers to rows already given. */
typedef enum {
    RUS_ROW_USER = 1, /**< user: id, username, is_active, date_joined,
                           last_login, email, first_name, last_name
                           (groups, frontend_groups and attrs NULL) */
    RUS_ROW_GROUP,    /**< group: id, name (members 0) */
    RUS_ROW_MEMBER,   /**< user_id in group_id, with origin */
    RUS_ROW_SESSION,  /**< session: token_hash and session (user_id,
                           vhost, created_at, last_seen, expires_at);
                           username NULL */
    RUS_ROW_ATTR      /**< user_id's attribute attr (name, value) */
} rus_row_kind_e;

/** One row of a dump, ids as the source store has them. */
typedef struct rus_store_row_t {
    rus_row_kind_e kind;
    rus_user_t user;
    rus_group_t group;
    apr_int64_t user_id;  /**< RUS_ROW_MEMBER */
    apr_int64_t group_id; /**< RUS_ROW_MEMBER */
    const char *origin;   /**< RUS_ROW_MEMBER: RUS_ORIGIN_ADMIN or
                               RUS_ORIGIN_FRONTEND */
    rus_attr_t attr;      /**< RUS_ROW_ATTR, with user_id */
    rus_session_row_t session;
} rus_store_row_t;

/** Called for each row of a dump; a non-success stops it. */
typedef apr_status_t rus_row_fn(void *baton, const rus_store_row_t *row);

/** How many rows of each kind rus_store_copy() copied. */
typedef struct rus_store_copy_counts_t {
    apr_int64_t users;
    apr_int64_t groups;
    apr_int64_t members;
    apr_int64_t sessions;
    apr_int64_t attributes;
} rus_store_copy_counts_t;

/**
 * Copy every user (with its attributes), group, membership (with its
 * origin) and session of the store of @a from
 * into the empty store of @a to, ids, times and token hashes as they are
 * (so sessions issued before the copy authenticate after it), in one read
 * of @a from and one transaction of @a to: the target has all of it or
 * none. The target's change log is not copied: the target's own starts
 * where its log was. Ids handed out later by the target come after the
 * copied ones.
 * @param counts  receives what was copied (on success); may be NULL
 * @return APR_SUCCESS; APR_EEXIST when the target store holds a user, a
 *         group or a session already (rus_store_error(@a to) says what);
 *         APR_ENOTIMPL when a backend cannot dump or load; APR_EINVAL
 *         when @a from and @a to are one connection; or an error of
 *         either, on the connection that had it (the target rolled back)
 */
apr_status_t rus_store_copy(rus_conn_t *from, rus_conn_t *to,
                            rus_store_copy_counts_t *counts, apr_pool_t *p);

/* ---- a store shared by several hosts ---------------------------------- */

/** One process per host follows a shared store's commits (rus_board.h). */
typedef struct rus_feed_t rus_feed_t;

/** Nonzero when @a store is shared by several hosts (its backend has a
 *  feed: PostgreSQL), so that its commits are followed by a feed and read
 *  from a board rather than watched by each process (rus_store_watch()). */
int rus_store_is_shared(const rus_store_t *store);

struct rus_board_t;
/**
 * Give a shared store the board its watches read (rus_board.h), made by
 * the caller in memory shared by the host's processes; call before the
 * processes that watch it exist. Without one, rus_store_watch() on a
 * shared store fails, and the answer cache is not used.
 */
void rus_store_set_board(rus_store_t *store, struct rus_board_t *board);

/**
 * Open the feed of a shared store: a connection of its own that is told
 * of commits (PostgreSQL: LISTEN), in @a p.
 * @return APR_SUCCESS; APR_ENOTIMPL for a store that is not shared; or
 *         the connection's failure, explained in *pmsg (from @a p)
 */
apr_status_t rus_store_feed_open(rus_feed_t **pfeed, const rus_store_t *store,
                                 apr_pool_t *p, const char **pmsg);

/**
 * Wait at most @a timeout_ms for a commit to be notified, then read the
 * greatest id of the store's change log into *plast (also after a
 * timeout: notifications are not replayed to a feed that was not
 * connected, and the read is the fallback).
 * @return APR_SUCCESS; otherwise the feed is broken (explained in *pmsg,
 *         from the feed's pool): close it and open another
 */
apr_status_t rus_store_feed_wait(rus_feed_t *feed, int timeout_ms,
                                 apr_int64_t *plast, const char **pmsg);

/** Close a feed (its pool is the caller's). NULL is a no-op. */
void rus_store_feed_close(rus_feed_t *feed);

/* ---- sessions --------------------------------------------------------- */

/**
 * Store a new session under the hash of its token.
 * @param vhost       the virtual host it is valid for
 * @param expires_at  UNIX seconds
 */
apr_status_t rus_session_insert(rus_conn_t *conn, const char *token_hash,
                                apr_int64_t user_id, const char *vhost,
                                apr_int64_t now, apr_int64_t expires_at);

/**
 * rus_session_insert() with what the login's request says of the client:
 * its address and User-Agent (rus_ua_clean()'d), kept in the session row
 * for the user's own list of sessions (NULL: "").
 */
apr_status_t rus_session_insert_with(rus_conn_t *conn, const char *token_hash,
                                     apr_int64_t user_id, const char *vhost,
                                     const char *ip, const char *user_agent,
                                     apr_int64_t now, apr_int64_t expires_at);

/**
 * Look a session up by the hash of its token, with its user.
 * @return APR_SUCCESS, APR_ENOENT when there is no such session, or an
 *         error
 */
apr_status_t rus_session_find(rus_conn_t *conn, const char *token_hash,
                              rus_session_t *session, rus_user_t *user,
                              apr_pool_t *p);

/**
 * Set last_seen to @a now: never backwards from a past value, but values
 * in the future (the clock was ahead) are clamped as rus_session_clamp()
 * does, created_at and expires_at too.
 */
apr_status_t rus_session_touch(rus_conn_t *conn, const char *token_hash,
                               apr_int64_t now);

/** Delete one session (logout, replaced at login). No such row is fine. */
apr_status_t rus_session_revoke(rus_conn_t *conn, const char *token_hash);

/** Delete every session of a user (deactivated, deleted, or on demand). */
apr_status_t rus_session_revoke_user(rus_conn_t *conn, apr_int64_t user_id);

/**
 * Keep only the @a keep newest sessions of a user: @a newest (the one just
 * issued, never deleted) and the @a keep - 1 most recent others (by
 * created_at, then last_seen); delete the rest in one statement (SQLite:
 * DELETE ... RETURNING, 3.35 or later).
 * @param phashes  receives the token hashes deleted (array of char *),
 *                 allocated from @a p, so callers can drop them from a cache
 */
apr_status_t rus_session_trim_user(rus_conn_t *conn, apr_int64_t user_id,
                                   int keep, const char *newest,
                                   apr_array_header_t **phashes, apr_pool_t *p);

/**
 * Delete the sessions that expired RUS_CLOCK_GRACE seconds or more before
 * @a now (a clock jumped ahead does not purge live sessions); *pcount gets
 * how many.
 */
apr_status_t rus_session_purge(rus_conn_t *conn, apr_int64_t now, int *pcount);

/**
 * rus_session_purge(), at most @a limit sessions (> 0) in one short
 * transaction, so that it never holds the write lock for long; call again
 * while *pcount comes back equal to @a limit.
 */
apr_status_t rus_session_purge_some(rus_conn_t *conn, apr_int64_t now,
                                    int limit, int *pcount);

/* ---- connections for a multi-threaded process ----------------------- */

/**
 * Create an empty pool of connections to @a store. Connections are opened
 * on demand and closed when @a p is cleared or destroyed.
 */
apr_status_t rus_store_pool_create(rus_store_pool_t **ppool,
                                   const rus_store_t *store, apr_pool_t *p);

/**
 * Take a connection for the calling thread's exclusive use. A pooled
 * connection is first checked against the live store: one whose store
 * became unreachable fails the call (and serves again once the fault is
 * gone), and one that lost its server (broken: a server restarted since)
 * is replaced by a new connection at once; if the store was replaced underneath, the pool fails closed with
 * RUS_STORE_ESTALE from then on, since neither the old file nor the new
 * one (with the old one's WAL beside it) can be trusted.
 * @param pmsg  receives the reason on failure, allocated from @a ptemp
 * @return APR_SUCCESS or an error (see rus_store_error_is_transient())
 */
apr_status_t rus_store_acquire(rus_conn_t **pconn, rus_store_pool_t *pool,
                               apr_pool_t *ptemp, const char **pmsg);

/**
 * Check a pooled connection against the live store (file replaced,
 * removed, unreadable) at most once per @a interval instead of at every
 * acquire (the default, 0). httpd uses one second: such changes are then
 * seen within a second, for two system calls less per request.
 */
void rus_store_pool_set_check_interval(rus_store_pool_t *pool,
                                       apr_interval_time_t interval);

/** Give a connection back. One that failed badly is closed instead. */
void rus_store_release(rus_store_pool_t *pool, rus_conn_t *conn);

#endif /* RUS_STORE_H */
