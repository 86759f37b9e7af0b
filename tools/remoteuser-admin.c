/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* remoteuser-admin: manage the user store of mod_remoteuser_session.
 *
 * Built from the same core as the module (rus_store, rus_username): the
 * same backend code, the same name rules, no second copy of any query. It
 * knows the store only through rus_store.h: which backend answers is the
 * spec's business. Safe while httpd runs (the backend's locking).
 *
 * Commands are a table (cmd_t): each command has its subcommands, each
 * subcommand its operands, the options it takes and one function. Options
 * may come anywhere on the line, GNU style (parse_args() takes them all
 * out first); '--' ends them. Which store: --db, --store, --config, else
 * $REMOTEUSER_STORE, else the configuration httpd reads by default
 * (admin_httpd.c asks apachectl and httpd).
 *
 * Exit codes: 0 success, 1 not found, 2 bad usage, 3 conflict or store
 * failure. Errors are one line on stderr, and with --json also a JSON
 * object on stdout; warnings go to stderr only. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "admin.h"
#include "rus_session.h"
#include "rus_store.h"
#include "rus_username.h"
#include "rus_version.h"

/* The httpd binary: --httpd, else $RUS_HTTPD, else the one apxs named
 * when the tool was built. */
#ifndef RUS_HTTPD_DEFAULT
#define RUS_HTTPD_DEFAULT "/usr/sbin/apache2"
#endif

/* The shortest session id 'session revoke' takes. */
#define SESSION_ID_MIN 8

static int json;      /* --json */
static apr_pool_t *P; /* the process's pool */

/* ==================================================================== */
/* help                                                                 */

static const char *const help_top =
    "usage: remoteuser-admin [OPTIONS] COMMAND SUBCOMMAND [ARGS]\n"
    "       remoteuser-admin help [COMMAND]\n"
    "\n"
    "Manage the user store of mod_remoteuser_session.\n"
    "\n"
    "  --db PATH            the SQLite store file (--store sqlite:PATH)\n"
    "  --store SPEC         the store, written as for RemoteUserStore:\n"
    "                       sqlite:PATH, e.g. sqlite:/var/lib/x/users.db, or\n"
    "                       a PostgreSQL URI, postgresql://USER@HOST/DB?...\n"
    "  --config FILE        the store httpd uses with this configuration, as\n"
    "                       'BIN -t -f FILE -D DUMP_REMOTEUSER_STORE' reports"
    "\n"
    "                       it (sources envvars beside FILE, as apache2ctl)\n"
    "  --httpd BIN          the httpd binary that reads FILE (default:\n"
    "                       $RUS_HTTPD or " RUS_HTTPD_DEFAULT ")\n"
    "  (none of these)      $REMOTEUSER_STORE (a SPEC), else httpd's own\n"
    "                       configuration: SERVER_CONFIG_FILE under "
    "HTTPD_ROOT\n"
    "                       of 'apache2ctl -V' (or apachectl, or\n"
    "                       $REMOTEUSER_APACHECTL; set it empty to ask none)\n"
    "  --json               machine-readable output, errors included\n"
    "  --version            print the version\n"
    "  --help, -h           this help; after a command, the command's\n"
    "\n"
    "Options may come anywhere on the line; '--' ends them.\n"
    "\n"
    "commands:\n"
    "  user     list | show | add | enable | disable | delete | rename\n"
    "  group    list | add | delete | members | add-member | remove-member\n"
    "  session  list | revoke | revoke-all | purge\n"
    "  db       info | stats | check | migrate | backup | copy\n"
    "  help     [COMMAND]\n"
    "\n"
    "'remoteuser-admin help COMMAND' for details. Exit status: 0 ok, "
    "1 not found,\n2 bad usage, 3 conflict or store failure.\n";

static const char *const help_user =
    "usage: remoteuser-admin user list\n"
    "       remoteuser-admin user show NAME      (attributes, groups "
    "with origins)\n"
    "       remoteuser-admin user add NAME [--inactive]\n"
    "       remoteuser-admin user enable NAME\n"
    "       remoteuser-admin user disable NAME   (ends its sessions)\n"
    "       remoteuser-admin user delete NAME    (with its sessions and "
    "memberships)\n"
    "       remoteuser-admin user rename OLD NEW\n"
    "\n"
    "Names pass the module's validator. With httpd's configuration known,\n"
    "add and rename warn about a name that RemoteUserLowercase On or\n"
    "RemoteUserStripRealm On makes requests never carry.\n";

static const char *const help_group =
    "usage: remoteuser-admin group list\n"
    "       remoteuser-admin group add NAME\n"
    "       remoteuser-admin group delete NAME\n"
    "       remoteuser-admin group members NAME\n"
    "       remoteuser-admin group add-member GROUP USER\n"
    "       remoteuser-admin group remove-member GROUP USER\n";

static const char *const help_session =
    "usage: remoteuser-admin session list [--user NAME]\n"
    "       remoteuser-admin session revoke ID\n"
    "       remoteuser-admin session revoke --user NAME\n"
    "       remoteuser-admin session revoke-all\n"
    "       remoteuser-admin session purge       (deletes rows 1 h expired)\n"
    "\n"
    "ID is a session's id as 'session list' shows it, or any prefix of\n"
    "8 or more of its characters that no other session shares.\n";

static const char *const help_db =
    "usage: remoteuser-admin db info     (the store, where it came from, "
    "counts)\n"
    "       remoteuser-admin db stats    (users, groups, active and "
    "expired\n"
    "                                    sessions, change-log rows, "
    "sessions\n"
    "                                    ended by this tool: revoked or "
    "their\n"
    "                                    user deleted, and their user "
    "disabled)\n"
    "       remoteuser-admin db check    (the backend's consistency "
    "check, e.g.\n"
    "                                    SQLite's PRAGMA integrity_check)\n"
    "       remoteuser-admin db migrate  (create the store or bring its "
    "schema up to date)\n"
    "       remoteuser-admin db backup FILE [--force]\n"
    "                                    (SQLite: a consistent copy, mode "
    "0600, taken\n"
    "                                    while httpd runs; --force replaces "
    "FILE;\n"
    "                                    PostgreSQL: use pg_dump)\n"
    "       remoteuser-admin db copy FROM TO\n"
    "                                    (every user, group, membership "
    "and\n"
    "                                    session of the store FROM into the "
    "empty\n"
    "                                    store TO, ids and sessions kept: "
    "SQLite\n"
    "                                    to PostgreSQL and back; TO is "
    "created if\n"
    "                                    need be)\n"
    "\n"
    "FROM and TO are SPECs, as for --store; no store option goes with "
    "db copy.\n";

/* ==================================================================== */
/* output                                                               */

/* The length of the well-formed UTF-8 sequence at @a u (a byte of 0x80
 * or above), or 0 when it is not one. */
static apr_size_t utf8_seq(const unsigned char *u)
{
    apr_size_t n = *u >= 0xf0 ? 4 : *u >= 0xe0 ? 3 : *u >= 0xc0 ? 2 : 0, k;

    for (k = 1; k < n; k++) {
        if (u[k] == '\0') {
            return 0; /* cut short by the end of the string */
        }
    }
    return n > 0 && rus_text_check((const char *)u, n) != RUS_NAME_BAD_UTF8 ? n
                                                                            : 0;
}

/* A JSON string literal: valid JSON whatever @a s holds, a byte that is
 * not part of well-formed UTF-8 written as U+FFFD. */
static const char *js(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(P, strlen(s) * 6 + 3), *w = out;
    const unsigned char *u;
    apr_size_t n;

    *w++ = '"';
    for (u = (const unsigned char *)s; *u; u++) {
        if (*u >= 0x80) {
            n = utf8_seq(u);
            if (n == 0) {
                memcpy(w, "\\ufffd", 6);
                w += 6;
                continue;
            }
            memcpy(w, u, n);
            w += n;
            u += n - 1;
        }
        else if (*u == '"' || *u == '\\') {
            *w++ = '\\';
            *w++ = (char)*u;
        }
        else if (*u < 0x20) {
            memcpy(w, "\\u00", 4);
            w += 4;
            *w++ = hex[*u >> 4];
            *w++ = hex[*u & 15];
        }
        else {
            *w++ = (char)*u;
        }
    }
    *w++ = '"';
    *w = '\0';
    return out;
}

