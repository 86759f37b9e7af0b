/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The store facade, connection pool and SQLite backend, on real files. */

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <sqlite3.h>

#include "rus_backend.h"
#include "rus_store.h"
#include "test_common.h"

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

/* A store on @path, created and migrated. */
static rus_store_t *prepared(const char *path, int busy_ms)
{
    rus_store_options_t opts;
    rus_store_t *store = NULL;
    const char *msg = NULL, *warn = NULL;

    rus_store_options_default(&opts);
    if (busy_ms >= 0) {
        opts.busy_timeout_ms = busy_ms;
    }
    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", path, NULL),
                                      NULL, &opts, &msg),
                     APR_SUCCESS);
    ck_assert_msg(rus_store_prepare(store, pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare: %s", msg);
    return store;
}

static rus_conn_t *connected(rus_store_t *store)
{
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    ck_assert_msg(rus_store_connect(&conn, store, pool, &msg) == APR_SUCCESS,
                  "connect: %s", msg);
    return conn;
}

/* ---- specs ------------------------------------------------------------ */

START_TEST(test_spec_relative_to_root)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:sub/users.db",
                                      "/srv/root", NULL, &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store), "/srv/root/sub/users.db");
    ck_assert_int_eq(rus_store_create(&store, pool, "sqlite:/abs/users.db",
                                      "/srv/root", NULL, &msg),
                     APR_SUCCESS);
    ck_assert_str_eq(rus_store_describe(store), "/abs/users.db");
}
END_TEST

static const char *const bad_specs[] = {
    "mysql:db", "/var/lib/users.db", ":x", "sqlite:", "", "sqlitex:/a",
};

START_TEST(test_spec_refused)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool, bad_specs[_i], "/r", NULL,
                                      &msg),
                     RUS_STORE_ESPEC);
    ck_assert_ptr_null(store);
    ck_assert_ptr_nonnull(msg);
}
END_TEST

/* ---- the backend registry and optional callbacks -------------------- */

START_TEST(test_registry_names_schemes)
{
    rus_store_t *store = NULL;
    const char *msg = NULL;

    ck_assert_ptr_eq(rus_backend_find("sqlite", 6), &rus_backend_sqlite);
    ck_assert_ptr_eq(rus_backend_find("sqlitex", 6), &rus_backend_sqlite);
    ck_assert_ptr_null(rus_backend_find("sqlit", 5));
    ck_assert_ptr_null(rus_backend_find("mysql", 5));
    ck_assert_ptr_eq(rus_backend_find("postgresql", 10), &rus_backend_pg);
    ck_assert_ptr_eq(rus_backend_find("postgres", 8), &rus_backend_pg);
    ck_assert_ptr_null(rus_backend_find("postgre", 7));
    ck_assert_str_eq(rus_backend_schemes(pool), "sqlite, postgresql");
    ck_assert_int_eq(rus_store_create(&store, pool, "mysql:x", NULL, NULL,
                                      &msg),
                     RUS_STORE_ESPEC);
    ck_assert_str_eq(msg, "unknown store scheme 'mysql' (known: sqlite, "
                          "postgresql)");
    ck_assert_int_eq(rus_store_create(&store, pool, "users.db", NULL, NULL,
                                      &msg),
                     RUS_STORE_ESPEC);
    ck_assert_str_eq(
        msg, "expected SCHEME:LOCATION, e.g. sqlite:/var/lib/x/users.db");
    ck_assert_str_eq(rus_store_file_spec(pool, "a/b.db"), "sqlite:a/b.db");
}
END_TEST

START_TEST(test_backend_required_callbacks)
{
    rus_backend_t b = rus_backend_sqlite;

    ck_assert_ptr_null(rus_backend_missing(&rus_backend_sqlite));
    b.user_list = NULL; /* optional */
    b.integrity = NULL;
    b.checkpoint = NULL;
    b.user_memberships = NULL;
    ck_assert_ptr_null(rus_backend_missing(&b));
    b.user_sync = NULL; /* a login's profile goes through it */
    ck_assert_str_eq(rus_backend_missing(&b), "user_sync");
    b.user_sync = rus_backend_sqlite.user_sync;
    b.session_touch = NULL;
    ck_assert_str_eq(rus_backend_missing(&b), "session_touch");
    b.connect = NULL;
    ck_assert_str_eq(rus_backend_missing(&b), "connect");
    b.restore_hint = NULL;
    ck_assert_str_eq(rus_backend_missing(&b), "restore_hint");
}
END_TEST

