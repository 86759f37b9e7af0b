/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* What the front end says about a user (rus_profile.c), and the cache
 * keeping it (rus_cache.c). */

#include <string.h>

#include <apr_strings.h>

#include "rus_cache.h"
#include "rus_profile.h"
#include "rus_store.h"
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

/* An array of @a n rus_attr_t from name/value pairs. */
static apr_array_header_t *attrs_of(int n, const char *const *pairs)
{
    apr_array_header_t *a = apr_array_make(pool, n, sizeof(rus_attr_t));
    int i;

    for (i = 0; i < n; i++) {
        rus_attr_t *at = apr_array_push(a);

        at->name = pairs[2 * i];
        at->value = pairs[2 * i + 1];
    }
    return a;
}

/* An array of the comma-separated names of @a list. */
static apr_array_header_t *names_of(const char *list)
{
    return rus_groups_split(pool, list, ",");
}

START_TEST(test_attr_names)
{
    ck_assert(rus_attr_name_valid("email"));
    ck_assert(rus_attr_name_valid("a"));
    ck_assert(rus_attr_name_valid("employee_number2"));
    ck_assert(rus_attr_name_valid("a234567890123456789012345678901x"));
    ck_assert(!rus_attr_name_valid("a234567890123456789012345678901xy"));
    ck_assert(!rus_attr_name_valid(""));
    ck_assert(!rus_attr_name_valid(NULL));
    ck_assert(!rus_attr_name_valid("Email"));
    ck_assert(!rus_attr_name_valid("1st"));
    ck_assert(!rus_attr_name_valid("_x"));
    ck_assert(!rus_attr_name_valid("e-mail"));
    ck_assert(!rus_attr_name_valid("e mail"));
    ck_assert(rus_attr_is_column("email"));
    ck_assert(rus_attr_is_column("first_name"));
    ck_assert(rus_attr_is_column("last_name"));
    ck_assert(!rus_attr_is_column("title"));
    ck_assert(!rus_attr_is_column(NULL));
}
END_TEST

START_TEST(test_value_limits)
{
    char big[RUS_ATTR_VALUE_MAX + 2];

    memset(big, 'v', sizeof(big));
    ck_assert_uint_eq(rus_attr_value_max("email"), 254);
    ck_assert_uint_eq(rus_attr_value_max("first_name"), 150);
    ck_assert_uint_eq(rus_attr_value_max("last_name"), 150);
    ck_assert_uint_eq(rus_attr_value_max("title"), 1024);
    ck_assert_int_eq(rus_attr_value_check("email", big, 254), RUS_VALUE_OK);
    ck_assert_int_eq(rus_attr_value_check("email", big, 255),
                     RUS_VALUE_TOO_LONG);
    ck_assert_int_eq(rus_attr_value_check("last_name", big, 150), RUS_VALUE_OK);
    ck_assert_int_eq(rus_attr_value_check("last_name", big, 151),
                     RUS_VALUE_TOO_LONG);
    ck_assert_int_eq(rus_attr_value_check("title", big, 1024), RUS_VALUE_OK);
    ck_assert_int_eq(rus_attr_value_check("title", big, 1025),
                     RUS_VALUE_TOO_LONG);
    ck_assert_int_eq(rus_attr_value_check("title", "", 0), RUS_VALUE_OK);
    ck_assert_int_eq(rus_attr_value_check("title", "a\r\nb", 4),
                     RUS_VALUE_CONTROL);
    ck_assert_int_eq(rus_attr_value_check("title", "a\0b", 3),
                     RUS_VALUE_CONTROL);
    ck_assert_int_eq(rus_attr_value_check("title", "\xc3\x28", 2),
                     RUS_VALUE_BAD_UTF8);
    ck_assert_int_eq(rus_attr_value_check("title", "Jos\xc3\xa9", 5),
                     RUS_VALUE_OK);
    ck_assert_str_eq(rus_value_error_str(RUS_VALUE_CONTROL),
                     "value contains a control character");
    ck_assert_ptr_nonnull(rus_value_error_str((rus_value_error_e)99));
}
END_TEST

