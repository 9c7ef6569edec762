#!/usr/bin/env bash
# Builds lbguard's nginx module.
#
#   bash ngx_module/build.sh dynamic BUILD
#       configures a copy of Debian's nginx-dev source (/usr/share/nginx/src)
#       with Debian's conf_flags (incl. --with-compat) and
#       --add-dynamic-module=<repo>, then builds the modules only:
#       BUILD/nginx-dynamic/objs/ngx_http_lbguard_filter_module.so,
#       loadable into Debian's /usr/sbin/nginx with load_module.
#
#   bash ngx_module/build.sh static BUILD
#       downloads Debian's nginx source package (orig tarball, cached in
#       BUILD/src), configures it with --add-module=<repo> and builds
#       BUILD/nginx-static/objs/nginx.
#
#   bash ngx_module/build.sh static-asan BUILD
#       the same under ASan + UBSan (pool allocations as single mallocs):
#       BUILD/nginx-static-asan/objs/nginx. test_nginx.py runs its cases
#       against it too when it exists.
#
# Both are incremental: configure runs again only when `config`, this
# script or the nginx source changed; make rebuilds what changed.
set -euo pipefail

mode=${1:-}
BUILD=${2:-}
if [ -z "$mode" ] || [ -z "$BUILD" ]; then
    echo "usage: $0 dynamic|static|static-asan BUILD_DIR" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
JOBS=${JOBS:-2}

# A stamp of everything that decides the configure result.
stamp_of() {
    { echo "$*"; cat "$ROOT/config" "$ROOT/ngx_module/build.sh"; } | md5sum | cut -d' ' -f1
}

build_dynamic() {
    local src=/usr/share/nginx/src
    local dst=$BUILD/nginx-dynamic-src
    local objs=$BUILD/nginx-dynamic/objs

    if [ ! -f "$src/conf_flags" ]; then
        echo "$0: $src/conf_flags not found: install nginx-dev" >&2
        exit 1
    fi

    # shellcheck disable=SC1091
    source "$src/conf_flags"     # defines the array NGX_CONF_FLAGS

    # compile the module as the nginx it loads into was compiled (Debian:
    # -O2 and hardening flags); nginx's own default would be -O
    local ccopt
    ccopt=$(nginx -V 2>&1 | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p")
    [ -n "$ccopt" ] || ccopt="-g -O2"

    local stamp
    stamp=$(stamp_of dynamic "${NGX_CONF_FLAGS[*]}" "$ccopt" "$(stat -c %Y "$src/conf_flags")")

    if [ ! -f "$objs/Makefile" ] || [ "$(cat "$objs/.lbguard-stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$dst" "$objs"
        cp -a "$src" "$dst"
        mkdir -p "$(dirname "$objs")"
        (cd "$dst" && ./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt="$ccopt" \
            --builddir="$objs" --add-dynamic-module="$ROOT") > "$BUILD/nginx-dynamic/configure.log" 2>&1 \
            || { tail -30 "$BUILD/nginx-dynamic/configure.log" >&2; exit 1; }
        echo "$stamp" > "$objs/.lbguard-stamp"
    fi

    # Debian's nginx-dev has no top-level Makefile: use objs/Makefile.
    (cd "$dst" && make -j"$JOBS" -f "$objs/Makefile" modules)
    test -f "$objs/ngx_http_lbguard_filter_module.so"
    echo "built $objs/ngx_http_lbguard_filter_module.so"
}

fetch_source() {
    local dir=$BUILD/src
    mkdir -p "$dir"
    # The upstream version of the installed nginx (1.22.1 on Debian 12),
    # whose dynamic modules the static build loads: a deb-src entry of
    # another release (trixie's 1.26) must not win. Empty: any version.
    local want
    want=$(dpkg-query -W -f='${Version}' nginx 2>/dev/null | sed 's/^[0-9]*://; s/-[^-]*$//')
    if ! ls "$dir"/nginx_"${want:-*}".orig.tar.gz > /dev/null 2>&1; then
        # Every version of the source package shares the upstream orig
        # tarball; the Debian part of an older one may be gone from the
        # mirror, so try each version and keep the first orig tarball.
        local v
        for v in $(apt-cache showsrc nginx | sed -n 's/^Version: //p' | sort -rV \
                   | awk -v w="$want" '{ u = $0; sub(/^[0-9]+:/, "", u); sub(/-[^-]*$/, "", u) }
                                       w == "" || u == w'); do
            (cd "$dir" && apt-get source --download-only "nginx=$v") > /dev/null 2>&1 || true
            if ls "$dir"/nginx_"${want:-*}".orig.tar.gz > /dev/null 2>&1; then
                break
            fi
        done
    fi
    local tgz
    tgz=$(ls "$dir"/nginx_"${want:-*}".orig.tar.gz 2>/dev/null | sort -V | tail -1)
    if [ -z "$tgz" ]; then
        echo "$0: could not download nginx's source package (deb-src enabled?)" >&2
        exit 1
    fi
    local ver
    ver=$(basename "$tgz" | sed 's/^nginx_\(.*\)\.orig\.tar\.gz$/\1/')
    if [ ! -f "$dir/nginx-$ver/configure" ]; then
        (cd "$dir" && tar xzf "$tgz")
    fi
    echo "$dir/nginx-$ver"
}

build_static() {
    local name=$1
    local src
    src=$(fetch_source)
    local objs=$BUILD/$name/objs

    # Minimal, but with proxy, gzip, SSI/addition (subrequests) and
    # --with-compat, so that Debian's dynamic perl module loads into it.
    local flags=(--prefix="$BUILD/$name" --builddir="$objs"
                 --with-debug --with-compat --with-http_addition_module
                 --add-module="$ROOT")

    if [ "$name" = nginx-static-asan ]; then
        # NGX_DEBUG_PALLOC: every pool allocation is its own malloc(), so
        # that ASan sees overflows of pool memory too.
        flags+=(--with-cc-opt="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -DNGX_DEBUG_PALLOC=1"
                --with-ld-opt="-fsanitize=address,undefined")
    fi

    local stamp
    stamp=$(stamp_of static "$src" "${flags[*]}")

    if [ ! -f "$objs/Makefile" ] || [ "$(cat "$objs/.lbguard-stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$objs"
        mkdir -p "$(dirname "$objs")"
        (cd "$src" && ./configure "${flags[@]}") > "$BUILD/$name/configure.log" 2>&1 \
            || { tail -30 "$BUILD/$name/configure.log" >&2; exit 1; }
        echo "$stamp" > "$objs/.lbguard-stamp"
    fi

    (cd "$src" && make -j"$JOBS" -f "$objs/Makefile")
    test -x "$objs/nginx"
    echo "built $objs/nginx"
}

case "$mode" in
    dynamic)     build_dynamic ;;
    static)      build_static nginx-static ;;
    static-asan) build_static nginx-static-asan ;;
    *) echo "usage: $0 dynamic|static|static-asan BUILD_DIR" >&2; exit 2 ;;
esac
