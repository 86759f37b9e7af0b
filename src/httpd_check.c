/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The startup checks that read the configuration as written (httpd's
 * ap_conftree): directives that need the engine where it is not On
 * (errors), and settings that cannot work as meant (warnings).
 *
 * This is a static reading, and it is sound only one way: an error is
 * reported only where no section of the configuration could turn the
 * engine on for the directive's scope or any part of it. Sections whose
 * reach is known only at request time (regular expressions, wildcards,
 * <If>, <Files>, <Proxy>, a <Directory> seen from a <Location> and the
 * other way round) count as "may turn it on"; so does a .htaccess file
 * wherever RemoteUserTrustHtaccess On lets one set RemoteUserEngine. Such
 * configurations are left to the request-time checks (RUS00027, RUS00032,
 * RUS00040). The same holds for TLS: a virtual host counts as TLS when it
 * (or the main server, which it inherits from) says SSLEngine on or
 * optional, or its ServerName starts with https://. */

#include <apr_strings.h>

#include "rus_confcheck.h"
#include "rus_net.h"
#include "rus_session.h"

#include "httpd_private.h"

#include "util_cfgtree.h"

/* ==================================================================== */
/* the configuration as sections                                        */

typedef enum {
    SEC_SERVER,    /* the main server or a <VirtualHost> */
    SEC_LOCATION,  /* <Location> */
    SEC_DIRECTORY, /* <Directory> */
    SEC_OTHER      /* <Files>, <If>, <Proxy>, ...: reach unknown here */
} sec_kind_e;

typedef struct sec_t sec_t;

/* One section of the configuration and what it sets itself (not what its
 * inner sections set). */
struct sec_t {
    const ap_directive_t *node; /* its <...> line; NULL: the main server */
    sec_t *server;              /* the server it belongs to (itself) */
    sec_t *parent;              /* enclosing section, NULL for a server */
    sec_kind_e kind;
    int pattern;      /* a regex or wildcard: not matched here */
    const char *path; /* Location/Directory path, unquoted */
    int engine;       /* RemoteUserEngine here: UNSET, 0, 1 */
    int authtype;     /* AuthType here: UNSET, 0 other, 1 RemoteUser */
    int tls;          /* servers: SSLEngine here: UNSET, 0, 1 */
    int https_name;   /* servers: ServerName https://... */
    const ap_directive_t *idle;    /* RemoteUserSessionIdleTimeout here */
    const ap_directive_t *max_age; /* RemoteUserSessionMaxAge here */
    unsigned int stamp;            /* last check that applied it */
};

/* A directive that a check looks at, and the section it is in. */
typedef struct leaf_t {
    const ap_directive_t *d;
    sec_t *sec;
} leaf_t;

typedef struct model_t {
    apr_pool_t *p;
    apr_array_header_t *secs;   /* sec_t *, in configuration order */
    apr_array_header_t *leaves; /* leaf_t */
    sec_t *main;
    int trust_htaccess; /* RemoteUserTrustHtaccess On anywhere */
    unsigned int stamp;
} model_t;

/* The first word of a directive's arguments, unquoted ("" if none). */
static const char *first_word(apr_pool_t *p, const char *args)
{
    const char *line = args ? args : "";

    return ap_getword_conf(p, &line);
}

static int is_on(apr_pool_t *p, const char *args)
{
    return strcasecmp(first_word(p, args), "on") == 0;
}

static sec_t *new_sec(model_t *m, const ap_directive_t *node, sec_t *parent,
                      sec_kind_e kind)
{
    sec_t *s = apr_pcalloc(m->p, sizeof(*s));

    s->node = node;
    s->parent = parent;
    s->server = parent != NULL ? parent->server : s;
    s->kind = kind;
    s->engine = s->authtype = s->tls = UNSET;
    APR_ARRAY_PUSH(m->secs, sec_t *) = s;
    return s;
}

/* The section a container opens, or @a cur for one that is no scope of
 * its own (<Limit>, <RequireAll>, <IfModule> ...: what is inside belongs
 * to the enclosing section). */
