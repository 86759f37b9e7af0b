/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The SQLite backend: the only file that speaks SQL to SQLite.
 *
 * The database runs in WAL mode (readers never wait for the writer) with
 * synchronous=NORMAL and a busy timeout. Every statement is prepared once
 * per connection and only ever sees request data through bound
 * parameters. The schema version lives in PRAGMA user_version and is moved
 * forward by the migrations below, one step per version. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include <sqlite3.h>

#include "rus_backend.h"

/* ==================================================================== */
/* schema                                                               */

/* The commit time of a change log row, UNIX seconds. */
#define CHANGE_NOW "CAST(strftime('%s', 'now') AS INTEGER)"

/* migrations[v] moves a database at user_version v to v + 1. Never edit a
 * step once released: add a new one. */
static const char *const migrations[] = {
    /* 0 -> 1: users */
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY,"
    " username TEXT NOT NULL UNIQUE,"
    " is_active INTEGER NOT NULL DEFAULT 1,"
    " date_joined INTEGER NOT NULL,"
    " last_login INTEGER"
    ");",
    /* 1 -> 2: sessions, keyed by the SHA-256 of their token */
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " vhost TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE INDEX sessions_expires ON sessions (expires_at);",
    /* 2 -> 3: groups and memberships */
    "CREATE TABLE groups ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE"
    ");"
    "CREATE TABLE user_groups ("
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
    " PRIMARY KEY (user_id, group_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX user_groups_group ON user_groups (group_id);",
    /* 3 -> 4: the change log the answer cache is invalidated from. The
     * triggers fire for every client of the file (the module,
     * remoteuser-admin, the sqlite3 shell); bookkeeping (last_login,
     * last_seen, session inserts, a touch's clock clamp) logs nothing.
     * A row with session_hash is about that session, one without it about
     * every answer of the user. */
    "CREATE TABLE changes ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER,"
    " session_hash TEXT,"
    " at INTEGER NOT NULL"
    ");"
    "CREATE INDEX changes_at ON changes (at);"
    "CREATE TRIGGER changes_user_update AFTER UPDATE OF is_active, username"
    " ON users WHEN OLD.is_active IS NOT NEW.is_active"
    " OR OLD.username IS NOT NEW.username BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_user_delete AFTER DELETE ON users BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.id, " CHANGE_NOW ");"
    " END;"
    /* An expired session is refused from the cache as from the store: the
     * purge of expired sessions logs nothing. */
    "CREATE TRIGGER changes_session_delete AFTER DELETE ON sessions"
    " WHEN OLD.expires_at > " CHANGE_NOW " BEGIN"
    " INSERT INTO changes (user_id, session_hash, at)"
    " VALUES (OLD.user_id, OLD.token_hash, " CHANGE_NOW ");"
    " END;"
    /* A touch lowers expires_at only together with created_at (the clock
     * clamp); an expiry shortened by hand keeps created_at. */
    "CREATE TRIGGER changes_session_update AFTER UPDATE OF token_hash,"
    " user_id, vhost, expires_at ON sessions"
    " WHEN OLD.token_hash IS NOT NEW.token_hash"
    " OR OLD.user_id IS NOT NEW.user_id OR OLD.vhost IS NOT NEW.vhost"
    " OR (NEW.expires_at < OLD.expires_at"
    " AND NEW.created_at IS OLD.created_at) BEGIN"
    " INSERT INTO changes (user_id, session_hash, at)"
    " VALUES (OLD.user_id, OLD.token_hash, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_member_insert AFTER INSERT ON user_groups BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (NEW.user_id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_member_delete AFTER DELETE ON user_groups BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_member_update AFTER UPDATE ON user_groups BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " CHANGE_NOW "),"
    " (NEW.user_id, " CHANGE_NOW ");"
    " END;"
    /* Cached answers carry group names. A deleted group's memberships go
     * by ON DELETE CASCADE, which fires changes_member_delete. */
    "CREATE TRIGGER changes_group_rename AFTER UPDATE OF name ON groups"
    " WHEN OLD.name IS NOT NEW.name BEGIN"
    " INSERT INTO changes (user_id, at) SELECT user_id, " CHANGE_NOW
    " FROM user_groups WHERE group_id = NEW.id;"
    " END;",
    /* 4 -> 5: what the front end says about a user (rus_profile.h): the
     * columns email, first_name and last_name, other attributes, and
     * where each membership comes from (those made before were made by
     * remoteuser-admin: 'admin'). A change of any of them logs a
     * user-level change, as a change of is_active or username does;
     * changes_member_update fires for an origin changed already. */
    "ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE user_attributes ("
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " name TEXT NOT NULL CHECK (name <> ''),"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (user_id, name)"
    ") WITHOUT ROWID;"
    "ALTER TABLE user_groups ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin'"
    " CHECK (origin IN ('admin', 'frontend'));"
    "DROP TRIGGER changes_user_update;"
    "CREATE TRIGGER changes_user_update AFTER UPDATE OF is_active, username,"
    " email, first_name, last_name ON users"
    " WHEN OLD.is_active IS NOT NEW.is_active"
    " OR OLD.username IS NOT NEW.username OR OLD.email IS NOT NEW.email"
    " OR OLD.first_name IS NOT NEW.first_name"
    " OR OLD.last_name IS NOT NEW.last_name BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_attr_insert AFTER INSERT ON user_attributes BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (NEW.user_id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_attr_delete AFTER DELETE ON user_attributes BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " CHANGE_NOW ");"
    " END;"
    "CREATE TRIGGER changes_attr_update AFTER UPDATE ON user_attributes"
    " WHEN OLD.user_id IS NOT NEW.user_id OR OLD.name IS NOT NEW.name"
    " OR OLD.value IS NOT NEW.value BEGIN"
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " CHANGE_NOW ");"
    " INSERT INTO changes (user_id, at) SELECT NEW.user_id, " CHANGE_NOW
    " WHERE NEW.user_id IS NOT OLD.user_id;"
    " END;",
    /* 5 -> 6 (#20): counts the store keeps itself (rus_store_info_t's
     * revoked_*: COUNTER_ADMIN, COUNTER_DEACTIVATION), written in the
     * transaction of what they count. Bookkeeping: not logged. */
    "CREATE TABLE counters ("
    " name TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* 6 -> 7 (#21): what the login's request said of the client, for the
     * user's own list of sessions: its address and User-Agent (as
     * rus_ua_clean() kept it), written once by the session's insert;
     * sessions made before get ''. No cached answer depends on them: the
     * change log's triggers stay as they are. */
    ("ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';"),
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The columns row_to_user() reads, for a users row aliased u; the groups
 * (all of them, then those from the front end), the three profile columns
 * and the attributes (encoded as rus_attrs_decode() reads them: byte
 * lengths, so that no value can be taken for a separator) come along in
 * the same query, so the hot path stays one statement. */
#define USER_COLUMNS                                                      \
    "u.id, u.username, u.is_active, u.date_joined, u.last_login,"         \
    " (SELECT group_concat(g.name, ',') FROM user_groups ug"              \
    " JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id),"      \
    " (SELECT group_concat(g.name, ',') FROM user_groups ug"              \
    " JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id"        \
    " AND ug.origin = 'frontend'),"                                       \
    " u.email, u.first_name, u.last_name,"                                \
    " (SELECT group_concat(length(CAST(a.name AS BLOB)) || ':' || a.name" \
    " || length(CAST(a.value AS BLOB)) || ':' || a.value, '')"            \
    " FROM user_attributes a WHERE a.user_id = u.id)"
#define USER_COLUMN_COUNT 11

#define SQL_USER_FIND \
    "SELECT " USER_COLUMNS " FROM users u WHERE u.username = ?1"
#define SQL_USER_INSERT                                                \
    "INSERT INTO users (username, is_active, date_joined, last_login)" \
    " VALUES (?1, 1, ?2, ?2) ON CONFLICT (username) DO NOTHING"
#define SQL_USER_TOUCH                               \
    "UPDATE users SET last_login = ?2 WHERE id = ?1" \
    " AND (last_login IS NULL OR last_login <= ?2 - ?3)"

/* A login's profile (rus_profile.h), written by apply_profile() inside
 * the login's transaction; each statement writes only what differs, so
 * that an unchanged value is neither written nor logged. The columns: a
 * NULL parameter leaves its column as it is. */
#define SQL_PROFILE_COLUMNS                              \
    "UPDATE users SET email = coalesce(?2, email),"      \
    " first_name = coalesce(?3, first_name),"            \
    " last_name = coalesce(?4, last_name) WHERE id = ?1" \
    " AND (email IS NOT coalesce(?2, email)"             \
    " OR first_name IS NOT coalesce(?3, first_name)"     \
    " OR last_name IS NOT coalesce(?4, last_name))"
#define SQL_ATTR_PUT                                                         \
    "INSERT INTO user_attributes (user_id, name, value) VALUES (?1, ?2, ?3)" \
    " ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value"      \
    " WHERE value IS NOT excluded.value"
#define SQL_ATTR_DELETE \
    "DELETE FROM user_attributes WHERE user_id = ?1 AND name = ?2"
#define SQL_GROUP_ENSURE \
    "INSERT INTO groups (name) VALUES (?1) ON CONFLICT (name) DO NOTHING"
/* WHERE before ON CONFLICT: SQLite's parser needs one after a SELECT. */
#define SQL_MEMBER_FRONTEND                                        \
    "INSERT INTO user_groups (user_id, group_id, origin)"          \
    " SELECT ?1, g.id, 'frontend' FROM groups g WHERE g.name = ?2" \
    " ON CONFLICT (user_id, group_id) DO NOTHING"
#define SQL_MEMBER_DROP_FRONTEND                                   \
    "DELETE FROM user_groups WHERE user_id = ?1 AND group_id = ?2" \
    " AND origin = 'frontend'"
/* A user's memberships: the group's name, the origin, the group's id. */
#define SQL_MEMBERSHIPS                                         \
    "SELECT g.name, ug.origin, ug.group_id FROM user_groups ug" \
    " JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = ?1"
#define SQL_USER_EXISTS "SELECT 1 FROM users WHERE id = ?1"

/* The statements of a profile's write, by index into
 * sqlite_conn_t.profile: prepared the first time a login writes one (most
 * logins write none), kept until the connection closes. */
enum {
    PST_COLUMNS,
    PST_ATTR_PUT,
    PST_ATTR_DELETE,
    PST_GROUP_ENSURE,
    PST_MEMBER_FRONTEND,
    PST_MEMBER_DROP,
    PST_MEMBERSHIPS,
    PST_USER_EXISTS,
    PST_COUNT
};

static const char *const profile_sql[PST_COUNT] = {
    SQL_PROFILE_COLUMNS, SQL_ATTR_PUT,        SQL_ATTR_DELETE,
    SQL_GROUP_ENSURE,    SQL_MEMBER_FRONTEND, SQL_MEMBER_DROP_FRONTEND,
    SQL_MEMBERSHIPS,     SQL_USER_EXISTS,
};

#define SQL_SESSION_INSERT                                          \
    "INSERT INTO sessions (token_hash, user_id, vhost, created_at," \
    " last_seen, expires_at, ip, user_agent)"                       \
    " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)"
#define SQL_SESSION_FIND                                                                \
    "SELECT s.user_id, s.vhost, s.created_at, s.last_seen, s.expires_at, " USER_COLUMNS \
    " FROM sessions s JOIN users u ON u.id = s.user_id"                                 \
    " WHERE s.token_hash = ?1"
/* last_seen never goes backwards from a past value (two touches racing);
 * values in the future, written while the clock was ahead, are brought
 * back to now, expires_at with created_at (rus_session_clamp()). SET's
 * right-hand sides read the row as it was. */
#define SQL_SESSION_TOUCH                                 \
    "UPDATE sessions SET last_seen = ?2,"                 \
    " expires_at = expires_at - MAX(created_at - ?2, 0)," \
    " created_at = MIN(created_at, ?2)"                   \
    " WHERE token_hash = ?1"                              \
    " AND (last_seen < ?2 OR last_seen > ?2 OR created_at > ?2)"
#define SQL_SESSION_REVOKE      "DELETE FROM sessions WHERE token_hash = ?1"
#define SQL_SESSION_REVOKE_USER "DELETE FROM sessions WHERE user_id = ?1"
/* At most ?2 rows (-1: all) per statement, found through sessions_expires:
 * one autocommit statement is one short write transaction. */
#define SQL_SESSION_PURGE                                      \
    "DELETE FROM sessions WHERE token_hash IN"                 \
    " (SELECT token_hash FROM sessions WHERE expires_at <= ?1" \
    " LIMIT ?2)"
/* The counters table's rows: sessions ended by an administrator's tool
 * (opts.admin) revoking them or deleting their user, and by it disabling
 * their user. */
#define COUNTER_ADMIN        "revoked_admin"
#define COUNTER_DEACTIVATION "revoked_deactivation"
#define SQL_COUNTER_ADD                                  \
    "INSERT INTO counters (name, value) VALUES (?1, ?2)" \
    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
#define SQL_CHANGES_SINCE                                             \
    "SELECT id, user_id, session_hash, at FROM changes WHERE id > ?1" \
    " ORDER BY id"

/* PRAGMA journal_size_limit, bytes (16 MiB). */
#define WAL_SIZE_LIMIT "16777216"

