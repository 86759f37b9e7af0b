/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The counters (rus_metrics.c): kept across a second init of the same
 * memory, a set per server_name, exact sums under threads, the histogram's
 * bucket edges, and renders that stay well-formed whatever the name. */

#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "rus_metrics.h"
#include "test_common.h"

#define T0 apr_time_from_sec(1700000000)

/* Memory for the counters, as shared memory would be: 8-byte aligned but
 * not on a cache line, and not zeroed. */
static void *new_mem(apr_pool_t *p)
{
    char *mem = apr_palloc(p, rus_metrics_size() + 64);

    mem = (char *)(((apr_uintptr_t)mem + 63) & ~(apr_uintptr_t)63) + 8;
    memset(mem, 0xa5, rus_metrics_size()); /* init must not rely on zeros */
    return mem;
}

static rus_metrics_t *new_metrics(apr_pool_t *p)
{
    rus_metrics_t *m = rus_metrics_init(new_mem(p), rus_metrics_size(), p);

    ck_assert_ptr_nonnull(m);
    return m;
}

/* Nonzero when @a text holds @a line as a whole line. */
static int has_line(const char *text, const char *line)
{
    apr_size_t len = strlen(line);
    const char *at;

    for (at = strstr(text, line); at != NULL; at = strstr(at + 1, line)) {
        if ((at == text || at[-1] == '\n') && at[len] == '\n') {
            return 1;
        }
    }
    return 0;
}

/* How many times @a needle occurs in @a text. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;
    const char *at;

    for (at = strstr(text, needle); at != NULL; at = strstr(at + 1, needle)) {
        n++;
    }
    return n;
}

/* (the text is not in the message: Check cuts long messages off) */
#define ck_assert_line(text, line) \
    ck_assert_msg(has_line((text), (line)), "no line \"%s\"", (line))

/* ---- a checker of the exposition format --------------------------------- */

/* Skip a metric or label name at *ps ([a-zA-Z_:][a-zA-Z0-9_:]*; no colon
 * in a label name). 0 when there is none. */
static int skip_name(const char **ps, int colon)
{
    const char *s = *ps;

    if (!(apr_isalpha(*s) || *s == '_' || (colon && *s == ':'))) {
        return 0;
    }
    while (apr_isalnum(*s) || *s == '_' || (colon && *s == ':')) {
        s++;
    }
    *ps = s;
    return 1;
}

/* 1 when @a line (no newline) is a well-formed line of the text format
 * 0.0.4 as we write it: a # HELP or # TYPE comment, or a sample whose
 * label values hold only printable ASCII and the escapes \\ \" \n. */
static int prom_line_ok(const char *line)
{
    const char *s = line;
    char *end;

    if (strncmp(s, "# HELP ", 7) == 0 || strncmp(s, "# TYPE ", 7) == 0) {
        s += 7;
        if (!skip_name(&s, 1) || *s != ' ') {
            return 0;
        }
        for (s++; *s != '\0'; s++) {
            if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
                return 0;
            }
        }
        return 1;
    }
    if (!skip_name(&s, 1)) {
        return 0;
    }
    if (*s == '{') {
        s++;
        for (;;) {
            if (!skip_name(&s, 0) || strncmp(s, "=\"", 2) != 0) {
                return 0;
            }
            for (s += 2; *s != '"'; s++) {
                if (*s == '\\') {
                    s++;
                    if (*s != '\\' && *s != '"' && *s != 'n') {
                        return 0;
                    }
                }
                else if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
                    return 0; /* the end of the string among them */
                }
            }
            s++;
            if (*s == '}') {
                s++;
                break;
            }
            if (*s++ != ',') {
                return 0;
            }
        }
    }
    if (*s++ != ' ') {
        return 0;
    }
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "NaN") == 0) {
        return 1;
    }
    (void)strtod(s, &end);
    return end != s && *end == '\0';
}

/* Every line of @a text well-formed, and the text ends in a newline. */
static void ck_prom_ok(apr_pool_t *p, const char *text)
{
    char *copy = apr_pstrdup(p, text), *line, *last = NULL;

    ck_assert_uint_gt(strlen(text), 0);
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    for (line = apr_strtok(copy, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last)) {
        ck_assert_msg(prom_line_ok(line), "bad line: %s",
                      rus_test_printable(p, line));
    }
}

/* ---- a checker of JSON -------------------------------------------------- */

static int json_value(const char **ps);

