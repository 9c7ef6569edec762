#!/usr/bin/env bash
# Installs the Debian 12 packages lbguard's build, tests, demo and bench need.
# Idempotent: does nothing when everything is present. Must run as root on a
# fresh machine (CI); a developer who is not root gets a clear message.
set -euo pipefail

PKGS=(
  build-essential pkg-config libcmocka-dev clang libclang-rt-14-dev clang-format valgrind
  nginx-core nginx-dev libnginx-mod-http-perl libpcre2-dev zlib1g-dev libssl-dev libperl-dev
  apache2 apache2-dev
  haproxy wrk dpkg-dev python3 curl
  debhelper lintian
  nodejs openssl
  prometheus
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# deb-src twin of apt's deb entries, for `apt-get source nginx` (static build).
need_src=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  need_src=1
fi

# Debian 13's nginx source (1.26, for the static-mainline build): a
# deb-src-only entry, never a deb one, so nothing is installed from trixie.
TRIXIE_SRC=/etc/apt/sources.list.d/lbguard-trixie-src.sources
need_trixie=0
[ -f "$TRIXIE_SRC" ] || need_trixie=1

if [ ${#missing[@]} -eq 0 ] && [ $need_src -eq 0 ] && [ $need_trixie -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]} (run as root: sudo $0)" >&2
  exit 1
fi
if [ $need_src -eq 1 ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > /etc/apt/sources.list.d/lbguard-deb-src.sources
fi
if [ $need_trixie -eq 1 ]; then
  # the same mirror as the machine's own Debian entry
  uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > "$TRIXIE_SRC"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  # Debian's apache2/nginx/haproxy postinst try to start services; no systemd
  # here, and our tests start their own instances on free ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
