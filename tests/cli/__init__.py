"""CLI suites: build/lbguard against the corpus and real servers (tests/README.md)."""
