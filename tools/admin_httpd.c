/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* remoteuser-admin: asking httpd about a configuration.
 *
 * Nothing is guessed from configuration files: httpd itself reads them
 * (-t -D DUMP_REMOTEUSER_STORE), so Include, Define, <IfDefine>,
 * <IfModule> and ServerRoot count exactly as they count for httpd, and
 * the module reports the store in force and the directives the tool
 * warns about. Which file httpd reads by default, apachectl -V says. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "admin.h"

/* How long httpd -t or apachectl -V may take before it is killed. */
#define RUN_TIMEOUT apr_time_from_sec(60)
/* What is kept of a child's stdout and stderr each. */
#define OUTPUT_MAX (64 * 1024)

/* ==================================================================== */
/* running a program                                                    */

/* The read end of one of the child's pipes, kept up to a bound. */
typedef struct capture_t {
    apr_file_t *f;
    char *buf;
    apr_size_t len;
    int eof;
} capture_t;

/* A program to run: argv and a clean environment, both NULL-ended. */
typedef struct run_t {
    const char *argv[16];
    const char *env[8];
    int argc, envc;
} run_t;

/* Start with PATH only, plus what changes how a binary runs (make
 * test-asan), not what a configuration says. */
static void run_init(run_t *run, apr_pool_t *p)
{
    static const char *const keep[] = { "LD_PRELOAD", "ASAN_OPTIONS",
                                        "UBSAN_OPTIONS" };
    size_t i;

    memset(run, 0, sizeof(*run));
    run->env[run->envc++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                            "/usr/bin:/sbin:/bin";
    for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        const char *v = getenv(keep[i]);

        if (v != NULL) {
            run->env[run->envc++] = apr_pstrcat(p, keep[i], "=", v, NULL);
        }
    }
}

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
    if (n > OUTPUT_MAX - c->len) {
        n = OUTPUT_MAX - c->len;
    }
    memcpy(c->buf + c->len, chunk, n);
    c->len += n;
}

/* Read both pipes at once until both end (a full stderr must not stall
 * the child), at most until @a deadline. @return APR_SUCCESS, or the
 * error of apr_poll() (APR_TIMEUP past the deadline). */
static apr_status_t capture_all(apr_pool_t *p, apr_proc_t *proc,
                                capture_t cap[2], apr_time_t deadline)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < 2; i++) {
        cap[i].f = i == 0 ? proc->out : proc->err;
        cap[i].buf = apr_palloc(p, OUTPUT_MAX + 1);
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
                pfd[npfd].p = p;
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

/* A child's stderr on one line, without "Syntax OK". */
static const char *one_line(apr_pool_t *p, capture_t *c)
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

            out = apr_pstrcat(p, out, sep, line, NULL);
        }
    }
    return out[0] ? out : "(no message)";
}

/* Run @a run to its end with stdout and stderr captured (cap[0], cap[1],
 * both terminated). @a what names it in messages. @return 0 when it ran
 * and exited 0; else an exit code with *pmsg. */
static int run_capture(apr_pool_t *p, run_t *run, const char *what,
                       capture_t cap[2], const char **pmsg)
{
    apr_procattr_t *attr;
    apr_exit_why_e why;
    apr_proc_t proc;
    apr_status_t rv;
    int code = 0;

    run->argv[run->argc] = NULL;
    run->env[run->envc] = NULL;
    rv = apr_procattr_create(&attr, p);
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
        rv = apr_proc_create(&proc, run->argv[0], run->argv, run->env, attr, p);
    }
    if (rv != APR_SUCCESS) {
        *pmsg = apr_psprintf(p, "cannot run %s: %pm", run->argv[0], &rv);
        return EXIT_FAILED;
    }
    rv = capture_all(p, &proc, cap, apr_time_now() + RUN_TIMEOUT);
    if (rv != APR_SUCCESS) {
        apr_proc_kill(&proc, SIGKILL);
        apr_proc_wait(&proc, &code, &why, APR_WAIT);
        *pmsg = apr_psprintf(p, "%s: no answer in %d s", what,
                             (int)apr_time_sec(RUN_TIMEOUT));
        return EXIT_FAILED;
    }
    apr_file_close(proc.out);
    apr_file_close(proc.err);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    cap[0].buf[cap[0].len] = '\0';
    if (why != APR_PROC_EXIT || code != 0) {
        *pmsg = apr_psprintf(p, "%s failed (%s %d): %s", what,
                             why == APR_PROC_EXIT ? "exit" : "signal", code,
                             one_line(p, &cap[1]));
        return EXIT_USAGE;
    }
    return 0;
}

