#!/bin/sh
# Install the Debian 12 packages tlsmta needs to build, run and test.
# Idempotent: installs only what is missing; runs apt-get update only then.
# Usage (as root): tools/install-deps.sh [build|test]
set -eu

# libsasl2-modules: the PLAIN, LOGIN, SCRAM... mechanisms; -db: the sasldb
# that "tlsmta user add" writes.
BUILD_PKGS="build-essential meson ninja-build pkg-config libssl-dev \
libevent-dev libinih-dev libcmocka-dev openssl libsasl2-dev \
libsasl2-modules libsasl2-modules-db libunbound-dev"
# Real peers for the integration tests (DESIGN.md "Real parts, real tests").
# sasl2-bin: saslauthd (and testsaslauthd), which the tests start themselves.
# nsd: the authoritative DNS server of the MX tests (tests/integration/dnskit.py).
TEST_PKGS="python3 python3-pytest python3-pytest-timeout swaks postfix \
sasl2-bin nsd"

want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$want $TEST_PKGS"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix asks debconf questions; answer them for a local-only peer whose
# own config the tests write (tests/integration/postfix_peer.py).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The Debian postfix package starts its own instance; the tests run their
# own on loopback, so keep the system one out of the way.
if [ -x /usr/sbin/postfix ] && echo "$missing" | grep -q postfix; then
    postfix stop >/dev/null 2>&1 || true
    systemctl disable --now postfix >/dev/null 2>&1 || true
fi
# Likewise sasl2-bin's own saslauthd (PAM, /run/saslauthd): the tests start
# theirs with their own socket directory.
if echo "$missing" | grep -q sasl2-bin; then
    systemctl disable --now saslauthd >/dev/null 2>&1 || true
    [ -x /etc/init.d/saslauthd ] && /etc/init.d/saslauthd stop >/dev/null 2>&1 || true
fi
# And nsd's own server (port 53 on every address, /etc/nsd): the tests run
# theirs on 127.0.0.1 and a high port.
if echo "$missing" | grep -qw nsd; then
    systemctl disable --now nsd >/dev/null 2>&1 || true
    if [ -x /etc/init.d/nsd ]; then
        /etc/init.d/nsd stop >/dev/null 2>&1 || true
    fi
fi
