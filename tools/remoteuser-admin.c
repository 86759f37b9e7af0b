/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* remoteuser-admin: manage the user store of mod_remoteuser_session.
 *
 * Built from the same core as the module (rus_store, rus_username): the
 * same backend code, the same name rules, no second copy of any SQL. Safe
 * while httpd runs: SQLite in WAL mode with a busy timeout.
 *
 * Exit codes: 0 success, 1 not found, 2 bad usage, 3 conflict or store
 * failure. Errors are one line on stderr. */

#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "rus_session.h"
#include "rus_store.h"
#include "rus_username.h"
#include "rus_version.h"

#define EXIT_NOTFOUND 1
#define EXIT_USAGE    2
#define EXIT_FAILED   3

/* The httpd binary: --httpd, else $RUS_HTTPD, else the one apxs named
 * when the tool was built. */
#ifndef RUS_HTTPD_DEFAULT
#define RUS_HTTPD_DEFAULT "/usr/sbin/apache2"
#endif

static int json;      /* --json */
static apr_pool_t *P; /* the process's pool */

/* ==================================================================== */
/* help                                                                 */

static const char *const help_top =
    "usage: remoteuser-admin [--db PATH | --config HTTPD.CONF [--httpd BIN]]\n"
    "                        [--json] COMMAND ...\n"
    "\n"
    "Manage the user store of mod_remoteuser_session.\n"
    "\n"
    "  --db PATH            the SQLite store file\n"
    "  --config FILE        the store httpd uses with this configuration, as\n"
    "                       'BIN -t -f FILE -D DUMP_REMOTEUSER_STORE' reports"
    "\n"
    "                       it (sources envvars beside FILE, as apache2ctl)\n"
    "  --httpd BIN          the httpd binary for --config (default: $RUS_HTTPD"
    "\n"
    "                       or " RUS_HTTPD_DEFAULT ")\n"
    "  --json               machine-readable output\n"
    "  --version            print the version\n"
    "\n"
    "commands:\n"
    "  user     list | show | add | enable | disable | delete | rename\n"
    "  group    list | add | delete | members | add-member | remove-member\n"
    "  session  list | revoke | revoke-all | purge\n"
    "  db       info | check | migrate\n"
    "\n"
    "'remoteuser-admin COMMAND --help' for details. Exit status: 0 ok, "
    "1 not found,\n2 bad usage, 3 conflict or store failure.\n";

static const char *const help_user =
    "usage: remoteuser-admin user list\n"
    "       remoteuser-admin user show NAME\n"
    "       remoteuser-admin user add NAME [--inactive]\n"
    "       remoteuser-admin user enable NAME\n"
    "       remoteuser-admin user disable NAME   (ends its sessions)\n"
    "       remoteuser-admin user delete NAME    (with its sessions and "
    "memberships)\n"
    "       remoteuser-admin user rename OLD NEW\n";

static const char *const help_group =
    "usage: remoteuser-admin group list\n"
    "       remoteuser-admin group add NAME\n"
    "       remoteuser-admin group delete NAME\n"
    "       remoteuser-admin group members NAME\n"
    "       remoteuser-admin group add-member GROUP USER\n"
    "       remoteuser-admin group remove-member GROUP USER\n";

static const char *const help_session =
    "usage: remoteuser-admin session list [--user NAME]\n"
    "       remoteuser-admin session revoke --user NAME\n"
    "       remoteuser-admin session revoke-all\n"
    "       remoteuser-admin session purge       (deletes rows 1 h expired)\n";

static const char *const help_db =
    "usage: remoteuser-admin db info     (schema version, counts)\n"
    "       remoteuser-admin db check    (PRAGMA integrity_check)\n"
    "       remoteuser-admin db migrate  (create the store or bring its "
    "schema up to date)\n";

/* ==================================================================== */
/* output                                                               */

