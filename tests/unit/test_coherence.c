/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The answer cache kept true to the store (rus_coherence.c) against a real
 * SQLite store, with the writes committed by another process: what
 * another child, remoteuser-admin or the sqlite3 shell would do. */

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_shm.h>
#include <apr_strings.h>

#include <sqlite3.h>

#include "rus_cache.h"
#include "rus_coherence.h"
#include "rus_store.h"
#include "test_common.h"

#define NOW 5000

/* Sessions expire long after the real clock's now: the store logs the
 * deletion of a live session only. */
#define LATER APR_INT64_C(4000000000)

static rus_test_store_t ts;
static rus_user_t alice, bob;

/* The session hashes: 64 hex digits, as the store keeps them. */
#define HASH_A1 \
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HASH_A2 \
    "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"
#define HASH_B1 \
    "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"

/* alice (id 1) and bob (id 2), both in "staff", alice with sessions A1
 * and A2, bob with B1. */
static void setup(void)
{
    rus_group_t g;

    rus_test_store_open(&ts, 0);
    ck_assert_int_eq(rus_user_add(ts.conn, "alice", 100, 1, &alice, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(ts.conn, "bob", 100, 1, &bob, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(ts.conn, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(ts.conn, "staff", &g, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(ts.conn, g.id, alice.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(ts.conn, g.id, bob.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(ts.conn, HASH_A1, alice.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(ts.conn, HASH_A2, alice.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(ts.conn, HASH_B1, bob.id, "v:80", NOW,
                                        LATER),
                     APR_SUCCESS);
}

static void teardown(void)
{
    rus_test_store_close(&ts);
}

/* Commit @a sql from another process on a connection of its own, the way
 * the sqlite3 shell would; returns once that process has exited. */
static void commit_elsewhere(const char *sql)
{
    pid_t pid = fork();
    int status = 0;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sqlite3 *h = NULL;
        int rc = sqlite3_open(ts.path, &h);

        if (rc == SQLITE_OK) {
            sqlite3_busy_timeout(h, 5000);
            rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
        }
        sqlite3_close(h);
        _exit(rc == SQLITE_OK ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed",
                  sql);
}

/* Cache what the store says about @a key ("u:NAME" or a session hash),
 * as the request path does: ticket, read, put. */
static void cache_from_store(rus_cache_t *cache, const char *key)
{
    rus_cache_ticket_t ticket = rus_cache_ticket(cache, key);
    rus_session_t s;
    rus_user_t u;

    if (strncmp(key, "u:", 2) == 0) {
        ck_assert_int_eq(rus_user_find(ts.conn, key + 2, &u, ts.pool),
                         APR_SUCCESS);
        rus_cache_put(cache, key, NOW, ticket, &u, NULL);
    }
    else {
        ck_assert_int_eq(rus_session_find(ts.conn, key, &s, &u, ts.pool),
                         APR_SUCCESS);
        rus_cache_put(cache, key, NOW, ticket, &u, &s);
    }
}

static const char *const all_keys[] = { "u:alice", "u:bob", HASH_A1, HASH_A2,
                                        HASH_B1 };
#define NKEYS ((int)(sizeof(all_keys) / sizeof(all_keys[0])))

static void cache_all(rus_cache_t *cache)
{
    int i;

    for (i = 0; i < NKEYS; i++) {
        cache_from_store(cache, all_keys[i]);
    }
}

/* Which of all_keys are hits at @a now, as a string of 0s and 1s in their
 * order. */
static const char *hits_at(rus_cache_t *cache, apr_int64_t now)
{
    char *out = apr_pcalloc(ts.pool, NKEYS + 1);
    rus_session_t s;
    rus_user_t u;
    int i;

    for (i = 0; i < NKEYS; i++) {
        out[i] =
            rus_cache_get(cache, all_keys[i], now, &u,
                          strncmp(all_keys[i], "u:", 2) ? &s : NULL, ts.pool)
                ? '1'
                : '0';
    }
    return out;
}

static const char *hits(rus_cache_t *cache)
{
    return hits_at(cache, NOW);
}

static void synced(rus_coh_t *coh)
{
    const char *warn = NULL;

    ck_assert_msg(rus_coh_sync(coh, NOW, &warn, ts.pool) == APR_SUCCESS,
                  "sync: %s", warn ? warn : "?");
}

/* The guard as the glue sets it, counting the SYNCs it is asked for. */
static int guard_syncs;

static int counting_guard(void *baton, rus_cache_guard_e what, apr_int64_t now)
{
    if (what == RUS_CACHE_GUARD_SYNC) {
        guard_syncs++;
    }
    return rus_coh_guard(baton, what, now);
}

/* With the guard set, the cache keeps itself true at lookup: a hit found
 * after a commit elsewhere is answered only after that commit's changes
 * were applied (no explicit sync), and a lookup that misses asks for no
 * sync at all, however many commits came (a flood of first logins costs
 * no change-log read). */
START_TEST(test_coh_guard_syncs_only_for_hits)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    rus_user_t u;
    int i;

    ck_assert_ptr_nonnull(coh);
    synced(coh);
    rus_cache_set_guard(cache, counting_guard, coh);
    cache_all(cache);
    guard_syncs = 0;
    ck_assert_str_eq(hits(cache), "11111");
    ck_assert_int_eq(guard_syncs, 0); /* nothing committed: PEEK only */

    /* commits that change nothing cached, and lookups that miss */
    for (i = 0; i < 5; i++) {
        commit_elsewhere(apr_psprintf(ts.pool,
                                      "INSERT INTO users (username, "
                                      "date_joined) VALUES ('new%d', 1)",
                                      i));
        ck_assert_int_eq(rus_cache_get(cache,
                                       apr_psprintf(ts.pool, "u:new%d", i), NOW,
                                       &u, NULL, ts.pool),
                         0);
    }
    ck_assert_int_eq(guard_syncs, 0);

    /* a change that makes cached answers wrong: the next hits see it */
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'alice'");
    ck_assert_str_eq(hits(cache), "01001");
    ck_assert_int_eq(guard_syncs, 1); /* the first hit synced, once */
    commit_elsewhere("DELETE FROM sessions WHERE token_hash = '" HASH_B1 "'");
    ck_assert_str_eq(hits(cache), "01000");
}
END_TEST

/* A guard whose SYNC fails turns every hit it cannot vouch for into a
 * miss, and keeps the warning for the glue, once. */
START_TEST(test_coh_guard_failing_means_misses)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    char why[256];

    ck_assert_ptr_nonnull(coh);
    synced(coh);
    rus_cache_set_guard(cache, rus_coh_guard, coh);
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");
    ck_assert_int_eq(rus_coh_take_warning(coh, why, sizeof(why)), 0);
    /* the WAL index removed underneath (seen at the next second's look):
     * the watch cannot vouch any more */
    commit_elsewhere("UPDATE users SET is_active = 1");
    ck_assert_int_eq(unlink(apr_pstrcat(ts.pool, ts.path, "-shm", NULL)), 0);
    ck_assert_str_eq(hits_at(cache, NOW + 1), "00000");
    ck_assert_int_eq(rus_coh_take_warning(coh, why, sizeof(why)), 1);
    ck_assert_msg(strstr(why, "-shm") != NULL || strstr(why, "WAL") != NULL,
                  "%s", why);
    ck_assert_int_eq(rus_coh_take_warning(coh, why, sizeof(why)), 0);
    ck_assert_str_eq(hits_at(cache, NOW + 2), "00000");
}
END_TEST

/* Each kind of change committed by another process is seen at the next
 * sync, and drops exactly the answers it makes wrong. */
START_TEST(test_coh_other_process_changes_are_seen)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    apr_uint64_t base;

    ck_assert_ptr_nonnull(coh);
    synced(coh);
    base = rus_coh_invalidations(coh); /* the setup's own changes */
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");

    /* alice disabled by the shell: her user entry and both sessions go,
     * bob's stay. Before the sync the cache cannot know. */
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'alice'");
    ck_assert_str_eq(hits(cache), "11111");
    synced(coh);
    ck_assert_str_eq(hits(cache), "01001");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 1);

    /* her answers come back from the store, inactive */
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");

    /* one session deleted: that one only */
    commit_elsewhere("DELETE FROM sessions WHERE token_hash = '" HASH_A2 "'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "11101");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 2);

    /* bob's membership removed: bob's user entry and session, not alice's */
    commit_elsewhere("DELETE FROM user_groups WHERE user_id ="
                     " (SELECT id FROM users WHERE username = 'bob')");
    synced(coh);
    ck_assert_str_eq(hits(cache), "10100");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 3);

    /* added again; then the group renamed (both are members again) */
    cache_from_store(cache, "u:bob");
    cache_from_store(cache, HASH_B1);
    commit_elsewhere("INSERT INTO user_groups (user_id, group_id)"
                     " SELECT u.id, g.id FROM users u, groups g"
                     " WHERE u.username = 'bob' AND g.name = 'staff'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "10100");
    cache_from_store(cache, "u:bob");
    cache_from_store(cache, HASH_B1);
    commit_elsewhere("UPDATE groups SET name = 'crew' WHERE name = 'staff'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "00000");

    /* a rename, and a deletion (its sessions and memberships go too) */
    cache_from_store(cache, "u:alice");
    cache_from_store(cache, "u:bob");
    cache_from_store(cache, HASH_A1);
    cache_from_store(cache, HASH_B1);
    ck_assert_str_eq(hits(cache), "11101");
    commit_elsewhere("UPDATE users SET username = 'alicia'"
                     " WHERE username = 'alice'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "01001");
    commit_elsewhere("DELETE FROM users WHERE username = 'bob'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "00000");
}
END_TEST

/* The control: the same commit with the change log's triggers removed is
 * NOT seen, however often the cache syncs. This is what proves that the
 * mechanism (triggers feeding the log, the log read on a commit) is what
 * makes test_coh_other_process_changes_are_seen pass, and not something
 * else (an expiry, a flush, a miss for another reason). */
START_TEST(test_coh_control_without_triggers_nothing_is_seen)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    apr_uint64_t base;

    synced(coh);
    base = rus_coh_invalidations(coh); /* the setup's own changes */
    cache_all(cache);
    commit_elsewhere("DROP TRIGGER changes_user_update;"
                     "DROP TRIGGER changes_session_delete;"
                     "DROP TRIGGER changes_member_delete;");
    synced(coh);
    ck_assert_str_eq(hits(cache), "11111");
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'alice';"
                     "DELETE FROM sessions WHERE token_hash = '" HASH_B1 "';"
                     "DELETE FROM user_groups;");
    synced(coh);
    synced(coh);
    ck_assert_str_eq(hits(cache), "11111");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 0);
}
END_TEST

/* The mark moves with a commit by another process, and only then. */
START_TEST(test_coh_mark_moves_with_other_process_commits)
{
    rus_watch_t *watch = NULL;
    rus_store_mark_t m1, m2, m3;
    const char *msg = NULL;

    ck_assert_int_eq(rus_store_watch(&watch, ts.conn, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(rus_store_watch_mark(watch, NOW, &m1, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_store_watch_mark(watch, NOW, &m2, &msg), APR_SUCCESS);
    ck_assert(memcmp(&m1, &m2, sizeof(m1)) == 0);
    commit_elsewhere("UPDATE users SET last_login = 7 WHERE username = 'bob'");
    ck_assert_int_eq(rus_store_watch_mark(watch, NOW, &m3, &msg), APR_SUCCESS);
    ck_assert(memcmp(&m1, &m3, sizeof(m1)) != 0);
}
END_TEST

/* Bookkeeping, by anyone, drops nothing and logs nothing: last_login and
 * last_seen written, a touch's clock clamp (expires_at lowered with
 * created_at), a new session of another user. */
START_TEST(test_coh_bookkeeping_invalidates_nothing)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    apr_uint64_t base;
    long long logged =
        rus_test_sql_int(ts.path, "SELECT COUNT(*) FROM changes");
    int purged = 0;

    synced(coh);
    base = rus_coh_invalidations(coh); /* the setup's own changes */
    cache_all(cache);
    commit_elsewhere(
        "UPDATE users SET last_login = 4999 WHERE username = 'alice'");
    commit_elsewhere("UPDATE sessions SET last_seen = 5001"
                     " WHERE token_hash = '" HASH_A1 "'");
    commit_elsewhere("UPDATE sessions SET last_seen = 10,"
                     " expires_at = expires_at - MAX(created_at - 10, 0),"
                     " created_at = MIN(created_at, 10)"
                     " WHERE token_hash = '" HASH_B1 "'");
    commit_elsewhere(
        "INSERT INTO sessions (token_hash, user_id, vhost,"
        " created_at, last_seen, expires_at)"
        " SELECT 'c3', id, 'v:80', 5000, 5000, 4000000000 FROM users"
        " WHERE username = 'bob'");
    /* the purge of an expired session (another user's, expired by the
     * real clock) */
    commit_elsewhere("INSERT INTO sessions (token_hash, user_id, vhost,"
                     " created_at, last_seen, expires_at)"
                     " SELECT 'old', id, 'v:80', 10, 10, 20 FROM users"
                     " WHERE username = 'bob'");
    ck_assert_int_eq(rus_session_purge(ts.conn, 100000, &purged), APR_SUCCESS);
    ck_assert_int_eq(purged, 1);
    /* and the module's own, through the store */
    ck_assert_int_eq(rus_session_touch(ts.conn, HASH_A2, NOW + 10),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_touch_login(ts.conn, bob.id, NOW + 100, 60),
                     APR_SUCCESS);
    synced(coh);
    ck_assert_str_eq(hits(cache), "11111");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 0);
    ck_assert_int_eq(rus_test_sql_int(ts.path, "SELECT COUNT(*) FROM changes"),
                     logged);
}
END_TEST

/* Where the check cannot be made (here: the store is not in WAL mode, so
 * there is no WAL index to read), the sync fails, warns once, and the
 * caller must not use the cache. */
START_TEST(test_coh_unwatchable_store_means_no_cache)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh;
    const char *warn = NULL;

    rus_store_disconnect(ts.conn);
    ts.conn = NULL;
    rus_test_sql(ts.path, "PRAGMA journal_mode = DELETE");
    coh = rus_coh_create(ts.store, cache, ts.pool);
    ck_assert_int_ne(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(warn);
    ck_assert_msg(strstr(warn, "not in WAL mode") != NULL, "%s", warn);
    /* told once per streak; still refused, also a second later */
    ck_assert_int_ne(rus_coh_sync(coh, NOW, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_null(warn);
    ck_assert_int_ne(rus_coh_sync(coh, NOW + 1, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_null(warn);
    /* no cache at all: no sync either */
    ck_assert_ptr_null(rus_coh_create(ts.store, NULL, ts.pool));
    ck_assert_int_ne(rus_coh_sync(NULL, NOW, &warn, ts.pool), APR_SUCCESS);
}
END_TEST

/* Two processes sharing one cache, each with its own view: when one of
 * them has applied a change, the shared entries are gone for the other
 * too, before its own sync; its sync then finds the change applied (the
 * shared "applied" id) and drops nothing twice, but still must run: a
 * change the first one has not seen is the second one's to apply. */
START_TEST(test_coh_one_process_applies_for_all)
{
    apr_shm_t *shm = NULL;
    rus_cache_t *cache;
    rus_coh_t *coh;
    apr_uint64_t base;
    pid_t pid;
    int status = 0;

    ck_assert_int_eq(apr_shm_create(&shm, rus_cache_size(4096), NULL, ts.pool),
                     APR_SUCCESS);
    cache = rus_cache_init(apr_shm_baseaddr_get(shm), rus_cache_size(4096),
                           4096, 1000, ts.pool);
    coh = rus_coh_create(ts.store, cache, ts.pool);
    synced(coh);
    base = rus_coh_invalidations(coh); /* the setup's own changes */
    cache_all(cache);
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'alice'");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* a sibling child with a view of its own */
        rus_coh_t *other = rus_coh_create(ts.store, cache, ts.pool);
        const char *warn = NULL;

        _exit(rus_coh_sync(other, NOW, &warn, ts.pool) == APR_SUCCESS
                      && rus_coh_invalidations(other) == 1
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WIFEXITED(status) && WEXITSTATUS(status) == 0, 1);
    ck_assert_str_eq(hits(cache), "01001");
    synced(coh);
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 0);
    /* the next change, seen by this one first */
    cache_from_store(cache, "u:alice");
    commit_elsewhere("DELETE FROM sessions WHERE token_hash = '" HASH_B1 "'");
    ck_assert_str_eq(hits(cache), "11001");
    synced(coh);
    ck_assert_str_eq(hits(cache), "11000");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 1);
}
END_TEST

/* A WAL index replaced underneath (the store file replaced, which the
 * store pool refuses from then on too) is noticed within a second: the
 * watch is given up and the cache not used. */
START_TEST(test_coh_replaced_wal_index_means_no_cache)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    const char *warn = NULL;
    char cmd[512];

    synced(coh);
    apr_snprintf(cmd, sizeof(cmd),
                 "cp '%s-shm' '%s-new' && mv '%s-new' '%s-shm'", ts.path,
                 ts.path, ts.path, ts.path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(rus_coh_sync(coh, NOW + 1, &warn, ts.pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(warn);
    ck_assert_msg(strstr(warn, "replaced") != NULL, "%s", warn);
}
END_TEST

/* A read of more than 256 changes (a mass revocation) empties the cache
 * instead of dropping them one by one, and goes on from the newest. */
START_TEST(test_coh_many_changes_flush)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    apr_uint64_t base;

    synced(coh);
    base = rus_coh_invalidations(coh);
    commit_elsewhere("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                     " SELECT i + 1 FROM n WHERE i < 300)"
                     " INSERT INTO sessions (token_hash, user_id, vhost,"
                     " created_at, last_seen, expires_at)"
                     " SELECT 'm' || i, 1, 'v:80', 5000, 5000, 4000000000"
                     " FROM n");
    synced(coh);
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");
    commit_elsewhere("DELETE FROM sessions WHERE token_hash LIKE 'm%'");
    synced(coh);
    /* bob had nothing to do with it: the price of a mass change */
    ck_assert_str_eq(hits(cache), "00000");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 256 + 1);
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");
    synced(coh);
    ck_assert_str_eq(hits(cache), "11111");
    commit_elsewhere("DELETE FROM sessions WHERE token_hash = '" HASH_B1 "'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "11110");
    ck_assert_int_eq(rus_coh_invalidations(coh) - base, 256 + 2);
}
END_TEST

/* Restore the store from @a copy in another process, as sqlite3's .restore
 * does it (the backup API, pages copied into the live file: no trigger
 * fires). */
static void restore_elsewhere(const char *copy)
{
    pid_t pid = fork();
    int status = 0;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sqlite3 *src = NULL, *dst = NULL;
        sqlite3_backup *b;
        int rc = sqlite3_open(copy, &src);

        if (rc == SQLITE_OK) {
            rc = sqlite3_open(ts.path, &dst);
        }
        if (rc == SQLITE_OK) {
            sqlite3_busy_timeout(dst, 5000);
            b = sqlite3_backup_init(dst, "main", src, "main");
            rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
            rc = rc == SQLITE_DONE ? sqlite3_backup_finish(b) : rc;
        }
        sqlite3_close(src);
        sqlite3_close(dst);
        _exit(rc == SQLITE_OK ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "restore failed");
}

/* A store restored from an older copy (whose change log ends before what
 * the cache applied) empties the cache, and later changes are seen. */
START_TEST(test_coh_restored_store_flushes)
{
    rus_cache_t *cache = rus_cache_create(ts.pool, 4096, 1000);
    rus_coh_t *coh = rus_coh_create(ts.store, cache, ts.pool);
    const char *copy = apr_pstrcat(ts.pool, ts.dir, "/copy.db", NULL);

    synced(coh);
    rus_test_sql(ts.path, apr_psprintf(ts.pool, "VACUUM INTO '%s'", copy));
    /* after the copy: bob disabled and enabled again (logged) */
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'bob';"
                     "UPDATE users SET is_active = 1 WHERE username = 'bob'");
    synced(coh);
    cache_all(cache);
    ck_assert_str_eq(hits(cache), "11111");
    restore_elsewhere(copy);
    synced(coh);
    ck_assert_str_eq(hits(cache), "00000");
    /* the log goes on from the restored one */
    cache_all(cache);
    commit_elsewhere("UPDATE users SET is_active = 0 WHERE username = 'alice'");
    synced(coh);
    ck_assert_str_eq(hits(cache), "01001");
}
END_TEST

TCase *rus_coherence_test_case(void)
{
    TCase *tc = tcase_create("coherence");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_coh_other_process_changes_are_seen);
    tcase_add_test(tc, test_coh_control_without_triggers_nothing_is_seen);
    tcase_add_test(tc, test_coh_mark_moves_with_other_process_commits);
    tcase_add_test(tc, test_coh_bookkeeping_invalidates_nothing);
    tcase_add_test(tc, test_coh_unwatchable_store_means_no_cache);
    tcase_add_test(tc, test_coh_one_process_applies_for_all);
    tcase_add_test(tc, test_coh_replaced_wal_index_means_no_cache);
    tcase_add_test(tc, test_coh_many_changes_flush);
    tcase_add_test(tc, test_coh_restored_store_flushes);
    tcase_add_test(tc, test_coh_guard_syncs_only_for_hits);
    tcase_add_test(tc, test_coh_guard_failing_means_misses);
    tcase_set_timeout(tc, 60);
    return tc;
}
