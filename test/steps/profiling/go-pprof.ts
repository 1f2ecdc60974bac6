/**
 * Needs go (integration tests only): real Go runtime profiles from test/fixtures/pprof/gen (built and
 * run into a temp dir), and `go tool pprof` output parsed into rows to compare with.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const GEN_DIR = path.resolve(here, '../../fixtures/pprof/gen');

export interface GeneratedProfiles {
  readonly dir: string;
  readonly cpu: string;
  readonly heap: string;
  readonly mutex: string;
  readonly debug1: string;
  readonly debug2: string;
  cleanup(): Promise<void>;
}

/**
 * How long a test file may wait for generateProfiles (its beforeAll timeout). pprofgen measures
 * its work in CPU time, so a loaded machine stretches the wall-clock time it takes (a 2 s profile
 * took 15 s at a load average of 20 on 2 cores) rather than thinning the profile; this deadline
 * is not what any test is about.
 */
export const GENERATE_TIMEOUT_MS = 300_000;

/**
 * Builds pprofgen and runs it: a CPU, heap and mutex profile and two goroutine dumps. `cpu` is
 * CPU time per core (e.g. '2s': about 2 s × GOMAXPROCS × 100 samples, however busy the machine).
 */
export async function generateProfiles(
  options: { cpu?: string; leaks?: number } = {},
): Promise<GeneratedProfiles> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aegis-pprofgen-'));
  const bin = path.join(dir, 'pprofgen');
  await execFileAsync('go', ['build', '-o', bin, '.'], {
    cwd: GEN_DIR,
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  await execFileAsync(
    bin,
    ['-out', dir, '-cpu', options.cpu ?? '2s', '-leaks', String(options.leaks ?? 40)],
    // no asynchronous preemption: its signal handler (runtime.asyncPreempt) takes samples, and on a
    // loaded machine the scheduler preempts often enough for it to top the profile
    { cwd: dir, env: { ...process.env, GODEBUG: 'asyncpreemptoff=1' } },
  );
  return {
    dir,
    cpu: path.join(dir, 'cpu.pb.gz'),
    heap: path.join(dir, 'heap.pb.gz'),
    mutex: path.join(dir, 'mutex.pb.gz'),
    debug1: path.join(dir, 'goroutines-debug1.txt'),
    debug2: path.join(dir, 'goroutines-debug2.txt'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface PprofRow {
  readonly flat: string;
  readonly flatPercent: string;
  readonly sumPercent: string;
  readonly cum: string;
  readonly cumPercent: string;
  readonly name: string;
}

export interface PprofTop {
  /** Header lines ("Type: cpu", "Showing nodes accounting for ...", ...). */
  readonly labels: string[];
  readonly rows: PprofRow[];
  readonly text: string;
}

/** Runs `go tool pprof -top [args] file` and parses what it prints. */
export async function goToolPprofTop(file: string, args: readonly string[] = []): Promise<PprofTop> {
  const { stdout } = await execFileAsync('go', ['tool', 'pprof', '-top', ...args, file], {
    cwd: path.dirname(file),
    maxBuffer: 64 * 2 ** 20,
  });
  return parsePprofTop(stdout);
}

const ROW = /^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s{2}(.+)$/;

export function parsePprofTop(text: string): PprofTop {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^\s+flat\s+flat%\s+sum%\s+cum\s+cum%$/.test(l));
  if (header < 0) throw new Error(`no table in go tool pprof output:\n${text}`);
  const rows: PprofRow[] = [];
  for (const l of lines.slice(header + 1)) {
    if (!l.trim()) continue;
    const m = ROW.exec(l);
    if (!m) throw new Error(`unexpected row in go tool pprof output: ${l}`);
    rows.push({
      flat: m[1] as string,
      flatPercent: m[2] as string,
      sumPercent: m[3] as string,
      cum: m[4] as string,
      cumPercent: m[5] as string,
      name: m[6] as string,
    });
  }
  return { labels: lines.slice(0, header), rows, text };
}

export async function goToolPprof(file: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync('go', ['tool', 'pprof', ...args, file], {
    cwd: path.dirname(file),
    maxBuffer: 64 * 2 ** 20,
  });
  return stdout;
}
