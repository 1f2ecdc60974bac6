/**
 * scripts/setup-system.sh against a fake machine: its files under a temp root (AEGIS_SETUP_ROOT),
 * its programs, id, sudo, apt-get and apt-cache as small shell scripts on a PATH of their own.
 * The fake apt-get logs each call and "installs" a package by creating its files.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/setup-system.sh', import.meta.url));

/** What each package puts on the machine: programs (in the fake bin) and files (under the root). */
const PACKAGE_CONTENTS = `
case "$1" in
  golang-go) prog go ;;
  prometheus) prog prometheus; prog promtool ;;
  prometheus-alertmanager) prog prometheus-alertmanager; prog amtool ;;
  redis-server) prog redis-server ;;
  chromium) prog chromium ;;
  fonts-dejavu-core) file usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ;;
  postgresql-*-hypopg) v=\${1#postgresql-}; v=\${v%-hypopg}; file usr/share/postgresql/$v/extension/hypopg.control ;;
  postgresql-*) v=\${1#postgresql-}
    file usr/lib/postgresql/$v/bin/postgres; file usr/lib/postgresql/$v/bin/initdb
    file usr/share/postgresql/$v/extension/pg_stat_statements.control ;;
esac
`;

const ALL_PACKAGES = [
  'golang-go',
  'prometheus',
  'prometheus-alertmanager',
  'postgresql-15',
  'postgresql-15-hypopg',
  'redis-server',
  'chromium',
  'fonts-dejavu-core',
];

interface Machine {
  root: string;
  bin: string;
  aptLog: string;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function script(file: string, body: string): void {
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

/** A machine with `installed` packages; its apt-get installs any of them (none with FAKE_APT_BROKEN=1). */
function machine(installed: string[], options: { aptCachePolicy?: Record<string, string> } = {}): Machine {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-setup-system-'));
  dirs.push(root);
  const bin = path.join(root, 'fake-bin');
  fs.mkdirSync(bin);
  const aptLog = path.join(root, 'apt.log');
  // The helpers the fake packages use; sh builtins only, plus mkdir for the files' directories.
  const helpers = `root='${root}'; bin='${bin}'
prog() { printf '#!/bin/sh\\nexit 0\\n' > "$bin/$1"; /bin/chmod 755 "$bin/$1"; }
file() { /bin/mkdir -p "$root/$(dirname_ "$1")"; : > "$root/$1"; }
dirname_() { echo "\${1%/*}"; }`;
  script(path.join(bin, 'install-package'), `${helpers}\n${PACKAGE_CONTENTS}`);
  for (const p of installed) execFileSync('/bin/sh', [path.join(bin, 'install-package'), p]);
  script(path.join(bin, 'true'), 'exit 0');
  script(path.join(bin, 'id'), '[ "$1" = -u ] && echo "$FAKE_UID"');
  script(
    path.join(bin, 'sudo'),
    `[ "$1" = -n ] && [ "$FAKE_SUDO" = passwordless ] || { echo 'sudo: a password is required' >&2; exit 1; }
shift; echo "sudo $*" >> '${aptLog}'
[ "$1" = env ] && { shift; export "$1"; shift; }
exec "$@"`,
  );
  script(
    path.join(bin, 'apt-get'),
    `echo "apt-get $* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)" >> '${aptLog}'
[ "$1" = install ] && [ "$FAKE_APT_BROKEN" != 1 ] || exit 0
for p in "$@"; do '${bin}/install-package' "$p"; done`,
  );
  const policy = options.aptCachePolicy ?? {};
  script(
    path.join(bin, 'apt-cache'),
    `case "$2" in\n${Object.entries(policy)
      .map(([pkg, candidate]) => `  ${pkg}) echo '${pkg}:'; echo '  Candidate: ${candidate}' ;;`)
      .join('\n')}\nesac`,
  );
  return { root, bin, aptLog };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  apt: string[];
}

function run(m: Machine, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      '/bin/bash',
      [SCRIPT],
      { env: { PATH: m.bin, AEGIS_SETUP_ROOT: m.root, FAKE_UID: '1000', ...env } },
      (error, stdout, stderr) => {
        const apt = fs.existsSync(m.aptLog) ? fs.readFileSync(m.aptLog, 'utf8').trim().split('\n') : [];
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr, apt });
      },
    );
  });
}

