/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What remoteuser-admin db copy and its messages rely on, through
 * rus_store.h alone: rus_store_copy(), a whole store into an empty one,
 * for every pair of backends of rus_test_backends[] (the loop index _i is
 * source * count + target); rus_store_spec_describe() and
 * rus_store_scheme(). */

#include <string.h>

#include <apr_strings.h>

#include "rus_backend.h"
#include "rus_store.h"
#include "test_common.h"

static rus_test_store_t src, dst;

static void teardown(void)
{
    rus_test_store_close(&src);
    rus_test_store_close(&dst);
}

/* Open the source and the target of pair @a i. */
static void open_pair(int i)
{
    rus_test_store_open(&src, i / rus_test_backend_count);
    rus_test_store_open(&dst, i % rus_test_backend_count);
}

#define HASH_A \
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HASH_B \
    "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define HASH_C \
    "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"

/* A profile of the columns given, attributes "name=value;..." and groups
 * "a,b" (NULL: none). */
static rus_profile_t *profile(apr_pool_t *p, const char *email,
                              const char *first, const char *last,
                              const char *attrs, const char *groups)
{
    rus_profile_t *pr = apr_pcalloc(p, sizeof(*pr));
    char *tok, *last_tok = NULL;

    pr->email = email;
    pr->first_name = first;
    pr->last_name = last;
    if (attrs != NULL) {
        pr->attrs = apr_array_make(p, 2, sizeof(rus_attr_t));
        for (tok = apr_strtok(apr_pstrdup(p, attrs), ";", &last_tok);
             tok != NULL; tok = apr_strtok(NULL, ";", &last_tok)) {
            rus_attr_t *a = apr_array_push(pr->attrs);

            a->name = tok;
            tok = strchr(tok, '=');
            *tok = '\0';
            a->value = tok + 1;
        }
    }
    if (groups != NULL) {
        pr->groups = apr_array_make(p, 2, sizeof(char *));
        for (tok = apr_strtok(apr_pstrdup(p, groups), ",", &last_tok);
             tok != NULL; tok = apr_strtok(NULL, ",", &last_tok)) {
            APR_ARRAY_PUSH(pr->groups, const char *) = tok;
        }
        pr->groups_replace = 1;
    }
    return pr;
}

/* A store with something of every kind, and gaps in its ids: ann (active,
 * logged in, with email, names, two attributes, in two groups by an
 * administrator and one from the front end, two sessions), bob deleted,
 * cy (disabled, never logged in, in a group), dee (an email, an
 * attribute, a membership that came from the front end and was then made
 * an administrator's, a session on another virtual host). Two sessions
 * have the address and User-Agent of their login (one with what COPY's
 * text format escapes and SQL quotes), one has neither. */