typedef struct sqlite_conn_t {
    rus_conn_t base;              /* must come first */
    sqlite3 *db;                  /* the connection */
    const char *path;             /* absolute path of the database file */
    dev_t dev;                    /* identity of the file that was opened, to */
    ino_t ino;                    /* notice when it is replaced underneath */
    sqlite3_stmt *user_find;      /* SQL_USER_FIND */
    sqlite3_stmt *user_insert;    /* SQL_USER_INSERT */
    sqlite3_stmt *user_touch;     /* SQL_USER_TOUCH */
    sqlite3_stmt *session_insert; /* SQL_SESSION_INSERT */
    sqlite3_stmt *session_find;   /* SQL_SESSION_FIND */
    sqlite3_stmt *session_touch;  /* SQL_SESSION_TOUCH */
    sqlite3_stmt *session_revoke; /* SQL_SESSION_REVOKE */
    sqlite3_stmt *session_revoke_user; /* SQL_SESSION_REVOKE_USER */
    sqlite3_stmt *session_purge;       /* SQL_SESSION_PURGE */
    sqlite3_stmt *changes_since;       /* SQL_CHANGES_SINCE, when first used */
    sqlite3_stmt *profile[PST_COUNT];  /* profile_sql, when first used */
    /* a load's inserts, by rus_row_kind_e - 1, while one runs (load_begin
     * to load_end) */
    sqlite3_stmt *load[RUS_ROW_ATTR];
} sqlite_conn_t;

/* ==================================================================== */
/* errors                                                               */

static int diagnose_files(const char *path, char *buf, apr_size_t len);

/* Map an SQLite result code to the APR status the store promises. */
static apr_status_t status_from_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return APR_SUCCESS;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return APR_TIMEUP;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return APR_EACCES;
    case SQLITE_READONLY:
        return RUS_STORE_EREADONLY;
    case SQLITE_FULL:
        return APR_ENOSPC;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return RUS_STORE_ECORRUPT;
    case SQLITE_NOMEM:
        return APR_ENOMEM;
    case SQLITE_IOERR:
        return APR_FROM_OS_ERROR(EIO);
    default:
        return APR_EGENERAL;
    }
}

/* Does a failure with this code come from the files (their permissions,
 * their presence, the file system)? Then diagnose_files() is asked. */
static int about_files(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
        return 1;
    default:
        return 0;
    }
}

/* The status and text of a failure of @a what with SQLite code @a rc on
 * @a db (may be NULL) for the store at @a path, into @a buf: the real
 * cause where it can be found (which file or directory, and why), never
 * an errno SQLite did not see. */
static apr_status_t explain(char *buf, apr_size_t len, sqlite3 *db, int rc,
                            const char *path, const char *what,
                            int busy_timeout_ms)
{
    const char *sqlmsg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    char cause[RUS_CONN_ERROR_MAX];
    apr_status_t rv = status_from_rc(rc);
    int err;

    if (about_files(rc) && (err = diagnose_files(path, cause, sizeof(cause)))) {
        apr_snprintf(buf, len, "%s: %s", what, cause);
        return APR_FROM_OS_ERROR(err);
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        apr_snprintf(buf, len,
                     "%s: %s is locked: another connection held it for "
                     "longer than the busy timeout (%d ms)",
                     what, path, busy_timeout_ms);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        apr_snprintf(buf, len,
                     "%s: %s is damaged or not an SQLite database "
                     "(sqlite: %s)",
                     what, path, sqlmsg);
        break;
    case SQLITE_FULL:
        apr_snprintf(buf, len, "%s: the file system of %s is full (sqlite: %s)",
                     what, path, sqlmsg);
        break;
    default:
        /* the errno of the system call that failed, when SQLite has one
         * (only an open or an I/O call sets it) */
        err = db
                      && ((rc & 0xff) == SQLITE_CANTOPEN
                          || (rc & 0xff) == SQLITE_IOERR)
                  ? sqlite3_system_errno(db)
                  : 0;
        if (err != 0) {
            rv = APR_FROM_OS_ERROR(err);
            apr_snprintf(buf, len, "%s: %s: %pm (sqlite: %s)", what, path, &rv,
                         sqlmsg);
        }
        else {
            apr_snprintf(buf, len, "%s: %s (sqlite: %s, code %d)", what, path,
                         sqlmsg, rc);
        }
        break;
    }
    return rv;
}

/* Record a failure of @what on the connection and return its status. A
 * connection that saw damage or I/O errors is not pooled again. */
static apr_status_t conn_fail(sqlite_conn_t *c, int rc, const char *what)
{
    apr_status_t rv;

    rv = explain(c->base.error, sizeof(c->base.error), c->db, rc, c->path, what,
                 c->base.store ? c->base.store->opts.busy_timeout_ms : 0);
    if (rv == RUS_STORE_ECORRUPT || rv == APR_FROM_OS_ERROR(EIO)
        || rv == APR_EGENERAL) {
        c->base.broken = 1;
    }
    return rv;
}

