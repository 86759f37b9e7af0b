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


def server_fixture(make):
    """Module-scoped fixture factory: `make()` returns an unstarted Httpd."""

    @pytest.fixture(scope="module")
    def _srv():
        srv = make()
        try:
            srv.start()
            yield srv
            srv.stop()
            assert not srv.crashes(), srv.crashes()
        finally:
            srv.cleanup()

    return _srv


def view_fixture(server_name):
    @pytest.fixture
    def _view(request):
        srv = request.getfixturevalue(server_name)
        srv.mark_log()
        v = View(srv)
        yield v
        unexpected = set(srv.problem_ids()) - v.allowed
        assert not unexpected, ("unexpected log ids %s in:\n%s"
                                % (sorted(unexpected), srv.new_log()))

    return _view


@pytest.fixture
def scratch():
    """An unstarted Httpd of the test's own, cleaned up afterwards."""
    made = []

    def make(*args, **kwargs):
        h = Httpd(*args, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()
        crashes = h.crashes()
        h.cleanup()
        assert not crashes, crashes
