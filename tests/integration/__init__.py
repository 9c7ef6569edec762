"""Integration suites: real nginx, Apache, HAProxy (tests/README.md)."""
