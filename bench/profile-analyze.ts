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
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { analyzeFile } from '../src/cli/analyze.ts';
import { ensureProfile } from './support/synthetic-profile.ts';

const execFileAsync = promisify(execFile);

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
