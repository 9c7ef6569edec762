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
#   bash ngx_module/build.sh static-mainline BUILD
#       the same static build from Debian 13's nginx source package (1.26,
#       after 1.23.0's ngx_table_elt_t.next), so that the module's
#       `nginx_version >= 1023000` branches are compiled and tested:
#       BUILD/nginx-static-mainline/objs/nginx, with the perl module built
#       in (Debian 12's dynamic one is for 1.22). Needs the deb-src-only
#       trixie entry scripts/deps.sh writes; nothing is installed from it.
#
#   bash ngx_module/build.sh fetch BUILD
#       only downloads (apt-get source, no root) the two source packages the
#       static builds use, into BUILD/src and BUILD/src-mainline (make deps).
#       With LBG_NO_FETCH=1 (make check) the static builds never download:
#       a missing source is an error that names make deps.
#
# Both are incremental: configure runs again only when `config`, this
# script or the nginx source changed; make rebuilds what changed.
set -euo pipefail

mode=${1:-}
BUILD=${2:-}
if [ -z "$mode" ] || [ -z "$BUILD" ]; then
    echo "usage: $0 dynamic|static|static-asan|static-mainline|fetch BUILD_DIR" >&2
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

# fetch_source DIR UPSTREAM: the unpacked upstream source of nginx UPSTREAM.x
# (e.g. 1.22, 1.26) from Debian's source packages, cached in DIR.
fetch_source() {
    local dir=$1 upstream=$2
    mkdir -p "$dir"
    if ! ls "$dir"/nginx_*.orig.tar.gz > /dev/null 2>&1; then
        if [ -n "${LBG_NO_FETCH:-}" ]; then
            echo "$0: nginx $upstream's source is not in $dir: run make deps first" >&2
            exit 1
        fi
        # Every version of the source package shares the upstream orig
        # tarball; the Debian part of an older one may be gone from the
        # mirror, so try each version and keep the first orig tarball.
        local v
        for v in $(apt-cache showsrc nginx | sed -n 's/^Version: //p' | grep "^$upstream\." | sort -rV); do
            (cd "$dir" && apt-get source --download-only "nginx=$v") > /dev/null 2>&1 || true
            if ls "$dir"/nginx_*.orig.tar.gz > /dev/null 2>&1; then
                break
            fi
        done
    fi
    local tgz
    tgz=$(ls "$dir"/nginx_*.orig.tar.gz 2>/dev/null | sort -V | tail -1)
    if [ -z "$tgz" ]; then
        echo "$0: could not download nginx $upstream's source package (deb-src enabled? scripts/deps.sh)" >&2
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
    if [ "$name" = nginx-static-mainline ]; then
        src=$(fetch_source "$BUILD/src-mainline" 1.26)
    else
        src=$(fetch_source "$BUILD/src" 1.22)
    fi
    local objs=$BUILD/$name/objs

    # Minimal, but with proxy, gzip, SSI/addition (subrequests) and
    # --with-compat, so that Debian's dynamic perl module loads into it.
    # The perl module's own Makefile finds nginx's headers by a path
    # relative to the build directory, so a build with it built in keeps
    # its objs/ inside the source tree (BUILD/<name>/objs links to it).
    local builddir=$objs
    if [ "$name" = nginx-static-mainline ]; then
        builddir=objs
    fi
    local flags=(--prefix="$BUILD/$name" --builddir="$builddir"
                 --with-debug --with-compat --with-http_addition_module
                 --add-module="$ROOT")

    if [ "$name" = nginx-static-mainline ]; then
        flags+=(--with-http_perl_module)
    fi
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
        if [ "$builddir" != "$objs" ]; then
            rm -rf "${src:?}/$builddir"
        fi
        (cd "$src" && ./configure "${flags[@]}") > "$BUILD/$name/configure.log" 2>&1 \
            || { tail -30 "$BUILD/$name/configure.log" >&2; exit 1; }
        if [ "$builddir" != "$objs" ]; then
            ln -sfn "$src/$builddir" "$objs"
        fi
        echo "$stamp" > "$objs/.lbguard-stamp"
    fi

    (cd "$src" && make -j"$JOBS" -f "$objs/Makefile")
    test -x "$objs/nginx"
    echo "built $objs/nginx"
}

# The static builds share the unpacked sources (BUILD/src, BUILD/src-mainline)
# and configure in them: under make -j they take turns (flock, util-linux).
if [ "$mode" != dynamic ]; then
    mkdir -p "$BUILD"
    exec 9> "$BUILD/.nginx-static.lock"
    flock 9
fi

case "$mode" in
    dynamic)     build_dynamic ;;
    static)      build_static nginx-static ;;
    static-asan) build_static nginx-static-asan ;;
    static-mainline) build_static nginx-static-mainline ;;
    fetch)       fetch_source "$BUILD/src" 1.22 > /dev/null
                 fetch_source "$BUILD/src-mainline" 1.26 > /dev/null ;;
    *) echo "usage: $0 dynamic|static|static-asan|static-mainline|fetch BUILD_DIR" >&2; exit 2 ;;
esac