static void json_ws(const char **ps)
{
    while (**ps == ' ' || **ps == '\n' || **ps == '\t' || **ps == '\r') {
        (*ps)++;
    }
}

/* A JSON string at *ps, with no raw byte outside printable ASCII. */
static int json_string(const char **ps)
{
    const char *s = *ps;
    int i;

    if (*s++ != '"') {
        return 0;
    }
    for (; *s != '"'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return 0;
        }
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                for (i = 1; i <= 4; i++) {
                    if (!apr_isxdigit(s[i])) {
                        return 0;
                    }
                }
                s += 4;
            }
            else if (strchr("\"\\/bfnrt", *s) == NULL || *s == '\0') {
                return 0;
            }
        }
    }
    *ps = s + 1;
    return 1;
}

/* An object or array at *ps: items separated by commas, keys strings. */
static int json_compound(const char **ps, char open, char close, int keys)
{
    const char *s = *ps + 1;

    if (**ps != open) {
        return 0;
    }
    json_ws(&s);
    if (*s == close) {
        *ps = s + 1;
        return 1;
    }
    for (;;) {
        json_ws(&s);
        if (keys) {
            if (!json_string(&s)) {
                return 0;
            }
            json_ws(&s);
            if (*s++ != ':') {
                return 0;
            }
        }
        if (!json_value(&s)) {
            return 0;
        }
        json_ws(&s);
        if (*s == close) {
            *ps = s + 1;
            return 1;
        }
        if (*s++ != ',') {
            return 0;
        }
    }
}

static int json_value(const char **ps)
{
    const char *s;
    char *end;

    json_ws(ps);
    s = *ps;
    switch (*s) {
    case '{':
        return json_compound(ps, '{', '}', 1);
    case '[':
        return json_compound(ps, '[', ']', 0);
    case '"':
        return json_string(ps);
    default:
        break;
    }
    if (strncmp(s, "null", 4) == 0 || strncmp(s, "true", 4) == 0) {
        *ps = s + 4;
        return 1;
    }
    if (strncmp(s, "false", 5) == 0) {
        *ps = s + 5;
        return 1;
    }
    if (!(apr_isdigit(*s) || *s == '-')) {
        return 0;
    }
    (void)strtod(s, &end);
    *ps = end;
    return end != s;
}

/* @a text is one JSON value and nothing else (but white space). */
static void ck_json_ok(apr_pool_t *p, const char *text)
{
    const char *s = text;

    ck_assert_msg(json_value(&s), "bad JSON near: %s",
                  rus_test_printable(p, s));
    json_ws(&s);
    ck_assert_msg(*s == '\0', "after the JSON: %s", rus_test_printable(p, s));
}

/* ---- the memory --------------------------------------------------------- */

