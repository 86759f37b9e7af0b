/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The per-process answer cache (rus_cache.c), with the clock passed in. */

#include <string.h>

#include <apr_strings.h>

#include "rus_cache.h"
#include "test_common.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static rus_user_t user_named(const char *name, const char *groups)
{
    rus_user_t u;

    memset(&u, 0, sizeof(u));
    u.id = 7;
    u.username = name;
    u.is_active = 1;
    u.last_login = 100;
    u.groups = groups;
    return u;
}

START_TEST(test_cache_off)
{
    rus_user_t u = user_named("ann", "");

    ck_assert_ptr_null(rus_cache_create(pool, 16, 0));
    /* a NULL cache is a valid, always-missing cache */
    rus_cache_put(NULL, "k", 1, &u, NULL);
    ck_assert_int_eq(rus_cache_get(NULL, "k", 1, &u, NULL, pool), 0);
    rus_cache_drop(NULL, "k");
}
END_TEST

START_TEST(test_cache_ttl_and_drop)
{
    rus_cache_t *c = rus_cache_create(pool, 16, 2);
    rus_user_t u = user_named("ann", "admins,staff"), out;
    rus_session_t s = { 7, "a:80", 1, 2, 3 }, so;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 100, &out, NULL, pool), 0);
    rus_cache_put(c, "u:ann", 100, &u, NULL);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 101, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "ann");
    ck_assert_str_eq(out.groups, "admins,staff");
    ck_assert_int_eq(out.id, 7);
    /* a user entry is no session */
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 101, &out, &so, pool), 0);
    /* expired after the TTL, and never from the future */
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 102, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 99, &out, NULL, pool), 0);

    rus_cache_put(c, "hash1", 200, &u, &s);
    ck_assert_int_eq(rus_cache_get(c, "hash1", 200, &out, &so, pool), 1);
    ck_assert_str_eq(so.vhost, "a:80");
    ck_assert_int_eq(so.expires_at, 3);
    rus_cache_drop(c, "hash1");
    ck_assert_int_eq(rus_cache_get(c, "hash1", 200, &out, &so, pool), 0);
}
END_TEST

START_TEST(test_cache_collisions_and_limits)
{
    rus_cache_t *c = rus_cache_create(pool, 2, 10); /* one set of two */
    char big[600];
    rus_user_t a = user_named("a", ""), b = user_named("b", ""), out;

    rus_cache_put(c, "k1", 1, &a, NULL);
    rus_cache_put(c, "k2", 2, &b, NULL); /* both fit */
    ck_assert_int_eq(rus_cache_get(c, "k1", 2, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "a");
    ck_assert_int_eq(rus_cache_get(c, "k2", 2, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "b");
    rus_cache_put(c, "k3", 3, &a, NULL); /* evicts the older, k1 */
    ck_assert_int_eq(rus_cache_get(c, "k1", 3, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "k2", 3, &out, NULL, pool), 1);
    ck_assert_int_eq(rus_cache_get(c, "k3", 3, &out, NULL, pool), 1);
    /* putting a cached key again replaces it in place */
    rus_cache_put(c, "k2", 4, &a, NULL);
    ck_assert_int_eq(rus_cache_get(c, "k3", 4, &out, NULL, pool), 1);
    ck_assert_int_eq(rus_cache_get(c, "k2", 4, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "a");
    /* dropping a key leaves the other alone */
    rus_cache_drop(c, "k2");
    ck_assert_int_eq(rus_cache_get(c, "k2", 4, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "k3", 4, &out, NULL, pool), 1);
    /* too large to cache: not cached, nothing truncated */
    memset(big, 'g', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    b.groups = big;
    rus_cache_put(c, "k4", 4, &b, NULL);
    ck_assert_int_eq(rus_cache_get(c, "k4", 4, &out, NULL, pool), 0);
}
END_TEST

TCase *rus_cache_test_case(void)
{
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cache_off);
    tcase_add_test(tc, test_cache_ttl_and_drop);
    tcase_add_test(tc, test_cache_collisions_and_limits);
    return tc;
}
