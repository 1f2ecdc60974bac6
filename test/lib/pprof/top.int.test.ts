import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProfile, type Profile } from '../../../src/lib/pprof/decode.ts';
import { formatListText, listFunctions } from '../../../src/lib/pprof/list.ts';
import {
  analyzeProfile,
  formatTopText,
  type ProfileAnalysis,
  topReport,
} from '../../../src/lib/pprof/top.ts';
import {
  GENERATE_TIMEOUT_MS,
  type GeneratedProfiles,
  generateProfiles,
  goToolPprof,
  goToolPprofTop,
} from '../../steps/profiling/go-pprof.ts';

let gen: GeneratedProfiles;
const analyses = new Map<string, { profile: Profile; analysis: ProfileAnalysis }>();

async function load(file: string) {
  let a = analyses.get(file);
  if (!a) {
    const profile = await decodeProfile(await readFile(file));
    a = { profile, analysis: analyzeProfile(profile) };
    analyses.set(file, a);
  }
  return a;
}

beforeAll(async () => {
  gen = await generateProfiles({ cpu: '2s' });
}, GENERATE_TIMEOUT_MS);
afterAll(async () => {
  await gen?.cleanup();
});

/** Our rows as pprof prints them. */
function ours(analysis: ProfileAnalysis, options: Parameters<typeof topReport>[1]) {
  const r = topReport(analysis, options);
  return {
    report: r,
    rows: r.rows.map((x) => ({
      flat: x.flatText,
      flatPercent: x.flatPercent.trim(),
      sumPercent: x.sumPercent.trim(),
      cum: x.cumText,
      cumPercent: x.cumPercent.trim(),
      name: `${x.name}${x.inline ? ` (${x.inline})` : ''}`,
    })),
  };
}

const CASES: { profile: 'cpu' | 'heap' | 'mutex'; sampleIndex: string; nodeCounts: number[] }[] = [
  { profile: 'cpu', sampleIndex: '', nodeCounts: [0, 10, 25] },
  { profile: 'heap', sampleIndex: '', nodeCounts: [0, 10] },
  { profile: 'heap', sampleIndex: 'inuse_space', nodeCounts: [10] },
  { profile: 'heap', sampleIndex: 'alloc_space', nodeCounts: [0, 10, 25] },
  { profile: 'heap', sampleIndex: 'alloc_objects', nodeCounts: [10] },
  { profile: 'mutex', sampleIndex: '', nodeCounts: [0] },
];

describe('the top report of a profile from the real Go runtime', () => {
  for (const c of CASES) {
    for (const nodeCount of c.nodeCounts) {
      for (const sortBy of ['flat', 'cum'] as const) {
        const args = [
          `-nodecount=${nodeCount}`,
          ...(c.sampleIndex ? [`-sample_index=${c.sampleIndex}`] : []),
          ...(sortBy === 'cum' ? ['-cum'] : []),
        ];
        it(`lists the same functions in the same order with the same flat and cum as go tool pprof -top ${args.join(' ')} (${c.profile})`, async () => {
          const file = gen[c.profile];
          const [{ analysis }, pprof] = await Promise.all([load(file), goToolPprofTop(file, args)]);
          const mine = ours(analysis, {
            nodeCount,
            sortBy,
            ...(c.sampleIndex ? { sampleIndex: c.sampleIndex } : {}),
          });
          expect(pprof.rows.length).toBeGreaterThan(2);
          expect(mine.rows).toEqual(pprof.rows);
          // The header lines that summarise the selection agree too.
          const summary = (labels: readonly string[]) =>
            labels.filter((l) => /^(Type|Duration|Showing|Dropped)/.test(l));
          expect(summary(mine.report.labels)).toEqual(summary(pprof.labels));
        });
      }
    }
  }

  it('prints exactly what go tool pprof -top prints for the CPU profile', async () => {
    const { analysis } = await load(gen.cpu);
    const pprof = await goToolPprofTop(gen.cpu, ['-nodecount=15']);
    expect(formatTopText(topReport(analysis, { nodeCount: 15 }))).toBe(pprof.text);
  });

  it('counts a recursive function once per sample in cum (main.fib calls itself)', async () => {
    const { analysis } = await load(gen.cpu);
    const r = topReport(analysis, { nodeFraction: 0 });
    const fib = r.rows.find((x) => x.name === 'main.fib');
    expect(fib).toBeDefined();
    // cum can never exceed the total even though fib appears many times in each stack
    expect(fib?.cum).toBeLessThanOrEqual(r.total);
    expect(fib?.cum).toBeGreaterThanOrEqual(fib?.flat ?? Number.POSITIVE_INFINITY);
  });

  it('marks inlined functions as pprof does: main.square is always inlined, the recursive main.fib never', async () => {
    const { analysis } = await load(gen.cpu);
    const r = topReport(analysis, { nodeFraction: 0 });
    expect(r.rows.find((x) => x.name === 'main.square')?.inline).toBe('inline');
    expect(r.rows.find((x) => x.name === 'main.fib')?.inline).toBe('');
  });
});

describe('list <function>', () => {
  it('gives the same per-line flat and cum as go tool pprof -list', async () => {
    const { profile } = await load(gen.cpu);
    const pattern = 'main\\.(mixInline|hotLoop|square|fib)$';
    const mine = formatListText(listFunctions(profile, pattern));
    const theirs = await goToolPprof(gen.cpu, [`-list=${pattern}`]);
    // pprof also prints source lines without samples ("." "."); compare the rows with values.
    const valued = (text: string) =>
      text
        .split('\n')
        .filter((l) => l && !/^\s+\.\s+\.\s+\d+:/.test(l))
        .map((l) => l.replace(/^(\s*\S+\s+\S+\s+\d+):.*$/, '$1'));
    expect(valued(mine)).toEqual(valued(theirs));
    expect(mine).toContain('ROUTINE ======================== main.hotLoop in ');
  });

  it('says so when no function matches', async () => {
    const { profile } = await load(gen.cpu);
    expect(() => listFunctions(profile, '^main\\.noSuchFunction$')).toThrow(/no function matching/);
  });
});
