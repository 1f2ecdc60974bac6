/**
 * `-diff_base` and `-peek` against `go tool pprof` on real profiles of the Go test bed: one CPU and
 * one heap profile before json-heavy is switched on and one after, the same files given to both.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analyzeFile } from '../../../src/cli/analyze.ts';
import { decodeProfile, type Profile } from '../../../src/lib/pprof/decode.ts';
import { diffProfiles } from '../../../src/lib/pprof/diff.ts';
import { peekReport } from '../../../src/lib/pprof/peek.ts';
import { analyzeProfile, formatTopText, topReport } from '../../../src/lib/pprof/top.ts';
import { findHotPaths } from '../../../src/steps/profiling/hot-paths.ts';
import { goToolPprof, goToolPprofTop } from '../../steps/profiling/go-pprof.ts';
import { type AegisApi, startAegisApi } from '../../support/testbed.ts';

const bed = inject('testbed');
let api: AegisApi;
let dir: string;
const files = { cpuBefore: '', cpuAfter: '', heapBefore: '', heapAfter: '' };

async function save(url: string, name: string): Promise<string> {
  const res = await axios.get<ArrayBuffer>(url, { responseType: 'arraybuffer', timeout: 30_000 });
  const file = path.join(dir, name);
  await writeFile(file, new Uint8Array(res.data));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'aegis-diff-peek-'));
  api = await startAegisApi(bed, { loadRps: 150 });
  files.cpuBefore = await save(`${api.pprofUrl}/debug/pprof/profile?seconds=3`, 'cpu-before.pb.gz');
  files.heapBefore = await save(`${api.pprofUrl}/debug/pprof/heap`, 'heap-before.pb.gz');
  await api.setPathology('json-heavy', true);
  files.cpuAfter = await save(`${api.pprofUrl}/debug/pprof/profile?seconds=3`, 'cpu-after.pb.gz');
  files.heapAfter = await save(`${api.pprofUrl}/debug/pprof/heap`, 'heap-after.pb.gz');
}, 90_000);
afterAll(async () => {
  await api?.stop();
  if (dir && !process.env.KEEP_DIFF_PEEK) await rm(dir, { recursive: true, force: true });
});

const load = async (file: string): Promise<Profile> => decodeProfile(await readFile(file));

function rowsOf(text: string) {
  return text.split('\n');
}

describe('a profile diff (go tool pprof -top -diff_base OLD NEW)', () => {
  const cases: { what: string; pair: () => [string, string]; args: string[] }[] = [
    { what: 'CPU, json-heavy switched on', pair: () => [files.cpuBefore, files.cpuAfter], args: [] },
    { what: 'CPU, the other way round', pair: () => [files.cpuAfter, files.cpuBefore], args: [] },
    { what: 'CPU by cum', pair: () => [files.cpuBefore, files.cpuAfter], args: ['-cum'] },
    { what: 'CPU, top 10', pair: () => [files.cpuBefore, files.cpuAfter], args: ['-nodecount=10'] },
    {
      what: 'heap, bytes allocated',
      pair: () => [files.heapBefore, files.heapAfter],
      args: ['-sample_index=alloc_space'],
    },
    { what: 'heap, in use', pair: () => [files.heapBefore, files.heapAfter], args: [] },
  ];
  for (const c of cases) {
    it(`prints exactly what go tool pprof prints: ${c.what}`, async () => {
      const [oldFile, newFile] = c.pair();
      const diff = diffProfiles(await load(newFile), await load(oldFile));
      const nodeCount = Number(c.args.find((a) => a.startsWith('-nodecount='))?.split('=')[1] ?? 0);
      const sampleIndex = c.args.find((a) => a.startsWith('-sample_index='))?.split('=')[1];
      const mine = formatTopText(
        topReport(analyzeProfile(diff), {
          nodeCount,
          ...(sampleIndex ? { sampleIndex } : {}),
          ...(c.args.includes('-cum') ? { sortBy: 'cum' as const } : {}),
        }),
      );
      const theirs = await goToolPprofTop(newFile, ['-diff_base', oldFile, ...c.args]);
      expect(theirs.rows.length).toBeGreaterThan(5);
      expect(rowsOf(mine)).toEqual(rowsOf(theirs.text));
    });
  }

  it('shows encoding/json grown by what json-heavy costs, with a sign where something shrank', async () => {
    const diff = diffProfiles(await load(files.cpuAfter), await load(files.cpuBefore));
    const r = topReport(analyzeProfile(diff), { sortBy: 'cum' });
    expect(r.rows.find((x) => x.name === 'main.encodeReportJSON')?.cum).toBeGreaterThan(0);
    const reverse = topReport(
      analyzeProfile(diffProfiles(await load(files.cpuBefore), await load(files.cpuAfter))),
      {
        sortBy: 'cum',
      },
    );
    expect(reverse.rows.find((x) => x.name === 'main.encodeReportJSON')?.cumText).toMatch(/^-/);
  });

  it('refuses to compare a CPU profile with a heap profile, saying why', async () => {
    expect(() => diffProfiles(Object.freeze({ ...emptyLike() }), emptyLike('inuse_space'))).toThrow(
      /different sample types/,
    );
  });
});

describe('aegis analyze NEW --base OLD', () => {
  it('prints what go tool pprof -top -diff_base OLD NEW prints, then the functions whose share grew most', async () => {
    const [ours, theirs] = await Promise.all([
      analyzeFile(files.cpuAfter, { base: files.cpuBefore }),
      goToolPprofTop(files.cpuAfter, ['-diff_base', files.cpuBefore]),
    ]);
    expect(ours.text.startsWith(theirs.text)).toBe(true);
    const rest = ours.text.slice(theirs.text.length);
    expect(rest).toMatch(/^\nSince cpu-before\.pb\.gz: \S+ grew most, /);
    expect(rest).toContain('main.encodeReportJSON');
  });

  it('with --sample-index and --top, as pprof -sample_index -nodecount', async () => {
    const [ours, theirs] = await Promise.all([
      analyzeFile(files.heapAfter, { base: files.heapBefore, sampleIndex: 'alloc_space', top: 12 }),
      goToolPprofTop(files.heapAfter, [
        '-diff_base',
        files.heapBefore,
        '-sample_index=alloc_space',
        '-nodecount=12',
      ]),
    ]);
    expect(ours.text.startsWith(theirs.text)).toBe(true);
  });

  it('says what is wrong when the base is not a profile, or of another kind', async () => {
    const notGzip = path.join(dir, 'not-a-profile.txt');
    await writeFile(notGzip, 'goroutine 1 [running]:\n');
    await expect(analyzeFile(files.cpuAfter, { base: notGzip })).rejects.toThrow(
      /not-a-profile\.txt: --base needs a gzip-compressed pprof profile/,
    );
    await expect(analyzeFile(files.cpuAfter, { base: files.heapBefore })).rejects.toThrow(
      /different sample types and cannot be compared/,
    );
  });
});

function emptyLike(type = 'cpu'): Profile {
  return {
    sampleTypes: [{ type, unit: 'nanoseconds' }],
    defaultSampleType: '',
    period: 0,
    timeNanos: 0,
    durationNanos: 0,
    comments: [],
    dropFrames: '',
    keepFrames: '',
    sampleCount: 0,
    values: new Float64Array(0),
    stackStart: new Uint32Array(1),
    stack: new Uint32Array(0),
    bytesLabel: null,
    locationCount: 0,
    locationId: new Float64Array(0),
    locationAddress: new Float64Array(0),
    locationMapping: new Int32Array(0),
    lineStart: new Uint32Array(1),
    lineFunction: new Int32Array(0),
    lineNumber: new Int32Array(0),
    functions: [],
    mappings: [],
    decodedBytes: 0,
  };
}

/** `go tool pprof -peek` output: per matched node, its callers and callees as printed. */
function parsePeek(text: string) {
  const blocks = text.split(/^-+\+-+$/m).slice(2);
  return blocks
    .map((b) => b.split('\n').filter((l) => l.trim()))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const node = lines.findIndex((l) => /\|\s[^ ]/.test(l) && !/^\s{40,}/.test(l));
      const edge = (l: string) => {
        const m = /^\s*(\S+)\s+(\S+%)\s\|\s{3}(.+)$/.exec(l);
        if (!m) throw new Error(`unexpected peek line: ${l}`);
        return { weight: m[1] as string, percent: m[2] as string, name: m[3] as string };
      };
      return {
        name: (lines[node] as string).replace(/^.*\|\s/, ''),
        callers: lines.slice(0, node).map(edge),
        callees: lines.slice(node + 1).map(edge),
      };
    });
}

