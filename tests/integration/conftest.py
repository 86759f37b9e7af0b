"""Fixtures: one httpd per test module (started once, shared by its tests),
and a per-test view of it that fails the test when the error log shows a
RUS id at warn level or worse that the test did not declare."""

import pytest

from harness import Httpd


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


def server_fixture(make, mpms=("event",)):
    """Module-scoped fixture factory: `make(mpm)` returns an unstarted
    Httpd; the module's tests run once per MPM in `mpms`."""

    @pytest.fixture(scope="module", params=mpms)
    def _srv(request):
        srv = make(request.param)
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
    """An unstarted Httpd of the test's own, cleaned up afterwards."""
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