static sec_t *open_section(model_t *m, const ap_directive_t *d, sec_t *cur)
{
    static const char *const others[] = { "<Files",     "<FilesMatch", "<If",
                                          "<ElseIf",    "<Else",       "<Proxy",
                                          "<ProxyMatch" };
    const char *name = d->directive, *args, *word, *end;
    sec_kind_e kind = SEC_OTHER;
    int regex = 0;
    apr_size_t i;
    sec_t *s;

    if (strcasecmp(name, "<VirtualHost") == 0) {
        return new_sec(m, d, NULL, SEC_SERVER);
    }
    if (strcasecmp(name, "<Location") == 0
        || strcasecmp(name, "<LocationMatch") == 0) {
        kind = SEC_LOCATION;
        regex = strcasecmp(name, "<LocationMatch") == 0;
    }
    else if (strcasecmp(name, "<Directory") == 0
             || strcasecmp(name, "<DirectoryMatch") == 0) {
        kind = SEC_DIRECTORY;
        regex = strcasecmp(name, "<DirectoryMatch") == 0;
    }
    else {
        for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
            if (strcasecmp(name, others[i]) == 0) {
                break;
            }
        }
        if (i == sizeof(others) / sizeof(others[0])) {
            return cur;
        }
    }
    s = new_sec(m, d, cur, kind);
    /* the arguments end with the container's '>' */
    args = d->args ? d->args : "";
    end = strrchr(args, '>');
    args = end ? apr_pstrmemdup(m->p, args, (apr_size_t)(end - args)) : args;
    word = ap_getword_conf(m->p, &args);
    if (strcmp(word, "~") == 0) {
        regex = 1;
        word = ap_getword_conf(m->p, &args);
    }
    s->path = word;
    s->pattern =
        kind == SEC_OTHER || regex || !rus_confcheck_path_literal(word);
    return s;
}

/* What one directive tells the checks. */
static void read_leaf(model_t *m, const ap_directive_t *d, sec_t *cur)
{
    const char *name = d->directive;
    leaf_t *leaf;

    if (strcasecmp(name, "RemoteUserEngine") == 0) {
        cur->engine = is_on(m->p, d->args);
    }
    else if (strcasecmp(name, "AuthType") == 0) {
        cur->authtype =
            strcasecmp(first_word(m->p, d->args), RUS_AUTH_TYPE) == 0;
    }
    else if (strcasecmp(name, "SSLEngine") == 0 && cur->kind == SEC_SERVER) {
        cur->tls = is_on(m->p, d->args)
                   || strcasecmp(first_word(m->p, d->args), "optional") == 0;
    }
    else if (strcasecmp(name, "ServerName") == 0 && cur->kind == SEC_SERVER) {
        cur->https_name =
            strncasecmp(first_word(m->p, d->args), "https://", 8) == 0;
    }
    else if (strcasecmp(name, "RemoteUserTrustHtaccess") == 0) {
        m->trust_htaccess |= is_on(m->p, d->args);
    }
    else if (strcasecmp(name, "RemoteUserSessionIdleTimeout") == 0) {
        cur->idle = d;
    }
    else if (strcasecmp(name, "RemoteUserSessionMaxAge") == 0) {
        cur->max_age = d;
    }
    leaf = apr_array_push(m->leaves);
    leaf->d = d;
    leaf->sec = cur;
}

static void walk(model_t *m, const ap_directive_t *d, sec_t *cur)
{
    for (; d != NULL; d = d->next) {
        if (d->directive[0] == '<') {
            walk(m, d->first_child, open_section(m, d, cur));
        }
        else {
            read_leaf(m, d, cur);
        }
    }
}

static model_t *read_model(apr_pool_t *p)
{
    model_t *m = apr_pcalloc(p, sizeof(*m));

    m->p = p;
    m->secs = apr_array_make(p, 32, sizeof(sec_t *));
    m->leaves = apr_array_make(p, 64, sizeof(leaf_t));
    m->main = new_sec(m, NULL, NULL, SEC_SERVER);
    walk(m, ap_conftree, m->main);
    return m;
}

/* ==================================================================== */
/* the engine in force                                                  */

/* The section right under a server that holds @a s (@a s itself), NULL
 * for a server. */
static sec_t *anchor_of(sec_t *s)
{
    if (s->parent == NULL) {
        return NULL;
    }
    while (s->parent->parent != NULL) {
        s = s->parent;
    }
    return s;
}

typedef struct engine_t {
    int engine, authtype;
} engine_t;

static void apply(model_t *m, engine_t *e, sec_t *s)
{
    if (s->engine != UNSET) {
        e->engine = s->engine;
    }
    if (s->authtype != UNSET) {
        e->authtype = s->authtype;
    }
    s->stamp = m->stamp;
}

static int turns_on(const sec_t *s)
{
    return s->engine == 1 || s->authtype == 1;
}

/* The sections from below @a anchor down to @a s, outermost first. */
static void apply_chain(model_t *m, engine_t *e, sec_t *anchor, sec_t *s)
{
    if (s == anchor) {
        return;
    }
    apply_chain(m, e, anchor, s->parent);
    apply(m, e, s);
}

