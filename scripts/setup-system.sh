#!/usr/bin/env bash
# Makes sure this Debian/Ubuntu machine has the system programs the tests need, installing the
# missing ones from the distribution's packages. Idempotent; `npm test` runs it first.
#
#   go                                golang-go
#   prometheus, promtool              prometheus
#   prometheus-alertmanager, amtool   prometheus-alertmanager
#   PostgreSQL 15 postgres, initdb
#     and pg_stat_statements          postgresql-15
#   HypoPG extension                  postgresql-15-hypopg
#   redis-server                      redis-server
#   chromium                          chromium
#   DejaVu Sans (chart text)          fonts-dejavu-core
#
# When everything is there it only looks (no apt-get). Otherwise it installs what is missing with
# apt-get, as root or through passwordless `sudo -n`, printing what it installs; when it can do
# neither it exits 1 naming the one command to run. It exits 1 too when something is still missing
# after installing (CI must fail, never skip).
#
# PostgreSQL: Debian 12's is 15, which the test bed uses. Where apt has no postgresql-15 (other
# Ubuntu releases) it takes the release's own major version instead and says so; the tests then
# need AEGIS_TESTBED_PG_BIN=/usr/lib/postgresql/<major>/bin. AEGIS_PG_MAJOR forces a major version.
# AEGIS_SETUP_ROOT prefixes every file checked (for the script's own tests).
set -euo pipefail

root=${AEGIS_SETUP_ROOT:-}
say() { printf 'setup-system: %s\n' "$*"; }

has_program() { command -v "$1" >/dev/null 2>&1; }
has_file() { [ -f "$root$1" ]; }
has_go() { has_program go || [ -x "$root/usr/lib/go/bin/go" ]; }

# The PostgreSQL major version to use: 15 when installed or installable, else the release's own.
pg_major() {
  if [ -n "${AEGIS_PG_MAJOR:-}" ]; then
    echo "$AEGIS_PG_MAJOR"
    return
  fi
  if [ -d "$root/usr/lib/postgresql/15" ] || ! has_program apt-cache; then
    echo 15
    return
  fi
  local policy
  policy=$(apt-cache policy postgresql-15 2>/dev/null || true)
  if [[ $policy =~ Candidate:\ [0-9] ]]; then
    echo 15
    return
  fi
  policy=$(apt-cache policy postgresql 2>/dev/null || true)
  if [[ $policy =~ Candidate:\ ([0-9]+)\+ ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 15
  fi
}

# Fills `missing` (what, one per entry) and `packages` (unique, in order).
check() {
  local pg=$1
  missing=()
  packages=()
  need() { # need <package> <what> <test...>
    local package=$1 what=$2
    shift 2
    if ! "$@"; then
      missing+=("$what ($package)")
      [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
    fi
  }
  need golang-go go has_go
  need prometheus prometheus has_program prometheus
  need prometheus promtool has_program promtool
  need prometheus-alertmanager prometheus-alertmanager has_program prometheus-alertmanager
  need prometheus-alertmanager amtool has_program amtool
  need "postgresql-$pg" "PostgreSQL $pg postgres" has_file "/usr/lib/postgresql/$pg/bin/postgres"
  need "postgresql-$pg" "PostgreSQL $pg initdb" has_file "/usr/lib/postgresql/$pg/bin/initdb"
  need "postgresql-$pg" pg_stat_statements has_file "/usr/share/postgresql/$pg/extension/pg_stat_statements.control"
  need "postgresql-$pg-hypopg" HypoPG has_file "/usr/share/postgresql/$pg/extension/hypopg.control"
  need redis-server redis-server has_program redis-server
  need chromium chromium has_program chromium
  need fonts-dejavu-core "DejaVu Sans" has_file /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
}

pg=$(pg_major)
check "$pg"
if [ ${#missing[@]} -eq 0 ]; then
  say "all present (go, prometheus, promtool, prometheus-alertmanager, amtool, PostgreSQL $pg with" \
    "pg_stat_statements and HypoPG, redis-server, chromium, DejaVu fonts): nothing to install"
  exit 0
fi

printf -v list '%s, ' "${missing[@]}"
say "missing: ${list%, }"
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif has_program sudo && sudo -n true >/dev/null 2>&1; then
  as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive) # sudo resets the environment
else
  say "cannot install them: not root, and sudo needs a password (or is not installed). Run:" >&2
  printf '  sudo apt-get install -y %s\n' "${packages[*]}" >&2
  exit 1
fi

say "apt-get update"
"${as_root[@]}" apt-get update -qq
if [ -z "${AEGIS_PG_MAJOR:-}" ]; then
  pg=$(pg_major) # the package lists are fresh now
  check "$pg"
fi
if [ "$pg" != 15 ]; then
  say "PostgreSQL 15 is not packaged here: installing PostgreSQL $pg; run the tests with" \
    "AEGIS_TESTBED_PG_BIN=/usr/lib/postgresql/$pg/bin"
fi
say "installing: ${packages[*]}"
"${as_root[@]}" apt-get install -y --no-install-recommends "${packages[@]}"

check "$pg"
if [ ${#missing[@]} -gt 0 ]; then
  printf -v list '%s, ' "${missing[@]}"
  say "still missing after apt-get install: ${list%, }" >&2
  exit 1
fi
say "installed: all present now"
