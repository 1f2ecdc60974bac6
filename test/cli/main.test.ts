import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliDeps, EXIT, main } from '../../src/cli/main.ts';
import type { BuildRuntime } from '../../src/cli/runtime.ts';
import type { Config } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import type { Checkable, CheckResult } from '../../src/domain/ports.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { type Behaviour, CONFIG_TEXT, fakeStep } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'aegis-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CONFIG = join(dir, 'aegis.yml');
writeFileSync(CONFIG, CONFIG_TEXT);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  log: string;
  built: Config[];
  closed: number;
  calls: ReturnType<typeof fakeStep>['calls'];
}

async function cli(
  argv: string[],
  opts: {
    behaviour?: Behaviour;
    checks?: Checkable[];
    env?: NodeJS.ProcessEnv;
    deps?: Partial<CliDeps>;
  } = {},
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let log = '';
  const built: Config[] = [];
  let closed = 0;
  const { step, calls } = fakeStep(opts.behaviour);
  const buildRuntime: BuildRuntime = async (config) => {
    built.push(config);
    return {
      sources: { metrics: (s: ServiceConfig) => ({ serviceName: s.name }) },
      checks: opts.checks ?? [],
      close: async () => {
        closed++;
      },
    };
  };
  const code = await main(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { AEGIS_CONFIG: CONFIG, ...opts.env },
    buildRuntime,
    steps: [step],
    logger: createLogger({ level: 'info', destination: { write: (l: string) => (log += l) } }),
    ...opts.deps,
  });
  return { code, stdout, stderr, log, built, closed, calls };
}

function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

describe('aegis run, text format', () => {
  it('prints the report with findings ranked and exits 2 on a critical finding', async () => {
    const r = await cli(['run', 'latency']);
    expect(r.code).toBe(EXIT.critical);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('latency · aegis-api · CRITICAL');
    expect(lines[1]).toBe('P99 2.4 s CRITICAL, driven by /api/search');
    const critical = r.stdout.indexOf('1. CRITICAL     API P99 latency 2.4 s');
    const warning = r.stdout.indexOf('2. WARNING      CPU 72% of the limit');
    expect(critical).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(critical);
  });

  it('aligns evidence tables, right-aligning numeric columns', async () => {
    const { stdout } = await cli(['run', 'latency']);
    const table = stdout
      .split('\n')
      .slice(stdout.split('\n').indexOf('   P99 by endpoint') + 1)
      .slice(0, 4);
    expect(table).toEqual([
      '   path              p99  requests/s',
      '   -------------  ------  ----------',
      '   /api/search     2.4 s         120',
      '   /api/findings  310 ms         8.5',
    ]);
    expect(stdout).toContain('   P50:    140 ms\n   Window: 5m');
  });

  it('lists advice, escalation, proposals as "would offer", next steps, unavailable parts and attachments', async () => {
    const { stdout } = await cli(['run', 'latency']);
    expect(stdout).toContain(
      '   Quick fix:\n     - Scale horizontally: kubectl scale deployment aegis-api -n aegis --replicas=5',
    );
    expect(stdout).toContain(
      '   Long-term fixes:\n     - Cache computed results\n     - Optimize hot code paths',
    );
    expect(stdout).toContain('Escalation:\n  ! P99 > 2s for > 5 min: page on-call (observed 2.4 s for 7m)');
    expect(stdout).toContain('  would offer: Scale to 5 replicas (actions need Slack or the console)');
    expect(stdout).toContain('    replicas of deployment aegis-api: 3 -> 5; P99 above the critical bound');
    expect(stdout).toContain('  aegis run cpu 30 aegis-api-7d9f  CPU profile of aegis-api-7d9f');
    expect(stdout).toContain('Unavailable:\n  kubernetes pod usage: metrics.k8s.io: HTTP 503');
    expect(stdout).toMatch(/p99\.svg +image\/svg\+xml +14 B {2}\(save with --out DIR\)/);
    expect(stdout).toContain('Finished in 1.3 s at 2026-03-01T12:00:01.250Z');
  });

  it('writes progress to stderr, not stdout', async () => {
    const { stderr, stdout } = await cli(['run', 'latency']);
    expect(stderr).toBe(
      [
        'aegis latency for aegis-api...',
        '  running     prometheus p99',
        '  ok          prometheus p99',
        '  unavailable kubernetes pod usage: metrics.k8s.io: HTTP 503',
        '',
      ].join('\n'),
    );
    expect(stdout).not.toContain('running');
  });

  it('hands the step its parsed arguments, the service, and the runtime sources; closes the runtime', async () => {
    const r = await cli(['run', 'latency', '15m', '--service', 'aegis-worker']);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]?.args).toEqual({ window: '15m' });
    expect(r.calls[0]?.ctx.service.name).toBe('aegis-worker');
    const ctx = r.calls[0]?.ctx;
    if (!ctx) throw new Error('the step did not run');
    expect(ctx.sources.metrics(ctx.service)).toEqual({ serviceName: 'aegis-worker' });
    expect(r.built[0]?.source).toBe(CONFIG);
    expect(r.closed).toBe(1);
  });

  it('takes the service as a step word too, and --service=S', async () => {
    expect((await cli(['run', 'latency', 'aegis-worker'])).calls[0]?.ctx.service.name).toBe('aegis-worker');
    expect((await cli(['run', '--service=aegis-worker', 'latency'])).calls[0]?.ctx.service.name).toBe(
      'aegis-worker',
    );
  });

  it('exits 0 when the worst finding is a warning, 4 when a part is unavailable and nothing is worse', async () => {
    expect((await cli(['run', 'latency'], { behaviour: 'warning' })).code).toBe(EXIT.ok);
    expect((await cli(['run', 'latency'], { behaviour: 'unavailable' })).code).toBe(EXIT.incomplete);
  });
});