/* ==================================================================== */
/* httpd -t -D DUMP_REMOTEUSER_STORE                                    */

static int hexval(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

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
            *w++ = (char)((hexval(r[2]) << 4) | hexval(r[3]));
            r += 4;
        }
        else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return s;
}

/* Split "VALUE (ORIGIN)" in place: VALUE and ORIGIN hold no raw '(' or
 * ')' (the module escapes them), so the line splits one way only.
 * @return 0 with both decoded, or -1. */
static int split_origin(char *s, char **pvalue, char **porigin)
{
    char *open = strstr(s, " ("), *close;

    if (open == NULL) {
        return -1;
    }
    close = s + strlen(s) - 1;
    if (close < open + 2 || *close != ')') {
        return -1;
    }
    *open = '\0';
    *close = '\0';
    *pvalue = dump_unescape(s);
    *porigin = dump_unescape(open + 2);
    return *pvalue != NULL && *porigin != NULL && (*pvalue)[0] ? 0 : -1;
}

/* Read the lines the module prints under -D DUMP_REMOTEUSER_STORE:
 *   RemoteUserStore SPEC (FILE:LINE)
 *   RemoteUserSeen DIRECTIVE ARG (FILE:LINE)
 * @return 0 with @a conf's spec, origin and seen set, or -1 when there is
 *         no store line or a line is malformed. */
static int dump_parse(apr_pool_t *p, char *out, admin_conf_t *conf)
{
    static const char store[] = "RemoteUserStore ", seen[] = "RemoteUserSeen ";
    char *last = NULL, *line, *value, *origin;

    conf->spec = NULL;
    conf->seen = apr_array_make(p, 4, sizeof(admin_seen_t));
    for (line = apr_strtok(out, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last)) {
        if (strncmp(line, store, sizeof(store) - 1) == 0) {
            if (split_origin(line + sizeof(store) - 1, &value, &origin) != 0) {
                return -1;
            }
            conf->spec = value;
            conf->origin = origin;
        }
        else if (strncmp(line, seen, sizeof(seen) - 1) == 0) {
            admin_seen_t *s = apr_array_push(conf->seen);
            char *name = line + sizeof(seen) - 1, *space = strchr(name, ' ');

            if (space == NULL) {
                return -1;
            }
            *space = '\0';
            if (split_origin(space + 1, &value, &origin) != 0) {
                return -1;
            }
            s->directive = name;
            s->arg = value;
            s->origin = origin;
        }
    }
    return conf->spec != NULL ? 0 : -1;
}

/* The command line that asks httpd. When an envvars file sits beside
 * CONFIG (Debian), it is sourced first, the way apache2ctl does:
 * APACHE_CONFDIR is CONFIG's directory, -d that directory unless it is
 * /etc/apache2, and $APACHE_ARGUMENTS follow. */
static void httpd_command(apr_pool_t *p, run_t *run, const char *httpd,
                          const char *file)
{
    const char *dir, *envvars;
    apr_finfo_t fi;
    char *slash;

    run_init(run, p);
    dir = apr_pstrdup(p, file);
    slash = strrchr(dir, '/');
    *slash = '\0';
    dir = dir[0] ? dir : "/";
    envvars = apr_pstrcat(p, dir, "/envvars", NULL);
    if (apr_stat(&fi, envvars, APR_FINFO_TYPE, p) == APR_SUCCESS
        && fi.filetype == APR_REG) {
        run->env[run->envc++] = apr_pstrcat(p, "APACHE_CONFDIR=", dir, NULL);
        run->argv[run->argc++] = "/bin/sh";
        run->argv[run->argc++] = "-c";
        run->argv[run->argc++] =
            "set -f; . \"$1\"; shift; exec \"$@\" $APACHE_ARGUMENTS";
        run->argv[run->argc++] = "sh";
        run->argv[run->argc++] = envvars;
        run->argv[run->argc++] = httpd;
        if (strcmp(dir, "/etc/apache2") != 0) {
            run->argv[run->argc++] = "-d";
            run->argv[run->argc++] = dir;
        }
    }
    else {
        run->argv[run->argc++] = httpd;
    }
    run->argv[run->argc++] = "-t";
    run->argv[run->argc++] = "-f";
    run->argv[run->argc++] = file;
    run->argv[run->argc++] = "-D";
    run->argv[run->argc++] = "DUMP_REMOTEUSER_STORE";
}

