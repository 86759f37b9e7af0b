"""A real httpd for the integration tests.

Each Httpd instance lives in its own temporary ServerRoot: a generated
httpd.conf, an htpasswd file, a CGI that prints its environment, the store
and the logs. It listens on 127.0.0.1 on a free high port, runs in the
foreground in its own process group, and is stopped with SIGTERM (SIGKILL
to the group if it does not go).

When the tests run as root, httpd's children run as www-data, as they would
in production: the ServerRoot is made readable and the store directory
writable for that user.

With RUS_SANITIZE=1 (make test-asan) the module and remoteuser-admin under
test are AddressSanitizer + UBSan builds: httpd and the tool run with the
environment of sanitizer_env(), ASan's reports go to <root>/logs/asan.PID,
UBSan's to the error log, and crashes() returns them as well; cleanup()
raises for any report no crashes() call has returned, before the directory
goes.
"""

import base64
import functools
import glob
import hashlib
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def built(name):
    """Where the build left `name`: build/<name> when it is there (the
    layout of the build under build/), else <name> at the top."""
    under = os.path.join(TOP, "build", name)
    return under if os.path.exists(under) else os.path.join(TOP, name)


def apxs(var):
    out = subprocess.run([os.environ.get("APXS", "apxs"), "-q", var],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


MODDIR = apxs("LIBEXECDIR")
HTTPD = os.path.join(apxs("SBINDIR"), apxs("PROGNAME"))
# The module and remoteuser-admin under test: RUS_MODULE and RUS_ADMIN
# (the Makefile sets both), else what the build left.
MODULE = os.environ.get("RUS_MODULE", built("mod_remoteuser_session.so"))
ADMIN = os.environ.get("RUS_ADMIN", built("remoteuser-admin"))

RUN_USER = "www-data" if os.geteuid() == 0 else None

SANITIZE = os.environ.get("RUS_SANITIZE") == "1"
# what a sanitizer writes when it finds something, also in the error log
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


@functools.lru_cache(maxsize=None)
def libasan():
    """gcc's ASan runtime, the one the sanitized module is linked with."""
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert os.path.isabs(out), "gcc has no libasan.so"
    return os.path.realpath(out)


def sanitizer_env(root, env=None, leaks=False):
    """The environment (default: os.environ) for httpd or remoteuser-admin
    with ServerRoot `root`: without REMOTEUSER_STORE, and with an empty
    REMOTEUSER_APACHECTL (remoteuser-admin looks up no httpd of this
    machine); otherwise unchanged unless RUS_SANITIZE=1. Then libasan
    is preloaded (httpd is not instrumented, the module is), leaks are
    reported only with `leaks` (remoteuser-admin; httpd frees its pools at
    exit only on some paths), and ASan's reports go to <root>/logs/asan.PID.
    UBSan's go to stderr, the error log for httpd, whatever its log_path:
    UBSan's runtime is a library of its own, and its call to set its report
    file binds to the preloaded libasan's. glibc's malloc checks are off:
    they conflict with ASan's allocator."""
    env = dict(os.environ if env is None else env)
    # remoteuser-admin without a store option must never find the store
    # of this machine's own httpd (apache2ctl -V, /etc/apache2): a test
    # that wants the lookup sets these itself.
    env.pop("REMOTEUSER_STORE", None)
    env["REMOTEUSER_APACHECTL"] = ""
    if not SANITIZE:
        return env
    for k in ("MALLOC_CHECK_", "MALLOC_PERTURB_"):
        env.pop(k, None)
    logs = os.path.join(root, "logs")
    env["LD_PRELOAD"] = " ".join(filter(None, [libasan(),
                                               env.get("LD_PRELOAD")]))
    # use_sigaltstack=0: ASan's own teardown of a thread's alternate
    # signal stack (the store checkpoint thread, in a forked child of an
    # uninstrumented httpd) reports stack-use-after-scope inside
    # __interceptor_sigaltstack, frames that are all ASan's and glibc's.
    env["ASAN_OPTIONS"] = ("detect_leaks=%d:abort_on_error=0:use_sigaltstack=0:"
                           "log_path=%s/asan"
                           % (leaks, logs))
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=%s/ubsan" % logs
    return env


def run_admin(h, *args, timeout=30, env=None):
    """remoteuser-admin ARGS... (give it --db or --config yourself) with the
    environment of sanitizer_env(h.root, leaks=True), plus `env`; returns
    the CompletedProcess (text), without checking it."""
    return subprocess.run([ADMIN] + list(args), capture_output=True,
                          text=True, errors="surrogateescape",
                          timeout=timeout,
                          env=dict(sanitizer_env(h.root, leaks=True),
                                   **(env or {})))

ENV_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env | LC_ALL=C sort
"""

LOG_ID = re.compile(r"\[(?:[a-z_]+:)?(emerg|alert|crit|error|warn)\].*?"
                    r"\b(RUS\d{5}):")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha_entry(user, password):
    """An htpasswd line in {SHA} form (fast to check, fine for tests)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest())
    return user + b":{SHA}" + digest + b"\n"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def env(self):
        """The CGI environment printed by env.cgi, as a dict."""
        out = {}
        for line in self.body.decode("utf-8", "replace").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
        return out