/* A backend without the administration: the facade answers APR_ENOTIMPL
 * and says what is missing; it never calls through a NULL. */
START_TEST(test_optional_callbacks_not_implemented)
{
    rus_backend_t b = rus_backend_sqlite;
    rus_conn_t *conn = connected(prepared(db, -1));
    const rus_backend_t *real = conn->backend;
    apr_array_header_t *a = NULL;
    rus_store_checkpoint_t cp;
    rus_store_info_t info;
    const char *result = NULL;
    rus_group_t g;
    rus_user_t u;
    int n = 0, ok = 0;

    b.scheme = "bare";
    b.user_list = NULL;
    b.user_add = NULL;
    b.user_set_active = NULL;
    b.user_delete = NULL;
    b.user_rename = NULL;
    b.group_list = NULL;
    b.group_find = NULL;
    b.group_add = NULL;
    b.group_delete = NULL;
    b.group_members = NULL;
    b.group_add_member = NULL;
    b.group_remove_member = NULL;
    b.session_list = NULL;
    b.session_revoke_all = NULL;
    b.session_find_prefix = NULL;
    b.backup = NULL;
    b.info = NULL;
    b.integrity = NULL;
    b.checkpoint = NULL;
    conn->backend = &b;
    ck_assert_int_eq(rus_user_list(conn, &a, pool), APR_ENOTIMPL);
    ck_assert_str_eq(rus_store_error(conn), "the bare store cannot list users");
    ck_assert_int_eq(rus_user_add(conn, "x", 1, 1, &u, pool), APR_ENOTIMPL);
    ck_assert_int_eq(rus_user_set_active(conn, 1, 0, NULL), APR_ENOTIMPL);
    ck_assert_int_eq(rus_user_delete(conn, 1), APR_ENOTIMPL);
    ck_assert_int_eq(rus_user_rename(conn, 1, "y"), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_list(conn, &a, pool), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_find(conn, "g", &g, pool), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_add(conn, "g"), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_delete(conn, 1), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_members(conn, 1, &a, pool), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_add_member(conn, 1, 1), APR_ENOTIMPL);
    ck_assert_int_eq(rus_group_remove_member(conn, 1, 1), APR_ENOTIMPL);
    ck_assert_int_eq(rus_session_list(conn, 0, &a, pool), APR_ENOTIMPL);
    ck_assert_int_eq(rus_session_revoke_all(conn, &n), APR_ENOTIMPL);
    ck_assert_int_eq(rus_session_find_prefix(conn, "abcd1234", &n, NULL, pool),
                     APR_ENOTIMPL);
    ck_assert_int_eq(rus_store_backup(conn, "/nonexistent/x.db", 0, pool),
                     APR_ENOTIMPL);
    ck_assert_str_eq(rus_store_error(conn),
                     "the bare store cannot copy itself");
    ck_assert_int_eq(rus_store_info(conn, 1, &info), APR_ENOTIMPL);
    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, pool),
                     APR_ENOTIMPL);
    ck_assert_str_eq(rus_store_error(conn),
                     "the bare store cannot check its integrity");
    /* no log to keep small: nothing to do, and that is a success */
    ck_assert_int_eq(rus_store_checkpoint(conn, 10, &cp), APR_SUCCESS);
    ck_assert_int_eq(cp.log_before, 0);
    ck_assert_int_eq(cp.emptied, 0);
    /* the request path still works */
    ck_assert_int_eq(rus_user_find(conn, "nobody", &u, pool), APR_ENOENT);
    conn->backend = real;
    rus_store_disconnect(conn);
}
END_TEST

/* ---- check (configtest) ---------------------------------------------- */

