/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The store contract: what the glue and remoteuser-admin rely on, through
 * rus_store.h alone, run once per backend of rus_test_backends[] (the
 * loop index _i). A new backend passes this before anything else; what is
 * particular to one backend (its files, its SQL) is tested in its own
 * suite, e.g. test_store_sqlite.c. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "rus_session.h"
#include "rus_store.h"
#include "test_common.h"

static rus_test_store_t ts;

static void teardown(void)
{
    rus_test_store_close(&ts);
}

/* The fixture of backend @i; its connection. */
static rus_conn_t *open_backend(int i)
{
    rus_test_store_open(&ts, i);
    return ts.conn;
}

static rus_user_t added(rus_conn_t *conn, const char *name, int active)
{
    rus_user_t u;

    ck_assert_msg(rus_user_add(conn, name, 1000, active, &u, ts.pool)
                      == APR_SUCCESS,
                  "add %s: %s", name, rus_store_error(conn));
    return u;
}

static rus_group_t group(rus_conn_t *conn, const char *name)
{
    rus_group_t g;

    ck_assert_int_eq(rus_group_find(conn, name, &g, ts.pool), APR_SUCCESS);
    return g;
}

/* The strings of an array of char *, joined by ','. */
static const char *joined(const apr_array_header_t *a)
{
    return apr_array_pstrcat(ts.pool, a, ',');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- specs ------------------------------------------------------------ */

START_TEST(test_contract_spec)
{
    const char *scheme = rus_test_backends[_i].name, *msg = NULL;
    rus_store_t *store = NULL;

    open_backend(_i);
    ck_assert_int_eq(rus_store_check(ts.store, ts.pool, &msg), APR_SUCCESS);
    ck_assert_str_ne(rus_store_describe(ts.store), "");
    ck_assert_int_eq(rus_store_create(&store, ts.pool, "nosuch:x", NULL, NULL,
                                      &msg),
                     RUS_STORE_ESPEC);
    ck_assert_ptr_nonnull(strstr(msg, "known: "));
    ck_assert_ptr_nonnull(strstr(msg, scheme));
    ck_assert_int_eq(rus_store_create(&store, ts.pool, "no-scheme", NULL, NULL,
                                      &msg),
                     RUS_STORE_ESPEC);
    ck_assert_int_eq(rus_store_create(&store, ts.pool,
                                      apr_pstrcat(ts.pool, scheme, ":", NULL),
                                      NULL, NULL, &msg),
                     RUS_STORE_ESPEC);
}
END_TEST

/* ---- users on the request path ---------------------------------------- */

START_TEST(test_contract_user_create_find)
{
    rus_conn_t *conn = open_backend(_i);
    rus_user_t u, v;
    int created = -1;

    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_int_gt(u.id, 0);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_int_eq(u.is_active, 1);
    ck_assert_int_eq(u.date_joined, 100);
    ck_assert_int_eq(u.last_login, 100);
    ck_assert_str_eq(u.groups, "");
    /* a second create returns the row, changes nothing */
    ck_assert_int_eq(rus_user_create(conn, "ann", 200, &v, &created, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(v.id, u.id);
    ck_assert_int_eq(v.date_joined, 100);
    ck_assert_int_eq(rus_user_find(conn, "ann", &v, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(v.id, u.id);
    /* names are exact */
    ck_assert_int_eq(rus_user_find(conn, "Ann", &v, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "an", &v, ts.pool), APR_ENOENT);
}
END_TEST

START_TEST(test_contract_user_touch_login)
{
    rus_conn_t *conn = open_backend(_i);
    rus_user_t u;
    int created = 0;

    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, ts.pool),
                     APR_SUCCESS);
    /* written less than the interval ago: left alone */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 150, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.last_login, 100);
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 200, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.last_login, 200);
    /* never backwards */
    ck_assert_int_eq(rus_user_touch_login(conn, u.id, 150, 0), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.last_login, 200);
}
END_TEST

/* Quotes, statement separators and wildcards are part of a name. */
START_TEST(test_contract_text_is_data)
{
    static const char *const names[] = { "o'brien", "a\"b", "x; DROP users",
                                         "100%",    "_",    "j\xc3\xb6rg" };
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *users = NULL;
    rus_user_t u;
    int i;

    for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        added(conn, names[i], 1);
        ck_assert_int_eq(rus_user_find(conn, names[i], &u, ts.pool),
                         APR_SUCCESS);
        ck_assert_str_eq(u.username, names[i]);
    }
    ck_assert_int_eq(rus_user_find(conn, "%", &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_list(conn, &users, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(users->nelts, 6);
}
END_TEST

/* ---- users: administration -------------------------------------------- */

START_TEST(test_contract_user_admin)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *users = NULL;
    rus_user_t zed, amy, u;

    zed = added(conn, "zed", 1);
    amy = added(conn, "amy", 0);
    ck_assert_int_eq(zed.is_active, 1);
    ck_assert_int_eq(zed.date_joined, 1000);
    ck_assert_int_eq(amy.is_active, 0);
    ck_assert_int_eq(amy.last_login, 0); /* never logged in */
    ck_assert_int_eq(rus_user_add(conn, "amy", 5, 1, &u, ts.pool), APR_EEXIST);

    /* by name, whatever the backend's order */
    ck_assert_int_eq(rus_user_list(conn, &users, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(users->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(users, 0, rus_user_t).username, "amy");
    ck_assert_str_eq(APR_ARRAY_IDX(users, 1, rus_user_t).username, "zed");

    ck_assert_int_eq(rus_user_rename(conn, zed.id, "amy"), APR_EEXIST);
    ck_assert_int_eq(rus_user_rename(conn, zed.id, "bob"), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "zed", &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.id, zed.id);

    ck_assert_int_eq(rus_user_set_active(conn, amy.id, 1, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "amy", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.is_active, 1);
    ck_assert_int_eq(rus_user_set_active(conn, amy.id + zed.id + 99, 0, NULL),
                     APR_ENOENT);
    ck_assert_int_eq(rus_user_delete(conn, amy.id + zed.id + 99), APR_ENOENT);
    ck_assert_int_eq(rus_user_delete(conn, amy.id), APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(conn, "amy", &u, ts.pool), APR_ENOENT);
}
END_TEST

/* Disabling and deleting a user end its sessions; deleting also its
 * memberships. The glue relies on both (a revoked user stays out). */
START_TEST(test_contract_disable_and_delete_end_sessions)
{
    rus_conn_t *conn = open_backend(_i);
    rus_session_t s;
    rus_user_t ann, bob, u;
    rus_group_t g;

    ann = added(conn, "ann", 1);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    g = group(conn, "staff");
    ck_assert_int_eq(rus_group_add_member(conn, g.id, bob.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "ha", ann.id, "v:80", 10, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "hb", bob.id, "v:80", 10, 9000),
                     APR_SUCCESS);

    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "ha", &s, &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(u.is_active, 0);

    ck_assert_int_eq(rus_user_delete(conn, bob.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "hb", &s, &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(group(conn, "staff").members, 0);
}
END_TEST

/* ---- what changed ----------------------------------------------------- */

/* The changes one walk of rus_store_changes_since() reported, as text:
 * "u<user id>" or "s<hash>", comma-separated. */
typedef struct change_walk_t {
    apr_array_header_t *seen;
    apr_int64_t last_id;
    int out_of_order;
} change_walk_t;

static apr_status_t record_change(void *baton, const rus_change_t *ch)
{
    change_walk_t *w = baton;

    if (ch->id <= w->last_id) {
        w->out_of_order = 1;
    }
    w->last_id = ch->id;
    APR_ARRAY_PUSH(w->seen, const char *) =
        ch->session_hash
            ? apr_pstrcat(ts.pool, "s", ch->session_hash, NULL)
            : apr_psprintf(ts.pool, "u%" APR_INT64_T_FMT, ch->user_id);
    return APR_SUCCESS;
}

/* The changes after @a since; *plast gets the last id. */
static const char *changes_after(rus_conn_t *conn, apr_int64_t since,
                                 apr_int64_t *plast)
{
    change_walk_t w;

    w.seen = apr_array_make(ts.pool, 4, sizeof(char *));
    w.last_id = since;
    w.out_of_order = 0;
    ck_assert_msg(rus_store_changes_since(conn, since, record_change, &w, plast)
                      == APR_SUCCESS,
                  "changes since: %s", rus_store_error(conn));
    ck_assert_int_eq(w.out_of_order, 0);
    ck_assert_int_eq(*plast, w.last_id);
    return joined(w.seen);
}

/* An expiry after the real clock's now: a live session. */
#define LATER APR_INT64_C(4000000000)

/* Every write that can make a cached answer wrong is logged, by user or by
 * session, in order; bookkeeping is not; the log can be pruned. */
START_TEST(test_contract_changes_since)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t last = 0, mark;
    rus_user_t ann, bob;
    rus_group_t g;
    int pruned = -1;

    ann = added(conn, "ann", 1);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "ha", ann.id, "v:80", 10, LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "hb", bob.id, "v:80", 10, LATER),
                     APR_SUCCESS);
    /* nothing so far makes an answer wrong */
    ck_assert_str_eq(changes_after(conn, 0, &last), "");
    ck_assert_int_eq(last, 0);
    g = group(conn, "staff");
    ck_assert_int_eq(rus_group_add_member(conn, g.id, bob.id), APR_SUCCESS);
    ck_assert_str_eq(changes_after(conn, 0, &last),
                     apr_psprintf(ts.pool, "u%" APR_INT64_T_FMT, bob.id));
    mark = last;
    /* bookkeeping */
    ck_assert_int_eq(rus_user_touch_login(conn, ann.id, 500, 60), APR_SUCCESS);
    ck_assert_int_eq(rus_session_touch(conn, "ha", 20), APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(conn, bob.id, 1, NULL), APR_SUCCESS);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    ck_assert_int_eq(last, mark);
    /* a revocation, a rename, a membership removed */
    ck_assert_int_eq(rus_session_revoke(conn, "hb"), APR_SUCCESS);
    ck_assert_int_eq(rus_user_rename(conn, ann.id, "anne"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_remove_member(conn, g.id, bob.id), APR_SUCCESS);
    ck_assert_str_eq(changes_after(conn, mark, &last),
                     apr_psprintf(ts.pool,
                                  "shb,u%" APR_INT64_T_FMT
                                  ",u%" APR_INT64_T_FMT,
                                  ann.id, bob.id));
    ck_assert_int_gt(last, mark);
    /* disabling ends the sessions too: the user and its session, in
     * either order (PostgreSQL deletes the sessions first, see
     * pg_user_set_active) */
    mark = last;
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 0, NULL), APR_SUCCESS);
    {
        const char *got = changes_after(conn, mark, &last);

        ck_assert_msg(strcmp(got,
                             apr_psprintf(ts.pool, "u%" APR_INT64_T_FMT ",sha",
                                          ann.id))
                              == 0
                          || strcmp(got, apr_psprintf(ts.pool,
                                                      "sha,u%" APR_INT64_T_FMT,
                                                      ann.id))
                                 == 0,
                      "changes after disabling: %s", got);
    }
    /* pruning: rows of the future stay, of the past go */
    ck_assert_int_eq(rus_store_changes_prune(conn, 0, &pruned), APR_SUCCESS);
    ck_assert_int_eq(pruned, 0);
    ck_assert_int_eq(rus_store_changes_prune(conn, APR_INT64_C(1) << 40,
                                             &pruned),
                     APR_SUCCESS);
    ck_assert_int_eq(pruned, 6);
    ck_assert_str_eq(changes_after(conn, 0, &last), "");
}
END_TEST

/* ---- groups ----------------------------------------------------------- */

START_TEST(test_contract_groups)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *groups = NULL, *names = NULL;
    rus_group_t staff, admins, b, x;
    rus_user_t ann, bob, u;

    ann = added(conn, "ann", 1);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "admins"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "b"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_EEXIST);
    ck_assert_int_eq(rus_group_find(conn, "nope", &x, ts.pool), APR_ENOENT);
    staff = group(conn, "staff");
    admins = group(conn, "admins");
    b = group(conn, "b");
    ck_assert_str_eq(staff.name, "staff");
    ck_assert_int_eq(staff.members, 0);

    ck_assert_int_eq(rus_group_add_member(conn, staff.id, bob.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, staff.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, b.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, admins.id, ann.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, staff.id, ann.id), APR_EEXIST);

    /* every list by name, a user's groups too */
    ck_assert_int_eq(rus_group_list(conn, &groups, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(groups->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(groups, 0, rus_group_t).name, "admins");
    ck_assert_str_eq(APR_ARRAY_IDX(groups, 1, rus_group_t).name, "b");
    ck_assert_str_eq(APR_ARRAY_IDX(groups, 2, rus_group_t).name, "staff");
    ck_assert_int_eq(APR_ARRAY_IDX(groups, 2, rus_group_t).members, 2);
    ck_assert_int_eq(rus_group_members(conn, staff.id, &names, ts.pool),
                     APR_SUCCESS);
    ck_assert_str_eq(joined(names), "ann,bob");
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "admins,b,staff");
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, ts.pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "staff");

    ck_assert_int_eq(rus_group_remove_member(conn, b.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_remove_member(conn, b.id, ann.id), APR_ENOENT);
    ck_assert_int_eq(rus_group_delete(conn, staff.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(conn, "staff", &x, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_user_find(conn, "ann", &u, ts.pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "admins");
    ck_assert_int_eq(rus_user_find(conn, "bob", &u, ts.pool), APR_SUCCESS);
    ck_assert_str_eq(u.groups, "");
}
END_TEST

/* ---- profiles: what the front end says about a user (#19) ------------- */

/* A profile: NULL strings are not given; @a attrs is "name=value;..." (a
 * value may be empty: that deletes it), NULL for none given; @a groups is
 * "a,b" ("" an empty list), NULL for no group source. */
static rus_profile_t *profile_of(const char *email, const char *first,
                                 const char *last, const char *attrs,
                                 const char *groups, int replace)
{
    rus_profile_t *pr = apr_pcalloc(ts.pool, sizeof(*pr));
    char *copy, *tok, *last_tok = NULL;

    pr->email = email;
    pr->first_name = first;
    pr->last_name = last;
    if (attrs != NULL) {
        pr->attrs = apr_array_make(ts.pool, 4, sizeof(rus_attr_t));
        copy = apr_pstrdup(ts.pool, attrs);
        for (tok = apr_strtok(copy, ";", &last_tok); tok != NULL;
             tok = apr_strtok(NULL, ";", &last_tok)) {
            rus_attr_t *a = apr_array_push(pr->attrs);
            char *eq = strchr(tok, '=');

            ck_assert_ptr_nonnull(eq);
            *eq = '\0';
            a->name = tok;
            a->value = eq + 1;
        }
    }
    if (groups != NULL) {
        pr->groups = apr_array_make(ts.pool, 4, sizeof(char *));
        copy = apr_pstrdup(ts.pool, groups);
        for (tok = apr_strtok(copy, ",", &last_tok); tok != NULL;
             tok = apr_strtok(NULL, ",", &last_tok)) {
            APR_ARRAY_PUSH(pr->groups, const char *) = tok;
        }
    }
    pr->groups_replace = replace;
    return pr;
}

/* A user's attributes as "name=value;..." in their order ("" for none:
 * then the array is NULL, never empty). */
static const char *attrs_text(const rus_user_t *u)
{
    const char *out = "";
    int i;

    if (u->attrs == NULL) {
        return "";
    }
    ck_assert_int_gt(u->attrs->nelts, 0);
    for (i = 0; i < u->attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(u->attrs, i, rus_attr_t);

        out = apr_psprintf(ts.pool, "%s%s%s=%s", out, i ? ";" : "", a->name,
                           a->value);
    }
    return out;
}

/* A user's memberships as "group:origin,..." (rus_user_memberships()). */
static const char *memberships_text(rus_conn_t *conn, apr_int64_t user_id)
{
    apr_array_header_t *rows = NULL;
    const char *out = "";
    int i;

    ck_assert_msg(rus_user_memberships(conn, user_id, &rows, ts.pool)
                      == APR_SUCCESS,
                  "memberships: %s", rus_store_error(conn));
    for (i = 0; i < rows->nelts; i++) {
        const rus_membership_t *m = &APR_ARRAY_IDX(rows, i, rus_membership_t);

        out = apr_psprintf(ts.pool, "%s%s%s:%s", out, i ? "," : "", m->group,
                           m->origin);
    }
    return out;
}

static rus_user_t found(rus_conn_t *conn, const char *name)
{
    rus_user_t u;

    ck_assert_msg(rus_user_find(conn, name, &u, ts.pool) == APR_SUCCESS,
                  "find %s: %s", name, rus_store_error(conn));
    return u;
}

static void synced(rus_conn_t *conn, apr_int64_t user_id,
                   const rus_profile_t *pr, apr_int64_t now)
{
    ck_assert_msg(rus_user_sync(conn, user_id, pr, now, 60) == APR_SUCCESS,
                  "sync: %s", rus_store_error(conn));
}

/* Did the walk @a got (changes_after()) report user @a id, and nothing
 * else? A backend may log one change as several rows of the user. */
static int only_user(const char *got, apr_int64_t id)
{
    const char *want = apr_psprintf(ts.pool, "u%" APR_INT64_T_FMT, id);
    char *copy = apr_pstrdup(ts.pool, got), *tok, *last = NULL;
    int n = 0;

    for (tok = apr_strtok(copy, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        if (strcmp(tok, want) != 0) {
            return 0;
        }
        n++;
    }
    return n > 0;
}

#define ck_assert_only_user(conn, mark, plast, id)                          \
    do {                                                                    \
        const char *got_ = changes_after(conn, mark, plast);                \
        ck_assert_msg(only_user(got_, id), "changes: \"%s\", want user %d", \
                      got_, (int)(id));                                     \
    } while (0)

/* The profile comes with the row it creates, in the one call; an existing
 * row keeps what it has (the caller syncs it, if its policy says so). */
START_TEST(test_contract_create_with_profile)
{
    rus_conn_t *conn = open_backend(_i);
    rus_profile_t *pr;
    rus_user_t u, v;
    int created = -1;

    ck_assert_int_eq(rus_group_add(conn, "staff"), APR_SUCCESS);
    pr = profile_of("ann@example.org", "Ann", "Smith",
                    "title=CTO;dept=ops;room=", "staff,new-one", 1);
    ck_assert_msg(rus_user_create_with(conn, "ann", 100, pr, &u, &created,
                                       ts.pool)
                      == APR_SUCCESS,
                  "create: %s", rus_store_error(conn));
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(u.date_joined, 100);
    ck_assert_int_eq(u.last_login, 100);
    ck_assert_str_eq(u.email, "ann@example.org");
    ck_assert_str_eq(u.first_name, "Ann");
    ck_assert_str_eq(u.last_name, "Smith");
    /* sorted by name; an empty value writes nothing */
    ck_assert_str_eq(attrs_text(&u), "dept=ops;title=CTO");
    /* a group missing is created */
    ck_assert_str_eq(u.groups, "new-one,staff");
    ck_assert_str_eq(u.frontend_groups, "new-one,staff");
    ck_assert_int_eq(group(conn, "new-one").members, 1);
    v = found(conn, "ann");
    ck_assert_int_eq(v.id, u.id);
    ck_assert_str_eq(v.email, "ann@example.org");
    ck_assert_str_eq(attrs_text(&v), "dept=ops;title=CTO");
    ck_assert_str_eq(v.frontend_groups, "new-one,staff");
    ck_assert_str_eq(memberships_text(conn, u.id),
                     "new-one:frontend,staff:frontend");

    /* there already: nothing of the profile is written */
    pr = profile_of("other@example.org", "", NULL, "title=CEO", "more", 1);
    ck_assert_int_eq(rus_user_create_with(conn, "ann", 200, pr, &v, &created,
                                          ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(v.id, u.id);
    ck_assert_str_eq(v.email, "ann@example.org");
    ck_assert_str_eq(v.first_name, "Ann");
    ck_assert_str_eq(attrs_text(&v), "dept=ops;title=CTO");
    ck_assert_str_eq(v.groups, "new-one,staff");
    ck_assert_int_eq(rus_group_find(conn, "more", &(rus_group_t){ 0 }, ts.pool),
                     APR_ENOENT);

    /* without a profile, or an empty one: the fields are there, empty */
    ck_assert_int_eq(rus_user_create_with(conn, "bob", 300, NULL, &v, &created,
                                          ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_str_eq(v.email, "");
    ck_assert_str_eq(v.first_name, "");
    ck_assert_str_eq(v.last_name, "");
    ck_assert_ptr_null(v.attrs);
    ck_assert_str_eq(v.frontend_groups, "");
    ck_assert_int_eq(rus_user_create_with(conn, "cy", 300,
                                          profile_of(NULL, NULL, NULL, NULL,
                                                     NULL, 0),
                                          &v, &created, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(created, 1);
    ck_assert_ptr_null(v.attrs);
    ck_assert_str_eq(v.groups, "");
}
END_TEST

/* A sync writes only what differs: nothing differing, nothing logged for
 * the answer cache; each kind of difference logged; the login recorded
 * as rus_user_touch_login() does. */
START_TEST(test_contract_sync_writes_what_differs)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t last = 0, mark;
    rus_profile_t *pr;
    rus_user_t u;
    int created = 0;

    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, ts.pool),
                     APR_SUCCESS);
    changes_after(conn, 0, &mark);
    pr = profile_of("ann@example.org", "Ann", "Smith", "title=CTO;dept=ops",
                    "staff", 1);
    synced(conn, u.id, pr, 130); /* less than the interval: no last_login */
    ck_assert_str_ne(changes_after(conn, mark, &last), "");
    u = found(conn, "ann");
    ck_assert_str_eq(u.email, "ann@example.org");
    ck_assert_str_eq(attrs_text(&u), "dept=ops;title=CTO");
    ck_assert_str_eq(u.groups, "staff");
    ck_assert_int_eq(u.last_login, 100);

    /* the same again: no write that makes an answer wrong */
    mark = last;
    synced(conn, u.id, pr, 200);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    ck_assert_int_eq(last, mark);
    u = found(conn, "ann");
    ck_assert_int_eq(u.last_login, 200); /* the login is recorded */
    ck_assert_str_eq(u.email, "ann@example.org");
    ck_assert_str_eq(u.groups, "staff");

    /* one attribute */
    synced(conn, u.id, profile_of(NULL, NULL, NULL, "title=CEO", NULL, 0), 210);
    ck_assert_only_user(conn, mark, &last, u.id);
    u = found(conn, "ann");
    ck_assert_str_eq(attrs_text(&u), "dept=ops;title=CEO");
    /* one column */
    mark = last;
    synced(conn, u.id, profile_of(NULL, NULL, "Jones", NULL, NULL, 0), 220);
    ck_assert_only_user(conn, mark, &last, u.id);
    u = found(conn, "ann");
    ck_assert_str_eq(u.last_name, "Jones");
    ck_assert_str_eq(u.first_name, "Ann"); /* not given: kept */
    /* one membership */
    mark = last;
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "staff,ops", 0), 230);
    ck_assert_only_user(conn, mark, &last, u.id);
    ck_assert_str_eq(found(conn, "ann").groups, "ops,staff");
    /* the same values once more, each kind: nothing */
    mark = last;
    synced(conn, u.id,
           profile_of("ann@example.org", "Ann", "Jones", "title=CEO;dept=ops",
                      "ops,staff", 1),
           240);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    /* an absent attribute given empty: nothing to delete, nothing logged */
    synced(conn, u.id, profile_of(NULL, NULL, NULL, "room=", NULL, 0), 250);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
}
END_TEST

/* "" clears a column and deletes an attribute; the other values stay. */
START_TEST(test_contract_sync_clears)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t last = 0, mark;
    rus_user_t u;
    int created = 0;

    ck_assert_int_eq(rus_user_create_with(conn, "ann", 100,
                                          profile_of("a@x", "Ann", "Smith",
                                                     "title=CTO;dept=ops", NULL,
                                                     0),
                                          &u, &created, ts.pool),
                     APR_SUCCESS);
    changes_after(conn, 0, &mark);
    synced(conn, u.id, profile_of("", NULL, "", "title=", NULL, 0), 200);
    ck_assert_only_user(conn, mark, &last, u.id);
    u = found(conn, "ann");
    ck_assert_str_eq(u.email, "");
    ck_assert_str_eq(u.first_name, "Ann");
    ck_assert_str_eq(u.last_name, "");
    ck_assert_str_eq(attrs_text(&u), "dept=ops");
    ck_assert_ptr_null(rus_attrs_get(u.attrs, "title"));
    synced(conn, u.id, profile_of(NULL, NULL, NULL, "dept=", NULL, 0), 210);
    u = found(conn, "ann");
    ck_assert_ptr_null(u.attrs); /* none left: NULL, not empty */
}
END_TEST

/* Add only adds; Replace makes the front end's memberships exactly the
 * listed ones, and never touches an administrator's: one not listed
 * stays, one listed stays an administrator's. */
START_TEST(test_contract_sync_groups_add_replace)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t last = 0, mark;
    rus_user_t u, bob;
    int created = 0;

    ck_assert_int_eq(rus_user_create(conn, "ann", 100, &u, &created, ts.pool),
                     APR_SUCCESS);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_group_add(conn, "admins"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "wiki"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, group(conn, "admins").id, u.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, group(conn, "wiki").id, u.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, group(conn, "wiki").id, bob.id),
                     APR_SUCCESS);

    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "a,b", 0), 200);
    u = found(conn, "ann");
    ck_assert_str_eq(u.groups, "a,admins,b,wiki");
    ck_assert_str_eq(u.frontend_groups, "a,b");
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "c", 0), 200);
    ck_assert_str_eq(found(conn, "ann").frontend_groups, "a,b,c");
    /* Replace: b kept, a and c left; admins listed stays admin; wiki not
     * listed stays (an administrator's) */
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "b,admins", 1), 200);
    u = found(conn, "ann");
    ck_assert_str_eq(u.groups, "admins,b,wiki");
    ck_assert_str_eq(u.frontend_groups, "b");
    ck_assert_str_eq(memberships_text(conn, u.id),
                     "admins:admin,b:frontend,wiki:admin");
    /* the groups left stay, with their other members */
    ck_assert_int_eq(group(conn, "a").members, 0);
    ck_assert_int_eq(group(conn, "wiki").members, 2);
    /* an empty list with Replace: no front-end membership left */
    changes_after(conn, 0, &mark);
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "", 1), 200);
    ck_assert_only_user(conn, mark, &last, u.id);
    ck_assert_str_eq(memberships_text(conn, u.id), "admins:admin,wiki:admin");
    /* no group source: memberships as they are, even with Replace set */
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, NULL, 1), 200);
    ck_assert_str_eq(memberships_text(conn, u.id), "admins:admin,wiki:admin");
    /* Replace with an empty list again: nothing to do, nothing logged */
    mark = last;
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "", 1), 200);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    /* bob was never touched */
    ck_assert_str_eq(memberships_text(conn, bob.id), "wiki:admin");
}
END_TEST