/* Report a failure and return @a code: one line on stderr and, with
 * --json, {"error": TEXT, "code": CODE} on stdout, for scripts that read
 * only that. */
static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    const char *msg;
    va_list ap;

    va_start(ap, fmt);
    msg = apr_pvsprintf(P, fmt, ap);
    va_end(ap);
    fprintf(stderr, "remoteuser-admin: %s\n", msg);
    if (json) {
        printf("{\"error\": %s, \"code\": %d}\n", js(msg), code);
    }
    return code;
}

/* Bad usage: what is wrong, and where the help for @a command ("" for
 * the top) is; exit code 2. */
static int usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *command, const char *fmt, ...)
{
    const char *msg;
    va_list ap;

    va_start(ap, fmt);
    msg = apr_pvsprintf(P, fmt, ap);
    va_end(ap);
    return fail(EXIT_USAGE, "%s (see 'remoteuser-admin help%s%s')", msg,
                command[0] ? " " : "", command);
}

/* A warning: one line on stderr, whatever the output format. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
    va_list ap;

    fputs("remoteuser-admin: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "1 session", "2 sessions". */
static const char *sessions(int n)
{
    return apr_psprintf(P, "%d session%s", n, n == 1 ? "" : "s");
}

/* UTC time as ISO 8601, "-" for 0. */
static const char *when(apr_int64_t t)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char *buf;

    if (t <= 0) {
        return "-";
    }
    buf = apr_palloc(P, 32);
    apr_time_exp_gmt(&tm, apr_time_from_sec(t));
    apr_strftime(buf, &len, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* A table: rows of cells, printed with aligned columns. */
typedef struct table_t {
    int ncols;
    apr_array_header_t *cells; /* const char *, row-major */
} table_t;

static table_t *table_new(int ncols, ...)
{
    table_t *t = apr_pcalloc(P, sizeof(*t));
    va_list ap;
    int i;

    t->ncols = ncols;
    t->cells = apr_array_make(P, 64, sizeof(const char *));
    va_start(ap, ncols);
    for (i = 0; i < ncols; i++) {
        APR_ARRAY_PUSH(t->cells, const char *) = va_arg(ap, const char *);
    }
    va_end(ap);
    return t;
}

static void table_add(table_t *t, ...)
{
    va_list ap;
    int i;

    va_start(ap, t);
    for (i = 0; i < t->ncols; i++) {
        APR_ARRAY_PUSH(t->cells, const char *) = va_arg(ap, const char *);
    }
    va_end(ap);
}

static void table_print(const table_t *t)
{
    int widths[16] = { 0 }, nrows = t->cells->nelts / t->ncols, r, c;

    for (r = 0; r < nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            int w = (int)strlen(
                APR_ARRAY_IDX(t->cells, r * t->ncols + c, const char *));

            widths[c] = w > widths[c] ? w : widths[c];
        }
    }
    for (r = 0; r < nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            const char *cell =
                APR_ARRAY_IDX(t->cells, r * t->ncols + c, const char *);

            if (c == t->ncols - 1) {
                printf("%s\n", cell);
            }
            else {
                printf("%-*s  ", widths[c], cell);
            }
        }
    }
}

static const char *num(apr_int64_t v)
{
    return apr_psprintf(P, "%" APR_INT64_T_FMT, v);
}

/* @a s for a terminal: every control character (C0, DEL, C1) and every
 * byte that is not part of well-formed UTF-8 as \xNN, a backslash as
 * "\\", so that a value written into the store by hand cannot move the
 * cursor or change the terminal's state. */
static const char *shown(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(P, strlen(s) * 4 + 1), *w = out;
    const unsigned char *u;
    apr_size_t n;

    for (u = (const unsigned char *)s; *u; u++) {
        n = *u >= 0x80 ? utf8_seq(u) : 1;
        if (n > 1 && rus_text_check((const char *)u, n) == RUS_NAME_OK) {
            memcpy(w, u, n);
            w += n;
            u += n - 1;
        }
        else if (n == 1 && *u >= 0x20 && *u < 0x7f && *u != '\\') {
            *w++ = (char)*u;
        }
        else if (*u == '\\') {
            *w++ = '\\';
            *w++ = '\\';
        }
        else {
            *w++ = '\\';
            *w++ = 'x';
            *w++ = hex[*u >> 4];
            *w++ = hex[*u & 15];
        }
    }
    *w = '\0';
    return out;
}

/* A user as JSON; with @a memberships (rus_membership_t, user show; NULL
 * otherwise, or when the store cannot list them), each group with its
 * origin too. */
static void print_user_json(const rus_user_t *u,
                            const apr_array_header_t *memberships,
                            const char *end)
{
    int i;

    printf("{\"id\": %" APR_INT64_T_FMT ", \"username\": %s, "
           "\"is_active\": %s, \"date_joined\": %" APR_INT64_T_FMT
           ", \"last_login\": %s, \"email\": %s, \"first_name\": %s, "
           "\"last_name\": %s, \"groups\": [",
           u->id, js(u->username), u->is_active ? "true" : "false",
           u->date_joined, u->last_login ? num(u->last_login) : "null",
           js(u->email ? u->email : ""), js(u->first_name ? u->first_name : ""),
           js(u->last_name ? u->last_name : ""));
    if (u->groups && u->groups[0]) {
        char *copy = apr_pstrdup(P, u->groups), *last = NULL, *g;
        int first = 1;

        for (g = apr_strtok(copy, ",", &last); g;
             g = apr_strtok(NULL, ",", &last)) {
            printf("%s%s", first ? "" : ", ", js(g));
            first = 0;
        }
    }
    printf("], \"attributes\": {");
    for (i = 0; u->attrs != NULL && i < u->attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(u->attrs, i, rus_attr_t);

        printf("%s%s: %s", i ? ", " : "", js(a->name), js(a->value));
    }
    printf("}");
    if (memberships != NULL) {
        printf(", \"memberships\": [");
        for (i = 0; i < memberships->nelts; i++) {
            const rus_membership_t *m =
                &APR_ARRAY_IDX(memberships, i, rus_membership_t);

            printf("%s{\"group\": %s, \"origin\": %s}", i ? ", " : "",
                   js(m->group), js(m->origin));
        }
        printf("]");
    }
    printf("}%s", end);
}

/* A one-line result: text for people, {"ok": true, ...} for scripts. */
static int done(const char *text, const char *json_fields)
{
    if (json) {
        printf("{\"ok\": true%s%s}\n", json_fields ? ", " : "",
               json_fields ? json_fields : "");
    }
    else {
        printf("%s\n", text);
    }
    return 0;
}

/* ==================================================================== */
/* the command line                                                     */

/* Option ids. */
enum {
    OPT_DB = 1,
    OPT_STORE,
    OPT_CONFIG,
    OPT_HTTPD,
    OPT_JSON,
    OPT_VERSION,
    OPT_HELP,
    OPT_USER,
    OPT_INACTIVE,
    OPT_FORCE
};

/* The options a subcommand may take (cmd_t.opts), as bits. */
#define SUB_USER     0x1u /* --user NAME */
#define SUB_INACTIVE 0x2u /* --inactive */
#define SUB_FORCE    0x4u /* --force */

/* Every option, global (sub 0) or of some subcommands. None has a
 * one-letter form but -h. */
typedef struct opt_t {
    const char *name; /* without "--" */
    int id;
    int takes_value;
    unsigned int sub; /* its SUB_ bit, 0 for a global option */
} opt_t;

