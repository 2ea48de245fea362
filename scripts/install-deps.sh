#!/bin/sh
# Installs the Debian packages cio builds, tests and benchmarks with, when
# any is missing. Needs root (or prints what to install).
set -e
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev liburing-dev libcurl4-openssl-dev libssl-dev openssl libxml2-dev valgrind curl"
if [ "${1:-}" = "--bench" ] || [ "${CIO_DEPS_ALL:-}" = 1 ]; then
  PKGS="$PKGS libuv1-dev nodejs python3 python3-uvloop python3-aiohttp python3-aiofiles nginx wrk"
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "cio needs these Debian packages:$missing" >&2
  echo "run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
