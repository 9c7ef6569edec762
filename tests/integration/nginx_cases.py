"""Transitional: the old import name of tests/lbgtest/nginx_cases.py, for the suites
still run as scripts (not yet on lbgtest.TestCase). Goes with the last of them."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.lbgtest import nginx_cases as _real  # noqa: E402

sys.modules[__name__] = _real
