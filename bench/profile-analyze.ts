/**
 * Benchmark: `aegis analyze` against `go tool pprof -top` on the same generated profile of
 * 1,000,000 samples, in the same run. Both run as child processes under /usr/bin/time, which
 * reports wall time and peak resident memory (max RSS); each is run 3 times, alternating, and the
 * medians are compared. The outputs are checked to be the same report first.
 *
 *   npx node bench/profile-analyze.ts [--samples 1000000] [--runs 3]
 *   npx node bench/profile-analyze.ts --diff [--samples 1000000] [--runs 3]
 *
 * --diff: `aegis analyze NEW --base OLD` against `go tool pprof -top -diff_base OLD NEW` on two
 * profiles of that many samples each (the same call graph, different sample weights and seeds).
 *
 * Target: faster than go tool pprof -top, at most half its memory.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { analyzeFile } from '../src/cli/analyze.ts';
import { encodeProfileChunks, type ProfileSpec } from '../src/lib/pprof/encode.ts';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

// ---------------------------------------------------------------------------------------------
// the child: what `aegis analyze <file>` does

if (process.argv[2] === '--child') {
  const base = process.argv[4] === '--base' ? (process.argv[5] as string) : undefined;
  const r = await analyzeFile(process.argv[3] as string, { top: 0, ...(base ? { base } : {}) });
  // a pipe is written asynchronously: exit only once the report is out
  await new Promise((resolve) => process.stdout.write(r.text, resolve));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// a realistic Go CPU profile: a call graph of 4,000 functions in 60 packages, 3 call sites per
// function, 1 location in 8 with an inlined callee, stacks 8 to 48 frames deep

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function syntheticSpec(samples: number, seed = 42): ProfileSpec {
  // the call graph is the same for every seed; the samples drawn from it differ
  const rnd = rng(42);
  let sampleRnd = rnd;
  const nPkg = 60;
  const nFn = 4000;
  const pkgs = Array.from({ length: nPkg }, (_, i) =>
    i < 12
      ? [
          'runtime',
          'net/http',
          'encoding/json',
          'bufio',
          'sync',
          'syscall',
          'reflect',
          'strconv',
          'fmt',
          'bytes',
          'io',
          'context',
        ][i]
      : `github.com/acme/aegis/internal/pkg${i}`,
  ) as string[];
  const functions: { id: number; name: string; filename: string; startLine: number }[] = [];
  for (let i = 0; i < nFn; i++) {
    const pkg = pkgs[Math.floor(rnd() * nPkg)] as string;
    const recv = rnd() < 0.5 ? `(*Type${i % 97}).` : '';
    functions.push({
      id: i + 1,
      name: `${pkg}.${recv}Func${i}`,
      filename: `/src/${pkg}/file${i % 31}.go`,
      startLine: 10 + (i % 500),
    });
  }
  // 3 call sites (locations) per function; one in eight also carries an inlined callee.
  const locations: {
    id: number;
    mappingId: number;
    address: number;
    lines: { functionId: number; line: number }[];
  }[] = [];
  const locsOf: number[][] = [];
  for (let f = 0; f < nFn; f++) {
    locsOf.push([]);
    for (let k = 0; k < 3; k++) {
      const id = locations.length + 1;
      const lines = [{ functionId: f + 1, line: 20 + k * 7 + (f % 300) }];
      if (rnd() < 0.125) lines.unshift({ functionId: 1 + Math.floor(rnd() * nFn), line: 5 });
      locations.push({ id, mappingId: 1, address: 0x400000 + id * 16, lines });
      locsOf[f]?.push(id);
    }
  }
  // Call graph: each function calls 2 to 6 others; a few roots.
  const callees = Array.from({ length: nFn }, () =>
    Array.from({ length: 2 + Math.floor(rnd() * 5) }, () => Math.floor(rnd() * nFn)),
  );
  const roots = Array.from({ length: 8 }, () => Math.floor(rnd() * nFn));
  if (seed !== 42) sampleRnd = rng(seed);
  function* gen() {
    const rnd = sampleRnd;
    const stack: number[] = [];
    for (let s = 0; s < samples; s++) {
      stack.length = 0;
      let f = roots[Math.floor(rnd() * roots.length)] as number;
      const depth = 8 + Math.floor(rnd() * 41);
      for (let d = 0; d < depth; d++) {
        const locs = locsOf[f] as number[];
        stack.push(locs[Math.floor(rnd() * locs.length)] as number);
        const cs = callees[f] as number[];
        f = cs[Math.floor(rnd() * cs.length)] as number;
      }
      stack.reverse(); // leaf first
      const n = 1 + Math.floor(rnd() * 3);
      yield { locationIds: stack, values: [n, n * 10_000_000] };
    }
  }
  return {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeNanos: Date.UTC(2026, 0, 1) * 1e6,
    durationNanos: 30e9,
    mappings: [
      {
        id: 1,
        start: 0x400000,
        limit: 0x400000 + 16 * (locations.length + 2),
        file: '/usr/local/bin/aegis-api',
        hasFunctions: true,
      },
    ],
    functions,
    locations,
    samples: gen(),
  };
}

async function ensureProfile(samples: number, seed = 42): Promise<string> {
  await mkdir(OUT, { recursive: true });
  const file = path.join(OUT, `synthetic-cpu-${samples}${seed === 42 ? '' : `-seed${seed}`}.pb.gz`);
  if (existsSync(file)) return file;
  const tmp = `${file}.tmp`;
  const started = performance.now();
  await pipeline(
    encodeProfileChunks(syntheticSpec(samples, seed)),
    createGzip({ level: 6 }),
    createWriteStream(tmp),
  );
  await rename(tmp, file);
  console.log(
    `generated ${file} (${((await stat(file)).size / 2 ** 20).toFixed(1)} MiB gzipped) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return file;
}

// ---------------------------------------------------------------------------------------------
// measuring

interface Measure {
  seconds: number;
  /** user + system CPU seconds: the fairer figure on a loaded machine */
  cpuSeconds: number;
  maxRssKiB: number;
  stdout: string;
}