describe('aegis run, json format', () => {
  it('prints the StepResult as stable JSON: ISO dates, ranked findings, attachments without content', async () => {
    const r = await cli(['run', 'latency', '--format', 'json']);
    expect(r.code).toBe(EXIT.critical);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report)).toEqual([
      'version',
      'step',
      'service',
      'severity',
      'headline',
      'startedAt',
      'finishedAt',
      'durationMs',
      'findings',
      'escalations',
      'proposals',
      'nextSteps',
      'parts',
      'attachments',
      'links',
    ]);
    expect(report).toMatchObject({
      version: 1,
      step: 'latency',
      service: 'aegis-api',
      severity: 'critical',
      startedAt: '2026-03-01T12:00:00.000Z',
      finishedAt: '2026-03-01T12:00:01.250Z',
      durationMs: 1250,
    });
    expect(report.findings.map((f: { severity: string }) => f.severity)).toEqual(['critical', 'warning']);
    expect(Object.keys(report.findings[0])).toEqual([
      'id',
      'severity',
      'title',
      'summary',
      'evidence',
      'links',
      'advice',
    ]);
    expect(report.proposals[0].params).toEqual({ deployment: 'aegis-api', replicas: 5 });
    expect(report.attachments).toEqual([
      { filename: 'p99.svg', title: 'P99 over 1h', mimeType: 'image/svg+xml', bytes: 14, image: true },
      {
        filename: '../cpu.prof',
        title: 'CPU profile',
        mimeType: 'application/octet-stream',
        bytes: 2048,
        image: false,
      },
    ]);
    expect(r.stdout).not.toContain('<svg>');
    expect(report.parts[1]).toEqual({
      name: 'kubernetes pod usage',
      status: 'unavailable',
      reason: 'metrics.k8s.io: HTTP 503',
    });
  });

  it('with --out, writes the attachments into the directory (never outside it) and gives their paths', async () => {
    const out = join(dir, 'out');
    const r = await cli(['run', 'latency', '--format=json', '--out', out]);
    const report = JSON.parse(r.stdout);
    expect(report.attachments.map((a: { path: string }) => a.path)).toEqual([
      join(out, 'p99.svg'),
      join(out, 'cpu.prof'),
    ]);
    expect(readFileSync(join(out, 'p99.svg'), 'utf8')).toBe('<svg>…</svg>');
    expect(statSync(join(out, 'cpu.prof')).size).toBe(2048);
  });
});

