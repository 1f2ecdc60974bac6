import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppError, SourceError } from '../../../src/domain/errors.ts';
import type { Finding } from '../../../src/domain/finding.ts';
import { encodeProfile } from '../../../src/lib/pprof/encode.ts';
import type {
  FetchedProfile,
  FetchOptions,
  PprofKind,
  PprofPort,
  ProfileTarget,
  RunningCapture,
} from '../../../src/sources/pprof.ts';
import type { ProfilingSources } from '../../../src/steps/profiling/capture.ts';
import { CPU_STEP, cpuStep } from '../../../src/steps/profiling/cpu.ts';
import { goroutinesStep } from '../../../src/steps/profiling/goroutines.ts';
import { HEAP_STEP } from '../../../src/steps/profiling/heap.ts';
import { BACKTRACKING_BOMB, manyLongNamesSpec } from '../../lib/pprof/long-names.ts';
import { GENERATE_TIMEOUT_MS, type GeneratedProfiles, generateProfiles } from './go-pprof.ts';
import { profilingConfig, stepContext } from './support.ts';

let gen: GeneratedProfiles;
beforeAll(async () => {
  gen = await generateProfiles({ cpu: '2s', leaks: 120 });
}, GENERATE_TIMEOUT_MS);
afterAll(async () => {
  await gen?.cleanup();
});

const config = profilingConfig({ mode: 'url', baseUrl: 'http://aegis-api:6060' });

/** A pprof port that serves files, records what it was asked, and can fail on demand. */
class FilePort implements PprofPort {
  readonly calls: { kind: PprofKind; options: FetchOptions }[] = [];
  private readonly files: Partial<Record<string, string | (() => Promise<Buffer>)>>;
  private readonly fail: Partial<Record<PprofKind, Error>>;
  constructor(
    files: Partial<Record<string, string | (() => Promise<Buffer>)>>,
    fail: Partial<Record<PprofKind, Error>> = {},
  ) {
    this.files = files;
    this.fail = fail;
  }
  async resolveTarget(pod: string | undefined): Promise<ProfileTarget> {
    return pod
      ? { pod, label: pod, chosen: 'named' }
      : { pod: 'aegis-api-7d9f-busy', label: 'aegis-api-7d9f-busy', chosen: 'busiest' };
  }
  running(): RunningCapture | undefined {
    return undefined;
  }
  async fetch(kind: PprofKind, options: FetchOptions = {}): Promise<FetchedProfile> {
    this.calls.push({ kind, options });
    const err = this.fail[kind];
    if (err) throw err;
    const f = this.files[kind];
    if (!f) throw new SourceError('pprof aegis-api', `fetch ${kind}`, 'http_error', 'HTTP 404');
    const bytes = typeof f === 'string' ? await readFile(f) : await f();
    const target = options.target ?? (await this.resolveTarget(options.pod));
    return {
      kind,
      target,
      bytes,
      contentType: 'application/octet-stream',
      startedAt: new Date('2026-03-01T10:11:12Z'),
      finishedAt: new Date('2026-03-01T10:11:42Z'),
      joined: false,
      path: `/debug/pprof/${kind}`,
      ...(options.seconds ? { seconds: options.seconds } : {}),
    };
  }
}

function sources(port: PprofPort | undefined): ProfilingSources {
  return { pprof: () => port };
}

const ids = (fs: readonly Finding[]) => fs.map((f) => f.id);

