/**
 * The profiling steps against the real Go test bed (test/testbed/aegis-api), one instance per
 * pathology: the right detector fires and the others stay quiet, the reports' top tables equal
 * `go tool pprof -top` on the same profiles, and a running capture blocks nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { profileCaptures } from '../../../src/compose.ts';
import type { Finding, StepResult } from '../../../src/domain/finding.ts';
import { CaptureRegistry, PprofSource } from '../../../src/sources/pprof.ts';
import type { ProfilingSources } from '../../../src/steps/profiling/capture.ts';
import { cpuStep } from '../../../src/steps/profiling/cpu.ts';
import { goroutinesStep } from '../../../src/steps/profiling/goroutines.ts';
import { heapStep } from '../../../src/steps/profiling/heap.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { type AegisApi, type PathologyName, startAegisApi } from '../../support/testbed.ts';
import { goToolPprofTop } from './go-pprof.ts';
import { profilingConfig, stepContext } from './support.ts';

const bed = inject('testbed');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'aegis-testbed-profiles-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const CPU = cpuStep();
const HEAP = heapStep();
const GOROUTINES = goroutinesStep({ intervalMs: 3000 });

function setup(api: AegisApi, captures = new CaptureRegistry()) {
  const config = profilingConfig({ mode: 'url', baseUrl: api.pprofUrl });
  const sources: ProfilingSources = { pprof: (service) => new PprofSource(service, { captures }) };
  return { config, sources };
}

/** The detector findings of a report (not the top tables, line lists and totals). */
function detectors(result: StepResult): string[] {
  return (
    result.findings
      .map((f) => f.id)
      // the hot-path list and what it names beneath the service's functions are tested on their own
      .filter((id) => !/\.(top|list|no-known-issue|total|unavailable|hot-paths)$|\.hot-path\./.test(id))
      .map((id) => id.replace(/^(goroutines\.(leak|mutex))\..*$/, '$1'))
  );
}

function finding(result: StepResult, prefix: string): Finding | undefined {
  return result.findings.find((f) => f.id.startsWith(prefix));
}

async function withInstance<T>(
  pathologies: PathologyName[],
  loadRps: number,
  fn: (api: AegisApi) => Promise<T>,
): Promise<T> {
  const api = await startAegisApi(bed, { pathologies, loadRps });
  try {
    return await fn(api);
  } finally {
    await api.stop();
  }
}

/** The CPU report's top table equals what go tool pprof -top -nodecount=10 prints for the same file. */
async function expectTopMatchesPprof(result: StepResult) {
  const raw = result.attachments.find((a) => a.filename.endsWith('.pb.gz'));
  expect(raw).toBeDefined();
  const file = path.join(tmp, raw?.filename as string);
  await writeFile(file, raw?.content as Uint8Array);
  const pprof = await goToolPprofTop(file, ['-nodecount=10']);
  const table = finding(result, 'cpu.top')?.evidence[0];
  if (table?.type !== 'table') throw new Error('no top table');
  expect(table.rows).toEqual(
    pprof.rows.map((r) => [r.flat, r.flatPercent, r.sumPercent, r.cum, r.cumPercent, r.name]),
  );
}

async function runCpu(api: AegisApi) {
  const { config, sources } = setup(api);
  const { ctx } = stepContext(config, sources);
  return CPU.run(ctx, { seconds: 5 });
}

describe('CPU pathologies: the right detector fires, the others stay quiet', () => {
  const cases: [PathologyName, string, RegExp][] = [
    ['regexp-per-request', 'cpu.regexp', /main\.compileFilterPerRequest/],
    ['json-heavy', 'cpu.json', /main\.encodeReportJSON/],
    ['excessive-logging', 'cpu.logging', /main\.logRequestVerbose/],
  ];
  for (const [pathology, id, caller] of cases) {
    it(`${pathology}: ${id}, naming the caller, and nothing else`, async () => {
      const result = await withInstance([pathology], 150, runCpu);
      expect(detectors(result)).toEqual([id]);
      const f = finding(result, id);
      expect(JSON.stringify(f?.evidence)).toMatch(caller);
      expect(result.headline).toMatch(caller);
      expect(f?.advice?.quickFix.length).toBeGreaterThan(0);
      await expectTopMatchesPprof(result);
    }, 60_000);
  }
});

