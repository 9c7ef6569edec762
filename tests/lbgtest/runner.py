"""runner -- the unittest runner that counts checks (stdlib only).

Counts what tests/run_all.py adds up: every subTest that passed or failed
(lbgtest.TestCase.check/eq), plus every test without subTests as one;
an error outside a subTest (an exception in a test body, setUpClass or an
import) counts as one failure, its traceback shown. Skips are counted
apart. The last line of its output is "N passed, N failed, N skipped".

Usage (from the repository root):
  python3 -m tests.lbgtest [--build DIR] MODULE_OR_TEST_ID... [-k PATTERN]
  python3 -m tests.integration.test_version [--build DIR] [-k PATTERN]
"""
import os
import sys
import unittest


class CountingResult(unittest.TextTestResult):
    """A TextTestResult that also counts passed/failed checks and skips."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n_passed = 0
        self.n_failed = 0
        self.n_skipped = 0
        self._with_subtests = set()

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        self._with_subtests.add(test.id())
        if err is None:
            self.n_passed += 1
        else:
            self.n_failed += 1

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self._with_subtests:
            self.n_passed += 1

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.n_failed += 1
        print("FAIL %s (outside a check; traceback below)" % test.id())

    def addError(self, test, err):
        super().addError(test, err)
        self.n_failed += 1
        print("ERROR %s (traceback below)" % test.id())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.n_skipped += 1
        print("SKIP %s: %s" % (test.id(), reason))
        sys.stdout.flush()

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.n_failed += 1


class CountingRunner(unittest.TextTestRunner):
    """TextTestRunner on stdout with CountingResult; quiet per test (the
    checks print their own PASS/FAIL lines) unless -v; prints the
    "N passed, N failed, N skipped" line last."""

    resultclass = CountingResult

    def __init__(self, verbosity=1, **kw):
        kw["stream"] = sys.stdout
        super().__init__(verbosity=0 if verbosity <= 1 else verbosity, **kw)

    def run(self, test):
        result = super().run(test)
        print("%d passed, %d failed, %d skipped"
              % (result.n_passed, result.n_failed, result.n_skipped))
        sys.stdout.flush()
        return result


def main(module=None, argv=None):
    """unittest.main with CountingRunner; `--build DIR` sets $LBG_BUILD."""
    argv = list(sys.argv if argv is None else argv)
    if "--build" in argv:
        i = argv.index("--build")
        os.environ["LBG_BUILD"] = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    unittest.main(module=module, argv=argv, testRunner=CountingRunner)
