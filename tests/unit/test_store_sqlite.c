/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The SQLite store on real files, beyond test_store.c: spec and error
 * contracts, what check/prepare/connect do to the file system, the rows as
 * SQLite holds them, and a pooled connection whose file is unlinked, made
 * unreadable or replaced. Raw sqlite3 calls only inspect or prepare a
 * database, never stand in for the store. */

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include <sqlite3.h>

#include "rus_backend.h"
#include "rus_store.h"
#include "test_common.h"

/* PRAGMA user_version of a store this build prepares: users (1), sessions
 * (2), groups and memberships (3), the change log (4), profiles:
 * email, names, attributes and the origins of memberships (5), the
 * store's own counters (6), the address and User-Agent of a session's
 * login (7). */
#define SCHEMA_VERSION 7

/* Who the permission tests become when run as root. */
#define NOBODY 65534

/* Root ignores file modes: a forked child becomes nobody to see them. */
static void become_nobody(void)
{
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
        _exit(100); /* no such user here: nothing to learn */
    }
}

/* The child's exit status is the step that failed (0: none). */
static void steps_of_nobody(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child died: status %d", status);
    ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 100,
                  "step %d failed", WEXITSTATUS(status));
}


static rus_test_store_t ts;
static apr_pool_t *pool;
static const char *dir;
static const char *db;

/* The shared fixture, directory only: these tests make their stores. */
static void setup(void)
{
    rus_test_store_dir(&ts);
    pool = ts.pool;
    dir = ts.dir;
    db = ts.path;
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

/* A store handle on @path with the default options. */
static rus_store_t *store_on(const char *path)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", path, NULL),
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    return store;
}

/* A store on @path, created and migrated. */
static rus_store_t *prepared(const char *path)
{
    rus_store_t *store = store_on(path);
    const char *msg = NULL, *warn = NULL;

    ck_assert_msg(rus_store_prepare(store, pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    ck_assert_ptr_null(warn);
    return store;
}

static rus_conn_t *connected(const rus_store_t *store)
{
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    ck_assert_msg(rus_store_connect(&conn, store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    return conn;
}

static apr_status_t check_path(const char *path, const char **pmsg)
{
    *pmsg = NULL;
    return rus_store_check(store_on(path), pool, pmsg);
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Write @n bytes that are not an SQLite database to @path. */
static void write_garbage(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t i;

    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        ck_assert_int_ne(fputc((int)((i * 131 + 7) & 0xff), f), EOF);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* ==================================================================== */
/* specs and error classes                                              */

START_TEST(test_spec_root_and_cwd)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;
    char cwd[4096];

    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:sub/users.db", dir,
                                      NULL, &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store),
                     apr_pstrcat(pool, dir, "/sub/users.db", NULL));
    ck_assert_ptr_eq(store->backend, &rus_backend_sqlite);
    /* no root: the current directory */
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:rel.db", NULL, NULL,
                                      &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store),
                     apr_pstrcat(pool, cwd, "/rel.db", NULL));
}
END_TEST

START_TEST(test_spec_options)
{
    rus_store_options_t opts;
    rus_store_t *store = NULL;
    const char *msg = NULL;

    rus_store_options_default(&opts);
    ck_assert_int_eq(opts.busy_timeout_ms, 5000);
    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:/a.db", NULL, NULL,
                                      &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(store->opts.busy_timeout_ms, 5000);
    opts.busy_timeout_ms = 123;
    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:/a.db", NULL, &opts,
                                      &msg),
                     APR_SUCCESS);
    opts.busy_timeout_ms = 456; /* copied, not referenced */
    ck_assert_int_eq(store->opts.busy_timeout_ms, 123);
}
END_TEST

static const struct {
    const char *spec;
    const char *in_msg; /* the message mentions it */
} bad_specs[] = {
    { "mysql:db", "mysql" }, /* unknown scheme, named */
    { "sqlitex:/a.db", "sqlitex" },
    { "/var/lib/users.db", "SCHEME:LOCATION" }, /* no colon */
    { "", "SCHEME:LOCATION" },
    { NULL, "SCHEME:LOCATION" },
    { ":/a.db", "SCHEME:LOCATION" }, /* empty scheme */
    { "sqlite:", "empty" },          /* empty location */
};

/* Every refusal is RUS_STORE_ESPEC with a message saying what is wrong. */
START_TEST(test_spec_messages)
{
    size_t i;

    for (i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
        const char *spec = bad_specs[i].spec;
        rus_store_t *store = NULL;
        const char *msg = NULL;
        apr_status_t rv;

        rv = rus_store_create(&store, pool, spec, dir, NULL, &msg);
        ck_assert_msg(rv == RUS_STORE_ESPEC, "'%s': %d", spec ? spec : "NULL",
                      rv);
        ck_assert_ptr_null(store);
        ck_assert_msg(msg != NULL && strstr(msg, bad_specs[i].in_msg) != NULL,
                      "message for '%s': %s", spec ? spec : "NULL",
                      msg ? msg : "NULL");
    }
}
END_TEST

static const struct {
    apr_status_t rv;
    int transient;
} transients[] = {
    { APR_TIMEUP, 1 }, /* lock held too long */
    { APR_EACCES, 1 }, /* unreadable */
    { APR_ENOENT, 1 }, /* gone */
    { APR_ENOSPC, 1 }, /* disk full */
    { APR_EAGAIN, 1 }, /* */
    { APR_FROM_OS_ERROR(EROFS), 1 },
    { RUS_STORE_EREADONLY, 1 }, /* a write refused, cause unseen */
    { APR_SUCCESS, 0 },         /* */
    { APR_EGENERAL, 0 },        /* */
    { APR_ENOMEM, 0 },          /* */
    { RUS_STORE_ECORRUPT, 0 },  /* needs an administrator */
    { RUS_STORE_ESCHEMA, 0 },   /* */
    { RUS_STORE_ESPEC, 0 },     /* */
};

START_TEST(test_error_is_transient)
{
    size_t i;

    for (i = 0; i < sizeof(transients) / sizeof(transients[0]); i++) {
        ck_assert_msg(!rus_store_error_is_transient(transients[i].rv)
                          == !transients[i].transient,
                      "status %d", transients[i].rv);
    }
}
END_TEST

/* A failure's kind in words, and the status a logger may print: only a
 * true errno, never the store's own codes or APR's. */
START_TEST(test_error_kind_and_os)
{
    ck_assert_str_eq(rus_store_error_kind(APR_EACCES), "permission denied");
    ck_assert_str_eq(rus_store_error_kind(APR_FROM_OS_ERROR(EROFS)),
                     "read-only file system");
    ck_assert_str_eq(rus_store_error_kind(APR_ENOENT), "missing");
    ck_assert_str_eq(rus_store_error_kind(APR_TIMEUP), "locked");
    ck_assert_str_eq(rus_store_error_kind(APR_ENOSPC), "disk full");
    ck_assert_str_eq(rus_store_error_kind(RUS_STORE_ECORRUPT), "corrupt");
    ck_assert_str_eq(rus_store_error_kind(RUS_STORE_ESCHEMA), "schema changed");
    ck_assert_str_eq(rus_store_error_kind(RUS_STORE_ESTALE),
                     "replaced while open");
    ck_assert_str_eq(rus_store_error_kind(APR_EGENERAL), "failed");
    ck_assert_int_eq(rus_store_error_os(APR_EACCES), APR_EACCES);
    ck_assert_int_eq(rus_store_error_os(APR_ENOSPC), APR_ENOSPC);
    ck_assert_int_eq(rus_store_error_os(RUS_STORE_ECORRUPT), 0);
    ck_assert_int_eq(rus_store_error_os(RUS_STORE_EREADONLY), 0);
    ck_assert_int_eq(rus_store_error_os(APR_TIMEUP), 0);
    ck_assert_int_eq(rus_store_error_os(APR_EGENERAL), 0);
    ck_assert_int_eq(rus_store_error_os(APR_SUCCESS), 0);
}
END_TEST

/* ==================================================================== */
/* check (configtest)                                                   */

START_TEST(test_check_missing_dir)
{
    const char *missing = apr_pstrcat(pool, dir, "/missing", NULL);
    const char *msg = NULL;

    ck_assert_int_ne(check_path(apr_pstrcat(pool, missing, "/users.db", NULL),
                                &msg),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, missing) != NULL, "message: %s", msg);
    ck_assert(!exists(missing));
}
END_TEST

START_TEST(test_check_dir_is_a_file)
{
    const char *file = apr_pstrcat(pool, dir, "/plain", NULL);
    const char *msg = NULL;

    write_garbage(file, 10);
    ck_assert_int_ne(check_path(apr_pstrcat(pool, file, "/users.db", NULL),
                                &msg),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, file) != NULL, "message: %s", msg);
}
END_TEST

START_TEST(test_check_path_is_a_directory)
{
    const char *msg = NULL;

    ck_assert_int_eq(mkdir(db, 0750), 0);
    ck_assert_int_ne(check_path(db, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, db) != NULL, "message: %s", msg);
}
END_TEST