describe("the service's own hot paths on the test bed", () => {
  it('json-heavy: main.encodeReportJSON is listed with encoding/json named beneath it and the runbook fix', async () => {
    const result = await withInstance(['json-heavy'], 150, runCpu);
    const hot = finding(result, 'cpu.hot-paths');
    const table = hot?.evidence[0];
    if (table?.type !== 'table') throw new Error('no hot-path table');
    expect(table.title).toMatch(/^Your code \(main\.\)/);
    const row = table.rows.find((r) => r[0] === 'main.encodeReportJSON');
    expect(row?.[3]).toMatch(/^encoding\/json\.Marshal 100%/);
    expect(row?.[4]).toMatch(
      /^JSON serialization \(encoding\/json\): \d+% of it → Use a faster JSON encoder: sonic or jsoniter \(runbook Step 2\)/,
    );
    // told once with the fix: by the global JSON detector naming it as the caller, or else by a
    // hot-path finding of its own (when the JSON share is under the global bar)
    const told = result.findings.filter(
      (f) =>
        (f.id === 'cpu.json' || f.id.startsWith('cpu.hot-path.json')) &&
        JSON.stringify(f.evidence).includes('main.encodeReportJSON'),
    );
    expect(told).toHaveLength(1);
    expect(told[0]?.advice?.longTerm[0]).toMatch(/sonic or jsoniter/);
  }, 60_000);
});

describe('a capture compared with the previous one of the service', () => {
  it('json-heavy switched on between two /aegis cpu: the second report names main.encodeReportJSON among the functions whose share grew most', async () => {
    const store = new MemoryStore();
    const result = await withInstance([], 150, async (api) => {
      const { config } = setup(api);
      const sources: ProfilingSources = {
        pprof: (service) => new PprofSource(service, { captures: new CaptureRegistry() }),
        captures: profileCaptures(store),
      };
      const first = await CPU.run(stepContext(config, sources).ctx, { seconds: 5 });
      expect(finding(first, 'cpu.diff')).toBeUndefined();
      expect(first.parts.find((p) => p.name === 'comparison')?.reason).toMatch(/no earlier capture/);
      await api.setPathology('json-heavy', true);
      return CPU.run(stepContext(config, sources).ctx, { seconds: 5 });
    });
    const diff = finding(result, 'cpu.diff');
    const grown = diff?.evidence[0];
    if (grown?.type !== 'table') throw new Error('no table of grown functions');
    const names = grown.rows.map((r) => r[0]);
    expect(names).toContain('main.encodeReportJSON');
    expect(diff?.title).toMatch(/^Since the capture of 127\.0\.0\.1-?[:\d]+ at /);
    // beneath: the rows of go tool pprof -top -cum -diff_base (their parity: diff-peek.int.test.ts)
    const table = diff?.evidence[1];
    expect(table?.type === 'table' ? table.title : '').toMatch(/go tool pprof -top -cum -diff_base/);
  }, 90_000);
});

describe('memory pathologies: the right detector fires, the others stay quiet', () => {
  const cases: [PathologyName, string, RegExp][] = [
    ['slice-growth', 'heap.slice-growth', /main\.appendAuditTrail/],
    ['string-concat', 'heap.string-concat', /main\.buildCSVConcat/],
    ['retained-objects', 'heap.retained', /main\.retainSnapshot/],
  ];
  for (const [pathology, id, fn] of cases) {
    it(`${pathology}: ${id} in ${fn.source.replace(/\\/g, '')}, and nothing else`, async () => {
      const result = await withInstance([pathology], 100, async (api) => {
        const { config, sources } = setup(api);
        // Memory builds up with the requests: take heap profiles until the pathology shows.
        let last: StepResult | undefined;
        for (let attempt = 0; attempt < 10; attempt++) {
          await new Promise((r) => setTimeout(r, 1500));
          last = await HEAP.run(stepContext(config, sources).ctx, {});
          if (finding(last, id)) break;
        }
        return last as StepResult;
      });
      expect(detectors(result)).toEqual([id]);
      expect(finding(result, id)?.title).toMatch(fn);
      expect(result.headline).toMatch(fn);
    }, 90_000);
  }
});