/* A message for a failure on a bare handle (startup and configtest). */
static const char *db_message(apr_pool_t *p, sqlite3 *db, int rc,
                              const char *what)
{
    if (db != NULL && sqlite3_extended_errcode(db) == SQLITE_CANTOPEN_SYMLINK) {
        return apr_psprintf(p,
                            "%s: a symbolic link on the path is refused "
                            "(sqlite %d)",
                            what, SQLITE_CANTOPEN_SYMLINK);
    }
    return apr_psprintf(p, "%s: %s (sqlite %d)", what,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

/* The APR status for a failed open: ELOOP for a refused symbolic link. */
static apr_status_t open_status(sqlite3 *db, int rc)
{
    if (db != NULL && sqlite3_extended_errcode(db) == SQLITE_CANTOPEN_SYMLINK) {
        return APR_FROM_OS_ERROR(ELOOP);
    }
    return status_from_rc(rc);
}

/* ==================================================================== */
/* file checks shared by check and prepare                              */

/* The directory part of an absolute path ("/" for "/x"). */
static const char *dir_of(apr_pool_t *p, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return ".";
    }
    if (slash == path) {
        return "/";
    }
    return apr_pstrmemdup(p, path, (apr_size_t)(slash - path));
}

/* The store's files: the database and the two SQLite puts beside it. */
static const char *const store_suffixes[] = { "", "-wal", "-shm" };
#define STORE_FILES (sizeof(store_suffixes) / sizeof(store_suffixes[0]))

/* Why this process cannot use the file @a f (which must exist), into
 * @a buf: its errno for read and write access (0: it can), with the
 * file's mode and owner and the process's ids. */
static int file_denied(const char *f, const struct stat *st, int mode,
                       char *buf, apr_size_t len)
{
    apr_status_t rv;
    int err;

    if (access(f, mode) == 0) {
        return 0;
    }
    err = errno;
    rv = APR_FROM_OS_ERROR(err);
    apr_snprintf(buf, len,
                 "%s: %pm (mode %04lo, owner uid %ld gid %ld; this process "
                 "runs as uid %ld gid %ld)",
                 f, &rv, (unsigned long)(st->st_mode & 07777), (long)st->st_uid,
                 (long)st->st_gid, (long)geteuid(), (long)getegid());
    return err;
}

/* Why the store at @a path cannot be used by this process, as an errno
 * with a text naming the file or directory at fault, into @a buf; 0 when
 * its directory, the database and its -wal and -shm files (or the right to
 * create them) look fine. Each is looked at in that order. */
static int diagnose_files(const char *path, char *buf, apr_size_t len)
{
    const char *slash = strrchr(path, '/');
    char dir[1024], f[1100];
    struct stat st;
    apr_status_t rv;
    apr_size_t i;
    int err;

    apr_snprintf(dir, sizeof(dir), "%.*s",
                 slash == NULL   ? 1
                 : slash == path ? 1
                                 : (int)(slash - path),
                 slash == NULL ? "." : path);
    if (stat(dir, &st) != 0) {
        err = errno;
        rv = APR_FROM_OS_ERROR(err);
        apr_snprintf(buf, len, "directory %s: %pm", dir, &rv);
        return err;
    }
    err = file_denied(dir, &st, X_OK, buf, len);
    if (err != 0) {
        return err;
    }
    for (i = 0; i < STORE_FILES; i++) {
        apr_snprintf(f, sizeof(f), "%s%s", path, store_suffixes[i]);
        if (lstat(f, &st) == 0) {
            err = file_denied(f, &st, R_OK | W_OK, buf, len);
        }
        else if (i == 0 || errno != ENOENT) {
            err = errno;
            rv = APR_FROM_OS_ERROR(err);
            apr_snprintf(buf, len, "%s: %pm", f, &rv);
        }
        else if (stat(dir, &st) == 0) {
            /* absent: SQLite creates it in the directory */
            err = file_denied(dir, &st, W_OK | X_OK, buf, len);
            if (err != 0) {
                apr_size_t n = strlen(buf);

                apr_snprintf(buf + n, len - n,
                             "; SQLite needs to create %s there", f);
            }
        }
        if (err != 0) {
            return err;
        }
    }
    return 0;
}

/* No component of the absolute directory @dir is a symbolic link: root
 * must not be steered elsewhere, and SQLITE_OPEN_NOFOLLOW refuses such a
 * path anyway. */
static apr_status_t refuse_linked_dir(const char *dir, apr_pool_t *p,
                                      const char **pmsg)
{
    char *copy = apr_pstrdup(p, dir), *at;
    struct stat st;

    for (at = copy + 1;; at++) {
        char c = *at;

        if (c != '/' && c != '\0') {
            continue;
        }
        *at = '\0';
        if (lstat(copy, &st) == 0 && S_ISLNK(st.st_mode)) {
            *pmsg = apr_psprintf(p,
                                 "%s is a symbolic link; no directory on "
                                 "the store's path may be one",
                                 copy);
            return APR_FROM_OS_ERROR(ELOOP);
        }
        *at = c;
        if (c == '\0') {
            return APR_SUCCESS;
        }
    }
}

/* Check the directory exists and holds no link on its path, and each of
 * the database, PATH-wal and PATH-shm is absent or a regular file, never a
 * symbolic link (APR_FROM_OS_ERROR(ELOOP), naming it). *pexists tells
 * whether the database is there. */
static apr_status_t check_paths(const char *path, int *pexists, apr_pool_t *p,
                                const char **pmsg)
{
    const char *dir = dir_of(p, path);
    struct stat st;
    apr_size_t i;
    apr_status_t rv;

    if (dir[0] == '/' && dir[1] != '\0') {
        rv = refuse_linked_dir(dir, p, pmsg);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (stat(dir, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(p, "directory %s: %pm", dir, &rv);
        return rv;
    }
    if (!S_ISDIR(st.st_mode)) {
        *pmsg = apr_psprintf(p, "%s is not a directory", dir);
        return APR_ENOTDIR;
    }
    *pexists = 0;
    for (i = 0; i < STORE_FILES; i++) {
        const char *f = apr_pstrcat(p, path, store_suffixes[i], NULL);

        if (lstat(f, &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }
            rv = APR_FROM_OS_ERROR(errno);
            *pmsg = apr_psprintf(p, "%s: %pm", f, &rv);
            return rv;
        }
        if (S_ISLNK(st.st_mode)) {
            *pmsg = apr_psprintf(p,
                                 "%s is a symbolic link; the store and "
                                 "its -wal and -shm files must be "
                                 "regular files",
                                 f);
            return APR_FROM_OS_ERROR(ELOOP);
        }
        if (!S_ISREG(st.st_mode)) {
            *pmsg = apr_psprintf(p, "%s is not a regular file", f);
            return APR_EINVAL;
        }
        if (i == 0) {
            *pexists = 1;
        }
    }
    if (!*pexists && access(dir, W_OK | X_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(p, "cannot create %s in directory %s: %pm", path,
                             dir, &rv);
        return rv;
    }
    return APR_SUCCESS;
}

/* Open an existing store file for reading without following a link and
 * without blocking on a FIFO; it must be a regular file. */
static apr_status_t open_regular(int *pfd, const char *f, apr_pool_t *p,
                                 const char **pmsg)
{
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd;

    fd = open(f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        if (errno == ELOOP) {
            *pmsg = apr_psprintf(p,
                                 "%s is a symbolic link; the store and "
                                 "its -wal and -shm files must be "
                                 "regular files",
                                 f);
        }
        else if (errno != ENOENT) {
            *pmsg = apr_psprintf(p, "%s: %pm", f, &rv);
        }
        goto leave;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(p, "%s: %pm", f, &rv);
        goto leave;
    }
    if (!S_ISREG(st.st_mode)) {
        *pmsg = apr_psprintf(p, "%s is not a regular file", f);
        rv = APR_EINVAL;
    }
    else if (st.st_nlink != 1) {
        /* A hard link planted at the path (where the kernel allows it)
         * names another file: root would hand that file over. */
        *pmsg = apr_psprintf(p,
                             "%s has %lu hard links; the store and its -wal "
                             "and -shm files must have one",
                             f, (unsigned long)st.st_nlink);
        rv = APR_EINVAL;
    }
leave:
    if (rv != APR_SUCCESS && fd >= 0) {
        close(fd);
    }
    *pfd = (rv == APR_SUCCESS) ? fd : -1;
    return rv;
}

/* Read PRAGMA user_version. */
static int read_version(sqlite3 *db, int *pversion)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        goto leave;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *pversion = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
leave:
    sqlite3_finalize(st);
    return rc;
}

/* ==================================================================== */
/* check: configtest, no changes                                        */

static apr_status_t sqlite_check(const rus_store_t *store, apr_pool_t *ptemp,
                                 const char **pmsg)
{
    static const char magic[16] = "SQLite format 3";
    unsigned char header[100];
    int exists = 0, version;
    apr_status_t rv;
    ssize_t got;
    int fd = -1;

    rv = check_paths(store->location, &exists, ptemp, pmsg);
    if (rv != APR_SUCCESS || !exists) {
        return rv;
    }
    /* Read the file header rather than open the database: opening a WAL
     * database creates PATH-wal and PATH-shm, owned by whoever runs the
     * check (root, under configtest), which the children could then not
     * use. */
    rv = open_regular(&fd, store->location, ptemp, pmsg);
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_ENOENT(rv)) {
            *pmsg = apr_psprintf(ptemp, "%s: %pm", store->location, &rv);
        }
        return rv;
    }
    do {
        got = read(fd, header, sizeof(header));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(ptemp, "%s: %pm", store->location, &rv);
    }
    close(fd);
    if (got <= 0) {
        return rv; /* empty file: prepare makes it a store */
    }
    if ((size_t)got < sizeof(header)
        || memcmp(header, magic, sizeof(magic)) != 0) {
        *pmsg =
            apr_psprintf(ptemp, "%s: file is not a database", store->location);
        return RUS_STORE_ECORRUPT;
    }
    /* user_version: big-endian 32-bit signed at offset 60 */
    version = (int)(((apr_uint32_t)header[60] << 24)
                    | ((apr_uint32_t)header[61] << 16)
                    | ((apr_uint32_t)header[62] << 8) | header[63]);
    if (version < 0 || version > SCHEMA_VERSION) {
        *pmsg = apr_psprintf(ptemp,
                             "%s has schema version %d; this build knows "
                             "versions 0 to %d",
                             store->location, version, SCHEMA_VERSION);
        return RUS_STORE_ESCHEMA;
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* prepare: create, migrate, hand over to the run-time user            */

/* Run every migration from the database's version to ours in one write
 * transaction: a failed step leaves the database as it was. */
static int migrate(sqlite3 *db, apr_pool_t *p, const char *path,
                   const char **pmsg)
{
    int rc, version = 0, v;

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        *pmsg = db_message(p, db, rc, "begin migration");
        return rc;
    }
    rc = read_version(db, &version);
    if (rc != SQLITE_OK) {
        *pmsg = db_message(p, db, rc, path);
        goto leave;
    }
    if (version < 0 || version > SCHEMA_VERSION) {
        *pmsg = apr_psprintf(p,
                             "%s has schema version %d; this build knows "
                             "versions 0 to %d",
                             path, version, SCHEMA_VERSION);
        rc = SQLITE_MISMATCH;
        goto leave;
    }
    for (v = version; v < SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *pmsg = db_message(p, db, rc,
                               apr_psprintf(p, "migration %d -> %d", v, v + 1));
            goto leave;
        }
    }
    if (version != SCHEMA_VERSION) {
        /* PRAGMA takes no parameters; the value is our own constant. */
        rc = sqlite3_exec(db,
                          apr_psprintf(p, "PRAGMA user_version = %d",
                                       SCHEMA_VERSION),
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *pmsg = db_message(p, db, rc, "set schema version");
            goto leave;
        }
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        *pmsg = db_message(p, db, rc, "commit migration");
    }
leave:
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

/* Give the database (and any WAL files present) to the run-time user, by
 * descriptor: a file that is a symbolic link by now is refused, never
 * followed. */
static apr_status_t hand_over(const char *path, const rus_store_owner_t *owner,
                              apr_pool_t *p, const char **pwarn,
                              const char **pmsg)
{
    uid_t uid = (uid_t)owner->uid;
    gid_t gid = (gid_t)owner->gid;
    apr_size_t i;

    for (i = 0; i < STORE_FILES; i++) {
        const char *f = apr_pstrcat(p, path, store_suffixes[i], NULL);
        apr_status_t rv;
        int fd = -1;

        rv = open_regular(&fd, f, p, pmsg);
        if (APR_STATUS_IS_ENOENT(rv)) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (fchown(fd, uid, gid) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            *pmsg = apr_psprintf(p, "cannot give %s to uid %ld: %pm", f,
                                 owner->uid, &rv);
        }
        close(fd);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    /* That the children can also create PATH-wal and PATH-shm in the
     * directory is checked before (RUS00096, by the kernel as that user:
     * the caller knows who it is). */
    (void)pwarn;
    return APR_SUCCESS;
}

/* Create the database file ourselves, 0640 whatever the umask, so that
 * nothing follows a link planted at the path: O_EXCL fails on any existing
 * name, a dangling link included. A file another process made first is
 * left alone (the NOFOLLOW opens and hand_over still check it). */
static apr_status_t create_file(const char *path, apr_pool_t *p,
                                const char **pmsg)
{
    apr_status_t rv = APR_SUCCESS;
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) {
        if (errno == EEXIST) {
            return APR_SUCCESS;
        }
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(p, "cannot create %s: %pm", path, &rv);
        return rv;
    }
    /* Users and session hashes are nobody else's business. */
    if (fchmod(fd, 0640) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(p, "cannot set the mode of %s: %pm", path, &rv);
    }
    close(fd);
    return rv;
}

/* Before SQLite's first use in this process (the parent's post_config,
 * single-threaded): no global memory statistics. With them on, every
 * allocation SQLite makes takes one process-wide mutex, which all request
 * threads filling their page caches contend for. If another module has
 * initialized SQLite already, the call fails and nothing changes. */
static void sqlite_global_setup(void)
{
    static int done;

    if (!done) {
        done = 1;
        (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
}

static apr_status_t sqlite_prepare(const rus_store_t *store, apr_pool_t *ptemp,
                                   const rus_store_owner_t *owner,
                                   const char **pwarn, const char **pmsg)
{
    const char *path = store->location;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int exists = 0, rc;
    apr_status_t rv;

    rv = check_paths(path, &exists, ptemp, pmsg);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!exists) {
        rv = create_file(path, ptemp, pmsg);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    sqlite_global_setup();
    /* No SQLITE_OPEN_CREATE: the file exists by now. NOFOLLOW: a link
     * anywhere on the path, or as PATH-wal or PATH-shm, fails the open. */
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        *pmsg = db_message(ptemp, db, rc, path);
        rv = open_status(db, rc);
        goto leave;
    }
    sqlite3_busy_timeout(db, store->opts.busy_timeout_ms);
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        *pmsg = db_message(ptemp, db, rc, path);
        goto leave;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        *pmsg = apr_psprintf(ptemp, "%s: cannot switch to WAL mode", path);
        rc = SQLITE_CANTOPEN;
        goto leave;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = migrate(db, ptemp, path, pmsg);

leave:
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (rc != SQLITE_OK && rc != SQLITE_ROW) {
        return rc == SQLITE_MISMATCH ? RUS_STORE_ESCHEMA : status_from_rc(rc);
    }
    if (owner != NULL && owner->uid != -1) {
        return hand_over(path, owner, ptemp, pwarn, pmsg);
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* connections                                                          */

static int prepare_stmt(sqlite3 *db, const char *sql, sqlite3_stmt **pst)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, pst,
                              NULL);
}

static void load_finalize(sqlite_conn_t *c);

static void sqlite_disconnect(rus_conn_t *conn)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    int i;

    sqlite3_finalize(c->user_find);
    sqlite3_finalize(c->user_insert);
    sqlite3_finalize(c->user_touch);
    sqlite3_finalize(c->session_insert);
    sqlite3_finalize(c->session_find);
    sqlite3_finalize(c->session_touch);
    sqlite3_finalize(c->session_revoke);
    sqlite3_finalize(c->session_revoke_user);
    sqlite3_finalize(c->session_purge);
    sqlite3_finalize(c->changes_since);
    c->changes_since = NULL;
    for (i = 0; i < PST_COUNT; i++) {
        sqlite3_finalize(c->profile[i]);
        c->profile[i] = NULL;
    }
    load_finalize(c);
    sqlite3_close(c->db);
    c->user_find = c->user_insert = c->user_touch = NULL;
    c->session_insert = c->session_find = c->session_touch = NULL;
    c->session_revoke = c->session_revoke_user = c->session_purge = NULL;
    c->db = NULL;
}

/* The pragmas every connection runs with. */
static int configure(sqlite3 *db, const rus_store_options_t *opts)
{
    int rc;

    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, opts->busy_timeout_ms);
    /* cache_size: 512 KiB of page cache per connection instead of 2 MiB.
     * A child keeps up to one connection per busy thread; with a large
     * store the default made each of them grow its own copy of the same
     * pages (child RSS 31 -> 103 MiB over a benchmark run on a 1M-session
     * store, 45 MiB with this), and was no faster: the kernel's page
     * cache serves the rest. */
    /* journal_size_limit: when a writer starts the WAL over after a
     * checkpoint, a file grown larger is cut back to this size instead of
     * staying at its high-water mark (rus_store_checkpoint() empties it
     * anyway when it can). */
    rc = sqlite3_exec(db,
                      "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                      " PRAGMA cache_size = -512;"
                      " PRAGMA journal_size_limit = " WAL_SIZE_LIMIT,
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK && !opts->auto_checkpoint) {
        /* Someone calls sqlite_checkpoint() on a timer. Left on, every
         * commit past 1000 WAL pages would run a checkpoint of its own in
         * the request, and while one runs, that one cannot. */
        rc =
            sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
    }
    return rc;
}

/* Prepare the statements of the request path once per connection. */
static int prepare_request_stmts(sqlite_conn_t *c)
{
    const struct {
        const char *sql;
        sqlite3_stmt **pst;
    } stmts[] = {
        { SQL_USER_FIND, &c->user_find },
        { SQL_USER_INSERT, &c->user_insert },
        { SQL_USER_TOUCH, &c->user_touch },
        { SQL_SESSION_INSERT, &c->session_insert },
        { SQL_SESSION_FIND, &c->session_find },
        { SQL_SESSION_TOUCH, &c->session_touch },
        { SQL_SESSION_REVOKE, &c->session_revoke },
        { SQL_SESSION_REVOKE_USER, &c->session_revoke_user },
        { SQL_SESSION_PURGE, &c->session_purge },
    };
    int rc = SQLITE_OK;
    size_t i;

    for (i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        rc = prepare_stmt(c->db, stmts[i].sql, stmts[i].pst);
    }
    return rc;
}

static apr_status_t sqlite_connect(rus_conn_t **pconn, const rus_store_t *store,
                                   apr_pool_t *cpool, apr_pool_t *ptemp,
                                   const char **pmsg)
{
    sqlite_conn_t *c = apr_pcalloc(cpool, sizeof(*c));
    int rc, version = 0;
    struct stat st;
    apr_status_t rv;

    c->path = apr_pstrdup(cpool, store->location);
    sqlite_global_setup(); /* a no-op unless prepare did not run here */
    /* No SQLITE_OPEN_CREATE: a store that vanished at run time is a fault
     * to report, not a reason to start an empty one. NOMUTEX: a connection
     * is used by one thread at a time (rus_store_acquire). */
    rc = sqlite3_open_v2(c->path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
                             | SQLITE_OPEN_NOFOLLOW,
                         NULL);
    if (rc == SQLITE_OK) {
        rc = configure(c->db, &store->opts);
    }
    if (rc == SQLITE_OK) {
        rc = read_version(c->db, &version);
    }
    if (rc != SQLITE_OK) {
        goto fail;
    }
    if (version != SCHEMA_VERSION) {
        *pmsg = apr_psprintf(ptemp,
                             "%s has schema version %d, expected %d (was "
                             "the file replaced while httpd ran?)",
                             c->path, version, SCHEMA_VERSION);
        rv = RUS_STORE_ESCHEMA;
        goto leave;
    }
    rc = prepare_request_stmts(c);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    if (lstat(c->path, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(ptemp, "%s: %pm", c->path, &rv);
        goto leave;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    *pconn = &c->base;
    return APR_SUCCESS;

fail:
    if (c->db != NULL
        && sqlite3_extended_errcode(c->db) == SQLITE_CANTOPEN_SYMLINK) {
        *pmsg = db_message(ptemp, c->db, rc, c->path);
        rv = open_status(c->db, rc);
    }
    else {
        char buf[RUS_CONN_ERROR_MAX];

        rv = explain(buf, sizeof(buf), c->db, rc, c->path, "open",
                     store->opts.busy_timeout_ms);
        *pmsg = apr_pstrdup(ptemp, buf);
    }
leave:
    sqlite_disconnect(&c->base);
    return rv;
}

/* A pooled connection keeps working on an open file even after the file
 * was made unreadable, removed or replaced. Look at the path again so that
 * administrators' changes take effect on the next request. */
static apr_status_t sqlite_validate(rus_conn_t *conn)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_status_t rv;
    struct stat st;

    /* lstat: a link swapped in for the file is another inode, and the
     * reconnect refuses it (SQLITE_OPEN_NOFOLLOW). */
    if (lstat(c->path, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: %pm", c->path, &rv);
        return rv;
    }
    if (st.st_dev != c->dev || st.st_ino != c->ino) {
        /* Closing normally would checkpoint this connection's WAL and
         * delete PATH-wal, which by now sits beside another file. */
        sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        c->base.broken = 1;
        rus_conn_set_error(conn, "%s was replaced while open", c->path);
        return RUS_STORE_ESTALE;
    }
    if (access(c->path, R_OK | W_OK) != 0) {
        int err = errno, found;

        /* which file or directory, and why: diagnose_files() looks again */
        found = diagnose_files(c->path, conn->error, sizeof(conn->error));
        if (found == 0) {
            rv = APR_FROM_OS_ERROR(err);
            rus_conn_set_error(conn, "%s: %pm", c->path, &rv);
            return rv;
        }
        return APR_FROM_OS_ERROR(found);
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* users                                                                */

/* Column @a i of the current row as a string of @a p ("" for NULL). */
static const char *column_dup(sqlite3_stmt *st, int i, apr_pool_t *p)
{
    const char *text = (const char *)sqlite3_column_text(st, i);

    return text ? apr_pstrmemdup(p, text,
                                 (apr_size_t)sqlite3_column_bytes(st, i))
                : "";
}

/* Fill @user from USER_COLUMNS starting at column @at of the current row.
 * RUS_STORE_ECORRUPT (with the connection's error) when the attributes'
 * column cannot be read: rows written otherwise than by this file. */
static apr_status_t row_to_user(sqlite_conn_t *c, sqlite3_stmt *st, int at,
                                rus_user_t *user, apr_pool_t *p)
{
    const char *attrs;

    user->id = sqlite3_column_int64(st, at);
    user->username =
        apr_pstrmemdup(p, (const char *)sqlite3_column_text(st, at + 1),
                       (apr_size_t)sqlite3_column_bytes(st, at + 1));
    user->is_active = sqlite3_column_int(st, at + 2) != 0;
    user->date_joined = sqlite3_column_int64(st, at + 3);
    user->last_login = sqlite3_column_int64(st, at + 4); /* NULL reads 0 */
    /* group_concat() promises no order; the facade sorts the names. */
    user->groups = column_dup(st, at + 5, p);
    user->frontend_groups = column_dup(st, at + 6, p);
    user->email = column_dup(st, at + 7, p);
    user->first_name = column_dup(st, at + 8, p);
    user->last_name = column_dup(st, at + 9, p);
    attrs = (const char *)sqlite3_column_text(st, at + 10);
    if (rus_attrs_decode(p, attrs,
                         attrs ? (apr_size_t)sqlite3_column_bytes(st, at + 10)
                               : 0,
                         &user->attrs)
        != APR_SUCCESS) {
        rus_conn_set_error(&c->base,
                           "%s: the attributes of user id %" APR_INT64_T_FMT
                           " cannot be read (an empty name, or a NUL "
                           "byte in a name or value): rows of "
                           "user_attributes written by hand? remoteuser-admin "
                           "db check lists them",
                           c->path, user->id);
        return RUS_STORE_ECORRUPT;
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_user_find(rus_conn_t *conn, const char *username,
                                     rus_user_t *user, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->user_find;
    apr_status_t rv;
    int rc;

    rc = sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        rv = conn_fail(c, rc, "find user");
        goto leave;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rv = row_to_user(c, st, 0, user, p);
    }
    else if (rc == SQLITE_DONE) {
        rv = APR_ENOENT;
    }
    else {
        rv = conn_fail(c, rc, "find user");
    }
leave:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rv;
}

static int profile_is_empty(const rus_profile_t *profile);
static apr_status_t create_with_profile(sqlite_conn_t *c, const char *username,
                                        apr_int64_t now,
                                        const rus_profile_t *profile,
                                        rus_user_t *user, int *pcreated,
                                        apr_pool_t *p);

static apr_status_t sqlite_user_create(rus_conn_t *conn, const char *username,
                                       apr_int64_t now,
                                       const rus_profile_t *profile,
                                       rus_user_t *user, int *pcreated,
                                       apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->user_insert;
    apr_status_t rv;
    int rc, created;

    if (!profile_is_empty(profile)) {
        return create_with_profile(c, username, now, profile, user, pcreated,
                                   p);
    }
    /* One autocommit statement: the UNIQUE constraint settles races with
     * other threads and processes, the busy timeout queues the writers. */
    rc = sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, now);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    created = (rc == SQLITE_DONE && sqlite3_changes(c->db) == 1);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        return conn_fail(c, rc, "create user");
    }
    /* Read the row back either way: it is ours, or the winner's. */
    rv = sqlite_user_find(conn, username, user, p);
    if (rv == APR_ENOENT) {
        rus_conn_set_error(conn, "user row vanished right after creation");
        rv = APR_EGENERAL;
    }
    if (rv == APR_SUCCESS) {
        *pcreated = created;
    }
    return rv;
}

static apr_status_t sqlite_user_touch(rus_conn_t *conn, apr_int64_t user_id,
                                      apr_int64_t now, apr_int64_t interval)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->user_touch;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    rc = sqlite3_bind_int64(st, 1, user_id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, now);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 3, interval);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rv = conn_fail(c, rc, "record login");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rv;
}

/* ==================================================================== */
/* sessions                                                             */

/* Step a bound write statement to completion, reset it, map the result. */
static apr_status_t run_write(sqlite_conn_t *c, sqlite3_stmt *st, int rc,
                              const char *what)
{
    apr_status_t rv = APR_SUCCESS;

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rv = conn_fail(c, rc, what);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rv;
}

static apr_status_t
sqlite_session_insert(rus_conn_t *conn, const char *token_hash,
                      apr_int64_t user_id, const char *vhost, const char *ip,
                      const char *user_agent, apr_int64_t now,
                      apr_int64_t expires_at)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_insert;
    int rc;

    rc = sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, user_id);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, vhost, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 4, now);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 5, expires_at);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 6, ip, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 7, user_agent, -1, SQLITE_STATIC);
    }
    return run_write(c, st, rc, "create session");
}

