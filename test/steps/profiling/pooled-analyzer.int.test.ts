import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticSpec } from '../../../bench/support/synthetic-profile.ts';
import { encodeProfile } from '../../../src/lib/pprof/encode.ts';
import type { FetchedProfile, PprofPort, ProfileTarget } from '../../../src/sources/pprof.ts';
import { INLINE_ANALYZER, type ProfileAnalyzer } from '../../../src/steps/profiling/analyzer.ts';
import { cpuStep } from '../../../src/steps/profiling/cpu.ts';
import { createPooledAnalyzer, type PooledAnalyzer } from '../../../src/steps/profiling/pooled-analyzer.ts';
import type { CpuAnalysisInput, HeapAnalysisInput } from '../../../src/steps/profiling/profile-analysis.ts';
import { type GeneratedProfiles, generateProfiles } from './go-pprof.ts';
import { profilingConfig, stepContext } from './support.ts';

let gen: GeneratedProfiles;
// inlineBelowBytes 0: every input, however small, goes through a worker
let pooled: PooledAnalyzer;
beforeAll(async () => {
  gen = await generateProfiles({ cpu: '1s', leaks: 120 });
  pooled = createPooledAnalyzer({ size: 2, inlineBelowBytes: 0 });
}, 60_000);
afterAll(async () => {
  await pooled?.close();
  await gen?.cleanup();
});

const target: ProfileTarget = { pod: 'aegis-api-7d9f', label: 'aegis-api-7d9f', chosen: 'busiest' };
const capture = {
  service: 'aegis-api',
  target,
  startedAt: '2026-03-01T10:11:12.000Z',
  joined: false,
  base: 'cpu-aegis-api-7d9f-20260301T101112Z',
};
const input = (bytes: Uint8Array, extra: Partial<CpuAnalysisInput> = {}): CpuAnalysisInput => ({
  bytes,
  name: 'CPU profile of aegis-api-7d9f',
  maxDecompressedBytes: 2 ** 30,
  capture,
  seconds: 1,
  ...extra,
});

const heapInput = (bytes: Uint8Array): HeapAnalysisInput => ({
  bytes,
  name: 'heap profile of aegis-api-7d9f',
  maxDecompressedBytes: 2 ** 30,
  capture: { ...capture, base: 'heap-aegis-api-7d9f-20260301T101112Z' },
});

/** The same call on both analyzers: the answers, or the errors (class, message and fields). */
async function both<T>(call: (a: ProfileAnalyzer) => Promise<T>): Promise<[unknown, unknown]> {
  const settle = (p: Promise<T>) =>
    p.then(
      (value) => ({ value }),
      (e: Error) => ({ error: { class: e.constructor.name, ...e, message: e.message } }),
    );
  return [await settle(call(INLINE_ANALYZER)), await settle(call(pooled))];
}

describe('the profile analysis in worker threads', () => {
  it('reports a real CPU profile exactly as the inline analysis does, flame graph included', async () => {
    const bytes = await readFile(gen.cpu);
    const [inline, worker] = await both((a) => a.cpu(input(bytes)));
    expect(worker).toEqual(inline);
    expect((inline as { value: { findings: unknown[] } }).value.findings.length).toBeGreaterThan(1);
    expect(await both((a) => a.cpu(input(bytes, { list: 'main\\.' })))).toSatisfy(([x, y]) => {
      expect(y).toEqual(x);
      return true;
    });
  });

  it('reports a real heap profile exactly as the inline analysis does', async () => {
    const bytes = await readFile(gen.heap);
    const [inline, worker] = await both((a) =>
      a.heap({ ...heapInput(bytes), capture: { ...capture, base: 'heap' } }),
    );
    expect(worker).toEqual(inline);
  });

  it('finds the same hot paths and the same comparison with the previous capture as the inline analysis', async () => {
    const bytes = await readFile(gen.cpu);
    const heap = await readFile(gen.heap);
    // the previous capture: another CPU profile (a synthetic one, other functions and weights)
    const earlier = gzipSync(encodeProfile(syntheticSpec(20_000, 7)));
    const base = (b: Uint8Array) => ({
      bytes: b,
      name: 'the previous cpu capture of aegis-api-5c4b',
      label: 'the capture of aegis-api-5c4b at 2026-03-01T09:00:00.000Z',
    });
    const ids = (r: unknown) =>
      (r as { value: { findings: { id: string }[] } }).value.findings.map((f) => f.id);

    const [inline, worker] = await both((a) =>
      a.cpu(input(bytes, { base: base(earlier), appPackages: ['main'] })),
    );
    expect(worker).toEqual(inline);
    expect(ids(inline)).toEqual(expect.arrayContaining(['cpu.hot-paths', 'cpu.diff']));

    const [heapInline, heapWorker] = await both((a) => a.heap({ ...heapInput(heap), base: base(heap) }));
    expect(heapWorker).toEqual(heapInline);
    expect(ids(heapInline)).toEqual(expect.arrayContaining(['heap.hot-paths', 'heap.diff']));

    // a base that cannot be compared (a heap profile under a CPU one): the same reason, no finding
    const [badInline, badWorker] = await both((a) => a.cpu(input(bytes, { base: base(heap) })));
    expect(badWorker).toEqual(badInline);
    expect(ids(badInline)).not.toContain('cpu.diff');
    expect((badInline as { value: { comparisonError?: string } }).value.comparisonError).toMatch(
      /different sample types/,
    );
  });

  it('groups real goroutine dumps (debug=1 and debug=2) and finds the same issues', async () => {
    for (const file of [gen.debug1, gen.debug2]) {
      const text = await readFile(file, 'utf8');
      const [inline, worker] = await both((a) => a.goroutineDump(text));
      expect(worker).toEqual(inline);
      const dump = (inline as { value: Awaited<ReturnType<ProfileAnalyzer['goroutineDump']>> }).value;
      expect(dump.total).toBeGreaterThan(100);
      const samples = { first: dump, second: dump, intervalMs: 5000, target: 'aegis-api-7d9f' };
      const [r1, r2] = await both((a) => a.goroutineReport(samples, { leakMinCount: 20 }));
      expect(r2).toEqual(r1);
    }
  });

  it('reads the mutex profile and draws the same PNG', async () => {
    const mutex = await readFile(gen.mutex);
    const [m1, m2] = await both((a) => a.mutexSites(mutex));
    expect(m2).toEqual(m1);
    const cpu = (await INLINE_ANALYZER.cpu(input(await readFile(gen.cpu)))).flame;
    if (!cpu || 'error' in cpu) throw new Error('no flame graph');
    const [p1, p2] = await both((a) => a.rasterize(cpu.svg));
    expect(p2).toEqual(p1);
  });

  it('gives the same errors for input that is not a profile or a dump', async () => {
    const cases: ((a: ProfileAnalyzer) => Promise<unknown>)[] = [
      (a) => a.cpu(input(Buffer.from('<html>404 page not found</html>'))),
      (a) => a.cpu(input(gzipSync(Buffer.from('garbage that is no protobuf at all')))),
      (a) => a.heap(heapInput(gzipSync(Buffer.alloc(10_000, 1)).subarray(0, 500))),
      (a) => a.cpu(input(new Uint8Array(0))),
      (a) => a.mutexSites(Buffer.from('goroutine 1 [running]:\n')),
      (a) => a.goroutineDump('hello, not a dump'),
    ];
    for (const call of cases) {
      const [inline, worker] = await both(call);
      expect(inline).toHaveProperty('error');
      expect(worker).toEqual(inline);
    }
  });
});