static const opt_t options[] = {
    { "db", OPT_DB, 1, 0 },
    { "store", OPT_STORE, 1, 0 },
    { "config", OPT_CONFIG, 1, 0 },
    { "httpd", OPT_HTTPD, 1, 0 },
    { "json", OPT_JSON, 0, 0 },
    { "version", OPT_VERSION, 0, 0 },
    { "help", OPT_HELP, 0, 0 },
    { "user", OPT_USER, 1, SUB_USER },
    { "inactive", OPT_INACTIVE, 0, SUB_INACTIVE },
    { "force", OPT_FORCE, 0, SUB_FORCE },
    { NULL, 0, 0, 0 },
};

/* What the command line said. */
typedef struct args_t {
    const char *db, *store, *config, *httpd; /* where the store is */
    const char *user;                        /* --user NAME */
    int inactive, force, help, version;
    unsigned int subs;       /* SUB_ bits of the options given */
    apr_array_header_t *ops; /* the operands, in order (const char *) */
} args_t;

static const opt_t *opt_find(const char *name)
{
    const opt_t *o;

    for (o = options; o->name != NULL; o++) {
        if (strcmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

/* Is --json on the line (before any '--')? Known before anything can
 * fail, so that every error is JSON then. */
static int wants_json(int argc, const char *const *argv)
{
    int i;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const opt_t *o =
            strncmp(argv[i], "--", 2) == 0 ? opt_find(argv[i] + 2) : NULL;

        if (strcmp(argv[i], "--json") == 0) {
            return 1;
        }
        if (o != NULL && o->takes_value) {
            i++; /* its value, whatever it looks like */
        }
    }
    return 0;
}

/* Store the value of option @a o in @a a. */
static void opt_set(args_t *a, const opt_t *o, const char *value)
{
    switch (o->id) {
    case OPT_DB:
        a->db = value;
        break;
    case OPT_STORE:
        a->store = value;
        break;
    case OPT_CONFIG:
        a->config = value;
        break;
    case OPT_HTTPD:
        a->httpd = value;
        break;
    case OPT_USER:
        a->user = value;
        break;
    case OPT_JSON:
        json = 1;
        break;
    case OPT_VERSION:
        a->version = 1;
        break;
    case OPT_HELP:
        a->help = 1;
        break;
    case OPT_INACTIVE:
        a->inactive = 1;
        break;
    case OPT_FORCE:
        a->force = 1;
        break;
    }
    a->subs |= o->sub;
}

/* Take every option out of argv, wherever it stands (GNU style: "--NAME
 * VALUE" or "--NAME=VALUE"); the rest are operands, in order; after "--"
 * everything is. @return 0, or EXIT_USAGE (reported) for an unknown
 * option or a missing or unwanted value. */
static int parse_args(int argc, const char *const *argv, args_t *a)
{
    int i, operands_only = 0;

    memset(a, 0, sizeof(*a));
    a->ops = apr_array_make(P, 8, sizeof(const char *));
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *name;
        const opt_t *o;

        if (operands_only || arg[0] != '-' || arg[1] == '\0') {
            APR_ARRAY_PUSH(a->ops, const char *) = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            operands_only = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0) {
            a->help = 1;
            continue;
        }
        eq = strchr(arg, '=');
        name = arg[1] == '-' ? apr_pstrndup(P, arg + 2,
                                            eq ? (apr_size_t)(eq - arg - 2)
                                               : strlen(arg + 2))
                             : NULL;
        o = name != NULL ? opt_find(name) : NULL;
        if (o == NULL) {
            return usage_error("", "unknown option '%s'",
                               name != NULL ? apr_pstrcat(P, "--", name, NULL)
                                            : arg);
        }
        if (o->takes_value && eq == NULL && i + 1 >= argc) {
            return usage_error("", "option '--%s' needs a value", name);
        }
        if (!o->takes_value && eq != NULL) {
            return usage_error("", "option '--%s' takes no value", name);
        }
        opt_set(a, o, !o->takes_value ? NULL : eq ? eq + 1 : argv[++i]);
    }
    return 0;
}

/* ==================================================================== */
/* finding the store                                                    */

/* The store the line names, and where that came from. */
typedef struct where_t {
    const char *spec;   /* the spec to open */
    const char *origin; /* "--db", "--store", "REMOTEUSER_STORE" or the
                           FILE:LINE of the RemoteUserStore httpd uses */
    admin_conf_t *conf; /* what httpd said, NULL when it was not asked */
} where_t;

/* Several RemoteUserStore directives: say which ones, and which one httpd
 * uses (the last it read; the module reports it). Each spec as messages
 * show it: a password in a URI masked. */
static void warn_stores(const admin_conf_t *conf)
{
    const char *list = "";
    int i, n = 0;

    for (i = 0; i < conf->seen->nelts; i++) {
        const admin_seen_t *s = &APR_ARRAY_IDX(conf->seen, i, admin_seen_t);

        if (strcmp(s->directive, "RemoteUserStore") == 0) {
            list = apr_psprintf(P, "%s%s%s (%s)", list, n ? ", " : "",
                                s->origin, rus_store_spec_describe(P, s->arg));
            n++;
        }
    }
    if (n > 1) {
        warn("%d RemoteUserStore directives: %s; httpd uses the last one, "
             "%s (%s)",
             n, list, conf->origin, rus_store_spec_describe(P, conf->spec));
    }
}

/* Ask @a httpd (else $RUS_HTTPD, else the default) about @a config. */
static int ask_httpd(const char *httpd, const char *config, where_t *w)
{
    const char *msg = NULL;
    int rc;

    if (httpd == NULL) {
        httpd = getenv("RUS_HTTPD");
    }
    if (httpd == NULL || httpd[0] == '\0') {
        httpd = RUS_HTTPD_DEFAULT;
    }
    w->conf = apr_pcalloc(P, sizeof(*w->conf));
    rc = admin_httpd_ask(P, httpd, config, w->conf, &msg);
    if (rc != 0) {
        return fail(rc, "%s", msg);
    }
    warn_stores(w->conf);
    w->spec = w->conf->spec;
    w->origin = w->conf->origin;
    return 0;
}

/* No store option: $REMOTEUSER_STORE, else the configuration httpd reads
 * by default, as apachectl -V tells (REMOTEUSER_APACHECTL names the
 * program; empty, none is asked). */
static int default_store(const args_t *a, where_t *w)
{
    static const char none[] = "no store given: use --db PATH, --store "
                               "SPEC or --config FILE, or set "
                               "REMOTEUSER_STORE";
    const char *env = getenv("REMOTEUSER_STORE"), *ctl, *config = NULL;
    const char *msg = NULL;
    int rc;

    if (env != NULL && env[0] != '\0') {
        if (a->httpd != NULL) {
            return usage_error("", "--httpd asks httpd, but REMOTEUSER_STORE "
                                   "names the store");
        }
        w->spec = env;
        w->origin = "REMOTEUSER_STORE";
        return 0;
    }
    ctl = getenv("REMOTEUSER_APACHECTL");
    if (ctl != NULL && ctl[0] == '\0') {
        return usage_error("",
                           "%s (REMOTEUSER_APACHECTL is empty: httpd's "
                           "configuration is not looked up)",
                           none);
    }
    if (ctl == NULL) {
        ctl = admin_which(P, "apache2ctl");
        ctl = ctl ? ctl : admin_which(P, "apachectl");
    }
    if (ctl == NULL) {
        return usage_error("",
                           "%s (no apache2ctl or apachectl on PATH to "
                           "find httpd's configuration)",
                           none);
    }
    rc = admin_apachectl_config(P, ctl, &config, &msg);
    if (rc != 0) {
        return fail(rc, "finding httpd's configuration: %s", msg);
    }
    return ask_httpd(a->httpd, config, w);
}

/* The store of @a spec, created but not opened; bad usage when the spec
 * is refused (shown as messages show specs: a password masked). Opened as
 * an administrator's tool: the sessions its revocations end are counted
 * in the store (db stats). */
static int create_store(const char *spec, rus_store_t **pstore)
{
    rus_store_options_t opts;
    const char *msg = NULL;

    rus_store_options_default(&opts);
    opts.admin = 1;
    if (rus_store_create(pstore, P, spec, NULL, &opts, &msg) != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %s", rus_store_spec_describe(P, spec),
                    msg);
    }
    return 0;
}

