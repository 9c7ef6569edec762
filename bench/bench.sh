#!/bin/bash
# lbguard's cost, measured: nginx and Apache with lbguard off vs repair.
#   make bench                      (builds core, nginx-dynamic, apache first)
#   bash bench/bench.sh BUILD [bench.py options, e.g. --servers nginx --rounds 3]
# Needs valgrind (callgrind), wrk, Debian's nginx and apache2, python3, and
# the modules BUILD/nginx-dynamic/objs/ngx_http_lbguard_filter_module.so and
# BUILD/apache/mod_lbguard.so, and BUILD/lib/liblbg.a for the core alone
# (bench/lbg_micro.c). Writes BUILD/bench/results.txt. About 4.5 minutes.
# Not a test: never part of `make test`. Method: docs/bench.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
shift || true

missing=
for tool in valgrind callgrind_annotate wrk nm cc python3 /usr/sbin/nginx /usr/sbin/apache2; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "bench: missing:$missing (run: make deps)" >&2
    exit 1
fi

exec python3 "$ROOT/bench/bench.py" --build "$BUILD" "$@"