describe('goroutine pathologies: the right detector fires, the others stay quiet', () => {
  it('goroutine-leak: leak suspects started by main.startLeakyWorkers, growing; no contention', async () => {
    const result = await withInstance(['goroutine-leak'], 100, async (api) => {
      const { config, sources } = setup(api);
      return GOROUTINES.run(stepContext(config, sources).ctx, {});
    });
    expect(detectors(result).sort()).toEqual(['goroutines.growth', 'goroutines.leak']);
    const leak = finding(result, 'goroutines.leak');
    expect(leak?.title).toMatch(/goroutines blocked in chan receive, started by main\.startLeakyWorkers$/);
    expect(JSON.stringify(leak?.evidence)).toMatch(/main\.leakyWorker/);
  }, 60_000);

  it('mutex-hotspot: contention on the lock in main.lockedCounterUpdate; no leak, no growth', async () => {
    const result = await withInstance(['mutex-hotspot'], 100, async (api) => {
      const { config, sources } = setup(api);
      return GOROUTINES.run(stepContext(config, sources).ctx, {});
    });
    expect(detectors(result)).toEqual(['goroutines.mutex']);
    expect(finding(result, 'goroutines.mutex')?.title).toBe('Mutex contention in main.lockedCounterUpdate');
  }, 60_000);
});

describe('no pathology', () => {
  it('no detector fires in the CPU, heap or goroutine report; a capture blocks nothing and a second one joins it', async () => {
    await withInstance([], 150, async (api) => {
      const { config, sources } = setup(api);
      const done: string[] = [];
      const a = stepContext(config, sources);
      const b = stepContext(config, sources);
      const first = CPU.run(a.ctx, { seconds: 5 }).then((r) => {
        done.push('cpu 1');
        return r;
      });
      // once the first capture is running, a second one of the same pod joins it
      while (!a.updates.some((u) => u.status === 'running')) await new Promise((r) => setTimeout(r, 10));
      const second = CPU.run(b.ctx, { seconds: 5 }).then((r) => {
        done.push('cpu 2');
        return r;
      });
      // other commands keep working while the capture runs
      const heap = HEAP.run(stepContext(config, sources).ctx, {}).then((r) => {
        done.push('heap');
        return r;
      });
      const goroutines = goroutinesStep({ intervalMs: 500 })
        .run(stepContext(config, sources).ctx, {})
        .then((r) => {
          done.push('goroutines');
          return r;
        });
      const [cpu1, cpu2, heapR, gorR] = await Promise.all([first, second, heap, goroutines]);
      expect(done.indexOf('heap')).toBeLessThan(done.indexOf('cpu 1'));
      expect(done.indexOf('goroutines')).toBeLessThan(done.indexOf('cpu 1'));
      expect(b.updates[0]?.reason).toMatch(
        /^joining the 5 s CPU profile of 127\.0\.0\.1:\d+ already running .*not starting a second one$/,
      );
      expect(cpu2.parts[0]).toMatchObject({ status: 'ok', reason: 'joined a capture already running' });
      expect(
        Buffer.compare(
          Buffer.from(cpu1.attachments[0]?.content as Uint8Array),
          Buffer.from(cpu2.attachments[0]?.content as Uint8Array),
        ),
      ).toBe(0);

      expect(detectors(cpu1)).toEqual([]);
      expect(detectors(heapR)).toEqual([]);
      expect(detectors(gorR)).toEqual([]);
      expect(cpu1.findings.map((f) => f.id)).toContain('cpu.no-known-issue');
      await expectTopMatchesPprof(cpu1);
    });
  }, 60_000);
});
