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
 * subcommand its number of operands, its own options and one function.
 * Global options may come anywhere; apr_getopt_long takes them out, and
 * an option it does not know stays an operand of the command.
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

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_getopt.h>
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
    "usage: remoteuser-admin [--db PATH | --store SPEC |\n"
    "                         --config HTTPD.CONF [--httpd BIN]]\n"
    "                        [--json] COMMAND ...\n"
    "\n"
    "Manage the user store of mod_remoteuser_session.\n"
    "\n"
    "  --db PATH            the SQLite store file (--store sqlite:PATH)\n"
    "  --store SPEC         the store, written as for RemoteUserStore:\n"
    "                       SCHEME:LOCATION, e.g. sqlite:/var/lib/x/users.db\n"
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

/* The command line that asks httpd: argv and a clean environment. When an
 * envvars file sits beside CONFIG (Debian), it is sourced first, the way
 * apache2ctl does: APACHE_CONFDIR is CONFIG's directory, -d that
 * directory unless it is /etc/apache2, and $APACHE_ARGUMENTS follow. */
typedef struct httpd_cmd_t {
    const char *argv[16];
    const char *env[8];
} httpd_cmd_t;

static void httpd_command(httpd_cmd_t *cmd, const char *httpd, const char *file)
{
    static const char *const keep[] = { "LD_PRELOAD", "ASAN_OPTIONS",
                                        "UBSAN_OPTIONS" };
    const char *dir, *envvars;
    apr_finfo_t fi;
    char *slash;
    int argc = 0, envc = 0, i;

    dir = apr_pstrdup(P, file);
    slash = strrchr(dir, '/');
    *slash = '\0';
    dir = dir[0] ? dir : "/";
    envvars = apr_pstrcat(P, dir, "/envvars", NULL);

    cmd->env[envc++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                       "/usr/bin:/sbin:/bin";
    /* These change how the binary runs (make test-asan), not what its
     * configuration says. */
    for (i = 0; i < (int)(sizeof(keep) / sizeof(keep[0])); i++) {
        const char *v = getenv(keep[i]);

        if (v != NULL) {
            cmd->env[envc++] = apr_pstrcat(P, keep[i], "=", v, NULL);
        }
    }
    if (apr_stat(&fi, envvars, APR_FINFO_TYPE, P) == APR_SUCCESS
        && fi.filetype == APR_REG) {
        cmd->env[envc++] = apr_pstrcat(P, "APACHE_CONFDIR=", dir, NULL);
        cmd->argv[argc++] = "/bin/sh";
        cmd->argv[argc++] = "-c";
        cmd->argv[argc++] =
            "set -f; . \"$1\"; shift; exec \"$@\" $APACHE_ARGUMENTS";
        cmd->argv[argc++] = "sh";
        cmd->argv[argc++] = envvars;
        cmd->argv[argc++] = httpd;
        if (strcmp(dir, "/etc/apache2") != 0) {
            cmd->argv[argc++] = "-d";
            cmd->argv[argc++] = dir;
        }
    }
    else {
        cmd->argv[argc++] = httpd;
    }
    cmd->argv[argc++] = "-t";
    cmd->argv[argc++] = "-f";
    cmd->argv[argc++] = file;
    cmd->argv[argc++] = "-D";
    cmd->argv[argc++] = "DUMP_REMOTEUSER_STORE";
    cmd->argv[argc] = NULL;
    cmd->env[envc] = NULL;
}

/* Start @a cmd with its stdout and stderr on pipes. */
static apr_status_t httpd_start(const httpd_cmd_t *cmd, apr_proc_t *proc)
{
    apr_procattr_t *attr;
    apr_status_t rv;

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
        rv = apr_proc_create(proc, cmd->argv[0], cmd->argv, cmd->env, attr, P);
    }
    return rv;
}

/* Read both pipes at once until both end (a full stderr must not stall
 * httpd), at most until @a deadline. @return APR_SUCCESS, or the error
 * of apr_poll() (APR_TIMEUP past the deadline). */
