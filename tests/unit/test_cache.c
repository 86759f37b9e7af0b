/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The per-process answer cache (rus_cache.c), with the clock passed in. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_shm.h>
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
    rus_cache_put(NULL, "k", 1, rus_cache_ticket(NULL, "k"), &u, NULL);
    ck_assert_int_eq(rus_cache_get(NULL, "k", 1, &u, NULL, pool), 0);
    rus_cache_drop(NULL, "k");
}
END_TEST

START_TEST(test_cache_ttl_and_drop)
{
    rus_cache_t *c = rus_cache_create(pool, 16, 2);
    rus_user_t u = user_named("ann", "admins,staff"), out;
    rus_session_t s = { 7, "a:80", 1, 2, 3, "", "" }, so;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 100, &out, NULL, pool), 0);
    rus_cache_put(c, "u:ann", 100, rus_cache_ticket(c, "u:ann"), &u, NULL);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 101, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "ann");
    ck_assert_str_eq(out.groups, "admins,staff");
    ck_assert_int_eq(out.id, 7);
    /* a user entry is no session */
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 101, &out, &so, pool), 0);
    /* expired after the TTL, and never from the future */
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 102, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 99, &out, NULL, pool), 0);

    rus_cache_put(c, "hash1", 200, rus_cache_ticket(c, "hash1"), &u, &s);
    ck_assert_int_eq(rus_cache_get(c, "hash1", 200, &out, &so, pool), 1);
    ck_assert_str_eq(so.vhost, "a:80");
    ck_assert_int_eq(so.expires_at, 3);
    rus_cache_drop(c, "hash1");
    ck_assert_int_eq(rus_cache_get(c, "hash1", 200, &out, &so, pool), 0);
}
END_TEST

/* A logout racing a request with the same cookie: the request read the
 * row before the revocation committed, the logout dropped the key, and
 * the request's put comes last. It must not bring the session back. */
START_TEST(test_cache_put_after_drop_is_refused)
{
    rus_cache_t *c = rus_cache_create(pool, 16, 10);
    rus_user_t u = user_named("ann", ""), out;
    rus_session_t s = { 7, "a:80", 1, 2, 3, "", "" }, so;
    rus_cache_ticket_t ticket;

    ticket = rus_cache_ticket(c, "tok");
    rus_cache_drop(c, "tok"); /* the revocation, after its commit */
    rus_cache_put(c, "tok", 5, ticket, &u, &s);
    ck_assert_int_eq(rus_cache_get(c, "tok", 5, &out, &so, pool), 0);
    /* a ticket taken after the drop is good */
    rus_cache_put(c, "tok", 5, rus_cache_ticket(c, "tok"), &u, &s);
    ck_assert_int_eq(rus_cache_get(c, "tok", 5, &out, &so, pool), 1);
    /* and a put made before a drop is cleared by it */
    rus_cache_drop(c, "tok");
    ck_assert_int_eq(rus_cache_get(c, "tok", 5, &out, &so, pool), 0);
}
END_TEST