START_TEST(test_init_keeps_its_own_layout)
{
    apr_pool_t *p;
    void *mem;
    rus_metrics_t *m, *again;
    rus_metrics_vhost_t *a, *b;
    int c;

    apr_pool_create(&p, NULL);
    mem = new_mem(p);
    ck_assert_ptr_null(rus_metrics_init(mem, rus_metrics_size() - 1, p));
    ck_assert_ptr_null(rus_metrics_init(NULL, rus_metrics_size(), p));
    m = rus_metrics_init(mem, rus_metrics_size(), p);
    ck_assert_ptr_nonnull(m);
    /* fresh memory holds no counts, whatever was in it */
    for (c = 0; c < RUS_M_COUNTERS; c++) {
        ck_assert_uint_eq(rus_metrics_total(m, (rus_metric_e)c), 0);
    }
    ck_assert_int_eq(rus_metrics_gauge_get(m, RUS_G_USERS, NULL, NULL), 0);
    a = rus_metrics_vhost(m, "a.example");
    rus_metrics_add(a, RUS_M_LOGINS, 7);
    rus_metrics_gauge_set(m, RUS_G_USERS, 42, T0);

    /* a graceful restart: the same memory again */
    again = rus_metrics_init(mem, rus_metrics_size(), p);
    ck_assert_ptr_nonnull(again);
    ck_assert_uint_eq(rus_metrics_total(again, RUS_M_LOGINS), 7);
    b = rus_metrics_vhost(again, "a.example");
    ck_assert_ptr_eq(a, b);
    rus_metrics_add(b, RUS_M_LOGINS, 1);
    ck_assert_uint_eq(rus_metrics_total(again, RUS_M_LOGINS), 8);
    ck_assert_int_eq(rus_metrics_gauge_get(again, RUS_G_USERS, NULL, NULL), 1);

    /* another layout in the memory (here: a torn magic): zeroed */
    ((unsigned char *)mem)[0] ^= 0xff;
    again = rus_metrics_init(mem, rus_metrics_size(), p);
    ck_assert_ptr_nonnull(again);
    ck_assert_uint_eq(rus_metrics_total(again, RUS_M_LOGINS), 0);
    ck_assert_int_eq(rus_metrics_gauge_get(again, RUS_G_USERS, NULL, NULL), 0);
    ck_assert_int_eq(count_of(rus_metrics_prometheus(again, p), "a.example"),
                     0);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_vhost_sets_by_name)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a, *sets[RUS_METRICS_VHOSTS], *over;
    char name[300];
    const char *text, *cut;
    int i, j;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    ck_assert_ptr_null(rus_metrics_vhost(NULL, "a"));
    a = rus_metrics_vhost(m, "a.example");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(rus_metrics_vhost(m, "a.example"), a);
    /* a prefix or an extension is another name */
    ck_assert_ptr_ne(rus_metrics_vhost(m, "a.exampl"), a);
    ck_assert_ptr_ne(rus_metrics_vhost(m, "a.example."), a);

    /* long names are cut: two that agree on the first bytes share a set */
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    sets[0] = rus_metrics_vhost(m, name);
    name[200] = 'y';
    ck_assert_ptr_eq(rus_metrics_vhost(m, name), sets[0]);
    name[RUS_METRICS_NAME_MAX - 1] = 'y';
    ck_assert_ptr_ne(rus_metrics_vhost(m, name), sets[0]);
    text = rus_metrics_prometheus(m, p);
    memset(name, 'x', RUS_METRICS_NAME_MAX);
    name[RUS_METRICS_NAME_MAX] = '\0';
    cut = apr_pstrcat(p, "server_name=\"", name, "\"", NULL);
    ck_assert_int_eq(count_of(text, cut),
                     count_of(text, "server_name=\"a.example\""));
    ck_assert_int_eq(count_of(text, apr_pstrcat(p, "server_name=\"", name, "x",
                                                NULL)),
                     0);
    apr_pool_destroy(p);

    /* 64 names take every set; the 65th and later share the overflow */
    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    for (i = 0; i < RUS_METRICS_VHOSTS; i++) {
        sets[i] = rus_metrics_vhost(m, apr_psprintf(p, "h%d.example", i));
        for (j = 0; j < i; j++) {
            ck_assert_ptr_ne(sets[i], sets[j]);
        }
    }
    ck_assert_uint_eq(count_of(rus_metrics_prometheus(m, p),
                               RUS_METRICS_OVERFLOW),
                      0);
    over = rus_metrics_vhost(m, "late.example");
    for (j = 0; j < RUS_METRICS_VHOSTS; j++) {
        ck_assert_ptr_ne(over, sets[j]);
    }
    ck_assert_ptr_eq(rus_metrics_vhost(m, "later.example"), over);
    ck_assert_ptr_eq(rus_metrics_vhost(m, "h5.example"), sets[5]);
    rus_metrics_add(over, RUS_M_LOGINS, 2);
    rus_metrics_add(rus_metrics_vhost(m, "later.example"), RUS_M_LOGINS, 3);
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, "remoteuser_logins_total{server_name=\"_other\"} 5");
    ck_assert_line(text, "remoteuser_logins_total{server_name=\"h63.example\"} "
                         "0");
    ck_assert_int_eq(count_of(text, "remoteuser_logins_total{"),
                     RUS_METRICS_VHOSTS + 1);
    apr_pool_destroy(p);

    /* no name, or the overflow's own: the overflow set, never a second
     * series with its label */
    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    over = rus_metrics_vhost(m, RUS_METRICS_OVERFLOW);
    ck_assert_ptr_eq(rus_metrics_vhost(m, ""), over);
    ck_assert_ptr_eq(rus_metrics_vhost(m, NULL), over);
    ck_assert_ptr_ne(rus_metrics_vhost(m, "b.example"), over);
    ck_assert_int_eq(count_of(rus_metrics_prometheus(m, p),
                              "remoteuser_logins_total{"),
                     2);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_add_and_totals)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a, *b;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    a = rus_metrics_vhost(m, "a.example");
    b = rus_metrics_vhost(m, "b.example");
    rus_metrics_add(a, RUS_M_REQ_SESSION, 1);
    rus_metrics_add(a, RUS_M_REQ_SESSION, 1);
    rus_metrics_add(b, RUS_M_REQ_SESSION, 5);
    rus_metrics_add(b, RUS_M_STORE_ERR_OTHER, 1);
    rus_metrics_add(NULL, RUS_M_REQ_SESSION, 100);   /* nothing */
    rus_metrics_add(a, RUS_M_COUNTERS, 100);         /* no such counter */
    rus_metrics_add(a, (rus_metric_e)-1, 100);       /* nor this */
    rus_metrics_observe(NULL, apr_time_from_sec(1)); /* nothing */
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_REQ_SESSION), 7);
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_STORE_ERR_OTHER), 1);
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_REQ_FRONTEND), 0);
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_COUNTERS), 0);
    ck_assert_uint_eq(rus_metrics_total(NULL, RUS_M_REQ_SESSION), 0);
    ck_assert_line(rus_metrics_prometheus(m, p),
                   "remoteuser_requests_total{server_name=\"a.example\","
                   "source=\"session\"} 2");
    ck_assert_line(rus_metrics_prometheus(m, p),
                   "remoteuser_requests_total{server_name=\"b.example\","
                   "source=\"session\"} 5");
    /* reading resets nothing */
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_REQ_SESSION), 7);
    apr_pool_destroy(p);
}
END_TEST

