import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProfile } from '../../../src/lib/pprof/decode.ts';
import { parseGoroutineDump, stripArgs } from '../../../src/lib/pprof/goroutine-dump.ts';
import {
  detectGoroutineIssues,
  mutexDelta,
  mutexSites,
} from '../../../src/steps/profiling/goroutine-detectors.ts';
import {
  GENERATE_TIMEOUT_MS,
  type GeneratedProfiles,
  generateProfiles,
} from '../../steps/profiling/go-pprof.ts';

let gen: GeneratedProfiles;
beforeAll(async () => {
  gen = await generateProfiles({ cpu: '1s', leaks: 60 });
}, GENERATE_TIMEOUT_MS);
afterAll(async () => {
  await gen?.cleanup();
});

/** A debug=2 dump as Go 1.21+ writes it: minutes waited, "created by X in goroutine N". */
function dump2(
  groups: { n: number; state: string; frames: string[]; createdBy?: string; start?: number }[],
): string {
  let id = 1;
  const out: string[] = [];
  for (const g of groups) {
    for (let i = 0; i < g.n; i++) {
      const lines = [`goroutine ${id++} [${g.state}]:`];
      for (const f of g.frames)
        lines.push(
          `${f}(0xc0000${(1000 + i).toString(16)}, 0x1)`,
          `\t/src/app/${f.split('.')[0]}.go:${10 + f.length} +0x${(i * 7).toString(16)}`,
        );
      if (g.createdBy) lines.push(`created by ${g.createdBy} in goroutine 1`, '\t/src/app/main.go:99 +0x4d');
      out.push(lines.join('\n'));
    }
  }
  return `${out.join('\n\n')}\n`;
}

describe('parsing goroutine dumps', () => {
  it('groups a debug=2 dump from the Go runtime by identical stack, with state and creator', async () => {
    const d = parseGoroutineDump(await readFile(gen.debug2, 'utf8'));
    expect(d.format).toBe('debug=2');
    const leaked = d.groups.find((g) => g.frames[0]?.function === 'main.blockedReceiver');
    expect(leaked).toMatchObject({
      count: 60,
      state: 'chan receive',
      createdBy: { function: 'main.startLeaks' },
    });
    expect(leaked?.frames[0]?.location).toMatch(/gen\/main\.go:\d+$/);
    expect(d.groups.find((g) => g.frames[0]?.function === 'main.blockedSelect')?.count).toBe(30);
    expect(d.total).toBe(d.groups.reduce((t, g) => t + g.count, 0));
  });

  it('reads a debug=1 dump from the Go runtime: counts per stack and the total', async () => {
    const text = await readFile(gen.debug1, 'utf8');
    const d = parseGoroutineDump(text);
    expect(d.format).toBe('debug=1');
    expect(d.total).toBe(Number(/total (\d+)/.exec(text)?.[1]));
    expect(d.groups.find((g) => g.frames[0]?.function === 'main.blockedReceiver')?.count).toBe(60);
    const mutex = d.groups.find((g) => g.frames.some((f) => f.function === 'sync.(*Mutex).Lock'));
    expect(mutex?.state).toBe('sync.Mutex.Lock');
  });

  it('reads minutes waited, "locked to thread" and Go 1.21 "created by ... in goroutine N"', () => {
    const d = parseGoroutineDump(
      dump2([
        { n: 3, state: 'chan receive, 12 minutes', frames: ['main.worker'], createdBy: 'main.start' },
        { n: 2, state: 'chan receive, 30 minutes', frames: ['main.worker'], createdBy: 'main.start' },
        { n: 1, state: 'select, 2 minutes, locked to thread', frames: ['main.loop'], createdBy: 'main.main' },
      ]),
    );
    expect(d.groups[0]).toMatchObject({
      count: 5,
      state: 'chan receive',
      minMinutes: 12,
      maxMinutes: 30,
      createdBy: { function: 'main.start', location: '/src/app/main.go:99' },
    });
    expect(d.groups[1]).toMatchObject({ count: 1, state: 'select', lockedToThread: true, maxMinutes: 2 });
  });

  it('strips arguments but keeps receivers', () => {
    expect(stripArgs('main.(*worker).run(0xc000010000, {0x4, 0x5})')).toBe('main.(*worker).run');
    expect(stripArgs('sync.(*Mutex).Lock(...)')).toBe('sync.(*Mutex).Lock');
    expect(stripArgs('main.main()')).toBe('main.main');
  });

  it('refuses text that is not a goroutine dump', () => {
    expect(() => parseGoroutineDump('hello\n')).toThrow(/not a goroutine dump/);
  });

  it('groups 20,000 goroutines of 4 kinds into 4 groups', () => {
    const d = parseGoroutineDump(
      dump2([
        { n: 8000, state: 'chan receive', frames: ['main.wait', 'main.worker'], createdBy: 'main.start' },
        { n: 6000, state: 'select', frames: ['main.poll'], createdBy: 'main.start' },
        {
          n: 4000,
          state: 'IO wait',
          frames: ['net.read', 'net/http.(*conn).serve'],
          createdBy: 'net/http.(*Server).Serve',
        },
        {
          n: 2000,
          state: 'semacquire',
          frames: ['sync.runtime_SemacquireMutex', 'sync.(*Mutex).Lock', 'main.update'],
          createdBy: 'main.start',
        },
      ]),
    );
    expect(d.total).toBe(20_000);
    expect(d.groups.map((g) => g.count)).toEqual([8000, 6000, 4000, 2000]);
  });
});

