"""What the README and the man page tell an administrator holds (issue
#17): the worked examples shipped as files are the README's blocks, the
paths the README names exist, the schema version it gives is the one a
new store gets, the man page renders without a warning, and `make
install` installs the bash completion, the README, the log-id table and
the examples."""

import json
import os
import re
import shutil
import subprocess
import sys

from pyrus import ADMIN, TOP

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


def test_readme_paths_exist():
    """Every tree path in backquotes (tests/..., conf/..., examples/...,
    a test_*.py file name) is in the tree."""
    missing = []
    for m in re.finditer(r"`([^`\s]+)`", readme()):
        word = m.group(1)
        if any(c in word for c in "*<>{}$") or "..." in word:
            continue
        if re.match(r"(tests|conf|examples|docs|scripts|tools|src|"
                    r"include|debian)/", word):
            if not os.path.exists(os.path.join(TOP, word)):
                missing.append(word)
        elif re.fullmatch(r"test_\w+\.py", word):
            found = [d for d, _, files in os.walk(os.path.join(TOP, "tests"))
                     if word in files]
            if not found:
                missing.append(word)
    assert missing == []


def test_readme_schema_version_is_a_new_stores(tmp_path):
    db = str(tmp_path / "users.db")
    r = subprocess.run([ADMIN, "--db", db, "db", "migrate"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([ADMIN, "--db", db, "--json", "db", "info"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    version = json.loads(r.stdout)["schema_version"]
    text = readme()
    said = re.findall(r"PRAGMA user_version` \(currently (\d+)\)", text)
    said += re.findall(r"the schema \(version (\d+)\)", text)
    assert said and set(said) == {str(version)}, (said, version)


def test_man_page_renders_each_tag_on_its_line():
    page = os.path.join(TOP, "docs", "remoteuser-admin.8")
    r = subprocess.run(["groff", "-man", "-ww", "-z", page],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", page],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    # a .TP tag is one input line: "session list [--user NAME]" was two,
    # and NAME] ended up at the start of the description
    assert re.search(r"^ {7}session list \[--user NAME\]$", text, re.M), text
    commands = text[text.index("\nCOMMANDS\n"):text.index("\nEXIT STATUS")]
    tags = re.findall(r"^ {7}(\S.*)$", commands, re.M)
    assert tags, commands
    for tag in tags:
        assert tag.count("[") == tag.count("]"), tag


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
