"""A real OpenLDAP server of the tests' own (never a system slapd).

`Slapd()` writes a slapd.conf and an mdb database in a temporary
directory, loads the directory's entries with slapadd before the first
start, and runs slapd in the foreground, listening on
ldap://127.0.0.1:PORT/ only (a free high port). Its log (level `stats`:
one line per connection, bind, search and modification) goes to a file in
that directory, which the tests read to count what httpd asked.

The directory: suffix dc=example,dc=com, people under ou=people, groups
(groupOfNames) under ou=groups, the rootdn cn=admin,dc=example,dc=com with
password ROOTPW. The schemas core, cosine, inetorgperson and nis. The
memberof overlay keeps each person's `memberOf` (the DNs of the groups
whose `member` names the person) as an ldapmodify of a group changes it.
slapadd bypasses overlays, so the LDIF that is loaded carries both sides
already: directory_ldif() writes every group's `member` and every
person's `memberOf` from one description.

    ldap = Slapd().start()        # DEFAULT_PEOPLE and DEFAULT_GROUPS
    ldap.uri()                    # ldap://127.0.0.1:PORT/
    ldap.modify(ldif)             # ldapmodify as the rootdn
    ldap.search("(uid=alice)", "mail", "memberOf")   # {dn: {attr: [values]}}
    ldap.operations("BIND")       # binds so far (also SRCH, MOD, ...)
    ldap.connection_count()       # TCP connections accepted so far
    ldap.reset()                  # back to the loaded entries, same port
    ldap.stop(); ldap.start()     # a restart keeps the data and the port
    ldap.cleanup()

When the tests run as root, slapd runs as root too (its files are all in
the temporary directory; it binds a high port, so nothing needs root, and
the package's `openldap` user would need the directory handed to it for
no gain).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAPMODIFY = "/usr/bin/ldapmodify"
LDAPSEARCH = "/usr/bin/ldapsearch"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"

SUFFIX = "dc=example,dc=com"
PEOPLE = "ou=people," + SUFFIX
GROUPS = "ou=groups," + SUFFIX
ROOTDN = "cn=admin," + SUFFIX
ROOTPW = "ldap-root-secret"

# The default directory: uid -> the person's attributes (userPassword is
# the password a Basic login gives; a list is several values), and group
# -> its members' uids. A groupOfNames must have a member: each group also
# lists the rootdn, so a test can take every person out of one. A group
# named by a whole DN lives there: cn=vpn under ou=people is one that a
# group map over ou=groups leaves out.
DEFAULT_PEOPLE = {
    "alice": {"userPassword": "alice-pw", "cn": "Alice Liddell",
              "givenName": "Alice", "sn": "Liddell",
              "mail": "alice@example.com", "title": "Chief Rabbit Chaser"},
    "bob": {"userPassword": "bob-pw", "cn": "Bob Builder",
            "givenName": "Bob", "sn": "Builder",
            "mail": "bob@example.com"},
}
DEFAULT_GROUPS = {
    "staff": ["alice", "bob"],
    "devs": ["alice"],
    "ops": ["bob"],
    "cn=vpn," + PEOPLE: ["alice"],
}


def available():
    """True when the OpenLDAP server and client programs are installed
    (slapd and ldap-utils, scripts/install-deps.sh)."""
    return all(os.access(p, os.X_OK)
               for p in (SLAPD, SLAPADD, LDAPMODIFY, LDAPSEARCH))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def person_dn(uid):
    return "uid=%s,%s" % (uid, PEOPLE)


def group_dn(cn):
    """The DN of group `cn` under ou=groups; a `cn` with a "=" in it is a
    whole DN already (a group elsewhere in the tree)."""
    return cn if "=" in cn else "cn=%s,%s" % (cn, GROUPS)


def directory_ldif(people=None, groups=None, extra=""):
    """The LDIF slapadd loads: the suffix, ou=people and ou=groups, each
    person (inetOrgPerson; a list value is several lines of the attribute)
    with a `memberOf` line per group that lists them, each group
    (groupOfNames, named as group_dn() does) with its `member` lines (the
    rootdn first), then `extra` (LDIF of entries of the test's own) as it
    is. Groups come after the people, so a group may live under
    ou=people."""
    people = DEFAULT_PEOPLE if people is None else people
    groups = DEFAULT_GROUPS if groups is None else groups
    out = ["dn: %s" % SUFFIX, "objectClass: dcObject",
           "objectClass: organization", "dc: example", "o: Example", "",
           "dn: %s" % PEOPLE, "objectClass: organizationalUnit",
           "ou: people", "",
           "dn: %s" % GROUPS, "objectClass: organizationalUnit",
           "ou: groups", ""]
    for uid, attrs in people.items():
        out += ["dn: %s" % person_dn(uid), "objectClass: inetOrgPerson",
                "uid: %s" % uid]
        for name, value in attrs.items():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                out.append("%s: %s" % (name, v))
        out += ["memberOf: %s" % group_dn(cn)
                for cn, members in groups.items() if uid in members]
        out.append("")
    for cn, members in groups.items():
        out += ["dn: %s" % group_dn(cn), "objectClass: groupOfNames",
                "cn: %s" % group_dn(cn).split(",")[0].split("=", 1)[1],
                "member: %s" % ROOTDN]
        out += ["member: %s" % person_dn(uid) for uid in members]
        out.append("")
    return "\n".join(out) + "\n" + extra


class Slapd:
    """One slapd under test, in a temporary directory of its own. `ldif`:
    the entries slapadd loads (default: directory_ldif())."""

    def __init__(self, ldif=None, port=None):
        if not available():
            raise RuntimeError("slapd or ldap-utils is not installed "
                               "(scripts/install-deps.sh)")
        self.port = port or free_port()
        self.root = tempfile.mkdtemp(prefix="rus-ldap-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.conf = os.path.join(self.root, "slapd.conf")
        self.log = os.path.join(self.root, "slapd.log")
        self.ldif = os.path.join(self.root, "entries.ldif")
        self.pidfile = os.path.join(self.root, "slapd.pid")
        with open(self.ldif, "w") as f:
            f.write(directory_ldif() if ldif is None else ldif)
        self._write_conf()
        self.proc = None
        self.loaded = False

    def _write_conf(self):
        lines = ["include %s/%s.schema" % (SCHEMA_DIR, s)
                 for s in ("core", "cosine", "inetorgperson", "nis")]
        lines += ["pidfile %s" % self.pidfile,
                  "argsfile %s/slapd.args" % self.root,
                  "modulepath %s" % MODULE_DIR,
                  "moduleload back_mdb",
                  "moduleload memberof",
                  "loglevel stats",
                  # anonymous reads (mod_ldap's search before the user's
                  # bind), no writes but the rootdn's
                  "access to attrs=userPassword by anonymous auth by * none",
                  "access to * by * read",
                  "database mdb",
                  "maxsize 16777216",
                  "suffix \"%s\"" % SUFFIX,
                  "rootdn \"%s\"" % ROOTDN,
                  "rootpw %s" % ROOTPW,
                  "directory %s" % self.data,
                  "index objectClass,uid,cn,member eq",
                  "overlay memberof",
                  "memberof-refint true"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- processes ---------------------------------------------------------

    def _run(self, cmd, input=None, timeout=30):
        out = subprocess.run(cmd, capture_output=True, text=True,
                             input=input, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s"
                               % (os.path.basename(cmd[0]), out.returncode,
                                  out.stdout, out.stderr))
        return out.stdout

    def _load(self):
        """A fresh database from the LDIF (slapd is not running)."""
        shutil.rmtree(self.data, ignore_errors=True)
        os.mkdir(self.data, 0o700)
        self._run([SLAPADD, "-f", self.conf, "-l", self.ldif, "-q"])
        self.loaded = True

    def start(self):
        """Start slapd (slapadd the entries the first time) and wait until
        it accepts connections. Returns self."""
        if self.proc is not None:
            return self
        if not self.loaded:
            self._load()
        mark = len(self.server_log())
        logf = open(self.log, "a")
        try:
            # -d: stay in the foreground and write the log (loglevel
            # stats) to stderr, here the log file
            self.proc = subprocess.Popen(
                [SLAPD, "-f", self.conf, "-h",
                 "ldap://127.0.0.1:%d/" % self.port, "-d", "stats"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
        finally:
            logf.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("slapd exited at startup:\n%s"
                                   % self.server_log()[mark:])
            if "slapd starting" in self.server_log()[mark:]:
                try:
                    with socket.create_connection(("127.0.0.1", self.port),
                                                  0.2):
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not start:\n%s"
                           % self.server_log()[mark:])

    def stop(self):
        """SIGTERM (slapd closes its database cleanly), SIGKILL to its
        process group if it has not gone within 10 s."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def reset(self):
        """Back to the entries of the LDIF, on the same port (a client's
        pooled connections see the server go away and reconnect)."""
        self.stop()
        self._load()
        return self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what clients are given ---------------------------------------------

    def uri(self):
        return "ldap://127.0.0.1:%d/" % self.port

    # -- changing and reading the directory, as the rootdn -----------------

    def modify(self, ldif):
        """ldapmodify the LDIF (changetype records) as the rootdn, over
        the server's own port: the overlays see the change."""
        return self._run([LDAPMODIFY, "-x", "-H", self.uri(), "-D", ROOTDN,
                          "-w", ROOTPW], input=ldif)

    def search(self, filt, *attrs, base=SUFFIX):
        """{dn: {attribute: [values]}} of the entries under `base` that
        match `filt`, with the attributes asked for (operational ones such
        as memberOf only when named). Values are taken as plain text
        (those of the test directory are)."""
        out = self._run([LDAPSEARCH, "-x", "-LLL", "-o", "ldif-wrap=no",
                         "-H", self.uri(), "-D", ROOTDN, "-w", ROOTPW,
                         "-b", base, filt] + list(attrs))
        found = {}
        for block in out.strip().split("\n\n"):
            entry = None
            for line in block.splitlines():
                name, _, value = line.partition(": ")
                if name == "dn":
                    entry = found.setdefault(value, {})
                elif entry is not None and name:
                    entry.setdefault(name, []).append(value)
        return found

    # -- its log -------------------------------------------------------------

    def server_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def operations(self, kind):
        """How many operations of a kind (BIND, SRCH, MOD, ADD, DEL,
        UNBIND, ...) clients have started since the log began, restarts
        included. stats logs an operation as `conn=C op=O KIND ...`, in
        one or more lines (a bind's DN, then its mechanism; a search's
        base, then its attributes): each (C, O) counts once, within one
        run of slapd (a restart numbers connections afresh)."""
        pat = re.compile(r" conn=(\d+) op=(\d+) %s\b" % re.escape(kind))
        return sum(len(set(pat.findall(run)))
                   for run in self.server_log().split("slapd starting"))

    def connection_count(self):
        """TCP connections slapd has accepted since the log began, start()'s
        own check that it listens (one a start) included."""
        return len(re.findall(r" conn=\d+ fd=\d+ ACCEPT ",
                              self.server_log()))
