import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProfile, decodeProfileProto, ProfileDecodeError } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile, type ProfileSpec } from '../../../src/lib/pprof/encode.ts';
import { analyzeProfile, topReport } from '../../../src/lib/pprof/top.ts';
import {
  GENERATE_TIMEOUT_MS,
  type GeneratedProfiles,
  generateProfiles,
  goToolPprofTop,
} from '../../steps/profiling/go-pprof.ts';

let gen: GeneratedProfiles;
let tmp: string;
beforeAll(async () => {
  [gen, tmp] = await Promise.all([
    generateProfiles({ cpu: '1s' }),
    mkdtemp(path.join(os.tmpdir(), 'aegis-decode-')),
  ]);
}, GENERATE_TIMEOUT_MS);
afterAll(async () => {
  await gen?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function decodeError(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  options = {},
): Promise<ProfileDecodeError> {
  try {
    await decodeProfile(input, options);
  } catch (e) {
    if (e instanceof ProfileDecodeError) return e;
    throw e;
  }
  throw new Error('decoded without error');
}

describe('decoding a pprof profile', () => {
  it('reads a CPU profile from the Go runtime: sample types, period, duration, functions', async () => {
    const p = await decodeProfile(await readFile(gen.cpu));
    expect(p.sampleTypes).toEqual([
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ]);
    expect(p.periodType).toEqual({ type: 'cpu', unit: 'nanoseconds' });
    expect(p.period).toBe(10_000_000);
    expect(p.durationNanos).toBeGreaterThan(900_000_000);
    expect(p.sampleCount).toBeGreaterThan(10);
    expect(p.functions.some((f) => f.name === 'main.hotLoop' && f.filename.endsWith('gen/main.go'))).toBe(
      true,
    );
    // every sample's cpu value is its count times the period
    for (let s = 0; s < p.sampleCount; s++)
      expect(p.values[s * 2 + 1]).toBe((p.values[s * 2] as number) * p.period);
  });

  it('reads a heap profile with each sample\'s object size ("bytes" label)', async () => {
    const p = await decodeProfile(await readFile(gen.heap));
    expect(p.sampleTypes.map((t) => t.type)).toEqual([
      'alloc_objects',
      'alloc_space',
      'inuse_objects',
      'inuse_space',
    ]);
    expect(p.bytesLabel).not.toBeNull();
    expect([...(p.bytesLabel ?? [])].filter((b) => b === 65536).length).toBeGreaterThan(0);
  });

  it('decodes the same from a stream of one-byte chunks as from one buffer', async () => {
    const bytes = await readFile(gen.cpu);
    const whole = await decodeProfile(bytes);
    async function* bytewise() {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    }
    const streamed = await decodeProfile(bytewise());
    expect(streamed.sampleCount).toBe(whole.sampleCount);
    expect([...streamed.values]).toEqual([...whole.values]);
    expect([...streamed.stack]).toEqual([...whole.stack]);
    expect(streamed.functions).toEqual(whole.functions);
  });

  it('refuses input that is not gzip, naming what it looks like', async () => {
    const e = await decodeError(Buffer.from('goroutine profile: total 3\n1 @ 0x1\n'));
    expect(e.problem).toBe('not_gzip');
    expect(e.message).toMatch(/not a gzip-compressed pprof profile/);
    expect(e.message).toMatch(/goroutine dump/);
    const html = await decodeError(Buffer.from('<html><body>404 page not found</body></html>'));
    expect(html.message).toMatch(/HTML/);
  });

  it('refuses an empty input', async () => {
    expect((await decodeError(Buffer.alloc(0))).problem).toBe('empty');
  });

  it('says a truncated download is truncated', async () => {
    const bytes = await readFile(gen.cpu);
    const e = await decodeError(bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(e.problem).toBe('truncated');
    expect(e.message).toMatch(/truncated/);
  });

  it('says a protobuf cut in the middle of a record is truncated', async () => {
    const raw = encodeProfile(tinySpec());
    const e = await decodeError(gzipSync(raw.subarray(0, raw.length - 3)));
    expect(e.problem).toBe('truncated');
  });

  it('refuses gzip data that is not a protobuf (malformed)', async () => {
    const e = await decodeError(gzipSync(Buffer.from('this is plain text, gzipped, not a profile\n')));
    expect(e.problem).toBe('malformed');
    expect(e.message).toMatch(/malformed/);
  });

  it('refuses a profile whose sample refers to a location that does not exist', async () => {
    const spec = tinySpec();
    const e = await decodeError(
      gzipSync(encodeProfile({ ...spec, samples: [{ locationIds: [99], values: [1, 10] }] })),
    );
    expect(e.problem).toBe('malformed');
    expect(e.message).toMatch(/location 99/);
  });

  it('refuses a profile that decompresses past the limit, and stops reading', async () => {
    // Random text does not compress: the input is about as large as what it inflates to.
    const big = gzipSync(
      encodeProfile({ ...tinySpec(), comments: [randomBytes(6 * 2 ** 20).toString('base64')] }),
    );
    let pulled = 0;
    async function* chunks() {
      for (let i = 0; i < big.length; i += 1024) {
        pulled += 1024;
        yield big.subarray(i, i + 1024);
      }
    }
    const e = await decodeError(chunks(), { maxDecompressedBytes: 2 ** 20 });
    expect(e.problem).toBe('too_large');
    expect(e.message).toMatch(/more than 1 MiB/);
    expect(pulled).toBeLessThan(big.length);
  });

  it('reads a file stream', async () => {
    const p = await decodeProfile(Readable.from([await readFile(gen.cpu)]));
    expect(p.sampleCount).toBeGreaterThan(0);
  });
});

/** Two functions, main.a calls main.b. */
function tinySpec(): ProfileSpec {
  return {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ],
    period: 10_000_000,
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    durationNanos: 1e9,
    mappings: [{ id: 1, start: 0x400000, limit: 0x500000, file: '/bin/tiny', hasFunctions: true }],
    functions: [
      { id: 1, name: 'main.a', filename: '/src/a.go' },
      { id: 2, name: 'main.b', filename: '/src/b.go' },
    ],
    locations: [
      { id: 1, mappingId: 1, address: 0x401000, lines: [{ functionId: 1, line: 10 }] },
      { id: 2, mappingId: 1, address: 0x402000, lines: [{ functionId: 2, line: 20 }] },
    ],
    samples: [
      { locationIds: [2, 1], values: [3, 30_000_000] },
      { locationIds: [1], values: [1, 10_000_000] },
    ],
  };
}

describe('unusual profiles agree with go tool pprof -top', () => {
  /** A profile with inline frames, recursion, a location without lines, large ids and drop_frames. */
  function unusualSpec(extra: Partial<ProfileSpec> = {}): ProfileSpec {
    const fn = (id: number, name: string) => ({
      id,
      name,
      filename: `/src/${name.replace(/\W/g, '_')}.go`,
      startLine: id,
    });
    const functions = [
      fn(1, 'main.main'),
      fn(2, 'main.handler'),
      fn(3, 'main.helper'),
      fn(4, 'runtime.mallocgc'),
      fn(5, 'main.recurse'),
      fn(6, 'encoding/json.Marshal'),
      fn(7, 'main.(*T).method'),
    ];
    const L = 70_000; // location ids above 16 bits
    const locations = [
      { id: L + 1, mappingId: 1, address: 0x1000, lines: [{ functionId: 1, line: 5 }] },
      // main.helper inlined into main.handler
      {
        id: L + 2,
        mappingId: 1,
        address: 0x2000,
        lines: [
          { functionId: 3, line: 30 },
          { functionId: 2, line: 21 },
        ],
      },
      { id: L + 3, mappingId: 1, address: 0x3000, lines: [{ functionId: 4, line: 40 }] },
      { id: L + 4, mappingId: 1, address: 0x4000, lines: [{ functionId: 5, line: 50 }] },
      { id: L + 5, mappingId: 1, address: 0x5000, lines: [] },
      { id: L + 6, mappingId: 1, address: 0x6000, lines: [{ functionId: 6, line: 60 }] },
      { id: L + 7, mappingId: 1, address: 0x7000, lines: [{ functionId: 7, line: 70 }] },
      { id: L + 8, mappingId: 1, address: 0x8000, lines: [{ functionId: 2, line: 22 }] },
    ];
    const samples: { locationIds: number[]; values: number[] }[] = [];
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 400; i++) {
      const stack = [L + 1];
      const shape = Math.floor(rnd() * 6);
      if (shape === 0) stack.push(L + 2, L + 3);
      if (shape === 1) stack.push(L + 8, L + 4, L + 4, L + 4);
      if (shape === 2) stack.push(L + 8, L + 6, L + 3);
      if (shape === 3) stack.push(L + 5);
      if (shape === 4) stack.push(L + 2, L + 7);
      if (shape === 5) stack.push(L + 8, L + 2);
      const n = 1 + Math.floor(rnd() * 5);
      samples.push({ locationIds: stack.reverse(), values: [n, n * 10_000_000] });
    }
    return {
      ...tinySpec(),
      functions,
      locations,
      samples,
      ...extra,
    };
  }

  async function compare(spec: ProfileSpec, args: string[] = []) {
    const file = path.join(tmp, `p-${Math.random().toString(36).slice(2)}.pb.gz`);
    await writeFile(file, gzipSync(encodeProfile(spec)));
    const [profile, pprof] = await Promise.all([
      readFile(file).then((b) => decodeProfile(b)),
      goToolPprofTop(file, args),
    ]);
    const nodeCount = Number(args.find((a) => a.startsWith('-nodecount='))?.split('=')[1] ?? 0);
    const r = topReport(analyzeProfile(profile), { nodeCount });
    expect(
      r.rows.map((x) => [
        x.flatText,
        x.flatPercent.trim(),
        x.sumPercent.trim(),
        x.cumText,
        x.cumPercent.trim(),
        `${x.name}${x.inline ? ` (${x.inline})` : ''}`,
      ]),
    ).toEqual(pprof.rows.map((x) => [x.flat, x.flatPercent, x.sumPercent, x.cum, x.cumPercent, x.name]));
    return { r, pprof };
  }

  it('with inline frames, recursion, a location without lines and location ids above 65535', async () => {
    const { r } = await compare(unusualSpec());
    expect(r.rows.some((x) => x.name === '[tiny]')).toBe(true);
    expect(r.rows.find((x) => x.name === 'main.helper')?.inline).not.toBe('');
  });

  it('with drop_frames pruning the leaf frames', async () => {
    const { r } = await compare(unusualSpec({ dropFrames: 'runtime\\..*' }));
    expect(r.rows.some((x) => x.name === 'runtime.mallocgc')).toBe(false);
  });

  it('with drop_frames and keep_frames', async () => {
    await compare(
      unusualSpec({ dropFrames: 'runtime\\..*|encoding/json\\..*', keepFrames: 'runtime\\.mallocgc' }),
    );
  });

  it('written unpacked (proto2 style)', async () => {
    await compare(unusualSpec({ unpacked: true }), ['-nodecount=4']);
  });

  it('with negative values (a diff profile)', async () => {
    const spec = unusualSpec();
    const samples = [...spec.samples].map((s, i) =>
      i % 3 === 0 ? { ...s, values: s.values.map((v) => -v) } : s,
    );
    await compare({ ...spec, samples });
  });

  it('with a default sample type that is not the last', async () => {
    const spec = unusualSpec({ defaultSampleType: 'samples' });
    const p = decodeProfileProto(encodeProfile(spec));
    expect(topReport(analyzeProfile(p)).sampleType.type).toBe('samples');
    await compare(spec);
  });
});