describe('scripts/setup-system.sh', () => {
  it('only looks when everything is installed: no apt-get, exit 0', async () => {
    const r = await run(machine(ALL_PACKAGES));
    expect(r.stdout).toMatch(/all present .*nothing to install/);
    expect(r.apt).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('names the one command to run when it cannot install (not root, sudo wants a password)', async () => {
    const m = machine(ALL_PACKAGES.filter((p) => p !== 'redis-server' && p !== 'postgresql-15-hypopg'));
    const r = await run(m);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('missing: HypoPG (postgresql-15-hypopg), redis-server (redis-server)');
    expect(r.stderr).toContain('\n  sudo apt-get install -y postgresql-15-hypopg redis-server\n');
    expect(r.apt).toEqual([]);
  });

  it('lists each missing package once', async () => {
    const r = await run(machine(ALL_PACKAGES.filter((p) => p !== 'prometheus')));
    expect(r.stdout).toContain('missing: prometheus (prometheus), promtool (prometheus)');
    expect(r.stderr).toContain('  sudo apt-get install -y prometheus\n');
  });

  it('installs exactly the missing packages as root, then checks again', async () => {
    const m = machine(ALL_PACKAGES.filter((p) => p !== 'chromium' && p !== 'fonts-dejavu-core'));
    const r = await run(m, { FAKE_UID: '0' });
    expect(r.apt).toEqual([
      'apt-get update -qq (DEBIAN_FRONTEND=noninteractive)',
      'apt-get install -y --no-install-recommends chromium fonts-dejavu-core (DEBIAN_FRONTEND=noninteractive)',
    ]);
    expect(r.stdout).toContain('installing: chromium fonts-dejavu-core');
    expect(r.stdout).toContain('installed: all present now');
    expect(r.code).toBe(0);
    expect((await run(m, { FAKE_UID: '0' })).apt).toHaveLength(2); // the second run only looks
  });

  it('installs through passwordless sudo', async () => {
    const m = machine(ALL_PACKAGES.filter((p) => p !== 'golang-go'));
    const r = await run(m, { FAKE_SUDO: 'passwordless' });
    expect(r.apt).toContain(
      'sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends golang-go',
    );
    expect(r.apt).toContain(
      'apt-get install -y --no-install-recommends golang-go (DEBIAN_FRONTEND=noninteractive)',
    );
    expect(r.code).toBe(0);
  });

  it('fails, naming what is still missing, when apt-get installed nothing', async () => {
    const m = machine(ALL_PACKAGES.filter((p) => p !== 'redis-server'));
    const r = await run(m, { FAKE_UID: '0', FAKE_APT_BROKEN: '1' });
    expect(r.stderr).toContain('still missing after apt-get install: redis-server (redis-server)');
    expect(r.code).toBe(1);
  });

  it("takes the release's PostgreSQL where apt has no postgresql-15, and says how to point the tests at it", async () => {
    const m = machine(
      ALL_PACKAGES.filter((p) => !p.startsWith('postgresql')),
      { aptCachePolicy: { 'postgresql-15': '(none)', postgresql: '16+257build1' } },
    );
    const r = await run(m, { FAKE_UID: '0' });
    expect(r.stdout).toContain('installing: postgresql-16 postgresql-16-hypopg');
    expect(r.stdout).toContain('AEGIS_TESTBED_PG_BIN=/usr/lib/postgresql/16/bin');
    expect(r.code).toBe(0);
  });
});