/* Garbage is refused by check and prepare alike, and left as it was. */
START_TEST(test_not_a_database)
{
    const char *msg = NULL, *warn = NULL;
    struct stat sb;
    apr_status_t rv;

    write_garbage(db, 4096);
    rv = check_path(db, &msg);
    ck_assert_int_eq(rv, RUS_STORE_ECORRUPT);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, db) != NULL, "message: %s", msg);
    msg = NULL;
    ck_assert_int_eq(rus_store_prepare(store_on(db), pool, NULL, &warn, &msg),
                     RUS_STORE_ECORRUPT);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert_int_eq(sb.st_size, 4096);
}
END_TEST

/* Checking a prepared store leaves the file itself alone. */
START_TEST(test_check_leaves_file)
{
    const char *msg = NULL;
    struct stat before, after;

    prepared(db);
    ck_assert_int_eq(stat(db, &before), 0);
    ck_assert_int_eq(check_path(db, &msg), APR_SUCCESS);
    ck_assert_int_eq(stat(db, &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert_int_eq(before.st_mtime, after.st_mtime);
    ck_assert_int_eq(before.st_mode, after.st_mode);
}
END_TEST

/* ==================================================================== */
/* prepare                                                              */

static const struct {
    const char *name;
    const char *type;
    int notnull;
    int pk;
} user_columns[] = {
    { "id", "INTEGER", 0, 1 },          /* rowid alias */
    { "username", "TEXT", 1, 0 },       /* */
    { "is_active", "INTEGER", 1, 0 },   /* */
    { "date_joined", "INTEGER", 1, 0 }, /* */
    { "last_login", "INTEGER", 0, 0 },  /* NULL: never */
    { "email", "TEXT", 1, 0 },          /* "": none */
    { "first_name", "TEXT", 1, 0 },     /* */
    { "last_name", "TEXT", 1, 0 },      /* */
};

/* What prepare leaves, read with sqlite3 itself: WAL, our version, and the
 * users table column by column. */
START_TEST(test_prepare_layout)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    prepared(db);
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st,
                                        NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st,
                                        NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), SCHEMA_VERSION);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA table_info(users)", -1, &st,
                                        NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        ck_assert_uint_lt(n, sizeof(user_columns) / sizeof(user_columns[0]));
        /* cid, name, type, notnull, dflt_value, pk */
        ck_assert_int_eq(sqlite3_column_int(st, 0), (int)n);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 1),
                         user_columns[n].name);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 2),
                         user_columns[n].type);
        ck_assert_int_eq(sqlite3_column_int(st, 3), user_columns[n].notnull);
        ck_assert_int_eq(sqlite3_column_int(st, 5), user_columns[n].pk);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    ck_assert_uint_eq(n, sizeof(user_columns) / sizeof(user_columns[0]));
    /* user names are unique */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM "
                                          "pragma_index_list('users') l, "
                                          "pragma_index_info(l.name) i "
                                          "WHERE l.\"unique\" = 1 AND "
                                          "i.name = 'username'"),
                     1);
}
END_TEST

/* 0640 whatever the umask of whoever starts httpd. */
START_TEST(test_prepare_mode_ignores_umask)
{
    struct stat sb;
    mode_t old = umask(0);

    prepared(db);
    umask(old);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0640);
}
END_TEST

/* A mode the administrator chose for an existing file is kept. */
START_TEST(test_prepare_keeps_existing_mode)
{
    struct stat sb;

    prepared(db);
    ck_assert_int_eq(chmod(db, 0600), 0);
    prepared(db);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0600);
}
END_TEST

/* Prepare hands the file to the run-time user. Whether that user can
 * create PATH-wal in the directory is the caller's check (the glue asks
 * the kernel as that user, RUS00096): prepare warns of nothing, and
 * rus_store_dir() names the directory to check. Giving files away takes
 * root. */
START_TEST(test_prepare_hands_over)
{
    rus_store_owner_t owner;
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = store_on(db);
    struct stat sb;

    ck_assert_str_eq(rus_store_dir(store, pool), dir);
    owner.uid = (long)geteuid();
    owner.gid = (long)getegid();
    ck_assert_int_eq(rus_store_prepare(store, pool, &owner, &warn, &msg),
                     APR_SUCCESS);
    ck_assert_ptr_null(warn);
    if (geteuid() != 0) {
        return;
    }
    owner.uid = NOBODY;
    owner.gid = NOBODY;
    ck_assert_int_eq(rus_store_prepare(store, pool, &owner, &warn, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert_int_eq(sb.st_uid, NOBODY);
    ck_assert_int_eq(sb.st_gid, NOBODY);
    ck_assert_ptr_null(warn); /* unwritable for NOBODY: not its business */
}
END_TEST

/* ==================================================================== */
/* connect                                                              */

/* The run time never creates a store: a missing file is a transient
 * failure that names the file. */
START_TEST(test_connect_missing_file)
{
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    apr_status_t rv;

    rv = rus_store_connect(&conn, store_on(db), pool, &msg);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_msg(rus_store_error_is_transient(rv), "status %d", rv);
    ck_assert_ptr_null(conn);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, db) != NULL, "message: %s", msg);
    ck_assert(!exists(db));
}
END_TEST

/* The run time uses a store at exactly its schema only. */
START_TEST(test_connect_needs_current_schema)
{
    rus_store_t *store = store_on(db);
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    /* older: never prepared by this build */
    rus_test_sql(db, "CREATE TABLE users (id INTEGER PRIMARY KEY,"
                     " username TEXT NOT NULL UNIQUE,"
                     " is_active INTEGER NOT NULL DEFAULT 1,"
                     " date_joined INTEGER NOT NULL, last_login INTEGER);"
                     "PRAGMA user_version = 1;");
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_null(conn);
    ck_assert_ptr_nonnull(msg);
    /* newer, or nonsense */
    prepared(db);
    rus_test_sql(db, "PRAGMA user_version = 99");
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(msg, "99"));
    rus_test_sql(db, "PRAGMA user_version = -1");
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_null(conn);
    /* not a database at all */
    ck_assert_int_eq(unlink(db), 0);
    write_garbage(db, 4096);
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ECORRUPT);
    ck_assert_ptr_null(conn);
    rus_store_disconnect(NULL); /* a no-op */
}
END_TEST

/* ==================================================================== */
/* users, as the table holds them                                       */

START_TEST(test_user_find_unknown)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;

    memset(&u, 0x5a, sizeof(u));
    ck_assert_int_eq(rus_user_find(conn, "alice", &u, pool), APR_ENOENT);
    ck_assert_int_eq(u.id, 0x5a5a5a5a5a5a5a5aLL); /* untouched */
    ck_assert_str_eq(rus_store_error(conn), "");  /* not an error */
    ck_assert_int_eq(rus_user_find(conn, "", &u, pool), APR_ENOENT);
    rus_store_disconnect(conn);
}
END_TEST

START_TEST(test_user_create_row)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u, v;
    int created = -1;

    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_int_gt(u.id, 0);
    ck_assert_str_eq(u.groups, "");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT id FROM users"), u.id);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "SELECT username FROM users"),
                     "alice");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT is_active FROM users"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT date_joined FROM users"),
                     1000);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000);

    /* again: the same row, not rewritten */
    created = -1;
    ck_assert_int_eq(rus_user_create(conn, "alice", 2000, &v, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(v.id, u.id);
    ck_assert_int_eq(v.last_login, 1000);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000);
    rus_store_disconnect(conn);
}
END_TEST

/* A disabled user stays disabled when "created" again. */
START_TEST(test_user_create_keeps_inactive)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;
    int created = -1;

    ck_assert_int_eq(rus_user_create(conn, "judy", 10, &u, &created, pool),
                     APR_SUCCESS);
    rus_test_sql(db, "UPDATE users SET is_active = 0");
    ck_assert_int_eq(rus_user_create(conn, "judy", 20, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(u.is_active, 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT is_active FROM users"), 0);
    rus_store_disconnect(conn);
}
END_TEST

START_TEST(test_user_touch_edges)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;
    int created;

    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    /* one second short of the interval: nothing written */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 1059, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1000);
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 1060, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1060);
    /* a clock gone backwards does not move it back */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 500, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"),
                     1060);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT date_joined FROM users"),
                     1000);
    /* no such user: nothing to write, not an error */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id + 1, 9999, 60),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
    rus_store_disconnect(conn);
}
END_TEST

/* ==================================================================== */
/* sessions and the clock (second security review, finding 8)           */

#define HASH_A \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B \
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* The touch never moves a past last_seen back, and brings values written
 * while the clock was ahead back to now, expires_at with created_at. */