static apr_status_t sqlite_session_find(rus_conn_t *conn,
                                        const char *token_hash,
                                        rus_session_t *session,
                                        rus_user_t *user, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_find;
    apr_status_t rv;
    int rc;

    rc = sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        session->user_id = sqlite3_column_int64(st, 0);
        session->vhost =
            apr_pstrmemdup(p, (const char *)sqlite3_column_text(st, 1),
                           (apr_size_t)sqlite3_column_bytes(st, 1));
        session->created_at = sqlite3_column_int64(st, 2);
        session->last_seen = sqlite3_column_int64(st, 3);
        session->expires_at = sqlite3_column_int64(st, 4);
        rv = row_to_user(c, st, 5, user, p);
    }
    else if (rc == SQLITE_DONE) {
        rv = APR_ENOENT;
    }
    else {
        rv = conn_fail(c, rc, "find session");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rv;
}

static apr_status_t
sqlite_session_touch(rus_conn_t *conn, const char *token_hash, apr_int64_t now)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_touch;
    int rc;

    rc = sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, now);
    }
    return run_write(c, st, rc, "touch session");
}

static apr_status_t revoke_counted(sqlite_conn_t *c, sqlite3_stmt *st, int rc,
                                   const char *what);

/* httpd's (a logout, a user switch) is the one autocommit statement; an
 * administrator's tool's is counted (revoke_counted()). */
static apr_status_t sqlite_session_revoke(rus_conn_t *conn,
                                          const char *token_hash)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_revoke;
    int rc = sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);

    if (c->base.store->opts.admin) {
        return revoke_counted(c, st, rc, "revoke session");
    }
    return run_write(c, st, rc, "revoke session");
}

/* As sqlite_session_revoke(). */
static apr_status_t sqlite_session_revoke_user(rus_conn_t *conn,
                                               apr_int64_t user_id)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_revoke_user;
    int rc = sqlite3_bind_int64(st, 1, user_id);

    if (c->base.store->opts.admin) {
        return revoke_counted(c, st, rc, "revoke sessions of user");
    }
    return run_write(c, st, rc, "revoke sessions of user");
}

static apr_status_t sqlite_session_purge(rus_conn_t *conn, apr_int64_t before,
                                         int limit, int *pcount)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_purge;
    apr_status_t rv;
    int rc;

    rc = sqlite3_bind_int64(st, 1, before);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    }
    rv = run_write(c, st, rc, "purge sessions");
    if (rv == APR_SUCCESS) {
        *pcount = sqlite3_changes(c->db);
    }
    return rv;
}

/* ==================================================================== */
/* a login's profile (rus_profile.h)                                    */

/* Does @a profile (may be NULL) give nothing a new row would not have
 * anyway? Then a creation stays one autocommit statement. */
static int profile_is_empty(const rus_profile_t *profile)
{
    return profile == NULL
           || (profile->email == NULL && profile->first_name == NULL
               && profile->last_name == NULL
               && (profile->attrs == NULL || profile->attrs->nelts == 0)
               && (profile->groups == NULL || profile->groups->nelts == 0));
}

/* The profile statement @a which (PST_*), prepared when first used. */
static apr_status_t profile_stmt(sqlite_conn_t *c, int which,
                                 sqlite3_stmt **pst)
{
    int rc;

    if (c->profile[which] == NULL) {
        rc = prepare_stmt(c->db, profile_sql[which], &c->profile[which]);
        if (rc != SQLITE_OK) {
            return conn_fail(c, rc, "prepare the statements of a profile");
        }
    }
    *pst = c->profile[which];
    return APR_SUCCESS;
}

/* Bind @a text, or NULL when it is NULL. */
static int bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    return text != NULL ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC)
                        : sqlite3_bind_null(st, i);
}

/* Begin a write transaction, taking the write lock at once (BEGIN
 * IMMEDIATE): the busy timeout queues it behind other writers, and no
 * statement in it can then fail half-way for want of the lock. */
static apr_status_t tx_begin(sqlite_conn_t *c, const char *what)
{
    int rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    return rc == SQLITE_OK ? APR_SUCCESS : conn_fail(c, rc, what);
}

/* End the transaction of tx_begin(): commit when @a rv is APR_SUCCESS;
 * otherwise, or when the commit fails, roll back, so that nothing of it
 * stays. The first failure is the one returned and described. A
 * connection that cannot roll back is not pooled again. */
static apr_status_t tx_end(sqlite_conn_t *c, apr_status_t rv, const char *what)
{
    int rc;

    if (rv == APR_SUCCESS) {
        rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            return APR_SUCCESS;
        }
        rv = conn_fail(c, rc, what);
    }
    /* SQLite may have rolled back already (a full disk, an I/O error) */
    if (sqlite3_get_autocommit(c->db) == 0
        && sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK) {
        c->base.broken = 1;
    }
    return rv;
}

/* A user's memberships, read in one statement: *prows gets
 * rus_membership_t (the origins are the RUS_ORIGIN_* constants), and
 * *pids (when given) the id of each one's group, in the same order. */
static apr_status_t read_memberships(sqlite_conn_t *c, apr_int64_t user_id,
                                     apr_array_header_t **prows,
                                     apr_array_header_t **pids, apr_pool_t *p)
{
    apr_array_header_t *rows = apr_array_make(p, 8, sizeof(rus_membership_t));
    apr_array_header_t *ids = apr_array_make(p, 8, sizeof(apr_int64_t));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = profile_stmt(c, PST_MEMBERSHIPS, &st);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_bind_int64(st, 1, user_id);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rus_membership_t *m = apr_array_push(rows);
        const char *origin = (const char *)sqlite3_column_text(st, 1);

        m->group = column_dup(st, 0, p);
        /* CHECK (origin IN ('admin', 'frontend')) */
        m->origin = origin != NULL && strcmp(origin, RUS_ORIGIN_FRONTEND) == 0
                        ? RUS_ORIGIN_FRONTEND
                        : RUS_ORIGIN_ADMIN;
        APR_ARRAY_PUSH(ids, apr_int64_t) = sqlite3_column_int64(st, 2);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        rv = conn_fail(c, rc, "list the memberships of a user");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rv == APR_SUCCESS) {
        *prows = rows;
        if (pids != NULL) {
            *pids = ids;
        }
    }
    return rv;
}

/* The three columns of @a pr that are given, where they differ. */
static apr_status_t write_columns(sqlite_conn_t *c, apr_int64_t user_id,
                                  const rus_profile_t *pr)
{
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    if (pr->email == NULL && pr->first_name == NULL && pr->last_name == NULL) {
        return APR_SUCCESS;
    }
    rv = profile_stmt(c, PST_COLUMNS, &st);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_bind_int64(st, 1, user_id);
    if (rc == SQLITE_OK) {
        rc = bind_text_or_null(st, 2, pr->email);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text_or_null(st, 3, pr->first_name);
    }
    if (rc == SQLITE_OK) {
        rc = bind_text_or_null(st, 4, pr->last_name);
    }
    return run_write(c, st, rc, "write the email and names of a user");
}

/* The attributes of @a pr: upserted where absent or different, deleted
 * when given as "". */
static apr_status_t write_attrs(sqlite_conn_t *c, apr_int64_t user_id,
                                const rus_profile_t *pr)
{
    apr_status_t rv = APR_SUCCESS;
    sqlite3_stmt *st = NULL;
    int i, rc;

    for (i = 0; rv == APR_SUCCESS && pr->attrs != NULL && i < pr->attrs->nelts;
         i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(pr->attrs, i, rus_attr_t);
        int clear;

        if (a->name == NULL || a->value == NULL) {
            continue; /* not given */
        }
        clear = a->value[0] == '\0';
        rv = profile_stmt(c, clear ? PST_ATTR_DELETE : PST_ATTR_PUT, &st);
        if (rv != APR_SUCCESS) {
            break;
        }
        rc = sqlite3_bind_int64(st, 1, user_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
        }
        if (rc == SQLITE_OK && !clear) {
            rc = sqlite3_bind_text(st, 3, a->value, -1, SQLITE_STATIC);
        }
        rv = run_write(c, st, rc,
                       clear ? "delete an attribute of a user"
                             : "write an attribute of a user");
    }
    return rv;
}

/* Is @a group among @a rows (rus_membership_t)? Its index, or -1. */
static int membership_index(const apr_array_header_t *rows, const char *group)
{
    int i;

    for (i = 0; i < rows->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(rows, i, rus_membership_t).group, group)
            == 0) {
            return i;
        }
    }
    return -1;
}

/* The groups of @a pr: each listed one the user is not in is created when
 * missing and joined as RUS_ORIGIN_FRONTEND (one the user is in already,
 * an administrator's included, is left as it is); with groups_replace,
 * the user's RUS_ORIGIN_FRONTEND memberships not listed are left. */
static apr_status_t write_groups(sqlite_conn_t *c, apr_int64_t user_id,
                                 const rus_profile_t *pr, apr_pool_t *ptemp)
{
    apr_array_header_t *rows = NULL, *ids = NULL;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int i, rc;

    rv = read_memberships(c, user_id, &rows, &ids, ptemp);
    for (i = 0; rv == APR_SUCCESS && i < pr->groups->nelts; i++) {
        const char *name = APR_ARRAY_IDX(pr->groups, i, const char *);

        if (membership_index(rows, name) >= 0) {
            continue;
        }
        rv = profile_stmt(c, PST_GROUP_ENSURE, &st);
        if (rv == APR_SUCCESS) {
            rv = run_write(c, st,
                           sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
                           "create a group");
        }
        if (rv == APR_SUCCESS) {
            rv = profile_stmt(c, PST_MEMBER_FRONTEND, &st);
        }
        if (rv == APR_SUCCESS) {
            rc = sqlite3_bind_int64(st, 1, user_id);
            if (rc == SQLITE_OK) {
                rc = sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
            }
            rv = run_write(c, st, rc, "add a membership from the front end");
        }
    }
    for (i = 0; rv == APR_SUCCESS && pr->groups_replace && i < rows->nelts;
         i++) {
        const rus_membership_t *m = &APR_ARRAY_IDX(rows, i, rus_membership_t);

        if (strcmp(m->origin, RUS_ORIGIN_FRONTEND) != 0
            || rus_names_have(pr->groups, m->group)) {
            continue;
        }
        rv = profile_stmt(c, PST_MEMBER_DROP, &st);
        if (rv == APR_SUCCESS) {
            rc = sqlite3_bind_int64(st, 1, user_id);
            if (rc == SQLITE_OK) {
                rc = sqlite3_bind_int64(st, 2,
                                        APR_ARRAY_IDX(ids, i, apr_int64_t));
            }
            rv = run_write(c, st, rc, "remove a membership from the front end");
        }
    }
    return rv;
}