describe('goroutine detectors', () => {
  const leaky = (n: number, minutes?: number) =>
    parseGoroutineDump(
      dump2([
        {
          n,
          state: `chan receive${minutes ? `, ${minutes} minutes` : ''}`,
          frames: ['main.leakyWorker'],
          createdBy: 'main.startWorkers',
        },
        {
          n: 4,
          state: 'IO wait',
          frames: ['internal/poll.runtime_pollWait', 'net/http.(*conn).serve'],
          createdBy: 'net/http.(*Server).Serve',
        },
        {
          n: 3,
          state: 'select',
          frames: ['net/http.(*persistConn).writeLoop'],
          createdBy: 'net/http.(*Transport).dialConn',
        },
      ]),
    );

  it('names a growing group of channel waiters as a leak, by the function that started them', () => {
    const r = detectGoroutineIssues({ first: leaky(100), second: leaky(400), intervalMs: 5000 });
    const leak = r.findings.find((f) => f.id.startsWith('goroutines.leak'));
    expect(leak?.title).toBe(
      'Goroutine leak suspect: 400 goroutines blocked in chan receive, started by main.startWorkers',
    );
    expect(leak?.severity).toBe('critical');
    expect(r.findings.find((f) => f.id === 'goroutines.growth')?.title).toMatch(
      /^Goroutine count grows: \+300 in 5 s \(about 3,600\/min\)$/,
    );
    expect(r.headline).toMatch(/^Goroutines: Goroutine leak suspect/);
  });

  it('names long waiters as a leak even when the count is steady', () => {
    const r = detectGoroutineIssues({ first: leaky(80, 25), second: leaky(80, 25), intervalMs: 5000 });
    expect(r.findings.map((f) => f.id)).toEqual([
      'goroutines.total',
      'goroutines.leak.main.startWorkers.chan_receive',
    ]);
    expect(JSON.stringify(r.findings[1]?.evidence)).toContain('up to 25 minutes');
  });

  it('stays quiet for a steady, young, small group (the HTTP server and client goroutines)', () => {
    const r = detectGoroutineIssues({ first: leaky(20), second: leaky(22), intervalMs: 5000 });
    expect(r.findings.map((f) => f.id)).toEqual(['goroutines.total']);
    expect(r.headline).toMatch(/no leak or contention seen/);
  });

  it('reports mutex contention from the mutex profile of the interval', async () => {
    const sites = mutexSites(await decodeProfile(await readFile(gen.mutex)));
    expect(sites[0]?.site).toBe('main.lockedIncrement');
    const before = sites.map((s) => ({ ...s, contentions: 0, delayNs: 0 }));
    const delta = mutexDelta(before, sites);
    const r = detectGoroutineIssues({ first: leaky(1), second: leaky(1), intervalMs: 1000, mutex: delta });
    const m = r.findings.find((f) => f.id.startsWith('goroutines.mutex'));
    expect(m?.title).toBe('Mutex contention in main.lockedIncrement');
    expect(m?.advice?.longTerm[0]).toMatch(/critical section/);
    // the same profile twice: nothing happened in between
    expect(mutexDelta(sites, sites)).toEqual([]);
  });

  it('reports mutex contention from goroutines queued on a sync.Mutex', () => {
    const d = parseGoroutineDump(
      dump2([
        {
          n: 9,
          state: 'sync.Mutex.Lock',
          frames: [
            'sync.runtime_SemacquireMutex',
            'sync.(*Mutex).lockSlow',
            'sync.(*Mutex).Lock',
            'main.updateCounters',
          ],
          createdBy: 'main.serve',
        },
      ]),
    );
    const r = detectGoroutineIssues({ first: d, intervalMs: 1 });
    expect(r.findings.find((f) => f.id.startsWith('goroutines.mutex'))?.summary).toBe(
      '9 goroutines were queued on a sync.Mutex in main.updateCounters at once.',
    );
  });
});
