/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The unit test suite: one TCase per core file, plus shared helpers. */
#ifndef RUS_TEST_COMMON_H
#define RUS_TEST_COMMON_H

#include <check.h>

#include <apr_pools.h>

TCase *rus_username_test_case(void);
TCase *rus_store_test_case(void);
TCase *rus_store_sqlite_test_case(void);
TCase *rus_store_pg_test_case(void);
TCase *rus_user_test_case(void);
TCase *rus_net_test_case(void);
TCase *rus_header_test_case(void);
TCase *rus_session_test_case(void);
TCase *rus_admin_test_case(void);
TCase *rus_cache_test_case(void);
TCase *rus_origin_test_case(void);
TCase *rus_gate_test_case(void);
TCase *rus_decide_test_case(void);
TCase *rus_lookup_test_case(void);
TCase *rus_cookie_test_case(void);
TCase *rus_coherence_test_case(void);
TCase *rus_store_contract_test_case(void);
TCase *rus_ratelimit_test_case(void);
TCase *rus_confcheck_test_case(void);
TCase *rus_copy_test_case(void);
TCase *rus_board_test_case(void);
TCase *rus_shared_test_case(void);
TCase *rus_profile_test_case(void);
TCase *rus_metrics_test_case(void);
TCase *rus_selfsvc_test_case(void);

/* ---- the store fixture (test_store_fixture.c) ------------------------- */

/* A backend the contract suite runs against: its name, and the spec of a
 * fresh store of its own in the fresh directory @a dir. */
typedef struct rus_test_backend_t {
    const char *name;
    const char *(*spec)(apr_pool_t *p, const char *dir);
} rus_test_backend_t;

extern const rus_test_backend_t rus_test_backends[];
/* How many of rus_test_backends[] run: PostgreSQL (the last) only when
 * RUS_TEST_PG_URI names a server (rus_test_backends_init()). */
extern int rus_test_backend_count;

/* Settle rus_test_backend_count; before the suites are made. Prints a
 * note when the PostgreSQL suites are skipped. */
void rus_test_backends_init(void);

/* ---- a PostgreSQL server of the tests' own (tests/pyrus/pg.py) --------- */

/* RUS_TEST_PG_URI (postgresql://rus:PASSWORD@127.0.0.1:PORT/rus), or NULL
 * when the tests run without a server. */
const char *rus_test_pg_uri(void);

/* The spec of a fresh, empty schema of its own in that database (the
 * URI with search_path set to it), dropped when @a p is destroyed;
 * *pschema (may be NULL) gets its name. */
const char *rus_test_pg_spec(apr_pool_t *p, const char **pschema);

/* Run SQL (no parameters) as the role of RUS_TEST_PG_URI, with search_path
 * @a schema (NULL: the default). Fails the test on error. */
void rus_test_pg_exec(const char *schema, const char *sql);

/* The integer result of a one-value query, as rus_test_pg_exec() runs
 * it. */
long long rus_test_pg_int(const char *schema, const char *sql);

/* The one store fixture: a pool, a fresh directory, and (after
 * rus_test_store_open) a store in it, prepared and connected. */
typedef struct rus_test_store_t {
    apr_pool_t *pool;
    const char *dir;           /* removed by rus_test_store_close() */
    const char *path;          /* DIR/users.db, for file backends */
    const char *spec;          /* NULL after rus_test_store_dir() */
    struct rus_store_t *store; /* NULL after rus_test_store_dir() */
    struct rus_conn_t *conn;   /* NULL after rus_test_store_dir() */
} rus_test_store_t;

/* Only the pool and the directory (for tests that make their stores). */
void rus_test_store_dir(rus_test_store_t *ts);

/* A store of rus_test_backends[@a backend], prepared and connected. */
void rus_test_store_open(rus_test_store_t *ts, int backend);

/* Disconnect, remove the directory, destroy the pool; safe to call when
 * nothing was opened. */
void rus_test_store_close(rus_test_store_t *ts);

/* A fresh temporary directory, path from @p: mkdtemp inside the run's own
 * mkdtemp directory under /tmp, which main() removes at the end (a failed
 * test skips its teardown). */
const char *rus_test_tmpdir(apr_pool_t *p);

/* Remove a directory made by rus_test_tmpdir() and everything in it. */
void rus_test_rmtree(const char *dir);

/* Run one SQL statement on the database file, outside the store code
 * (tests use it to inspect or prepare rows). Fails the test on error. */
void rus_test_sql(const char *db, const char *sql);

/* The integer result of a one-value query. */
long long rus_test_sql_int(const char *db, const char *sql);

/* The text result of a one-value query, allocated from @p ("" for NULL). */
const char *rus_test_sql_str(apr_pool_t *p, const char *db, const char *sql);

/* @s with every byte outside printable ASCII shown as '?', for messages. */
const char *rus_test_printable(apr_pool_t *p, const char *s);

#endif /* RUS_TEST_COMMON_H */
