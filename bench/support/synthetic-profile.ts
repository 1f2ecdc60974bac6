/**
 * The benchmarks' synthetic Go CPU profile: generated once into bench/out and reused.
 * `ensureProfile(1_000_000)` answers the path of a gzipped profile of a million samples.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { encodeProfileChunks, type ProfileSpec } from '../../src/lib/pprof/encode.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const OUT = path.join(here, '..', 'out');

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

export function syntheticSpec(samples: number, seed = 42): ProfileSpec {
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

export async function ensureProfile(samples: number, seed = 42): Promise<string> {
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