/* The store the options name (at most one of --db, --store, --config),
 * created but not opened. */
static int open_spec(const args_t *a, rus_store_t **pstore, where_t *w)
{
    int rc = 0;

    memset(w, 0, sizeof(*w));
    if (a->db != NULL && a->config != NULL) {
        return usage_error("", "--db and --config exclude each other");
    }
    if (a->store != NULL && (a->db != NULL || a->config != NULL)) {
        return usage_error("", "--store and --%s exclude each other",
                           a->db != NULL ? "db" : "config");
    }
    if (a->httpd != NULL && (a->db != NULL || a->store != NULL)) {
        return usage_error("", "--httpd goes with --config (or with no "
                               "store option)");
    }
    if (a->db != NULL) {
        w->spec = rus_store_file_spec(P, a->db);
        w->origin = "--db";
    }
    else if (a->store != NULL) {
        w->spec = a->store;
        w->origin = "--store";
    }
    else if (a->config != NULL) {
        rc = ask_httpd(a->httpd, a->config, w);
    }
    else {
        rc = default_store(a, w);
    }
    if (rc != 0) {
        return rc;
    }
    /* From httpd the spec is absolute; the others are relative to here. */
    return create_store(w->spec, pstore);
}

/* Open the store for a command that needs it. */
static int open_store(const rus_store_t *store, rus_conn_t **pconn)
{
    const char *msg = NULL;
    apr_status_t rv;

    rv = rus_store_check(store, P, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_connect(pconn, store, P, &msg);
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        /* a symbolic link at the store: refused, nothing followed */
        return fail(EXIT_FAILED, "%s: %s", rus_store_describe(store), msg);
    }
    if (APR_STATUS_IS_ENOENT(rv) || rv == RUS_STORE_ESCHEMA) {
        return fail(EXIT_FAILED,
                    "%s: %s (a missing store is created by "
                    "httpd at startup or by 'db migrate')",
                    rus_store_describe(store), msg);
    }
    if (rv != APR_SUCCESS) {
        /* e.g. a server that does not answer: nothing to create */
        return fail(EXIT_FAILED, "%s: %s", rus_store_describe(store), msg);
    }
    return 0;
}

/* ==================================================================== */
/* commands                                                             */

/* What a command runs with: the open store, its operands (its name and
 * its options taken out) and the values of its options. */
typedef struct cmd_ctx_t {
    const rus_store_t *store;
    const where_t *where; /* where the store came from */
    rus_conn_t *conn;     /* NULL for a command that runs offline */
    int argc;
    const char *const *argv;
    const char *user; /* --user NAME */
    int inactive;     /* --inactive */
    int force;        /* --force */
} cmd_ctx_t;

typedef int cmd_run_fn(cmd_ctx_t *ctx);

/* cmd_t.offline */
#define OFFLINE    1
#define OWN_STORES 2

/* A command (user, group, ...) with its subcommands, or a subcommand. */
typedef struct cmd_t {
    const char *name;
    const char *help;         /* commands: their --help text */
    const struct cmd_t *subs; /* commands: subcommands, NULL-ended */
    const char *operands;     /* subcommands: "NAME", "OLD NEW", "[ID]"
                                 (optional), "" for none */
    unsigned int opts;        /* subcommands: the SUB_ options it takes */
    int offline;              /* OFFLINE: runs before the store is opened;
                                 OWN_STORES: names its stores as operands
                                 (no store option, none opened for it) */
    cmd_run_fn *run;
} cmd_t;

/* Look up a user by name; report and return the exit code if absent. */
static int need_user(rus_conn_t *conn, const char *name, rus_user_t *u)
{
    apr_status_t rv = rus_user_find(conn, name, u, P);

    if (APR_STATUS_IS_ENOENT(rv)) {
        return fail(EXIT_NOTFOUND, "no user '%s'", name);
    }
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "%s", rus_store_error(conn));
    }
    return 0;
}

static int need_group(rus_conn_t *conn, const char *name, rus_group_t *g)
{
    apr_status_t rv = rus_group_find(conn, name, g, P);

    if (APR_STATUS_IS_ENOENT(rv)) {
        return fail(EXIT_NOTFOUND, "no group '%s'", name);
    }
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "%s", rus_store_error(conn));
    }
    return 0;
}

/* The exit code for a store operation's status. */
static int status_exit(rus_conn_t *conn, apr_status_t rv, const char *what)
{
    if (APR_STATUS_IS_ENOENT(rv)) {
        return fail(EXIT_NOTFOUND, "%s: not found", what);
    }
    if (APR_STATUS_IS_EEXIST(rv)) {
        return fail(EXIT_FAILED, "%s: already exists", what);
    }
    return fail(EXIT_FAILED, "%s: %s", what, rus_store_error(conn));
}

/* A user name as the module would accept it. */
static int valid_user_name(const char *name)
{
    rus_name_error_e err = RUS_NAME_OK;
    const char *clean = NULL;

    if (rus_username_clean(&clean, &err, P, name, 0) != APR_SUCCESS) {
        return fail(EXIT_USAGE, "'%s': %s", name, rus_name_error_str(err));
    }
    return 0;
}

/* Warn when requests can never carry @a name: a location of the
 * configuration httpd uses folds case or strips realms, so that the name
 * they carry there is another one (or none). Only when httpd was asked. */
static void warn_name(const where_t *w, const char *name)
{
    int i;

    for (i = 0; w->conf != NULL && i < w->conf->seen->nelts; i++) {
        const admin_seen_t *s = &APR_ARRAY_IDX(w->conf->seen, i, admin_seen_t);
        unsigned int flags = strcmp(s->directive, "RemoteUserLowercase") == 0
                                 ? RUS_CLEAN_LOWERCASE
                             : strcmp(s->directive, "RemoteUserStripRealm") == 0
                                 ? RUS_CLEAN_STRIP_REALM
                                 : 0;
        rus_name_error_e err = RUS_NAME_OK;
        const char *clean = NULL;

        if (flags == 0) {
            continue;
        }
        if (rus_username_clean(&clean, &err, P, name, flags) != APR_SUCCESS) {
            warn("under %s %s (%s) requests never carry '%s': %s", s->directive,
                 s->arg, s->origin, name, rus_name_error_str(err));
        }
        else if (strcmp(clean, name) != 0) {
            warn("under %s %s (%s) requests carry '%s', never '%s'",
                 s->directive, s->arg, s->origin, clean, name);
        }
    }
}

static apr_int64_t now_sec(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

/* ---- user ----------------------------------------------------------- */

static int user_list(cmd_ctx_t *ctx)
{
    apr_array_header_t *users = NULL;
    apr_status_t rv;
    table_t *t;
    int i;

    rv = rus_user_list(ctx->conn, &users, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "list users");
    }
    if (json) {
        printf("[");
        for (i = 0; i < users->nelts; i++) {
            print_user_json(&APR_ARRAY_IDX(users, i, rus_user_t), NULL,
                            i + 1 < users->nelts ? ", " : "");
        }
        printf("]\n");
        return 0;
    }
    t = table_new(6, "ID", "USERNAME", "ACTIVE", "JOINED", "LAST_LOGIN",
                  "GROUPS");
    for (i = 0; i < users->nelts; i++) {
        rus_user_t *x = &APR_ARRAY_IDX(users, i, rus_user_t);

        table_add(t, num(x->id), x->username, x->is_active ? "yes" : "no",
                  when(x->date_joined), when(x->last_login),
                  x->groups[0] ? x->groups : "-");
    }
    table_print(t);
    return 0;
}

/* A stored text (a column of a user or a session) for the table form:
 * shown(), "-" when empty. */
