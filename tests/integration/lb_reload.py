"""Transitional: the old import name of tests/lbgtest/lb_reload.py, for the suites
still run as scripts (not yet on lbgtest.TestCase). Goes with the last of them."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.lbgtest import lb_reload as _real  # noqa: E402

sys.modules[__name__] = _real
