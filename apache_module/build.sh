#!/bin/bash
# Builds mod_lbguard for Apache httpd 2.4 with apxs:
#   bash apache_module/build.sh BUILD
#     -> BUILD/apache/mod_lbguard.so        (what you load)
#     -> BUILD/apache/mod_lbguard-asan.so   (ASan + UBSan; tests only: load it
#        into apache2 with LD_PRELOAD=libasan.so.8:libubsan.so.1)
# apxs (libtool) writes .lo/.o/.libs next to its sources, so the adapter
# and the core sources are copied into scratch directories under BUILD
# first; the repository stays clean. Never "apxs -i".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
APXS=${APXS:-apxs}
# the core without lbg_parse.c: the raw parser is the CLI's, not a module's
CORE="lbg_rules.c lbg_check.c lbg_format.c lbg_body.c lbg_chunked.c lbg_quick.c lbg_metrics.c lbg_bypass.c"
WARN="-Wc,-Wall -Wc,-Wextra -Wc,-Werror"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# build NAME [extra apxs flags...]
build() {
    local name=$1 scratch=$BUILD/apache/src-$1
    shift
    rm -rf "$scratch"
    mkdir -p "$scratch"
    cp "$ROOT/apache_module/mod_lbguard.c" "$ROOT/apache_module/mod_lbguard_status.c" \
       "$ROOT/apache_module/mod_lbguard_status.h" "$ROOT/apache_module/lbguard_drain.c" \
       "$ROOT/apache_module/lbguard_drain.h" "$scratch/"
    for c in $CORE; do
        cp "$ROOT/common/$c" "$scratch/"
    done
    (cd "$scratch" && "$APXS" -c -I"$ROOT/common" $WARN "$@" \
        mod_lbguard.c mod_lbguard_status.c lbguard_drain.c $CORE >"$scratch/apxs.log" 2>&1) || {
        cat "$scratch/apxs.log" >&2
        exit 1
    }
    cp "$scratch/.libs/mod_lbguard.so" "$BUILD/apache/$name.so"
    echo "built $BUILD/apache/$name.so"
}

build mod_lbguard
# LBG_APACHE_RELEASE_ONLY=1 (the Debian package): no ASan variant
[ -n "${LBG_APACHE_RELEASE_ONLY:-}" ] && exit 0
build mod_lbguard-asan -Wc,-O1 $(for f in $SAN; do printf -- '-Wc,%s ' "$f"; done) \
    -Wl,-fsanitize=address,undefined