static const char *cell(const char *v)
{
    return v != NULL && v[0] ? shown(v) : "-";
}

/* The user, its three columns, its attributes and each membership with
 * its origin (admin: remoteuser-admin's, kept by a login's Replace;
 * frontend: a login's group source). */
static int user_show(cmd_ctx_t *ctx)
{
    apr_array_header_t *members = NULL;
    apr_status_t rv;
    rus_user_t u;
    table_t *t;
    int i, rc = need_user(ctx->conn, ctx->argv[0], &u);

    if (rc != 0) {
        return rc;
    }
    rv = rus_user_memberships(ctx->conn, u.id, &members, P);
    if (rv == APR_ENOTIMPL) {
        /* an optional callback: the groups are shown all the same */
        warn("origins of the memberships not shown: %s",
             rus_store_error(ctx->conn));
        members = NULL;
    }
    else if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "list the user's memberships");
    }
    if (json) {
        print_user_json(&u, members, "\n");
        return 0;
    }
    printf("id:          %" APR_INT64_T_FMT "\n"
           "username:    %s\nactive:      %s\njoined:      %s\n"
           "last login:  %s\ngroups:      %s\n"
           "email:       %s\nfirst name:  %s\nlast name:   %s\n",
           u.id, shown(u.username), u.is_active ? "yes" : "no",
           when(u.date_joined), when(u.last_login),
           u.groups[0] ? cell(u.groups) : "-", cell(u.email),
           cell(u.first_name), cell(u.last_name));
    if (u.attrs != NULL && u.attrs->nelts > 0) {
        printf("\n");
        t = table_new(2, "ATTRIBUTE", "VALUE");
        for (i = 0; i < u.attrs->nelts; i++) {
            const rus_attr_t *a = &APR_ARRAY_IDX(u.attrs, i, rus_attr_t);

            table_add(t, shown(a->name), cell(a->value));
        }
        table_print(t);
    }
    if (members != NULL && members->nelts > 0) {
        printf("\n");
        t = table_new(2, "GROUP", "ORIGIN");
        for (i = 0; i < members->nelts; i++) {
            const rus_membership_t *m =
                &APR_ARRAY_IDX(members, i, rus_membership_t);

            table_add(t, shown(m->group), shown(m->origin));
        }
        table_print(t);
    }
    return 0;
}

static int user_add(cmd_ctx_t *ctx)
{
    const char *name = ctx->argv[0];
    apr_status_t rv;
    rus_user_t u;
    int rc = valid_user_name(name);

    if (rc != 0) {
        return rc;
    }
    warn_name(ctx->where, name);
    rv = rus_user_add(ctx->conn, name, now_sec(), !ctx->inactive, &u, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, apr_psprintf(P, "user '%s'", name));
    }
    if (json) {
        print_user_json(&u, NULL, "\n");
        return 0;
    }
    return done(apr_psprintf(P, "added user %s (id %" APR_INT64_T_FMT "%s)",
                             u.username, u.id, u.is_active ? "" : ", inactive"),
                NULL);
}

/* enable and disable: say what changed, and how many sessions ended. */
static int user_set_active(cmd_ctx_t *ctx, int active)
{
    const char *state = active ? "enabled" : "disabled", *text;
    rus_user_change_t ch;
    apr_status_t rv;
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->argv[0], &u);

    if (rc != 0) {
        return rc;
    }
    rv = rus_user_set_active(ctx->conn, u.id, active, &ch);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, active ? "enable" : "disable");
    }
    if (ch.changed) {
        text = apr_psprintf(P, "%s user %s", state, u.username);
    }
    else {
        text = apr_psprintf(P, "user %s is already %s", u.username, state);
    }
    if (!active && (ch.changed || ch.sessions_ended > 0)) {
        text =
            apr_psprintf(P, "%s, ended %s", text, sessions(ch.sessions_ended));
    }
    return done(text,
                apr_psprintf(P, "\"user\": %s, \"changed\": %s%s",
                             js(u.username), ch.changed ? "true" : "false",
                             active
                                 ? ""
                                 : apr_psprintf(P, ", \"sessions_ended\": %d",
                                                ch.sessions_ended)));
}

static int user_enable(cmd_ctx_t *ctx)
{
    return user_set_active(ctx, 1);
}

static int user_disable(cmd_ctx_t *ctx)
{
    return user_set_active(ctx, 0);
}

static int user_delete(cmd_ctx_t *ctx)
{
    apr_status_t rv;
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->argv[0], &u);

    if (rc != 0) {
        return rc;
    }
    rv = rus_user_delete(ctx->conn, u.id);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "delete");
    }
    return done(apr_psprintf(P, "deleted user %s", u.username), NULL);
}

static int user_rename(cmd_ctx_t *ctx)
{
    apr_status_t rv;
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->argv[0], &u);

    if (rc == 0) {
        rc = valid_user_name(ctx->argv[1]);
    }
    if (rc != 0) {
        return rc;
    }
    warn_name(ctx->where, ctx->argv[1]);
    rv = rus_user_rename(ctx->conn, u.id, ctx->argv[1]);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv,
                           apr_psprintf(P, "user '%s'", ctx->argv[1]));
    }
    return done(apr_psprintf(P, "renamed user %s to %s", ctx->argv[0],
                             ctx->argv[1]),
                NULL);
}

/* ---- group ---------------------------------------------------------- */

static int group_list(cmd_ctx_t *ctx)
{
    apr_array_header_t *groups = NULL;
    table_t *t = table_new(3, "ID", "NAME", "MEMBERS");
    apr_status_t rv;
    int i;

    rv = rus_group_list(ctx->conn, &groups, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "list groups");
    }
    if (json) {
        printf("[");
    }
    for (i = 0; i < groups->nelts; i++) {
        rus_group_t *x = &APR_ARRAY_IDX(groups, i, rus_group_t);

        if (json) {
            printf("{\"id\": %" APR_INT64_T_FMT
                   ", \"name\": %s, \"members\": %d}%s",
                   x->id, js(x->name), x->members,
                   i + 1 < groups->nelts ? ", " : "");
        }
        table_add(t, num(x->id), x->name, num(x->members));
    }
    if (json) {
        printf("]\n");
    }
    else {
        table_print(t);
    }
    return 0;
}

static int group_add(cmd_ctx_t *ctx)
{
    const char *name = ctx->argv[0];
    apr_status_t rv;

    if (!rus_group_name_valid(name)) {
        return fail(EXIT_USAGE,
                    "'%s' is not a group name (no spaces, commas or "
                    "control characters)",
                    name);
    }
    rv = rus_group_add(ctx->conn, name);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, apr_psprintf(P, "group '%s'", name));
    }
    return done(apr_psprintf(P, "added group %s", name), NULL);
}

static int group_delete(cmd_ctx_t *ctx)
{
    apr_status_t rv;
    rus_group_t g;
    int rc = need_group(ctx->conn, ctx->argv[0], &g);

    if (rc != 0) {
        return rc;
    }
    rv = rus_group_delete(ctx->conn, g.id);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "delete group");
    }
    return done(apr_psprintf(P, "deleted group %s", g.name), NULL);
}

static int group_members(cmd_ctx_t *ctx)
{
    apr_array_header_t *names = NULL;
    apr_status_t rv;
    rus_group_t g;
    int rc = need_group(ctx->conn, ctx->argv[0], &g), i;

    if (rc != 0) {
        return rc;
    }
    rv = rus_group_members(ctx->conn, g.id, &names, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "list members");
    }
    if (json) {
        printf("[");
    }
    for (i = 0; i < names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);

        if (json) {
            printf("%s%s", js(n), i + 1 < names->nelts ? ", " : "");
        }
        else {
            printf("%s\n", n);
        }
    }
    if (json) {
        printf("]\n");
    }
    return 0;
}