/* Write what in @a pr differs from the row of @a user_id, inside the
 * caller's write transaction (which rolls it all back on failure). */
static apr_status_t apply_profile(sqlite_conn_t *c, apr_int64_t user_id,
                                  const rus_profile_t *pr, apr_pool_t *ptemp)
{
    apr_status_t rv;

    rv = write_columns(c, user_id, pr);
    if (rv == APR_SUCCESS) {
        rv = write_attrs(c, user_id, pr);
    }
    if (rv == APR_SUCCESS && pr->groups != NULL) {
        rv = write_groups(c, user_id, pr, ptemp);
    }
    return rv;
}

/* sqlite_user_create() with a profile: the insert and, when it inserted,
 * the profile, in one write transaction; the row is read back in it. */
static apr_status_t create_with_profile(sqlite_conn_t *c, const char *username,
                                        apr_int64_t now,
                                        const rus_profile_t *profile,
                                        rus_user_t *user, int *pcreated,
                                        apr_pool_t *p)
{
    sqlite3_stmt *st = c->user_insert;
    apr_int64_t id = 0;
    apr_status_t rv;
    rus_user_t row;
    int rc, created = 0;

    rv = tx_begin(c, "create user: begin");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, now);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE && sqlite3_changes(c->db) == 1) {
        created = 1;
        id = sqlite3_last_insert_rowid(c->db);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        rv = conn_fail(c, rc, "create user");
    }
    if (rv == APR_SUCCESS && created) {
        rv = apply_profile(c, id, profile, p);
    }
    if (rv == APR_SUCCESS) {
        /* ours, or (not created) the row another writer made first */
        rv = sqlite_user_find(&c->base, username, &row, p);
        if (rv == APR_ENOENT) {
            rus_conn_set_error(&c->base,
                               "user row vanished right after creation");
            rv = APR_EGENERAL;
        }
    }
    rv = tx_end(c, rv, "create user: commit");
    if (rv == APR_SUCCESS) {
        *user = row;
        *pcreated = created;
    }
    return rv;
}

/* The profile and the login's record (SQL_USER_TOUCH's rule), in one
 * write transaction; APR_ENOENT (nothing written) without the user. */
static apr_status_t sqlite_user_sync(rus_conn_t *conn, apr_int64_t user_id,
                                     const rus_profile_t *profile,
                                     apr_int64_t now, apr_int64_t interval)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_pool_t *ptemp = NULL;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = apr_pool_create(&ptemp, conn->pool);
    if (rv != APR_SUCCESS) {
        rus_conn_set_error(conn, "sync user: %pm", &rv);
        return rv;
    }
    rv = tx_begin(c, "sync user: begin");
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = profile_stmt(c, PST_USER_EXISTS, &st);
    if (rv == APR_SUCCESS) {
        rc = sqlite3_bind_int64(st, 1, user_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
        }
        rv = rc == SQLITE_ROW    ? APR_SUCCESS
             : rc == SQLITE_DONE ? APR_ENOENT
                                 : conn_fail(c, rc, "sync user: find it");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (rv == APR_SUCCESS) {
        rv = apply_profile(c, user_id, profile, ptemp);
    }
    if (rv == APR_SUCCESS) {
        st = c->user_touch;
        rc = sqlite3_bind_int64(st, 1, user_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 2, now);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 3, interval);
        }
        rv = run_write(c, st, rc, "record login");
    }
    rv = tx_end(c, rv, "sync user: commit");
leave:
    apr_pool_destroy(ptemp);
    return rv;
}

/* ==================================================================== */
/* administration: rare, so each statement is prepared when used        */

/* Bind arguments by type letter: 't' text (const char *), 'i' integer
 * (apr_int64_t). */
static int bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
    int i, rc = SQLITE_OK;

    for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
        if (types[i] == 't') {
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                                   SQLITE_TRANSIENT);
        }
        else {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, apr_int64_t));
        }
    }
    return rc;
}

/* A name or pair that must be unique already exists. */
static int is_duplicate(int rc)
{
    return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

/* Prepare and bind @sql; the caller steps and finalizes. */
static apr_status_t query(sqlite_conn_t *c, sqlite3_stmt **pst,
                          const char *what, const char *sql, const char *types,
                          ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int rc;

    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        va_start(ap, types);
        rc = bind_args(st, types, ap);
        va_end(ap);
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return conn_fail(c, rc, what);
    }
    *pst = st;
    return APR_SUCCESS;
}

/* Run one write statement; *pchanges (if given) gets the rows changed.
 * APR_EEXIST for a uniqueness conflict. */
static apr_status_t vexec(sqlite_conn_t *c, int *pchanges, const char *what,
                          const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = bind_args(st, types, ap);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) {
        if (pchanges != NULL) {
            *pchanges = sqlite3_changes(c->db);
        }
    }
    else if (is_duplicate(rc)) {
        rus_conn_set_error(&c->base, "%s: already exists", what);
        rv = APR_EEXIST;
    }
    else {
        rv = conn_fail(c, rc, what);
    }
    sqlite3_finalize(st);
    return rv;
}

static apr_status_t exec(sqlite_conn_t *c, int *pchanges, const char *what,
                         const char *sql, const char *types, ...)
{
    apr_status_t rv;
    va_list ap;

    va_start(ap, types);
    rv = vexec(c, pchanges, what, sql, types, ap);
    va_end(ap);
    return rv;
}

/* Run a write statement that must change a row: APR_ENOENT if none. */
static apr_status_t exec_one(sqlite_conn_t *c, const char *what,
                             const char *sql, const char *types, ...)
{
    apr_status_t rv;
    int changed = 0;
    va_list ap;

    va_start(ap, types);
    rv = vexec(c, &changed, what, sql, types, ap);
    va_end(ap);
    return rv == APR_SUCCESS && changed == 0 ? APR_ENOENT : rv;
}

/* Step a query to its end; SQLITE_DONE is success. */
static apr_status_t finish(sqlite_conn_t *c, sqlite3_stmt *st, int rc,
                           const char *what)
{
    apr_status_t rv = rc == SQLITE_DONE ? APR_SUCCESS : conn_fail(c, rc, what);

    sqlite3_finalize(st);
    return rv;
}

/* Add @a n (> 0; nothing for 0) to the store's counter @a name, in the
 * caller's transaction. */
static apr_status_t count_add(sqlite_conn_t *c, const char *name, int n)
{
    if (n <= 0) {
        return APR_SUCCESS;
    }
    return exec(c, NULL, "count the sessions ended", SQL_COUNTER_ADD, "ti",
                name, (apr_int64_t)n);
}

/* An administrator's revocation (opts.admin): the bound statement @a st
 * (@a rc: how its binding went) and the count of the sessions it deleted
 * in one transaction, so that the count is kept exactly when the
 * revocation is. Expired sessions not yet purged count too: the count is
 * what the tool reports. */
static apr_status_t revoke_counted(sqlite_conn_t *c, sqlite3_stmt *st, int rc,
                                   const char *what)
{
    apr_status_t rv = tx_begin(c, what);

    if (rv != APR_SUCCESS) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rv;
    }
    rv = run_write(c, st, rc, what);
    if (rv == APR_SUCCESS) {
        /* the rows of the statement itself: the change log's are a
         * trigger's, which sqlite3_changes() leaves out */
        rv = count_add(c, COUNTER_ADMIN, sqlite3_changes(c->db));
    }
    return tx_end(c, rv, what);
}

static apr_status_t sqlite_user_list(rus_conn_t *conn,
                                     apr_array_header_t **pusers, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_array_header_t *users = apr_array_make(p, 16, sizeof(rus_user_t));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv =
        query(c, &st, "list users", "SELECT " USER_COLUMNS " FROM users u", "");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rv = row_to_user(c, st, 0, apr_array_push(users), p);
        if (rv != APR_SUCCESS) {
            sqlite3_finalize(st);
            return rv;
        }
    }
    rv = finish(c, st, rc, "list users");
    if (rv == APR_SUCCESS) {
        *pusers = users;
    }
    return rv;
}

static apr_status_t sqlite_user_add(rus_conn_t *conn, const char *username,
                                    apr_int64_t now, int active,
                                    rus_user_t *user, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_status_t rv;

    rv = exec(c, NULL, "add user",
              "INSERT INTO users (username, is_active, date_joined)"
              " VALUES (?1, ?2, ?3)",
              "tii", username, (apr_int64_t)(active ? 1 : 0), now);
    if (rv == APR_SUCCESS) {
        rv = sqlite_user_find(conn, username, user, p);
    }
    return rv;
}

static apr_status_t sqlite_user_set_active(rus_conn_t *conn,
                                           apr_int64_t user_id, int active,
                                           rus_user_change_t *change)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    rus_user_change_t out = { 0, 0 };
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    /* One transaction: a disabled user never keeps a live session, and
     * what is reported is what this transaction did. */
    rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "begin");
    }
    rv = query(c, &st, "find user", "SELECT 1 FROM users WHERE id = ?1", "i",
               user_id);
    if (rv == APR_SUCCESS) {
        rc = sqlite3_step(st);
        rv = rc == SQLITE_ROW    ? APR_SUCCESS
             : rc == SQLITE_DONE ? APR_ENOENT
                                 : conn_fail(c, rc, "find user");
        sqlite3_finalize(st);
    }
    if (rv == APR_SUCCESS) {
        rv = exec(c, &out.changed, "set user state",
                  "UPDATE users SET is_active = ?1 WHERE id = ?2"
                  " AND is_active <> ?1",
                  "ii", (apr_int64_t)(active ? 1 : 0), user_id);
    }
    if (rv == APR_SUCCESS && !active) {
        rv = exec(c, &out.sessions_ended, "revoke sessions of user",
                  "DELETE FROM sessions WHERE user_id = ?1", "i", user_id);
    }
    if (rv == APR_SUCCESS && !active && c->base.store->opts.admin) {
        rv = count_add(c, COUNTER_DEACTIVATION, out.sessions_ended);
    }
    if (rv == APR_SUCCESS) {
        rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            rv = conn_fail(c, rc, "commit");
        }
    }
    if (rv != APR_SUCCESS) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return rv;
    }
    *change = out;
    return APR_SUCCESS;
}

static apr_status_t sqlite_user_delete(rus_conn_t *conn, apr_int64_t user_id)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc, n = 0;

    /* Sessions and memberships go with the row (ON DELETE CASCADE). */
    if (!c->base.store->opts.admin) {
        return exec_one(c, "delete user", "DELETE FROM users WHERE id = ?1",
                        "i", user_id);
    }
    /* An administrator's tool counts the sessions that go with it, in the
     * delete's transaction (which holds the write lock from its start:
     * no login adds one in between). */
    rv = tx_begin(c, "delete user");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv =
        query(c, &st, "count sessions of user",
              "SELECT COUNT(*) FROM sessions WHERE user_id = ?1", "i", user_id);
    if (rv == APR_SUCCESS) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            n = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        else {
            rv = finish(c, st, rc, "count sessions of user");
        }
    }
    if (rv == APR_SUCCESS) {
        rv = exec_one(c, "delete user", "DELETE FROM users WHERE id = ?1", "i",
                      user_id);
    }
    if (rv == APR_SUCCESS) {
        rv = count_add(c, COUNTER_ADMIN, n);
    }
    return tx_end(c, rv, "delete user");
}

static apr_status_t sqlite_user_rename(rus_conn_t *conn, apr_int64_t user_id,
                                       const char *new_name)
{
    return exec_one((sqlite_conn_t *)conn, "rename user",
                    "UPDATE users SET username = ?1 WHERE id = ?2", "ti",
                    new_name, user_id);
}

#define GROUP_COLUMNS                                    \
    "g.id, g.name, (SELECT COUNT(*) FROM user_groups ug" \
    " WHERE ug.group_id = g.id)"

static void row_to_group(sqlite3_stmt *st, rus_group_t *g, apr_pool_t *p)
{
    g->id = sqlite3_column_int64(st, 0);
    g->name = apr_pstrdup(p, (const char *)sqlite3_column_text(st, 1));
    g->members = sqlite3_column_int(st, 2);
}

static apr_status_t
sqlite_group_list(rus_conn_t *conn, apr_array_header_t **pgroups, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_array_header_t *groups = apr_array_make(p, 8, sizeof(rus_group_t));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = query(c, &st, "list groups", "SELECT " GROUP_COLUMNS " FROM groups g",
               "");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_to_group(st, apr_array_push(groups), p);
    }
    rv = finish(c, st, rc, "list groups");
    if (rv == APR_SUCCESS) {
        *pgroups = groups;
    }
    return rv;
}

static apr_status_t sqlite_group_find(rus_conn_t *conn, const char *name,
                                      rus_group_t *group, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = query(c, &st, "find group",
               "SELECT " GROUP_COLUMNS " FROM groups g WHERE g.name = ?1", "t",
               name);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_group(st, group, p);
        sqlite3_finalize(st);
        return APR_SUCCESS;
    }
    rv = finish(c, st, rc, "find group");
    return rv == APR_SUCCESS ? APR_ENOENT : rv;
}