int admin_httpd_ask(apr_pool_t *p, const char *httpd, const char *config,
                    admin_conf_t *conf, const char **pmsg)
{
    capture_t cap[2];
    apr_finfo_t fi;
    apr_status_t rv;
    char *file = NULL;
    const char *what;
    run_t run;
    int rc;

    memset(&fi, 0, sizeof(fi));
    rv = apr_filepath_merge(&file, NULL, config, APR_FILEPATH_NOTRELATIVE, p);
    if (rv == APR_SUCCESS) {
        /* httpd would say "Invalid command" or nothing useful */
        rv = apr_stat(&fi, file, APR_FINFO_TYPE, p);
    }
    if (rv == APR_SUCCESS && fi.filetype == APR_DIR) {
        rv = APR_FROM_OS_ERROR(EISDIR);
    }
    if (rv != APR_SUCCESS) {
        *pmsg = apr_psprintf(p, "%s: %pm", file ? file : config, &rv);
        return EXIT_USAGE;
    }
    httpd_command(p, &run, httpd, file);
    what = apr_psprintf(p, "%s -t -f %s", httpd, file);
    rc = run_capture(p, &run, what, cap, pmsg);
    if (rc != 0) {
        return rc;
    }
    if (dump_parse(p, cap[0].buf, conf) != 0) {
        *pmsg = apr_psprintf(p,
                             "%s names no RemoteUserStore: is "
                             "mod_remoteuser_session loaded there, and "
                             "RemoteUserStore set in the server config?",
                             what);
        return EXIT_USAGE;
    }
    conf->file = file;
    return 0;
}

/* ==================================================================== */
/* apachectl -V                                                         */

const char *admin_which(apr_pool_t *p, const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *last = NULL, *dir;

    if (path == NULL || strchr(name, '/') != NULL) {
        return NULL;
    }
    copy = apr_pstrdup(p, path);
    for (dir = apr_strtok(copy, ":", &last); dir != NULL;
         dir = apr_strtok(NULL, ":", &last)) {
        const char *f = apr_pstrcat(p, dir, "/", name, NULL);
        apr_finfo_t fi;

        /* a relative entry (".", "bin") would run whatever the current
         * directory holds, as root when root runs the tool */
        if (dir[0] != '/') {
            continue;
        }
        if (apr_stat(&fi, f, APR_FINFO_TYPE, p) == APR_SUCCESS
            && fi.filetype == APR_REG && access(f, X_OK) == 0) {
            return f;
        }
    }
    return NULL;
}

/* The value of the line ' -D NAME="VALUE"' of apachectl -V, or NULL. */
static const char *compiled_define(apr_pool_t *p, const char *out,
                                   const char *name)
{
    const char *key = apr_pstrcat(p, "-D ", name, "=\"", NULL), *at, *end;

    at = strstr(out, key);
    if (at == NULL) {
        return NULL;
    }
    at += strlen(key);
    end = strchr(at, '"');
    return end != NULL ? apr_pstrmemdup(p, at, (apr_size_t)(end - at)) : NULL;
}

int admin_apachectl_config(apr_pool_t *p, const char *apachectl,
                           const char **pconfig, const char **pmsg)
{
    const char *prog = apachectl, *root, *file;
    capture_t cap[2];
    run_t run;
    int rc;

    if (strchr(apachectl, '/') == NULL) {
        prog = admin_which(p, apachectl);
        if (prog == NULL) {
            *pmsg = apr_psprintf(p, "%s: not found on PATH", apachectl);
            return EXIT_FAILED;
        }
    }
    run_init(&run, p);
    run.argv[run.argc++] = prog;
    run.argv[run.argc++] = "-V";
    rc = run_capture(p, &run, apr_pstrcat(p, prog, " -V", NULL), cap, pmsg);
    if (rc != 0) {
        return rc;
    }
    root = compiled_define(p, cap[0].buf, "HTTPD_ROOT");
    file = compiled_define(p, cap[0].buf, "SERVER_CONFIG_FILE");
    if (file == NULL || (file[0] != '/' && root == NULL)) {
        *pmsg =
            apr_psprintf(p,
                         "%s -V names no %s: give --config FILE, "
                         "--db PATH or --store SPEC",
                         prog,
                         file == NULL ? "SERVER_CONFIG_FILE" : "HTTPD_ROOT");
        return EXIT_USAGE;
    }
    *pconfig = file[0] == '/' ? file : apr_pstrcat(p, root, "/", file, NULL);
    return 0;
}