START_TEST(test_groups_split)
{
    apr_array_header_t *g;

    g = rus_groups_split(pool, "staff, admins,,staff , ops", ",");
    ck_assert_int_eq(g->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(g, 0, const char *), "staff");
    ck_assert_str_eq(APR_ARRAY_IDX(g, 1, const char *), "admins");
    ck_assert_str_eq(APR_ARRAY_IDX(g, 2, const char *), "ops");
    /* LDAP's "; ": a comma inside a DN is not a separator */
    g = rus_groups_split(pool, "cn=a,ou=groups,dc=x; cn=b,ou=groups,dc=x",
                         "; ");
    ck_assert_int_eq(g->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(g, 1, const char *), "cn=b,ou=groups,dc=x");
    g = rus_groups_split(pool, "", ",");
    ck_assert_int_eq(g->nelts, 0);
    g = rus_groups_split(pool, "  ", ",");
    ck_assert_int_eq(g->nelts, 0);
    g = rus_groups_split(pool, "one", NULL);
    ck_assert_int_eq(g->nelts, 1);
    ck_assert(rus_names_have(g, "one"));
    ck_assert(!rus_names_have(g, "on"));
    ck_assert(!rus_names_have(NULL, "one"));
}
END_TEST

START_TEST(test_attrs_encoding)
{
    static const char *const pairs[] = { "title",   "CTO",   "dept",
                                         "R:D 1:2", "empty", "" };
    apr_array_header_t *a = attrs_of(3, pairs), *back;
    const char *enc = rus_attrs_encode(pool, a);

    ck_assert_str_eq(enc, "5:title3:CTO4:dept7:R:D 1:25:empty0:");
    ck_assert_int_eq(rus_attrs_decode(pool, enc, strlen(enc), &back),
                     APR_SUCCESS);
    ck_assert_int_eq(back->nelts, 3);
    /* sorted by name */
    ck_assert_str_eq(APR_ARRAY_IDX(back, 0, rus_attr_t).name, "dept");
    ck_assert_str_eq(APR_ARRAY_IDX(back, 0, rus_attr_t).value, "R:D 1:2");
    ck_assert_str_eq(APR_ARRAY_IDX(back, 1, rus_attr_t).name, "empty");
    ck_assert_str_eq(APR_ARRAY_IDX(back, 1, rus_attr_t).value, "");
    ck_assert_str_eq(rus_attrs_get(back, "title"), "CTO");
    ck_assert_ptr_null(rus_attrs_get(back, "nope"));
    ck_assert_ptr_null(rus_attrs_get(NULL, "title"));
    ck_assert_str_eq(rus_attrs_encode(pool, NULL), "");
    ck_assert_int_eq(rus_attrs_decode(pool, "", 0, &back), APR_SUCCESS);
    ck_assert_ptr_null(back);
    ck_assert_int_eq(rus_attrs_decode(pool, NULL, 0, &back), APR_SUCCESS);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_attrs_decode_malformed)
{
    static const char *const bad[] = {
        "5:title",                /* no value */
        "5:title9:CTO",           /* value longer than what is left */
        "9:title3:CTO",           /* name longer than what is left */
        "0:3:CTO",                /* empty name */
        "x:title3:CTO",           /* not a length */
        "5title3:CTO",            /* no colon */
        "5:title3:CTO5:tit",      /* a second item cut short */
        "5:title3:CTO5:title1:x", /* a name twice */
        "99999999:x",             /* absurd length */
    };
    apr_array_header_t *out = NULL;
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(rus_attrs_decode(pool, bad[i], strlen(bad[i]), &out)
                          == APR_EINVAL,
                      "accepted %s", bad[i]);
        ck_assert_ptr_null(out);
    }
    /* a NUL inside the given length */
    ck_assert_int_eq(rus_attrs_decode(pool, "5:ti\0le3:CTO", 12, &out),
                     APR_EINVAL);
    ck_assert_int_eq(rus_attrs_decode(pool, "5:title3:C\0O", 12, &out),
                     APR_EINVAL);
}
END_TEST