static apr_status_t sqlite_group_add(rus_conn_t *conn, const char *name)
{
    return exec((sqlite_conn_t *)conn, NULL, "add group",
                "INSERT INTO groups (name) VALUES (?1)", "t", name);
}

static apr_status_t sqlite_group_delete(rus_conn_t *conn, apr_int64_t group_id)
{
    return exec_one((sqlite_conn_t *)conn, "delete group",
                    "DELETE FROM groups WHERE id = ?1", "i", group_id);
}

static apr_status_t sqlite_group_members(rus_conn_t *conn, apr_int64_t group_id,
                                         apr_array_header_t **pnames,
                                         apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_array_header_t *names = apr_array_make(p, 16, sizeof(char *));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = query(c, &st, "list members",
               "SELECT u.username FROM user_groups ug"
               " JOIN users u ON u.id = ug.user_id WHERE ug.group_id = ?1",
               "i", group_id);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        APR_ARRAY_PUSH(names, char *) =
            apr_pstrdup(p, (const char *)sqlite3_column_text(st, 0));
    }
    rv = finish(c, st, rc, "list members");
    if (rv == APR_SUCCESS) {
        *pnames = names;
    }
    return rv;
}

/* An administrator's membership; one the front end gave becomes one (the
 * update logs the change: changes_member_update). */
static apr_status_t sqlite_group_add_member(rus_conn_t *conn,
                                            apr_int64_t group_id,
                                            apr_int64_t user_id)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_status_t rv;
    int changed = 0;

    rv = exec(c, &changed, "add member",
              "INSERT INTO user_groups (user_id, group_id, origin)"
              " VALUES (?1, ?2, 'admin') ON CONFLICT (user_id, group_id)"
              " DO UPDATE SET origin = 'admin' WHERE origin IS NOT 'admin'",
              "ii", user_id, group_id);
    if (rv == APR_SUCCESS && changed == 0) {
        rus_conn_set_error(conn, "add member: already exists");
        rv = APR_EEXIST;
    }
    return rv;
}

static apr_status_t sqlite_user_memberships(rus_conn_t *conn,
                                            apr_int64_t user_id,
                                            apr_array_header_t **prows,
                                            apr_pool_t *p)
{
    return read_memberships((sqlite_conn_t *)conn, user_id, prows, NULL, p);
}

static apr_status_t sqlite_group_remove_member(rus_conn_t *conn,
                                               apr_int64_t group_id,
                                               apr_int64_t user_id)
{
    return exec_one((sqlite_conn_t *)conn, "remove member",
                    "DELETE FROM user_groups WHERE user_id = ?1 AND "
                    "group_id = ?2",
                    "ii", user_id, group_id);
}

/* The first nine columns of a session listing into @a row: token_hash,
 * username, vhost, created_at, last_seen, expires_at, user_id, ip,
 * user_agent. */
static void session_row_read(sqlite3_stmt *st, rus_session_row_t *row,
                             apr_pool_t *p)
{
    row->token_hash = apr_pstrdup(p, (const char *)sqlite3_column_text(st, 0));
    row->username = apr_pstrdup(p, (const char *)sqlite3_column_text(st, 1));
    row->session.vhost =
        apr_pstrdup(p, (const char *)sqlite3_column_text(st, 2));
    row->session.created_at = sqlite3_column_int64(st, 3);
    row->session.last_seen = sqlite3_column_int64(st, 4);
    row->session.expires_at = sqlite3_column_int64(st, 5);
    row->session.user_id = sqlite3_column_int64(st, 6);
    row->session.ip = apr_pstrdup(p, (const char *)sqlite3_column_text(st, 7));
    row->session.user_agent =
        apr_pstrdup(p, (const char *)sqlite3_column_text(st, 8));
}

static apr_status_t sqlite_session_list(rus_conn_t *conn, apr_int64_t user_id,
                                        apr_array_header_t **prows,
                                        apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_array_header_t *rows = apr_array_make(p, 16, sizeof(rus_session_row_t));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = query(c, &st, "list sessions",
               "SELECT s.token_hash, u.username, s.vhost, s.created_at,"
               " s.last_seen, s.expires_at, s.user_id, s.ip, s.user_agent"
               " FROM sessions s JOIN users u ON u.id = s.user_id"
               " WHERE ?1 <= 0 OR s.user_id = ?1",
               "i", user_id);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rus_session_row_t *row = apr_array_push(rows);

        session_row_read(st, row, p);
    }
    rv = finish(c, st, rc, "list sessions");
    if (rv == APR_SUCCESS) {
        *prows = rows;
    }
    return rv;
}

/* One statement, so the rows chosen are the rows deleted, whatever other
 * logins of the same user do meanwhile. */
static apr_status_t sqlite_session_trim_user(rus_conn_t *conn,
                                             apr_int64_t user_id, int keep,
                                             const char *newest,
                                             apr_array_header_t **phashes,
                                             apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_array_header_t *hashes = apr_array_make(p, 4, sizeof(char *));
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    rv = query(c, &st, "trim sessions of user",
               "DELETE FROM sessions WHERE user_id = ?1 AND token_hash <> ?3"
               " AND token_hash NOT IN (SELECT token_hash FROM sessions"
               " WHERE user_id = ?1 AND token_hash <> ?3"
               " ORDER BY created_at DESC, last_seen DESC, token_hash"
               " LIMIT ?2) RETURNING token_hash",
               "iit", user_id, (apr_int64_t)(keep > 0 ? keep - 1 : 0), newest);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        APR_ARRAY_PUSH(hashes, char *) =
            apr_pstrdup(p, (const char *)sqlite3_column_text(st, 0));
    }
    rv = finish(c, st, rc, "trim sessions of user");
    if (rv == APR_SUCCESS) {
        *phashes = hashes;
    }
    return rv;
}

static apr_status_t sqlite_session_revoke_all(rus_conn_t *conn, int *pcount)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_status_t rv;
    int n = 0;

    if (!c->base.store->opts.admin) {
        return exec(c, pcount, "revoke all sessions", "DELETE FROM sessions",
                    "");
    }
    /* counted in the same transaction, as revoke_counted() does */
    rv = tx_begin(c, "revoke all sessions");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = exec(c, &n, "revoke all sessions", "DELETE FROM sessions", "");
    if (rv == APR_SUCCESS) {
        rv = count_add(c, COUNTER_ADMIN, n);
    }
    rv = tx_end(c, rv, "revoke all sessions");
    if (rv == APR_SUCCESS) {
        *pcount = n;
    }
    return rv;
}

/* A range on the primary key finds the hashes that start with @prefix:
 * every one of them sorts at or after it and before the prefix with its
 * last character raised by one (hex digits and letters are ASCII, and no
 * hash character lies between '9' and ':' or 'f' and 'g'). */
static apr_status_t sqlite_session_find_prefix(rus_conn_t *conn,
                                               const char *prefix, int *pcount,
                                               rus_session_row_t *row,
                                               apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    char *upper = apr_pstrdup(p, prefix);
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    upper[strlen(upper) - 1]++;
    rv = query(c, &st, "find sessions by id",
               "SELECT s.token_hash, u.username, s.vhost, s.created_at,"
               " s.last_seen, s.expires_at, s.user_id, s.ip, s.user_agent,"
               " COUNT(*) OVER ()"
               " FROM sessions s JOIN users u ON u.id = s.user_id"
               " WHERE s.token_hash >= ?1 AND s.token_hash < ?2"
               " ORDER BY s.token_hash LIMIT 1",
               "tt", prefix, upper);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *pcount = sqlite3_column_int(st, 9);
        session_row_read(st, row, p);
        sqlite3_finalize(st);
        return APR_SUCCESS;
    }
    rv = finish(c, st, rc, "find sessions by id");
    if (rv == APR_SUCCESS) {
        *pcount = 0;
    }
    return rv;
}

static apr_status_t sqlite_info(rus_conn_t *conn, apr_int64_t now,
                                rus_store_info_t *info)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    rus_store_info_t out;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc;

    memset(&out, 0, sizeof(out));
    rc = read_version(c->db, &out.schema_version);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "read schema version");
    }
    /* one statement: one read transaction, the figures agree */
    rv = query(c, &st, "count rows",
               "SELECT (SELECT COUNT(*) FROM users),"
               " (SELECT COUNT(*) FROM groups),"
               " (SELECT COUNT(*) FROM sessions),"
               " (SELECT COUNT(*) FROM sessions WHERE expires_at <= ?1),"
               " (SELECT COUNT(*) FROM changes),"
               " coalesce((SELECT value FROM counters WHERE name = ?2), 0),"
               " coalesce((SELECT value FROM counters WHERE name = ?3), 0)",
               "itt", now, COUNTER_ADMIN, COUNTER_DEACTIVATION);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out.users = sqlite3_column_int64(st, 0);
        out.groups = sqlite3_column_int64(st, 1);
        out.sessions = sqlite3_column_int64(st, 2);
        out.sessions_expired = sqlite3_column_int64(st, 3);
        out.changes = sqlite3_column_int64(st, 4);
        out.revoked_admin = sqlite3_column_int64(st, 5);
        out.revoked_deactivation = sqlite3_column_int64(st, 6);
        sqlite3_finalize(st);
        *info = out;
        return APR_SUCCESS;
    }
    return finish(c, st, rc, "count rows");
}

/* PRAGMA integrity_check says "ok" on one row when it finds nothing; it
 * does not look at foreign keys, which PRAGMA foreign_key_check does
 * (rows of sessions, user_groups or user_attributes whose user or group
 * is gone: written with foreign_keys off, by hand). */
static apr_status_t sqlite_integrity(rus_conn_t *conn, int *pok,
                                     const char **presult, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    const char *result = NULL;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc, ok;

    rv = query(c, &st, "integrity check", "PRAGMA integrity_check", "");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);

        result = result ? apr_pstrcat(p, result, "\n", line, NULL)
                        : apr_pstrdup(p, line);
    }
    rv = finish(c, st, rc, "integrity check");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ok = result == NULL || strcmp(result, "ok") == 0;
    /* table, rowid (NULL: WITHOUT ROWID), parent, fkid: one row each */
    rv =
        query(c, &st, "foreign key check",
              "SELECT \"table\", parent, COUNT(*) FROM pragma_foreign_key_check"
              " GROUP BY \"table\", parent ORDER BY \"table\", parent",
              "");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line =
            apr_psprintf(p,
                         "%s: %" APR_INT64_T_FMT
                         " row(s) refer to a missing row of %s",
                         (const char *)sqlite3_column_text(st, 0),
                         (apr_int64_t)sqlite3_column_int64(st, 2),
                         (const char *)sqlite3_column_text(st, 1));

        result = ok ? line : apr_pstrcat(p, result, "\n", line, NULL);
        ok = 0;
    }
    rv = finish(c, st, rc, "foreign key check");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* what rus_attrs_decode() refuses, which fails every read of the user:
     * an empty name, a NUL byte (text cast from a blob, by hand) */
    rv = query(c, &st, "attribute check",
               "SELECT user_id, COUNT(*) FROM user_attributes"
               " WHERE name = '' OR instr(CAST(name AS BLOB), X'00') > 0"
               " OR instr(CAST(value AS BLOB), X'00') > 0"
               " GROUP BY user_id ORDER BY user_id",
               "");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line =
            apr_psprintf(p,
                         "user_attributes: %" APR_INT64_T_FMT
                         " row(s) of user %" APR_INT64_T_FMT
                         " with an empty name or a NUL byte",
                         (apr_int64_t)sqlite3_column_int64(st, 1),
                         (apr_int64_t)sqlite3_column_int64(st, 0));

        result = ok ? line : apr_pstrcat(p, result, "\n", line, NULL);
        ok = 0;
    }
    rv = finish(c, st, rc, "attribute check");
    if (rv == APR_SUCCESS) {
        *presult = ok ? "ok" : result;
        *pok = ok;
    }
    return rv;
}

/* ==================================================================== */
/* backup                                                               */

/* How long a backup waits for locks, in total, and between tries (ms). A
 * WAL reader needs no lock but a brief one on the -shm index, so a busy
 * step is rare and short. */
#define BACKUP_WAIT_MS  10000
#define BACKUP_RETRY_MS 20

/* The files SQLite keeps beside a database. */
static const char *const sidecars[] = { "-wal", "-shm", "-journal" };

/* Is the file of @a st the file @a other, or one of its sidecars? */
static int same_file_as_store(const struct stat *st, const char *other,
                              apr_pool_t *p)
{
    struct stat ost;
    size_t i;

    if (other == NULL || *other == '\0') {
        return 0;
    }
    if (stat(other, &ost) == 0 && ost.st_dev == st->st_dev
        && ost.st_ino == st->st_ino) {
        return 1;
    }
    for (i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        if (stat(apr_pstrcat(p, other, sidecars[i], NULL), &ost) == 0
            && ost.st_dev == st->st_dev && ost.st_ino == st->st_ino) {
            return 1;
        }
    }
    return 0;
}

/* May @path be (re)placed? Never a name SQLite uses for a sidecar (a
 * copy put there would be read as the log or index of another database:
 * the live store's -wal replaced corrupts it), never the store itself or
 * one of its sidecars, never with a -wal, -shm or -journal already beside
 * it (SQLite would replay that log into the copy), never what is not a
 * regular file; and what is there only when @a overwrite. */
