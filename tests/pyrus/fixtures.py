"""The pytest fixtures every suite gets (tests/conftest.py loads this
module as a plugin):

- server_fixture(make, mpms, needs): the module-scoped server of a test
  file, started once and shared by its tests;
- watched(srv): the per-test view of it that fails the test when the error
  log shows a RUS id at warn level or worse that the test did not declare;
- scratch: unstarted servers of a test's own, checked and removed after it;
- fault_server: the fault suite's servers (pyrus.faults), removed after the
  test, their children's deaths left to the test;
- pg_server / pg: a PostgreSQL server of the tests' own (pyrus.pg), one
  per run; `pg` empties its database for each test;
- slapd_server / slapd: an OpenLDAP server of the tests' own (pyrus.ldap),
  one per run; `slapd` gives each test the default directory as loaded.
  Both skip the test when slapd is not installed."""

import pytest

from .faults import fault_httpd
from .harness import Httpd


class View:
    """The module's server as one test sees it."""

    def __init__(self, srv):
        self.srv = srv
        self.allowed = set()

    def allow(self, *ids):
        """Declare log ids this test expects at warn level or worse."""
        self.allowed.update(ids)

    def __getattr__(self, name):
        return getattr(self.srv, name)


def server_fixture(make, mpms=("event",), needs=()):
    """Module-scoped fixture factory: `make(mpm, *values)` returns an
    unstarted Httpd, `values` those of the fixtures named in `needs` (a
    back end the server proxies to, say). The module's tests run once per
    MPM in `mpms`; mpms=None runs them once, under event, with no MPM in
    the test ids. After the tests the server is stopped and the fixture
    fails on a crashed child or a sanitizer report."""

    @pytest.fixture(scope="module", params=list(mpms) if mpms else None)
    def _srv(request):
        values = [request.getfixturevalue(n) for n in needs]
        srv = make(getattr(request, "param", "event"), *values)
        try:
            srv.start()
            yield srv
            srv.stop()
            assert not srv.crashes(), srv.crashes()
        finally:
            srv.cleanup()

    return _srv


def watched(srv):
    """Generator body of a per-test fixture over a module's server:
    `yield from watched(srv)` in a fixture that takes the server."""
    srv.mark_log()
    v = View(srv)
    yield v
    unexpected = set(srv.problem_ids()) - v.allowed
    assert not unexpected, ("unexpected log ids %s in:\n%s"
                            % (sorted(unexpected), srv.new_log()))


@pytest.fixture
def scratch():
    """An unstarted Httpd of the test's own, cleaned up afterwards:
    scratch(body, ...) takes Httpd's arguments."""
    made = []

    def make(*args, **kwargs):
        h = Httpd(*args, **kwargs)
        made.append(h)
        return h

    yield make
    # every server is checked (crashes, sanitizer reports) and removed,
    # then the test fails if any of them had something
    crashes = []
    for h in made:
        h.stop()
        crashes += h.crashes()
        h.cleanup()
    assert not crashes, crashes


@pytest.fixture
def fault_server():
    """fault_server(**kw): an unstarted server of the fault suite
    (pyrus.faults.fault_httpd). Each is stopped and removed after the
    test; the tests kill children on purpose and judge the error log
    themselves."""
    made = []

    def make(**kw):
        h = fault_httpd(**kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.cleanup()


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server of the tests' own (pyrus.pg) for the whole
    run; tests take `pg` for a fresh database."""
    from .pg import Postgres
    pg = Postgres().start()
    try:
        yield pg
    finally:
        pg.cleanup()


@pytest.fixture
def pg(pg_server):
    """The shared PostgreSQL server with an empty database `rus` (the
    previous test's dropped), running whatever the last test did to it."""
    if not pg_server.running:
        pg_server.start()
    pg_server.reset()
    return pg_server


@pytest.fixture(scope="session")
def slapd_server():
    """One OpenLDAP server of the tests' own (pyrus.ldap) with the default
    directory, for the whole run; tests take `slapd` for a directory as
    loaded. Skips when slapd or ldap-utils is not installed."""
    from . import ldap
    if not ldap.available():
        pytest.skip("slapd and ldap-utils are not installed "
                    "(scripts/install-deps.sh installs them)")
    server = ldap.Slapd().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def slapd(slapd_server):
    """The shared OpenLDAP server, its directory reloaded from the LDIF
    (the previous test's changes gone), on the same port, log kept."""
    return slapd_server.reset()
