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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include <sqlite3.h>

#include "rus_backend.h"

/* ==================================================================== */
/* schema                                                               */

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
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define SQL_USER_FIND                                                    \
    "SELECT id, username, is_active, date_joined, last_login FROM users" \
    " WHERE username = ?1"
#define SQL_USER_INSERT                                                \
    "INSERT INTO users (username, is_active, date_joined, last_login)" \
    " VALUES (?1, 1, ?2, ?2) ON CONFLICT (username) DO NOTHING"
#define SQL_USER_TOUCH                               \
    "UPDATE users SET last_login = ?2 WHERE id = ?1" \
    " AND (last_login IS NULL OR last_login <= ?2 - ?3)"

#define SQL_SESSION_INSERT                                          \
    "INSERT INTO sessions (token_hash, user_id, vhost, created_at," \
    " last_seen, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)"
#define SQL_SESSION_FIND                                                  \
    "SELECT s.user_id, s.vhost, s.created_at, s.last_seen, s.expires_at," \
    " u.id, u.username, u.is_active, u.date_joined, u.last_login"         \
    " FROM sessions s JOIN users u ON u.id = s.user_id"                   \
    " WHERE s.token_hash = ?1"
#define SQL_SESSION_TOUCH                                      \
    "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1" \
    " AND last_seen < ?2"
#define SQL_SESSION_REVOKE      "DELETE FROM sessions WHERE token_hash = ?1"
#define SQL_SESSION_REVOKE_USER "DELETE FROM sessions WHERE user_id = ?1"
#define SQL_SESSION_PURGE       "DELETE FROM sessions WHERE expires_at <= ?1"

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
} sqlite_conn_t;

/* ==================================================================== */
/* errors                                                               */

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
        return APR_FROM_OS_ERROR(EROFS);
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

/* Record a failure of @what on the connection and return its status. A
 * connection that saw damage or I/O errors is not pooled again. */
static apr_status_t conn_fail(sqlite_conn_t *c, int rc, const char *what)
{
    apr_status_t rv = status_from_rc(rc);

    rus_conn_set_error(&c->base, "%s: %s (sqlite %d)", what,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc), rc);
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
    return apr_psprintf(p, "%s: %s (sqlite %d)", what,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
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

/* Check the directory exists, and the file is a regular file if present.
 * *pexists tells whether the file is there. */
static apr_status_t check_paths(const char *path, int *pexists, apr_pool_t *p,
                                const char **pmsg)
{
    const char *dir = dir_of(p, path);
    struct stat st;

    if (stat(dir, &st) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        *pmsg = apr_psprintf(p, "directory %s: %pm", dir, &rv);
        return rv;
    }
    if (!S_ISDIR(st.st_mode)) {
        *pmsg = apr_psprintf(p, "%s is not a directory", dir);
        return APR_ENOTDIR;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            *pmsg = apr_psprintf(p, "%s is not a regular file", path);
            return APR_EINVAL;
        }
        *pexists = 1;
        return APR_SUCCESS;
    }
    if (errno != ENOENT) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        *pmsg = apr_psprintf(p, "%s: %pm", path, &rv);
        return rv;
    }
    *pexists = 0;
    if (access(dir, W_OK | X_OK) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        *pmsg = apr_psprintf(p, "cannot create %s in directory %s: %pm", path,
                             dir, &rv);
        return rv;
    }
    return APR_SUCCESS;
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
    sqlite3 *db = NULL;
    int exists = 0, version = 0, rc;
    apr_status_t rv;

    rv = check_paths(store->location, &exists, ptemp, pmsg);
    if (rv != APR_SUCCESS || !exists) {
        goto leave;
    }
    rc = sqlite3_open_v2(store->location, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, store->opts.busy_timeout_ms);
        rc = read_version(db, &version);
    }
    if (rc != SQLITE_OK) {
        *pmsg = db_message(ptemp, db, rc, store->location);
        rv = status_from_rc(rc);
        goto leave;
    }
    if (version > SCHEMA_VERSION) {
        *pmsg = apr_psprintf(ptemp,
                             "%s has schema version %d; this build knows "
                             "versions up to %d",
                             store->location, version, SCHEMA_VERSION);
        rv = RUS_STORE_ESCHEMA;
    }
