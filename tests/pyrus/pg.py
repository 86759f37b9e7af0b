"""A real PostgreSQL server of the tests' own (never the system service).

`Postgres()` runs initdb and pg_ctl in a temporary directory. The server
listens on 127.0.0.1 on a free high port (and on a Unix socket in that
directory, for the superuser only). TCP connections need a password
(scram-sha-256): the module connects as the role `rus`, with password
`rus-secret`, to the database `rus`, as a real deployment would.

When the tests run as root, the server runs as the `postgres` system user
(or `nobody` when there is none): PostgreSQL refuses to run as root.

    pg = Postgres().start()
    pg.uri()                  # postgresql://rus:rus-secret@127.0.0.1:PORT/rus
    pg.uri(password=False)    # the same without the password
    pg.rows("SELECT ...")     # as the superuser, list of tuples of str/None
    pg.execute("UPDATE ...")  # as the superuser
    pg.stop(); pg.start()     # a restart keeps the data
    pg.cleanup()

As a command, it starts a server for the length of another command, with
RUS_TEST_PG_URI set to the module's URI (the unit tests use it):

    python3 tests/pyrus/pg.py -- build/unit-tests
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PASSWORD = "rus-secret"
ROLE = "rus"
DBNAME = "rus"
SUPERUSER = "pgsuper"
SEP = "\x1f"


def bindir():
    """The server's programs: RUS_PG_BINDIR, else the newest
    /usr/lib/postgresql/N/bin that has initdb."""
    env = os.environ.get("RUS_PG_BINDIR")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if
                   p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server programs "
                           "(/usr/lib/postgresql/N/bin/initdb): install "
                           "postgresql")
    return os.path.dirname(found[-1])


def available():
    try:
        bindir()
        return True
    except RuntimeError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_user():
    """Who the server runs as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and no user to run PostgreSQL as")


class Postgres:
    def __init__(self, port=None):
        self.bin = bindir()
        self.port = port or free_port()
        self.root = tempfile.mkdtemp(prefix="rus-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "postgres.log")
        self.user = run_user()
        os.mkdir(self.sock, 0o755)
        if self.user:
            for d in (self.root, self.sock):
                os.chown(d, self.user.pw_uid, self.user.pw_gid)
        self.initialized = False
        self.running = False

    # -- processes ---------------------------------------------------------

    def _as_server_user(self, cmd):
        if self.user is None:
            return cmd
        return ["setpriv", "--reuid", str(self.user.pw_uid), "--regid",
                str(self.user.pw_gid), "--clear-groups", "--"] + cmd

    def _run(self, cmd, timeout=60, check=True, input=None):
        out = subprocess.run(self._as_server_user(cmd), capture_output=True,
                             text=True, timeout=timeout, input=input,
                             cwd=self.root)
        if check and out.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s\n%s"
                               % (cmd[0], out.returncode, out.stdout,
                                  out.stderr, self.server_log()))
        return out

    def _initdb(self):
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write("super-secret\n")
        if self.user:
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data,
                   "-U", SUPERUSER, "--pwfile", pwfile, "-E", "UTF8",
                   "--locale", "C", "--auth-local", "trust",
                   "--auth-host", "scram-sha-256", "--no-sync"])
        os.unlink(pwfile)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "max_connections = 300\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "log_connections = on\n"
                    "log_line_prefix = '%%m [%%p] %%a '\n"
                    % (self.port, self.sock))
        self.initialized = True

    def start(self):
        """Start (initdb the first time, then create the role and the
        database). Returns self."""
        first = not self.initialized
        if first:
            self._initdb()
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                   "-l", self.log, "-w", "-t", "60", "start"])
        self.running = True
        if first:
            self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (ROLE, PASSWORD),
                      db="postgres")
            self.psql("CREATE DATABASE %s OWNER %s" % (DBNAME, ROLE),
                      db="postgres")
        return self

    def stop(self, mode="fast"):
        """Stop the server (mode: smart, fast or immediate)."""
        if self.running:
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                       "-m", mode, "-w", "-t", "60", "stop"], check=False)
            self.running = False

    def restart(self, mode="fast"):
        self.stop(mode)
        return self.start()

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what the module is given -----------------------------------------

    def uri(self, password=True, db=DBNAME, params=""):
        cred = "%s:%s" % (ROLE, PASSWORD) if password else ROLE
        uri = "postgresql://%s@127.0.0.1:%d/%s" % (cred, self.port, db)
        return uri + ("?" + params if params else "")

    # -- looking inside, as the superuser ----------------------------------

    def psql(self, sql, db=DBNAME, check=True):
        """Run SQL as the superuser over the Unix socket; the output of
        psql -At with fields separated by SEP."""
        out = subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-At",
             "-v", "ON_ERROR_STOP=1", "-F", SEP, "-h", self.sock,
             "-p", str(self.port), "-U", SUPERUSER, "-d", db, "-c", sql],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if check and out.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql, out.stderr))
        return out.stdout

    def rows(self, sql, db=DBNAME):
        """The rows of a query, as tuples of strings (None for NULL is
        not told apart from '': use COALESCE where it matters)."""
        out = self.psql(sql, db=db)
        return [tuple(line.split(SEP)) for line in out.splitlines()
                if line != ""]

    def value(self, sql, db=DBNAME):
        rows = self.rows(sql, db=db)
        return rows[0][0] if rows else None

    def execute(self, sql, db=DBNAME):
        self.psql(sql, db=db)

    def server_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def reset(self):
        """Drop everything the module created in the database (a fresh
        store for the next test) by recreating the database."""
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DBNAME,
                  db="postgres")
        self.psql("CREATE DATABASE %s OWNER %s" % (DBNAME, ROLE),
                  db="postgres")


def main(argv):
    if not argv or argv[0] != "--" or len(argv) < 2:
        sys.stderr.write("usage: pg.py -- COMMAND [ARG...]\n")
        return 2
    pg = Postgres()
    try:
        pg.start()
        env = dict(os.environ, RUS_TEST_PG_URI=pg.uri())
        return subprocess.call(argv[1:], env=env)
    finally:
        pg.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