static void populate(rus_conn_t *c, apr_pool_t *p)
{
    rus_group_t g;
    rus_user_t ann, bob, cy, dee;
    int created = 0;

    ck_assert_int_eq(rus_user_create_with(c, "ann", 1000,
                                          profile(p, "ann@example.org", "Ann",
                                                  "S\xc3\xa9verin",
                                                  "title=CTO;dept=4:ops", "fe"),
                                          &ann, &created, p),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(c, "bob", 1001, 1, &bob, p), APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(c, "cy", 1002, 0, &cy, p), APR_SUCCESS);
    ck_assert_int_eq(rus_user_create_with(c,
                                          "d\xc3\xa9"
                                          "e",
                                          1003,
                                          profile(p, "dee@example.org", NULL,
                                                  NULL, "room=12", "staff"),
                                          &dee, &created, p),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_touch_login(c, ann.id, 1500, 0), APR_SUCCESS);
    ck_assert_int_eq(rus_user_delete(c, bob.id), APR_SUCCESS);

    ck_assert_int_eq(rus_group_add(c, "gone"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(c, "ops"), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(c, "gone", &g, p), APR_SUCCESS);
    ck_assert_int_eq(rus_group_delete(c, g.id), APR_SUCCESS);
    /* staff, made by dee's login, has all three as an administrator's */
    ck_assert_int_eq(rus_group_find(c, "staff", &g, p), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(c, g.id, ann.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(c, g.id, cy.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(c, g.id, dee.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_find(c, "ops", &g, p), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add_member(c, g.id, ann.id), APR_SUCCESS);

    ck_assert_int_eq(rus_session_insert_with(c, HASH_A, ann.id, "a.example",
                                             "192.0.2.7",
                                             "Mozilla/5.0 (X11; Linux)", 1100,
                                             4000000000LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_touch(c, HASH_A, 1200), APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert(c, HASH_B, ann.id, "a.example", 1300,
                                        4000000001LL),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_session_insert_with(c, HASH_C, dee.id,
                                             "b.example:8443", "2001:db8::1",
                                             "a\\b\tc\\N 'd' \xc3\xa9", 1400,
                                             4000000002LL),
                     APR_SUCCESS);
}

/* Everything rus_store.h shows of a store, as one text: users with ids,
 * state, times, profile and memberships with their origins; groups with
 * ids and members; sessions with their hash, owner, times, address and
 * User-Agent. Equal
 * texts, equal stores. */
static const char *picture(rus_conn_t *c, apr_pool_t *p)
{
    apr_array_header_t *users = NULL, *groups = NULL, *rows = NULL;
    const char *out = "";
    int i;

    ck_assert_int_eq(rus_user_list(c, &users, p), APR_SUCCESS);
    for (i = 0; i < users->nelts; i++) {
        const rus_user_t *u = &APR_ARRAY_IDX(users, i, rus_user_t);
        apr_array_header_t *ms = NULL;
        int j;

        out =
            apr_psprintf(p,
                         "%suser %" APR_INT64_T_FMT
                         " %s active=%d joined=%" APR_INT64_T_FMT
                         " login=%" APR_INT64_T_FMT
                         " groups=%s frontend=%s email=%s first=%s"
                         " last=%s\n",
                         out, u->id, u->username, u->is_active, u->date_joined,
                         u->last_login, u->groups, u->frontend_groups, u->email,
                         u->first_name, u->last_name);
        for (j = 0; u->attrs != NULL && j < u->attrs->nelts; j++) {
            const rus_attr_t *a = &APR_ARRAY_IDX(u->attrs, j, rus_attr_t);

            out = apr_psprintf(p, "%s  attr %s=%s\n", out, a->name, a->value);
        }
        ck_assert_int_eq(rus_user_memberships(c, u->id, &ms, p), APR_SUCCESS);
        for (j = 0; j < ms->nelts; j++) {
            const rus_membership_t *m = &APR_ARRAY_IDX(ms, j, rus_membership_t);

            out =
                apr_psprintf(p, "%s  member %s %s\n", out, m->group, m->origin);
        }
    }
    ck_assert_int_eq(rus_group_list(c, &groups, p), APR_SUCCESS);
    for (i = 0; i < groups->nelts; i++) {
        const rus_group_t *g = &APR_ARRAY_IDX(groups, i, rus_group_t);
        apr_array_header_t *names = NULL;

        ck_assert_int_eq(rus_group_members(c, g->id, &names, p), APR_SUCCESS);
        out = apr_psprintf(p, "%sgroup %" APR_INT64_T_FMT " %s members=%d %s\n",
                           out, g->id, g->name, g->members,
                           apr_array_pstrcat(p, names, ','));
    }
    ck_assert_int_eq(rus_session_list(c, 0, &rows, p), APR_SUCCESS);
    for (i = 0; i < rows->nelts; i++) {
        const rus_session_row_t *r = &APR_ARRAY_IDX(rows, i, rus_session_row_t);

        out = apr_psprintf(p,
                           "%ssession %s user=%" APR_INT64_T_FMT
                           " %s vhost=%s created=%" APR_INT64_T_FMT
                           " seen=%" APR_INT64_T_FMT
                           " expires=%" APR_INT64_T_FMT " ip=%s ua=[%s]\n",
                           out, r->token_hash, r->session.user_id, r->username,
                           r->session.vhost, r->session.created_at,
                           r->session.last_seen, r->session.expires_at,
                           r->session.ip, r->session.user_agent);
    }
    return out;
}

START_TEST(test_copy_preserves_everything)
{
    rus_store_copy_counts_t counts;
    const char *before, *after;
    rus_session_t s;
    rus_user_t u, v;
    rus_group_t g;

    open_pair(_i);
    populate(src.conn, src.pool);
    before = picture(src.conn, src.pool);
    memset(&counts, 0xff, sizeof(counts));
    ck_assert_msg(rus_store_copy(src.conn, dst.conn, &counts, dst.pool)
                      == APR_SUCCESS,
                  "copy %s -> %s: %s / %s", src.spec, dst.spec,
                  rus_store_error(src.conn), rus_store_error(dst.conn));
    ck_assert_int_eq(counts.users, 3);
    ck_assert_int_eq(counts.groups, 3);
    ck_assert_int_eq(counts.members, 5);
    ck_assert_int_eq(counts.sessions, 3);
    ck_assert_int_eq(counts.attributes, 3);
    after = picture(dst.conn, dst.pool);
    ck_assert_str_eq(after, before);
    /* what the picture shows, to be sure it shows it */
    ck_assert_ptr_nonnull(strstr(before, "frontend=fe email=ann@example.org"
                                         " first=Ann last=S\xc3\xa9verin\n"
                                         "  attr dept=4:ops\n"
                                         "  attr title=CTO\n"
                                         "  member fe frontend\n"
                                         "  member ops admin\n"
                                         "  member staff admin\n"));
    ck_assert_ptr_nonnull(strstr(before, "email=dee@example.org first= last=\n"
                                         "  attr room=12\n"
                                         "  member staff admin\n"));
    ck_assert_ptr_nonnull(strstr(before, "cy active=0 joined=1002 login=0"
                                         " groups=staff frontend= email="));
    ck_assert_ptr_nonnull(strstr(before, " expires=4000000000 ip=192.0.2.7"
                                         " ua=[Mozilla/5.0 (X11; Linux)]\n"));
    ck_assert_ptr_nonnull(strstr(before, " expires=4000000001 ip= ua=[]\n"));
    ck_assert_ptr_nonnull(strstr(before, " expires=4000000002 ip=2001:db8::1"
                                         " ua=[a\\b\tc\\N 'd' \xc3\xa9]\n"));
    /* the source is as it was */
    ck_assert_str_eq(picture(src.conn, src.pool), before);

    /* a session minted before the copy authenticates after it */
    ck_assert_int_eq(rus_session_find(dst.conn, HASH_A, &s, &u, dst.pool),
                     APR_SUCCESS);
    ck_assert_str_eq(u.username, "ann");
    ck_assert_str_eq(u.groups, "fe,ops,staff");
    ck_assert_str_eq(u.frontend_groups, "fe");
    ck_assert_str_eq(u.email, "ann@example.org");
    ck_assert_str_eq(rus_attrs_get(u.attrs, "title"), "CTO");
    ck_assert_str_eq(s.vhost, "a.example");
    ck_assert_int_eq(s.created_at, 1100);
    ck_assert_int_eq(s.last_seen, 1200);

    /* ids handed out later come after the copied ones */
    ck_assert_int_eq(rus_user_find(dst.conn,
                                   "d\xc3\xa9"
                                   "e",
                                   &u, dst.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_add(dst.conn, "eve", 2000, 1, &v, dst.pool),
                     APR_SUCCESS);
    ck_assert_int_gt(v.id, u.id);
    ck_assert_int_eq(rus_group_find(dst.conn, "ops", &g, dst.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(dst.conn, "new"), APR_SUCCESS);
    {
        rus_group_t n;

        ck_assert_int_eq(rus_group_find(dst.conn, "new", &n, dst.pool),
                         APR_SUCCESS);
        ck_assert_int_gt(n.id, g.id);
    }
}
END_TEST

START_TEST(test_copy_empty_store)
{
    rus_store_copy_counts_t counts;

    open_pair(_i);
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, &counts, dst.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(counts.users + counts.groups + counts.members
                         + counts.sessions + counts.attributes,
                     0);
    ck_assert_str_eq(picture(dst.conn, dst.pool), "");
}
END_TEST

START_TEST(test_copy_refuses_a_store_not_empty)
{
    const char *before, *err;
    rus_user_t u;

    open_pair(_i);
    populate(src.conn, src.pool);
    ck_assert_int_eq(rus_user_add(dst.conn, "zed", 5, 1, &u, dst.pool),
                     APR_SUCCESS);
    before = picture(dst.conn, dst.pool);
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, NULL, dst.pool),
                     APR_EEXIST);
    err = rus_store_error(dst.conn);
    ck_assert_msg(strstr(err, "not empty") != NULL && strstr(err, "1 user"),
                  "%s", err);
    ck_assert_str_eq(picture(dst.conn, dst.pool), before);

    /* a group alone is enough to refuse */
    ck_assert_int_eq(rus_user_delete(dst.conn, u.id), APR_SUCCESS);
    ck_assert_int_eq(rus_group_add(dst.conn, "g"), APR_SUCCESS);
    before = picture(dst.conn, dst.pool);
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, NULL, dst.pool),
                     APR_EEXIST);
    ck_assert_str_eq(picture(dst.conn, dst.pool), before);
}
END_TEST

/* The facade refuses what it can without the backends: one connection as
 * both ends, a backend without dump or load. */
START_TEST(test_copy_refusals)
{
    rus_backend_t nodump, noload;
    const rus_backend_t *saved;

    open_pair(0);
    ck_assert_int_eq(rus_store_copy(src.conn, src.conn, NULL, src.pool),
                     APR_EINVAL);
    ck_assert_str_ne(rus_store_error(src.conn), "");

    saved = src.conn->backend;
    nodump = *saved;
    nodump.dump = NULL;
    src.conn->backend = &nodump;
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, NULL, src.pool),
                     APR_ENOTIMPL);
    ck_assert_msg(strstr(rus_store_error(src.conn), "copied from") != NULL,
                  "%s", rus_store_error(src.conn));
    src.conn->backend = saved;

    saved = dst.conn->backend;
    noload = *saved;
    noload.load_row = NULL;
    dst.conn->backend = &noload;
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, NULL, src.pool),
                     APR_ENOTIMPL);
    ck_assert_msg(strstr(rus_store_error(dst.conn), "copied to") != NULL, "%s",
                  rus_store_error(dst.conn));
    dst.conn->backend = saved;
}
END_TEST