/* Every counter has its names, and a family's members are next to each
 * other with one label name. */
START_TEST(test_metric_infos)
{
    const rus_metric_info_t *info, *prev = NULL;
    int c, k;

    for (c = 0; c < RUS_M_COUNTERS; c++) {
        info = rus_metric_info((rus_metric_e)c);
        ck_assert_ptr_nonnull(info);
        ck_assert_ptr_nonnull(info->name);
        ck_assert_msg(strncmp(info->name, "remoteuser_", 11) == 0
                          && strcmp(info->name + strlen(info->name) - 6,
                                    "_total")
                                 == 0,
                      "%s", info->name);
        ck_assert_ptr_nonnull(info->help);
        ck_assert_ptr_nonnull(info->json);
        ck_assert_ptr_nonnull(info->status);
        ck_assert_int_eq(info->label == NULL, info->value == NULL);
        if (prev != NULL && strcmp(prev->name, info->name) == 0) {
            ck_assert_ptr_nonnull(info->label);
            ck_assert_str_eq(prev->label, info->label);
            ck_assert_str_eq(prev->json, info->json);
        }
        else {
            /* a new family: none of the earlier ones */
            for (k = 0; k < c; k++) {
                ck_assert_str_ne(rus_metric_info((rus_metric_e)k)->name,
                                 info->name);
            }
        }
        prev = info;
    }
    ck_assert_ptr_null(rus_metric_info(RUS_M_COUNTERS));
    ck_assert_str_eq(rus_metric_info(RUS_M_REFUSED_UNTRUSTED)->value,
                     "untrusted_peer");
}
END_TEST

/* ---- the histogram ------------------------------------------------------ */

#define BUCKET(le, n)                                                          \
    "remoteuser_store_call_duration_seconds_bucket{server_name=\"a\",le=\"" le \
    "\"} " #n

START_TEST(test_histogram_edges)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a;
    const char *text;
    int i;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    a = rus_metrics_vhost(m, "a");
    for (i = 1; i < RUS_METRICS_BUCKETS; i++) {
        ck_assert(rus_metrics_bucket_bounds[i - 1]
                  < rus_metrics_bucket_bounds[i]);
    }
    ck_assert(rus_metrics_bucket_bounds[0] == 0.0001);
    ck_assert(rus_metrics_bucket_bounds[RUS_METRICS_BUCKETS - 1] == 5.0);

    rus_metrics_observe(a, 100); /* 0.1 ms exactly: le="0.0001" */
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, BUCKET("0.0001", 1));
    ck_assert_line(text, BUCKET("+Inf", 1));
    rus_metrics_observe(a, -5); /* the clock stepped back: 0 */
    rus_metrics_observe(a, 101);
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, BUCKET("0.0001", 2));
    ck_assert_line(text, BUCKET("0.00025", 3));
    rus_metrics_observe(a, apr_time_from_sec(5)); /* le="5" */
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, BUCKET("1", 3));
    ck_assert_line(text, BUCKET("5", 4));
    ck_assert_line(text, BUCKET("+Inf", 4));
    rus_metrics_observe(a, apr_time_from_sec(5) + 1); /* above: +Inf only */
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, BUCKET("5", 4));
    ck_assert_line(text, BUCKET("+Inf", 5));
    ck_assert_line(text, "remoteuser_store_call_duration_seconds_count"
                         "{server_name=\"a\"} 5");
    /* 100 + 0 + 101 + 5000000 + 5000001 microseconds */
    ck_assert_line(text, "remoteuser_store_call_duration_seconds_sum"
                         "{server_name=\"a\"} 10.000202");
    /* buckets in order, each bound once */
    ck_assert_ptr_nonnull(
        strstr(text, BUCKET("0.0001", 2) "\n" BUCKET("0.00025",
                                                     3) "\n" BUCKET("0.0005",
                                                                    3) "\n"));
    ck_assert_int_eq(count_of(text, "_bucket{server_name=\"a\""),
                     RUS_METRICS_BUCKETS + 1);
    ck_prom_ok(p, text);
    apr_pool_destroy(p);
}
END_TEST