START_TEST(test_session_touch_clamps_future)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_session_t s, mirror;
    rus_user_t u;
    int created;

    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    /* issued at 1000 by the real clock */
    ck_assert_int_eq(rus_session_insert(conn, HASH_A, u.id, "v", 1000, 5000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1100), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_seen FROM sessions"),
                     1100);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT created_at FROM sessions"),
                     1000);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT expires_at FROM sessions"),
                     5000);
    /* last_seen ahead of now: lowered; created_at is past: kept */
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1050), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_seen FROM sessions"),
                     1050);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT created_at FROM sessions"),
                     1000);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT expires_at FROM sessions"),
                     5000);
    /* the same second again: nothing to write */
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1050), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_seen FROM sessions"),
                     1050);
    rus_test_sql(db, "DELETE FROM sessions");

    /* issued at 4600 by a clock an hour ahead; the clock is back at 1000 */
    ck_assert_int_eq(rus_session_insert(conn, HASH_A, u.id, "v", 4600, 8600),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, HASH_A, &mirror, &u, pool),
                     APR_SUCCESS);
    ck_assert(rus_session_touch_due(&mirror, 0, 1000));
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1000), APR_SUCCESS);
    rus_session_touched(&mirror, 1000);
    ck_assert_int_eq(rus_session_find(conn, HASH_A, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.created_at, 1000);
    ck_assert_int_eq(s.last_seen, 1000);
    ck_assert_int_eq(s.expires_at, 5000); /* the lifetime kept, from now */
    /* the copy a cache keeps is the row */
    ck_assert_int_eq(mirror.created_at, s.created_at);
    ck_assert_int_eq(mirror.last_seen, s.last_seen);
    ck_assert_int_eq(mirror.expires_at, s.expires_at);
    ck_assert(!rus_session_touch_due(&s, 0, 1000));
    /* and from then on, the usual rules */
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1060), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, HASH_A, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.created_at, 1000);
    ck_assert_int_eq(s.last_seen, 1060);
    ck_assert_int_eq(s.expires_at, 5000);

    /* only created_at ahead (a hand-edited row): clamped too */
    rus_test_sql(db, "UPDATE sessions SET created_at = 2000");
    ck_assert_int_eq(rus_session_touch(conn, HASH_A, 1060), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, HASH_A, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.created_at, 1060);
    ck_assert_int_eq(s.last_seen, 1060);
    ck_assert_int_eq(s.expires_at, 5000 - 940);
    rus_store_disconnect(conn);
}
END_TEST

/* The purge deletes what expired RUS_CLOCK_GRACE or more before now, and
 * keeps the rest: a clock an hour ahead does not purge live sessions. */
