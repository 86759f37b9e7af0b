"""The demo (`make demo`, scripts/demo.sh) as a newcomer runs it (issue
#17): on DEMO_PORT, in a DEMO_DIR of its own, it checks the port before
its banner, creates the store's directory 0750, walks through a login,
the session cookie (with the user's groups and the identity source), a
group-protected page, a logout and the replayed cookie, and prints what
came back; a second demo from the same directory fails at once, saying
that one runs; Ctrl-C stops it."""

import os
import pwd
import select
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from pyrus import ADMIN, MODULE, SANITIZE, TOP, free_port

DEMO = os.path.join(TOP, "scripts", "demo.sh")
BANNER = "(Ctrl-C stops it)"

# The demo starts an httpd of its own, which the sanitizer stages cannot
# preload libasan into without preloading it into every program of the
# script (sh, curl, perl): there it would load an instrumented module into
# an uninstrumented httpd and stop. The plain integration stage runs it.
pytestmark = pytest.mark.skipif(
    SANITIZE, reason="the demo's own httpd runs without libasan preloaded")


class Demo:
    """scripts/demo.sh in a process group of its own; stdout read as it
    comes, stderr into a file."""

    def __init__(self, port, demo_dir):
        self.port, self.dir = port, demo_dir
        self.err_path = os.path.join(os.path.dirname(demo_dir),
                                     "stderr-%d" % port)
        self.err = open(self.err_path, "w")
        env = dict(os.environ, DEMO_PORT=str(port), DEMO_DIR=demo_dir,
                   RUS_MODULE=MODULE, RUS_ADMIN=ADMIN)
        self.proc = subprocess.Popen(["sh", DEMO], stdout=subprocess.PIPE,
                                     stderr=self.err, env=env,
                                     start_new_session=True)
        self.out = b""

    def read_until(self, text, timeout=90):
        """stdout up to and including the line with text (or EOF)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                break
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self.out += chunk
        return self.out.decode()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGINT, timeout=30):
        """sig to the whole group, as Ctrl-C in a terminal; the exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.err.close()


def run(args=(), env=None, timeout=60):
    """scripts/demo.sh ARGS that should end by itself; on a timeout its
    whole process group goes (an httpd it started included)."""
    p = subprocess.Popen(["sh", DEMO] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        pytest.fail("%s did not end within %d s: %s%s"
                    % (DEMO, timeout, out, err))
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def connects(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo_root():
    d = tempfile.mkdtemp(prefix="rus-demo-")
    os.chmod(d, 0o755)  # the children (www-data) go through it
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.fixture
def demo(demo_root):
    d = Demo(free_port(), os.path.join(demo_root, "demo"))
    yield d
    d.stop(signal.SIGTERM)


def step(out, n):
    """Step n of the walk-through: its lines, up to the next step."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("%d. " % n))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i][:1].isdigit() or lines[i].startswith("mod_")),
               len(lines))
    return "\n".join(lines[start:end])


def test_help_documents_demo_port():
    r = run(["--help"], timeout=30)
    assert r.returncode == 0, r.stderr
    assert "DEMO_PORT" in r.stdout and "default 8080" in r.stdout
    assert "DEMO_DIR" in r.stdout
    with open(os.path.join(TOP, "README.md")) as f:
        readme = f.read()
    quick = readme[readme.index("## Quick start"):readme.index("## Install")]
    assert "DEMO_PORT" in quick


def test_session_flow_store_directory_and_stop(demo):
    out = demo.read_until(BANNER)
    assert BANNER in out, (out, demo.stderr())
    url = "http://127.0.0.1:%d" % demo.port
    assert "mod_remoteuser_session demo on %s/app" % url in out
    # login: a redirect and a new session cookie
    s = step(out, 2)
    assert "curl -si -u alice:alice" in s and "/login?next=/app" in s
    assert "-> 302, Location: /app, Set-Cookie: remoteuser_session=" in s, s
    # the cookie alone: alice, from the session, with her group
    s = step(out, 3)
    assert ("-> 200: REMOTE_USER=alice REMOTE_USER_CREATED= "
            "REMOTE_USER_GROUPS=staff REMOTE_USER_SOURCE=session") in s, s
    assert "-> 200: REMOTE_USER=alice" in step(out, 4)
    # bob: created by his first request through Basic, not in staff
    s = step(out, 5)
    assert ("-> 200: REMOTE_USER=bob REMOTE_USER_CREATED=1 "
            "REMOTE_USER_GROUPS= REMOTE_USER_SOURCE=frontend") in s, s
    assert s.rstrip().endswith("-> 403"), s
    # logout, then the old cookie is no session: Basic asks again
    s = step(out, 6)
    assert "-> 302, Location: /, Set-Cookie: remoteuser_session=" in s, s
    assert "Max-Age=0" in s, s
    assert "-> 401, WWW-Authenticate: Basic" in step(out, 7)
    s = step(out, 8)
    assert "alice" in s and "bob" in s and "staff" in s, s

    st = os.stat(os.path.join(demo.dir, "store"))
    assert oct(st.st_mode & 0o777) == "0o750"
    if os.geteuid() == 0:
        assert pwd.getpwuid(st.st_uid).pw_name == "www-data"
    assert os.path.exists(os.path.join(demo.dir, "store", "users.db"))

    # Ctrl-C: httpd and the demo end, the pid file and the port are free
    assert demo.stop(signal.SIGINT) == 0, demo.stderr()
    assert "demo: stopped" in demo.stderr()
    assert not os.path.exists(os.path.join(demo.dir, "run", "httpd.pid"))
    assert not connects(demo.port)


def test_second_demo_fails_clearly(demo):
    out = demo.read_until(BANNER)
    assert BANNER in out, (out, demo.stderr())
    with open(os.path.join(demo.dir, "run", "httpd.pid")) as f:
        pid = f.read().strip()
    conf = os.path.join(demo.dir, "httpd.conf")
    before = os.stat(conf).st_mtime_ns
    # the same directory, another free port
    env = dict(os.environ, DEMO_PORT=str(free_port()), DEMO_DIR=demo.dir,
               RUS_MODULE=MODULE, RUS_ADMIN=ADMIN)
    r = run(env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "demo: a demo already runs from %s (httpd pid %s, on " \
        "http://127.0.0.1:%d/app)" % (demo.dir, pid, demo.port) in r.stderr
    assert BANNER not in r.stdout and r.stdout == "", r.stdout
    # the running one is untouched and still serves
    assert os.stat(conf).st_mtime_ns == before
    assert connects(demo.port)


def test_port_in_use_fails_before_the_banner(demo_root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = dict(os.environ, DEMO_PORT=str(port),
                   DEMO_DIR=os.path.join(demo_root, "demo"),
                   RUS_MODULE=MODULE, RUS_ADMIN=ADMIN)
        r = run(env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "demo: port %d on 127.0.0.1 is in use" % port in r.stderr
    assert r.stdout == "", r.stdout
    # nothing written
    assert not os.path.exists(os.path.join(demo_root, "demo"))