/* An administrator's add makes a front-end membership an administrator's
 * (logged: the cache holds frontend_groups); an administrator's one
 * already there is APR_EEXIST. */
START_TEST(test_contract_add_member_origins)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t last = 0, mark;
    rus_group_t g;
    rus_user_t u;
    int created = 0;

    ck_assert_int_eq(rus_user_create_with(conn, "ann", 100,
                                          profile_of(NULL, NULL, NULL, NULL,
                                                     "zeta,alpha", 1),
                                          &u, &created, ts.pool),
                     APR_SUCCESS);
    ck_assert_str_eq(memberships_text(conn, u.id),
                     "alpha:frontend,zeta:frontend");
    g = group(conn, "zeta");
    changes_after(conn, 0, &mark);
    ck_assert_int_eq(rus_group_add_member(conn, g.id, u.id), APR_SUCCESS);
    ck_assert_only_user(conn, mark, &last, u.id);
    ck_assert_str_eq(memberships_text(conn, u.id), "alpha:frontend,zeta:admin");
    ck_assert_str_eq(found(conn, "ann").frontend_groups, "alpha");
    mark = last;
    ck_assert_int_eq(rus_group_add_member(conn, g.id, u.id), APR_EEXIST);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    /* now Replace keeps it */
    synced(conn, u.id, profile_of(NULL, NULL, NULL, NULL, "", 1), 200);
    ck_assert_str_eq(memberships_text(conn, u.id), "zeta:admin");
    ck_assert_str_eq(found(conn, "ann").groups, "zeta");
    /* removal works on either origin */
    ck_assert_int_eq(rus_group_remove_member(conn, g.id, u.id), APR_SUCCESS);
    ck_assert_str_eq(memberships_text(conn, u.id), "");
}
END_TEST

