#!/usr/bin/env bash
# What the test suite needs from the machine, set up when missing: PostgreSQL running on
# 127.0.0.1:5432 and Debian's packages (chromium for the browser tests, pgbouncer for the
# transaction-pooling tests, redis-server for the
# shared rate limits; the tests start their own Redis on a loopback port). `make test` runs this
# first, so a fresh machine needs no step of its own; it changes nothing where all is in place.
set -euo pipefail

PACKAGES=(chromium redis-server pgbouncer)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "test-setup: '$*' needs root; run it as root or install the packages yourself" >&2
    return 1
  fi
}

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# TEST_DATABASE_URL elsewhere is the caller's own server: only the default local one is started.
if [ -z "${TEST_DATABASE_URL:-}" ] && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "test-setup: PostgreSQL is down; starting it"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi
