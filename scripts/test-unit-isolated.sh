#!/usr/bin/env bash
# Runs the unit test project as on a machine with only Node and npm: in a private mount namespace
# where go, prometheus, promtool, alertmanager, amtool, PostgreSQL, redis, chromium and the system
# fonts are hidden, with PATH holding only node, npm, npx and sh. A unit test that needs any of them
# fails here (CI runs this), instead of passing on every machine that happens to have them.
#
# Needs root or unprivileged user namespaces (unshare). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${AEGIS_ISOLATED:-}" != 1 ]; then
  userns=()
  [ "$(id -u)" -eq 0 ] || userns=(--map-root-user)
  exec env AEGIS_ISOLATED=1 unshare "${userns[@]}" --mount --propagation private bash "$0" "$@"
fi

# Inside the namespace: nothing below is seen outside it.
hide_dir() { [ -d "$1" ] && mount -t tmpfs -o ro,size=4k aegis-hidden "$(readlink -f "$1")"; return 0; }
hide_file() { [ -e "$1" ] && mount --bind /dev/null "$(readlink -f "$1")"; return 0; }

go_root=$(go env GOROOT 2>/dev/null || true)
for program in go gofmt prometheus promtool prometheus-alertmanager alertmanager amtool redis-server redis-cli \
  chromium chromium-browser google-chrome psql postgres initdb pg_ctl; do
  path=$(command -v "$program" 2>/dev/null || true)
  [ -n "$path" ] && hide_file "$path"
done
for dir in /usr/lib/go /usr/lib/go-* /usr/local/go ${go_root:+"$go_root"} /usr/lib/postgresql /usr/share/postgresql \
  /usr/lib/chromium /usr/share/fonts /usr/local/share/fonts; do
  hide_dir "$dir"
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for program in node npm npx sh; do
  ln -s "$(command -v "$program")" "$bin/$program"
done
echo "isolated: PATH=$bin ($(ls "$bin" | tr '\n' ' ')); go, prometheus, postgres, redis, chromium, fonts hidden"
PATH="$bin" npx vitest run --project unit "$@"
