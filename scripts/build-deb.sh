#!/usr/bin/env bash
# make deb: builds lbguard's three Debian packages from debian/ into
# BUILD/deb/:
#   libnginx-mod-http-lbguard_<v>_<arch>.deb   the nginx dynamic module
#   libapache2-mod-lbguard_<v>_<arch>.deb      mod_lbguard for Apache 2.4
#   lbguard_<v>_<arch>.deb                     the command-line tool
# (plus .buildinfo, .changes, build.log, and the -dbgsym packages in
# BUILD/deb/dbgsym/).
#
#   bash scripts/build-deb.sh BUILD
#
# dpkg-buildpackage -us -uc -b runs in a copy of the tree, BUILD/deb/src
# (the files git knows and the untracked ones it does not ignore; the
# whole tree but build/ and .git/ when this is not a git checkout), so the
# checkout stays clean; the copy is removed afterwards. Root is not needed
# (Rules-Requires-Root: no). Run as root with LBG_DEB_USER=<user>, the
# build runs as that (unprivileged) user, BUILD/deb being handed to it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-$ROOT/build}" && cd "${1:-$ROOT/build}" && pwd)
OUT=$BUILD/deb
SRC=$OUT/src

rm -rf "$OUT"
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar --null -T - -cf -) | tar -C "$SRC" -xf -
else
    tar -C "$ROOT" --exclude=./build --exclude=./.git -cf - . | tar -C "$SRC" -xf -
fi

run=()
if [ "$(id -u)" = 0 ] && [ -n "${LBG_DEB_USER:-}" ]; then
    chown -R "$LBG_DEB_USER:" "$OUT"
    run=(runuser -u "$LBG_DEB_USER" -- env HOME="$OUT")
fi

(cd "$SRC" && "${run[@]}" dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log" >&2
    echo "$0: dpkg-buildpackage failed; the whole log: $OUT/build.log" >&2
    exit 1
}
rm -rf "$SRC"
# the debug symbols apart, so that BUILD/deb/*.deb is the three packages
mkdir -p "$OUT/dbgsym"
mv "$OUT"/*-dbgsym_*.deb "$OUT/dbgsym/"
ls "$OUT"/*.deb
