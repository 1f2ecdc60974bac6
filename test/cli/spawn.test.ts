import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aegis-cli-spawn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a script with the Node that runs the tests (the project's Node 22, not the system's). */
function spawnNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the aegis process', () => {
  it('runs on Node 22', () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
  });

  it('when started with an invalid configuration, doctor exits 1 printing each problem, no stack trace', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      [
        'services:',
        '  - name: aegis-api',
        '    deployment: aegis-api',
        '    prometheus:',
        '      url: prometheus:9090',
        '      timeout: soon',
        'thresholds:',
        '  cpu_percent: { normal: 95, warning: 80, critical: 90 }',
        '',
      ].join('\n'),
    );
    const r = await spawnNode(['src/cli.ts', 'doctor'], { AEGIS_CONFIG: bad });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      [
        `FAIL config: ${bad} is not valid (see aegis.example.yml)`,
        '       - services[0].prometheus.url: expected an http:// or https:// URL, got "prometheus:9090"',
        '       - services[0].prometheus.timeout: expected a duration such as 30s, 5m or 1h, got "soon"',
        '       - thresholds.cpu_percent: expected normal <= warning <= critical, got normal 95, warning 80, critical 90',
        '',
      ].join('\n'),
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('when run is started with a file that is not YAML, it exits 1 with the line of the problem', async () => {
    const bad = join(dir, 'not-yaml.yml');
    writeFileSync(bad, 'services:\n  - name: [unclosed\n');
    const r = await spawnNode(['src/cli.ts', 'run', 'latency'], { AEGIS_CONFIG: bad });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^aegis: invalid configuration in .*not-yaml\.yml:\n {2}- not valid YAML at line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a \]\n$/,
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('bin/aegis.js prints the usage for help and exits 1 with usage for an unknown command', async () => {
    const help = await spawnNode(['bin/aegis.js', 'help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage:\n  aegis run <step>');
    const unknown = await spawnNode(['bin/aegis.js', 'deploy'], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('aegis: unknown command "deploy"');
  });
});