describe('/aegis cpu: arguments', () => {
  const parse = (words: string[]) => CPU_STEP.parse(words, { config });
  it('defaults to 30 seconds and the busiest pod', () => {
    expect(parse([])).toEqual({ seconds: 30 });
  });
  it('takes seconds and a pod in either order, and list <function>', () => {
    expect(parse(['60', 'aegis-api-7d9f-x2'])).toEqual({ seconds: 60, pod: 'aegis-api-7d9f-x2' });
    expect(parse(['aegis-api-7d9f-x2', '10s', 'list', 'main\\.encode.*'])).toEqual({
      seconds: 10,
      pod: 'aegis-api-7d9f-x2',
      list: 'main\\.encode.*',
    });
  });
  it('takes a configured service name as the service', () => {
    expect(parse(['aegis-api', '5'])).toEqual({ seconds: 5, service: 'aegis-api' });
  });
  it('refuses seconds outside 5 to 120 with a clear message', () => {
    for (const bad of ['4', '121', '0', '2.5']) {
      expect(() => parse([bad])).toThrow(/a CPU profile lasts 5 to 120 whole seconds/);
    }
    expect(() => parse(['121'])).toThrow(AppError);
  });
  it('refuses a list pattern that is not RE2 syntax (a backreference, a lookahead) with a usage message', () => {
    for (const bad of ['(a)\\1', 'main(?=\\.)']) {
      const e = (() => {
        try {
          parse(['list', bad]);
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(AppError);
      expect(e).toMatchObject({ code: 'usage' });
      expect((e as Error).message).toMatch(/list pattern .* is not valid RE2 syntax/);
    }
    expect(() => HEAP_STEP.parse(['list', '(a)\\1'], { config })).toThrow(/is not valid RE2 syntax/);
  });
  it('refuses a pod name that is not RFC 1123', () => {
    expect(() => parse(['Aegis_API'])).toThrow(/neither a service nor a pod name/);
    expect(() => parse(['pod-a', 'pod-b'])).toThrow(/two pods/);
  });
});

describe('/aegis cpu: the report', () => {
  it('reports the top functions, the known issues with the runbook fix, and attaches the profile and a flame graph', async () => {
    const port = new FilePort({ profile: () => readFile(gen.cpu) });
    const { ctx, updates } = stepContext(config, sources(port));
    const result = await CPU_STEP.run(ctx, { seconds: 30 });
    expect(port.calls[0]).toMatchObject({ kind: 'profile', options: { seconds: 30 } });
    // pprofgen's hot loop is half the CPU: the dominant-function detector names it and its caller.
    expect(result.headline).toMatch(
      /^CPU: \d+% in (main\.hotLoop via main\.cpuWork|regexp\.\S+ via main\.compilePatterns) (CRITICAL|WARNING) — /,
    );
    // worst first: whichever of the two is more severe leads, with the report's severity word
    expect(result.headline).toContain(result.severity === 'critical' ? 'CRITICAL' : 'WARNING');
    const dominant = result.findings.find((f) => f.id === 'cpu.dominant');
    expect(dominant?.advice?.longTerm).toContain('Optimize hot code paths');
    // pprofgen compiles a regexp in a loop: the runbook's "compile once, reuse"
    const re = result.findings.find((f) => f.id === 'cpu.regexp');
    expect(re?.advice?.quickFix[0]).toMatch(/Compile the regular expression once/);
    expect(JSON.stringify(re?.evidence)).toContain('main.compilePatterns');
    const top = result.findings.find((f) => f.id === 'cpu.top');
    const table = top?.evidence[0];
    expect(table?.type === 'table' && table.columns).toEqual([
      'flat',
      'flat%',
      'sum%',
      'cum',
      'cum%',
      'function',
    ]);
    expect(table?.type === 'table' && table.rows.length).toBe(10);
    expect(table?.type === 'table' && table.rows[0]?.[5]).toBe('main.hotLoop');
    expect(ids(result.findings)).toContain('cpu.list');
    const [raw, png] = result.attachments;
    expect(raw).toMatchObject({
      filename: 'cpu-aegis-api-7d9f-busy-20260301T101112Z.pb.gz',
      mimeType: 'application/octet-stream',
    });
    expect(Buffer.compare(Buffer.from(raw?.content as Uint8Array), await readFile(gen.cpu))).toBe(0);
    expect(png).toMatchObject({
      filename: 'cpu-aegis-api-7d9f-busy-20260301T101112Z-flamegraph.png',
      mimeType: 'image/png',
      image: true,
    });
    expect(
      Buffer.from(png?.content as Uint8Array)
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect(result.nextSteps.map((s) => s.step)).toEqual(['heap', 'goroutines']);
    expect(result.parts.every((p) => p.status === 'ok')).toBe(true);
    expect(updates[0]).toMatchObject({
      name: 'pprof',
      status: 'running',
      reason: 'capturing a 30 s CPU profile of aegis-api-7d9f-busy',
    });
  });

  it('answers list <function> with the per-line breakdown', async () => {
    const port = new FilePort({ profile: gen.cpu });
    const { ctx } = stepContext(config, sources(port));
    const result = await CPU_STEP.run(ctx, { seconds: 5, list: 'main\\.hotLoop' });
    const list = result.findings.find((f) => f.id === 'cpu.list');
    const code = list?.evidence[0];
    expect(code?.type === 'code' && code.title).toMatch(/^list main\.hotLoop \(.*gen\/main\.go\)$/);
    expect(code?.type === 'code' && code.text).toMatch(/total \(flat, cum\)/);
  });

  it('answers list with the backtracking bomb over thousands of long names (a linear-time engine)', async () => {
    const bytes = gzipSync(encodeProfile(manyLongNamesSpec(5000)));
    const port = new FilePort({ profile: async () => bytes });
    const { ctx } = stepContext(config, sources(port));
    const result = await CPU_STEP.run(ctx, { seconds: 5, list: BACKTRACKING_BOMB });
    const list = result.findings.find((f) => f.id === 'cpu.list');
    expect(list?.title).toBe('Line breakdown: main.handleQ');
  });

  it('marks the profile unavailable (and still answers) when the endpoint fails', async () => {
    const port = new FilePort(
      {},
      {
        profile: new SourceError(
          'pprof aegis-api',
          'fetch 30 s CPU profile of x',
          'timeout',
          'no complete answer within 40 s',
        ),
      },
    );
    const { ctx } = stepContext(config, sources(port));
    const result = await CPU_STEP.run(ctx, { seconds: 30 });
    expect(result.severity).toBe('unavailable');
    expect(result.headline).toMatch(/CPU profile unavailable: .*no complete answer within 40 s/);
    expect(result.parts).toEqual([
      { name: 'pprof', status: 'unavailable', reason: expect.stringMatching(/no complete answer/) },
    ]);
  });

  it('says the answer is not a profile when the endpoint sends something else', async () => {
    const port = new FilePort({ profile: async () => Buffer.from('<html>login</html>') });
    const { ctx } = stepContext(config, sources(port));
    const result = await CPU_STEP.run(ctx, { seconds: 30 });
    expect(result.severity).toBe('unavailable');
    expect(result.headline).toMatch(/not a usable profile: .*not a gzip-compressed pprof profile.*HTML/);
  });

  it('says so when the service has no pprof endpoint', async () => {
    const { ctx } = stepContext(config, sources(undefined));
    const result = await CPU_STEP.run(ctx, { seconds: 30 });
    expect(result.findings[0]?.summary).toMatch(/no pprof endpoint configured for service aegis-api/);
  });

  it('keeps the report when the flame graph cannot be drawn', async () => {
    const port = new FilePort({ profile: gen.cpu });
    const { ctx } = stepContext(config, {
      ...sources(port),
      rasterize: async () => {
        throw new Error('no font');
      },
    });
    const result = await cpuStep().run(ctx, { seconds: 5 });
    expect(result.parts.find((p) => p.name === 'flame graph')).toEqual({
      name: 'flame graph',
      status: 'unavailable',
      reason: 'no font',
    });
    expect(result.attachments.map((a) => a.mimeType)).toEqual(['application/octet-stream']);
  });
});

describe('/aegis heap: the report', () => {
  it('reports memory in use and allocated, names retained objects with the runbook fix, attaches the profile', async () => {
    const port = new FilePort({ heap: gen.heap });
    const { ctx } = stepContext(config, sources(port));
    const result = await HEAP_STEP.run(ctx, { pod: 'aegis-api-7d9f-x2' });
    // pprofgen keeps 128 buffers of 64 kB: about 8 MiB retained by main.retainBuffers, well over the
    // detector's 4 MiB floor whatever the sampling
    const retained = result.findings.find((f) => f.id === 'heap.retained');
    expect(retained?.title).toMatch(
      /^Large retained objects from main\.retainBuffers: [\d.]+MB \(\d+% of the heap in use\)$/,
    );
    expect(retained?.advice?.longTerm[0]).toMatch(/held references prevent GC/);
    const top = result.findings.find((f) => f.id === 'heap.top');
    expect(top?.evidence.map((e) => (e.type === 'table' ? e.title : ''))).toEqual([
      expect.stringMatching(/by memory in use \(inuse_space\)/),
      expect.stringMatching(/by bytes allocated \(alloc_space\)/),
    ]);
    expect(result.attachments[0]?.filename).toBe('heap-aegis-api-7d9f-x2-20260301T101112Z.pb.gz');
    expect(result.nextSteps).toEqual([
      { label: 'CPU profile of aegis-api-7d9f-x2', step: 'cpu', args: ['aegis-api-7d9f-x2'] },
      { label: 'Goroutines of aegis-api-7d9f-x2', step: 'goroutines', args: ['aegis-api-7d9f-x2'] },
    ]);
  });

  it('takes [pod] and list, but no seconds', () => {
    expect(HEAP_STEP.parse(['aegis-api-1', 'list', 'main.retain'], { config })).toEqual({
      pod: 'aegis-api-1',
      list: 'main.retain',
    });
    expect(() => HEAP_STEP.parse(['30'], { config })).not.toThrow(/seconds/);
  });
});

describe('/aegis goroutines: the report', () => {
  it('takes two samples, reports the total, its growth, the groups and the leak suspects', async () => {
    let n = 0;
    const first = await readFile(gen.debug2, 'utf8');
    // The second sample has 300 more leaked goroutines of the same kind.
    const block = first
      .split('\n\n')
      .find((b) => b.includes('[chan receive]') && b.includes('main.blockedReceiver')) as string;
    const extra = Array.from({ length: 300 }, (_, i) =>
      block.replace(/^goroutine \d+/, `goroutine ${100000 + i}`),
    ).join('\n\n');
    const port = new FilePort({
      goroutine: async () => Buffer.from(n++ === 0 ? first : `${first.trimEnd()}\n\n${extra}\n`),
      mutex: gen.mutex,
    });
    const { ctx, updates } = stepContext(config, sources(port));
    const result = await goroutinesStep({ intervalMs: 10 }).run(ctx, {});
    expect(port.calls.filter((c) => c.kind === 'goroutine').map((c) => c.options.debug)).toEqual([2, 2]);
    expect(result.findings.find((f) => f.id === 'goroutines.total')?.title).toMatch(
      /^\d{3} goroutines \(\+300 in /,
    );
    expect(ids(result.findings)).toContain('goroutines.growth');
    const leak = result.findings.find((f) => f.id.startsWith('goroutines.leak.main.startLeaks.chan'));
    expect(leak?.title).toBe(
      'Goroutine leak suspect: 420 goroutines blocked in chan receive, started by main.startLeaks',
    );
    expect(leak?.advice?.longTerm[0]).toMatch(/context/);
    // the leak (critical: it grew) leads over the bare growth (a warning), with the report's word
    expect(result.severity).toBe('critical');
    expect(result.headline).toMatch(/^Goroutines: Goroutine leak suspect: .* CRITICAL$/);
    expect(result.attachments[0]).toMatchObject({
      mimeType: 'text/plain',
      filename: expect.stringMatching(/^goroutines-aegis-api-7d9f-busy-.*\.txt$/),
    });
    // the mutex profile did not change between the samples: no contention reported from it
    expect(result.parts.find((p) => p.name === 'mutex profile')?.status).toBe('ok');
    expect(
      updates.some((u) => u.name === 'goroutines (2nd sample)' && /second sample in/.test(u.reason ?? '')),
    ).toBe(true);
  });

  it('still reports when the mutex profile cannot be had', async () => {
    const port = new FilePort({ goroutine: gen.debug2 });
    const { ctx } = stepContext(config, sources(port));
    const result = await goroutinesStep({ intervalMs: 1 }).run(ctx, {});
    expect(result.parts.find((p) => p.name === 'mutex profile')).toMatchObject({ status: 'unavailable' });
    expect(result.findings.find((f) => f.id === 'goroutines.total')).toBeDefined();
  });
});

describe('the steps are registered', () => {
  it('cpu, heap and goroutines are in the registry', async () => {
    const { STEPS } = await import('../../../src/steps/registry.ts');
    expect(STEPS.map((s) => s.name)).toEqual(expect.arrayContaining(['cpu', 'heap', 'goroutines']));
  });
});