static apr_status_t check_path(const char *path, const char **pmsg)
{
    rus_store_t *store = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", path, NULL),
                                      NULL, NULL, pmsg),
                     APR_SUCCESS);
    return rus_store_check(store, pool, pmsg);
}

START_TEST(test_check)
{
    const char *msg = NULL;
    const char *garbage = apr_pstrcat(pool, dir, "/garbage.db", NULL);
    FILE *f;

    /* absent file in an existing directory: fine, and not created */
    ck_assert_int_eq(check_path(db, &msg), APR_SUCCESS);
    ck_assert_int_ne(access(db, F_OK), 0);

    ck_assert_int_ne(check_path(apr_pstrcat(pool, dir, "/no/users.db", NULL),
                                &msg),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "/no"));

    ck_assert_int_ne(check_path(dir, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "not a regular file"));

    f = fopen(garbage, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++) {
        fputs("this is not a database ", f);
    }
    fclose(f);
    ck_assert_int_eq(check_path(garbage, &msg), RUS_STORE_ECORRUPT);

    prepared(db, -1);
    ck_assert_int_eq(check_path(db, &msg), APR_SUCCESS);
    rus_test_sql(db, "PRAGMA user_version = 99");
    ck_assert_int_eq(check_path(db, &msg), RUS_STORE_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(msg, "99"));
}
END_TEST

/* ---- prepare ------------------------------------------------------------ */

START_TEST(test_prepare_creates_schema)
{
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = prepared(db, -1);
    struct stat st;

    ck_assert_int_eq(stat(db, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"), 7);
    ck_assert_int_eq(rus_test_sql_int(db,
                                      "SELECT group_concat(name, ',') = "
                                      "'token_hash,user_id,vhost,created_at,"
                                      "last_seen,expires_at,ip,user_agent'"
                                      " FROM pragma_table_info('sessions')"),
                     1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT journal_mode = 'wal' FROM "
                                          "pragma_journal_mode"),
                     1);
    ck_assert_int_eq(
        rus_test_sql_int(db, "SELECT group_concat(name, ',') = "
                             "'id,username,is_active,date_joined,last_login,"
                             "email,first_name,last_name'"
                             " FROM pragma_table_info('users')"),
        1);
    /* again: nothing changes, nothing fails */
    rus_test_sql(db, "INSERT INTO users (username, date_joined) "
                     "VALUES ('keep', 1)");
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
}
END_TEST

/* A store made by the first release (schema 1, users only) is migrated in
 * place, rows kept. */
START_TEST(test_prepare_migrates_version_1)
{
    rus_test_sql(db, "CREATE TABLE users (id INTEGER PRIMARY KEY,"
                     " username TEXT NOT NULL UNIQUE,"
                     " is_active INTEGER NOT NULL DEFAULT 1,"
                     " date_joined INTEGER NOT NULL, last_login INTEGER);"
                     "INSERT INTO users VALUES (7, 'old', 0, 5, NULL);"
                     "PRAGMA user_version = 1;");
    prepared(db, -1);
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"), 7);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 0);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT id FROM users WHERE "
                                          "username = 'old' AND is_active = 0"),
                     7);
}
END_TEST

/* user_version is signed: a negative one (a hand-edited file) is refused,
 * never used as an index into the migrations (found by a reviewer's test:
 * it once ran whatever lay before the array as SQL). */
START_TEST(test_negative_schema_refused)
{
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = prepared(db, -1);

    rus_test_sql(db, "PRAGMA user_version = -1");
    ck_assert_int_eq(check_path(db, &msg), RUS_STORE_ESCHEMA);
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(msg, "-1"));
}
END_TEST

/* configtest runs as root: it must not leave PATH-wal / PATH-shm behind,
 * or the children (www-data) could not open them. */
START_TEST(test_check_creates_nothing)
{
    const char *msg = NULL;

    prepared(db, -1);
    ck_assert_int_eq(check_path(db, &msg), APR_SUCCESS);
    ck_assert_int_ne(access(apr_pstrcat(pool, db, "-wal", NULL), F_OK), 0);
    ck_assert_int_ne(access(apr_pstrcat(pool, db, "-shm", NULL), F_OK), 0);
}
END_TEST