/* add-member and remove-member: GROUP USER. */
static int group_membership(cmd_ctx_t *ctx, int add)
{
    apr_status_t rv;
    rus_group_t g;
    rus_user_t u;
    int rc = need_group(ctx->conn, ctx->argv[0], &g);

    if (rc == 0) {
        rc = need_user(ctx->conn, ctx->argv[1], &u);
    }
    if (rc != 0) {
        return rc;
    }
    rv = add ? rus_group_add_member(ctx->conn, g.id, u.id)
             : rus_group_remove_member(ctx->conn, g.id, u.id);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv,
                           apr_psprintf(P, "membership of %s in %s", u.username,
                                        g.name));
    }
    return done(apr_psprintf(P, "%s %s %s %s", add ? "added" : "removed",
                             u.username, add ? "to" : "from", g.name),
                NULL);
}

static int group_add_member(cmd_ctx_t *ctx)
{
    return group_membership(ctx, 1);
}

static int group_remove_member(cmd_ctx_t *ctx)
{
    return group_membership(ctx, 0);
}

/* ---- session -------------------------------------------------------- */

/* A session as JSON: with the address and User-Agent of its login ("" when
 * unknown). */
static void print_session_json(const rus_session_row_t *x, const char *end)
{
    printf("{\"id\": %s, \"token_hash\": %s, \"username\": %s,"
           " \"vhost\": %s,"
           " \"created_at\": %" APR_INT64_T_FMT
           ", \"last_seen\": %" APR_INT64_T_FMT
           ", \"expires_at\": %" APR_INT64_T_FMT
           ", \"ip\": %s, \"user_agent\": %s}%s",
           js(rus_session_public_id(x->token_hash, P)), js(x->token_hash),
           js(x->username), js(x->session.vhost), x->session.created_at,
           x->session.last_seen, x->session.expires_at,
           js(x->session.ip ? x->session.ip : ""),
           js(x->session.user_agent ? x->session.user_agent : ""), end);
}

static int session_list(cmd_ctx_t *ctx)
{
    apr_array_header_t *rows = NULL;
    table_t *t = table_new(8, "SESSION", "USER", "VHOST", "CREATED",
                           "LAST_SEEN", "EXPIRES", "ADDRESS", "BROWSER");
    apr_status_t rv;
    rus_user_t u;
    int rc, i;

    u.id = 0;
    if (ctx->user != NULL) {
        rc = need_user(ctx->conn, ctx->user, &u);
        if (rc != 0) {
            return rc;
        }
    }
    rv = rus_session_list(ctx->conn, u.id, &rows, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "list sessions");
    }
    if (json) {
        printf("[");
    }
    for (i = 0; i < rows->nelts; i++) {
        rus_session_row_t *x = &APR_ARRAY_IDX(rows, i, rus_session_row_t);

        if (json) {
            print_session_json(x, i + 1 < rows->nelts ? ", " : "");
        }
        /* The public id names a row; the token is never known. What the
         * store holds is shown as any stored text is (cell()): the
         * User-Agent, last since it is the longest and has spaces. */
        table_add(t, rus_session_public_id(x->token_hash, P),
                  shown(x->username), shown(x->session.vhost),
                  when(x->session.created_at), when(x->session.last_seen),
                  when(x->session.expires_at), cell(x->session.ip),
                  cell(x->session.user_agent));
    }
    if (json) {
        printf("]\n");
    }
    else {
        table_print(t);
    }
    return 0;
}

/* session revoke --user NAME: every session of the user. */
static int session_revoke_user(cmd_ctx_t *ctx)
{
    apr_array_header_t *rows = NULL;
    apr_status_t rv;
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->user, &u);

    if (rc != 0) {
        return rc;
    }
    rv = rus_session_list(ctx->conn, u.id, &rows, P);
    if (rv == APR_SUCCESS) {
        rv = rus_session_revoke_user(ctx->conn, u.id);
    }
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "revoke sessions");
    }
    return done(apr_psprintf(P, "revoked %d session(s) of %s", rows->nelts,
                             u.username),
                apr_psprintf(P, "\"revoked\": %d", rows->nelts));
}

/* session revoke ID: the one session whose id starts with ID. */
static int session_revoke(cmd_ctx_t *ctx)
{
    const char *id = ctx->argc > 0 ? ctx->argv[0] : NULL;
    rus_session_row_t row;
    apr_size_t len;
    apr_status_t rv;
    int count = 0;

    if ((id == NULL) == (ctx->user == NULL)) {
        return usage_error("session",
                           "session revoke: give ID or --user "
                           "NAME%s",
                           id ? ", not both" : "");
    }
    if (id == NULL) {
        return session_revoke_user(ctx);
    }
    len = strspn(id, "0123456789abcdef");
    if (id[len] != '\0' || len < SESSION_ID_MIN || len > RUS_SESSION_HASH_LEN) {
        return usage_error("session",
                           "session revoke: '%s' is not a session id (%d to "
                           "%d lowercase hex characters, as 'session list' "
                           "shows them)",
                           id, SESSION_ID_MIN, RUS_SESSION_HASH_LEN);
    }
    rv = rus_session_find_prefix(ctx->conn, id, &count, &row, P);
    if (rv == APR_SUCCESS && count == 1) {
        rv = rus_session_revoke(ctx->conn, row.token_hash);
    }
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "revoke session");
    }
    if (count == 0) {
        return fail(EXIT_NOTFOUND, "no such session '%s'", id);
    }
    if (count > 1) {
        return fail(EXIT_USAGE,
                    "session id '%s' is ambiguous: it matches %d sessions; "
                    "give more of it",
                    id, count);
    }
    id = rus_session_public_id(row.token_hash, P);
    return done(apr_psprintf(P, "revoked session %s of %s (%s)", id,
                             row.username, row.session.vhost),
                apr_psprintf(P, "\"revoked\": 1, \"id\": %s, \"username\": %s",
                             js(id), js(row.username)));
}

/* revoke-all and purge: how many went, in words and in JSON. */
static int session_counted(cmd_ctx_t *ctx, apr_status_t rv, int count,
                           const char *verb)
{
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv,
                           strcmp(verb, "revoked") == 0 ? "revoke-all"
                                                        : "purge");
    }
    return done(apr_psprintf(P, "%s %d session(s)", verb, count),
                apr_psprintf(P, "\"%s\": %d", verb, count));
}

static int session_revoke_all(cmd_ctx_t *ctx)
{
    int count = 0;
    apr_status_t rv = rus_session_revoke_all(ctx->conn, &count);

    return session_counted(ctx, rv, count, "revoked");
}

static int session_purge(cmd_ctx_t *ctx)
{
    int count = 0;
    apr_status_t rv = rus_session_purge(ctx->conn, now_sec(), &count);

    return session_counted(ctx, rv, count, "purged");
}

/* ---- db ------------------------------------------------------------- */

static int db_info(cmd_ctx_t *ctx)
{
    const char *where = rus_store_describe(ctx->store);
    rus_store_info_t info;
    apr_status_t rv;

    rv = rus_store_info(ctx->conn, now_sec(), &info);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "info");
    }
    if (json) {
        printf("{\"store\": %s, \"store_from\": %s, \"backend\": %s, "
               "\"schema_version\": %d, "
               "\"users\": %" APR_INT64_T_FMT ", \"groups\": %" APR_INT64_T_FMT
               ", \"sessions\": %" APR_INT64_T_FMT
               ", \"sessions_expired\": %" APR_INT64_T_FMT "}\n",
               js(where), js(ctx->where->origin),
               js(rus_store_scheme(ctx->store)), info.schema_version,
               info.users, info.groups, info.sessions, info.sessions_expired);
        return 0;
    }
    printf("store:            %s (from %s)\n"
           "backend:          %s\n"
           "schema version:   %d\n"
           "users:            %" APR_INT64_T_FMT "\n"
           "groups:           %" APR_INT64_T_FMT "\n"
           "sessions:         %" APR_INT64_T_FMT "\n"
           "expired sessions: %" APR_INT64_T_FMT "\n",
           where, ctx->where->origin, rus_store_scheme(ctx->store),
           info.schema_version, info.users, info.groups, info.sessions,
           info.sessions_expired);
    return 0;
}

