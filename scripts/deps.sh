#!/bin/sh
# deps.sh - install the Debian packages Axon needs, if any are missing.
# Usage: scripts/deps.sh [build|test|bench]   (each level includes the ones before)
set -eu
level=${1:-build}

pkgs="gcc make pkg-config libmicrohttpd-dev libsqlite3-dev sqlite3 liblua5.4-dev
libjansson-dev libcurl4-openssl-dev libssl-dev libsodium-dev libarchive-dev libutf8proc-dev libcsv-dev"
case $level in
  test|bench) pkgs="$pkgs libcmocka-dev python3 python3-pytest python3-jsonschema python3-requests"
    # Browser tests: Debian's chromium, a CJK font so Chinese renders, and
    # node/npm for playwright-core (only when no node is on the machine).
    pkgs="$pkgs chromium fonts-noto-cjk"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm" ;;
esac
case $level in
  bench) pkgs="$pkgs wrk" ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