/* Does the literal section @a x, right under a server, apply wherever
 * the literal anchor @a a does? */
static int covers(const sec_t *x, const sec_t *a)
{
    return x->parent != NULL && x->parent->parent == NULL && x->kind == a->kind
           && !x->pattern && rus_confcheck_path_covers(x->path, a->path);
}

/* The <Directory> or <Location> sections of @a server that apply wherever
 * @a a does, at @a depth components for <Directory> (httpd merges those
 * shortest first), in configuration order; @a s's chain after @a a. */
static void apply_covering(model_t *m, engine_t *e, sec_t *server, sec_t *a,
                           sec_t *s, int depth)
{
    int i;

    for (i = 0; i < m->secs->nelts; i++) {
        sec_t *x = APR_ARRAY_IDX(m->secs, i, sec_t *);

        if (x->server != server || !covers(x, a)
            || (depth >= 0 && rus_confcheck_path_depth(x->path) != depth)) {
            continue;
        }
        apply(m, e, x);
        if (x == a) {
            apply_chain(m, e, a, s);
        }
    }
}

/* The engine as it certainly is in @a s's scope: the main server, its
 * virtual host, then the sections that apply wherever @a s does, the way
 * httpd merges them. Marks them (stamp) for may_turn_on(). */
static engine_t engine_certain(model_t *m, sec_t *s)
{
    engine_t e = { UNSET, UNSET };
    sec_t *a = anchor_of(s), *server = s->server;
    int depth, max = 0, i;

    m->stamp++;
    apply(m, &e, m->main);
    if (server != m->main) {
        apply(m, &e, server);
    }
    if (a == NULL) {
        return e;
    }
    if (a->pattern) {
        apply(m, &e, a);
        apply_chain(m, &e, a, s);
        return e;
    }
    if (a->kind == SEC_LOCATION) {
        apply_covering(m, &e, m->main, a, s, -1);
        if (server != m->main) {
            apply_covering(m, &e, server, a, s, -1);
        }
        return e;
    }
    for (i = 0; i < m->secs->nelts; i++) {
        sec_t *x = APR_ARRAY_IDX(m->secs, i, sec_t *);

        if (covers(x, a) && rus_confcheck_path_depth(x->path) > max) {
            max = rus_confcheck_path_depth(x->path);
        }
    }
    for (depth = 0; depth <= max; depth++) {
        apply_covering(m, &e, m->main, a, s, depth);
        if (server != m->main) {
            apply_covering(m, &e, server, a, s, depth);
        }
    }
    return e;
}

/* Could a section not applied by engine_certain() turn the engine on in
 * @a s's scope, or in a part of it? */
static int may_turn_on(model_t *m, sec_t *s)
{
    sec_t *a = anchor_of(s), *server = s->server, *ax;
    int i;

    if (m->trust_htaccess) {
        return 1; /* a .htaccess file may say RemoteUserEngine On */
    }
    for (i = 0; i < m->secs->nelts; i++) {
        sec_t *x = APR_ARRAY_IDX(m->secs, i, sec_t *);

        if (x->stamp == m->stamp || !turns_on(x)) {
            continue;
        }
        /* the main server's sections apply in every virtual host */
        if (x->server != m->main && x->server != server && server != m->main) {
            continue;
        }
        ax = anchor_of(x);
        if (a == NULL || ax == NULL || ax == a || a->pattern || ax->pattern
            || a->kind != ax->kind) {
            return 1;
        }
        /* two literal sections of one kind: only where one holds the
         * other */
        if (rus_confcheck_path_covers(a->path, ax->path)
            || rus_confcheck_path_covers(ax->path, a->path)) {
            return 1;
        }
    }
    return 0;
}

/* What a directive that needs the engine is for, or NULL when @a d is
 * not one. */
static const char *needs_engine(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "", *word;

    if (strcasecmp(d->directive, "RemoteUserSession") == 0) {
        return is_on(p, args) ? "no session cookie would be read or issued"
                              : NULL;
    }
    if (strcasecmp(d->directive, "Require") == 0) {
        word = ap_getword_conf(p, &args);
        if (strcasecmp(word, "not") == 0) {
            word = ap_getword_conf(p, &args);
        }
        return strcasecmp(word, "remoteuser-group") == 0
                   ? "every request would get 500 (RUS00032)"
                   : NULL;
    }
    if (strcasecmp(d->directive, "SetHandler") == 0) {
        word = first_word(p, args);
        if (strcasecmp(word, LOGIN_HANDLER) == 0) {
            return "every login would get 500 (RUS00027)";
        }
        if (strcasecmp(word, LOGOUT_HANDLER) == 0) {
            return "the logout location must be one the module manages, "
                   "as the login location is";
        }
    }
    return NULL;
}