/* Report a failure on one line and return @code. */
static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("remoteuser-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Bad usage: one line that says where the help is. */
static int usage(const char *section)
{
    return fail(EXIT_USAGE, "bad usage; see 'remoteuser-admin %s--help'",
                section);
}

/* A JSON string literal. */
static const char *js(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(P, strlen(s) * 6 + 3), *w = out;
    const unsigned char *u;

    *w++ = '"';
    for (u = (const unsigned char *)s; *u; u++) {
        if (*u == '"' || *u == '\\') {
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

static void print_user_json(const rus_user_t *u, const char *end)
{
    printf("{\"id\": %" APR_INT64_T_FMT ", \"username\": %s, "
           "\"is_active\": %s, \"date_joined\": %" APR_INT64_T_FMT
           ", \"last_login\": %s, \"groups\": [",
           u->id, js(u->username), u->is_active ? "true" : "false",
           u->date_joined, u->last_login ? num(u->last_login) : "null");
    if (u->groups && u->groups[0]) {
        char *copy = apr_pstrdup(P, u->groups), *last = NULL, *g;
        int first = 1;

        for (g = apr_strtok(copy, ",", &last); g;
             g = apr_strtok(NULL, ",", &last)) {
            printf("%s%s", first ? "" : ", ", js(g));
            first = 0;
        }
    }
    printf("]}%s", end);
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
/* finding the store                                                    */

/* Where the store came from: "FILE:LINE" of the RemoteUserStore httpd
 * used (--config), or NULL (--db). */
static const char *store_origin;

/* How long httpd -t may take before it is killed. */
#define HTTPD_TIMEOUT apr_time_from_sec(60)
/* What is kept of httpd's stdout and stderr each. */
#define HTTPD_OUTPUT_MAX (64 * 1024)

/* Decode the \xHH escapes of a DUMP_REMOTEUSER_STORE field in place;
 * NULL if it is malformed. */
static char *dump_unescape(char *s)
{
    char *r = s, *w = s;

    while (*r) {
        if (*r == '\\') {
            if (r[1] != 'x' || !apr_isxdigit(r[2]) || !apr_isxdigit(r[3])) {
                return NULL;
            }
            *w++ = (char)(((apr_isdigit(r[2]) ? r[2] - '0'
                                              : apr_tolower(r[2]) - 'a' + 10)
                           << 4)
                          | (apr_isdigit(r[3]) ? r[3] - '0'
                                               : apr_tolower(r[3]) - 'a' + 10));
            r += 4;
        }
        else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return s;
}

/* Find the line "RemoteUserStore SPEC (FILE:LINE)" that the module prints
 * under httpd -t -D DUMP_REMOTEUSER_STORE. SPEC and FILE hold no raw '('
 * or ')' (the module escapes them), so the line splits one way only.
 * Returns 0 with *pspec and *porigin set, or -1. */
static int dump_parse(char *out, const char **pspec, const char **porigin)
{
    static const char prefix[] = "RemoteUserStore ";
    char *last = NULL, *line;

    for (line = apr_strtok(out, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last)) {
        char *open, *close, *spec, *origin;

        if (strncmp(line, prefix, sizeof(prefix) - 1) != 0) {
            continue;
        }
        spec = line + sizeof(prefix) - 1;
        open = strstr(spec, " (");
        close = line + strlen(line) - 1;
        if (open == NULL || *close != ')' || close < open + 2) {
            return -1;
        }
        *open = '\0';
        *close = '\0';
        origin = open + 2;
        spec = dump_unescape(spec);
        origin = dump_unescape(origin);
        if (spec == NULL || origin == NULL || spec[0] == '\0') {
            return -1;
        }
        *pspec = spec;
        *porigin = origin;
        return 0;
    }
    return -1;
}

/* The read end of one of the child's pipes, kept up to a bound. */
typedef struct capture_t {
    apr_file_t *f;
    char *buf;
    apr_size_t len;
    int eof;
} capture_t;

/* Read what is there; set eof at the end. Past the bound, discard. */
static void capture_read(capture_t *c)
{
    char chunk[4096];
    apr_size_t n = sizeof(chunk);
    apr_status_t rv = apr_file_read(c->f, chunk, &n);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        c->eof = 1;
        return;
    }
    if (n > HTTPD_OUTPUT_MAX - c->len) {
        n = HTTPD_OUTPUT_MAX - c->len;
    }
    memcpy(c->buf + c->len, chunk, n);
    c->len += n;
}

/* httpd's stderr on one line, without "Syntax OK". */
static const char *one_line(capture_t *c)
{
    char *last = NULL, *line;
    const char *out = "";

    c->buf[c->len] = '\0';
    for (line = apr_strtok(c->buf, "\r\n", &last); line != NULL;
         line = apr_strtok(NULL, "\r\n", &last)) {
        if (strcmp(line, "Syntax OK") != 0) {
            /* "Syntax error on line N of F:" goes on with the reason. */
            const char *sep = !out[0]                       ? ""
                              : out[strlen(out) - 1] == ':' ? " "
                                                            : "; ";

            out = apr_pstrcat(P, out, sep, line, NULL);
        }
    }
    return out[0] ? out : "(no message)";
}

/* Ask httpd which store CONFIG gives the module: run
 *   HTTPD -t -f CONFIG -D DUMP_REMOTEUSER_STORE
 * from a clean environment, with argv (no shell parses CONFIG). When an
 * envvars file sits beside CONFIG (Debian), it is sourced first, the way
 * apache2ctl does: APACHE_CONFDIR is CONFIG's directory, -d that
 * directory unless it is /etc/apache2, and $APACHE_ARGUMENTS follow. */
static int resolve_config(const char *httpd, const char *config,
                          const char **pspec)
{
    static const char *const keep[] = { "LD_PRELOAD", "ASAN_OPTIONS",
                                        "UBSAN_OPTIONS" };
    const char *argv[16], *env[8], *dir, *envvars, *spec = NULL;
    capture_t cap[2];
    apr_procattr_t *attr;
    apr_exit_why_e why;
    apr_proc_t proc;
    apr_finfo_t fi;
    apr_time_t deadline;
    apr_status_t rv;
    char *file = NULL, *slash;
    int argc = 0, envc = 0, code = 0, i;

    rv = apr_filepath_merge(&file, NULL, config, APR_FILEPATH_NOTRELATIVE, P);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %s", config, apr_psprintf(P, "%pm", &rv));
    }
    dir = apr_pstrdup(P, file);
    slash = strrchr(dir, '/');
    *slash = '\0';
    dir = dir[0] ? dir : "/";
    envvars = apr_pstrcat(P, dir, "/envvars", NULL);

    env[envc++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                  "/sbin:/bin";
    /* These change how the binary runs (make test-asan), not what its
     * configuration says. */
    for (i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++) {
        const char *v = getenv(keep[i]);

        if (v != NULL) {
            env[envc++] = apr_pstrcat(P, keep[i], "=", v, NULL);
        }
    }
    if (apr_stat(&fi, envvars, APR_FINFO_TYPE, P) == APR_SUCCESS
        && fi.filetype == APR_REG) {
        env[envc++] = apr_pstrcat(P, "APACHE_CONFDIR=", dir, NULL);
        argv[argc++] = "/bin/sh";
        argv[argc++] = "-c";
        argv[argc++] = "set -f; . \"$1\"; shift; exec \"$@\" $APACHE_ARGUMENTS";
        argv[argc++] = "sh";
        argv[argc++] = envvars;
        argv[argc++] = httpd;
        if (strcmp(dir, "/etc/apache2") != 0) {
            argv[argc++] = "-d";
            argv[argc++] = dir;
        }
    }
    else {
        argv[argc++] = httpd;
    }
    argv[argc++] = "-t";
    argv[argc++] = "-f";
    argv[argc++] = file;
    argv[argc++] = "-D";
    argv[argc++] = "DUMP_REMOTEUSER_STORE";
    argv[argc] = NULL;
    env[envc] = NULL;

    rv = apr_procattr_create(&attr, P);
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_CHILD_BLOCK,
                                 APR_CHILD_BLOCK);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_error_check_set(attr, 1);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_proc_create(&proc, argv[0], argv, env, attr, P);
    }
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "cannot run %s: %s", argv[0],
                    apr_psprintf(P, "%pm", &rv));
    }

    /* Both pipes at once: a full stderr must not stall httpd. */
    for (i = 0; i < 2; i++) {
        cap[i].f = i == 0 ? proc.out : proc.err;
        cap[i].buf = apr_palloc(P, HTTPD_OUTPUT_MAX + 1);
        cap[i].len = 0;
        cap[i].eof = 0;
    }
    deadline = apr_time_now() + HTTPD_TIMEOUT;
    while (!cap[0].eof || !cap[1].eof) {
        apr_pollfd_t pfd[2];
        apr_int32_t npfd = 0, nready = 0;
        apr_interval_time_t left = deadline - apr_time_now();

        for (i = 0; i < 2; i++) {
            if (!cap[i].eof) {
                memset(&pfd[npfd], 0, sizeof(pfd[npfd]));
                pfd[npfd].p = P;
                pfd[npfd].desc_type = APR_POLL_FILE;
                pfd[npfd].reqevents = APR_POLLIN;
                pfd[npfd].desc.f = cap[i].f;
                pfd[npfd].client_data = &cap[i];
                npfd++;
            }
        }
        rv = left > 0 ? apr_poll(pfd, npfd, &nready, left) : APR_TIMEUP;
        if (APR_STATUS_IS_EINTR(rv)) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            apr_proc_kill(&proc, SIGKILL);
            apr_proc_wait(&proc, &code, &why, APR_WAIT);
            return fail(EXIT_FAILED, "%s -t -f %s: no answer in %d s", httpd,
                        file, (int)apr_time_sec(HTTPD_TIMEOUT));
        }
        for (i = 0; i < npfd; i++) {
            if (pfd[i].rtnevents != 0) {
                capture_read(pfd[i].client_data);
            }
        }
    }
    apr_file_close(proc.out);
    apr_file_close(proc.err);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    if (why != APR_PROC_EXIT || code != 0) {
        return fail(EXIT_USAGE, "%s -t -f %s failed (%s %d): %s", httpd, file,
                    why == APR_PROC_EXIT ? "exit" : "signal", code,
                    one_line(&cap[1]));
    }
    cap[0].buf[cap[0].len] = '\0';
    if (dump_parse(cap[0].buf, &spec, &store_origin) != 0) {
        return fail(EXIT_USAGE,
                    "%s -t -f %s names no RemoteUserStore: is "
                    "mod_remoteuser_session loaded there, and "
                    "RemoteUserStore set in the server config?",
                    httpd, file);
    }
    *pspec = spec;
    return 0;
}

