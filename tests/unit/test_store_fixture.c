/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The one store fixture of the store suites, and the table of backends the
 * contract suite runs against. */

#include <apr_strings.h>

#include "rus_store.h"
#include "test_common.h"

/* The spec of a store kept in @a dir (a fresh directory of its own). */
static const char *sqlite_spec(apr_pool_t *p, const char *dir)
{
    return apr_pstrcat(p, "sqlite:", dir, "/users.db", NULL);
}

/* A backend is added here (e.g. PostgreSQL, with a spec naming a fresh
 * database) and the contract suite runs against it too. */
const rus_test_backend_t rus_test_backends[] = {
    { "sqlite", sqlite_spec },
};

const int rus_test_backend_count =
    (int)(sizeof(rus_test_backends) / sizeof(rus_test_backends[0]));

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