START_TEST(test_session_purge_grace)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;
    int created, n = -1;

    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    /* 30 min left at 10000 by the real clock */
    ck_assert_int_eq(rus_session_insert(conn, HASH_A, u.id, "v", 9000,
                                        10000 + 1800),
                     APR_SUCCESS);
    /* expired more than the grace before the purge, by any clock */
    ck_assert_int_eq(rus_session_insert(conn, HASH_B, u.id, "v", 1000, 2000),
                     APR_SUCCESS);
    /* the purge at real 10000 + an hour of skew */
    ck_assert_int_eq(rus_session_purge(conn, 10000 + 3600, &n), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT token_hash FROM sessions"),
                     HASH_A);
    /* the edge: expires_at + RUS_CLOCK_GRACE is the first second purged */
    ck_assert_int_eq(rus_session_purge(conn, 11800 + RUS_CLOCK_GRACE - 1, &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(rus_session_purge(conn, 11800 + RUS_CLOCK_GRACE, &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 0);
    rus_store_disconnect(conn);
}
END_TEST

/* The periodic purge takes at most its limit per call, expired ones
 * only, so it never holds the write lock for long. */
START_TEST(test_session_purge_some_batches)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;
    int created, i, n = -1;

    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    for (i = 0; i < 5; i++) {
        char hash[65];

        apr_snprintf(hash, sizeof(hash), "%064d", i);
        ck_assert_int_eq(rus_session_insert(conn, hash, u.id, "v", 1000, 2000),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(rus_session_insert(conn, HASH_A, u.id, "v", 1000, 99999),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_purge_some(conn, 2000 + RUS_CLOCK_GRACE, 2,
                                            &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(rus_session_purge_some(conn, 2000 + RUS_CLOCK_GRACE, 2,
                                            &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(rus_session_purge_some(conn, 2000 + RUS_CLOCK_GRACE, 2,
                                            &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(rus_session_purge_some(conn, 2000 + RUS_CLOCK_GRACE, 2,
                                            &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT token_hash FROM sessions"),
                     HASH_A);
    rus_store_disconnect(conn);
}
END_TEST

/* A store file this process may read but not write: the write fails with
 * the true errno, EACCES (not EROFS), and the text names the file, its
 * mode and owner. Run as nobody when root (root ignores file modes). */
static int readonly_file_steps(const char *path)
{
    apr_pool_t *p = NULL;
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    rus_user_t u;
    int created, step = 1;
    apr_status_t rv;

    apr_pool_create(&p, NULL);
    if (rus_store_create(&store, p, apr_pstrcat(p, "sqlite:", path, NULL), NULL,
                         NULL, &msg)
        != APR_SUCCESS) {
        goto leave;
    }
    step++;
    if (rus_store_connect(&conn, store, p, &msg) != APR_SUCCESS) {
        goto leave;
    }
    step++;
    rv = rus_user_create(conn, "bob", 1, &u, &created, p);
    if (rv != APR_EACCES) {
        goto leave;
    }
    step++;
    if (strstr(rus_store_error(conn), path) == NULL
        || strstr(rus_store_error(conn), "Permission denied") == NULL
        || strstr(rus_store_error(conn), "mode 0444") == NULL) {
        goto leave;
    }
    step = 0;
leave:
    if (step != 0) {
        fprintf(stderr, "readonly_file_steps %d: %s\n", step,
                conn ? rus_store_error(conn) : (msg ? msg : ""));
    }
    rus_store_disconnect(conn);
    apr_pool_destroy(p);
    return step;
}

START_TEST(test_readonly_file_says_permission)
{
    pid_t pid;

    prepared(db);
    ck_assert_int_eq(chmod(db, 0444), 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(readonly_file_steps(db), 0);
        return;
    }
    /* the directory is nobody's, so -wal and -shm can be made */
    ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        become_nobody();
        _exit(readonly_file_steps(db));
    }
    steps_of_nobody(pid);
}
END_TEST

/* Parameter markers, comment openers and quotes of every kind are data. */
START_TEST(test_sql_text_is_data)
{
    static const char *const names[] = {
        "a'; DROP TABLE users; --",
        "?1",
        "?2, 0, 0); --",
        ":name",
        "@p",
        "$x",
        "a\"b'c`d[e]",
        "/* x",
        "\xe4\xb8\xad'\xf0\x9f\x98\x80",
    };
    size_t n = sizeof(names) / sizeof(names[0]), i;
    rus_conn_t *conn = connected(prepared(db));
    rus_user_t u;
    int created;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(rus_user_create(conn, names[i], 1, &u, &created, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(created, 1);
        ck_assert_int_eq(rus_user_find(conn, names[i], &u, pool), APR_SUCCESS);
        ck_assert_str_eq(u.username, names[i]);
    }
    rus_store_disconnect(conn);
    /* the table survived and holds the names byte for byte */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"),
                     (long long)n);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users "
                                          "WHERE is_active = 1 AND "
                                          "date_joined = 1"),
                     (long long)n);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT username FROM users "
                                      "WHERE username LIKE 'a''; DROP%'"),
                     names[0]);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");
}
END_TEST

/* ==================================================================== */
/* a pooled connection when the file changes underneath                 */

/* Unlinked: refused (transient, naming the file), and never created again
 * by the run time. */
START_TEST(test_pool_file_unlinked)
{
    rus_store_t *store = prepared(db);
    rus_store_pool_t *cp = NULL, *cp2 = NULL;
    rus_conn_t *conn = NULL, *none = NULL;
    const char *msg = NULL;
    apr_status_t rv;
    rus_user_t u;
    int created;

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "alice", 1, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_release(cp, conn);

    ck_assert_int_eq(unlink(db), 0);
    msg = NULL;
    rv = rus_store_acquire(&none, cp, pool, &msg);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_msg(rus_store_error_is_transient(rv), "status %d", rv);
    ck_assert_ptr_null(none);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, db) != NULL, "message: %s", msg);
    /* a pool without a connection yet: refused too */
    ck_assert_int_eq(rus_store_pool_create(&cp2, store, pool), APR_SUCCESS);
    rv = rus_store_acquire(&none, cp2, pool, &msg);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_msg(rus_store_error_is_transient(rv), "status %d", rv);
    ck_assert_ptr_null(none);
    ck_assert(!exists(db));
}
END_TEST

/* The steps of test_pool_file_unreadable, as whoever runs them: 0 when all
 * went as expected, else the number of the step that did not (this also
 * runs in a child process, where ck_assert cannot report). */
static int unreadable_steps(const rus_store_t *store, const char *path)
{
    apr_pool_t *p = NULL;
    rus_store_pool_t *cp = NULL, *cp2 = NULL;
    rus_conn_t *conn = NULL, *again = NULL;
    const char *msg = NULL;
    apr_status_t rv;
    rus_user_t u;
    int created, step;

    apr_pool_create(&p, NULL);
    step = 1;
    if (rus_store_pool_create(&cp, store, p) != APR_SUCCESS
        || rus_store_pool_create(&cp2, store, p) != APR_SUCCESS) {
        goto leave;
    }
    step = 2;
    if (rus_store_acquire(&conn, cp, p, &msg) != APR_SUCCESS) {
        goto leave;
    }
    rv = rus_user_create(conn, "alice", 1, &u, &created, p);
    rus_store_release(cp, conn);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    step = 3;
    if (chmod(path, 0) != 0) {
        goto leave;
    }
    /* the pooled connection: refused, transient, naming the file */
    step = 4;
    msg = NULL;
    rv = rus_store_acquire(&again, cp, p, &msg);
    if (rv == APR_SUCCESS || !rus_store_error_is_transient(rv) || again != NULL
        || msg == NULL || strstr(msg, path) == NULL) {
        goto leave;
    }
    /* a new connection: the same */
    step = 5;
    msg = NULL;
    rv = rus_store_acquire(&again, cp2, p, &msg);
    if (rv == APR_SUCCESS || !rus_store_error_is_transient(rv) || again != NULL
        || msg == NULL) {
        goto leave;
    }
    /* readable again: the kept connection serves again */
    step = 6;
    if (chmod(path, 0640) != 0) {
        goto leave;
    }
    step = 7;
    if (rus_store_acquire(&again, cp, p, &msg) != APR_SUCCESS) {
        goto leave;
    }
    rv = rus_user_find(again, "alice", &u, p);
    rus_store_release(cp, again);
    if (again != conn || rv != APR_SUCCESS) {
        goto leave;
    }
    step = 8;
    if (rus_store_acquire(&again, cp2, p, &msg) != APR_SUCCESS) {
        goto leave;
    }
    rv = rus_user_find(again, "alice", &u, p);
    rus_store_release(cp2, again);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    step = 0;
leave:
    apr_pool_destroy(p);
    return step;
}

/* chmod 000: refused with a transient error while it lasts, served again
 * once the mode is back. Root ignores file modes, so as root the steps run
 * in a child process that became nobody. */
START_TEST(test_pool_file_unreadable)
{
    rus_store_t *store = prepared(db);
    pid_t pid;

    if (geteuid() != 0) {
        int step = unreadable_steps(store, db);

        ck_assert_msg(step == 0, "step %d failed", step);
        return;
    }
    ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
    ck_assert_int_eq(chown(db, NOBODY, NOBODY), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        become_nobody();
        _exit(unreadable_steps(store, db));
    }
    steps_of_nobody(pid);
}
END_TEST

/* Another prepared database renamed over the file while the pool holds an
 * idle connection to the old one, whose last write is still in PATH-wal
 * (the normal state: SQLite checkpoints every 1000 pages). Reconnecting
 * would replay the old WAL onto the new file (a reviewer's test showed the
 * new file's rows lost), so the pool fails closed, not transiently, and
 * stays closed; the new file is left intact for a restarted httpd. */
START_TEST(test_pool_reopens_replaced_file)
{
    rus_store_t *store = prepared(db);
    const char *other = apr_pstrcat(pool, dir, "/other.db", NULL);
    apr_pool_t *cpool = NULL;
    rus_store_pool_t *cp = NULL;
    rus_conn_t *conn = NULL, *fresh = NULL;
    const char *msg = NULL;
    apr_status_t rv;
    rus_user_t u;
    int created;

    /* the pool's own pool: destroying it closes the pooled connections */
    apr_pool_create(&cpool, pool);
    ck_assert_int_eq(rus_store_pool_create(&cp, store, cpool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "alice", 1, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_release(cp, conn);

    prepared(other);
    rus_test_sql(other, "INSERT INTO users (id, username, date_joined) "
                        "VALUES (42, 'bob', 1)");
    ck_assert_int_eq(rename(other, db), 0);

    rv = rus_store_acquire(&fresh, cp, pool, &msg);
    ck_assert_int_eq(rv, RUS_STORE_ESTALE);
    ck_assert(!rus_store_error_is_transient(rv));
    ck_assert_ptr_nonnull(strstr(msg, "restart httpd"));
    /* and it stays closed */
    ck_assert_int_eq(rus_store_acquire(&fresh, cp, pool, &msg),
                     RUS_STORE_ESTALE);
    apr_pool_destroy(cpool);
    /* the documented recovery: with httpd stopped, move the stale PATH-wal
     * and PATH-shm away; the new file is intact */
    unlink(apr_pstrcat(pool, db, "-wal", NULL));
    unlink(apr_pstrcat(pool, db, "-shm", NULL));
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT group_concat(username, ',') "
                                      "FROM users"),
                     "bob");
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");
}
END_TEST

/* The same with every connection closed before the switch (a restore with
 * httpd stopped, as the README asks): a new pool uses the new file. */
START_TEST(test_pool_after_offline_replace)
{
    rus_store_t *store = prepared(db);
    const char *other = apr_pstrcat(pool, dir, "/other.db", NULL);
    apr_pool_t *cpool = NULL;
    rus_store_pool_t *cp = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    rus_user_t u;
    int created;

    apr_pool_create(&cpool, pool);
    ck_assert_int_eq(rus_store_pool_create(&cp, store, cpool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "alice", 1, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_release(cp, conn);
    apr_pool_destroy(cpool); /* closes the pooled connection */
    ck_assert(!exists(apr_pstrcat(pool, db, "-wal", NULL)));

    prepared(other);
    rus_test_sql(other, "INSERT INTO users (id, username, date_joined) "
                        "VALUES (42, 'bob', 1)");
    ck_assert_int_eq(rename(other, db), 0);

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, 42);
    ck_assert_int_eq(rus_user_find(conn, "alice", &u, pool), APR_ENOENT);
    rus_store_release(cp, conn);
}
END_TEST

/* ==================================================================== */
/* symbolic links (security review finding 1)                          */

/* The store, PATH-wal or PATH-shm as a link to a file that does not exist
 * (think /etc/ld.so.preload): check and prepare refuse it naming the
 * link, with APR_FROM_OS_ERROR(ELOOP), and nothing creates the target. */
START_TEST(test_symlink_refused)
{
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    const char *link = apr_pstrcat(pool, db, suffixes[_i], NULL);
    const char *target = apr_pstrcat(pool, dir, "/target", NULL);
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = store_on(db);
    rus_store_owner_t owner;
    struct stat sb;

    if (_i > 0) {
        prepared(db);
    }
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_eq(rus_store_check(store, pool, &msg),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_msg(strstr(msg, link) != NULL && strstr(msg, "symbolic link"),
                  "message: %s", msg);
    owner.uid = (long)geteuid();
    owner.gid = (long)getegid();
    msg = NULL;
    ck_assert_int_eq(rus_store_prepare(store, pool, &owner, &warn, &msg),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_msg(strstr(msg, link) != NULL, "message: %s", msg);
    msg = NULL;
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_int_ne(lstat(target, &sb), 0);
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
}
END_TEST

/* A hard link at the store path (another file of root's, where the kernel
 * lets the child user link to it) is refused before anything is handed
 * over: the file keeps its owner. */
START_TEST(test_hard_link_refused)
{
    const char *other = apr_pstrcat(pool, dir, "/someone-elses.db", NULL);
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = store_on(db);
    rus_store_owner_t owner;

    prepared(db);
    ck_assert_int_eq(link(db, other), 0);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), APR_EINVAL);
    ck_assert_msg(strstr(msg, "hard links") != NULL, "message: %s", msg);
    owner.uid = (long)geteuid();
    owner.gid = (long)getegid();
    msg = NULL;
    ck_assert_int_ne(rus_store_prepare(store, pool, &owner, &warn, &msg),
                     APR_SUCCESS);
    ck_assert_msg(msg != NULL && strstr(msg, "hard links") != NULL,
                  "message: %s", msg ? msg : "(none)");
}
END_TEST

/* A directory on the store's path that is a link is refused too. */
START_TEST(test_symlinked_dir_refused)
{
    const char *real = apr_pstrcat(pool, dir, "/real", NULL);
    const char *linked = apr_pstrcat(pool, dir, "/linked", NULL);
    const char *path = apr_pstrcat(pool, linked, "/users.db", NULL);
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = store_on(path);
    struct stat sb;

    ck_assert_int_eq(mkdir(real, 0700), 0);
    ck_assert_int_eq(symlink(real, linked), 0);
    ck_assert_int_eq(rus_store_check(store, pool, &msg),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_msg(strstr(msg, linked) != NULL, "message: %s", msg);
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_FROM_OS_ERROR(ELOOP));
    ck_assert_int_ne(stat(apr_pstrcat(pool, real, "/users.db", NULL), &sb), 0);
}
END_TEST

/* A FIFO at PATH-wal is no regular file: refused without blocking. */
START_TEST(test_fifo_refused)
{
    const char *wal = apr_pstrcat(pool, db, "-wal", NULL);
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = store_on(db);

    prepared(db);
    ck_assert_int_eq(mkfifo(wal, 0600), 0);
    ck_assert_int_eq(rus_store_check(store, pool, &msg), APR_EINVAL);
    ck_assert_msg(strstr(msg, wal) != NULL, "message: %s", msg);
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_EINVAL);
}
END_TEST

/* A connection refuses a link at the store path, even to a good store. */
START_TEST(test_connect_refuses_symlink)
{
    const char *real = apr_pstrcat(pool, dir, "/real.db", NULL);
    rus_store_t *store = store_on(db);
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    prepared(real);
    ck_assert_int_eq(symlink(real, db), 0);
    ck_assert_int_ne(rus_store_connect(&conn, store, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(conn);
    ck_assert_msg(strstr(msg, "symbolic link") != NULL, "message: %s", msg);
}
END_TEST

/* Who else may write the directory: a world-writable one, one writable by
 * another group, one owned and writable by another user. */
START_TEST(test_dir_warnings)
{
    rus_store_t *store = store_on(db);
    const char *others = NULL, *world = NULL;
    rus_store_owner_t owner;

    owner.uid = (long)geteuid();
    owner.gid = (long)getegid();
    ck_assert_int_eq(rus_store_dir_warnings(store, &owner, pool, &others,
                                            &world),
                     APR_SUCCESS);
    ck_assert_ptr_null(others); /* our own 0700 directory */
    ck_assert_ptr_null(world);
    ck_assert_int_eq(chmod(dir, 01777), 0);
    ck_assert_int_eq(rus_store_dir_warnings(store, &owner, pool, &others,
                                            &world),
                     APR_SUCCESS);
    ck_assert_ptr_null(others);
    ck_assert_ptr_nonnull(world);
    ck_assert_msg(strstr(world, dir) != NULL, "warning: %s", world);
    if (geteuid() != 0) {
        return;
    }
    /* owner nobody; the directory root's, group-writable by group 50 */
    owner.uid = NOBODY;
    owner.gid = NOBODY;
    ck_assert_int_eq(chown(dir, 0, 50), 0);
    ck_assert_int_eq(chmod(dir, 0770), 0);
    ck_assert_int_eq(rus_store_dir_warnings(store, &owner, pool, &others,
                                            &world),
                     APR_SUCCESS);
    ck_assert_ptr_null(world);
    ck_assert_ptr_nonnull(others);
    ck_assert_msg(strstr(others, "group 50") != NULL, "warning: %s", others);
    /* the owner's group: fine; another user owning it: not */
    ck_assert_int_eq(chown(dir, 1, NOBODY), 0);
    ck_assert_int_eq(rus_store_dir_warnings(store, &owner, pool, &others,
                                            &world),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(others);
    ck_assert_msg(strstr(others, "uid 1 ") != NULL, "warning: %s", others);
    ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
    ck_assert_int_eq(rus_store_dir_warnings(store, &owner, pool, &others,
                                            &world),
                     APR_SUCCESS);
    ck_assert_ptr_null(others);
}
END_TEST

/* A prepared store on db whose connections leave the WAL to
 * rus_store_checkpoint(), as httpd's do. */
static rus_store_t *prepared_manual(void)
{
    rus_store_options_t opts;
    rus_store_t *store = NULL;
    const char *msg = NULL, *warn = NULL;

    rus_store_options_default(&opts);
    ck_assert_int_eq(opts.auto_checkpoint, 1);
    opts.auto_checkpoint = 0;
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_SUCCESS);
    return store;
}

static apr_off_t wal_bytes(void)
{
    struct stat st;

    if (stat(apr_pstrcat(pool, db, "-wal", NULL), &st) != 0) {
        return -1;
    }
    return (apr_off_t)st.st_size;
}

/* Users u<from> to u<to - 1>, one commit each. */
static void add_users(rus_conn_t *conn, int from, int to)
{
    rus_user_t u;
    int i, created;

    for (i = from; i < to; i++) {
        ck_assert_int_eq(rus_user_create(conn, apr_psprintf(pool, "u%d", i),
                                         1000, &u, &created, pool),
                         APR_SUCCESS);
    }
}

START_TEST(test_checkpoint_empties_wal)
{
    rus_store_t *store = prepared_manual();
    rus_conn_t *writer = connected(store), *cp = connected(store);
    rus_store_checkpoint_t res;

    add_users(writer, 0, 200);
    ck_assert_int_gt(wal_bytes(), 0);
    ck_assert_int_eq(rus_store_checkpoint(cp, 20, &res), APR_SUCCESS);
    ck_assert_int_eq(res.emptied, 1);
    ck_assert_int_gt(res.log_before, 0);
    ck_assert_int_eq(res.copied, res.log_before);
    ck_assert_int_eq(wal_bytes(), 0); /* TRUNCATE: the file is cut */
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 200);
    /* nothing to do is a success too */
    ck_assert_int_eq(rus_store_checkpoint(cp, 20, &res), APR_SUCCESS);
    ck_assert_int_eq(res.log_before, 0);
    rus_store_disconnect(writer);
    rus_store_disconnect(cp);
}
END_TEST

/* A reader that keeps an old snapshot open cannot make the checkpoint
 * wait longer than it was told: APR_EBUSY, promptly, and the next attempt
 * after the reader is gone empties the log. */
START_TEST(test_checkpoint_wait_is_bounded)
{
    rus_store_t *store = prepared_manual();
    rus_conn_t *writer = connected(store), *cp = connected(store);
    rus_store_checkpoint_t res;
    sqlite3 *reader = NULL;
    sqlite3_stmt *st = NULL;
    apr_time_t t0;

    add_users(writer, 0, 50);
    ck_assert_int_eq(sqlite3_open(db, &reader), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(reader, "SELECT COUNT(*) FROM users",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    add_users(writer, 50, 100); /* past the reader's snapshot */

    t0 = apr_time_now();
    ck_assert_int_eq(rus_store_checkpoint(cp, 30, &res), APR_EBUSY);
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(1000));
    ck_assert_int_eq(res.emptied, 0);
    ck_assert_int_gt(res.log_before, 0);
    ck_assert_str_ne(rus_store_error(cp), "");
    /* writers were let go again: this commits at once */
    add_users(writer, 100, 101);

    ck_assert_int_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(rus_store_checkpoint(cp, 30, &res), APR_SUCCESS);
    ck_assert_int_eq(res.emptied, 1);
    ck_assert_int_eq(wal_bytes(), 0);
    sqlite3_close(reader);
    rus_store_disconnect(writer);
    rus_store_disconnect(cp);
}
END_TEST

/* ==================================================================== */
/* backup                                                               */

/* db backup: a copy that opens as a store with the rows, mode 0600,
 * taken while another connection holds a write transaction open; an
 * existing file is kept unless told, and never one with a log beside it
 * or a symbolic link. */
START_TEST(test_backup_copy)
{
    rus_store_t *store = prepared(db);
    rus_conn_t *conn = connected(store), *copy;
    const char *out = apr_pstrcat(pool, dir, "/copy.db", NULL);
    const char *link_path = apr_pstrcat(pool, dir, "/link.db", NULL);
    sqlite3 *writer = NULL;
    rus_user_t u;
    struct stat st;

    ck_assert_int_eq(rus_user_add(conn, "ann", 1, 1, &u, pool), APR_SUCCESS);
    /* a writer in the middle of a transaction: not in the copy */
    ck_assert_int_eq(sqlite3_open(db, &writer), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(writer,
                                  "BEGIN IMMEDIATE; INSERT INTO users "
                                  "(username, date_joined) VALUES ('bob', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_msg(rus_store_backup(conn, out, 0, pool) == APR_SUCCESS,
                  "backup: %s", rus_store_error(conn));
    sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(writer);
    ck_assert_int_eq(lstat(out, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(rus_test_sql_int(out, "SELECT COUNT(*) FROM users"), 1);
    copy = connected(store_on(out));
    ck_assert_int_eq(rus_user_find(copy, "ann", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(copy, "bob", &u, pool), APR_ENOENT);
    rus_store_disconnect(copy);

    /* there already: kept, unless overwrite; the old copy is replaced */
    ck_assert_int_eq(rus_store_backup(conn, out, 0, pool), APR_EEXIST);
    ck_assert_str_eq(rus_store_error(conn),
                     apr_pstrcat(pool, out, " exists", NULL));
    ck_assert_int_eq(unlink(apr_pstrcat(pool, out, "-wal", NULL)) == 0
                         || errno == ENOENT,
                     1);
    ck_assert_int_eq(unlink(apr_pstrcat(pool, out, "-shm", NULL)) == 0
                         || errno == ENOENT,
                     1);
    ck_assert_msg(rus_store_backup(conn, out, 1, pool) == APR_SUCCESS,
                  "backup --force: %s", rus_store_error(conn));
    ck_assert_int_eq(rus_test_sql_int(out, "SELECT COUNT(*) FROM users"), 2);
    /* a store with its log beside it is in use: not replaced */
    ck_assert_int_eq(rus_store_backup(conn, db, 1, pool), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "-wal exists"));
    /* never the live store's -wal or -shm, which would corrupt it, nor any
     * name SQLite keeps for a sidecar */
    ck_assert_int_eq(rus_store_backup(conn, apr_pstrcat(pool, db, "-wal", NULL),
                                      1, pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_store_backup(conn, apr_pstrcat(pool, db, "-shm", NULL),
                                      1, pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_store_backup(conn,
                                      apr_pstrcat(pool, dir, "/x.db-journal",
                                                  NULL),
                                      0, pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");
    /* a stale log beside a new name would be replayed into the copy: the
     * copy is not made, whether or not the name exists */
    {
        const char *fresh = apr_pstrcat(pool, dir, "/fresh.db", NULL);
        const char *stale = apr_pstrcat(pool, fresh, "-wal", NULL);
        FILE *f = fopen(stale, "w");

        ck_assert_ptr_nonnull(f);
        fclose(f);
        ck_assert_int_eq(rus_store_backup(conn, fresh, 0, pool), APR_EEXIST);
        ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "-wal exists"));
        ck_assert_int_eq(lstat(fresh, &st), -1);
        unlink(stale);
    }
    /* a link is not followed, nor replaced */
    ck_assert_int_eq(symlink(out, link_path), 0);
    ck_assert_int_eq(rus_store_backup(conn, link_path, 1, pool), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "not a regular file"));
    ck_assert_int_eq(lstat(link_path, &st), 0);
    ck_assert_int_eq(S_ISLNK(st.st_mode), 1);
    /* no directory: an error naming the file, nothing left behind */
    ck_assert_int_eq(rus_store_backup(conn,
                                      apr_pstrcat(pool, dir, "/no/x.db", NULL),
                                      0, pool),
                     APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "/no/x.db"));
    rus_store_disconnect(conn);
}
END_TEST

/* ==================================================================== */
/* schema 5 (#19): migrated in place, its triggers, its checks          */

/* The schema of version 3 (users, sessions, groups and memberships), as
 * the migrations of those releases wrote it. */
#define V3_DDL                                                             \
    "CREATE TABLE users (id INTEGER PRIMARY KEY,"                          \
    " username TEXT NOT NULL UNIQUE,"                                      \
    " is_active INTEGER NOT NULL DEFAULT 1,"                               \
    " date_joined INTEGER NOT NULL, last_login INTEGER);"                  \
    "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY,"                  \
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"   \
    " vhost TEXT NOT NULL, created_at INTEGER NOT NULL,"                   \
    " last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL)"            \
    " WITHOUT ROWID;"                                                      \
    "CREATE INDEX sessions_user ON sessions (user_id);"                    \
    "CREATE INDEX sessions_expires ON sessions (expires_at);"              \
    "CREATE TABLE groups (id INTEGER PRIMARY KEY,"                         \
    " name TEXT NOT NULL UNIQUE);"                                         \
    "CREATE TABLE user_groups ("                                           \
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"   \
    " group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE," \
    " PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;"                     \
    "CREATE INDEX user_groups_group ON user_groups (group_id);"

/* What version 4 added: the change log and its triggers, as released. */
#define NOW4 "CAST(strftime('%s', 'now') AS INTEGER)"
#define V4_DDL                                                               \
    "CREATE TABLE changes (id INTEGER PRIMARY KEY AUTOINCREMENT,"            \
    " user_id INTEGER, session_hash TEXT, at INTEGER NOT NULL);"             \
    "CREATE INDEX changes_at ON changes (at);"                               \
    "CREATE TRIGGER changes_user_update AFTER UPDATE OF is_active, username" \
    " ON users WHEN OLD.is_active IS NOT NEW.is_active"                      \
    " OR OLD.username IS NOT NEW.username BEGIN"                             \
    " INSERT INTO changes (user_id, at) VALUES (OLD.id, " NOW4 ");"          \
    " END;"                                                                  \
    "CREATE TRIGGER changes_user_delete AFTER DELETE ON users BEGIN"         \
    " INSERT INTO changes (user_id, at) VALUES (OLD.id, " NOW4 ");"          \
    " END;"                                                                  \
    "CREATE TRIGGER changes_session_delete AFTER DELETE ON sessions"         \
    " WHEN OLD.expires_at > " NOW4 " BEGIN"                                  \
    " INSERT INTO changes (user_id, session_hash, at)"                       \
    " VALUES (OLD.user_id, OLD.token_hash, " NOW4 ");"                       \
    " END;"                                                                  \
    "CREATE TRIGGER changes_session_update AFTER UPDATE OF token_hash,"      \
    " user_id, vhost, expires_at ON sessions"                                \
    " WHEN OLD.token_hash IS NOT NEW.token_hash"                             \
    " OR OLD.user_id IS NOT NEW.user_id OR OLD.vhost IS NOT NEW.vhost"       \
    " OR (NEW.expires_at < OLD.expires_at"                                   \
    " AND NEW.created_at IS OLD.created_at) BEGIN"                           \
    " INSERT INTO changes (user_id, session_hash, at)"                       \
    " VALUES (OLD.user_id, OLD.token_hash, " NOW4 ");"                       \
    " END;"                                                                  \
    "CREATE TRIGGER changes_member_insert AFTER INSERT ON user_groups BEGIN" \
    " INSERT INTO changes (user_id, at) VALUES (NEW.user_id, " NOW4 ");"     \
    " END;"                                                                  \
    "CREATE TRIGGER changes_member_delete AFTER DELETE ON user_groups BEGIN" \
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " NOW4 ");"     \
    " END;"                                                                  \
    "CREATE TRIGGER changes_member_update AFTER UPDATE ON user_groups BEGIN" \
    " INSERT INTO changes (user_id, at) VALUES (OLD.user_id, " NOW4 "),"     \
    " (NEW.user_id, " NOW4 ");"                                              \
    " END;"                                                                  \
    "CREATE TRIGGER changes_group_rename AFTER UPDATE OF name ON groups"     \
    " WHEN OLD.name IS NOT NEW.name BEGIN"                                   \
    " INSERT INTO changes (user_id, at) SELECT user_id, " NOW4               \
    " FROM user_groups WHERE group_id = NEW.id;"                             \
    " END;"

/* Rows of every kind, ids with gaps: ann (7) in staff and ops, bob (9) in
 * ops, a session of ann's. */
#define OLD_ROWS                                                             \
    "INSERT INTO users VALUES (7, 'ann', 1, 5, 50), (9, 'bob', 0, 6, NULL);" \
    "INSERT INTO groups VALUES (3, 'staff'), (4, 'ops');"                    \
    "INSERT INTO user_groups VALUES (7, 3), (7, 4), (9, 4);"                 \
    "INSERT INTO sessions VALUES ('h1', 7, 'a:80', 10, 20, 4000000000);"

/* The rows of changes after id @a since, as "user_id,..." ("" for none). */
static const char *changes_in_file(apr_int64_t since)
{
    return rus_test_sql_str(pool, db,
                            apr_psprintf(pool,
                                         "SELECT coalesce(group_concat("
                                         "user_id, ','), '') FROM (SELECT "
                                         "user_id FROM changes WHERE id > "
                                         "%" APR_INT64_T_FMT " ORDER BY id)",
                                         since));
}

static apr_int64_t last_change(void)
{
    return rus_test_sql_int(db, "SELECT coalesce(MAX(id), 0) FROM changes");
}

/* An old store is migrated in place (loop: from version 3, from version
 * 4): its rows kept, its memberships an administrator's, the users'
 * profile columns empty; the triggers log what the new schema adds and
 * what the old one did; writes by the store work at once. */
START_TEST(test_migrate_to_profiles)
{
    rus_conn_t *conn;
    rus_session_t s;
    rus_user_t u;
    apr_int64_t mark;
    long long logged = 0;
    int created = 0;

    if (_i == 0) {
        rus_test_sql(db, V3_DDL OLD_ROWS "PRAGMA user_version = 3;");
    }
    else {
        rus_test_sql(db, V3_DDL V4_DDL OLD_ROWS "PRAGMA user_version = 4;");
        /* what was logged before the migration stays */
        logged = rus_test_sql_int(db, "SELECT COUNT(*) FROM changes");
        ck_assert_int_eq(logged, 3);
    }
    conn = connected(prepared(db));
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"),
                     SCHEMA_VERSION);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM changes"),
                     logged);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT group_concat(user_id || ':' ||"
                                      " group_id || ':' || origin, ',') FROM"
                                      " (SELECT * FROM user_groups ORDER BY"
                                      " user_id, group_id)"),
                     "7:3:admin,7:4:admin,9:4:admin");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM"
                                          " pragma_foreign_key_check"),
                     0);
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");

    /* the rows, through the store */
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, 7);
    ck_assert_int_eq(u.last_login, 50);
    ck_assert_str_eq(u.groups, "ops,staff");
    ck_assert_str_eq(u.frontend_groups, "");
    ck_assert_str_eq(u.email, "");
    ck_assert_str_eq(u.first_name, "");
    ck_assert_str_eq(u.last_name, "");
    ck_assert_ptr_null(u.attrs);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, 7);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT '[' || ip || '][' || user_agent"
                                      " || ']' FROM sessions"),
                     "[][]");
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.is_active, 0);
    ck_assert_int_eq(u.last_login, 0);

    /* the triggers: by hand (the sqlite3 shell), each logs its user */
    mark = last_change();
    rus_test_sql(db, "UPDATE users SET email = 'a@x' WHERE id = 7");
    ck_assert_str_eq(changes_in_file(mark), "7");
    mark = last_change();
    rus_test_sql(db, "UPDATE users SET first_name = 'Ann', last_name = 'S'"
                     " WHERE id = 7");
    ck_assert_str_eq(changes_in_file(mark), "7");
    mark = last_change();
    rus_test_sql(db, "UPDATE users SET email = 'a@x' WHERE id = 7;"
                     "UPDATE users SET last_login = 99 WHERE id = 7");
    ck_assert_str_eq(changes_in_file(mark), ""); /* same value; bookkeeping */
    rus_test_sql(db, "INSERT INTO user_attributes VALUES (9, 'title', 'x')");
    ck_assert_str_eq(changes_in_file(mark), "9");
    mark = last_change();
    rus_test_sql(db, "UPDATE user_attributes SET value = 'x'"
                     " WHERE user_id = 9");
    ck_assert_str_eq(changes_in_file(mark), "");
    rus_test_sql(db, "UPDATE user_attributes SET value = 'y'"
                     " WHERE user_id = 9");
    ck_assert_str_eq(changes_in_file(mark), "9");
    mark = last_change();
    rus_test_sql(db, "UPDATE user_attributes SET user_id = 7"
                     " WHERE user_id = 9");
    ck_assert_str_eq(changes_in_file(mark), "9,7");
    mark = last_change();
    rus_test_sql(db, "DELETE FROM user_attributes WHERE user_id = 7");
    ck_assert_str_eq(changes_in_file(mark), "7");
    mark = last_change();
    rus_test_sql(db, "UPDATE user_groups SET origin = 'frontend'"
                     " WHERE user_id = 9");
    ck_assert_str_ne(changes_in_file(mark), "");
    mark = last_change();
    rus_test_sql(db, "UPDATE users SET is_active = 1 WHERE id = 9");
    ck_assert_str_eq(changes_in_file(mark), "9");
    /* an origin that is neither is refused */
    {
        sqlite3 *h = NULL;

        ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(h, "UPDATE user_groups SET origin = 'x'",
                                      NULL, NULL, NULL),
                         SQLITE_CONSTRAINT);
        sqlite3_close(h);
    }

    /* and the store writes profiles at once */
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.frontend_groups, "ops");
    ck_assert_int_eq(rus_user_create(conn, "cy", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_gt(u.id, 9);
    rus_store_disconnect(conn);
}
END_TEST

/* A version 5 store (this build's without the counters table, which is
 * all that migration 5 -> 6 adds, nor the sessions' columns of 6 -> 7) is
 * migrated in place: its rows and its
 * change log kept, the counters empty (info says 0), and an
 * administrator's revocation counted at once. */
START_TEST(test_migrate_to_counters)
{
    rus_store_options_t opts;
    rus_store_info_t info;
    rus_store_t *store;
    rus_conn_t *conn;
    rus_session_t s;
    rus_user_t u;
    const char *msg = NULL, *warn = NULL;
    int created = 0;

    conn = connected(prepared(db));
    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", u.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(conn, "h2"), APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_sql(db, "DROP TABLE counters;"
                     "ALTER TABLE sessions DROP COLUMN ip;"
                     "ALTER TABLE sessions DROP COLUMN user_agent;"
                     "PRAGMA user_version = 5;");

    rus_store_options_default(&opts);
    opts.admin = 1;
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    /* a version 5 file is not used before it is migrated */
    ck_assert_int_eq(rus_store_connect(&conn, store, pool, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_msg(rus_store_prepare(store, pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    conn = connected(store);
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"),
                     SCHEMA_VERSION);
    ck_assert_int_eq(rus_store_info(conn, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.schema_version, SCHEMA_VERSION);
    ck_assert_int_eq(info.users, 1);
    ck_assert_int_eq(info.sessions, 1);
    ck_assert_int_eq(info.changes, 1); /* h2's revocation, logged before */
    ck_assert_int_eq(info.revoked_admin, 0);
    ck_assert_int_eq(info.revoked_deactivation, 0);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_int_eq(rus_user_set_active(conn, u.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_store_info(conn, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.revoked_deactivation, 1);
    ck_assert_int_eq(info.changes, 3); /* h1 and ann's state */
    /* the counters are bookkeeping: not logged */
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT group_concat(name || '=' ||"
                                      " value) FROM counters"),
                     "revoked_deactivation=1");
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");
    rus_store_disconnect(conn);
}
END_TEST

/* A version 6 store (this build's without the sessions' ip and
 * user_agent, all that migration 6 -> 7 adds) is migrated in place: its
 * sessions kept, with '' for both, still authenticating; the migration
 * logs nothing, the change log's triggers are as they were (a session
 * deleted is logged, the new columns written by hand are not: no cached
 * answer depends on them), and a login stores both at once. */
START_TEST(test_migrate_to_session_client)
{
    apr_array_header_t *rows = NULL;
    const rus_session_row_t *r;
    rus_conn_t *conn;
    rus_session_t s;
    rus_user_t u;
    apr_int64_t mark;
    int created = 0;

    conn = connected(prepared(db));
    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", u.id, "v", 20,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_sql(db, "ALTER TABLE sessions DROP COLUMN ip;"
                     "ALTER TABLE sessions DROP COLUMN user_agent;"
                     "PRAGMA user_version = 6;");
    mark = last_change();

    conn = connected(prepared(db));
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"),
                     SCHEMA_VERSION);
    ck_assert_int_eq(last_change(), mark);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT group_concat(name || ' ' || type"
                                      " || ' ' || \"notnull\" || ' ' ||"
                                      " dflt_value, ',') FROM"
                                      " pragma_table_info('sessions')"
                                      " WHERE cid >= 6"),
                     "ip TEXT 1 '',user_agent TEXT 1 ''");
    ck_assert_int_eq(rus_session_list(conn, u.id, &rows, pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 2);
    r = &APR_ARRAY_IDX(rows, 1, rus_session_row_t);
    ck_assert_str_eq(r->token_hash, "h1");
    ck_assert_str_eq(r->session.ip, "");
    ck_assert_str_eq(r->session.user_agent, "");
    ck_assert_int_eq(r->session.created_at, 10);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.username, "ann");

    /* the triggers */
    rus_test_sql(db, "UPDATE sessions SET ip = '192.0.2.1',"
                     " user_agent = 'x' WHERE token_hash = 'h1'");
    ck_assert_str_eq(changes_in_file(mark), "");
    rus_test_sql(db, "DELETE FROM sessions WHERE token_hash = 'h2'");
    ck_assert_str_eq(changes_in_file(mark),
                     apr_psprintf(pool, "%" APR_INT64_T_FMT, u.id));

    /* a login after it */
    ck_assert_int_eq(rus_session_insert_with(conn, "h3", u.id, "v",
                                             "2001:db8::2", "curl/8.5.0", 30,
                                             4000000000LL),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT group_concat(token_hash || '='"
                                      " || ip || '/' || user_agent, ',') FROM"
                                      " (SELECT * FROM sessions"
                                      " ORDER BY token_hash)"),
                     "h1=192.0.2.1/x,h3=2001:db8::2/curl/8.5.0");
    ck_assert_str_eq(rus_test_sql_str(pool, db, "PRAGMA integrity_check"),
                     "ok");
    rus_store_disconnect(conn);
}
END_TEST

/* An administrator's revocation and its count are one transaction: when
 * the count cannot be written (a trigger refusing it here), no session
 * is revoked, and the connection is usable again. */
START_TEST(test_admin_count_is_atomic)
{
    rus_store_options_t opts;
    rus_user_change_t ch;
    rus_store_t *store;
    rus_conn_t *conn;
    const char *msg = NULL;
    rus_user_t u;
    int created = 0, count = -1;

    prepared(db);
    rus_store_options_default(&opts);
    opts.admin = 1;
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    conn = connected(store);
    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "v", 10,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_test_sql(db, "CREATE TRIGGER refuse BEFORE INSERT ON counters"
                     " BEGIN SELECT RAISE(ABORT, 'refused here'); END");
    ck_assert_int_ne(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "refused here"));
    ck_assert_int_ne(rus_session_revoke_user(conn, u.id), APR_SUCCESS);
    ck_assert_int_ne(rus_session_revoke_all(conn, &count), APR_SUCCESS);
    ck_assert_int_eq(count, -1);
    ck_assert_int_ne(rus_user_set_active(conn, u.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_ne(rus_user_delete(conn, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT is_active FROM users"), 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM changes"), 0);
    /* nothing to count: nothing refused */
    ck_assert_int_eq(rus_session_revoke(conn, "nosuch"), APR_SUCCESS);
    rus_test_sql(db, "DROP TRIGGER refuse");
    ck_assert_int_eq(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT value FROM counters"), 1);
    rus_store_disconnect(conn);
}
END_TEST

/* A profile's write is one transaction: a failure half-way (here a
 * trigger refusing the membership, after the columns and the attributes
 * were written) leaves nothing of it, and no user either when it came
 * with the creation. */
START_TEST(test_profile_write_is_atomic)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_profile_t pr;
    rus_attr_t attr = { "title", "CTO" };
    apr_array_header_t *attrs = apr_array_make(pool, 1, sizeof(rus_attr_t));
    apr_array_header_t *groups = apr_array_make(pool, 1, sizeof(char *));
    rus_user_t u;
    int created = -1;

    APR_ARRAY_PUSH(attrs, rus_attr_t) = attr;
    APR_ARRAY_PUSH(groups, const char *) = "g";
    memset(&pr, 0, sizeof(pr));
    pr.email = "a@x";
    pr.attrs = attrs;
    pr.groups = groups;
    rus_test_sql(db, "CREATE TRIGGER refuse BEFORE INSERT ON user_groups"
                     " BEGIN SELECT RAISE(ABORT, 'refused here'); END");
    ck_assert_int_ne(rus_user_create_with(conn, "ann", 100, &pr, &u, &created,
                                          pool),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "refused here"));
    ck_assert_int_eq(created, -1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM groups"), 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM"
                                          " user_attributes"),
                     0);
    /* the connection is usable again: no transaction left open */
    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_int_ne(rus_user_sync(conn, u.id, &pr, 200, 0), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM"
                                          " user_attributes"),
                     0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT email = '' AND"
                                          " last_login = 100 FROM users"),
                     1);
    rus_test_sql(db, "DROP TRIGGER refuse");
    ck_assert_int_eq(rus_user_sync(conn, u.id, &pr, 200, 0), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.email, "a@x");
    ck_assert_str_eq(u.frontend_groups, "g");
    ck_assert_int_eq(u.last_login, 200);
    rus_store_disconnect(conn);
}
END_TEST