/* The store spec from --db or --config. */
static int store_spec(const char *db, const char *config, const char *httpd,
                      const char **pspec)
{
    if (db != NULL) {
        *pspec = rus_store_file_spec(P, db);
        return 0;
    }
    if (config != NULL) {
        if (httpd == NULL) {
            httpd = getenv("RUS_HTTPD");
        }
        if (httpd == NULL || httpd[0] == '\0') {
            httpd = RUS_HTTPD_DEFAULT;
        }
        return resolve_config(httpd, config, pspec);
    }
    return fail(EXIT_USAGE, "--db PATH or --config FILE is needed");
}

/* ==================================================================== */
/* commands                                                             */

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

static int cmd_user(rus_conn_t *conn, int argc, const char *const *argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    rus_user_t u;
    apr_status_t rv;
    int rc;

    if (strcmp(sub, "list") == 0 && argc == 1) {
        apr_array_header_t *users = NULL;
        table_t *t;
        int i;

        rv = rus_user_list(conn, &users, P);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "list users");
        }
        if (json) {
            printf("[");
            for (i = 0; i < users->nelts; i++) {
                print_user_json(&APR_ARRAY_IDX(users, i, rus_user_t),
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
    if (strcmp(sub, "show") == 0 && argc == 2) {
        rc = need_user(conn, argv[1], &u);
        if (rc != 0) {
            return rc;
        }
        if (json) {
            print_user_json(&u, "\n");
            return 0;
        }
        printf("id:          %" APR_INT64_T_FMT "\n"
               "username:    %s\nactive:      %s\njoined:      %s\n"
               "last login:  %s\ngroups:      %s\n",
               u.id, u.username, u.is_active ? "yes" : "no",
               when(u.date_joined), when(u.last_login),
               u.groups[0] ? u.groups : "-");
        return 0;
    }
    if (strcmp(sub, "add") == 0
        && (argc == 2 || (argc == 3 && strcmp(argv[2], "--inactive") == 0))) {
        rc = valid_user_name(argv[1]);
        if (rc != 0) {
            return rc;
        }
        rv = rus_user_add(conn, argv[1], (apr_int64_t)time(NULL), argc == 2, &u,
                          P);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, apr_psprintf(P, "user '%s'", argv[1]));
        }
        if (json) {
            print_user_json(&u, "\n");
            return 0;
        }
        return done(apr_psprintf(P, "added user %s (id %" APR_INT64_T_FMT "%s)",
                                 u.username, u.id,
                                 u.is_active ? "" : ", inactive"),
                    NULL);
    }
    if ((strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0
         || strcmp(sub, "delete") == 0)
        && argc == 2) {
        rc = need_user(conn, argv[1], &u);
        if (rc != 0) {
            return rc;
        }
        rv = strcmp(sub, "delete") == 0
                 ? rus_user_delete(conn, u.id)
                 : rus_user_set_active(conn, u.id, sub[0] == 'e');
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, sub);
        }
        return done(apr_psprintf(P, "%sd user %s",
                                 sub[0] == 'e'   ? "enable"
                                 : sub[1] == 'i' ? "disable"
                                                 : "delete",
                                 u.username),
                    NULL);
    }
    if (strcmp(sub, "rename") == 0 && argc == 3) {
        rc = need_user(conn, argv[1], &u);
        if (rc == 0) {
            rc = valid_user_name(argv[2]);
        }
        if (rc != 0) {
            return rc;
        }
        rv = rus_user_rename(conn, u.id, argv[2]);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, apr_psprintf(P, "user '%s'", argv[2]));
        }
        return done(apr_psprintf(P, "renamed user %s to %s", argv[1], argv[2]),
                    NULL);
    }
    return usage("user ");
}