def basic(user, password="secret"):
    if isinstance(user, str):
        user = user.encode("utf-8")
    token = base64.b64encode(user + b":" + password.encode()).decode()
    return {"Authorization": "Basic " + token}


class Httpd:
    """One httpd under test. `body` is configuration appended after the
    common part; `store` the RemoteUserStore argument (None: no store);
    `env` variables added to httpd's environment at every start()."""

    def __init__(self, body="", store="sqlite:store/users.db", mpm="event",
                 users=(), extra_modules=(), busy_timeout=None, cache_ttl=0,
                 env=None):
        self.root = tempfile.mkdtemp(prefix="rus-it-")
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.mpm = mpm
        self.proc = None
        self.start_env = dict(env or {})
        self.store_dir = os.path.join(self.root, "store")
        self.db_path = os.path.join(self.store_dir, "users.db")
        os.mkdir(self.store_dir, 0o750)
        os.mkdir(os.path.join(self.root, "run"), 0o755)
        os.mkdir(os.path.join(self.root, "logs"), 0o755)
        cgi_dir = os.path.join(self.root, "cgi-bin")
        os.mkdir(cgi_dir, 0o755)
        with open(os.path.join(cgi_dir, "env.cgi"), "w") as f:
            f.write(ENV_CGI)
        os.chmod(os.path.join(cgi_dir, "env.cgi"), 0o755)
        self.htpasswd = os.path.join(self.root, "htpasswd")
        self.set_users(users)
        if RUN_USER:
            pw = pwd.getpwnam(RUN_USER)
            os.chown(self.store_dir, pw.pw_uid, pw.pw_gid)
            os.chown(os.path.join(self.root, "run"), pw.pw_uid, pw.pw_gid)
            if SANITIZE:  # the children write their reports there
                os.chown(os.path.join(self.root, "logs"), pw.pw_uid,
                         pw.pw_gid)
        self.conf = os.path.join(self.root, "httpd.conf")
        # Tests see every change at once unless they test the cache:
        # RemoteUserCacheTTL 0 (None: the module's default).
        self.cache_ttl = cache_ttl
        self.write_conf(body, store, extra_modules, busy_timeout)
        self.log_mark = 0
        self.reported = set()
        self.printed = set()

    # -- configuration ---------------------------------------------------

    def set_users(self, users):
        """Write the htpasswd file: every user's password is 'secret'."""
        with open(self.htpasswd, "wb") as f:
            for u in users:
                if isinstance(u, str):
                    u = u.encode("utf-8")
                f.write(sha_entry(u, "secret"))
        os.chmod(self.htpasswd, 0o644)

    def write_conf(self, body, store, extra_modules=(), busy_timeout=None):
        mods = ["mpm_%s" % self.mpm, "authn_core", "authz_core",
                "authn_file", "auth_basic", "authz_user", "alias", "mime",
                "cgid"] + list(extra_modules)
        lines = ["ServerRoot %s" % self.root,
                 "ServerName 127.0.0.1",
                 "Listen 127.0.0.1:%d" % self.port,
                 "PidFile %s/run/httpd.pid" % self.root,
                 "DefaultRuntimeDir %s/run" % self.root,
                 "ScriptSock %s/run/cgid.sock" % self.root,
                 "ErrorLog %s/logs/error.log" % self.root,
                 "LogLevel warn remoteuser_session:info",
                 "LogFormat \"%h %u \\\"%r\\\" %>s\" rus",
                 "CustomLog %s/logs/access.log rus" % self.root,
                 "TypesConfig /dev/null",
                 "KeepAliveTimeout 2",
                 "GracefulShutdownTimeout 5"]
        if RUN_USER:
            lines += ["User %s" % RUN_USER, "Group %s" % RUN_USER]
        if SANITIZE:
            # keeps the children dumpable after setuid, so that UBSan, which
            # starts in a child at its first report, can read its options
            # from /proc/self/environ
            lines.append("CoreDumpDirectory %s/logs" % self.root)
        if self.mpm == "event":
            lines += ["StartServers 1", "ServerLimit 2",
                      "ThreadsPerChild 25", "MaxRequestWorkers 50",
                      "MinSpareThreads 5", "MaxSpareThreads 50"]
        else:
            lines += ["StartServers 4", "MinSpareServers 2",
                      "MaxSpareServers 10", "MaxRequestWorkers 20"]
        for m in mods:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m))
        lines.append("LoadModule remoteuser_session_module %s" % MODULE)
        if store:
            lines.append("RemoteUserStore %s" % store)
        if busy_timeout is not None:
            lines.append("RemoteUserStoreBusyTimeout %d" % busy_timeout)
        if store and self.cache_ttl is not None:
            lines.append("RemoteUserCacheTTL %d" % self.cache_ttl)
        lines.append("ScriptAliasMatch \"^/([a-z0-9_/-]+)/env$\" "
                     "\"%s/cgi-bin/env.cgi\"" % self.root)
        lines.append(body.replace("@HTPASSWD@", self.htpasswd)
                     .replace("@ROOT@", self.root))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process ---------------------------------------------------------

    def configtest(self):
        return subprocess.run([HTTPD, "-t", "-f", self.conf],
                              capture_output=True, text=True, timeout=30,
                              env=sanitizer_env(self.root))

    def start(self, expect_ok=True, malloc_checks=True, env=None):
        """Start in the foreground; tests run with glibc's malloc checks
        (MALLOC_CHECK_, MALLOC_PERTURB_), the benchmark without them.
        `env`: variables added to httpd's environment (an LD_PRELOAD there
        comes after the sanitizer's runtime), after those given to the
        constructor."""
        extra = dict(self.start_env, **(env or {}))
        env = dict(os.environ)
        env.update(extra)
        if malloc_checks and not SANITIZE:
            env.update(MALLOC_CHECK_="3", MALLOC_PERTURB_="165")
        env = sanitizer_env(self.root, env)
        self.proc = subprocess.Popen(
            [HTTPD, "-DFOREGROUND", "-f", self.conf],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env)
        if not expect_ok:
            try:
                out, err = self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.stop()
                raise AssertionError("httpd started although it should not")
            rc = self.proc.returncode
            self.proc = None
            return rc, err.decode("utf-8", "replace")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode("utf-8", "replace")
                raise AssertionError("httpd exited at startup: %s\n%s"
                                     % (err, self.error_log()))
            # Listeners are bound before post_config runs: wait for the MPM's
            # "resuming normal operations", logged once startup is complete.
            if "resuming normal operations" in self.error_log():
                try:
                    with socket.create_connection(("127.0.0.1", self.port),
                                                  0.2):
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("httpd did not start: %s" % self.error_log())

    def stop(self):
        """Graceful stop (SIGWINCH), then SIGTERM/SIGKILL if it hangs.

        A plain SIGTERM is avoided: Debian's httpd 2.4 mpm_event child
        sometimes segfaults in its own shutdown path when killed with
        keep-alive connections open, with or without this module, and
        the fixtures treat any child crash in the log as a failure."""
        if self.proc is None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGWINCH)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None

    def crashes(self):
        """Lines of the error log reporting a child killed by a signal, and
        every sanitizer report (sanitizer_reports())."""
        found = [l for l in self.error_log().splitlines()
                 if "exit signal" in l]
        reports = self.sanitizer_reports()
        self.reported.update(reports)
        return found + reports

    def sanitizer_reports(self):
        """Each sanitizer report as one string: those in the error log (a
        marker line and the stack below it), and each non-empty file
        <root>/logs/asan.* or ubsan.* (httpd's, and remoteuser-admin's when
        run with sanitizer_env(root))."""
        found = []
        in_report = False
        for line in self.error_log().splitlines():
            if any(m in line for m in SANITIZER_MARKS):
                found.append(line)
                in_report = True
            elif in_report and not line.startswith("["):
                found[-1] += "\n" + line  # the report's stack
            else:
                in_report = False  # httpd's own line
        logs = os.path.join(self.root, "logs")
        for path in sorted(glob.glob(os.path.join(logs, "asan.*"))
                           + glob.glob(os.path.join(logs, "ubsan.*"))):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if text.strip():
                found.append("%s:\n%s" % (os.path.basename(path), text))
        # whole, on stderr: pytest shows it with the failure, where the
        # assertion message would be cut short
        for r in found:
            if r not in self.printed:
                self.printed.add(r)
                sys.stderr.write("==== sanitizer report (%s):\n%s\n"
                                 % (self.root, r))
        return found

    def graceful(self):
        """apachectl -k graceful, then wait until it answers again."""
        mark = len(self.error_log())
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.time() + 20
        while time.time() < deadline:
            if "resuming normal operations" in self.error_log()[mark:]:
                return
            time.sleep(0.05)
        raise AssertionError("graceful restart did not complete")

    def cleanup(self):
        """Stop, remove the ServerRoot; fail on a sanitizer report that no
        crashes() check has seen (a fixture that does not check)."""
        self.stop()
        missed = [r for r in self.sanitizer_reports()
                  if r not in self.reported]
        shutil.rmtree(self.root, ignore_errors=True)
        assert not missed, "sanitizer reports:\n" + "\n".join(missed)

    # -- requests --------------------------------------------------------

    def get(self, path, headers=None, method="GET", conn=None, source=None):
        """One request; `source` binds the client to that local address
        (127.0.0.2 is a different, untrusted peer on loopback)."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30,
                source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return Response(resp.status, resp.headers, body)
        finally:
            if own:
                conn.close()

    def raw(self, request, source=None):
        """Send bytes as they are (e.g. a header twice); return the status
        code of the response."""
        if isinstance(request, str):
            request = request.encode("latin-1")
        with socket.create_connection(
                ("127.0.0.1", self.port), timeout=30,
                source_address=(source, 0) if source else None) as s:
            s.sendall(request)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b" ", 2)[1])

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    # -- what the user sees ------------------------------------------------

    def error_log(self):
        try:
            with open(os.path.join(self.root, "logs", "error.log"),
                      encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_log(self):
        with open(os.path.join(self.root, "logs", "access.log"),
                  encoding="utf-8", errors="replace") as f:
            return f.read()

    def mark_log(self):
        self.log_mark = len(self.error_log())

    def new_log(self):
        return self.error_log()[self.log_mark:]

    def wait_log(self, needle, timeout=5):
        """The error log is written after the response: poll for a line."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.new_log():
                return True
            time.sleep(0.02)
        return False

    def problem_ids(self):
        """RUS ids logged at warn level or worse since mark_log()."""
        return sorted(set(m.group(2) for m in LOG_ID.finditer(self.new_log())))

    def db(self):
        con = sqlite3.connect(self.db_path, timeout=10)
        con.row_factory = sqlite3.Row
        return con

    def rows(self, sql, args=()):
        con = self.db()
        try:
            return [dict(r) for r in con.execute(sql, args)]
        finally:
            con.close()

    def execute(self, sql, args=()):
        con = self.db()
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()

    def user(self, name):
        rows = self.rows("SELECT * FROM users WHERE username = ?", (name,))
        return rows[0] if rows else None

    def children(self):
        """PIDs of the httpd children (the parent's direct children that
        are httpd processes, not cgid's helper)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)],
                             capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]