/* A sync of a user that is not there writes nothing, groups included. */
START_TEST(test_contract_sync_unknown_user)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *rows = NULL;
    apr_int64_t last = 0, mark = 0;
    rus_group_t g;
    rus_user_t u;

    u = added(conn, "ann", 1);
    ck_assert_int_eq(rus_user_delete(conn, u.id), APR_SUCCESS);
    changes_after(conn, 0, &mark);
    ck_assert_int_eq(rus_user_sync(conn, u.id,
                                   profile_of("a@x", NULL, NULL, "t=1", "fresh",
                                              1),
                                   200, 0),
                     APR_ENOENT);
    ck_assert_int_eq(rus_group_find(conn, "fresh", &g, ts.pool), APR_ENOENT);
    ck_assert_str_eq(changes_after(conn, mark, &last), "");
    /* nor is anyone's membership list an error: it is empty */
    ck_assert_int_eq(rus_user_memberships(conn, u.id + 100, &rows, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 0);
}
END_TEST

/* A session's user comes with its profile; values are data (the length
 * prefixes of the encoding are not confused by digits, colons, quotes,
 * or bytes beyond ASCII in names of other lengths). */
START_TEST(test_contract_profile_on_session_and_text_is_data)
{
    rus_conn_t *conn = open_backend(_i);
    rus_profile_t *pr = profile_of("o'brien@example.org", "J\xc3\xb6rg",
                                   "x; DROP TABLE users", NULL, "g1", 1);
    rus_session_t s;
    rus_user_t u;
    int created = 0;
    rus_attr_t *a;

    pr->attrs = apr_array_make(ts.pool, 4, sizeof(rus_attr_t));
    a = apr_array_push(pr->attrs);
    a->name = "title";
    a->value = "5:title3:CTO";
    a = apr_array_push(pr->attrs);
    a->name = "a";
    a->value = "\xe2\x82\xac 100%; ,=:'\"";
    a = apr_array_push(pr->attrs);
    a->name = "long_attribute_name_of_32_bytes_";
    a->value = apr_pstrndup(ts.pool,
                            "0123456789012345678901234567890123456789"
                            "0123456789012345678901234567890123456789",
                            80);
    ck_assert_msg(rus_user_create_with(conn, "ann", 100, pr, &u, &created,
                                       ts.pool)
                      == APR_SUCCESS,
                  "create: %s", rus_store_error(conn));
    ck_assert_int_eq(rus_session_insert(conn, "h1", u.id, "a:80", 10, LATER),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_str_eq(u.email, "o'brien@example.org");
    ck_assert_str_eq(u.first_name, "J\xc3\xb6rg");
    ck_assert_str_eq(u.last_name, "x; DROP TABLE users");
    ck_assert_str_eq(u.groups, "g1");
    ck_assert_str_eq(u.frontend_groups, "g1");
    ck_assert_ptr_nonnull(u.attrs);
    ck_assert_int_eq(u.attrs->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(u.attrs, 0, rus_attr_t).name, "a");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "a"), "\xe2\x82\xac 100%; ,=:'\"");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "title"), "5:title3:CTO");
    ck_assert_int_eq(strlen(rus_attrs_get(u.attrs,
                                          "long_attribute_name_of_32_bytes_")),
                     80);
    /* and the user list reads the same */
    {
        apr_array_header_t *users = NULL;

        ck_assert_int_eq(rus_user_list(conn, &users, ts.pool), APR_SUCCESS);
        ck_assert_int_eq(users->nelts, 1);
        ck_assert_str_eq(
            rus_attrs_get(APR_ARRAY_IDX(users, 0, rus_user_t).attrs, "title"),
            "5:title3:CTO");
        ck_assert_str_eq(APR_ARRAY_IDX(users, 0, rus_user_t).email,
                         "o'brien@example.org");
    }
}
END_TEST