static int cmd_group(rus_conn_t *conn, int argc, const char *const *argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    rus_group_t g;
    rus_user_t u;
    apr_status_t rv;
    int rc, i;

    if (strcmp(sub, "list") == 0 && argc == 1) {
        apr_array_header_t *groups = NULL;
        table_t *t = table_new(3, "ID", "NAME", "MEMBERS");

        rv = rus_group_list(conn, &groups, P);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "list groups");
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
    if (strcmp(sub, "add") == 0 && argc == 2) {
        if (!rus_group_name_valid(argv[1])) {
            return fail(EXIT_USAGE,
                        "'%s' is not a group name (no spaces, commas or "
                        "control characters)",
                        argv[1]);
        }
        rv = rus_group_add(conn, argv[1]);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv,
                               apr_psprintf(P, "group '%s'", argv[1]));
        }
        return done(apr_psprintf(P, "added group %s", argv[1]), NULL);
    }
    if ((strcmp(sub, "delete") == 0 || strcmp(sub, "members") == 0)
        && argc == 2) {
        rc = need_group(conn, argv[1], &g);
        if (rc != 0) {
            return rc;
        }
        if (sub[0] == 'd') {
            rv = rus_group_delete(conn, g.id);
            if (rv != APR_SUCCESS) {
                return status_exit(conn, rv, "delete group");
            }
            return done(apr_psprintf(P, "deleted group %s", g.name), NULL);
        }
        else {
            apr_array_header_t *names = NULL;

            rv = rus_group_members(conn, g.id, &names, P);
            if (rv != APR_SUCCESS) {
                return status_exit(conn, rv, "list members");
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
    }
    if ((strcmp(sub, "add-member") == 0 || strcmp(sub, "remove-member") == 0)
        && argc == 3) {
        rc = need_group(conn, argv[1], &g);
        if (rc == 0) {
            rc = need_user(conn, argv[2], &u);
        }
        if (rc != 0) {
            return rc;
        }
        if (sub[0] == 'a') {
            rv = rus_group_add_member(conn, g.id, u.id);
        }
        else {
            rv = rus_group_remove_member(conn, g.id, u.id);
        }
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv,
                               apr_psprintf(P, "membership of %s in %s",
                                            u.username, g.name));
        }
        return done(apr_psprintf(P, "%s %s %s %s",
                                 sub[0] == 'a' ? "added" : "removed",
                                 u.username, sub[0] == 'a' ? "to" : "from",
                                 g.name),
                    NULL);
    }
    return usage("group ");
}

