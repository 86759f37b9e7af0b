"""What the README tells an administrator holds (issue #17): the worked
examples shipped as files are the README's blocks, and `make install`
installs the bash completion, the README, the log-id table and the
examples."""

import os
import re
import shutil
import subprocess
import sys

from pyrus import TOP

EXAMPLES = os.path.join(TOP, "scripts", "examples.py")
COMPLETION = "tools/remoteuser-admin.bash-completion"


def readme():
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as f:
        return f.read()


def examples(*args):
    return subprocess.run([sys.executable, EXAMPLES] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_examples_are_the_readme_blocks():
    r = examples()
    assert r.returncode == 0, r.stderr
    names = sorted(os.listdir(os.path.join(TOP, "examples")))
    assert {"kerberos-login.conf", "trusted-header.conf",
            "ldap.conf"} <= set(names), names
    text = readme()
    for name in names:
        marker = "<!-- example: examples/%s -->\n```apache\n" % name
        assert marker in text, name
        with open(os.path.join(TOP, "examples", name)) as f:
            block = text.split(marker, 1)[1].split("\n```\n", 1)[0] + "\n"
            assert f.read() == block, name


def test_examples_check_catches_drift(tmp_path):
    top = tmp_path / "tree"
    top.mkdir()
    shutil.copy(os.path.join(TOP, "README.md"), str(top))
    shutil.copytree(os.path.join(TOP, "examples"), str(top / "examples"))
    assert examples("--top", str(top)).returncode == 0
    # a README block edited (as a fix to a worked config would be)
    text = (top / "README.md").read_text()
    text = text.replace("RemoteUserHeader X-Auth-User",
                        "RemoteUserHeader X-Forwarded-User", 1)
    (top / "README.md").write_text(text)
    r = examples("--top", str(top))
    assert r.returncode == 1
    assert re.search(r"examples: examples/trusted-header\.conf differs from "
                     r"its block at README\.md:\d+ \(README has "
                     r"'    RemoteUserHeader X-Forwarded-User'\): make "
                     r"examples rewrites it", r.stderr), r.stderr
    # make examples (--write) brings the file in line
    assert examples("--top", str(top), "--write").returncode == 0
    assert examples("--top", str(top)).returncode == 0
    # a file no block is marked as
    (top / "examples" / "stale.conf").write_text("RemoteUserEngine On\n")
    r = examples("--top", str(top))
    assert r.returncode == 1
    assert "examples/stale.conf: no block in README.md is marked as it" \
        in r.stderr, r.stderr


def test_make_install_ships_completion_docs_examples(tmp_path):
    dest = str(tmp_path / "dest")
    r = subprocess.run(["make", "-s", "-C", TOP, "install", "DESTDIR=" + dest],
                       capture_output=True, text=True, timeout=600)
    if not os.path.exists(os.path.join(TOP, COMPLETION)):
        # the CLI's file is not in this tree: install stops, saying so
        assert r.returncode != 0
        assert "remoteuser-admin.bash-completion" in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stdout + r.stderr

    def same(installed, source):
        with open(os.path.join(dest, installed.lstrip("/")), "rb") as a, \
                open(os.path.join(TOP, source), "rb") as b:
            return a.read() == b.read()

    assert same("/usr/share/bash-completion/completions/remoteuser-admin",
                COMPLETION)
    doc = "/usr/share/doc/mod_remoteuser_session/"
    assert same(doc + "README.md", "README.md")
    assert same(doc + "log-ids.md", "docs/log-ids.md")
    for name in os.listdir(os.path.join(TOP, "examples")):
        assert same(doc + "examples/" + name, "examples/" + name)
    assert same("/usr/share/man/man8/remoteuser-admin.8",
                "docs/remoteuser-admin.8")