START_TEST(test_cache_collisions_and_limits)
{
    rus_cache_t *c = rus_cache_create(pool, 8, 10); /* one set of eight */
    char big[600], key[8];
    rus_user_t a = user_named("a", ""), b = user_named("b", ""), out;
    int i;

    rus_cache_put(c, "k1", 1, rus_cache_ticket(c, "k1"), &a, NULL);
    rus_cache_put(c, "k2", 2, rus_cache_ticket(c, "k2"), &b, NULL);
    for (i = 4; i <= 9; i++) { /* k4 to k9: the set is full */
        apr_snprintf(key, sizeof(key), "k%d", i);
        rus_cache_put(c, key, 2, rus_cache_ticket(c, key), &b, NULL);
    }
    ck_assert_int_eq(rus_cache_get(c, "k1", 2, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "a");
    ck_assert_int_eq(rus_cache_get(c, "k2", 2, &out, NULL, pool), 1);
    ck_assert_str_eq(out.username, "b");
    ck_assert_int_eq(rus_cache_get(c, "k9", 2, &out, NULL, pool), 1);
    rus_cache_put(c, "k3", 3, rus_cache_ticket(c, "k3"), &a,
                  NULL); /* evicts the oldest, k1 */
    ck_assert_int_eq(rus_cache_get(c, "k1", 3, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "k2", 3, &out, NULL, pool), 1);
    ck_assert_int_eq(rus_cache_get(c, "k3", 3, &out, NULL, pool), 1);
    /* putting a cached key again replaces it in place */
    rus_cache_put(c, "k2", 4, rus_cache_ticket(c, "k2"), &a, NULL);
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
    rus_cache_put(c, "big", 4, rus_cache_ticket(c, "big"), &b, NULL);
    ck_assert_int_eq(rus_cache_get(c, "big", 4, &out, NULL, pool), 0);
}
END_TEST

/* A cache in anonymous shared memory, as the module makes it before fork. */
static rus_cache_t *shared_cache(int slots, apr_int64_t ttl)
{
    apr_shm_t *shm = NULL;

    ck_assert_int_eq(apr_shm_create(&shm, rus_cache_size(slots), NULL, pool),
                     APR_SUCCESS);
    return rus_cache_init(apr_shm_baseaddr_get(shm), rus_cache_size(slots),
                          slots, ttl, pool);
}

/* The server's cache holds 4,096 entries; a working set of a quarter of
 * that (1,000 sessions asked for in turn, keys like token hashes) must
 * fit whole. With sets of two, about 80 of the 1,000 keys shared a set
 * with two others and missed at every request. */
START_TEST(test_cache_working_set_fits)
{
    rus_cache_t *c = rus_cache_create(pool, 4096, 10);
    rus_user_t u = user_named("u", ""), out;
    apr_uint64_t x = APR_UINT64_C(0x9e3779b97f4a7c15);
    char keys[1000][65];
    int i, j, hits = 0;

    for (i = 0; i < 1000; i++) {
        for (j = 0; j < 64; j += 16) { /* xorshift64: fixed, hash-like */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            apr_snprintf(&keys[i][j], 17, "%016" APR_UINT64_T_HEX_FMT, x);
        }
        rus_cache_put(c, keys[i], 1, rus_cache_ticket(c, keys[i]), &u, NULL);
    }
    for (i = 0; i < 1000; i++) {
        hits += rus_cache_get(c, keys[i], 1, &out, NULL, pool);
    }
    ck_assert_int_eq(hits, 1000);
}
END_TEST

START_TEST(test_cache_init_checks)
{
    char mem[64];

    ck_assert_ptr_null(rus_cache_init(mem, sizeof(mem), 16, 2, pool));
    ck_assert_ptr_null(rus_cache_init(NULL, 1 << 20, 16, 2, pool));
    ck_assert_ptr_null(rus_cache_init(apr_palloc(pool, rus_cache_size(16)),
                                      rus_cache_size(16), 16, 0, pool));
}
END_TEST

/* An entry put by one process is seen by another; a drop by one is seen
 * by all. */
START_TEST(test_cache_shared_across_fork)
{
    rus_cache_t *c = shared_cache(64, 10);
    rus_user_t a = user_named("alice", "staff"), out;
    rus_session_t sess = { 7, "www.example.com:443", 1, 1, 99, "", "" };
    int status = -1;
    pid_t pid;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rus_cache_put(c, "tok", 5, rus_cache_ticket(c, "tok"), &a, &sess);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(rus_cache_get(c, "tok", 5, &out, &sess, pool), 1);
    ck_assert_str_eq(out.username, "alice");
    ck_assert_str_eq(out.groups, "staff");
    ck_assert_str_eq(sess.vhost, "www.example.com:443");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rus_cache_drop(c, "tok");
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(rus_cache_get(c, "tok", 5, &out, NULL, pool), 0);
}
END_TEST

/* Every field of the entry for key number @a i is derived from i, so a
 * reader can tell a torn entry from a whole one. */
static void entry_for(int i, char *key, char *name, char *groups, rus_user_t *u)
{
    int k;

    snprintf(key, 32, "key-%d", i);
    snprintf(name, 32, "user%d", i);
    for (k = 0; k < 400; k++) {
        groups[k] = (char)('a' + (i + k) % 26);
    }
    groups[400] = '\0';
    memset(u, 0, sizeof(*u));
    u->id = 1000 + i;
    u->username = name;
    u->groups = groups;
    u->last_login = i;
}

/* Several processes put, get and drop the same few keys in a cache of one
 * set as fast as they can: every hit is whole and belongs to its key. */
START_TEST(test_cache_concurrent_writers_never_tear)
{
    enum { PROCS = 4, ROUNDS = 200000, KEYS = 6 };
    rus_cache_t *c = shared_cache(2, 1000);
    pid_t pids[PROCS];
    int n, status;

    for (n = 0; n < PROCS; n++) {
        pids[n] = fork();
        ck_assert_int_ge(pids[n], 0);
        if (pids[n] == 0) {
            char key[32], name[32], groups[401], want[401];
            apr_pool_t *p;
            rus_user_t u, out;
            unsigned int seed = (unsigned int)getpid();
            int r, hits = 0;

            apr_pool_create(&p, NULL);
            for (r = 0; r < ROUNDS; r++) {
                int i = rand_r(&seed) % KEYS, op = rand_r(&seed) % 8;

                entry_for(i, key, name, groups, &u);
                if (op == 0) {
                    rus_cache_drop(c, key);
                }
                else if (op < 3) {
                    rus_cache_put(c, key, 1, rus_cache_ticket(c, key), &u,
                                  NULL);
                }
                else if (rus_cache_get(c, key, 1, &out, NULL, p)) {
                    hits++;
                    memcpy(want, groups, sizeof(want));
                    if (out.id != 1000 + i || out.last_login != i
                        || strcmp(out.username, name) != 0
                        || strcmp(out.groups, want) != 0) {
                        _exit(1);
                    }
                }
                if (r % 1000 == 0) {
                    apr_pool_clear(p);
                }
            }
            _exit(hits > 0 ? 0 : 2);
        }
    }
    for (n = 0; n < PROCS; n++) {
        ck_assert_int_eq(waitpid(pids[n], &status, 0), pids[n]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "process %d: status %d", n, status);
    }
}
END_TEST

/* A user's answers go by generation, whatever their keys; other users'
 * stay; a put whose ticket predates the bump is refused; a flush takes
 * everything. */
START_TEST(test_cache_drop_user_and_flush)
{
    rus_cache_t *c = rus_cache_create(pool, 64, 100);
    rus_user_t ann = user_named("ann", "g"), bob = user_named("bob", "");
    rus_session_t s;
    rus_cache_ticket_t early;
    rus_user_t out;

    memset(&s, 0, sizeof(s));
    s.vhost = "v:80";
    bob.id = 8;
    rus_cache_put(c, "u:ann", 5, rus_cache_ticket(c, "u:ann"), &ann, NULL);
    rus_cache_put(c, "hash-ann", 5, rus_cache_ticket(c, "hash-ann"), &ann, &s);
    rus_cache_put(c, "u:bob", 5, rus_cache_ticket(c, "u:bob"), &bob, NULL);
    early = rus_cache_ticket(c, "hash-ann2");
    rus_cache_drop_user(c, ann.id);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 5, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "hash-ann", 5, &out, &s, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "u:bob", 5, &out, NULL, pool), 1);
    /* read before the bump: refused; after it: kept */
    rus_cache_put(c, "hash-ann2", 5, early, &ann, &s);
    ck_assert_int_eq(rus_cache_get(c, "hash-ann2", 5, &out, &s, pool), 0);
    rus_cache_put(c, "u:ann", 5, rus_cache_ticket(c, "u:ann"), &ann, NULL);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 5, &out, NULL, pool), 1);
    rus_cache_flush(c);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 5, &out, NULL, pool), 0);
    ck_assert_int_eq(rus_cache_get(c, "u:bob", 5, &out, NULL, pool), 0);
    /* the shared applied id only moves up */
    ck_assert_int_eq(rus_cache_applied(c), 0);
    rus_cache_set_applied(c, 9);
    rus_cache_set_applied(c, 4);
    ck_assert_int_eq(rus_cache_applied(c), 9);
}
END_TEST