async function timed(cmd: string, args: string[]): Promise<Measure> {
  const { stdout, stderr } = await execFileAsync('/usr/bin/time', ['-f', 'TIME %e %M %U %S', cmd, ...args], {
    maxBuffer: 256 * 2 ** 20,
  });
  const m = /TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no /usr/bin/time line in: ${stderr.slice(-500)}`);
  return { seconds: Number(m[1]), maxRssKiB: Number(m[2]), cpuSeconds: Number(m[3]) + Number(m[4]), stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const samples = arg('samples', 1_000_000);
const runs = arg('runs', 3);
const diffMode = process.argv.includes('--diff');
const file = await ensureProfile(samples);
const baseFile = diffMode ? await ensureProfile(samples, 7) : undefined;
const goBin = (await execFileAsync('go', ['env', 'GOROOT'])).stdout.trim();
const go = path.join(goBin, 'bin', 'go');
const node = process.execPath;
const self = fileURLToPath(import.meta.url);
const pprofArgs = baseFile
  ? ['tool', 'pprof', '-top', '-diff_base', baseFile, file]
  : ['tool', 'pprof', '-top', file];
const oursArgs = baseFile ? [self, '--child', file, '--base', baseFile] : [self, '--child', file];
const what = baseFile ? 'go tool pprof -top -diff_base' : 'go tool pprof -top';
const mine = baseFile ? 'aegis analyze --base' : 'aegis analyze';

const ours: Measure[] = [];
const theirs: Measure[] = [];
for (let i = 0; i < runs; i++) {
  theirs.push(await timed(go, pprofArgs));
  ours.push(await timed(node, oursArgs));
}
const same = (ours[0] as Measure).stdout.startsWith((theirs[0] as Measure).stdout);
const t = { ours: median(ours.map((m) => m.seconds)), theirs: median(theirs.map((m) => m.seconds)) };
const r = { ours: median(ours.map((m) => m.maxRssKiB)), theirs: median(theirs.map((m) => m.maxRssKiB)) };
const rows = (theirs[0] as Measure).stdout.split('\n').length;
const sizeMiB = async (f: string) => ((await stat(f)).size / 2 ** 20).toFixed(1);
console.log(
  `profile${baseFile ? 's' : ''}: ${samples.toLocaleString('en-US')} samples${baseFile ? ' each' : ''}, ${await sizeMiB(file)}${baseFile ? ` + ${await sizeMiB(baseFile)}` : ''} MiB gzipped, ${rows} lines of ${what} output`,
);
console.log(`same report as ${what}: ${same ? 'yes' : 'NO'}`);
console.log(
  `${what.padEnd(30)}: ${t.theirs.toFixed(2)} s, peak RSS ${(r.theirs / 1024).toFixed(0)} MiB   (runs: ${theirs.map((m) => m.seconds).join(', ')} s)`,
);
console.log(
  `${mine.padEnd(30)}: ${t.ours.toFixed(2)} s, peak RSS ${(r.ours / 1024).toFixed(0)} MiB   (runs: ${ours.map((m) => m.seconds).join(', ')} s)`,
);
const cpu = { ours: median(ours.map((m) => m.cpuSeconds)), theirs: median(theirs.map((m) => m.cpuSeconds)) };
console.log(`time ratio (aegis / pprof): ${(t.ours / t.theirs).toFixed(2)}   target < 1`);
console.log(
  `CPU time ratio (aegis / pprof): ${(cpu.ours / cpu.theirs).toFixed(2)}   (${cpu.ours.toFixed(1)} s / ${cpu.theirs.toFixed(1)} s user+sys)`,
);
console.log(`memory ratio (aegis / pprof): ${(r.ours / r.theirs).toFixed(2)}   target <= 0.5`);
if (!same) {
  const a = (theirs[0] as Measure).stdout.split('\n');
  const b = (ours[0] as Measure).stdout.split('\n');
  const i = a.findIndex((line, k) => line !== b[k] && k < a.length - 1);
  console.log(`first difference at line ${i + 1}:\n  pprof: ${a[i]}\n  aegis: ${b[i]}`);
  process.exitCode = 1;
}
