#!/bin/bash
# Builds mod_lbguard for Apache httpd 2.4 with apxs:
#   bash apache_module/build.sh BUILD   ->   BUILD/apache/mod_lbguard.so
# apxs (libtool) writes .lo/.o/.libs next to its sources, so the adapter
# and the core sources are copied into a scratch directory under BUILD
# first; the repository stays clean. Never "apxs -i".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
APXS=${APXS:-apxs}
SCRATCH=$BUILD/apache/src

CORE="lbg_rules.c lbg_check.c lbg_format.c lbg_body.c lbg_parse.c"

rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
cp "$ROOT/apache_module/mod_lbguard.c" "$SCRATCH/"
for c in $CORE; do
    cp "$ROOT/common/$c" "$SCRATCH/"
done

cd "$SCRATCH"
"$APXS" -c -I"$ROOT/common" -Wc,-Wall -Wc,-Wextra -Wc,-Werror \
    mod_lbguard.c $CORE >"$SCRATCH/apxs.log" 2>&1 || {
    cat "$SCRATCH/apxs.log" >&2
    exit 1
}
cp "$SCRATCH/.libs/mod_lbguard.so" "$BUILD/apache/mod_lbguard.so"
echo "built $BUILD/apache/mod_lbguard.so"