/* The stored user the difference tests compare against. */
static rus_user_t stored(void)
{
    static const char *const pairs[] = { "title", "CTO", "room", "101" };
    rus_user_t u;

    memset(&u, 0, sizeof(u));
    u.id = 7;
    u.username = "ann";
    u.is_active = 1;
    u.email = "ann@example.com";
    u.first_name = "Ann";
    u.last_name = "Lee";
    u.groups = "admins,ops,staff";
    u.frontend_groups = "ops,staff"; /* admins: an administrator's */
    u.attrs = attrs_of(2, pairs);
    return u;
}

START_TEST(test_differs_columns_and_attrs)
{
    rus_user_t u = stored();
    rus_profile_t w;
    static const char *const same[] = { "title", "CTO" };
    static const char *const other[] = { "title", "CEO" };
    static const char *const clear_room[] = { "room", "" };
    static const char *const clear_none[] = { "desk", "" };
    static const char *const add[] = { "desk", "4" };

    ck_assert(!rus_profile_differs(&u, NULL));
    memset(&w, 0, sizeof(w));
    ck_assert(!rus_profile_differs(&u, &w)); /* nothing given */
    w.email = "ann@example.com";
    w.first_name = "Ann";
    ck_assert(!rus_profile_differs(&u, &w));
    w.last_name = "Smith";
    ck_assert(rus_profile_differs(&u, &w));
    w.last_name = "";
    ck_assert(rus_profile_differs(&u, &w)); /* cleared */
    w.last_name = NULL;
    w.attrs = attrs_of(1, same);
    ck_assert(!rus_profile_differs(&u, &w));
    w.attrs = attrs_of(1, other);
    ck_assert(rus_profile_differs(&u, &w));
    w.attrs = attrs_of(1, clear_room);
    ck_assert(rus_profile_differs(&u, &w));
    w.attrs = attrs_of(1, clear_none);
    ck_assert(!rus_profile_differs(&u, &w)); /* absent and cleared: same */
    w.attrs = attrs_of(1, add);
    ck_assert(rus_profile_differs(&u, &w));
    /* a row read with NULL strings counts as empty */
    memset(&u, 0, sizeof(u));
    memset(&w, 0, sizeof(w));
    w.email = "";
    ck_assert(!rus_profile_differs(&u, &w));
    w.email = "x@y";
    ck_assert(rus_profile_differs(&u, &w));
}
END_TEST

START_TEST(test_differs_groups)
{
    rus_user_t u = stored();
    rus_profile_t w;

    memset(&w, 0, sizeof(w));
    w.groups = names_of("ops,staff");
    w.groups_replace = 1;
    ck_assert(!rus_profile_differs(&u, &w));
    /* the administrator's membership listed too: nothing to write */
    w.groups = names_of("staff,admins,ops");
    ck_assert(!rus_profile_differs(&u, &w));
    /* Replace drops ops */
    w.groups = names_of("staff");
    ck_assert(rus_profile_differs(&u, &w));
    /* Add does not drop */
    w.groups_replace = 0;
    ck_assert(!rus_profile_differs(&u, &w));
    /* a new group, both ways */
    w.groups = names_of("staff,dev");
    ck_assert(rus_profile_differs(&u, &w));
    w.groups_replace = 1;
    ck_assert(rus_profile_differs(&u, &w));
    /* an empty list with Replace drops every front-end membership */
    w.groups = names_of("");
    ck_assert(rus_profile_differs(&u, &w));
    w.groups_replace = 0;
    ck_assert(!rus_profile_differs(&u, &w));
    /* ... and changes nothing for a user with only an admin's */
    u.frontend_groups = "";
    u.groups = "admins";
    w.groups_replace = 1;
    ck_assert(!rus_profile_differs(&u, &w));
    /* a name that is a prefix of another is not it */
    u.groups = "opsx";
    u.frontend_groups = "opsx";
    w.groups = names_of("ops");
    ck_assert(rus_profile_differs(&u, &w));
    w.groups = names_of("opsx");
    ck_assert(!rus_profile_differs(&u, &w));
}
END_TEST

