#!/usr/bin/env bash
# Installs everything Concierge builds and tests with, from Debian's packages and npm.
# Idempotent: skips apt when every package is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3
  libcpp-httplib-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlitecpp-dev libsqlite3-dev
  libspdlog-dev libfmt-dev catch2 libssl-dev libvalijson-dev libcli11-dev
  libhowardhinnant-date-dev libical-dev libgmime-3.0-dev libmpdclient-dev libjemalloc-dev wrk
  libxml2-dev
  # argon2id for the sign-in pages' passwords (`concierge users passwd`).
  libsodium-dev
  # The Debian package (scripts/package.sh): its man page from --help, its Depends from the
  # binary (dpkg-shlibdeps), and the test's check of the units (systemd-analyze verify).
  help2man dpkg-dev systemd
  # Build cache; clang + compiler-rt for the fuzz harnesses (libFuzzer) and the TSan build.
  ccache clang-14 libclang-rt-14-dev
  # Real servers the standards adapters' tests start on loopback (CalDAV, IMAP, MPD).
  radicale dovecot-imapd mpd flac
  # The browser the sign-in, consent and /connect pages are tested in (playwright-core drives it).
  chromium fonts-dejavu-core
  # promtool (`promtool check metrics`) checks /metrics' exposition format strictly.
  prometheus
  # The load balancer in front of several instances (tests/scale, deploy/nginx).
  nginx
  # The shared store (--database postgresql://...): libpq to speak to it, and the server the
  # tests start on a temporary directory (scripts/postgres.sh).
  libpq-dev postgresql-15
)
# Node: the machine image ships one (with npm); Debian's npm conflicts with it, so only
# install Debian's when there is no node at all.
command -v node >/dev/null || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test-time JavaScript, pinned by the lock files: the official MCP TypeScript SDK client, and the
# official MCP conformance suite with the Node 22 it needs (tests/conformance/run.sh).
if [ "${1:-}" != "--no-npm" ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
  # The TypeScript example client's SDK and its type checker (examples/clients/typescript).
  (cd examples/clients/typescript && npm ci --no-audit --no-fund --loglevel=error)
  # The MCP Inspector, whose command line the configuration examples show (examples/clients/config).
  (cd examples/clients/config && npm ci --no-audit --no-fund --loglevel=error)
fi
