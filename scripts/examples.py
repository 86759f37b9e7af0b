#!/usr/bin/python3
"""The README's worked configurations, shipped as files under examples/
(the Debian package installs them into
/usr/share/doc/libapache2-mod-remoteuser-session/examples/, `make install`
into $(DOCDIR)/examples/).

In README.md, the line `<!-- example: examples/NAME.conf -->` right before
an ```apache block says that the block is that file, byte for byte. The
README is the source: edit the block, then `make examples`.

    scripts/examples.py            check (`make check-examples`): every
                                   marked block equals its file and every
                                   examples/*.conf has a marked block;
                                   exit 1 with one line per difference
    scripts/examples.py --write    write examples/ from the README
                                   (`make examples`), removing files no
                                   block is marked as
    --top DIR                      the tree (default: this script's)
"""

import argparse
import difflib
import os
import re
import sys

MARKER = re.compile(r"^<!-- example: (examples/[A-Za-z0-9_.-]+\.conf) -->$")
FENCE_OPEN = "```apache"
FENCE_CLOSE = "```"


class ReadmeError(Exception):
    pass


def marked_blocks(readme):
    """{path: (line number of the marker, block text)} from README.md."""
    with open(readme, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks = {}
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        path, at = m.group(1), i + 1
        if path in blocks:
            raise ReadmeError("README.md:%d: %s is already marked at line %d"
                              % (at, path, blocks[path][0]))
        if i + 1 >= len(lines) or lines[i + 1] != FENCE_OPEN:
            raise ReadmeError("README.md:%d: the marker of %s is not "
                              "followed by an %s block" % (at, path,
                                                           FENCE_OPEN))
        body = []
        j = i + 2
        while j < len(lines) and lines[j] != FENCE_CLOSE:
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ReadmeError("README.md:%d: the block of %s never ends"
                              % (at, path))
        blocks[path] = (at, "".join(line + "\n" for line in body))
        i = j + 1
    return blocks


def shipped(top):
    d = os.path.join(top, "examples")
    if not os.path.isdir(d):
        return []
    return sorted("examples/" + n for n in os.listdir(d)
                  if n.endswith(".conf"))


def first_difference(want, have):
    """The first differing line of two texts, as a short phrase."""
    for d in difflib.unified_diff(want.split("\n"), have.split("\n"),
                                  "README.md", "file", n=0, lineterm=""):
        if d.startswith(("-", "+")) and not d.startswith(("---", "+++")):
            return ("README has %r" if d[0] == "-" else "the file has %r") \
                % d[1:]
    return "they differ"


def check(top, blocks):
    problems = []
    for path, (at, text) in sorted(blocks.items()):
        full = os.path.join(top, path)
        if not os.path.exists(full):
            problems.append("%s: missing; README.md:%d has its block "
                            "(make examples writes it)" % (path, at))
            continue
        with open(full, encoding="utf-8") as f:
            have = f.read()
        if have != text:
            problems.append("%s differs from its block at README.md:%d (%s):"
                            " make examples rewrites it from the README"
                            % (path, at, first_difference(text, have)))
    for path in shipped(top):
        if path not in blocks:
            problems.append("%s: no block in README.md is marked as it "
                            "(<!-- example: %s -->)" % (path, path))
    return problems


def write(top, blocks):
    os.makedirs(os.path.join(top, "examples"), exist_ok=True)
    for path, (_, text) in sorted(blocks.items()):
        with open(os.path.join(top, path), "w", encoding="utf-8") as f:
            f.write(text)
    for path in shipped(top):
        if path not in blocks:
            os.unlink(os.path.join(top, path))
            print("removed %s: no block in README.md is marked as it" % path)


def main():
    ap = argparse.ArgumentParser(
        description="Check (or --write) examples/ against the README's "
        "marked ```apache blocks.")
    ap.add_argument("--write", action="store_true",
                    help="write examples/ from the README")
    ap.add_argument("--top", default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help="the source tree")
    args = ap.parse_args()
    try:
        blocks = marked_blocks(os.path.join(args.top, "README.md"))
    except (OSError, ReadmeError) as e:
        print("examples: %s" % e, file=sys.stderr)
        return 1
    if not blocks:
        print("examples: README.md marks no block as an example",
              file=sys.stderr)
        return 1
    if args.write:
        write(args.top, blocks)
        return 0
    problems = check(args.top, blocks)
    for p in problems:
        print("examples: %s" % p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
