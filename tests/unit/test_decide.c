/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The decisions the glue used to take itself: the session verdict and
 * the cookie attributes (rus_session.c), group-list membership
 * (rus_username.c) and the RFC 9110 token check (rus_header.c). */

#include <string.h>

#include "rus_header.h"
#include "rus_session.h"
#include "rus_username.h"
#include "test_common.h"

/* ---- session verdict --------------------------------------------------- */

#define NOW   1000000000
#define DAY   86400
#define GRACE RUS_CLOCK_GRACE

static const struct verdict_case {
    const char *what;
    apr_int64_t created, last_seen, expires; /* relative to NOW */
    const char *vhost;                       /* the session's */
    int active;
    apr_int64_t max_age, idle;
    int allow_inactive;
    rus_session_verdict_e want;
    rus_session_state_e want_state;
} verdict_cases[] = {
    { "fresh", -10, -10, DAY, "h:80", 1, 2 * DAY, 0, 0, RUS_SV_VALID,
      RUS_SESSION_VALID },
    { "last_seen due", -600, -600, DAY, "h:80", 1, 2 * DAY, 0, 0,
      RUS_SV_VALID_TOUCH, RUS_SESSION_VALID },
    { "touch due sooner under a short idle timeout", -30, -30, DAY, "h:80", 1,
      2 * DAY, 100, 0, RUS_SV_VALID_TOUCH, RUS_SESSION_VALID },
    { "written while the clock was ahead: touch", 50, 50, DAY, "h:80", 1,
      2 * DAY, 0, 0, RUS_SV_VALID_TOUCH, RUS_SESSION_VALID },
    { "expired just now: ignored, kept", -DAY, -DAY, 0, "h:80", 1, 2 * DAY, 0,
      0, RUS_SV_INVALID, RUS_SESSION_EXPIRED },
    { "expired within the grace: kept", -DAY, -DAY, -GRACE + 1, "h:80", 1,
      2 * DAY, 0, 0, RUS_SV_INVALID, RUS_SESSION_EXPIRED },
    { "expired beyond the grace: revoked", -DAY, -DAY, -GRACE, "h:80", 1,
      2 * DAY, 0, 0, RUS_SV_REVOKE_EXPIRED, RUS_SESSION_EXPIRED },
    { "idle just now: ignored, kept", -1000, -101, DAY, "h:80", 1, 2 * DAY, 100,
      0, RUS_SV_INVALID, RUS_SESSION_IDLE },
    { "idle beyond the grace: revoked", -DAY, -100 - GRACE - 1, DAY, "h:80", 1,
      2 * DAY, 100, 0, RUS_SV_REVOKE_IDLE, RUS_SESSION_IDLE },
    { "older than MaxAge here: ignored, never revoked", -10 * DAY, -10, DAY,
      "h:80", 1, DAY, 0, 0, RUS_SV_INVALID, RUS_SESSION_TOO_OLD },
    { "other vhost", -10, -10, DAY, "h:443", 1, 2 * DAY, 0, 0,
      RUS_SV_FOREIGN_VHOST, RUS_SESSION_OTHER_VHOST },
    { "other vhost, even expired for good", -DAY, -DAY, -2 * GRACE, "h:443", 1,
      2 * DAY, 0, 0, RUS_SV_FOREIGN_VHOST, RUS_SESSION_OTHER_VHOST },
    { "no vhost stored", -10, -10, DAY, NULL, 1, 2 * DAY, 0, 0,
      RUS_SV_FOREIGN_VHOST, RUS_SESSION_OTHER_VHOST },
    { "inactive user", -10, -10, DAY, "h:80", 0, 2 * DAY, 0, 0,
      RUS_SV_USER_INACTIVE, RUS_SESSION_VALID },
    { "inactive user allowed", -10, -10, DAY, "h:80", 0, 2 * DAY, 0, 1,
      RUS_SV_VALID, RUS_SESSION_VALID },
    { "inactive user, expired: the session state comes first", -DAY, -DAY,
      -2 * GRACE, "h:80", 0, 2 * DAY, 0, 0, RUS_SV_REVOKE_EXPIRED,
      RUS_SESSION_EXPIRED },
};

START_TEST(test_session_verdict)
{
    const struct verdict_case *t = &verdict_cases[_i];
    rus_session_limits_t lim;
    rus_session_state_e state = RUS_SESSION_VALID;
    rus_session_t s;

    s.user_id = 1;
    s.vhost = t->vhost;
    s.created_at = NOW + t->created;
    s.last_seen = NOW + t->last_seen;
    s.expires_at = NOW + t->expires;
    lim.vhost = "h:80";
    lim.max_age = t->max_age;
    lim.idle_timeout = t->idle;
    lim.allow_inactive = t->allow_inactive;
    ck_assert_msg(rus_session_verdict(&s, t->active, &lim, NOW, &state)
                      == t->want,
                  "%s", t->what);
    ck_assert_msg(state == t->want_state, "%s: state", t->what);
    /* the state is optional */
    ck_assert(rus_session_verdict(&s, t->active, &lim, NOW, NULL) == t->want);
}
END_TEST

