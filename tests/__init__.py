"""The test suites (a package, so that `python3 -m unittest tests.<dir>.test_x`
and `python3 -m pytest` import them by name from the repository root)."""
