"""Puts tests/ on sys.path, so that the bench scripts (run as
`python3 bench/run.py`, outside pytest) import the test harness, the
package tests/pyrus, as the tests do. The one place outside pytest that
does: the suites get tests/ on their path from tests/pytest.ini."""

import os
import sys

TESTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
