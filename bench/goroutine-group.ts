/**
 * Benchmark: grouping a goroutine dump of 100,000 goroutines (debug=2, as
 * /debug/pprof/goroutine?debug=2 writes it) by identical stack. Runs as a child process under
 * /usr/bin/time for wall time and peak memory (max RSS); the anchor, in the same run, is a child
 * that only reads the file and splits it into lines (the least any parser must do).
 *
 *   npx node bench/goroutine-group.ts [--goroutines 100000] [--runs 3]
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseGoroutineDump } from '../src/lib/pprof/goroutine-dump.ts';
import { detectGoroutineIssues } from '../src/steps/profiling/goroutine-detectors.ts';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

if (process.argv[2] === '--child') {
  const t = performance.now();
  const text = await readFile(process.argv[3] as string, 'utf8');
  const dump = parseGoroutineDump(text);
  const report = detectGoroutineIssues({ first: dump, intervalMs: 1 });
  const ms = performance.now() - t;
  const line = `${JSON.stringify({ ms, total: dump.total, groups: dump.groups.length, findings: report.findings.map((f) => f.id) })}\n`;
  await new Promise((resolve) => process.stdout.write(line, resolve));
  process.exit(0);
}
if (process.argv[2] === '--anchor') {
  const t = performance.now();
  const text = await readFile(process.argv[3] as string, 'utf8');
  const lines = text.split('\n').length;
  const line = `${JSON.stringify({ ms: performance.now() - t, lines })}\n`;
  await new Promise((resolve) => process.stdout.write(line, resolve));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// a dump shaped like a busy Go HTTP service with a leak: 24 kinds of stacks, varying arguments,
// goroutine ids and minutes waited

const KINDS: { weight: number; state: string; frames: string[]; createdBy: string }[] = [
  {
    weight: 40,
    state: 'chan receive',
    frames: ['main.leakyWorker', 'main.startLeakyWorkers.func1'],
    createdBy: 'main.startLeakyWorkers',
  },
  {
    weight: 15,
    state: 'select',
    frames: ['main.(*subscriber).loop', 'main.(*hub).subscribe.func2'],
    createdBy: 'main.(*hub).subscribe',
  },
  {
    weight: 12,
    state: 'IO wait',
    frames: [
      'internal/poll.runtime_pollWait',
      'internal/poll.(*pollDesc).wait',
      'internal/poll.(*pollDesc).waitRead',
      'internal/poll.(*FD).Read',
      'net.(*netFD).Read',
      'net.(*conn).Read',
      'net/http.(*connReader).Read',
      'bufio.(*Reader).fill',
      'bufio.(*Reader).ReadSlice',
      'bufio.(*Reader).ReadLine',
      'net/textproto.(*Reader).readLineSlice',
      'net/textproto.(*Reader).ReadLine',
      'net/http.readRequest',
      'net/http.(*conn).readRequest',
      'net/http.(*conn).serve',
    ],
    createdBy: 'net/http.(*Server).Serve',
  },
  {
    weight: 8,
    state: 'select',
    frames: ['net/http.(*persistConn).writeLoop'],
    createdBy: 'net/http.(*Transport).dialConn',
  },
  {
    weight: 8,
    state: 'IO wait',
    frames: [
      'internal/poll.runtime_pollWait',
      'internal/poll.(*pollDesc).wait',
      'internal/poll.(*FD).Read',
      'net.(*netFD).Read',
      'net.(*conn).Read',
      'net/http.(*persistConn).Read',
      'bufio.(*Reader).fill',
      'bufio.(*Reader).Peek',
      'net/http.(*persistConn).readLoop',
    ],
    createdBy: 'net/http.(*Transport).dialConn',
  },
  {
    weight: 5,
    state: 'semacquire',
    frames: [
      'sync.runtime_SemacquireMutex',
      'sync.(*Mutex).lockSlow',
      'sync.(*Mutex).Lock',
      'main.lockedCounterUpdate',
      'main.contendForCounters',
    ],
    createdBy: 'main.runMutexHotspot',
  },
  { weight: 4, state: 'sleep', frames: ['time.Sleep', 'main.(*poller).run'], createdBy: 'main.main' },
  {
    weight: 3,
    state: 'chan send',
    frames: ['main.(*producer).emit', 'main.(*producer).run'],
    createdBy: 'main.startProducers',
  },
  ...Array.from({ length: 16 }, (_, i) => ({
    weight: 0.3125,
    state: i % 2 ? 'select' : 'runnable',
    frames: [
      `github.com/acme/aegis/internal/jobs.(*Job${i}).step`,
      `github.com/acme/aegis/internal/jobs.(*Job${i}).Run`,
      'github.com/acme/aegis/internal/jobs.(*Pool).worker',
    ],
    createdBy: 'github.com/acme/aegis/internal/jobs.(*Pool).Start',
  })),
];

function dumpText(n: number): string {
  const total = KINDS.reduce((t, k) => t + k.weight, 0);
  const out: string[] = [];
  let id = 1;
  let seed = 1;
  const rnd = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  for (const kind of KINDS) {
    const count = Math.round((kind.weight / total) * n);
    for (let i = 0; i < count && id <= n; i++) {
      const minutes = kind.state === 'chan receive' || kind.state === 'select' ? Math.floor(rnd() * 40) : 0;
      const lines = [`goroutine ${id++} [${kind.state}${minutes > 0 ? `, ${minutes} minutes` : ''}]:`];
      for (const f of kind.frames) {
        const arg = `0xc${Math.floor(rnd() * 2 ** 32)
          .toString(16)
          .padStart(9, '0')}`;
        lines.push(`${f}(${arg}, 0x${Math.floor(rnd() * 4096).toString(16)})`);
        lines.push(
          `\t/go/src/${f.split('.')[0]}/file.go:${100 + f.length} +0x${(f.length * 13).toString(16)}`,
        );
      }
      lines.push(`created by ${kind.createdBy} in goroutine ${1 + Math.floor(rnd() * 50)}`);
      lines.push(`\t/go/src/${kind.createdBy.split('.')[0]}/file.go:42 +0x1d`);
      out.push(lines.join('\n'));
    }
  }
  return `${out.join('\n\n')}\n`;
}

async function ensureDump(n: number): Promise<string> {
  await mkdir(OUT, { recursive: true });
  const file = path.join(OUT, `goroutines-${n}.txt`);
  if (!existsSync(file)) {
    await writeFile(`${file}.tmp`, dumpText(n));
    await rename(`${file}.tmp`, file);
  }
  return file;
}

interface Measure {
  seconds: number;
  maxRssKiB: number;
  out: Record<string, unknown>;
}

async function timed(args: string[]): Promise<Measure> {
  const { stdout, stderr } = await execFileAsync(
    '/usr/bin/time',
    ['-f', 'TIME %e %M', process.execPath, ...args],
    {
      maxBuffer: 16 * 2 ** 20,
    },
  );
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no /usr/bin/time line in: ${stderr.slice(-500)}`);
  return { seconds: Number(m[1]), maxRssKiB: Number(m[2]), out: JSON.parse(stdout) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const n = arg('goroutines', 100_000);
const runs = arg('runs', 3);
const file = await ensureDump(n);
const self = fileURLToPath(import.meta.url);
const grouped: Measure[] = [];
const anchor: Measure[] = [];
for (let i = 0; i < runs; i++) {
  anchor.push(await timed([self, '--anchor', file]));
  grouped.push(await timed([self, '--child', file]));
}
const g = grouped[0] as Measure;
const size = (await stat(file)).size;
const med = (ms: Measure[], f: (m: Measure) => number) => median(ms.map(f));
console.log(
  `dump: ${n.toLocaleString('en-US')} goroutines (debug=2), ${(size / 2 ** 20).toFixed(1)} MiB, ${String((anchor[0] as Measure).out.lines)} lines`,
);
console.log(
  `grouped into ${String(g.out.groups)} groups; findings: ${(g.out.findings as string[]).join(', ')}`,
);
console.log(
  `group (read + parse + detect): ${med(grouped, (m) => m.out.ms as number).toFixed(0)} ms in-process, ${med(grouped, (m) => m.seconds).toFixed(2)} s process, peak RSS ${(med(grouped, (m) => m.maxRssKiB) / 1024).toFixed(0)} MiB`,
);
console.log(
  `anchor (read + split lines)  : ${med(anchor, (m) => m.out.ms as number).toFixed(0)} ms in-process, ${med(anchor, (m) => m.seconds).toFixed(2)} s process, peak RSS ${(med(anchor, (m) => m.maxRssKiB) / 1024).toFixed(0)} MiB`,
);
console.log(
  `time ratio (group / anchor, in-process): ${(med(grouped, (m) => m.out.ms as number) / med(anchor, (m) => m.out.ms as number)).toFixed(2)}`,
);
console.log(
  `memory ratio (group / anchor): ${(med(grouped, (m) => m.maxRssKiB) / med(anchor, (m) => m.maxRssKiB)).toFixed(2)}`,
);