static int cmd_session(rus_conn_t *conn, int argc, const char *const *argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    rus_user_t u;
    apr_status_t rv;
    int rc, i, count = 0;

    if (strcmp(sub, "list") == 0
        && (argc == 1 || (argc == 3 && strcmp(argv[1], "--user") == 0))) {
        apr_array_header_t *rows = NULL;
        table_t *t = table_new(6, "SESSION", "USER", "VHOST", "CREATED",
                               "LAST_SEEN", "EXPIRES");

        u.id = 0;
        if (argc == 3) {
            rc = need_user(conn, argv[2], &u);
            if (rc != 0) {
                return rc;
            }
        }
        rv = rus_session_list(conn, u.id, &rows, P);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "list sessions");
        }
        if (json) {
            printf("[");
        }
        for (i = 0; i < rows->nelts; i++) {
            rus_session_row_t *x = &APR_ARRAY_IDX(rows, i, rus_session_row_t);

            if (json) {
                printf("{\"token_hash\": %s, \"username\": %s, \"vhost\": %s,"
                       " \"created_at\": %" APR_INT64_T_FMT
                       ", \"last_seen\": %" APR_INT64_T_FMT
                       ", \"expires_at\": %" APR_INT64_T_FMT "}%s",
                       js(x->token_hash), js(x->username), js(x->session.vhost),
                       x->session.created_at, x->session.last_seen,
                       x->session.expires_at, i + 1 < rows->nelts ? ", " : "");
            }
            /* The hash prefix identifies a row; the token is never known. */
            table_add(t, apr_pstrndup(P, x->token_hash, 12), x->username,
                      x->session.vhost, when(x->session.created_at),
                      when(x->session.last_seen), when(x->session.expires_at));
        }
        if (json) {
            printf("]\n");
        }
        else {
            table_print(t);
        }
        return 0;
    }
    if (strcmp(sub, "revoke") == 0 && argc == 3
        && strcmp(argv[1], "--user") == 0) {
        apr_array_header_t *rows = NULL;

        rc = need_user(conn, argv[2], &u);
        if (rc != 0) {
            return rc;
        }
        rv = rus_session_list(conn, u.id, &rows, P);
        if (rv == APR_SUCCESS) {
            rv = rus_session_revoke_user(conn, u.id);
        }
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "revoke sessions");
        }
        return done(apr_psprintf(P, "revoked %d session(s) of %s", rows->nelts,
                                 u.username),
                    apr_psprintf(P, "\"revoked\": %d", rows->nelts));
    }
    if ((strcmp(sub, "revoke-all") == 0 || strcmp(sub, "purge") == 0)
        && argc == 1) {
        rv = sub[0] == 'r'
                 ? rus_session_revoke_all(conn, &count)
                 : rus_session_purge(conn, (apr_int64_t)time(NULL), &count);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, sub);
        }
        return done(apr_psprintf(P, "%s %d session(s)",
                                 sub[0] == 'r' ? "revoked" : "purged", count),
                    apr_psprintf(P, "\"%s\": %d",
                                 sub[0] == 'r' ? "revoked" : "purged", count));
    }
    return usage("session ");
}

