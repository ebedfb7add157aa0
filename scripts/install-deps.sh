#!/bin/sh
# Installs the Debian 12 packages Roost needs to build, run, test and benchmark.
# Idempotent: it asks apt only for what is missing, so a second run is instant.
# Used by `make run`, `make test` and .ci/run; safe to run by hand as root.
set -eu

PKGS="build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
libssl-dev libsqlite3-dev libuv1-dev libjansson-dev libcurl4-openssl-dev
libwslay-dev libhttp-parser-dev libmosquitto-dev libcbor-dev
openssl sqlite3 mosquitto mosquitto-clients curl procps
python3 python3-paho-mqtt python3-boto3 python3-cbor2 python3-cryptography awscli
nodejs npm"

missing=""
for p in $PKGS; do
    # NodeSource's nodejs package bundles npm and conflicts with Debian's npm.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != "0" ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run this script as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The Debian mosquitto package enables a system broker on 1883; tests never use it.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
