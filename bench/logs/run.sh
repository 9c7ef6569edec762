#!/usr/bin/env bash
# bench/logs/run.sh [BUILD] -- `lbguard logs` against `zcat > /dev/null` on
# one generated gzip ALB log of >= 1 GB uncompressed (bench/logs/gen_alb.py,
# 1.6 M lines, made once and kept in BUILD/bench-logs/), in one run; plus
# --jobs 2 on two copies and callgrind instructions per line. Not run by
# `make test`. Needs build/lbguard (make cli) and valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(realpath "${1:-build}")
D=$BUILD/bench-logs
mkdir -p "$D"
if [ ! -f "$D/alb.log.gz" ]; then
  echo "generating $D/alb.log.gz (1.6 M lines, ~1.05 GB uncompressed; a few minutes)"
  python3 bench/logs/gen_alb.py --lines 1600000 2> "$D/alb.counts.json" | gzip -6 > "$D/alb.log.gz.tmp"
  mv "$D/alb.log.gz.tmp" "$D/alb.log.gz"
fi
exec python3 bench/logs/measure.py "$BUILD/lbguard" "$D/alb.log.gz"