/* ---- renders ------------------------------------------------------------ */

START_TEST(test_prometheus_known_state)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a, *b;
    const char *text;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    /* nothing taken yet: the families, no samples */
    text = rus_metrics_prometheus(m, p);
    ck_assert_int_eq(count_of(text, "server_name"), 0);
    ck_assert_line(text, "# TYPE remoteuser_logins_total counter");

    a = rus_metrics_vhost(m, "a.example");
    b = rus_metrics_vhost(m, "b.example");
    rus_metrics_add(a, RUS_M_REQ_FRONTEND, 3);
    rus_metrics_add(b, RUS_M_LOGINS, 1);
    rus_metrics_add(a, RUS_M_REFUSED_SPOOFED, 2);
    text = rus_metrics_prometheus(m, p);
    ck_assert_ptr_nonnull(strstr(
        text,
        "# HELP remoteuser_requests_total Requests whose identity the module "
        "accepted, by where it came from.\n"
        "# TYPE remoteuser_requests_total counter\n"
        "remoteuser_requests_total{server_name=\"a.example\",source="
        "\"frontend\"} 3\n"
        "remoteuser_requests_total{server_name=\"a.example\",source="
        "\"header\"} 0\n"
        "remoteuser_requests_total{server_name=\"a.example\",source="
        "\"session\"} 0\n"
        "remoteuser_requests_total{server_name=\"b.example\",source="
        "\"frontend\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "# TYPE remoteuser_logins_total counter\n"
                     "remoteuser_logins_total{server_name=\"a.example\"} 0\n"
                     "remoteuser_logins_total{server_name=\"b.example\"} 1\n"));
    ck_assert_line(text, "remoteuser_refusals_total{server_name=\"a.example\","
                         "cause=\"spoofed_header\"} 2");
    ck_assert_line(text, "remoteuser_refusals_total{server_name=\"b.example\","
                         "cause=\"htaccess\"} 0");
    ck_assert_line(text, "# TYPE remoteuser_store_call_duration_seconds "
                         "histogram");
    /* each family once, whatever the number of sets */
    ck_assert_int_eq(count_of(text, "# TYPE remoteuser_requests_total "), 1);
    ck_assert_int_eq(count_of(text, "# HELP remoteuser_refusals_total "), 1);
    ck_assert_int_eq(count_of(text, "# TYPE "), count_of(text, "# HELP "));
    /* gauges never read are not shown */
    ck_assert_int_eq(count_of(text, "remoteuser_users "), 0);
    ck_assert_int_eq(count_of(text, "remoteuser_sessions_active"), 0);
    ck_prom_ok(p, text);

    rus_metrics_gauge_set(m, RUS_G_USERS, 12, T0);
    rus_metrics_gauge_set(m, RUS_G_REVOKED_DEACTIVATION, 4, T0);
    text = rus_metrics_prometheus(m, p);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE remoteuser_users gauge\n"
                                       "remoteuser_users 12\n"));
    ck_assert_int_eq(count_of(text, "remoteuser_sessions_active"), 0);
    ck_assert_ptr_nonnull(
        strstr(text, "# TYPE remoteuser_store_sessions_revoked_total counter\n"
                     "remoteuser_store_sessions_revoked_total{reason="
                     "\"deactivation\"} 4\n"));
    rus_metrics_gauge_set(m, RUS_G_SESSIONS_ACTIVE, 0, T0);
    rus_metrics_gauge_set(m, RUS_G_REVOKED_ADMIN, 9, T0);
    rus_metrics_gauge_set(m, RUS_G_USERS, 13, T0 + 1);
    text = rus_metrics_prometheus(m, p);
    ck_assert_line(text, "remoteuser_users 13");
    ck_assert_line(text, "remoteuser_sessions_active 0");
    ck_assert_line(text,
                   "remoteuser_store_sessions_revoked_total{reason=\"admin\"} "
                   "9");
    ck_assert_int_eq(
        count_of(text,
                 "# TYPE remoteuser_store_sessions_revoked_total counter"),
        1);
    ck_prom_ok(p, text);
    apr_pool_destroy(p);
}
END_TEST