static apr_status_t backup_target_ok(sqlite_conn_t *c, const char *path,
                                     int overwrite, apr_pool_t *p)
{
    apr_size_t len = strlen(path), i;
    struct stat st;

    for (i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        apr_size_t n = strlen(sidecars[i]);
        const char *side = apr_pstrcat(p, path, sidecars[i], NULL);

        if (len >= n && strcmp(path + len - n, sidecars[i]) == 0) {
            rus_conn_set_error(&c->base,
                               "%s: a name SQLite keeps for a database's "
                               "%s file, not a backup",
                               path, sidecars[i] + 1);
            return APR_EINVAL;
        }
        if (lstat(side, &st) == 0) {
            rus_conn_set_error(&c->base,
                               "%s exists: %s looks like a store in use, "
                               "not written",
                               side, path);
            return APR_EEXIST;
        }
    }
    if (lstat(path, &st) != 0) {
        return APR_SUCCESS; /* link() or rename() will tell the rest */
    }
    if (same_file_as_store(&st, sqlite3_db_filename(c->db, "main"), p)) {
        rus_conn_set_error(&c->base, "%s is the store itself: not replaced",
                           path);
        return APR_EEXIST;
    }
    if (!overwrite) {
        rus_conn_set_error(&c->base, "%s exists", path);
        return APR_EEXIST;
    }
    if (!S_ISREG(st.st_mode)) {
        rus_conn_set_error(&c->base, "%s is not a regular file: not replaced",
                           path);
        return APR_EEXIST;
    }
    return APR_SUCCESS;
}

/* Copy the whole database into the file @tmp (empty, ours) in one step,
 * which reads from one read transaction: a consistent state, while
 * writers go on (WAL). */
static int backup_copy(sqlite_conn_t *c, const char *tmp, apr_pool_t *p)
{
    sqlite3_backup *b;
    sqlite3 *dst = NULL;
    int rc, waited = 0;

    rc = sqlite3_open_v2(tmp, &dst,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        rus_conn_set_error(&c->base, "%s", db_message(p, dst, rc, tmp));
        sqlite3_close(dst);
        return rc;
    }
    /* No journal beside the copy: it would be a file SQLite creates (and
     * follows a link at) by a name known from the copy's, in a directory
     * that may be the store's, which the children's user can write; the
     * copy is renamed into place only once whole, so it needs none. */
    rc = sqlite3_exec(dst, "PRAGMA journal_mode = OFF", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rus_conn_set_error(&c->base, "%s", db_message(p, dst, rc, tmp));
        sqlite3_close(dst);
        return rc;
    }
    b = sqlite3_backup_init(dst, "main", c->db, "main");
    if (b == NULL) {
        rc = sqlite3_errcode(dst);
        rus_conn_set_error(&c->base, "%s", db_message(p, dst, rc, tmp));
        sqlite3_close(dst);
        return rc;
    }
    do {
        rc = sqlite3_backup_step(b, -1);
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
            sqlite3_sleep(BACKUP_RETRY_MS);
            waited += BACKUP_RETRY_MS;
        }
    } while (((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
             && waited < BACKUP_WAIT_MS);
    sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE) {
        rc = sqlite3_errcode(dst);
    }
    if (rc != SQLITE_OK) {
        conn_fail(c, rc, "backup");
    }
    if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK) {
        rc = SQLITE_IOERR;
        rus_conn_set_error(&c->base, "backup: cannot close %s", tmp);
    }
    return rc;
}

static apr_status_t sqlite_backup(rus_conn_t *conn, const char *path,
                                  int overwrite, apr_pool_t *ptemp)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    char *tmp = apr_pstrcat(ptemp, path, ".tmp-XXXXXX", NULL);
    apr_status_t rv;
    int fd, rc;

    rv = backup_target_ok(c, path, overwrite, ptemp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: %pm", tmp, &rv);
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return rv;
    }
    close(fd);
    rc = backup_copy(c, tmp, ptemp);
    if (rc != SQLITE_OK) {
        rv = status_from_rc(rc);
        goto leave;
    }
    /* link() never replaces what is there (someone may have created it
     * meanwhile); rename() does, at once. */
    if ((overwrite ? rename(tmp, path) : link(tmp, path)) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: %pm", path, &rv);
        goto leave;
    }
    rv = APR_SUCCESS;
leave:
    if (rv != APR_SUCCESS || !overwrite) {
        unlink(tmp);
    }
    unlink(apr_pstrcat(ptemp, tmp, "-journal", NULL));
    return rv;
}

/* ==================================================================== */
/* maintenance                                                          */

/* Empty the WAL without holding writers off for long: a PASSIVE pass
 * first copies what it can without the write lock; TRUNCATE then takes
 * the write lock (writers of other connections wait in their busy
 * handlers), copies the few frames committed since, waits at most
 * @wait_ms for readers still on the old log, and cuts the file to zero
 * bytes. Readers that start meanwhile read the database itself and are
 * not waited for. */
static apr_status_t sqlite_checkpoint(rus_conn_t *conn, int wait_ms,
                                      rus_store_checkpoint_t *result)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    int log = 0, copied = 0, rc;
    apr_status_t rv = APR_SUCCESS;

    rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                   &copied);
    if (rc == SQLITE_OK) {
        result->log_before = log;
        sqlite3_busy_timeout(c->db, wait_ms);
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                       &log, &copied);
        sqlite3_busy_timeout(c->db, conn->store->opts.busy_timeout_ms);
    }
    if (rc == SQLITE_OK) {
        /* TRUNCATE reports the log it found (0 0 when it was empty). */
        if (log > result->log_before) {
            result->log_before = log;
        }
        result->copied = result->log_before;
        result->emptied = 1;
    }
    else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        /* Another checkpoint runs, or readers or a writer outlasted
         * @wait_ms: what could be copied was. Not a fault. */
        if (log > result->log_before) {
            result->log_before = log;
        }
        result->copied = copied > 0 ? copied : 0;
        rus_conn_set_error(conn, "checkpoint: the WAL is in use (sqlite %d)",
                           rc);
        rv = APR_EBUSY;
    }
    else {
        rv = conn_fail(c, rc, "checkpoint");
    }
    return rv;
}

/* ==================================================================== */
/* what changed: the WAL-index header and the change log                */

/* The WAL index (PATH-shm) starts with two copies of a 48-byte header
 * (SQLite's wal.c, WalIndexHdr: iVersion, unused, iChange, isInit,
 * bigEndCksum, szPage, mxFrame, nPage, aFrameCksum[2], aSalt[2],
 * aCksum[2]), which every commit rewrites: copy 1 first, a memory
 * barrier, then copy 0. Reading copy 0, a barrier, then copy 1 and
 * finding them equal gives a consistent header; any commit since changes
 * it (mxFrame, the frame checksum, the salts after a restart). Its layout
 * is versioned: iVersion is 3007000 since 2010. */
#define WAL_HDR_WORDS   12
#define WAL_HDR_VERSION 3007000u
/* SQLite's WAL-index region size (wal.c WALINDEX_PGSZ). */
#define WAL_REGION_BYTES 32768

typedef struct sqlite_watch_t {
    rus_watch_t base;                 /* must come first */
    const char *shm_path;             /* PATH-shm */
    const volatile apr_uint32_t *hdr; /* SQLite's own mapping of region 0 */
    dev_t dev;                        /* identity of the -shm file */
    ino_t ino;
    apr_int64_t checked_sec; /* when the path was last looked at */
    int replaced;            /* seen replaced or removed: for good */
} sqlite_watch_t;

static apr_status_t sqlite_watch(rus_conn_t *conn, rus_watch_t **pwatch,
                                 apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite_watch_t *w = apr_pcalloc(p, sizeof(*w));
    sqlite3_stmt *st = NULL;
    sqlite3_file *f = NULL;
    void volatile *region = NULL;
    const char *mode = "";
    struct stat sb;
    apr_status_t rv;
    int rc;

    /* A read on this connection opens (and keeps open) the WAL index:
     * while a connection has it, SQLite neither truncates nor deletes it. */
    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        mode = apr_pstrdup(p, (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "read the journal mode");
    }
    if (strcmp(mode, "wal") != 0) {
        rus_conn_set_error(conn, "%s is not in WAL mode (%s)", c->path, mode);
        return APR_EINVAL;
    }
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM changes WHERE id < 0", NULL,
                      NULL, NULL);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "read the change log");
    }
    /* The WAL index as this connection's own VFS mapped it: never a
     * descriptor of our own on the -shm file, whose close() would drop
     * every POSIX lock this process holds on it (SQLite's included: the
     * DMS lock that stops another process from truncating it, the WAL
     * write lock of a writer in another thread). SQLite keeps region 0
     * mapped as long as a connection of this process has the file open,
     * and this one stays open for as long as the watch is used. */
    w->base.backend = &rus_backend_sqlite;
    w->shm_path = apr_pstrcat(p, c->path, "-shm", NULL);
    rc = sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
    if (rc != SQLITE_OK || f == NULL || f->pMethods == NULL
        || f->pMethods->iVersion < 2 || f->pMethods->xShmMap == NULL) {
        rus_conn_set_error(conn, "%s: the VFS has no WAL index to watch",
                           c->path);
        return APR_ENOTIMPL;
    }
    rc = f->pMethods->xShmMap(f, 0, WAL_REGION_BYTES, 0, &region);
    if (rc != SQLITE_OK || region == NULL) {
        rus_conn_set_error(conn, "%s: the WAL index is not mapped (%s)",
                           w->shm_path, sqlite3_errstr(rc));
        return APR_EINVAL;
    }
    if (stat(w->shm_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: not a regular file", w->shm_path);
        return rv == APR_SUCCESS ? APR_EINVAL : rv;
    }
    w->hdr = (const volatile apr_uint32_t *)region;
    w->dev = sb.st_dev;
    w->ino = sb.st_ino;
    if (__atomic_load_n(&w->hdr[0], __ATOMIC_RELAXED) != WAL_HDR_VERSION) {
        rus_conn_set_error(conn, "%s: unknown WAL index version %u",
                           w->shm_path,
                           (unsigned)__atomic_load_n(&w->hdr[0],
                                                     __ATOMIC_RELAXED));
        return APR_EINVAL;
    }
    *pwatch = &w->base;
    return APR_SUCCESS;
}