static int cmd_db(rus_conn_t *conn, const rus_store_t *store, int argc,
                  const char *const *argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    apr_status_t rv;

    if (strcmp(sub, "info") == 0 && argc == 1) {
        rus_store_info_t info;

        rv = rus_store_info(conn, (apr_int64_t)time(NULL), &info);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "info");
        }
        if (json) {
            printf(
                "{\"store\": %s, \"store_from\": %s, \"schema_version\": %d, \"users\": %" APR_INT64_T_FMT
                ", \"groups\": %" APR_INT64_T_FMT
                ", \"sessions\": %" APR_INT64_T_FMT
                ", \"sessions_expired\": %" APR_INT64_T_FMT "}\n",
                js(rus_store_describe(store)),
                store_origin ? js(store_origin) : "null", info.schema_version,
                info.users, info.groups, info.sessions, info.sessions_expired);
            return 0;
        }
        printf(
            "store:            %s%s%s%s\nschema version:   %d\nusers:            %" APR_INT64_T_FMT
            "\ngroups:           %" APR_INT64_T_FMT
            "\nsessions:         %" APR_INT64_T_FMT
            "\nexpired sessions: %" APR_INT64_T_FMT "\n",
            rus_store_describe(store), store_origin ? " (from " : "",
            store_origin ? store_origin : "", store_origin ? ")" : "",
            info.schema_version, info.users, info.groups, info.sessions,
            info.sessions_expired);
        return 0;
    }
    if (strcmp(sub, "check") == 0 && argc == 1) {
        const char *result = NULL;
        int ok = 0;

        rv = rus_store_integrity(conn, &ok, &result, P);
        if (rv != APR_SUCCESS) {
            return status_exit(conn, rv, "check");
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
    return usage("db ");
}

/* ==================================================================== */
/* main                                                                 */

int main(int argc, const char *const *argv)
{
    const char *db = NULL, *config = NULL, *httpd = NULL, *spec = NULL;
    const char *msg = NULL, *warn = NULL;
    const char **args;
    rus_store_t *store = NULL;
    rus_conn_t *conn = NULL;
    int i, n = 0, rc;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&P, NULL);

    /* Global options anywhere; the rest is the command. */
    args = apr_pcalloc(P, sizeof(char *) * (size_t)(argc + 1));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        }
        else if ((strcmp(argv[i], "--db") == 0
                  || strcmp(argv[i], "--config") == 0
                  || strcmp(argv[i], "--httpd") == 0)
                 && i + 1 < argc) {
            *(argv[i][2] == 'd'   ? &db
              : argv[i][2] == 'c' ? &config
                                  : &httpd) = argv[i + 1];
            i++;
        }
        else if (strcmp(argv[i], "--version") == 0) {
            printf("remoteuser-admin (mod_remoteuser_session) %s\n",
                   RUS_VERSION);
            return 0;
        }
        else {
            args[n++] = argv[i];
        }
    }
    for (i = 0; i < n; i++) {
        if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0) {
            const char *h = help_top;

            if (n > 0 && strcmp(args[0], "user") == 0) {
                h = help_user;
            }
            else if (n > 0 && strcmp(args[0], "group") == 0) {
                h = help_group;
            }
            else if (n > 0 && strcmp(args[0], "session") == 0) {
                h = help_session;
            }
            else if (n > 0 && strcmp(args[0], "db") == 0) {
                h = help_db;
            }
            fputs(h, stdout);
            return 0;
        }
    }
    if (n == 0
        || (strcmp(args[0], "user") != 0 && strcmp(args[0], "group") != 0
            && strcmp(args[0], "session") != 0 && strcmp(args[0], "db") != 0)) {
        return usage("");
    }
    if (db != NULL && config != NULL) {
        return fail(EXIT_USAGE, "--db and --config exclude each other");
    }
    if (httpd != NULL && config == NULL) {
        return fail(EXIT_USAGE, "--httpd goes with --config");
    }
    rc = store_spec(db, config, httpd, &spec);
    if (rc != 0) {
        return rc;
    }
    /* From --config the spec is absolute; --db is relative to here. */
    if (rus_store_create(&store, P, spec, NULL, NULL, &msg) != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %s", spec, msg);
    }
    if (strcmp(args[0], "db") == 0 && n == 2
        && strcmp(args[1], "migrate") == 0) {
        rv = rus_store_prepare(store, P, NULL, &warn, &msg);
        if (rv != APR_SUCCESS) {
            return fail(EXIT_FAILED, "%s", msg);
        }
        rv = rus_store_connect(&conn, store, P, &msg);
        if (rv == APR_SUCCESS) {
            rus_store_info_t info;

            rv = rus_store_info(conn, (apr_int64_t)time(NULL), &info);
            rus_store_disconnect(conn);
            if (rv == APR_SUCCESS) {
                return done(apr_psprintf(P, "%s: schema version %d",
                                         rus_store_describe(store),
                                         info.schema_version),
                            apr_psprintf(P, "\"schema_version\": %d",
                                         info.schema_version));
            }
        }
        return fail(EXIT_FAILED, "%s", msg ? msg : "cannot read the store");
    }
    rv = rus_store_check(store, P, &msg);
    if (rv == APR_SUCCESS) {
        rv = rus_store_connect(&conn, store, P, &msg);
    }
    if (rv == APR_FROM_OS_ERROR(ELOOP)) {
        /* a symbolic link at the store: refused, nothing followed */
        return fail(EXIT_FAILED, "%s: %s", rus_store_describe(store), msg);
    }
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED,
                    "%s: %s (a missing store is created by "
                    "httpd at startup or by 'db migrate')",
                    rus_store_describe(store), msg);
    }
    if (strcmp(args[0], "user") == 0) {
        rc = cmd_user(conn, n - 1, args + 1);
    }
    else if (strcmp(args[0], "group") == 0) {
        rc = cmd_group(conn, n - 1, args + 1);
    }
    else if (strcmp(args[0], "session") == 0) {
        rc = cmd_session(conn, n - 1, args + 1);
    }
    else {
        rc = cmd_db(conn, store, n - 1, args + 1);
    }
    rus_store_disconnect(conn);
    return rc;
}