/* Attributes that cannot be decoded (a table rebuilt by hand without its
 * primary key, a name twice) are a damaged store, said so, not a crash or
 * a silent pick. */
START_TEST(test_attrs_undecodable_is_corrupt)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_session_t s;
    rus_user_t u;
    int created = 0;

    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "a:80", 1,
                                        4000000000LL),
                     APR_SUCCESS);
    rus_test_sql(db, "DROP TABLE user_attributes;"
                     "CREATE TABLE user_attributes (user_id INTEGER,"
                     " name TEXT, value TEXT);"
                     "INSERT INTO user_attributes VALUES (1, 'title', 'a'),"
                     " (1, 'title', 'b')");
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), RUS_STORE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "attributes"));
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, pool),
                     RUS_STORE_ECORRUPT);
    rus_store_disconnect(conn);
}
END_TEST

/* db check: rows whose user or group is gone (written with foreign_keys
 * off, as the sqlite3 shell does by default) are found, in the new table
 * too. */
START_TEST(test_integrity_finds_orphans)
{
    rus_conn_t *conn = connected(prepared(db));
    const char *result = NULL;
    rus_user_t u;
    int ok = -1, created = 0;

    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 1);
    ck_assert_str_eq(result, "ok");
    rus_test_sql(db, "INSERT INTO user_attributes VALUES (42, 'title', 'x'),"
                     " (42, 'dept', 'y');"
                     "INSERT INTO user_groups VALUES (1, 77, 'frontend')");
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 0);
    ck_assert_str_eq(result,
                     "user_attributes: 2 row(s) refer to a missing row of "
                     "users\nuser_groups: 1 row(s) refer to a missing row of "
                     "groups");
    rus_test_sql(db, "DELETE FROM user_attributes; DELETE FROM user_groups");
    /* what the user's reads refuse (rus_attrs_decode()): an empty name is
     * refused by the table itself, a NUL byte cast from a blob is not, and
     * db check names it */
    {
        sqlite3 *h = NULL;

        ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(h,
                                      "INSERT INTO user_attributes VALUES"
                                      " (1, '', 'x')",
                                      NULL, NULL, NULL),
                         SQLITE_CONSTRAINT);
        sqlite3_close(h);
    }
    rus_test_sql(db, "INSERT INTO user_attributes VALUES"
                     " (1, CAST(X'610062' AS TEXT), 'x')");
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, pool), RUS_STORE_ECORRUPT);
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 0);
    ck_assert_str_eq(result, "user_attributes: 1 row(s) of user 1 with an "
                             "empty name or a NUL byte");
    rus_store_disconnect(conn);
}
END_TEST