describe('user errors: a message, a non-zero exit, never a stack trace', () => {
  it('when the step is unknown, it names the known steps and exits 1', async () => {
    const r = await cli(['run', 'latncy']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(
      'aegis: unknown step "latncy": known steps are latency\nTry "aegis help" for the steps and their arguments.\n',
    );
  });

  it('when no step is given, it asks which', async () => {
    const r = await cli(['run']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('which step? aegis run <step>: one of latency');
  });

  it("when the step's arguments are wrong, it prints the step's usage", async () => {
    const r = await cli(['run', 'latency', 'banana']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(
      'aegis: "banana" is neither a service nor a window\nusage: aegis run latency [service] [window]',
    );
    expect(r.built).toEqual([]);
  });

  it('when the service is unknown or given twice, it says so', async () => {
    const unknown = await cli(['run', 'latency', '--service', 'nope']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('unknown service "nope": known services are aegis-api, aegis-worker');
    const twice = await cli(['run', 'latency', 'aegis-api', '--service', 'aegis-worker']);
    expect(twice.stderr).toContain('service given twice: "aegis-api" and --service "aegis-worker"');
  });

  it('when an option is unknown or lacks a value, or the format is wrong, exit 1', async () => {
    expect((await cli(['run', 'latency', '--verbose'])).stderr).toContain('unknown option --verbose');
    expect((await cli(['run', 'latency', '--service'])).stderr).toContain('--service needs a value');
    const r = await cli(['run', 'latency', '--format', 'yaml']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('--format must be text or json, got "yaml"');
  });

  it('when the configuration is invalid, it prints every problem with its key path', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      'services:\n  - name: aegis-api\n    deployment: aegis-api\n    prometheus: { url: nope }\nfoo: 1\n',
    );
    const r = await cli(['run', 'latency', '--config', bad]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(`aegis: invalid configuration in ${bad}:`);
    expect(r.stderr).toContain(
      '  - services[0].prometheus.url: expected an http:// or https:// URL, got "nope"',
    );
    expect(r.stderr).toContain('  - (top level): unknown key "foo"');
    expectNoStackTrace(r.stderr);
  });

  it('when a source fails outside the report, it prints the source error and exits 4', async () => {
    const r = await cli(['run', 'latency'], { behaviour: 'source-error' });
    expect(r.code).toBe(EXIT.incomplete);
    expect(r.stderr).toContain('aegis: prometheus: query p99 failed: cannot connect (ECONNREFUSED)');
    expect(r.closed).toBe(1);
    expectNoStackTrace(r.stderr);
  });

  it('when the command is unknown or missing, it prints usage and exits 1', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('aegis: unknown command "frobnicate"');
    const none = await cli([]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain('Usage:\n  aegis run <step>');
  });
});

describe('internal errors', () => {
  it('print a ref, log the cause under the same ref, exit 3, and still close the runtime', async () => {
    const r = await cli(['run', 'latency'], { behaviour: 'bug' });
    expect(r.code).toBe(EXIT.internal);
    const ref = /internal error \(ref ([0-9a-f]{8})\)/.exec(r.stderr)?.[1];
    expect(ref).toBeDefined();
    expectNoStackTrace(r.stderr);
    expect(r.stderr).not.toContain('Cannot read properties');
    const line = JSON.parse(r.log);
    expect(line).toMatchObject({ level: 'error', ref, err: { type: 'TypeError' } });
    expect(line.err.stack).toContain('TypeError');
    expect(r.closed).toBe(1);
  });
});

describe('interrupting', () => {
  it('when the signal aborts a running step, it exits 130', async () => {
    const controller = new AbortController();
    const running = cli(['run', 'latency'], {
      behaviour: 'wait-for-abort',
      deps: { signal: controller.signal },
    });
    setImmediate(() => controller.abort());
    const r = await running;
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.stderr).toContain('aegis: interrupted');
  });
});

describe('aegis help', () => {
  it('lists the commands, the steps with usage and summary, and the exit codes', async () => {
    for (const argv of [['help'], ['--help'], ['run', '--help']]) {
      const r = await cli(argv);
      expect(r.code).toBe(EXIT.ok);
      expect(r.stdout).toContain(
        'aegis run <step> [step args...] [--service S] [--format text|json] [--out DIR]',
      );
      expect(r.stdout).toContain(
        '  latency [service] [window]         Step 1: P99, error rate, CPU and memory',
      );
      expect(r.stdout).toContain('Exit codes:');
    }
  });
});

function check(results: CheckResult[] | Error | 'hang', name?: string): Checkable & { name?: string } {
  return {
    ...(name ? { name } : {}),
    check: (signal) => {
      if (results === 'hang')
        return new Promise((_, reject) =>
          signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        );
      return results instanceof Error ? Promise.reject(results) : Promise.resolve(results);
    },
  };
}

describe('aegis doctor', () => {
  it('prints one line per check and exits 0 when all pass', async () => {
    const r = await cli(['doctor'], {
      checks: [
        check([{ name: 'prometheus aegis-api', ok: true, detail: 'Prometheus 2.53.0 answered in 4 ms' }]),
        check([
          {
            name: 'postgres aegis-api (diagnosis role)',
            ok: true,
            detail: 'PostgreSQL 15.8, pg_stat_statements 1.10',
          },
        ]),
      ],
    });
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toBe(
      [
        `ok   config: ${CONFIG}: 2 services (aegis-api, aegis-worker)`,
        'ok   prometheus aegis-api: Prometheus 2.53.0 answered in 4 ms',
        'ok   postgres aegis-api (diagnosis role): PostgreSQL 15.8, pg_stat_statements 1.10',
        '',
      ].join('\n'),
    );
  });

  it('when a check fails, throws or hangs, it prints FAIL with detail and hint and exits non-zero', async () => {
    const r = await cli(['doctor'], {
      checks: [
        check([
          {
            name: 'postgres aegis-api (diagnosis role)',
            ok: false,
            detail: 'cannot connect to postgres://ro:hunter2@db:5432/aegis (ECONNREFUSED)',
            hint: 'is DATABASE_URL right?',
          },
        ]),
        check(new Error('kubeconfig not found'), 'kubernetes'),
        check('hang'),
      ],
      deps: { checkTimeoutMs: 20 },
    });
    expect(r.code).toBe(EXIT.incomplete);
    expect(r.stdout.split('\n').slice(1, 4)).toEqual([
      'FAIL postgres aegis-api (diagnosis role): cannot connect to postgres://ro:***@db:5432/aegis (ECONNREFUSED) (is DATABASE_URL right?)',
      'FAIL kubernetes: kubeconfig not found',
      'FAIL check 3: no answer within 20 ms',
    ]);
    expect(r.closed).toBe(1);
  });

  it('when the configuration is invalid, it fails the config check, lists the problems, builds no runtime', async () => {
    const bad = join(dir, 'two-defaults.yml');
    writeFileSync(
      bad,
      'services:\n  - { name: a, deployment: a, default: true }\n  - { name: b, deployment: b, default: true }\n',
    );
    const r = await cli(['doctor'], { env: { AEGIS_CONFIG: bad } });
    expect(r.code).toBe(EXIT.usage);
    expect(r.stdout).toBe(
      `FAIL config: ${bad} is not valid (see aegis.example.yml)\n       - services: expected exactly one service with default: true, found 2 (a, b)\n`,
    );
    expect(r.built).toEqual([]);
  });

  it('with no checks in the runtime, it checks the configuration and says so', async () => {
    const r = await cli(['doctor']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('note: no source checks are configured in this runtime');
  });
});

describe('aegis analyze', () => {
  const dump = join(dir, 'goroutines.txt');
  writeFileSync(
    dump,
    [
      'goroutine 1 [running]:',
      'main.main()',
      '\t/app/main.go:10 +0x1d',
      '',
      'goroutine 7 [chan receive, 12 minutes]:',
      'main.worker(0xc000010000)',
      '\t/app/worker.go:22 +0x45',
      'created by main.start in goroutine 1',
      '\t/app/worker.go:15 +0x2a',
      '',
    ].join('\n'),
  );

  it('analyzes a saved goroutine dump without configuration or sources', async () => {
    const r = await cli(['analyze', dump], { env: { AEGIS_CONFIG: join(dir, 'absent.yml') } });
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toContain('Goroutines: 2');
    expect(r.built).toEqual([]);
    const json = await cli(['analyze', dump, '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'goroutines', total: 2 });
  });

  it('when the file is missing or not given, it exits 1 with a message', async () => {
    const missing = await cli(['analyze', join(dir, 'cpu.prof')]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain('cpu.prof: no such file');
    expect((await cli(['analyze'])).stderr).toContain(
      'which file? aegis analyze <profile or goroutine dump>',
    );
  });

  it('refuses its options on other commands', async () => {
    const r = await cli(['run', 'latency', '--top', '10']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('--top applies to aegis analyze only');
    expect((await cli(['run', 'cpu', '--base', 'old.pb.gz'])).stderr).toContain(
      '--base applies to aegis analyze only',
    );
    expect((await cli(['analyze', dump, '--top', 'ten'])).stderr).toContain(
      '--top must be a number of rows, got "ten"',
    );
  });
});