/* A target that refuses a row midway (here a trigger on an SQLite target
 * refuses the first session, after the users, groups and memberships went
 * in) keeps none of the copy. */
START_TEST(test_copy_failure_midway_leaves_target_empty)
{
    rus_user_t u;
    const char *err;

    rus_test_store_open(&src, _i);
    rus_test_store_open(&dst, 0); /* SQLite: its file is the test's to alter */
    populate(src.conn, src.pool);
    rus_test_sql(dst.path, "CREATE TRIGGER refuse BEFORE INSERT ON sessions"
                           " BEGIN SELECT RAISE(ABORT, 'refused here'); END");
    ck_assert_int_ne(rus_store_copy(src.conn, dst.conn, NULL, dst.pool),
                     APR_SUCCESS);
    err = rus_store_error(dst.conn);
    ck_assert_msg(strstr(err, "refused here") != NULL, "%s", err);
    ck_assert_str_eq(picture(dst.conn, dst.pool), "");
    ck_assert_int_eq(rus_test_sql_int(dst.path, "SELECT COUNT(*) FROM changes"),
                     0);
    /* the target's connection still works, and a copy can be tried again */
    rus_test_sql(dst.path, "DROP TRIGGER refuse");
    ck_assert_int_eq(rus_store_copy(src.conn, dst.conn, NULL, dst.pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_user_find(dst.conn, "ann", &u, dst.pool), APR_SUCCESS);
}
END_TEST

/* Bytes that are not UTF-8, which SQLite keeps in a text column as they
 * are (written by hand: the module refuses them in names): an SQLite
 * target takes them as they are; a PostgreSQL one (a UTF8 database)
 * refuses the row, and then keeps none of the copy, rows before it
 * included. */
START_TEST(test_copy_bytes_not_utf8)
{
    const char *target = rus_test_backends[_i].name, *err;
    rus_session_t s;
    rus_user_t u;
    apr_status_t rv;

    rus_test_store_open(&src, 0);
    rus_test_store_open(&dst, _i);
    populate(src.conn, src.pool);
    rus_test_sql(src.path, "UPDATE sessions SET vhost = CAST(X'61ff62' AS"
                           " TEXT) WHERE token_hash = '" HASH_C "'");
    rv = rus_store_copy(src.conn, dst.conn, NULL, dst.pool);
    if (strcmp(target, "sqlite") == 0) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_int_eq(rus_session_find(dst.conn, HASH_C, &s, &u, dst.pool),
                         APR_SUCCESS);
        ck_assert_str_eq(s.vhost, "a\xff"
                                  "b");
        return;
    }
    ck_assert_int_ne(rv, APR_SUCCESS);
    err = rus_store_error(dst.conn);
    ck_assert_msg(strstr(err, "UTF8") != NULL, "%s", err);
    ck_assert_str_eq(picture(dst.conn, dst.pool), "");
    /* the source set right, the copy goes through on the same connection */
    rus_test_sql(src.path, "UPDATE sessions SET vhost = 'ab' WHERE"
                           " token_hash = '" HASH_C "'");
    ck_assert_msg(rus_store_copy(src.conn, dst.conn, NULL, dst.pool)
                      == APR_SUCCESS,
                  "%s", rus_store_error(dst.conn));
    ck_assert_str_eq(picture(dst.conn, dst.pool), picture(src.conn, src.pool));
}
END_TEST