/* db stats: the store-side figures, in one read of the store. Active
 * sessions are those not expired as of now; the revoked ones are those
 * this tool ended (sessions of a deleted user included), as the store
 * counted them since it was made. */
static int db_stats(cmd_ctx_t *ctx)
{
    rus_store_info_t info;
    apr_status_t rv;
    table_t *t;

    rv = rus_store_info(ctx->conn, now_sec(), &info);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "stats");
    }
    if (json) {
        printf("{\"store\": %s, \"backend\": %s, "
               "\"users\": %" APR_INT64_T_FMT ", \"groups\": %" APR_INT64_T_FMT
               ", \"sessions_active\": %" APR_INT64_T_FMT
               ", \"sessions_expired\": %" APR_INT64_T_FMT
               ", \"changes\": %" APR_INT64_T_FMT
               ", \"sessions_revoked_admin\": %" APR_INT64_T_FMT
               ", \"sessions_revoked_deactivation\": %" APR_INT64_T_FMT "}\n",
               js(rus_store_describe(ctx->store)),
               js(rus_store_scheme(ctx->store)), info.users, info.groups,
               info.sessions - info.sessions_expired, info.sessions_expired,
               info.changes, info.revoked_admin, info.revoked_deactivation);
        return 0;
    }
    t = table_new(2, "FIGURE", "VALUE");
    table_add(t, "users", num(info.users));
    table_add(t, "groups", num(info.groups));
    table_add(t, "sessions_active", num(info.sessions - info.sessions_expired));
    table_add(t, "sessions_expired", num(info.sessions_expired));
    table_add(t, "changes", num(info.changes));
    table_add(t, "sessions_revoked_admin", num(info.revoked_admin));
    table_add(t, "sessions_revoked_deactivation",
              num(info.revoked_deactivation));
    table_print(t);
    return 0;
}

static int db_check(cmd_ctx_t *ctx)
{
    const char *result = NULL;
    apr_status_t rv;
    int ok = 0;

    rv = rus_store_integrity(ctx->conn, &ok, &result, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, "check");
    }
    if (json) {
        printf("{\"ok\": %s, \"result\": %s}\n", ok ? "true" : "false",
               js(result));
    }
    else {
        printf("%s\n", result);
    }
    return ok ? 0 : EXIT_FAILED;
}

/* db backup FILE [--force]: a consistent copy of the live store. */
static int db_backup(cmd_ctx_t *ctx)
{
    apr_status_t rv;
    char *path = NULL;

    rv = apr_filepath_merge(&path, NULL, ctx->argv[0], APR_FILEPATH_NOTRELATIVE,
                            P);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %pm", ctx->argv[0], &rv);
    }
    rv = rus_store_backup(ctx->conn, path, ctx->force, P);
    if (rv == APR_ENOTIMPL) {
        /* a server's store (PostgreSQL): the backend says what backs it
         * up instead (pg_dump, or db copy into an SQLite file) */
        return fail(EXIT_FAILED, "backup: %s: %s",
                    rus_store_describe(ctx->store), rus_store_error(ctx->conn));
    }
    if (APR_STATUS_IS_EEXIST(rv)) {
        return fail(EXIT_FAILED, "backup: %s%s", rus_store_error(ctx->conn),
                    ctx->force ? "" : " (--force replaces it)");
    }
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "backup: %s", rus_store_error(ctx->conn));
    }
    return done(apr_psprintf(P, "copied %s to %s",
                             rus_store_describe(ctx->store), path),
                apr_psprintf(P, "\"backup\": %s", js(path)));
}

/* Runs offline: creates the store, so it cannot be opened first. */
static int db_migrate(cmd_ctx_t *ctx)
{
    const char *msg = NULL, *warn = NULL;
    rus_conn_t *conn = NULL;
    rus_store_info_t info;
    apr_status_t rv;

    rv = rus_store_prepare(ctx->store, P, NULL, &warn, &msg);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "%s", msg);
    }
    rv = rus_store_connect(&conn, ctx->store, P, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_info(conn, now_sec(), &info);
        rus_store_disconnect(conn);
        if (rv == APR_SUCCESS) {
            return done(apr_psprintf(P, "%s: schema version %d",
                                     rus_store_describe(ctx->store),
                                     info.schema_version),
                        apr_psprintf(P, "\"schema_version\": %d",
                                     info.schema_version));
        }
    }
    return fail(EXIT_FAILED, "%s", msg ? msg : "cannot read the store");
}

/* db copy FROM TO: every row of the store FROM into the empty store TO,
 * which is created (or its schema brought up to date) first. FROM is only
 * read, and never created: a mistyped FROM is an error, not an empty
 * copy. */
static int db_copy(cmd_ctx_t *ctx)
{
    const char *msg = NULL, *warn_text = NULL, *from_shown, *to_shown;
    rus_store_t *from = NULL, *to = NULL;
    rus_conn_t *src = NULL, *dst = NULL;
    rus_store_copy_counts_t counts;
    apr_status_t rv;
    int rc;

    rc = create_store(ctx->argv[0], &from);
    if (rc == 0) {
        rc = create_store(ctx->argv[1], &to);
    }
    if (rc != 0) {
        return rc;
    }
    from_shown = rus_store_describe(from);
    to_shown = rus_store_describe(to);
    if (strcmp(rus_store_scheme(from), rus_store_scheme(to)) == 0
        && strcmp(from_shown, to_shown) == 0) {
        return usage_error("db", "db copy: FROM and TO are the same store (%s)",
                           from_shown);
    }
    rc = open_store(from, &src);
    if (rc != 0) {
        return rc;
    }
    rv = rus_store_prepare(to, P, NULL, &warn_text, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_connect(&dst, to, P, &msg);
    }
    if (rv != APR_SUCCESS) {
        rus_store_disconnect(src);
        return fail(EXIT_FAILED, "%s: %s", to_shown, msg);
    }
    if (warn_text != NULL) {
        warn("%s", warn_text);
    }
    rv = rus_store_copy(src, dst, &counts, P);
    if (rv != APR_SUCCESS) {
        /* the error is on the connection that had it */
        const char *err = rus_store_error(dst)[0] ? rus_store_error(dst)
                                                  : rus_store_error(src);

        rc = fail(EXIT_FAILED, "copy %s to %s: %s%s", from_shown, to_shown, err,
                  APR_STATUS_IS_EEXIST(rv) ? " (db copy only fills an empty "
                                             "store)"
                                           : "");
    }
    else {
        rc = done(apr_psprintf(P,
                               "copied %" APR_INT64_T_FMT
                               " users, %" APR_INT64_T_FMT
                               " groups, %" APR_INT64_T_FMT
                               " memberships, %" APR_INT64_T_FMT
                               " sessions, %" APR_INT64_T_FMT
                               " attributes from %s to %s",
                               counts.users, counts.groups, counts.members,
                               counts.sessions, counts.attributes, from_shown,
                               to_shown),
                  apr_psprintf(
                      P,
                      "\"from\": %s, \"to\": %s, \"users\": %" APR_INT64_T_FMT
                      ", \"groups\": %" APR_INT64_T_FMT
                      ", \"memberships\": %" APR_INT64_T_FMT
                      ", \"sessions\": %" APR_INT64_T_FMT
                      ", \"attributes\": %" APR_INT64_T_FMT,
                      js(from_shown), js(to_shown), counts.users, counts.groups,
                      counts.members, counts.sessions, counts.attributes));
    }
    rus_store_disconnect(dst);
    rus_store_disconnect(src);
    return rc;
}

/* ---- the command table ---------------------------------------------- */