static apr_status_t httpd_capture(apr_proc_t *proc, capture_t cap[2],
                                  apr_time_t deadline)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < 2; i++) {
        cap[i].f = i == 0 ? proc->out : proc->err;
        cap[i].buf = apr_palloc(P, HTTPD_OUTPUT_MAX + 1);
        cap[i].len = 0;
        cap[i].eof = 0;
    }
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
            return rv;
        }
        for (i = 0; i < npfd; i++) {
            if (pfd[i].rtnevents != 0) {
                capture_read(pfd[i].client_data);
            }
        }
    }
    return APR_SUCCESS;
}

/* Ask httpd which store CONFIG gives the module: run
 *   HTTPD -t -f CONFIG -D DUMP_REMOTEUSER_STORE
 * from a clean environment, with argv (no shell parses CONFIG; see
 * httpd_command() for envvars). */
static int resolve_config(const char *httpd, const char *config,
                          const char **pspec)
{
    const char *spec = NULL;
    httpd_cmd_t cmd;
    capture_t cap[2];
    apr_exit_why_e why;
    apr_proc_t proc;
    apr_status_t rv;
    char *file = NULL;
    int code = 0;

    rv = apr_filepath_merge(&file, NULL, config, APR_FILEPATH_NOTRELATIVE, P);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %s", config, apr_psprintf(P, "%pm", &rv));
    }
    httpd_command(&cmd, httpd, file);
    rv = httpd_start(&cmd, &proc);
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED, "cannot run %s: %s", cmd.argv[0],
                    apr_psprintf(P, "%pm", &rv));
    }
    rv = httpd_capture(&proc, cap, apr_time_now() + HTTPD_TIMEOUT);
    if (rv != APR_SUCCESS) {
        apr_proc_kill(&proc, SIGKILL);
        apr_proc_wait(&proc, &code, &why, APR_WAIT);
        return fail(EXIT_FAILED, "%s -t -f %s: no answer in %d s", httpd, file,
                    (int)apr_time_sec(HTTPD_TIMEOUT));
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

/* The store spec from --db, --store or --config (main() saw to it that at
 * most one is given). */
static int store_spec(const char *db, const char *store, const char *config,
                      const char *httpd, const char **pspec)
{
    if (db != NULL) {
        *pspec = rus_store_file_spec(P, db);
        return 0;
    }
    if (store != NULL) {
        *pspec = store;
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
    return fail(EXIT_USAGE, "--db PATH, --store SPEC or --config FILE is "
                            "needed");
}

/* ==================================================================== */
/* commands                                                             */

/* What a command runs with: the open store, its operands (its name and
 * its options taken out) and the values of its options. */
typedef struct cmd_ctx_t {
    const rus_store_t *store;
    rus_conn_t *conn; /* NULL for a command that runs offline */
    int argc;
    const char *const *argv;
    const char *user; /* --user NAME */
    int inactive;     /* --inactive */
} cmd_ctx_t;

typedef int cmd_run_fn(cmd_ctx_t *ctx);

/* Option ids. Above 255, so that none has a one-letter form (only -h
 * does, as ever): a one-letter argument is an operand. */
enum {
    OPT_DB = 256,
    OPT_STORE,
    OPT_CONFIG,
    OPT_HTTPD,
    OPT_JSON,
    OPT_VERSION,
    OPT_USER,    /* subcommands: --user NAME */
    OPT_INACTIVE /* subcommands: --inactive */
};

/* A command (user, group, ...) with its subcommands, or a subcommand. */
typedef struct cmd_t {
    const char *name;
    const char *help;                /* commands: their --help text */
    const struct cmd_t *subs;        /* commands: subcommands, NULL-ended */
    int nargs;                       /* subcommands: operands it takes */
    const apr_getopt_option_t *opts; /* subcommands: its options, or NULL */
    int need_user;                   /* --user NAME is required */
    int offline;                     /* runs before the store is opened */
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

static int user_show(cmd_ctx_t *ctx)
{
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->argv[0], &u);

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
           u.id, u.username, u.is_active ? "yes" : "no", when(u.date_joined),
           when(u.last_login), u.groups[0] ? u.groups : "-");
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
    rv = rus_user_add(ctx->conn, name, now_sec(), !ctx->inactive, &u, P);
    if (rv != APR_SUCCESS) {
        return status_exit(ctx->conn, rv, apr_psprintf(P, "user '%s'", name));
    }
    if (json) {
        print_user_json(&u, "\n");
        return 0;
    }
    return done(apr_psprintf(P, "added user %s (id %" APR_INT64_T_FMT "%s)",
                             u.username, u.id, u.is_active ? "" : ", inactive"),
                NULL);
}

/* enable, disable and delete: find the user, change it, say so.
 * @a active is 1 or 0 to set it, -1 to delete the user. */
static int user_change(cmd_ctx_t *ctx, int active, const char *verb)
{
    apr_status_t rv;
    rus_user_t u;
    int rc = need_user(ctx->conn, ctx->argv[0], &u);

    if (rc != 0) {
        return rc;
    }
    rv = active < 0 ? rus_user_delete(ctx->conn, u.id)
                    : rus_user_set_active(ctx->conn, u.id, active, NULL);
    if (rv != APR_SUCCESS) {
        /* the subcommand's name: enable, disable, delete */
        return status_exit(ctx->conn, rv,
                           apr_pstrndup(P, verb, strlen(verb) - 1));
    }
    return done(apr_psprintf(P, "%s user %s", verb, u.username), NULL);
}

static int user_enable(cmd_ctx_t *ctx)
{
    return user_change(ctx, 1, "enabled");
}

static int user_disable(cmd_ctx_t *ctx)
{
    return user_change(ctx, 0, "disabled");
}

static int user_delete(cmd_ctx_t *ctx)
{
    return user_change(ctx, -1, "deleted");
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

static void print_session_json(const rus_session_row_t *x, const char *end)
{
    printf("{\"token_hash\": %s, \"username\": %s, \"vhost\": %s,"
           " \"created_at\": %" APR_INT64_T_FMT
           ", \"last_seen\": %" APR_INT64_T_FMT
           ", \"expires_at\": %" APR_INT64_T_FMT "}%s",
           js(x->token_hash), js(x->username), js(x->session.vhost),
           x->session.created_at, x->session.last_seen, x->session.expires_at,
           end);
}

static int session_list(cmd_ctx_t *ctx)
{
    apr_array_header_t *rows = NULL;
    table_t *t = table_new(6, "SESSION", "USER", "VHOST", "CREATED",
                           "LAST_SEEN", "EXPIRES");
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

static int session_revoke(cmd_ctx_t *ctx)
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
        printf("{\"store\": %s, \"store_from\": %s, \"schema_version\": %d, "
               "\"users\": %" APR_INT64_T_FMT ", \"groups\": %" APR_INT64_T_FMT
               ", \"sessions\": %" APR_INT64_T_FMT
               ", \"sessions_expired\": %" APR_INT64_T_FMT "}\n",
               js(where), store_origin ? js(store_origin) : "null",
               info.schema_version, info.users, info.groups, info.sessions,
               info.sessions_expired);
        return 0;
    }
    printf("store:            %s%s%s%s\n"
           "schema version:   %d\n"
           "users:            %" APR_INT64_T_FMT "\n"
           "groups:           %" APR_INT64_T_FMT "\n"
           "sessions:         %" APR_INT64_T_FMT "\n"
           "expired sessions: %" APR_INT64_T_FMT "\n",
           where, store_origin ? " (from " : "",
           store_origin ? store_origin : "", store_origin ? ")" : "",
           info.schema_version, info.users, info.groups, info.sessions,
           info.sessions_expired);
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

/* ---- the command table ---------------------------------------------- */

static const apr_getopt_option_t opts_user[] = {
    { "user", OPT_USER, 1, "only the sessions of this user" },
    { NULL, 0, 0, NULL },
};

static const apr_getopt_option_t opts_inactive[] = {
    { "inactive", OPT_INACTIVE, 0, "add the user disabled" },
    { NULL, 0, 0, NULL },
};

static const cmd_t user_cmds[] = {
    { "list", NULL, NULL, 0, NULL, 0, 0, user_list },
    { "show", NULL, NULL, 1, NULL, 0, 0, user_show },
    { "add", NULL, NULL, 1, opts_inactive, 0, 0, user_add },
    { "enable", NULL, NULL, 1, NULL, 0, 0, user_enable },
    { "disable", NULL, NULL, 1, NULL, 0, 0, user_disable },
    { "delete", NULL, NULL, 1, NULL, 0, 0, user_delete },
    { "rename", NULL, NULL, 2, NULL, 0, 0, user_rename },
    { NULL, NULL, NULL, 0, NULL, 0, 0, NULL },
};

static const cmd_t group_cmds[] = {
    { "list", NULL, NULL, 0, NULL, 0, 0, group_list },
    { "add", NULL, NULL, 1, NULL, 0, 0, group_add },
    { "delete", NULL, NULL, 1, NULL, 0, 0, group_delete },
    { "members", NULL, NULL, 1, NULL, 0, 0, group_members },
    { "add-member", NULL, NULL, 2, NULL, 0, 0, group_add_member },
    { "remove-member", NULL, NULL, 2, NULL, 0, 0, group_remove_member },
    { NULL, NULL, NULL, 0, NULL, 0, 0, NULL },
};

static const cmd_t session_cmds[] = {
    { "list", NULL, NULL, 0, opts_user, 0, 0, session_list },
    { "revoke", NULL, NULL, 0, opts_user, 1, 0, session_revoke },
    { "revoke-all", NULL, NULL, 0, NULL, 0, 0, session_revoke_all },
    { "purge", NULL, NULL, 0, NULL, 0, 0, session_purge },
    { NULL, NULL, NULL, 0, NULL, 0, 0, NULL },
};

static const cmd_t db_cmds[] = {
    { "info", NULL, NULL, 0, NULL, 0, 0, db_info },
    { "check", NULL, NULL, 0, NULL, 0, 0, db_check },
    { "migrate", NULL, NULL, 0, NULL, 0, 1, db_migrate },
    { NULL, NULL, NULL, 0, NULL, 0, 0, NULL },
};

static const cmd_t commands[] = {
    { "user", help_user, user_cmds, 0, NULL, 0, 0, NULL },
    { "group", help_group, group_cmds, 0, NULL, 0, 0, NULL },
    { "session", help_session, session_cmds, 0, NULL, 0, 0, NULL },
    { "db", help_db, db_cmds, 0, NULL, 0, 0, NULL },
    { NULL, NULL, NULL, 0, NULL, 0, 0, NULL },
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

/* Take the options of @a sub out of @a argv (its name, then its operands
 * and options) into @a ctx, the operands left into ctx->argc/argv.
 * @return 0, or -1 when they do not fit the subcommand: then it is bad
 *         usage. An option it does not know stays an operand (a name may
 *         start with '-'), and so counts against its number of operands. */
static int cmd_parse(const cmd_t *sub, int argc, const char *const *argv,
                     cmd_ctx_t *ctx)
{
    apr_getopt_t *os;
    const char *arg;
    apr_status_t rv;
    int ch;

    ctx->argc = argc - 1;
    ctx->argv = argv + 1;
    if (sub->opts != NULL) {
        /* apr_getopt skips argv[0] as a program name: here the name */
        apr_getopt_init(&os, P, argc, argv);
        os->interleave = 1;
        os->errfn = NULL;
        while ((rv = apr_getopt_long(os, sub->opts, &ch, &arg)) != APR_EOF) {
            if (rv == APR_BADARG) {
                return -1; /* an option without its value */
            }
            if (rv == APR_SUCCESS && ch == OPT_USER) {
                ctx->user = arg;
            }
            else if (rv == APR_SUCCESS && ch == OPT_INACTIVE) {
                ctx->inactive = 1;
            }
        }
        ctx->argc = os->argc - os->ind;
        ctx->argv = os->argv + os->ind;
    }
    if (ctx->argc != sub->nargs || (sub->need_user && ctx->user == NULL)) {
        return -1;
    }
    return 0;
}

/* ==================================================================== */
/* main                                                                 */

/* The global options, anywhere on the line. */
static const apr_getopt_option_t global_opts[] = {
    { "db", OPT_DB, 1, "the SQLite store file" },
    { "store", OPT_STORE, 1, "the store, SCHEME:LOCATION" },
    { "config", OPT_CONFIG, 1, "the store httpd uses with this configuration" },
    { "httpd", OPT_HTTPD, 1, "the httpd binary for --config" },
    { "json", OPT_JSON, 0, "machine-readable output" },
    { "version", OPT_VERSION, 0, "print the version" },
    { "help", 'h', 0, "print the help" },
    { NULL, 0, 0, NULL },
};

/* What the global options said. */
typedef struct global_t {
    const char *db, *store, *config, *httpd;
    int help;
    int argc; /* the rest: COMMAND SUBCOMMAND ... */
    const char *const *argv;
} global_t;

/* Parse the global options; the rest, unknown options included, stays
 * in order for the command. @return -1 to go on, else the exit code. */
static int parse_global(int argc, const char *const *argv, global_t *g)
{
    apr_getopt_t *os;
    const char *arg;
    apr_status_t rv;
    int ch;

    memset(g, 0, sizeof(*g));
    apr_getopt_init(&os, P, argc, argv);
    os->interleave = 1;
    os->errfn = NULL; /* an unknown option is the command's business */
    while ((rv = apr_getopt_long(os, global_opts, &ch, &arg)) != APR_EOF) {
        if (rv != APR_SUCCESS) {
            continue; /* left among the operands, as an option without
                         its value is */
        }
        switch (ch) {
        case OPT_DB:
            g->db = arg;
            break;
        case OPT_STORE:
            g->store = arg;
            break;
        case OPT_CONFIG:
            g->config = arg;
            break;
        case OPT_HTTPD:
            g->httpd = arg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            g->help = 1;
            break;
        case OPT_VERSION:
            printf("remoteuser-admin (mod_remoteuser_session) %s\n",
                   RUS_VERSION);
            return 0;
        }
    }
    g->argc = os->argc - os->ind;
    g->argv = os->argv + os->ind;
    return -1;
}

/* The store the options name, created but not opened. */
static int open_spec(const global_t *g, rus_store_t **pstore)
{
    const char *spec = NULL, *msg = NULL;
    int rc;

    if (g->db != NULL && g->config != NULL) {
        return fail(EXIT_USAGE, "--db and --config exclude each other");
    }
    if (g->store != NULL && (g->db != NULL || g->config != NULL)) {
        return fail(EXIT_USAGE, "--store and --%s exclude each other",
                    g->db != NULL ? "db" : "config");
    }
    if (g->httpd != NULL && g->config == NULL) {
        return fail(EXIT_USAGE, "--httpd goes with --config");
    }
    rc = store_spec(g->db, g->store, g->config, g->httpd, &spec);
    if (rc != 0) {
        return rc;
    }
    /* From --config the spec is absolute; --db and --store are relative
     * to here. */
    if (rus_store_create(pstore, P, spec, NULL, NULL, &msg) != APR_SUCCESS) {
        return fail(EXIT_USAGE, "%s: %s", spec, msg);
    }
    return 0;
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
    if (rv != APR_SUCCESS) {
        return fail(EXIT_FAILED,
                    "%s: %s (a missing store is created by "
                    "httpd at startup or by 'db migrate')",
                    rus_store_describe(store), msg);
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    const cmd_t *cmd, *sub = NULL;
    cmd_ctx_t ctx;
    global_t g;
    rus_store_t *store = NULL;
    int rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&P, NULL);

    rc = parse_global(argc, argv, &g);
    if (rc >= 0) {
        return rc;
    }
    cmd = g.argc > 0 ? cmd_find(commands, g.argv[0]) : NULL;
    if (g.help) {
        fputs(cmd ? cmd->help : help_top, stdout);
        return 0;
    }
    if (cmd == NULL) {
        return usage("");
    }
    rc = open_spec(&g, &store);
    if (rc != 0) {
        return rc;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.store = store;
    if (g.argc > 1) {
        sub = cmd_find(cmd->subs, g.argv[1]);
    }
    if (sub != NULL && cmd_parse(sub, g.argc - 1, g.argv + 1, &ctx) != 0) {
        sub = NULL;
    }
    if (sub == NULL || !sub->offline) {
        /* A bad subcommand is reported once the store opened, as ever. */
        rc = open_store(store, &ctx.conn);
        if (rc != 0) {
            return rc;
        }
    }
    rc = sub != NULL ? sub->run(&ctx)
                     : usage(apr_pstrcat(P, cmd->name, " ", NULL));
    rus_store_disconnect(ctx.conn);
    return rc;
}