/* A spec shown in a message never shows a password, whatever its scheme:
 * a known one's display masks it, an unknown one (a typo) is masked by
 * the facade. */
static const struct {
    const char *spec, *shown;
} shown_specs[] = {
    { "sqlite:/var/lib/x/users.db", "sqlite:/var/lib/x/users.db" },
    { "sqlite:relative.db", "sqlite:relative.db" },
    { "postgresq://rus:s3cret@db1/rus", "postgresq://rus:***@db1/rus" },
    { "pg://rus:s3:cr@t@db1:5432/rus?x=1", "pg://rus:***@db1:5432/rus?x=1" },
    { "pg://rus@db1/rus", "pg://rus@db1/rus" },
    /* from a password parameter on, nothing is shown */
    { "pg://db1/rus?user=rus&password=s3cret&sslmode=require",
      "pg://db1/rus?user=rus&password=***" },
    { "pg:host=db1 password=s3cret dbname=rus", "pg:host=db1 password=***" },
    { "pg://db1/rus?password=a&password=b", "pg://db1/rus?password=***" },
    { "pg://db1/rus?pass%77ord=s3cret", "pg://db1/rus?password=***" },
    { "pg:host=db1 PASSWORD = 's3 cret'", "pg:host=db1 password=***" },
    { "pg://rus:se/cr@t@db1/rus", "pg://rus:***@db1/rus" },
    { "nocolon", "nocolon" },
    { "postgresql://rus:s3cret@db1/rus", "postgresql://rus:***@db1/rus" },
    { "postgres://rus:s3cret@db1/rus?password=s3cret",
      "postgresql://rus:***@db1/rus?password=***" },
    { "postgresql:host=db1 password=s3cret",
      "postgresql:host=db1 password=***" },
};