/* How a section is named in messages. */
static const char *where(apr_pool_t *p, const sec_t *s)
{
    if (s->node == NULL) {
        return "the main server";
    }
    return apr_psprintf(p, "%s %s on line %d of %s", s->node->directive,
                        s->node->args, s->node->line_num, s->node->filename);
}

int rus_httpd_check_engine_scopes(server_rec *s, apr_pool_t *ptemp)
{
    model_t *m = read_model(ptemp);
    engine_t e;
    int i, bad = 0;

    for (i = 0; i < m->leaves->nelts; i++) {
        leaf_t *leaf = &APR_ARRAY_IDX(m->leaves, i, leaf_t);
        const char *why = needs_engine(ptemp, leaf->d);

        if (why == NULL) {
            continue;
        }
        e = engine_certain(m, leaf->sec);
        if (e.engine == 1 || e.authtype == 1 || may_turn_on(m, leaf->sec)) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     RUSLOGNO(00097) "%s %s on line %d of %s needs "
                                     "RemoteUserEngine On (or AuthType "
                                     "RemoteUser) where it applies, and "
                                     "no section that applies there (%s "
                                     "or one around it) turns it on: %s",
                     leaf->d->directive, leaf->d->args, leaf->d->line_num,
                     leaf->d->filename, where(ptemp, leaf->sec), why);
        bad = 1;
    }
    return bad ? !OK : OK;
}

/* ==================================================================== */
/* warnings                                                             */

/* Does @a server use TLS, as far as its configuration shows? */
static int server_tls(const model_t *m, const sec_t *server)
{
    if (server->https_name || server->tls == 1) {
        return 1;
    }
    return server->tls == UNSET && server != m->main && m->main->tls == 1;
}

/* Cookie settings that only work over TLS, on a server without it: one
 * line per server, naming the first such directive it inherits or has. */
static void warn_cookie_without_tls(model_t *m, server_rec *s)
{
    int i, j;

    for (i = 0; i < m->secs->nelts; i++) {
        sec_t *server = APR_ARRAY_IDX(m->secs, i, sec_t *);

        if (server->kind != SEC_SERVER || server_tls(m, server)) {
            continue;
        }
        for (j = 0; j < m->leaves->nelts; j++) {
            leaf_t *leaf = &APR_ARRAY_IDX(m->leaves, j, leaf_t);
            const char *name = leaf->d->directive;
            const char *word = first_word(m->p, leaf->d->args);

            if ((leaf->sec->server != server && leaf->sec->server != m->main)
                || !((strcasecmp(name, "RemoteUserSessionCookieSameSite") == 0
                      && strcasecmp(word, "None") == 0)
                     || (strcasecmp(name, "RemoteUserSessionCookieSecure") == 0
                         && strcasecmp(word, "On") == 0))) {
                continue;
            }
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00098) "%s %s on line %d of %s applies in "
                                         "%s, which has no TLS (no "
                                         "SSLEngine on, no https:// "
                                         "ServerName): browsers send a "
                                         "Secure cookie back over HTTPS "
                                         "only, so users there would loop "
                                         "through the login",
                         name, leaf->d->args, leaf->d->line_num,
                         leaf->d->filename, where(m->p, server));
            break;
        }
    }
}

/* RemoteUserTrustedProxy blocks wider than /8 (IPv4) or /32 (IPv6). */
static void warn_wide_proxies(model_t *m, server_rec *s)
{
    int i;

    for (i = 0; i < m->leaves->nelts; i++) {
        leaf_t *leaf = &APR_ARRAY_IDX(m->leaves, i, leaf_t);
        const char *args = leaf->d->args ? leaf->d->args : "", *word;
        const char *msg = NULL;
        rus_cidr_t cidr;

        if (strcasecmp(leaf->d->directive, "RemoteUserTrustedProxy") != 0) {
            continue;
        }
        while (*(word = ap_getword_conf(m->p, &args)) != '\0') {
            if (rus_cidr_parse(&cidr, word, m->p, &msg) != APR_SUCCESS
                || !rus_cidr_too_wide(&cidr)) {
                continue;
            }
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RUSLOGNO(00099) "RemoteUserTrustedProxy %s on "
                                         "line %d of %s is wider than a "
                                         "/%d: every client in it may send "
                                         "the identity header and be "
                                         "whoever it names. List the "
                                         "proxies' own addresses",
                         word, leaf->d->line_num, leaf->d->filename,
                         cidr.v6 ? RUS_CIDR_WIDE_V6 : RUS_CIDR_WIDE_V4);
        }
    }
}

