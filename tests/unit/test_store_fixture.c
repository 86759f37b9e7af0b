/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The one store fixture of the store suites, and the table of backends the
 * contract suite runs against; the PostgreSQL server's helpers (the tests
 * set their schemas up through libpq themselves, outside the store code). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include <libpq-fe.h>

#include "rus_store.h"
#include "test_common.h"

/* The spec of a store kept in @a dir (a fresh directory of its own). */
static const char *sqlite_spec(apr_pool_t *p, const char *dir)
{
    return apr_pstrcat(p, "sqlite:", dir, "/users.db", NULL);
}

/* The spec of a fresh schema of its own on the tests' PostgreSQL server
 * (@a dir is not used). */
static const char *pg_spec(apr_pool_t *p, const char *dir)
{
    (void)dir;
    return rus_test_pg_spec(p, NULL);
}

/* A backend is added here, with a spec naming a fresh store, and the
 * contract suite runs against it too. PostgreSQL stays last (see
 * rus_test_backends_init()). */
const rus_test_backend_t rus_test_backends[] = {
    { "sqlite", sqlite_spec },
    { "postgresql", pg_spec },
};

int rus_test_backend_count = 1;

void rus_test_backends_init(void)
{
    int all = (int)(sizeof(rus_test_backends) / sizeof(rus_test_backends[0]));

    if (rus_test_pg_uri() != NULL) {
        rus_test_backend_count = all;
        return;
    }
    rus_test_backend_count = all - 1;
    fprintf(stderr, "note: RUS_TEST_PG_URI is not set: the PostgreSQL "
                    "tests are skipped (make unit starts a server for "
                    "them)\n");
}

/* ---- the tests' PostgreSQL server ------------------------------------- */

const char *rus_test_pg_uri(void)
{
    const char *uri = getenv("RUS_TEST_PG_URI");

    return uri != NULL && *uri != '\0' ? uri : NULL;
}

/* A connection to the server as its role, search_path @a schema. */
static PGconn *pg_connect_as_tests(const char *schema)
{
    const char *keys[3] = { "dbname", "options", NULL };
    const char *vals[3];
    char opts[128];
    PGconn *pg;

    ck_assert_ptr_nonnull(rus_test_pg_uri());
    vals[0] = rus_test_pg_uri();
    apr_snprintf(opts, sizeof(opts),
                 "-csearch_path=%s -cclient_min_messages=warning",
                 schema ? schema : "public");
    vals[1] = opts;
    vals[2] = NULL;
    pg = PQconnectdbParams(keys, vals, 1);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "connect to %s: %s",
                  rus_test_pg_uri(), PQerrorMessage(pg));
    return pg;
}

void rus_test_pg_exec(const char *schema, const char *sql)
{
    PGconn *pg = pg_connect_as_tests(schema);
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);

    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s",
                  sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(pg);
}

long long rus_test_pg_int(const char *schema, const char *sql)
{
    PGconn *pg = pg_connect_as_tests(schema);
    PGresult *res = PQexec(pg, sql);
    long long v;

    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
                  "%s: %s", sql, PQresultErrorMessage(res));
    v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(pg);
    return v;
}

/* Drop a schema of rus_test_pg_spec() with everything in it. */
static apr_status_t drop_schema(void *data)
{
    const char *schema = data;
    PGconn *pg = pg_connect_as_tests(NULL);
    char sql[128];

    apr_snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    PQclear(PQexec(pg, sql));
    PQfinish(pg);
    return APR_SUCCESS;
}

const char *rus_test_pg_spec(apr_pool_t *p, const char **pschema)
{
    static unsigned int counter;
    const char *uri = rus_test_pg_uri(), *schema;

    ck_assert_ptr_nonnull(uri);
    schema = apr_psprintf(p, "ut_%ld_%u", (long)getpid(), ++counter);
    rus_test_pg_exec(NULL, apr_pstrcat(p, "CREATE SCHEMA ", schema, NULL));
    apr_pool_cleanup_register(p, schema, drop_schema, apr_pool_cleanup_null);
    if (pschema != NULL) {
        *pschema = schema;
    }
    return apr_pstrcat(p, uri, strchr(uri, '?') ? "&" : "?",
                       "options=-csearch_path%3D", schema, NULL);
}

void rus_test_store_dir(rus_test_store_t *ts)
{
    ts->pool = NULL;
    apr_pool_create(&ts->pool, NULL);
    ts->dir = rus_test_tmpdir(ts->pool);
    ts->path = apr_pstrcat(ts->pool, ts->dir, "/users.db", NULL);
    ts->spec = NULL;
    ts->store = NULL;
    ts->conn = NULL;
}

void rus_test_store_open(rus_test_store_t *ts, int backend)
{
    const char *msg = NULL, *warn = NULL;

    ck_assert_int_lt(backend, rus_test_backend_count);
    rus_test_store_dir(ts);
    ts->spec = rus_test_backends[backend].spec(ts->pool, ts->dir);
    ck_assert_msg(rus_store_create(&ts->store, ts->pool, ts->spec, NULL, NULL,
                                   &msg)
                      == APR_SUCCESS,
                  "create %s: %s", ts->spec, msg);
    ck_assert_msg(rus_store_prepare(ts->store, ts->pool, NULL, &warn, &msg)
                      == APR_SUCCESS,
                  "prepare %s: %s", ts->spec, msg);
    ck_assert_msg(rus_store_connect(&ts->conn, ts->store, ts->pool, &msg)
                      == APR_SUCCESS,
                  "connect %s: %s", ts->spec, msg);
}

void rus_test_store_close(rus_test_store_t *ts)
{
    if (ts->pool == NULL) {
        return; /* the test failed before it opened one */
    }
    rus_store_disconnect(ts->conn);
    ts->conn = NULL;
    rus_test_rmtree(ts->dir);
    apr_pool_destroy(ts->pool);
    ts->pool = NULL;
}
