import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.ts';
import type { Finding, PartStatus } from '../../../src/domain/finding.ts';
import { decodeProfileProto, type Profile } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile, type ProfileSpec } from '../../../src/lib/pprof/encode.ts';
import type { FetchedProfile } from '../../../src/sources/pprof.ts';
import {
  compareWithBase,
  compareWithBaseBytes,
  keepCapture,
  type ProfileCaptures,
  previousCapture,
  shareGrowth,
} from '../../../src/steps/profiling/compare.ts';
import { profilingConfig, stepContext } from './support.ts';

/** A CPU profile whose stacks (root first) get the given number of 10 ms samples each. */
function spec(stacks: [string[], number][]): ProfileSpec {
  const fnIds = new Map<string, number>();
  const functions: ProfileSpec['functions'][number][] = [];
  const locations: ProfileSpec['locations'][number][] = [];
  const loc = (name: string) => {
    let id = fnIds.get(name);
    if (!id) {
      id = functions.length + 1;
      fnIds.set(name, id);
      functions.push({ id, name, filename: '/src/x.go' });
      locations.push({ id, lines: [{ functionId: id, line: id }] });
    }
    return id;
  };
  return {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ],
    period: 10_000_000,
    durationNanos: 10e9,
    functions,
    locations,
    samples: stacks.map(([stack, n]) => ({
      locationIds: stack.map(loc).reverse(),
      values: [n, n * 10_000_000],
    })),
  };
}
const cpu = (stacks: [string[], number][]): Profile => decodeProfileProto(encodeProfile(spec(stacks)));
const gz = async (stacks: [string[], number][]) => {
  const { gzipSync } = await import('node:zlib');
  return gzipSync(encodeProfile(spec(stacks)));
};

const http = ['runtime.goexit', 'main.handle'];
const before: [string[], number][] = [
  [[...http, 'main.search'], 80],
  [[...http, 'main.encode', 'encoding/json.Marshal'], 20],
];
// twice the load, and JSON now half of it
const after: [string[], number][] = [
  [[...http, 'main.search'], 100],
  [[...http, 'main.encode', 'encoding/json.Marshal'], 100],
];

describe('a profile compared with a base profile', () => {
  it('names the functions whose share grew most, by each profile’s own total', () => {
    const f = compareWithBase(cpu(after), cpu(before), { baseLabel: 'the capture of pod-a at 10:00' });
    expect(f.id).toBe('cpu.diff');
    expect(f.severity).toBe('info');
    expect(f.title).toBe(
      'Since the capture of pod-a at 10:00: encoding/json.Marshal grew most, 20% → 50% of CPU',
    );
    const grown = f.evidence[0];
    expect(grown?.type === 'table' && grown.rows).toEqual([
      ['encoding/json.Marshal', '20%', '50%', '+30.0 pts'],
      ['main.encode', '20%', '50%', '+30.0 pts'],
    ]);
    // the absolute change, as go tool pprof -top -cum -diff_base prints it (percent of the base's total)
    const diff = f.evidence[1];
    // main.encode: 1 s now, 0.2 s before, of the base's 1 s; encoding/json.Marshal's 0.8 s flat
    // comes before it (same cum, name order), hence sum% 80%
    expect(diff?.type === 'table' && diff.rows.find((r) => r[5] === 'main.encode')).toEqual([
      '0',
      '0%',
      '80.00%',
      '800ms',
      '80.00%',
      'main.encode',
    ]);
  });

  it('says so when nothing grew by a point or more', () => {
    const f = compareWithBase(cpu(before), cpu(before));
    expect(f.title).toBe("Since the base profile: no function's share of CPU grew by 1 point or more");
    expect(f.evidence).toHaveLength(1);
  });

  it('refuses a CPU profile against a heap profile with a message the user can act on', () => {
    const heap = decodeProfileProto(
      encodeProfile({
        ...spec(before),
        sampleTypes: [
          { type: 'inuse_space', unit: 'bytes' },
          { type: 'x', unit: 'count' },
        ],
      }),
    );
    expect(() => compareWithBase(cpu(after), heap)).toThrow(AppError);
    expect(() => compareWithBase(cpu(after), heap)).toThrow(/different sample types/);
  });

  it('ranks growth, not size: a function that shrank comes last', () => {
    const g = shareGrowth(cpu(after), cpu(before));
    expect(g.at(-1)?.name).toBe('main.search');
  });
});