/* The section around @a s: its parent, for a virtual host the main
 * server, for the main server NULL. */
static sec_t *outer_of(const model_t *m, sec_t *s)
{
    if (s->parent != NULL) {
        return s->parent;
    }
    return s != m->main ? m->main : NULL;
}

static apr_int64_t seconds_of(apr_pool_t *p, const ap_directive_t *d)
{
    return apr_strtoi64(first_word(p, d->args), NULL, 10);
}

/* An IdleTimeout longer than the MaxAge in force, in each section that
 * sets either (with what the sections around it set). */
static void warn_idle_over_max_age(model_t *m, server_rec *s)
{
    int i;

    for (i = 0; i < m->secs->nelts; i++) {
        sec_t *x = APR_ARRAY_IDX(m->secs, i, sec_t *), *y;
        const ap_directive_t *idle = NULL, *max_age = NULL;
        apr_int64_t max_sec = RUS_SESSION_MAX_AGE_DEFAULT;

        if (x->idle == NULL && x->max_age == NULL) {
            continue;
        }
        /* innermost first: the first found is the one in force */
        for (y = x; y != NULL; y = outer_of(m, y)) {
            idle = idle ? idle : y->idle;
            max_age = max_age ? max_age : y->max_age;
        }
        if (max_age != NULL) {
            max_sec = seconds_of(m->p, max_age);
        }
        if (idle == NULL
            || !rus_confcheck_idle_exceeds(seconds_of(m->p, idle), max_sec)) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00100) "RemoteUserSessionIdleTimeout %s on "
                                     "line %d of %s is longer than the "
                                     "RemoteUserSessionMaxAge of "
                                     "%" APR_INT64_T_FMT " seconds in "
                                     "force in %s: sessions end at MaxAge "
                                     "first, the idle timeout never "
                                     "applies",
                     idle->args, idle->line_num, idle->filename, max_sec,
                     where(m->p, x));
    }
}

/* Is @a d a RemoteUserAttribute or RemoteUserGroupsFrom with a header:
 * source? Its source, or NULL. */
static const char *header_source(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "", *word;

    if (strcasecmp(d->directive, "RemoteUserAttribute") == 0) {
        ap_getword_conf(p, &args); /* NAME */
    }
    else if (strcasecmp(d->directive, "RemoteUserGroupsFrom") != 0) {
        return NULL;
    }
    word = ap_getword_conf(p, &args);
    return strncasecmp(word, "header:", 7) == 0 ? word : NULL;
}

/* A header: source in a server (a virtual host, or the main server) where
 * no section sets RemoteUserHeader, nor one of the main server's: the
 * identity never comes from the trusted header there, so the source is
 * never read. Sound one way only: a RemoteUserHeader elsewhere in the
 * server may or may not apply where the source is, and counts. */
static void warn_header_sources(model_t *m, server_rec *s)
{
    int i, j;

    for (i = 0; i < m->leaves->nelts; i++) {
        leaf_t *leaf = &APR_ARRAY_IDX(m->leaves, i, leaf_t);
        const char *src = header_source(m->p, leaf->d);
        int found = 0;

        if (src == NULL) {
            continue;
        }
        for (j = 0; j < m->leaves->nelts && !found; j++) {
            const leaf_t *h = &APR_ARRAY_IDX(m->leaves, j, leaf_t);

            found = strcasecmp(h->d->directive, "RemoteUserHeader") == 0
                    && (h->sec->server == leaf->sec->server
                        || h->sec->server == m->main);
        }
        if (found) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RUSLOGNO(00134) "%s %s on line %d of %s reads %s, but "
                                     "no RemoteUserHeader is set in %s: a "
                                     "header source is used only when the "
                                     "identity comes from RemoteUserHeader "
                                     "of a trusted proxy, so it is never "
                                     "read (use an env: source for what a "
                                     "front-end module sets)",
                     leaf->d->directive, leaf->d->args, leaf->d->line_num,
                     leaf->d->filename, src, where(m->p, leaf->sec->server));
    }
}

void rus_httpd_check_warnings(server_rec *s, apr_pool_t *ptemp)
{
    model_t *m = read_model(ptemp);

    warn_cookie_without_tls(m, s);
    warn_wide_proxies(m, s);
    warn_idle_over_max_age(m, s);
    warn_header_sources(m, s);
}