/* This process's hits and misses. */
START_TEST(test_cache_stats_count_gets)
{
    rus_cache_t *c = rus_cache_create(pool, 64, 100);
    rus_user_t u = user_named("ann", ""), out;
    apr_uint64_t hits = 9, misses = 9;

    rus_cache_stats(NULL, &hits, &misses);
    ck_assert(hits == 0 && misses == 0);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 5, &out, NULL, pool), 0);
    rus_cache_put(c, "u:ann", 5, rus_cache_ticket(c, "u:ann"), &u, NULL);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 5, &out, NULL, pool), 1);
    ck_assert_int_eq(rus_cache_get(c, "u:ann", 6, &out, NULL, pool), 1);
    rus_cache_stats(c, &hits, &misses);
    ck_assert(hits == 2 && misses == 1);
}
END_TEST

TCase *rus_cache_test_case(void)
{
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cache_off);
    tcase_add_test(tc, test_cache_ttl_and_drop);
    tcase_add_test(tc, test_cache_put_after_drop_is_refused);
    tcase_add_test(tc, test_cache_collisions_and_limits);
    tcase_add_test(tc, test_cache_working_set_fits);
    tcase_add_test(tc, test_cache_init_checks);
    tcase_add_test(tc, test_cache_drop_user_and_flush);
    tcase_add_test(tc, test_cache_stats_count_gets);
    tcase_add_test(tc, test_cache_shared_across_fork);
    tcase_add_test(tc, test_cache_concurrent_writers_never_tear);
    tcase_set_timeout(tc, 60);
    return tc;
}
