#!/bin/bash
# Installs what building, testing and the demo need on Debian 12.
# Run as root; does nothing when everything is present (unless CI=true).
set -eu
pkgs="gcc make autoconf automake pkg-config libfcgi-dev libjson-c-dev libpq-dev
libssl-dev openssl postgresql lighttpd curl valgrind mandoc ca-certificates python3"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ] && [ "${CI:-}" != true ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "payhook: missing packages:$missing -- run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