/* A login whose profile is what the store holds writes nothing but its
 * last_login (when due): no row of users, user_attributes, groups or
 * user_groups is updated, inserted or deleted, even where an update would
 * change nothing. Counted by triggers of the test's own. */
START_TEST(test_sync_unchanged_writes_nothing)
{
    rus_conn_t *conn = connected(prepared(db));
    rus_profile_t pr;
    rus_attr_t attr = { "title", "CTO" };
    apr_array_header_t *attrs = apr_array_make(pool, 1, sizeof(rus_attr_t));
    apr_array_header_t *groups = apr_array_make(pool, 2, sizeof(char *));
    rus_user_t u;
    int created = 0;

    APR_ARRAY_PUSH(attrs, rus_attr_t) = attr;
    APR_ARRAY_PUSH(groups, const char *) = "g";
    APR_ARRAY_PUSH(groups, const char *) = "h";
    memset(&pr, 0, sizeof(pr));
    pr.email = "a@x";
    pr.first_name = "Ann";
    pr.last_name = "";
    pr.attrs = attrs;
    pr.groups = groups;
    pr.groups_replace = 1;
    ck_assert_int_eq(rus_user_create_with(conn, "ann", 100, &pr, &u, &created,
                                          pool),
                     APR_SUCCESS);
    rus_test_sql(db, "CREATE TABLE writes (what TEXT);"
                     "CREATE TRIGGER w1 AFTER UPDATE OF email, first_name,"
                     " last_name, is_active, username ON users BEGIN"
                     " INSERT INTO writes VALUES ('users'); END;"
                     "CREATE TRIGGER w2 AFTER UPDATE ON user_attributes BEGIN"
                     " INSERT INTO writes VALUES ('attr update'); END;"
                     "CREATE TRIGGER w3 AFTER INSERT ON user_attributes BEGIN"
                     " INSERT INTO writes VALUES ('attr insert'); END;"
                     "CREATE TRIGGER w4 AFTER DELETE ON user_attributes BEGIN"
                     " INSERT INTO writes VALUES ('attr delete'); END;"
                     "CREATE TRIGGER w5 AFTER INSERT ON groups BEGIN"
                     " INSERT INTO writes VALUES ('group'); END;"
                     "CREATE TRIGGER w6 AFTER INSERT ON user_groups BEGIN"
                     " INSERT INTO writes VALUES ('member insert'); END;"
                     "CREATE TRIGGER w7 AFTER UPDATE ON user_groups BEGIN"
                     " INSERT INTO writes VALUES ('member update'); END;"
                     "CREATE TRIGGER w8 AFTER DELETE ON user_groups BEGIN"
                     " INSERT INTO writes VALUES ('member delete'); END;");
    ck_assert_int_eq(rus_user_sync(conn, u.id, &pr, 500, 60), APR_SUCCESS);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT coalesce(group_concat(what),"
                                      " '') FROM writes"),
                     "");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"), 500);
    /* and a difference is written, only it */
    pr.first_name = "Anne";
    ck_assert_int_eq(rus_user_sync(conn, u.id, &pr, 510, 60), APR_SUCCESS);
    ck_assert_str_eq(rus_test_sql_str(pool, db,
                                      "SELECT coalesce(group_concat(what),"
                                      " '') FROM writes"),
                     "users");
    rus_store_disconnect(conn);
}
END_TEST