/* A server_name of quotes, backslashes, newlines and control bytes stays
 * inside its label value, in every render. */
START_TEST(test_hostile_names)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *v;
    const char *text;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    v = rus_metrics_vhost(m, "a\"b\\c\nd\x01\x1b[31me\x7f\xff}x\"} 99\n");
    rus_metrics_add(v, RUS_M_LOGINS, 1);
    rus_metrics_observe(v, 1000);
    rus_metrics_vhost(m, "<script>&'");
    rus_metrics_gauge_set(m, RUS_G_USERS, 1, T0);

    text = rus_metrics_prometheus(m, p);
    ck_prom_ok(p, text);
    /* control bytes and bytes that are not UTF-8 became '?' when the set
     * was taken */
    ck_assert_line(text, "remoteuser_logins_total{server_name="
                         "\"a\\\"b\\\\c?d??[31me??}x\\\"} 99?\"} 1");
    ck_assert_int_eq(count_of(text, " 99\n"), 0);

    text = rus_metrics_json(m, p);
    ck_json_ok(p, text);
    ck_assert_ptr_nonnull(
        strstr(text, "\"a\\\"b\\\\c?d??[31me??}x\\\"} 99?\": {"));
    ck_assert_ptr_nonnull(strstr(text, "\"<script>&'\": {"));

    text = rus_metrics_status_html(m, p);
    ck_assert_ptr_null(strstr(text, "<script>"));
    ck_assert_ptr_nonnull(strstr(text, "<th>&lt;script&gt;&amp;&#39;</th>"));
    ck_assert_ptr_nonnull(
        strstr(text, "<th>a&quot;b\\c?d??[31me??}x&quot;} 99?</th>"));
    /* UTF-8 names pass as they are, the same in every render */
    rus_metrics_vhost(m, "caf\xc3\xa9.example");
    ck_assert_ptr_nonnull(strstr(rus_metrics_prometheus(m, p),
                                 "server_name=\"caf\xc3\xa9.example\""));
    ck_assert_ptr_nonnull(
        strstr(rus_metrics_json(m, p), "\"caf\xc3\xa9.example\": {"));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_json_known_state)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a;
    const char *text;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    text = rus_metrics_json(m, p);
    ck_json_ok(p, text);
    ck_assert_str_eq(text, "{\"server_names\": {}, \"gauges\": {\"users\": "
                           "null, \"sessions_active\": null, "
                           "\"store_sessions_revoked\": {\"admin\": null, "
                           "\"deactivation\": null}}}\n");
    a = rus_metrics_vhost(m, "a.example");
    rus_metrics_add(a, RUS_M_REQ_HEADER, 4);
    rus_metrics_add(a, RUS_M_USERS_CREATED, 2);
    rus_metrics_add(a, RUS_M_CACHE_MISS, 1);
    rus_metrics_observe(a, 300);
    rus_metrics_gauge_set(m, RUS_G_SESSIONS_ACTIVE, 3, T0);
    text = rus_metrics_json(m, p);
    ck_json_ok(p, text);
    ck_assert_ptr_nonnull(
        strstr(text,
               "{\"server_names\": {\"a.example\": {\"requests\": "
               "{\"frontend\": 0, \"header\": 4, \"session\": 0}, "
               "\"users_created\": 2, \"logins\": 0, \"profile_syncs\": 0, "
               "\"refusals\": {\"inactive\": 0, \"unknown\": 0, "
               "\"invalid_name\": 0, \"untrusted_peer\": 0, "
               "\"spoofed_header\": 0, \"htaccess\": 0}, "));
    ck_assert_ptr_nonnull(strstr(text, "\"cache_requests\": {\"hit\": 0, "
                                       "\"miss\": 1}, "));
    ck_assert_ptr_nonnull(
        strstr(text,
               "\"store_call_duration_seconds\": {\"buckets\": {\"0.0001\": 0, "
               "\"0.00025\": 0, \"0.0005\": 1, "));
    ck_assert_ptr_nonnull(strstr(text, "\"+Inf\": 1}, \"sum\": 0.000300, "
                                       "\"count\": 1}}}"));
    ck_assert_ptr_nonnull(strstr(text, "\"gauges\": {\"users\": null, "
                                       "\"sessions_active\": 3, "));
    ck_assert_str_eq(rus_metrics_json(NULL, p), "{}");
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_status_auto)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    rus_metrics_vhost_t *a, *b;
    const char *text;
    int i;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    text = rus_metrics_status_auto(m, p);
    ck_assert_line(text, "RemoteUserLogins: 0");
    ck_assert_line(text, "RemoteUserCacheHitRatio: 0");
    ck_assert_int_eq(count_of(text, "RemoteUserUsers:"), 0);
    ck_assert_int_eq(count_of(text, "RemoteUserSessionsActive:"), 0);

    a = rus_metrics_vhost(m, "a.example");
    b = rus_metrics_vhost(m, "b.example");
    rus_metrics_add(a, RUS_M_LOGINS, 2);
    rus_metrics_add(b, RUS_M_LOGINS, 3);
    rus_metrics_add(a, RUS_M_REFUSED_INACTIVE, 1);
    rus_metrics_add(b, RUS_M_REFUSED_NAME, 2);
    rus_metrics_add(b, RUS_M_REFUSED_HTACCESS, 4);
    rus_metrics_add(a, RUS_M_CACHE_HIT, 3);
    rus_metrics_add(b, RUS_M_CACHE_MISS, 1);
    rus_metrics_add(a, RUS_M_SESS_REVOKED_LOGOUT, 1);
    rus_metrics_add(b, RUS_M_SESS_REVOKED_USER_SWITCH, 1);
    rus_metrics_add(b, RUS_M_STORE_ERR_BUSY, 6);
    rus_metrics_observe(a, 1500000);
    rus_metrics_observe(b, 20);
    rus_metrics_gauge_set(m, RUS_G_USERS, 10, T0);
    rus_metrics_gauge_set(m, RUS_G_SESSIONS_ACTIVE, 7, T0);
    text = rus_metrics_status_auto(m, p);
    ck_assert_line(text, "RemoteUserLogins: 5");
    ck_assert_line(text, "RemoteUserRefusals: 7");
    ck_assert_line(text, "RemoteUserRefusalsInactive: 1");
    ck_assert_line(text, "RemoteUserRefusalsInvalidName: 2");
    ck_assert_line(text, "RemoteUserRefusalsHtaccess: 4");
    ck_assert_line(text, "RemoteUserRefusalsUnknown: 0");
    ck_assert_line(text, "RemoteUserCacheHits: 3");
    ck_assert_line(text, "RemoteUserCacheMisses: 1");
    ck_assert_line(text, "RemoteUserCacheHitRatio: 0.75");
    ck_assert_line(text, "RemoteUserSessionsRevoked: 2");
    ck_assert_line(text, "RemoteUserSessionsExpired: 0");
    ck_assert_line(text, "RemoteUserStoreErrors: 6");
    ck_assert_line(text, "RemoteUserStoreErrorsBusy: 6");
    ck_assert_line(text, "RemoteUserStoreCalls: 2");
    ck_assert_line(text, "RemoteUserStoreCallSeconds: 1.500020");
    ck_assert_line(text, "RemoteUserUsers: 10");
    ck_assert_line(text, "RemoteUserSessionsActive: 7");
    ck_assert_int_eq(count_of(text, "RemoteUserStoreSessionsRevokedAdmin"), 0);
    /* every line Key: value, keys once each */
    for (i = 0; i < RUS_M_COUNTERS; i++) {
        ck_assert_int_eq(
            count_of(text, apr_pstrcat(p, "\nRemoteUser",
                                       rus_metric_info((rus_metric_e)i)->status,
                                       ": ", NULL)),
            i == 0 ? 0 : 1);
    }
    ck_assert_int_eq(strncmp(text, "RemoteUserRequestsFrontend: 0\n", 30), 0);
    rus_metrics_add(a, RUS_M_CACHE_HIT, 5);
    ck_assert_line(rus_metrics_status_auto(m, p),
                   "RemoteUserCacheHitRatio: 0.888889");
    rus_metrics_add(b, RUS_M_CACHE_MISS, APR_UINT64_C(1) << 62);
    ck_assert_line(rus_metrics_status_auto(m, p), "RemoteUserCacheHitRatio: 0");
    apr_pool_destroy(p);

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    rus_metrics_add(rus_metrics_vhost(m, "x"), RUS_M_CACHE_HIT, 9);
    ck_assert_line(rus_metrics_status_auto(m, p), "RemoteUserCacheHitRatio: 1");
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_gauges_claim)
{
    apr_pool_t *p;
    rus_metrics_t *m;
    apr_int64_t value = -1;
    apr_time_t at = 0;
    apr_interval_time_t every = apr_time_from_sec(RUS_METRICS_GAUGE_INTERVAL);

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    ck_assert_int_eq(rus_metrics_gauges_claim(NULL, T0), 0);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0), 1);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0), 0);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0 + every - 1), 0);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0 + every), 1);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0 + every + 1), 0);
    /* the clock stepped back by more than an interval: due at once */
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0 - apr_time_from_sec(3600)),
                     1);
    ck_assert_int_eq(rus_metrics_gauges_claim(m, T0 - apr_time_from_sec(3600)),
                     0);

    ck_assert_int_eq(rus_metrics_gauge_get(m, RUS_G_USERS, &value, &at), 0);
    rus_metrics_gauge_set(NULL, RUS_G_USERS, 5, T0); /* nothing */
    rus_metrics_gauge_set(m, RUS_G_GAUGES, 5, T0);   /* no such gauge */
    rus_metrics_gauge_set(m, RUS_G_USERS, 5, T0);
    ck_assert_int_eq(rus_metrics_gauge_get(m, RUS_G_USERS, &value, &at), 1);
    ck_assert_int_eq(value, 5);
    ck_assert_int_eq(at, T0);
    ck_assert_int_eq(rus_metrics_gauge_get(m, RUS_G_GAUGES, &value, &at), 0);
    ck_assert_int_eq(rus_metrics_gauge_get(m, RUS_G_SESSIONS_ACTIVE, NULL,
                                           NULL),
                     0);
    apr_pool_destroy(p);
}
END_TEST