/* ---- cookie attributes ------------------------------------------------- */

static const struct attrs_case {
    const char *name, *path, *domain, *samesite;
    rus_cookie_secure_e secure;
    int tls;
    const char *want_path, *want_domain;
    int want_secure;
} attrs_cases[] = {
    { "s", "/app", "example.com", "Lax", RUS_COOKIE_SECURE_AUTO, 0, "/app",
      "example.com", 0 },
    { "s", "/app", NULL, "Lax", RUS_COOKIE_SECURE_AUTO, 1, "/app", NULL, 1 },
    { "s", "/", NULL, "Strict", RUS_COOKIE_SECURE_ON, 0, "/", NULL, 1 },
    { "s", "/", NULL, "Lax", RUS_COOKIE_SECURE_OFF, 1, "/", NULL, 0 },
    /* SameSite=None forces Secure, whatever was said */
    { "s", "/", NULL, "None", RUS_COOKIE_SECURE_OFF, 0, "/", NULL, 1 },
    /* prefixes force Secure; __Host- also Path=/ and no Domain */
    { "__Secure-s", "/app", "example.com", "Lax", RUS_COOKIE_SECURE_OFF, 0,
      "/app", "example.com", 1 },
    { "__Host-s", "/app", "example.com", "Lax", RUS_COOKIE_SECURE_OFF, 0, "/",
      NULL, 1 },
};

START_TEST(test_cookie_attrs)
{
    const struct attrs_case *t = &attrs_cases[_i];
    rus_cookie_attrs_t a;

    rus_cookie_attrs_make(&a, t->name, t->path, t->domain, t->samesite,
                          t->secure, t->tls);
    ck_assert_str_eq(a.name, t->name);
    ck_assert_str_eq(a.path, t->want_path);
    ck_assert_str_eq(a.samesite, t->samesite);
    if (t->want_domain == NULL) {
        ck_assert_ptr_null(a.domain);
    }
    else {
        ck_assert_str_eq(a.domain, t->want_domain);
    }
    ck_assert_int_eq(a.secure, t->want_secure);
}
END_TEST

START_TEST(test_cookie_prefixed)
{
    ck_assert(rus_cookie_name_prefixed("__Host-x"));
    ck_assert(rus_cookie_name_prefixed("__Secure-x"));
    ck_assert(!rus_cookie_name_prefixed("__host-x"));
    ck_assert(!rus_cookie_name_prefixed("_Host-x"));
    ck_assert(!rus_cookie_name_prefixed("remoteuser_session"));
}
END_TEST

/* ---- group lists ------------------------------------------------------- */

static const struct group_case {
    const char *list, *name;
    int want;
} group_cases[] = {
    { "staff", "staff", 1 },     { "a,staff,b", "staff", 1 },
    { "a,b,staff", "staff", 1 }, { "staffs", "staff", 0 },
    { "a,xstaff", "staff", 0 },  { "a, staff", "staff", 0 }, /* no trimming */
    { "Staff", "staff", 0 },                                 /* exact */
    { "", "staff", 0 },          { NULL, "staff", 0 },
    { "a,,b", "b", 1 },
};

START_TEST(test_group_list_has)
{
    const struct group_case *t = &group_cases[_i];

    ck_assert_msg(rus_group_list_has(t->list, t->name) == t->want, "%s in %s",
                  t->name, t->list ? t->list : "(null)");
}
END_TEST

/* ---- RFC 9110 tokens --------------------------------------------------- */

START_TEST(test_http_token)
{
    static const char *const good[] = { "X-Remote-User", "a", "0",
                                        "!#$%&'*+-.^_`|~", "Remote_User" };
    static const char *const bad[] = { "",     "X User", "X:User", "X\"",
                                       "(x)",  "a,b",    "a;b",    "\xc3\xa9",
                                       "a\tb", "a/b",    "{x}",    "x=1" };
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(rus_http_token_valid(good[i]), "%s", good[i]);
        ck_assert(rus_cookie_name_valid(good[i]));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!rus_http_token_valid(bad[i]), "%s", bad[i]);
        ck_assert(!rus_cookie_name_valid(bad[i]));
    }
    ck_assert(!rus_http_token_valid(NULL));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

TCase *rus_decide_test_case(void)
{
    TCase *tc = tcase_create("decide");

    tcase_add_loop_test(tc, test_session_verdict, 0, N(verdict_cases));
    tcase_add_loop_test(tc, test_cookie_attrs, 0, N(attrs_cases));
    tcase_add_test(tc, test_cookie_prefixed);
    tcase_add_loop_test(tc, test_group_list_has, 0, N(group_cases));
    tcase_add_test(tc, test_http_token);
    return tc;
}
