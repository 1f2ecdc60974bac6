#!/usr/bin/env bash
# Proves in CI what the Dockerfile's runtime stage does, without a Docker engine:
#   1. build dist/ (npm run build), unless AEGIS_DIST names a built one
#   2. copy package.json, package-lock.json and dist/ into an empty directory
#   3. npm ci --omit=dev --ignore-scripts there: production dependencies only, and check that no
#      development tool (vitest, typescript, biome, nock, the node package) came along
#   4. start dist/main.js with the project's Node 22 and a minimal configuration with no Slack tokens,
#      on a free loopback port; GET /healthz must answer 200
#   5. SIGTERM: the process must exit 0 within 15 s (graceful shutdown)
#   6. dist/cli.js help must run from the same install
# Usage: bash scripts/prod-check.sh        (AEGIS_DIST=/path/to/dist to skip the build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="${AEGIS_NODE:-$ROOT/node_modules/node/bin/node}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aegis-prod-check.XXXXXX")"
PID=""

say() { printf 'prod-check: %s\n' "$*"; }
fail() {
  printf 'prod-check: FAIL: %s\n' "$*" >&2
  exit 1
}
cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$NODE" ]] || fail "no Node binary at $NODE: run npm ci first (the devDependency \"node\" brings Node 22)"
[[ "$("$NODE" -p 'process.versions.node.split(".")[0]')" == "22" ]] || fail "$NODE is not Node 22"
# npm and anything it starts run on the project's Node 22, not the machine's
export PATH="$(dirname "$NODE"):$PATH"

if [[ -n "${AEGIS_DIST:-}" ]]; then
  DIST="$AEGIS_DIST"
else
  say "building dist/"
  (cd "$ROOT" && npm run build --silent)
  DIST="$ROOT/dist"
fi
for f in main.js cli.js; do
  [[ -f "$DIST/$f" ]] || fail "$DIST/$f is missing (is src/${f%.js}.ts there, and does npm run build emit it?)"
done

say "production install in $WORK"
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$WORK/"
cp -R "$DIST" "$WORK/dist"
(cd "$WORK" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
# (@types/node does come along: @slack/bolt and @kubernetes/client-node depend on it)
for dev in vitest typescript @biomejs/biome nock node; do
  [[ ! -e "$WORK/node_modules/$dev" ]] || fail "development package $dev is in the production install"
done
for prod in pino prom-client yaml zod; do
  [[ -e "$WORK/node_modules/$prod" ]] || fail "production package $prod is missing"
done

PORT="$("$NODE" -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
cat >"$WORK/aegis.yml" <<YAML
# prod-check: no Slack tokens, so the bot serves its health routes only
slack:
  port: $PORT
  host: 127.0.0.1
services:
  - name: aegis-api
    deployment: aegis-api
    namespace: aegis
YAML

say "starting dist/main.js on 127.0.0.1:$PORT without Slack tokens"
(
  cd "$WORK"
  exec env -u SLACK_BOT_TOKEN -u SLACK_SIGNING_SECRET -u SLACK_APP_TOKEN \
    NODE_ENV=production AEGIS_CONFIG="$WORK/aegis.yml" PORT="$PORT" "$NODE" dist/main.js
) >"$WORK/main.log" 2>&1 &
PID=$!

health() {
  "$NODE" -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then(async (r) => { console.log(r.status, (await r.text()).trim()); process.exit(r.status === 200 ? 0 : 1); })
      .catch(() => process.exit(2));' "http://127.0.0.1:$PORT/healthz"
}
answer=""
for _ in $(seq 1 60); do
  if ! kill -0 "$PID" 2>/dev/null; then
    cat "$WORK/main.log" >&2
    fail "dist/main.js exited before answering /healthz"
  fi
  if answer="$(health)"; then break; fi
  answer=""
  sleep 0.5
done
if [[ -z "$answer" ]]; then
  cat "$WORK/main.log" >&2
  fail "GET /healthz did not answer 200 within 30 s"
fi
say "GET /healthz -> $answer"

say "SIGTERM"
kill -TERM "$PID"
code=""
for _ in $(seq 1 30); do
  if ! kill -0 "$PID" 2>/dev/null; then
    wait "$PID" && code=0 || code=$?
    break
  fi
  sleep 0.5
done
PID_DONE="$PID"
PID=""
if [[ -z "$code" ]]; then
  kill -KILL "$PID_DONE" 2>/dev/null || true
  cat "$WORK/main.log" >&2
  fail "dist/main.js did not exit within 15 s of SIGTERM"
fi
[[ "$code" == "0" ]] || { cat "$WORK/main.log" >&2; fail "dist/main.js exited $code after SIGTERM, expected 0"; }

say "dist/cli.js help"
(cd "$WORK" && "$NODE" dist/cli.js help >/dev/null) || fail "dist/cli.js help failed"

say "analysis worker thread from dist/ (the .js module next to pooled-analyzer.js)"
cat >"$WORK/worker-check.mjs" <<'JS'
  const { createPooledAnalyzer } = await import(process.cwd() + "/dist/steps/profiling/pooled-analyzer.js");
  const analyzer = createPooledAnalyzer({ size: 1, inlineBelowBytes: 0 });
  const dump = await analyzer.goroutineDump("goroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d\n");
  const ran = analyzer.pool.stats().workers;
  await analyzer.close();
  if (dump.total !== 1 || ran !== 1) throw new Error(`worker answered ${JSON.stringify(dump)} with ${ran} workers`);
JS
(cd "$WORK" && "$NODE" worker-check.mjs) || fail "the analysis worker does not run from dist/"

say "ok: production install runs dist/main.js and dist/cli.js and the analysis worker, /healthz answers 200, SIGTERM exits 0"