/* ---- concurrency -------------------------------------------------------- */

#define ADDERS 4
#define ADDS   100000

typedef struct adder_t {
    rus_metrics_t *m;
    const char *name;
} adder_t;

static void *APR_THREAD_FUNC adder(apr_thread_t *thd, void *data)
{
    adder_t *a = data;
    /* each thread finds the set itself, as each process does */
    rus_metrics_vhost_t *v = rus_metrics_vhost(a->m, a->name);
    int i;

    for (i = 0; i < ADDS; i++) {
        rus_metrics_add(v, RUS_M_SESS_VALIDATED, 1);
        rus_metrics_observe(v, i % 7);
    }
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

START_TEST(test_concurrent_adds_exact)
{
    apr_pool_t *p;
    apr_thread_t *threads[ADDERS];
    apr_status_t trv;
    adder_t a;
    rus_metrics_t *m;
    const char *text;
    int i;

    apr_pool_create(&p, NULL);
    m = new_metrics(p);
    a.m = m;
    a.name = "busy.example";
    for (i = 0; i < ADDERS; i++) {
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, adder, &a, p),
                         APR_SUCCESS);
    }
    for (i = 0; i < ADDERS; i++) {
        apr_thread_join(&trv, threads[i]);
    }
    ck_assert_uint_eq(rus_metrics_total(m, RUS_M_SESS_VALIDATED),
                      ADDERS * ADDS);
    text = rus_metrics_prometheus(m, p);
    /* one set, found by all four */
    ck_assert_int_eq(count_of(text, "remoteuser_sessions_validated_total{"), 1);
    ck_assert_line(text, apr_psprintf(p,
                                      "remoteuser_store_call_duration_seconds_"
                                      "count{server_name=\"busy.example\"} %d",
                                      ADDERS * ADDS));
    apr_pool_destroy(p);
}
END_TEST

TCase *rus_metrics_test_case(void)
{
    TCase *tc = tcase_create("metrics");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_init_keeps_its_own_layout);
    tcase_add_test(tc, test_vhost_sets_by_name);
    tcase_add_test(tc, test_add_and_totals);
    tcase_add_test(tc, test_metric_infos);
    tcase_add_test(tc, test_histogram_edges);
    tcase_add_test(tc, test_prometheus_known_state);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_json_known_state);
    tcase_add_test(tc, test_status_auto);
    tcase_add_test(tc, test_gauges_claim);
    tcase_add_test(tc, test_concurrent_adds_exact);
    return tc;
}