/** Serves one profile as every capture. */
function profilePort(bytes: Buffer): PprofPort {
  return {
    resolveTarget: async () => target,
    running: () => undefined,
    fetch: async (kind): Promise<FetchedProfile> => ({
      kind,
      target,
      bytes,
      contentType: 'application/octet-stream',
      startedAt: new Date('2026-03-01T10:11:12Z'),
      finishedAt: new Date('2026-03-01T10:11:42Z'),
      joined: false,
      path: '/debug/pprof/profile',
    }),
  };
}

/**
 * Runs the CPU step on `bytes` with a heartbeat chained through setImmediate (one beat per turn of
 * the event loop) from the moment the analysis starts: answers the order of the analysis' progress
 * and of "another command's ack" sent 1,000 turns later, and how many turns the loop made meanwhile.
 */
async function analyseWithHeartbeat(
  bytes: Buffer,
  analyzer: ProfileAnalyzer,
): Promise<{ events: string[]; beats: number }> {
  const config = profilingConfig({ mode: 'url', baseUrl: 'http://aegis-api:6060' });
  const { ctx } = stepContext(config, { pprof: () => profilePort(bytes), analyzer });
  const events: string[] = [];
  let beats = 0;
  let beating = false;
  let beatsInAnalysis = 0;
  const beat = () => {
    if (!beating) return;
    beats += 1;
    if (beats === 1000) events.push('ack after 1000 turns');
    setImmediate(beat);
  };
  const result = await cpuStep().run(
    {
      ...ctx,
      progress: (u) => {
        if (u.name !== 'analysis') return;
        events.push(`analysis ${u.status}`);
        if (u.status === 'running') {
          beating = true;
          setImmediate(beat);
        } else {
          beating = false;
          beatsInAnalysis = beats;
        }
      },
    },
    { seconds: 30 },
  );
  expect(result.parts.find((p) => p.name === 'analysis')?.status).toBe('ok');
  return { events, beats: beatsInAnalysis };
}

describe('while a large profile is analysed', () => {
  it('the event loop keeps turning: another command acked 1,000 turns after the analysis began is answered before it ends', async () => {
    // 50,000 samples: far above the size analysed inline, and a few hundred ms of analysis
    const bytes = gzipSync(encodeProfile(syntheticSpec(50_000)));
    const analyzer = createPooledAnalyzer({ size: 1 });
    try {
      const pooledRun = await analyseWithHeartbeat(bytes, analyzer);
      expect(pooledRun.events).toEqual(['analysis running', 'ack after 1000 turns', 'analysis ok']);
      expect(analyzer.pool.stats().workers).toBe(1);
      // the same analysis inline turns the loop only while the gzip stream is read, then blocks it
      const inlineRun = await analyseWithHeartbeat(bytes, INLINE_ANALYZER);
      expect(pooledRun.beats).toBeGreaterThan(inlineRun.beats);
    } finally {
      await analyzer.close();
    }
  });
});
