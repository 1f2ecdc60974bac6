import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/cli/analyze.ts';
import { buildFlameTree, renderFlameGraphSvg } from '../../src/lib/charts/flamegraph.ts';
import { decodeProfile } from '../../src/lib/pprof/decode.ts';
import { analyzeProfile, topReport } from '../../src/lib/pprof/top.ts';
import {
  GENERATE_TIMEOUT_MS,
  type GeneratedProfiles,
  generateProfiles,
  goToolPprofTop,
} from '../steps/profiling/go-pprof.ts';

let gen: GeneratedProfiles;
beforeAll(async () => {
  gen = await generateProfiles({ cpu: '2s' });
}, GENERATE_TIMEOUT_MS);
afterAll(async () => {
  await gen?.cleanup();
});

describe('aegis analyze <file>', () => {
  it('prints a saved CPU profile as go tool pprof -top does, then the known issues', async () => {
    const [ours, pprof] = await Promise.all([
      analyzeFile(gen.cpu, { top: 20 }),
      goToolPprofTop(gen.cpu, ['-nodecount=20']),
    ]);
    expect(ours.text.startsWith(pprof.text)).toBe(true);
    expect(ours.text).toMatch(/Known issues:\n- \[(WARNING|CRITICAL)\] /);
    expect(ours.text).toMatch(/main\.compilePatterns/);
  });

  it('prints every node pprof -top prints by default', async () => {
    const [ours, pprof] = await Promise.all([
      analyzeFile(gen.heap, { sampleIndex: 'alloc_space' }),
      goToolPprofTop(gen.heap, ['-sample_index=alloc_space']),
    ]);
    expect(ours.text.startsWith(pprof.text)).toBe(true);
  });

  it('gives JSON with the rows, their numbers and the findings', async () => {
    const r = await analyzeFile(gen.cpu, { format: 'json', top: 5 });
    const json = JSON.parse(r.text);
    expect(json).toMatchObject({
      kind: 'profile',
      profileKind: 'cpu',
      sampleType: 'cpu',
      unit: 'nanoseconds',
    });
    expect(json.rows).toHaveLength(5);
    expect(json.rows.slice(0, 3).map((r: { name: string }) => r.name)).toContain('main.hotLoop');
    expect(json.rows[0]).toMatchObject({
      flatText: expect.any(String),
      cumPercent: expect.stringMatching(/%$/),
    });
    expect(json.findings.map((f: { id: string }) => f.id)).toContain('cpu.regexp');
  });

  it('answers list <function> with the source lines', async () => {
    const r = await analyzeFile(gen.cpu, { top: 3, list: '^main\\.hotLoop$' });
    expect(r.text).toMatch(/ROUTINE ======================== main\.hotLoop in .*gen\/main\.go/);
    expect(r.text).toMatch(/\d+:\s+x \^= x >> 33/);
  });

  it('groups a goroutine dump (debug=2 and debug=1)', async () => {
    const two = await analyzeFile(gen.debug2);
    expect(two.text).toMatch(/Type: goroutine dump \(debug=2\)/);
    expect(two.text).toMatch(/40\s+chan receive\s+main\.blockedReceiver\s+main\.startLeaks/);
    const one = await analyzeFile(gen.debug1, { format: 'json' });
    expect(one.json).toMatchObject({ kind: 'goroutines', format: 'debug=1' });
  });

  it('says clearly what is wrong with a file that is neither', async () => {
    const bad = path.join(gen.dir, 'notes.txt');
    await writeFile(bad, 'just some notes\n');
    await expect(analyzeFile(bad)).rejects.toThrow(
      /neither a gzip-compressed pprof profile .* nor a goroutine dump/,
    );
    await expect(analyzeFile(path.join(gen.dir, 'missing.pb.gz'))).rejects.toThrow(/no such file/);
    const cut = path.join(gen.dir, 'cut.pb.gz');
    const bytes = await readFile(gen.cpu);
    await writeFile(cut, bytes.subarray(0, bytes.length - 100));
    await expect(analyzeFile(cut)).rejects.toThrow(/truncated/);
  });

  it('writes a flame graph PNG when asked', async () => {
    const out = path.join(gen.dir, 'flame.png');
    await analyzeFile(gen.cpu, { top: 1, flamegraph: out });
    const png = await readFile(out);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1200); // IHDR width
  });
});

describe('the flame graph', () => {
  it('stacks callees on callers with widths that add up to the profile', async () => {
    const a = analyzeProfile(await decodeProfile(await readFile(gen.cpu)));
    const r = topReport(a);
    const tree = buildFlameTree(a.graph, r.sampleIndex);
    expect(tree.root.value).toBe(r.total);
    const sum = (n: typeof tree.root): void => {
      const children = n.children.reduce((t, c) => t + c.value, 0);
      expect(children).toBeLessThanOrEqual(n.value);
      for (const c of n.children) sum(c);
    };
    sum(tree.root);
    const svg = renderFlameGraphSvg(tree, { title: 'CPU <profile> & co', formatValue: r.format });
    expect(svg).toContain('CPU &lt;profile&gt; &amp; co');
    expect(svg).toMatch(/<title>main\.hotLoop \(/);
  });
});