leave:
    sqlite3_close(db);
    return rv;
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
    if (version > SCHEMA_VERSION) {
        *pmsg = apr_psprintf(p,
                             "%s has schema version %d; this build knows "
                             "versions up to %d",
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

/* Give the database (and any WAL files present) to the run-time user. */
static apr_status_t hand_over(const char *path, const rus_store_owner_t *owner,
                              apr_pool_t *p, const char **pwarn,
                              const char **pmsg)
{
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    const char *dir = dir_of(p, path);
    uid_t uid = (uid_t)owner->uid;
    gid_t gid = (gid_t)owner->gid;
    struct stat st;
    apr_size_t i;

    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        const char *f = apr_pstrcat(p, path, suffixes[i], NULL);

        if (chown(f, uid, gid) != 0 && errno != ENOENT) {
            apr_status_t rv = APR_FROM_OS_ERROR(errno);

            *pmsg = apr_psprintf(p, "cannot give %s to uid %ld: %pm", f,
                                 owner->uid, &rv);
            return rv;
        }
    }
    /* SQLite creates PATH-wal and PATH-shm next to the database: the
     * children need to write the directory too. Supplementary groups are
     * not known here, so this is a warning, not a refusal. */
    if (stat(dir, &st) == 0
        && !((st.st_uid == uid && (st.st_mode & S_IWUSR))
             || (st.st_gid == gid && (st.st_mode & S_IWGRP))
             || (st.st_mode & S_IWOTH))) {
        *pwarn = apr_psprintf(p,
                              "directory %s does not look writable for uid "
                              "%ld; SQLite must create %s-wal and %s-shm "
                              "there",
                              dir, owner->uid, path, path);
    }
    return APR_SUCCESS;
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
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         NULL);
    if (rc != SQLITE_OK) {
        *pmsg = db_message(ptemp, db, rc, path);
        goto leave;
    }
    sqlite3_busy_timeout(db, store->opts.busy_timeout_ms);
    if (!exists) {
        /* Users and session hashes are nobody else's business. */
        chmod(path, 0640);
    }
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

static void sqlite_disconnect(rus_conn_t *conn)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;

    sqlite3_finalize(c->user_find);
    sqlite3_finalize(c->user_insert);
    sqlite3_finalize(c->user_touch);
    sqlite3_finalize(c->session_insert);
    sqlite3_finalize(c->session_find);
    sqlite3_finalize(c->session_touch);
    sqlite3_finalize(c->session_revoke);
    sqlite3_finalize(c->session_revoke_user);
    sqlite3_finalize(c->session_purge);
    sqlite3_close(c->db);
    c->user_find = c->user_insert = c->user_touch = NULL;
    c->session_insert = c->session_find = c->session_touch = NULL;
    c->session_revoke = c->session_revoke_user = c->session_purge = NULL;
    c->db = NULL;
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
    /* No SQLITE_OPEN_CREATE: a store that vanished at run time is a fault
     * to report, not a reason to start an empty one. NOMUTEX: a connection
     * is used by one thread at a time (rus_store_acquire). */
    rc = sqlite3_open_v2(c->path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, store->opts.busy_timeout_ms);
    rc = sqlite3_exec(c->db,
                      "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    rc = read_version(c->db, &version);
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
    rc = prepare_stmt(c->db, SQL_USER_FIND, &c->user_find);
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_USER_INSERT, &c->user_insert);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_USER_TOUCH, &c->user_touch);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_INSERT, &c->session_insert);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_FIND, &c->session_find);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_TOUCH, &c->session_touch);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_REVOKE, &c->session_revoke);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_REVOKE_USER,
                          &c->session_revoke_user);
    }
    if (rc == SQLITE_OK) {
        rc = prepare_stmt(c->db, SQL_SESSION_PURGE, &c->session_purge);
    }
    if (rc != SQLITE_OK) {
        goto fail;
    }
    if (stat(c->path, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *pmsg = apr_psprintf(ptemp, "%s: %pm", c->path, &rv);
        goto leave;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    *pconn = &c->base;
    return APR_SUCCESS;

fail:
    *pmsg = db_message(ptemp, c->db, rc, c->path);
    rv = status_from_rc(rc);
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

    if (stat(c->path, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: %pm", c->path, &rv);
        return rv;
    }
    if (st.st_dev != c->dev || st.st_ino != c->ino) {
        return RUS_STORE_ESTALE;
    }
    if (access(c->path, R_OK | W_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rus_conn_set_error(conn, "%s: %pm", c->path, &rv);
        return rv;
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* users                                                                */

/* Fill @user from the current row of a SQL_USER_FIND step. */
static void row_to_user(sqlite3_stmt *st, rus_user_t *user, apr_pool_t *p)
{
    user->id = sqlite3_column_int64(st, 0);
    user->username = apr_pstrmemdup(p, (const char *)sqlite3_column_text(st, 1),
                                    (apr_size_t)sqlite3_column_bytes(st, 1));
    user->is_active = sqlite3_column_int(st, 2) != 0;
    user->date_joined = sqlite3_column_int64(st, 3);
    user->last_login = sqlite3_column_int64(st, 4); /* NULL reads as 0 */
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
        row_to_user(st, user, p);
        rv = APR_SUCCESS;
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

static apr_status_t sqlite_user_create(rus_conn_t *conn, const char *username,
                                       apr_int64_t now, rus_user_t *user,
                                       int *pcreated, apr_pool_t *p)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->user_insert;
    apr_status_t rv;
    int rc, created;

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

static apr_status_t sqlite_session_insert(rus_conn_t *conn,
                                          const char *token_hash,
                                          apr_int64_t user_id,
                                          const char *vhost, apr_int64_t now,
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
        user->id = sqlite3_column_int64(st, 5);
        user->username =
            apr_pstrmemdup(p, (const char *)sqlite3_column_text(st, 6),
                           (apr_size_t)sqlite3_column_bytes(st, 6));
        user->is_active = sqlite3_column_int(st, 7) != 0;
        user->date_joined = sqlite3_column_int64(st, 8);
        user->last_login = sqlite3_column_int64(st, 9);
        rv = APR_SUCCESS;
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

static apr_status_t sqlite_session_revoke(rus_conn_t *conn,
                                          const char *token_hash)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_revoke;

    return run_write(c, st,
                     sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC),
                     "revoke session");
}

static apr_status_t sqlite_session_revoke_user(rus_conn_t *conn,
                                               apr_int64_t user_id)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_revoke_user;

    return run_write(c, st, sqlite3_bind_int64(st, 1, user_id),
                     "revoke sessions of user");
}

static apr_status_t sqlite_session_purge(rus_conn_t *conn, apr_int64_t now,
                                         int *pcount)
{
    sqlite_conn_t *c = (sqlite_conn_t *)conn;
    sqlite3_stmt *st = c->session_purge;
    apr_status_t rv;

    rv = run_write(c, st, sqlite3_bind_int64(st, 1, now), "purge sessions");
    if (rv == APR_SUCCESS) {
        *pcount = sqlite3_changes(c->db);
    }
    return rv;
}

const rus_backend_t rus_backend_sqlite = {
    .scheme = "sqlite",
    .location_is_path = 1,
    .check = sqlite_check,
    .prepare = sqlite_prepare,
    .connect = sqlite_connect,
    .validate = sqlite_validate,
    .disconnect = sqlite_disconnect,
    .user_find = sqlite_user_find,
    .user_create = sqlite_user_create,
    .user_touch = sqlite_user_touch,
    .session_insert = sqlite_session_insert,
    .session_find = sqlite_session_find,
    .session_touch = sqlite_session_touch,
    .session_revoke = sqlite_session_revoke,
    .session_revoke_user = sqlite_session_revoke_user,
    .session_purge = sqlite_session_purge,
};
