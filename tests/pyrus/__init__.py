"""pyrus: the test harness of mod_remoteuser_session, one package for every
suite (tests/integration, tests/faults, tests/kerberos, tests/package) and
for the benchmark (bench/run.py, bench/soak.py). Test files import from
pyrus only, never from one another.

How it is found: tests/pytest.ini makes tests/ pytest's rootdir and puts it
on the import path (`pythonpath = .`), wherever pytest is started from and
whichever suites it is given; tests/conftest.py loads pyrus.fixtures as a
plugin, so its fixtures need no import. The bench scripts import
bench/_path.py first, which adds tests/ to the path.

What to import:

- a server: `Httpd(body, users=..., store=..., mpm=..., extra_modules=...)`
  is one httpd in a ServerRoot of its own (start(), get(), rows(), user(),
  execute(), error_log(), cleanup(), ...; pyrus.harness). In a test file:

      from pyrus import Httpd, basic, location
      from pyrus.fixtures import server_fixture, watched

      srv = server_fixture(lambda mpm: Httpd(location("/x/",
                                             "RemoteUserEngine On"),
                                             users=["alice"], mpm=mpm))

      @pytest.fixture
      def app(srv):
          yield from watched(srv)

  `server_fixture(make, mpms=("event",), needs=())` is the module-scoped
  server (make(mpm, *fixture values of `needs`)); `watched` fails a test on
  undeclared RUS ids at warn level or worse (app.allow(...) declares them);
  the `scratch` fixture gives a test servers of its own.
- configuration: `location`, `remoteuser_location`, `login_location`,
  `logout_location`, `anon_location`, `vhosts`, `static_files`,
  `serve_htdocs` (pyrus.conf).
- sessions: `COOKIE`, `login`, `cookie`, `set_cookie`, `token_of`,
  `stored_hash` (pyrus.session).
- a store: a server's own is `h.db_path` (`h.rows()`, `h.execute()`); one
  preloaded with users and sessions is `preload(h.db_path, n, vhost, seed)`
  or `build_store(path, n, vhost, seed)`, `store_is_sound(h)` checks it
  (pyrus.store); a PostgreSQL one (pyrus.pg, the `pg` fixture) is
  `preload_pg(pg, db, n, vhost, seed)`.
- a directory: an OpenLDAP server of the tests' own is pyrus.ldap's
  `Slapd` (the `slapd` fixture: the default directory, reloaded for each
  test; uri(), modify(ldif), search(), operations("BIND"), ...).
- a CLI run: `run_admin(h, "--db", h.db_path, "user", "list")` runs the
  remoteuser-admin under test (ADMIN) with the server's sanitizer
  environment and returns the CompletedProcess.
- the fault suite's server and load: pyrus.faults (`fault_server` fixture);
  the benchmark's cases and cached store: pyrus.bench.
- the package test's guard: `package_refusal(root)`, why this machine has
  something the package test would destroy (pyrus.package).

The module and remoteuser-admin under test: RUS_MODULE and RUS_ADMIN (the
Makefile sets both), else build/<file> when it exists, else <file> at the
top of the tree.
"""

from .conf import (VHOSTS, anon_location, location, login_location,
                   logout_location, remoteuser_location, serve_htdocs,
                   static_files, vhosts)
from .harness import (ADMIN, ENV_CGI, HTTPD, MODDIR, MODULE, RUN_USER,
                      SANITIZE, TOP, Httpd, Response, basic, free_port,
                      run_admin, sanitizer_env, sha_entry)
from .session import (COOKIE, GRACE, cookie, login, set_cookie, stored_hash,
                      token_of)
from .package import package_refusal
from .store import (build_store, preload, preload_pg, store_is_sound,
                    write_tokens)

__all__ = [
    "ADMIN", "COOKIE", "ENV_CGI", "GRACE", "HTTPD", "MODDIR", "MODULE",
    "RUN_USER", "SANITIZE", "TOP", "VHOSTS", "Httpd", "Response",
    "anon_location", "basic", "build_store", "cookie", "free_port",
    "location", "login", "login_location", "logout_location",
    "package_refusal", "preload", "preload_pg",
    "remoteuser_location", "run_admin", "sanitizer_env", "serve_htdocs",
    "set_cookie", "sha_entry", "static_files", "store_is_sound",
    "stored_hash", "token_of", "vhosts", "write_tokens",
]
