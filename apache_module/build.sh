#!/bin/bash
# Builds mod_lbguard for Apache httpd 2.4 with apxs (apache_module/Makefile):
#   bash apache_module/build.sh BUILD
#     -> BUILD/apache/mod_lbguard.so        (what you load)
#     -> BUILD/apache/mod_lbguard-asan.so   (ASan + UBSan; tests only: load it
#        into apache2 with LD_PRELOAD=libasan.so.8:libubsan.so.1)
# apxs (libtool) writes .lo/.o/.libs next to its sources, so apache_module/
# and common/ are copied into a scratch directory under BUILD and the
# Makefile runs there; the repository stays clean. Never "apxs -i".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
APXS=${APXS:-apxs}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# build NAME [extra apxs flags...]
build() {
    local name=$1 scratch=$BUILD/apache/src-$1
    shift
    rm -rf "$scratch"
    mkdir -p "$scratch/apache_module" "$scratch/common"
    cp "$ROOT"/apache_module/Makefile "$ROOT"/apache_module/*.[ch] "$scratch/apache_module/"
    cp "$ROOT"/common/*.[ch] "$scratch/common/"
    make -C "$scratch/apache_module" APXS="$APXS" APXSFLAGS="$*" \
        >"$scratch/apxs.log" 2>&1 || {
        cat "$scratch/apxs.log" >&2
        exit 1
    }
    cp "$scratch/apache_module/.libs/mod_lbguard.so" "$BUILD/apache/$name.so"
    echo "built $BUILD/apache/$name.so"
}

build mod_lbguard
# LBG_APACHE_RELEASE_ONLY=1 (the Debian package): no ASan variant
[ -n "${LBG_APACHE_RELEASE_ONLY:-}" ] && exit 0
build mod_lbguard-asan -Wc,-O1 $(for f in $SAN; do printf -- '-Wc,%s ' "$f"; done) \
    -Wl,-fsanitize=address,undefined