describe('what a function spends its time in (go tool pprof -peek)', () => {
  const cases: { file: () => string; rx: string; sampleIndex?: string }[] = [
    { file: () => files.cpuAfter, rx: '^main\\.encodeReportJSON$' },
    { file: () => files.cpuAfter, rx: '^main\\.' },
    { file: () => files.cpuAfter, rx: '^encoding/json\\.' },
    { file: () => files.heapAfter, rx: '^main\\.', sampleIndex: 'alloc_space' },
    { file: () => files.heapAfter, rx: '^main\\.', sampleIndex: 'inuse_space' },
    { file: () => files.heapAfter, rx: '^encoding/json\\.', sampleIndex: 'alloc_objects' },
  ];
  for (const c of cases) {
    it(`lists the same callers and callees with the same weights as go tool pprof -peek '${c.rx}'${c.sampleIndex ? ` -sample_index=${c.sampleIndex}` : ''}`, async () => {
      const file = c.file();
      const report = peekReport(analyzeProfile(await load(file)), new RegExp(c.rx), {
        ...(c.sampleIndex ? { sampleIndex: c.sampleIndex } : {}),
      });
      const theirs = parsePeek(
        await goToolPprof(file, [
          `-peek=${c.rx}`,
          ...(c.sampleIndex ? [`-sample_index=${c.sampleIndex}`] : []),
        ]),
      );
      const edge = (e: { weightText: string; percent: string; name: string; inline: boolean }) => ({
        weight: e.weightText,
        percent: e.percent.trim(),
        name: `${e.name}${e.inline ? ' (inline)' : ''}`,
      });
      const mine = report.entries.map((e) => ({
        name: e.name,
        callers: e.callers.map(edge),
        callees: e.callees.map(edge),
      }));
      expect(theirs.length).toBeGreaterThan(0);
      expect(mine).toEqual(
        theirs.map((t) => ({
          ...t,
          callers: t.callers.map((x) => ({ ...x, percent: x.percent.trim() })),
          callees: t.callees.map((x) => ({ ...x, percent: x.percent.trim() })),
        })),
      );
    });
  }

  it("the CPU report's hot-path row for main.encodeReportJSON lists the callees go tool pprof -peek lists, with the same weights", async () => {
    const analysis = analyzeProfile(await load(files.cpuAfter));
    const row = findHotPaths(analysis).paths.find((p) => p.function === 'main.encodeReportJSON');
    const theirs = parsePeek(await goToolPprof(files.cpuAfter, ['-peek=^main\\.encodeReportJSON$']))[0];
    const format = peekReport(analysis, /^main\.encodeReportJSON$/).format;
    expect(row?.callees.map((c) => ({ name: c.name, weight: format(c.value) }))).toEqual(
      theirs?.callees.slice(0, 3).map((c) => ({ name: c.name, weight: c.weight })),
    );
  });

  it('names encoding/json.Marshal beneath main.encodeReportJSON once json-heavy is on', async () => {
    const report = peekReport(analyzeProfile(await load(files.cpuAfter)), /^main\.encodeReportJSON$/);
    expect(report.entries[0]?.callees[0]?.name).toBe('encoding/json.Marshal');
  });
});