START_TEST(test_cache_keeps_profile)
{
    rus_cache_t *cache = rus_cache_create(pool, 64, 60);
    rus_user_t u = stored(), got;

    rus_cache_put(cache, "u:ann", 100, rus_cache_ticket(cache, "u:ann"), &u,
                  NULL);
    memset(&got, 0, sizeof(got));
    ck_assert(rus_cache_get(cache, "u:ann", 101, &got, NULL, pool));
    ck_assert_str_eq(got.username, "ann");
    ck_assert_str_eq(got.groups, "admins,ops,staff");
    ck_assert_str_eq(got.frontend_groups, "ops,staff");
    ck_assert_str_eq(got.email, "ann@example.com");
    ck_assert_str_eq(got.first_name, "Ann");
    ck_assert_str_eq(got.last_name, "Lee");
    ck_assert_ptr_nonnull(got.attrs);
    ck_assert_int_eq(got.attrs->nelts, 2);
    ck_assert_str_eq(rus_attrs_get(got.attrs, "title"), "CTO");
    ck_assert_str_eq(rus_attrs_get(got.attrs, "room"), "101");
    /* nothing in them: "" and NULL */
    u.email = u.first_name = u.last_name = NULL;
    u.frontend_groups = NULL;
    u.attrs = NULL;
    rus_cache_put(cache, "u:ann", 102, rus_cache_ticket(cache, "u:ann"), &u,
                  NULL);
    ck_assert(rus_cache_get(cache, "u:ann", 102, &got, NULL, pool));
    ck_assert_str_eq(got.email, "");
    ck_assert_str_eq(got.frontend_groups, "");
    ck_assert_ptr_null(got.attrs);
}
END_TEST

START_TEST(test_cache_skips_big_profiles)
{
    rus_cache_t *cache = rus_cache_create(pool, 64, 60);
    rus_user_t u = stored(), got;
    const char *pairs[6];
    char *v = apr_palloc(pool, RUS_ATTR_VALUE_MAX + 1);

    memset(v, 'v', RUS_ATTR_VALUE_MAX);
    v[RUS_ATTR_VALUE_MAX] = '\0';
    pairs[0] = "a";
    pairs[1] = v;
    pairs[2] = "b";
    pairs[3] = v;
    pairs[4] = "c";
    pairs[5] = "x";
    /* two full attributes do not fit in a slot: not cached, so never
     * answered without them */
    u.attrs = attrs_of(3, pairs);
    rus_cache_put(cache, "u:ann", 100, rus_cache_ticket(cache, "u:ann"), &u,
                  NULL);
    ck_assert(!rus_cache_get(cache, "u:ann", 100, &got, NULL, pool));
    /* one does */
    u.attrs = attrs_of(1, pairs);
    rus_cache_put(cache, "u:ann", 100, rus_cache_ticket(cache, "u:ann"), &u,
                  NULL);
    ck_assert(rus_cache_get(cache, "u:ann", 100, &got, NULL, pool));
    ck_assert_str_eq(rus_attrs_get(got.attrs, "a"), v);
}
END_TEST

TCase *rus_profile_test_case(void)
{
    TCase *tc = tcase_create("profile");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_attr_names);
    tcase_add_test(tc, test_value_limits);
    tcase_add_test(tc, test_groups_split);
    tcase_add_test(tc, test_attrs_encoding);
    tcase_add_test(tc, test_attrs_decode_malformed);
    tcase_add_test(tc, test_differs_columns_and_attrs);
    tcase_add_test(tc, test_differs_groups);
    tcase_add_test(tc, test_cache_keeps_profile);
    tcase_add_test(tc, test_cache_skips_big_profiles);
    return tc;
}