static const cmd_t user_cmds[] = {
    { "list", NULL, NULL, "", 0, 0, user_list },
    { "show", NULL, NULL, "NAME", 0, 0, user_show },
    { "add", NULL, NULL, "NAME", SUB_INACTIVE, 0, user_add },
    { "enable", NULL, NULL, "NAME", 0, 0, user_enable },
    { "disable", NULL, NULL, "NAME", 0, 0, user_disable },
    { "delete", NULL, NULL, "NAME", 0, 0, user_delete },
    { "rename", NULL, NULL, "OLD NEW", 0, 0, user_rename },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const cmd_t group_cmds[] = {
    { "list", NULL, NULL, "", 0, 0, group_list },
    { "add", NULL, NULL, "NAME", 0, 0, group_add },
    { "delete", NULL, NULL, "NAME", 0, 0, group_delete },
    { "members", NULL, NULL, "NAME", 0, 0, group_members },
    { "add-member", NULL, NULL, "GROUP USER", 0, 0, group_add_member },
    { "remove-member", NULL, NULL, "GROUP USER", 0, 0, group_remove_member },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const cmd_t session_cmds[] = {
    { "list", NULL, NULL, "", SUB_USER, 0, session_list },
    { "revoke", NULL, NULL, "[ID]", SUB_USER, 0, session_revoke },
    { "revoke-all", NULL, NULL, "", 0, 0, session_revoke_all },
    { "purge", NULL, NULL, "", 0, 0, session_purge },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const cmd_t db_cmds[] = {
    { "info", NULL, NULL, "", 0, 0, db_info },
    { "stats", NULL, NULL, "", 0, 0, db_stats },
    { "check", NULL, NULL, "", 0, 0, db_check },
    { "migrate", NULL, NULL, "", 0, OFFLINE, db_migrate },
    { "backup", NULL, NULL, "FILE", SUB_FORCE, 0, db_backup },
    { "copy", NULL, NULL, "FROM TO", 0, OWN_STORES, db_copy },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const cmd_t commands[] = {
    { "user", help_user, user_cmds, NULL, 0, 0, NULL },
    { "group", help_group, group_cmds, NULL, 0, 0, NULL },
    { "session", help_session, session_cmds, NULL, 0, 0, NULL },
    { "db", help_db, db_cmds, NULL, 0, 0, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const cmd_t *cmd_find(const cmd_t *table, const char *name)
{
    for (; table->name != NULL; table++) {
        if (strcmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

/* "list, show, add, ..." for messages. */
static const char *cmd_names(const cmd_t *table)
{
    const char *out = "";

    for (; table->name != NULL; table++) {
        out = apr_pstrcat(P, out, out[0] ? ", " : "", table->name, NULL);
    }
    return out;
}

/* Do the operands (after COMMAND SUBCOMMAND) and the options given fit
 * @a sub of @a cmd? @return 0, or EXIT_USAGE (reported), naming what is
 * missing or too much. */
static int cmd_check(const cmd_t *cmd, const cmd_t *sub, const args_t *a)
{
    char *words = apr_pstrdup(P, sub->operands), *last = NULL, *w;
    int given = a->ops->nelts - 2, n = 0;
    const opt_t *o;

    for (w = apr_strtok(words, " ", &last); w != NULL;
         w = apr_strtok(NULL, " ", &last)) {
        if (n >= given && w[0] != '[') {
            return usage_error(cmd->name, "%s %s: missing %s", cmd->name,
                               sub->name, w);
        }
        n++;
    }
    if (given > n) {
        return usage_error(cmd->name, "%s %s: unexpected argument '%s'",
                           cmd->name, sub->name,
                           APR_ARRAY_IDX(a->ops, 2 + n, const char *));
    }
    for (o = options; o->name != NULL; o++) {
        if ((a->subs & o->sub & ~sub->opts) != 0) {
            return usage_error(cmd->name,
                               "%s %s: option '--%s' does not "
                               "apply here",
                               cmd->name, sub->name, o->name);
        }
    }
    return 0;
}

/* help [COMMAND] */
static int help(const args_t *a)
{
    const cmd_t *cmd;

    if (a->ops->nelts < 2) {
        fputs(help_top, stdout);
        return 0;
    }
    cmd = cmd_find(commands, APR_ARRAY_IDX(a->ops, 1, const char *));
    if (cmd == NULL) {
        return usage_error("", "help: unknown command '%s' (%s)",
                           APR_ARRAY_IDX(a->ops, 1, const char *),
                           cmd_names(commands));
    }
    fputs(cmd->help, stdout);
    return 0;
}

/* The subcommand the line names, checked; NULL after a usage error, with
 * *prc set (or help printed, *prc 0). */
static const cmd_t *cmd_resolve(const args_t *a, int *prc)
{
    const char *name = APR_ARRAY_IDX(a->ops, 0, const char *);
    const cmd_t *cmd = cmd_find(commands, name), *sub;

    *prc = 0;
    if (cmd == NULL) {
        *prc = usage_error("", "unknown command '%s' (%s, help)", name,
                           cmd_names(commands));
        return NULL;
    }
    if (a->help) {
        fputs(cmd->help, stdout);
        return NULL;
    }
    if (a->ops->nelts < 2) {
        *prc = usage_error(cmd->name, "%s: missing SUBCOMMAND (%s)", name,
                           cmd_names(cmd->subs));
        return NULL;
    }
    sub = cmd_find(cmd->subs, APR_ARRAY_IDX(a->ops, 1, const char *));
    if (sub == NULL) {
        *prc = usage_error(cmd->name, "unknown %s command '%s' (%s)", name,
                           APR_ARRAY_IDX(a->ops, 1, const char *),
                           cmd_names(cmd->subs));
        return NULL;
    }
    *prc = cmd_check(cmd, sub, a);
    return *prc == 0 ? sub : NULL;
}

/* ==================================================================== */
/* main                                                                 */

int main(int argc, const char *const *argv)
{
    const cmd_t *sub;
    rus_store_t *store = NULL;
    cmd_ctx_t ctx;
    where_t where;
    args_t a;
    int rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&P, NULL);

    json = wants_json(argc, argv);
    rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        return rc;
    }
    if ((a.version || a.help) && a.ops->nelts > 2) {
        /* "user disable --help" for a user named --help would otherwise
         * print help and succeed, the user untouched */
        return usage_error("",
                           "%s given with operands after COMMAND SUBCOMMAND "
                           "(a name that starts with '-' goes after --)",
                           a.version ? "--version" : "--help");
    }
    if (a.version) {
        printf("remoteuser-admin (mod_remoteuser_session) %s\n", RUS_VERSION);
        return 0;
    }
    if (a.ops->nelts == 0) {
        if (a.help) {
            fputs(help_top, stdout);
            return 0;
        }
        return usage_error("", "missing COMMAND (%s, help)",
                           cmd_names(commands));
    }
    if (strcmp(APR_ARRAY_IDX(a.ops, 0, const char *), "help") == 0) {
        return help(&a);
    }
    sub = cmd_resolve(&a, &rc);
    if (sub == NULL) {
        return rc;
    }
    memset(&where, 0, sizeof(where));
    if (sub->offline == OWN_STORES) {
        const char *opt = a.db       ? "--db"
                          : a.store  ? "--store"
                          : a.config ? "--config"
                          : a.httpd  ? "--httpd"
                                     : NULL;

        if (opt != NULL) {
            return usage_error(APR_ARRAY_IDX(a.ops, 0, const char *),
                               "%s %s names its stores as operands: %s does "
                               "not apply",
                               APR_ARRAY_IDX(a.ops, 0, const char *), sub->name,
                               opt);
        }
    }
    else {
        rc = open_spec(&a, &store, &where);
        if (rc != 0) {
            return rc;
        }
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.store = store;
    ctx.where = &where;
    ctx.argc = a.ops->nelts - 2;
    ctx.argv = (const char *const *)a.ops->elts + 2;
    ctx.user = a.user;
    ctx.inactive = a.inactive;
    ctx.force = a.force;
    if (sub->offline == 0) {
        rc = open_store(store, &ctx.conn);
        if (rc != 0) {
            return rc;
        }
    }
    rc = sub->run(&ctx);
    rus_store_disconnect(ctx.conn);
    return rc;
}