START_TEST(test_spec_describe_masks_passwords)
{
    apr_pool_t *p = NULL;

    apr_pool_create(&p, NULL);
    ck_assert_str_eq(rus_store_spec_describe(p, shown_specs[_i].spec),
                     shown_specs[_i].shown);
    ck_assert_str_eq(rus_store_spec_describe(p, NULL), "");
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_scheme)
{
    rus_test_store_open(&src, _i);
    ck_assert_str_eq(rus_store_scheme(src.store), rus_test_backends[_i].name);
}
END_TEST

TCase *rus_copy_test_case(void)
{
    TCase *tc = tcase_create("copy");
    int pairs = rus_test_backend_count * rus_test_backend_count;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, test_copy_preserves_everything, 0, pairs);
    tcase_add_loop_test(tc, test_copy_empty_store, 0, pairs);
    tcase_add_loop_test(tc, test_copy_refuses_a_store_not_empty, 0, pairs);
    tcase_add_test(tc, test_copy_refusals);
    tcase_add_loop_test(tc, test_copy_failure_midway_leaves_target_empty, 0,
                        rus_test_backend_count);
    tcase_add_loop_test(tc, test_copy_bytes_not_utf8, 0,
                        rus_test_backend_count);
    tcase_add_loop_test(tc, test_spec_describe_masks_passwords, 0,
                        sizeof(shown_specs) / sizeof(shown_specs[0]));
    tcase_add_loop_test(tc, test_scheme, 0, rus_test_backend_count);
    return tc;
}