START_TEST(test_prepare_refuses_newer_schema)
{
    const char *msg = NULL, *warn = NULL;
    rus_store_t *store = prepared(db, -1);

    rus_test_sql(db, "PRAGMA user_version = 99");
    ck_assert_int_eq(rus_store_prepare(store, pool, NULL, &warn, &msg),
                     RUS_STORE_ESCHEMA);
    ck_assert_int_eq(rus_test_sql_int(db, "PRAGMA user_version"), 99);
}
END_TEST

START_TEST(test_connect_never_creates)
{
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_create(&store, pool,
                                      apr_pstrcat(pool, "sqlite:", db, NULL),
                                      NULL, NULL, &msg),
                     APR_SUCCESS);
    ck_assert_int_ne(rus_store_connect(&conn, store, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(conn);
    ck_assert_int_ne(access(db, F_OK), 0);
}
END_TEST

/* ---- users ---------------------------------------------------------------- */

START_TEST(test_user_find_create_touch)
{
    rus_conn_t *conn = connected(prepared(db, -1));
    rus_user_t u, v;
    int created = -1;

    ck_assert_int_eq(rus_user_find(conn, "alice", &u, pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_create(conn, "alice", 1000, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_str_eq(u.username, "alice");
    ck_assert_int_eq(u.is_active, 1);
    ck_assert_int_eq(u.date_joined, 1000);
    ck_assert_int_eq(u.last_login, 1000);

    ck_assert_int_eq(rus_user_create(conn, "alice", 2000, &v, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(v.id, u.id);
    ck_assert_int_eq(v.date_joined, 1000);

    /* within the interval nothing is written, after it the time is */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 1030, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "alice", &v, pool), APR_SUCCESS);
    ck_assert_int_eq(v.last_login, 1000);
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 1060, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "alice", &v, pool), APR_SUCCESS);
    ck_assert_int_eq(v.last_login, 1060);

    /* a NULL last_login reads as 0 and is always written */
    rus_test_sql(db, "UPDATE users SET last_login = NULL");
    ck_assert_int_eq(rus_user_find(conn, "alice", &v, pool), APR_SUCCESS);
    ck_assert_int_eq(v.last_login, 0);
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 5, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT last_login FROM users"), 5);

    /* lookups are exact: no case folding, no pattern matching */
    ck_assert_int_eq(rus_user_find(conn, "ALICE", &v, pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "a%", &v, pool), APR_ENOENT);
    rus_store_disconnect(conn);
}
END_TEST

START_TEST(test_sql_metacharacters_are_data)
{
    rus_conn_t *conn = connected(prepared(db, -1));
    static const char *const names[] = {
        "a'; DROP TABLE users; --",
        "\" OR 1=1 --",
        "x' OR 'a'='a",
        "%",
        "_",
        "\\",
        "robert'); DELETE FROM users;--",
    };
    rus_user_t u;
    int created;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(rus_user_create(conn, names[i], 1, &u, &created, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(created, 1);
        ck_assert_str_eq(u.username, names[i]);
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(rus_user_find(conn, names[i], &u, pool), APR_SUCCESS);
        ck_assert_str_eq(u.username, names[i]);
    }
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"),
                     (long long)(sizeof(names) / sizeof(names[0])));
    rus_store_disconnect(conn);
}
END_TEST

/* ---- sessions ------------------------------------------------------------ */

START_TEST(test_sessions)
{
    rus_conn_t *conn = connected(prepared(db, -1));
    const char *h1 =
        "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 =
        "2222222222222222222222222222222222222222222222222222222222222222";
    rus_session_t s;
    rus_user_t u, bob;
    int created, n = -1;

    ck_assert_int_eq(rus_user_create(conn, "alice", 100, &u, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "bob", 100, &bob, &created, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_ENOENT);
    ck_assert_int_eq(rus_session_insert(conn, h1, u.id, "a.test:80", 100, 200),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, h2, bob.id, "a.test:80", 100,
                                        150),
                     APR_SUCCESS);
    /* the same hash twice is refused, never merged */
    ck_assert_int_ne(rus_session_insert(conn, h1, bob.id, "x", 1, 2),
                     APR_SUCCESS);

    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_SUCCESS);
    ck_assert_str_eq(u.username, "alice");
    ck_assert_str_eq(s.vhost, "a.test:80");
    ck_assert_int_eq(s.created_at, 100);
    ck_assert_int_eq(s.last_seen, 100);
    ck_assert_int_eq(s.expires_at, 200);

    ck_assert_int_eq(rus_session_touch(conn, h1, 130), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.last_seen, 130);
    ck_assert_int_eq(s.created_at, 100);
    ck_assert_int_eq(s.expires_at, 200);
    /* 130 is the future at 120: clamped (test_store_sqlite has more) */
    ck_assert_int_eq(rus_session_touch(conn, h1, 120), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(s.last_seen, 120);

    /* bob's expired at 150: purged only RUS_CLOCK_GRACE later */
    ck_assert_int_eq(rus_session_purge(conn, 160, &n), APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(rus_session_purge(conn, 150 + RUS_CLOCK_GRACE - 1, &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(rus_session_find(conn, h2, &s, &u, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_session_purge(conn, 150 + RUS_CLOCK_GRACE, &n),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(rus_session_find(conn, h2, &s, &u, pool), APR_ENOENT);
    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_SUCCESS);

    ck_assert_int_eq(rus_session_revoke(conn, h1), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, h1, &s, &u, pool), APR_ENOENT);
    ck_assert_int_eq(rus_session_revoke(conn, h1), APR_SUCCESS);

    /* per user, and with the user (foreign key, cascading) */
    ck_assert_int_eq(rus_session_insert(conn, h1, u.id, "v", 1, 999),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, h2, u.id, "v", 1, 999),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_user(conn, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 0);
    ck_assert_int_eq(rus_session_insert(conn, h1, u.id, "v", 1, 999),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
    rus_test_sql(db, "PRAGMA foreign_keys = ON; "
                     "DELETE FROM users WHERE username = 'alice'");
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM sessions"), 0);
}
END_TEST

/* ---- the connection pool --------------------------------------------- */

START_TEST(test_pool_reuses_connections)
{
    rus_store_t *store = prepared(db, -1);
    rus_store_pool_t *cp = NULL;
    rus_conn_t *a = NULL, *b = NULL, *c = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&a, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&b, cp, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_ne(a, b); /* held connections are never shared */
    rus_store_release(cp, a);
    ck_assert_int_eq(rus_store_acquire(&c, cp, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_eq(c, a);
    rus_store_release(cp, b);
    rus_store_release(cp, c);
}
END_TEST

START_TEST(test_pool_fails_closed_and_recovers)
{
    rus_store_t *store = prepared(db, -1);
    const char *aside = apr_pstrcat(pool, db, ".aside", NULL);
    rus_store_pool_t *cp = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;
    apr_status_t rv;
    rus_user_t u;
    int created;

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(conn, "alice", 1, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_release(cp, conn);

    /* the file moved away: the pooled connection is not used */
    ck_assert_int_eq(rename(db, aside), 0);
    conn = NULL;
    rv = rus_store_acquire(&conn, cp, pool, &msg);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert(rus_store_error_is_transient(rv));
    ck_assert_ptr_null(conn);
    ck_assert_int_ne(access(db, F_OK), 0); /* and not recreated */
    ck_assert_int_eq(rename(aside, db), 0);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "alice", &u, pool), APR_SUCCESS);
    rus_store_release(cp, conn);

    if (geteuid() != 0) { /* root reads whatever the mode says */
        ck_assert_int_eq(chmod(db, 0), 0);
        conn = NULL;
        rv = rus_store_acquire(&conn, cp, pool, &msg);
        ck_assert_int_ne(rv, APR_SUCCESS);
        ck_assert(rus_store_error_is_transient(rv));
        ck_assert_int_eq(chmod(db, 0640), 0);
        ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
        rus_store_release(cp, conn);
    }
}
END_TEST

/* With a check interval, a connection checked moments ago is handed out
 * without looking at the file again; a failed check is never remembered
 * as a success. */
START_TEST(test_pool_check_interval)
{
    rus_store_t *store = prepared(db, -1);
    const char *aside = apr_pstrcat(pool, db, ".aside", NULL);
    rus_store_pool_t *cp = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    rus_store_pool_set_check_interval(cp, apr_time_from_sec(60));
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    rus_store_release(cp, conn);
    ck_assert_int_eq(rename(db, aside), 0);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    rus_store_release(cp, conn);
    /* no interval: the next acquire looks, fails, and keeps failing */
    rus_store_pool_set_check_interval(cp, 0);
    ck_assert_int_ne(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    rus_store_pool_set_check_interval(cp, apr_time_from_sec(60));
    ck_assert_int_ne(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rename(aside, db), 0);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    rus_store_release(cp, conn);
}
END_TEST

START_TEST(test_pool_after_restore_with_everything_closed)
{
    rus_store_t *store = prepared(db, -1);
    const char *other = apr_pstrcat(pool, dir, "/other.db", NULL);
    rus_store_pool_t *cp = NULL;
    rus_conn_t *conn = NULL;
    apr_pool_t *cpool = NULL;
    const char *msg = NULL;
    rus_user_t u;

    apr_pool_create(&cpool, pool);
    ck_assert_int_eq(rus_store_pool_create(&cp, store, cpool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, pool), APR_ENOENT);
    rus_store_release(cp, conn);
    /* Close every connection first, as a restore with httpd stopped would:
     * the WAL of the old file must not be left for the new one. */
    apr_pool_destroy(cpool);
    prepared(other, -1);
    rus_test_sql(other, "INSERT INTO users (id, username, date_joined) "
                        "VALUES (42, 'bob', 1)");
    ck_assert_int_eq(rename(other, db), 0);

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&conn, cp, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, 42);
    rus_store_release(cp, conn);
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

#define NPROC 8

/* NPROC processes create one new user at the same moment. */
START_TEST(test_concurrent_creates_across_processes)
{
    rus_store_t *store = prepared(db, 10000);
    int go[2], report[2];
    pid_t pids[NPROC];
    int i, status, creators = 0;
    long long ids[NPROC];

    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(report), 0);
    for (i = 0; i < NPROC; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            apr_pool_t *cp;
            rus_conn_t *conn = NULL;
            const char *msg = NULL;
            long long line[2];
            rus_user_t u;
            int created = 0;
            char c;

            apr_pool_create(&cp, NULL);
            close(go[1]);
            if (rus_store_connect(&conn, store, cp, &msg) != APR_SUCCESS
                || read(go[0], &c, 1) != 0) {
                _exit(2);
            }
            if (rus_user_create(conn, "racer", 7, &u, &created, cp)
                != APR_SUCCESS) {
                _exit(3);
            }
            line[0] = created;
            line[1] = u.id;
            if (write(report[1], line, sizeof(line)) != sizeof(line)) {
                _exit(4);
            }
            rus_store_disconnect(conn);
            _exit(0);
        }
    }
    close(go[0]);
    close(report[1]);
    close(go[1]); /* everyone starts now */
    for (i = 0; i < NPROC; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d failed with %d", i, status);
    }
    for (i = 0; i < NPROC; i++) {
        long long line[2];

        ck_assert_int_eq(read(report[0], line, sizeof(line)), sizeof(line));
        creators += (int)line[0];
        ids[i] = line[1];
        ck_assert_int_eq(ids[i], ids[0]);
    }
    close(report[0]);
    ck_assert_int_eq(creators, 1);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 1);
}
END_TEST

struct worker {
    rus_store_pool_t *cp;
    int base;
    int failures;
};

static void *APR_THREAD_FUNC create_many(apr_thread_t *t, void *data)
{
    struct worker *w = data;
    apr_pool_t *p;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 50; i++) {
        rus_conn_t *conn = NULL;
        const char *msg = NULL;
        rus_user_t u;
        int created;
        char name[32];

        apr_snprintf(name, sizeof(name), "t%d-%d", w->base, i);
        if (rus_store_acquire(&conn, w->cp, p, &msg) != APR_SUCCESS) {
            w->failures++;
            continue;
        }
        if (rus_user_create(conn, name, 1, &u, &created, p) != APR_SUCCESS
            || !created) {
            w->failures++;
        }
        rus_store_release(w->cp, conn);
    }
    apr_pool_destroy(p);
    /* Plain return, no apr_thread_exit(): pthread_exit() unwinding trips
     * a known AddressSanitizer false positive in sigaltstack. */
    (void)t;
    return NULL;
}

START_TEST(test_concurrent_creates_across_threads)
{
    rus_store_t *store = prepared(db, 10000);
    rus_store_pool_t *cp = NULL;
    apr_thread_t *threads[4];
    struct worker w[4];
    apr_status_t trv;
    int i;

    ck_assert_int_eq(rus_store_pool_create(&cp, store, pool), APR_SUCCESS);
    for (i = 0; i < 4; i++) {
        w[i].cp = cp;
        w[i].base = i;
        w[i].failures = 0;
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, create_many,
                                           &w[i], pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&trv, threads[i]);
        ck_assert_int_eq(w[i].failures, 0);
    }
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 200);
}
END_TEST

/* A write lock held elsewhere past the busy timeout: a transient failure,
 * quickly, and nothing written. */
START_TEST(test_busy_timeout)
{
    rus_conn_t *conn = connected(prepared(db, 100));
    sqlite3 *holder = NULL;
    struct timespec t0, t1;
    apr_status_t rv;
    rus_user_t u;
    int created = -1;
    double secs;

    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rv = rus_user_create(conn, "waiter", 1, &u, &created, pool);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_int_eq(rv, APR_TIMEUP);
    ck_assert(rus_store_error_is_transient(rv));
    ck_assert_int_eq(created, -1); /* outputs untouched on failure */
    ck_assert_ptr_nonnull(strstr(rus_store_error(conn), "locked"));
    ck_assert_msg(secs >= 0.05 && secs < 2.0, "waited %.3f s", secs);
    /* readers are not blocked in WAL mode */
    ck_assert_int_eq(rus_user_find(conn, "waiter", &u, pool), APR_ENOENT);
    sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(holder);
    ck_assert_int_eq(rus_test_sql_int(db, "SELECT COUNT(*) FROM users"), 0);
    ck_assert_int_eq(rus_user_create(conn, "waiter", 1, &u, &created, pool),
                     APR_SUCCESS);
    rus_store_disconnect(conn);
}
END_TEST

TCase *rus_store_test_case(void)
{
    TCase *tc = tcase_create("store");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_spec_relative_to_root);
    tcase_add_loop_test(tc, test_spec_refused, 0,
                        sizeof(bad_specs) / sizeof(bad_specs[0]));
    tcase_add_test(tc, test_registry_names_schemes);
    tcase_add_test(tc, test_backend_required_callbacks);
    tcase_add_test(tc, test_optional_callbacks_not_implemented);
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_prepare_creates_schema);
    tcase_add_test(tc, test_prepare_migrates_version_1);
    tcase_add_test(tc, test_prepare_refuses_newer_schema);
    tcase_add_test(tc, test_negative_schema_refused);
    tcase_add_test(tc, test_check_creates_nothing);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_connect_never_creates);
    tcase_add_test(tc, test_user_find_create_touch);
    tcase_add_test(tc, test_sql_metacharacters_are_data);
    tcase_add_test(tc, test_pool_reuses_connections);
    tcase_add_test(tc, test_pool_fails_closed_and_recovers);
    tcase_add_test(tc, test_pool_after_restore_with_everything_closed);
    tcase_add_test(tc, test_pool_check_interval);
    tcase_add_test(tc, test_concurrent_creates_across_processes);
    tcase_add_test(tc, test_concurrent_creates_across_threads);
    tcase_add_test(tc, test_busy_timeout);
    return tc;
}