describe('a step comparing its capture with the previous one', () => {
  const config = profilingConfig({ mode: 'url', baseUrl: 'http://aegis-api:6060' });
  const target = { pod: 'pod-b', label: 'pod-b', chosen: 'named' as const };
  const fetched = async (joined = false): Promise<FetchedProfile> => ({
    kind: 'profile',
    target,
    bytes: await gz(after),
    contentType: 'application/octet-stream',
    startedAt: new Date('2026-03-01T10:11:12Z'),
    finishedAt: new Date('2026-03-01T10:11:42Z'),
    joined,
    path: '/debug/pprof/profile',
  });

  /** What the CPU step does around its analysis: the previous capture, the comparison, keeping the new one. */
  async function compareAndKeep(
    ctx: Parameters<typeof previousCapture>[0],
    f: FetchedProfile,
    parts: PartStatus[],
  ): Promise<Finding | undefined> {
    const previous = await previousCapture(ctx, 'cpu', f);
    const compared =
      'base' in previous && previous.base
        ? await compareWithBaseBytes(cpu(after), previous.base, 'cpu', 2 ** 30)
        : undefined;
    await keepCapture(
      ctx,
      'cpu',
      target,
      f,
      previous,
      compared && 'error' in compared ? compared.error : undefined,
      parts,
    );
    return compared && 'finding' in compared ? compared.finding : undefined;
  }

  function memory(previous?: { pod: string; capturedAt: Date; bytes: Uint8Array }) {
    const saved: Parameters<ProfileCaptures['save']>[0][] = [];
    const asked: unknown[][] = [];
    const captures: ProfileCaptures = {
      previous: async (...args) => {
        asked.push(args);
        return previous;
      },
      save: async (c) => {
        saved.push(c);
      },
    };
    return { captures, saved, asked };
  }

  it('compares with the newest earlier capture of the service and keeps the new one', async () => {
    const m = memory({ pod: 'pod-a', capturedAt: new Date('2026-03-01T09:00:00Z'), bytes: await gz(before) });
    const parts: PartStatus[] = [];
    const f = await compareAndKeep(stepContext(config, { captures: m.captures }).ctx, await fetched(), parts);
    expect(m.asked).toEqual([['aegis-api', 'cpu', new Date('2026-03-01T10:11:12Z')]]);
    expect(f?.title).toMatch(
      /^Since the capture of pod-a at 2026-03-01T09:00:00.000Z: encoding\/json\.Marshal grew most/,
    );
    expect(m.saved).toHaveLength(1);
    expect(m.saved[0]).toMatchObject({ service: 'aegis-api', pod: 'pod-b', kind: 'cpu' });
    expect(parts).toEqual([{ name: 'comparison', status: 'ok' }]);
  });

  it('does not keep a capture twice when the report joined one already running', async () => {
    const m = memory();
    const parts: PartStatus[] = [];
    await compareAndKeep(stepContext(config, { captures: m.captures }).ctx, await fetched(true), parts);
    expect(m.saved).toEqual([]);
  });

  it('marks the comparison unavailable, and reports on, when the store fails or the earlier capture is not a profile', async () => {
    const failing: ProfileCaptures = {
      previous: async () => {
        throw new AppError('source', 'store (PostgreSQL): query the store failed: connection refused');
      },
      save: async () => {},
    };
    const parts: PartStatus[] = [];
    const f = await compareAndKeep(stepContext(config, { captures: failing }).ctx, await fetched(), parts);
    expect(f).toBeUndefined();
    expect(parts).toEqual([
      {
        name: 'comparison',
        status: 'unavailable',
        reason: 'store (PostgreSQL): query the store failed: connection refused',
      },
    ]);

    const garbage = memory({ pod: 'pod-a', capturedAt: new Date(0), bytes: new Uint8Array([1, 2, 3]) });
    const parts2: PartStatus[] = [];
    await compareAndKeep(stepContext(config, { captures: garbage.captures }).ctx, await fetched(), parts2);
    expect(parts2[0]).toMatchObject({ name: 'comparison', status: 'unavailable' });
    expect(parts2[0]?.reason).toMatch(/^the previous cpu capture of pod-a: /);
  });

  it('does nothing without a capture store (the CLI)', async () => {
    const parts: PartStatus[] = [];
    expect(await compareAndKeep(stepContext(config, {}).ctx, await fetched(), parts)).toBeUndefined();
    expect(parts).toEqual([]);
  });
});