static apr_status_t sqlite_watch_mark(rus_watch_t *watch, apr_int64_t now,
                                      rus_store_mark_t *mark, const char **pmsg)
{
    sqlite_watch_t *w = (sqlite_watch_t *)watch;
    apr_uint32_t a[WAL_HDR_WORDS], b[WAL_HDR_WORDS];
    struct stat sb;
    int i;

    if (__atomic_load_n(&w->checked_sec, __ATOMIC_RELAXED) != now) {
        /* Once a second: is the mapped file still the one at the path? */
        __atomic_store_n(&w->checked_sec, now, __ATOMIC_RELAXED);
        if (stat(w->shm_path, &sb) != 0 || sb.st_dev != w->dev
            || sb.st_ino != w->ino) {
            __atomic_store_n(&w->replaced, 1, __ATOMIC_SEQ_CST);
        }
    }
    if (__atomic_load_n(&w->replaced, __ATOMIC_SEQ_CST)) {
        *pmsg = "the WAL index was replaced or removed";
        return RUS_STORE_ESTALE;
    }
    for (i = 0; i < WAL_HDR_WORDS; i++) {
        a[i] = __atomic_load_n(&w->hdr[i], __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    for (i = 0; i < WAL_HDR_WORDS; i++) {
        b[i] = __atomic_load_n(&w->hdr[WAL_HDR_WORDS + i], __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (memcmp(a, b, sizeof(a)) != 0) {
        return APR_EAGAIN; /* a commit is being recorded */
    }
    if (a[0] != WAL_HDR_VERSION) {
        *pmsg = "unknown WAL index version";
        return APR_EINVAL;
    }
    memcpy(mark->w, a, sizeof(mark->w));
    return APR_SUCCESS;
}

static apr_status_t sqlite_changes_since(rus_conn_t *conn, apr_int64_t since,
                                         rus_change_fn *fn, void *baton,
                                         apr_int64_t *plast)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_int64_t last = since;
    apr_status_t rv = APR_SUCCESS;
    rus_change_t ch;
    int rc = SQLITE_OK;

    if (since > 0) {
        /* AUTOINCREMENT's high-water mark never goes down, unless the
         * file was restored from a copy (sqlite3 .restore) */
        sqlite3_stmt *st = NULL;
        apr_int64_t high = 0;

        rc = sqlite3_prepare_v2(c->db,
                                "SELECT seq FROM sqlite_sequence"
                                " WHERE name = 'changes'",
                                -1, &st, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            high = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            return conn_fail(c, rc, "read the change log's last id");
        }
        if (high < since) {
            *plast = high;
            return RUS_CHANGES_ENOUGH;
        }
        rc = SQLITE_OK;
    }
    if (c->changes_since == NULL) {
        rc = prepare_stmt(c->db, SQL_CHANGES_SINCE, &c->changes_since);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(c->changes_since, 1, since);
    }
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(c->changes_since);
        if (rc != SQLITE_ROW) {
            break;
        }
        ch.id = sqlite3_column_int64(c->changes_since, 0);
        ch.user_id = sqlite3_column_int64(c->changes_since, 1);
        ch.session_hash =
            (const char *)sqlite3_column_text(c->changes_since, 2);
        ch.at = sqlite3_column_int64(c->changes_since, 3);
        rv = fn(baton, &ch);
        if (rv != APR_SUCCESS) {
            break;
        }
        last = ch.id;
    }
    if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
        rv = conn_fail(c, rc, "list changes");
    }
    if (c->changes_since != NULL) {
        sqlite3_reset(c->changes_since);
        sqlite3_clear_bindings(c->changes_since);
    }
    if (rv == RUS_CHANGES_ENOUGH) {
        /* The caller drops everything after this: the newest id now. */
        sqlite3_stmt *st = NULL;

        rc = sqlite3_prepare_v2(c->db, "SELECT MAX(id) FROM changes", -1, &st,
                                NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (sqlite3_column_int64(st, 0) > last) {
                last = sqlite3_column_int64(st, 0);
            }
            rc = SQLITE_DONE;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            return conn_fail(c, rc, "find the last change");
        }
        *plast = last;
        return rv;
    }
    if (rv == APR_SUCCESS) {
        *plast = last;
    }
    return rv;
}

static apr_status_t sqlite_changes_prune(rus_conn_t *conn, apr_int64_t before,
                                         int *pcount)
{
    return exec((sqlite_conn_t *)conn, pcount, "prune changes",
                "DELETE FROM changes WHERE at < ?1", "i", before);
}

/* ==================================================================== */
/* a whole store copied to another (rus_store_copy)                     */

/* What a dump reads, one statement per rus_row_kind_e, in that order; each
 * in the order of its key, so that two dumps of one store are alike. */
static const char *const dump_sql[] = {
    "SELECT id, username, is_active, date_joined, last_login, email,"
    " first_name, last_name FROM users ORDER BY id",
    "SELECT id, name FROM groups ORDER BY id",
    "SELECT user_id, group_id, origin FROM user_groups"
    " ORDER BY user_id, group_id",
    "SELECT token_hash, user_id, vhost, created_at, last_seen, expires_at,"
    " ip, user_agent FROM sessions ORDER BY token_hash",
    "SELECT user_id, name, value FROM user_attributes ORDER BY user_id, name",
};

/* What a load writes, by rus_row_kind_e - 1: the ids as given. */
static const char *const load_sql[] = {
    "INSERT INTO users (id, username, is_active, date_joined, last_login,"
    " email, first_name, last_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO groups (id, name) VALUES (?1, ?2)",
    "INSERT INTO user_groups (user_id, group_id, origin) VALUES (?1, ?2, ?3)",
    "INSERT INTO sessions (token_hash, user_id, vhost, created_at,"
    " last_seen, expires_at, ip, user_agent)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO user_attributes (user_id, name, value) VALUES (?1, ?2, ?3)",
};

#define ROW_KINDS ((int)(sizeof(dump_sql) / sizeof(dump_sql[0])))

/* Column @a i of the current row as text; NULL (a NOT NULL column read
 * as NULL: out of memory) is left to the caller to refuse. */
static const char *column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Fill @a row (of @a kind) from the current row of dump_sql[kind - 1].
 * The strings point into the statement: valid until its next step.
 * @return SQLITE_OK, or SQLITE_NOMEM when a text column read as NULL */
static int dump_read(sqlite3_stmt *st, rus_row_kind_e kind,
                     rus_store_row_t *row)
{
    memset(row, 0, sizeof(*row));
    row->kind = kind;
    switch (kind) {
    case RUS_ROW_USER:
        row->user.id = sqlite3_column_int64(st, 0);
        row->user.username = column_text(st, 1);
        row->user.is_active = sqlite3_column_int64(st, 2) != 0;
        row->user.date_joined = sqlite3_column_int64(st, 3);
        row->user.last_login = sqlite3_column_int64(st, 4); /* NULL: 0 */
        row->user.email = column_text(st, 5);
        row->user.first_name = column_text(st, 6);
        row->user.last_name = column_text(st, 7);
        return row->user.username && row->user.email && row->user.first_name
                       && row->user.last_name
                   ? SQLITE_OK
                   : SQLITE_NOMEM;
    case RUS_ROW_GROUP:
        row->group.id = sqlite3_column_int64(st, 0);
        row->group.name = column_text(st, 1);
        return row->group.name ? SQLITE_OK : SQLITE_NOMEM;
    case RUS_ROW_MEMBER:
        row->user_id = sqlite3_column_int64(st, 0);
        row->group_id = sqlite3_column_int64(st, 1);
        row->origin = column_text(st, 2);
        return row->origin ? SQLITE_OK : SQLITE_NOMEM;
    case RUS_ROW_SESSION:
        row->session.token_hash = column_text(st, 0);
        row->session.session.user_id = sqlite3_column_int64(st, 1);
        row->session.session.vhost = column_text(st, 2);
        row->session.session.created_at = sqlite3_column_int64(st, 3);
        row->session.session.last_seen = sqlite3_column_int64(st, 4);
        row->session.session.expires_at = sqlite3_column_int64(st, 5);
        row->session.session.ip = column_text(st, 6);
        row->session.session.user_agent = column_text(st, 7);
        return row->session.token_hash && row->session.session.vhost
                       && row->session.session.ip
                       && row->session.session.user_agent
                   ? SQLITE_OK
                   : SQLITE_NOMEM;
    case RUS_ROW_ATTR:
        row->user_id = sqlite3_column_int64(st, 0);
        row->attr.name = column_text(st, 1);
        row->attr.value = column_text(st, 2);
        return row->attr.name && row->attr.value ? SQLITE_OK : SQLITE_NOMEM;
    }
    return SQLITE_MISUSE;
}

/* Every row, kind after kind, from one read transaction: a writer that
 * commits meanwhile (httpd running) is in all of the dump or none of it.
 * Each row's strings are valid during the call of @a fn only. */
static apr_status_t sqlite_dump(rus_conn_t *conn, rus_row_fn *fn, void *baton,
                                apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = NULL;
    apr_status_t rv = APR_SUCCESS;
    rus_store_row_t row;
    int kind, rc;

    (void)p;
    rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "dump: begin");
    }
    for (kind = RUS_ROW_USER; rv == APR_SUCCESS && kind <= ROW_KINDS; kind++) {
        rc = sqlite3_prepare_v2(c->db, dump_sql[kind - 1], -1, &st, NULL);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            rc = dump_read(st, (rus_row_kind_e)kind, &row);
            if (rc == SQLITE_OK) {
                rv = fn(baton, &row);
                if (rv != APR_SUCCESS) {
                    break; /* the row function's failure, its own text */
                }
            }
        }
        if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
            rv = conn_fail(c, rc, "dump");
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    /* A read transaction: nothing to keep. */
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rv;
}

/* Finalize the load's statements (a no-op when none runs). */
static void load_finalize(sqlite_conn_t *c)
{
    int i;

    for (i = 0; i < ROW_KINDS; i++) {
        sqlite3_finalize(c->load[i]);
        c->load[i] = NULL;
    }
}

/* Take the write lock (BEGIN IMMEDIATE) and refuse a store that holds a
 * user, a group or a session; prepare the inserts. The triggers stay on:
 * the memberships loaded are logged in changes as any insert is, which
 * nothing cached can be about (the store was empty). */
static apr_status_t sqlite_load_begin(rus_conn_t *conn)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_int64_t users, groups, sessions;
    sqlite3_stmt *st = NULL;
    apr_status_t rv;
    int rc, i;

    rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return conn_fail(c, rc, "load: begin");
    }
    rv = query(c, &st, "load: count rows",
               "SELECT (SELECT COUNT(*) FROM users),"
               " (SELECT COUNT(*) FROM groups),"
               " (SELECT COUNT(*) FROM sessions)",
               "");
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rv = finish(c, st, rc, "load: count rows");
        goto leave;
    }
    users = sqlite3_column_int64(st, 0);
    groups = sqlite3_column_int64(st, 1);
    sessions = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    if (users != 0 || groups != 0 || sessions != 0) {
        rus_conn_set_error(conn,
                           "%s is not empty: it holds %" APR_INT64_T_FMT
                           " user(s), %" APR_INT64_T_FMT
                           " group(s) and %" APR_INT64_T_FMT " session(s)",
                           c->path, users, groups, sessions);
        rv = APR_EEXIST;
        goto leave;
    }
    for (i = 0; i < ROW_KINDS; i++) {
        rc = sqlite3_prepare_v2(c->db, load_sql[i], -1, &c->load[i], NULL);
        if (rc != SQLITE_OK) {
            rv = conn_fail(c, rc, "load: prepare");
            goto leave;
        }
    }
leave:
    if (rv != APR_SUCCESS) {
        load_finalize(c);
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rv;
}

/* Insert one row with its ids as given; a row of an unknown kind is
 * refused. */
static apr_status_t sqlite_load_row(rus_conn_t *conn,
                                    const rus_store_row_t *row)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    const rus_session_t *s = &row->session.session;
    sqlite3_stmt *st;
    apr_status_t rv = APR_SUCCESS;
    int rc = SQLITE_OK;

    if (row->kind < RUS_ROW_USER || (int)row->kind > ROW_KINDS
        || c->load[row->kind - 1] == NULL) {
        rus_conn_set_error(conn, "load: no load runs, or a row of kind %d",
                           (int)row->kind);
        return APR_EINVAL;
    }
    st = c->load[row->kind - 1];
    switch (row->kind) {
    case RUS_ROW_USER:
        rc = sqlite3_bind_int64(st, 1, row->user.id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 2, row->user.username, -1,
                                   SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 3, row->user.is_active ? 1 : 0);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 4, row->user.date_joined);
        }
        if (rc == SQLITE_OK) {
            /* 0 is "never", which this schema keeps as NULL */
            rc = row->user.last_login != 0
                     ? sqlite3_bind_int64(st, 5, row->user.last_login)
                     : sqlite3_bind_null(st, 5);
        }
        /* NULL: a source without the column, "" as the schema's default */
        if (rc == SQLITE_OK) {
            rc =
                sqlite3_bind_text(st, 6, row->user.email ? row->user.email : "",
                                  -1, SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 7,
                                   row->user.first_name ? row->user.first_name
                                                        : "",
                                   -1, SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 8,
                                   row->user.last_name ? row->user.last_name
                                                       : "",
                                   -1, SQLITE_TRANSIENT);
        }
        break;
    case RUS_ROW_GROUP:
        rc = sqlite3_bind_int64(st, 1, row->group.id);
        if (rc == SQLITE_OK) {
            rc =
                sqlite3_bind_text(st, 2, row->group.name, -1, SQLITE_TRANSIENT);
        }
        break;
    case RUS_ROW_MEMBER:
        rc = sqlite3_bind_int64(st, 1, row->user_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 2, row->group_id);
        }
        /* NULL: a source without origins, whose memberships were all
         * made by administrators (as the migration takes them) */
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 3,
                                   row->origin ? row->origin : RUS_ORIGIN_ADMIN,
                                   -1, SQLITE_TRANSIENT);
        }
        break;
    case RUS_ROW_SESSION:
        rc = sqlite3_bind_text(st, 1, row->session.token_hash, -1,
                               SQLITE_TRANSIENT);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 2, s->user_id);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 3, s->vhost, -1, SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 4, s->created_at);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 5, s->last_seen);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 6, s->expires_at);
        }
        /* NULL: a source without the columns, "" as the schema's default */
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 7, s->ip ? s->ip : "", -1,
                                   SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 8, s->user_agent ? s->user_agent : "",
                                   -1, SQLITE_TRANSIENT);
        }
        break;
    case RUS_ROW_ATTR:
        rc = sqlite3_bind_int64(st, 1, row->user_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 2, row->attr.name, -1, SQLITE_TRANSIENT);
        }
        if (rc == SQLITE_OK) {
            rc =
                sqlite3_bind_text(st, 3, row->attr.value, -1, SQLITE_TRANSIENT);
        }
        break;
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rv = is_duplicate(rc) ? APR_EEXIST : conn_fail(c, rc, "load");
        if (rv == APR_EEXIST) {
            rus_conn_set_error(conn, "load: %s", sqlite3_errmsg(c->db));
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rv;
}

/* Commit or roll back the load. The next ids come after the loaded ones by
 * themselves (an INTEGER PRIMARY KEY takes the largest plus one). */
static apr_status_t sqlite_load_end(rus_conn_t *conn, int commit)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    load_finalize(c);
    if (commit) {
        rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            return APR_SUCCESS;
        }
        rv = conn_fail(c, rc, "load: commit");
    }
    if (sqlite3_get_autocommit(c->db) == 0) {
        rc = sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc != SQLITE_OK && rv == APR_SUCCESS) {
            rv = conn_fail(c, rc, "load: roll back");
        }
    }
    return rv;
}

const rus_backend_t rus_backend_sqlite = {
    .scheme = "sqlite",
    .location_is_path = 1,
    .example = "/var/lib/x/users.db",
    .restore_hint = "do not replace the store file of a running httpd: "
                    "restore with sqlite3 .restore instead",
    .check = sqlite_check,
    .prepare = sqlite_prepare,
    .connect = sqlite_connect,
    .validate = sqlite_validate,
    .disconnect = sqlite_disconnect,
    .user_find = sqlite_user_find,
    .user_create = sqlite_user_create,
    .user_touch = sqlite_user_touch,
    .user_sync = sqlite_user_sync,
    .session_insert = sqlite_session_insert,
    .session_find = sqlite_session_find,
    .session_touch = sqlite_session_touch,
    .session_revoke = sqlite_session_revoke,
    .session_revoke_user = sqlite_session_revoke_user,
    .session_purge = sqlite_session_purge,
    .session_trim_user = sqlite_session_trim_user,
    .user_list = sqlite_user_list,
    .user_add = sqlite_user_add,
    .user_set_active = sqlite_user_set_active,
    .user_delete = sqlite_user_delete,
    .user_rename = sqlite_user_rename,
    .group_list = sqlite_group_list,
    .group_find = sqlite_group_find,
    .group_add = sqlite_group_add,
    .group_delete = sqlite_group_delete,
    .group_members = sqlite_group_members,
    .group_add_member = sqlite_group_add_member,
    .group_remove_member = sqlite_group_remove_member,
    .user_memberships = sqlite_user_memberships,
    .session_list = sqlite_session_list,
    .session_revoke_all = sqlite_session_revoke_all,
    .session_find_prefix = sqlite_session_find_prefix,
    .backup = sqlite_backup,
    .info = sqlite_info,
    .integrity = sqlite_integrity,
    .checkpoint = sqlite_checkpoint,
    .watch = sqlite_watch,
    .watch_mark = sqlite_watch_mark,
    .changes_since = sqlite_changes_since,
    .changes_prune = sqlite_changes_prune,
    .dump = sqlite_dump,
    .load_begin = sqlite_load_begin,
    .load_row = sqlite_load_row,
    .load_end = sqlite_load_end,
};