TCase *rus_store_sqlite_test_case(void)
{
    TCase *tc = tcase_create("store_sqlite");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_spec_root_and_cwd);
    tcase_add_test(tc, test_spec_options);
    tcase_add_test(tc, test_spec_messages);
    tcase_add_test(tc, test_error_is_transient);
    tcase_add_test(tc, test_error_kind_and_os);
    tcase_add_test(tc, test_session_purge_some_batches);
    tcase_add_test(tc, test_readonly_file_says_permission);
    tcase_add_test(tc, test_check_missing_dir);
    tcase_add_test(tc, test_check_dir_is_a_file);
    tcase_add_test(tc, test_check_path_is_a_directory);
    tcase_add_test(tc, test_not_a_database);
    tcase_add_test(tc, test_check_leaves_file);
    tcase_add_test(tc, test_prepare_layout);
    tcase_add_test(tc, test_prepare_mode_ignores_umask);
    tcase_add_test(tc, test_prepare_keeps_existing_mode);
    tcase_add_test(tc, test_prepare_hands_over);
    tcase_add_test(tc, test_connect_missing_file);
    tcase_add_test(tc, test_connect_needs_current_schema);
    tcase_add_test(tc, test_user_find_unknown);
    tcase_add_test(tc, test_user_create_row);
    tcase_add_test(tc, test_user_create_keeps_inactive);
    tcase_add_test(tc, test_user_touch_edges);
    tcase_add_test(tc, test_session_touch_clamps_future);
    tcase_add_test(tc, test_session_purge_grace);
    tcase_add_test(tc, test_sql_text_is_data);
    tcase_add_test(tc, test_pool_file_unlinked);
    tcase_add_test(tc, test_pool_file_unreadable);
    tcase_add_test(tc, test_pool_reopens_replaced_file);
    tcase_add_test(tc, test_pool_after_offline_replace);
    tcase_add_loop_test(tc, test_symlink_refused, 0, 3);
    tcase_add_test(tc, test_hard_link_refused);
    tcase_add_test(tc, test_symlinked_dir_refused);
    tcase_add_test(tc, test_fifo_refused);
    tcase_add_test(tc, test_connect_refuses_symlink);
    tcase_add_test(tc, test_dir_warnings);
    tcase_add_test(tc, test_checkpoint_empties_wal);
    tcase_add_test(tc, test_checkpoint_wait_is_bounded);
    tcase_add_test(tc, test_backup_copy);
    tcase_add_loop_test(tc, test_migrate_to_profiles, 0, 2);
    tcase_add_test(tc, test_migrate_to_counters);
    tcase_add_test(tc, test_migrate_to_session_client);
    tcase_add_test(tc, test_admin_count_is_atomic);
    tcase_add_test(tc, test_profile_write_is_atomic);
    tcase_add_test(tc, test_sync_unchanged_writes_nothing);
    tcase_add_test(tc, test_attrs_undecodable_is_corrupt);
    tcase_add_test(tc, test_integrity_finds_orphans);
    return tc;
}
