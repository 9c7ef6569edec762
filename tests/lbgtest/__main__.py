"""python3 -m tests.lbgtest [--build DIR] MODULE_OR_TEST_ID... [-k PATTERN]:
runs the named suites with the counting runner (tests/run_all.py does this,
one process per suite)."""
import sys

from tests.lbgtest import runner

runner.main(argv=["python3 -m tests.lbgtest"] + sys.argv[1:])