/* ---- sessions on the request path ------------------------------------- */

START_TEST(test_contract_sessions)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *rows = NULL;
    rus_session_t s;
    rus_user_t ann, bob, u;

    ann = added(conn, "ann", 1);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_group_add(conn, "y"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(conn, "x"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, group(conn, "y").id, ann.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(conn, group(conn, "x").id, ann.id),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "a:80", 10, 1000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", ann.id, "b:443", 30, 2000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h3", bob.id, "a:80", 20, 3000),
                     APR_SUCCESS);

    /* a session comes with its user, groups sorted */
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(s.user_id, ann.id);
    ck_assert_str_eq(s.vhost, "a:80");
    ck_assert_int_eq(s.created_at, 10);
    ck_assert_int_eq(s.last_seen, 10);
    ck_assert_int_eq(s.expires_at, 1000);
    ck_assert_int_eq(u.id, ann.id);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_int_eq(u.is_active, 1);
    ck_assert_str_eq(u.groups, "x,y");
    ck_assert_int_eq(rus_session_find(conn, "h9", &s, &u, ts.pool), APR_ENOENT);

    /* last_seen is now; a created_at in the future (the clock was ahead)
     * comes back to now, and expires_at by as much */
    ck_assert_int_eq(rus_session_touch(conn, "h1", 50), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(s.last_seen, 50);
    ck_assert_int_eq(s.created_at, 10);
    ck_assert_int_eq(s.expires_at, 1000);
    ck_assert_int_eq(rus_session_touch(conn, "h1", 4), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(s.last_seen, 4);
    ck_assert_int_eq(s.created_at, 4);
    ck_assert_int_eq(s.expires_at, 994);

    /* newest first; of one user */
    ck_assert_int_eq(rus_session_list(conn, 0, &rows, ts.pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 0, rus_session_row_t).token_hash,
                     "h2");
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 1, rus_session_row_t).token_hash,
                     "h3");
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 1, rus_session_row_t).username, "bob");
    ck_assert_str_eq(APR_ARRAY_IDX(rows, 2, rus_session_row_t).token_hash,
                     "h1");
    ck_assert_int_eq(rus_session_list(conn, bob.id, &rows, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);

    /* revoke one (twice is fine), then a user's */
    ck_assert_int_eq(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(conn, "h1"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h1", &s, &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_session_revoke_user(conn, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "h2", &s, &u, ts.pool), APR_ENOENT);
    ck_assert_int_eq(rus_session_find(conn, "h3", &s, &u, ts.pool),
                     APR_SUCCESS);
}
END_TEST

/* What a login's request said of the client (#21): the address and the
 * User-Agent given to rus_session_insert_with() come back from the
 * listings as given, "" included (the cleaning is the caller's), whatever
 * their length and quotes; a session made without them has ""; the hot
 * path's find is unaffected, and a touch keeps them. */
START_TEST(test_contract_session_client)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *rows = NULL;
    const rus_session_row_t *r;
    rus_session_row_t row;
    rus_session_t s;
    rus_user_t ann, u;
    char *long_ua;
    int i, n = -1;

    long_ua = apr_palloc(ts.pool, 1001);
    for (i = 0; i < 1000; i++) {
        long_ua[i] = "ab'\\\"%_ "[i % 8];
    }
    long_ua[1000] = '\0';
    ann = added(conn, "ann", 1);
    ck_assert_int_eq(rus_session_insert_with(conn, "a1", ann.id, "a:80",
                                             "192.0.2.1",
                                             "Mozilla/5.0 (X11; Linux x86_64)"
                                             " Firefox/120.0",
                                             10, 1000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert_with(conn, "b2", ann.id, "a:80",
                                             "2001:db8::1", long_ua, 20, 2000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert_with(conn, "c3", ann.id, "a:80", "", "",
                                             30, 3000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert_with(conn, "d4", ann.id, "a:80", NULL,
                                             NULL, 40, 4000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "e5", ann.id, "a:80", 50, 5000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_touch(conn, "a1", 60), APR_SUCCESS);

    /* newest first: e5, d4, c3, b2, a1 */
    ck_assert_int_eq(rus_session_list(conn, ann.id, &rows, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 5);
    r = &APR_ARRAY_IDX(rows, 4, rus_session_row_t);
    ck_assert_str_eq(r->token_hash, "a1");
    ck_assert_str_eq(r->session.ip, "192.0.2.1");
    ck_assert_str_eq(r->session.user_agent,
                     "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0");
    ck_assert_int_eq(r->session.last_seen, 60);
    r = &APR_ARRAY_IDX(rows, 3, rus_session_row_t);
    ck_assert_str_eq(r->token_hash, "b2");
    ck_assert_str_eq(r->session.ip, "2001:db8::1");
    ck_assert_str_eq(r->session.user_agent, long_ua);
    for (i = 0; i < 3; i++) {
        r = &APR_ARRAY_IDX(rows, i, rus_session_row_t);
        ck_assert_str_eq(r->session.ip, "");
        ck_assert_str_eq(r->session.user_agent, "");
    }

    /* as the administrator's listing of every user finds them */
    ck_assert_int_eq(rus_session_find_prefix(conn, "b2", &n, &row, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(row.session.ip, "2001:db8::1");
    ck_assert_str_eq(row.session.user_agent, long_ua);
    ck_assert_int_eq(rus_session_find_prefix(conn, "e5", &n, &row, ts.pool),
                     APR_SUCCESS);
    ck_assert_str_eq(row.session.ip, "");
    ck_assert_str_eq(row.session.user_agent, "");

    /* the hot path reads what it read before; the two are never NULL */
    ck_assert_int_eq(rus_session_find(conn, "a1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(s.user_id, ann.id);
    ck_assert_str_eq(s.vhost, "a:80");
    ck_assert_int_eq(s.created_at, 10);
    ck_assert_int_eq(s.last_seen, 60);
    ck_assert_int_eq(s.expires_at, 1000);
    ck_assert_ptr_nonnull(s.ip);
    ck_assert_ptr_nonnull(s.user_agent);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_int_eq(rus_session_revoke(conn, "b2"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "b2", &s, &u, ts.pool), APR_ENOENT);
}
END_TEST

/* The one just issued stays, with the keep - 1 newest others; the hashes
 * of the rest come back for the cache. */
START_TEST(test_contract_trim_user)
{
    rus_conn_t *conn = open_backend(_i);
    apr_array_header_t *gone = NULL;
    rus_session_t s;
    rus_user_t ann, bob, u;

    ann = added(conn, "ann", 1);
    bob = added(conn, "bob", 1);
    ck_assert_int_eq(rus_session_insert(conn, "s1", ann.id, "v", 10, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "s2", ann.id, "v", 20, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "s3", ann.id, "v", 30, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "s4", ann.id, "v", 40, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "b1", bob.id, "v", 5, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_trim_user(conn, ann.id, 2, "s1", &gone,
                                           ts.pool),
                     APR_SUCCESS);
    qsort(gone->elts, (size_t)gone->nelts, sizeof(char *), cmp_str);
    ck_assert_str_eq(joined(gone), "s2,s3");
    ck_assert_int_eq(rus_session_find(conn, "s1", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "s4", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_find(conn, "b1", &s, &u, ts.pool),
                     APR_SUCCESS);
    /* nothing over the limit: nothing deleted */
    ck_assert_int_eq(rus_session_trim_user(conn, ann.id, 2, "s4", &gone,
                                           ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(gone->nelts, 0);
}
END_TEST

/* Purge keeps what expired less than RUS_CLOCK_GRACE ago. */
START_TEST(test_contract_purge_and_revoke_all)
{
    rus_conn_t *conn = open_backend(_i);
    apr_int64_t now = 100000;
    rus_session_t s;
    rus_user_t ann, u;
    int count = -1;

    ann = added(conn, "ann", 1);
    ck_assert_int_eq(rus_session_insert(conn, "old", ann.id, "v", 1,
                                        now - RUS_CLOCK_GRACE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "recent", ann.id, "v", 1,
                                        now - RUS_CLOCK_GRACE + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "live", ann.id, "v", 1, now + 10),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_purge(conn, now, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(rus_session_find(conn, "old", &s, &u, ts.pool),
                     APR_ENOENT);
    ck_assert_int_eq(rus_session_find(conn, "recent", &s, &u, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_all(conn, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(rus_session_find(conn, "live", &s, &u, ts.pool),
                     APR_ENOENT);
}
END_TEST

/* ---- the store as a whole --------------------------------------------- */

START_TEST(test_contract_info_integrity_checkpoint)
{
    rus_conn_t *conn = open_backend(_i);
    rus_store_checkpoint_t cp;
    rus_store_info_t info;
    const char *result = NULL;
    apr_status_t rv;
    rus_user_t ann;
    int ok = -1;

    ann = added(conn, "ann", 1);
    added(conn, "bob", 0);
    ck_assert_int_eq(rus_group_add(conn, "g"), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v", 10, 20),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", ann.id, "v", 10, 50),
                     APR_SUCCESS);

    /* expired as of the caller's now: expires_at <= now */
    ck_assert_int_eq(rus_store_info(conn, 20, &info), APR_SUCCESS);
    ck_assert_int_gt(info.schema_version, 0);
    ck_assert_int_eq(info.users, 2);
    ck_assert_int_eq(info.groups, 1);
    ck_assert_int_eq(info.sessions, 2);
    ck_assert_int_eq(info.sessions_expired, 1);
    ck_assert_int_eq(rus_store_info(conn, 19, &info), APR_SUCCESS);
    ck_assert_int_eq(info.sessions_expired, 0);
    ck_assert_int_eq(rus_store_info(conn, 50, &info), APR_SUCCESS);
    ck_assert_int_eq(info.sessions_expired, 2);

    ck_assert_int_eq(rus_store_integrity(conn, &ok, &result, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(ok, 1);
    ck_assert_ptr_nonnull(result);

    rv = rus_store_checkpoint(conn, 100, &cp);
    ck_assert_msg(rv == APR_SUCCESS || rv == APR_EBUSY, "checkpoint: %s",
                  rus_store_error(conn));
    ck_assert_int_ge(cp.log_before, cp.copied);
    ck_assert_int_ge(cp.copied, 0);
}
END_TEST

/* A connection to the fixture's store as an administrator's tool opens
 * it (opts.admin 1), beside ts.conn (httpd's, admin 0). */
static rus_conn_t *admin_conn(void)
{
    rus_store_options_t opts;
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    const char *msg = NULL;

    rus_store_options_default(&opts);
    ck_assert_int_eq(opts.admin, 0);
    opts.admin = 1;
    ck_assert_msg(rus_store_create(&store, ts.pool, ts.spec, NULL, &opts, &msg)
                      == APR_SUCCESS,
                  "create %s: %s", ts.spec, msg);
    ck_assert_msg(rus_store_connect(&conn, store, ts.pool, &msg) == APR_SUCCESS,
                  "connect %s: %s", ts.spec, msg);
    return conn;
}

static rus_store_info_t info_of(rus_conn_t *conn)
{
    rus_store_info_t info;

    ck_assert_msg(rus_store_info(conn, 100, &info) == APR_SUCCESS, "info: %s",
                  rus_store_error(conn));
    return info;
}

/* An expiry after the wall clock (the change log's triggers read it). */
#define LIVE 4000000000LL

/* The sessions ended by an administrator's tool are counted by the store
 * (revoked_admin: revoke, revoke --user, revoke --all, user delete;
 * revoked_deactivation: user disable), those httpd ends are not; a
 * revocation that deletes nothing counts nothing; info gives the rows of
 * the change log. */
START_TEST(test_contract_admin_counts)
{
    rus_conn_t *httpd = open_backend(_i), *adm = admin_conn();
    rus_user_change_t ch;
    rus_store_info_t info;
    rus_user_t ann, bob, cy, dan;
    apr_int64_t changes;
    int count = -1;

    info = info_of(httpd);
    ck_assert_int_eq(info.revoked_admin, 0);
    ck_assert_int_eq(info.revoked_deactivation, 0);
    ann = added(httpd, "ann", 1);
    bob = added(httpd, "bob", 1);
    cy = added(httpd, "cy", 1);
    dan = added(httpd, "dan", 1);
    ck_assert_int_eq(info_of(httpd).changes, 0); /* inserts log nothing */
    ck_assert_int_eq(rus_session_insert(httpd, "a1", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "a2", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "b1", bob.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "c1", cy.id, "v", 10, LIVE),
                     APR_SUCCESS);

    /* httpd's: a logout, a user switch, a revoke-all, a disable */
    ck_assert_int_eq(rus_session_revoke(httpd, "a1"), APR_SUCCESS);
    ck_assert_int_eq(info_of(httpd).changes, 1);
    ck_assert_int_eq(rus_session_revoke_user(httpd, bob.id), APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(httpd, cy.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.sessions_ended, 1);
    ck_assert_int_eq(rus_session_revoke_all(httpd, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    info = info_of(adm);
    ck_assert_int_eq(info.revoked_admin, 0);
    ck_assert_int_eq(info.revoked_deactivation, 0);
    /* a2, b1, c1 (and cy's state) logged */
    ck_assert_int_ge(info.changes, 4);
    changes = info.changes;

    /* the tool's, each in the transaction of its revocation */
    ck_assert_int_eq(rus_session_insert(httpd, "a3", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "a4", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "a5", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke(adm, "a3"), APR_SUCCESS);
    ck_assert_int_eq(info_of(httpd).revoked_admin, 1);
    ck_assert_int_eq(info_of(httpd).changes, changes + 1);
    ck_assert_int_eq(rus_session_revoke(adm, "a3"), APR_SUCCESS); /* gone */
    ck_assert_int_eq(rus_session_revoke_user(adm, ann.id), APR_SUCCESS);
    ck_assert_int_eq(info_of(httpd).revoked_admin, 3);
    ck_assert_int_eq(rus_session_revoke_user(adm, ann.id), APR_SUCCESS);
    ck_assert_int_eq(info_of(httpd).revoked_admin, 3);

    ck_assert_int_eq(rus_session_insert(httpd, "d1", dan.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "d2", dan.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(adm, dan.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.changed, 1);
    ck_assert_int_eq(ch.sessions_ended, 2);
    ck_assert_int_eq(rus_user_set_active(adm, dan.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.sessions_ended, 0);
    ck_assert_int_eq(rus_user_set_active(adm, dan.id, 1, &ch), APR_SUCCESS);
    info = info_of(httpd);
    ck_assert_int_eq(info.revoked_admin, 3);
    ck_assert_int_eq(info.revoked_deactivation, 2);

    /* a user's deletion counts the sessions that go with it */
    ck_assert_int_eq(rus_session_insert(httpd, "d3", dan.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "d4", dan.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_delete(adm, dan.id), APR_SUCCESS);
    ck_assert_int_eq(rus_user_delete(adm, dan.id), APR_ENOENT);
    ck_assert_int_eq(info_of(httpd).revoked_admin, 5);
    /* httpd's deletion (none does today; the contract holds) does not */
    ck_assert_int_eq(rus_session_insert(httpd, "c2", cy.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_delete(httpd, cy.id), APR_SUCCESS);
    ck_assert_int_eq(info_of(httpd).revoked_admin, 5);

    /* revoke --all: what it reports (an expired session, not yet
     * purged, too) */
    ck_assert_int_eq(rus_session_insert(httpd, "a6", ann.id, "v", 10, LIVE),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(httpd, "b2", bob.id, "v", 10, 50),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_revoke_all(adm, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(rus_session_revoke_all(adm, &count), APR_SUCCESS);
    ck_assert_int_eq(count, 0);
    info = info_of(adm);
    ck_assert_int_eq(info.revoked_admin, 7);
    ck_assert_int_eq(info.revoked_deactivation, 2);
    ck_assert_int_eq(info.users, 2);
    ck_assert_int_eq(info.sessions, 0);
    rus_store_disconnect(adm);
}
END_TEST

/* Enabling and disabling say whether anything changed, and disabling how
 * many sessions it ended (remoteuser-admin prints both). */
START_TEST(test_contract_set_active_reports)
{
    rus_conn_t *conn = open_backend(_i);
    rus_user_change_t ch;
    rus_user_t ann;

    ann = added(conn, "ann", 1);
    ck_assert_int_eq(rus_session_insert(conn, "h1", ann.id, "v:80", 10, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(conn, "h2", ann.id, "v:80", 10, 9000),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 1, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.changed, 0);
    ck_assert_int_eq(ch.sessions_ended, 0);
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.changed, 1);
    ck_assert_int_eq(ch.sessions_ended, 2);
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 0, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.changed, 0);
    ck_assert_int_eq(ch.sessions_ended, 0);
    ck_assert_int_eq(rus_user_set_active(conn, ann.id, 1, &ch), APR_SUCCESS);
    ck_assert_int_eq(ch.changed, 1);
    ch.changed = 7;
    ck_assert_int_eq(rus_user_set_active(conn, ann.id + 99, 0, &ch),
                     APR_ENOENT);
    ck_assert_int_eq(ch.changed, 7); /* untouched on failure */
}
END_TEST

/* Sessions by a prefix of their stored hash (the public id): how many
 * match, and the one when it is one; prefixes that are not lowercase hex
 * are refused, whatever the backend. */
START_TEST(test_contract_session_find_prefix)
{
    static const char *const hashes[] = {
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdee0123456789abcdef0123456789abcdef0123456789abcdef",
        "012345679fffffff0123456789abcdef0123456789abcdef0123456789abcdef",
        "01234567a0000000000000000000000000000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    };
    rus_conn_t *conn = open_backend(_i);
    rus_session_row_t row;
    rus_user_t ann;
    size_t i;
    int n = -1;

    ann = added(conn, "ann", 1);
    for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        ck_assert_int_eq(rus_session_insert(conn, hashes[i], ann.id, "v:80",
                                            10 + (int)i, 9000),
                         APR_SUCCESS);
    }
    /* ambiguous: the count, whatever the row */
    ck_assert_int_eq(rus_session_find_prefix(conn, "01234567", &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(rus_session_find_prefix(conn, "0123456789abcde", &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 2);
    /* the edges of the range: ...9 is not ...a, f is the last digit */
    ck_assert_int_eq(rus_session_find_prefix(conn, "012345679", &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(row.token_hash, hashes[2]);
    ck_assert_str_eq(row.username, "ann");
    ck_assert_str_eq(row.session.vhost, "v:80");
    ck_assert_int_eq(row.session.created_at, 12);
    ck_assert_int_eq(rus_session_find_prefix(conn, "01234567a", &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(row.token_hash, hashes[3]);
    ck_assert_int_eq(rus_session_find_prefix(conn, "ffff", &n, &row, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(row.token_hash, hashes[4]);
    ck_assert_int_eq(rus_session_find_prefix(conn, hashes[0], &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(row.token_hash, hashes[0]);
    ck_assert_int_eq(rus_session_find_prefix(conn, "0123456789abcdf", &n, &row,
                                             ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    /* not a hash prefix: refused before the backend is asked */
    n = -1;
    ck_assert_int_eq(rus_session_find_prefix(conn, "", &n, &row, ts.pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_session_find_prefix(conn, "0123ABCD", &n, &row,
                                             ts.pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_session_find_prefix(conn, "0123%", &n, &row, ts.pool),
                     APR_EINVAL);
    ck_assert_int_eq(rus_session_find_prefix(conn,
                                             apr_pstrcat(ts.pool, hashes[0],
                                                         "0", NULL),
                                             &n, &row, ts.pool),
                     APR_EINVAL);
    ck_assert_int_eq(n, -1);
}
END_TEST

/* A pooled connection is given out again, and answers. */
START_TEST(test_contract_pool)
{
    rus_store_pool_t *spool = NULL;
    rus_conn_t *a = NULL, *b = NULL;
    const char *msg = NULL;
    rus_user_t u;
    int created = 0;

    open_backend(_i);
    ck_assert_int_eq(rus_store_pool_create(&spool, ts.store, ts.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_store_acquire(&a, spool, ts.pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create(a, "ann", 1, &u, &created, ts.pool),
                     APR_SUCCESS);
    rus_store_release(spool, a);
    ck_assert_int_eq(rus_store_acquire(&b, spool, ts.pool, &msg), APR_SUCCESS);
    ck_assert_ptr_eq(a, b);
    ck_assert_str_eq(rus_store_error(b), "");
    ck_assert_int_eq(rus_user_find(b, "ann", &u, ts.pool), APR_SUCCESS);
    /* what one connection wrote, another sees */
    ck_assert_int_eq(rus_user_find(ts.conn, "ann", &u, ts.pool), APR_SUCCESS);
    rus_store_release(spool, b);
}
END_TEST

TCase *rus_store_contract_test_case(void)
{
    TCase *tc = tcase_create("store_contract");
    int n = rus_test_backend_count;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, test_contract_spec, 0, n);
    tcase_add_loop_test(tc, test_contract_user_create_find, 0, n);
    tcase_add_loop_test(tc, test_contract_user_touch_login, 0, n);
    tcase_add_loop_test(tc, test_contract_text_is_data, 0, n);
    tcase_add_loop_test(tc, test_contract_user_admin, 0, n);
    tcase_add_loop_test(tc, test_contract_disable_and_delete_end_sessions, 0,
                        n);
    tcase_add_loop_test(tc, test_contract_groups, 0, n);
    tcase_add_loop_test(tc, test_contract_changes_since, 0, n);
    tcase_add_loop_test(tc, test_contract_sessions, 0, n);
    tcase_add_loop_test(tc, test_contract_session_client, 0, n);
    tcase_add_loop_test(tc, test_contract_trim_user, 0, n);
    tcase_add_loop_test(tc, test_contract_purge_and_revoke_all, 0, n);
    tcase_add_loop_test(tc, test_contract_info_integrity_checkpoint, 0, n);
    tcase_add_loop_test(tc, test_contract_pool, 0, n);
    tcase_add_loop_test(tc, test_contract_set_active_reports, 0, n);
    tcase_add_loop_test(tc, test_contract_admin_counts, 0, n);
    tcase_add_loop_test(tc, test_contract_session_find_prefix, 0, n);
    tcase_add_loop_test(tc, test_contract_create_with_profile, 0, n);
    tcase_add_loop_test(tc, test_contract_sync_writes_what_differs, 0, n);
    tcase_add_loop_test(tc, test_contract_sync_clears, 0, n);
    tcase_add_loop_test(tc, test_contract_sync_groups_add_replace, 0, n);
    tcase_add_loop_test(tc, test_contract_add_member_origins, 0, n);
    tcase_add_loop_test(tc, test_contract_sync_unknown_user, 0, n);
    tcase_add_loop_test(tc, test_contract_profile_on_session_and_text_is_data,
                        0, n);
    return tc;
}
