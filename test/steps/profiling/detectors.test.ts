import { describe, expect, it } from 'vitest';
import { decodeProfileProto } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile, type ProfileSpec } from '../../../src/lib/pprof/encode.ts';
import { analyzeProfile } from '../../../src/lib/pprof/top.ts';
import { detectCpuIssues, detectHeapIssues } from '../../../src/steps/profiling/detectors.ts';

/** A CPU profile whose stacks (root first) get the given number of 10 ms samples each. */
function cpuProfile(stacks: [string[], number][]) {
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
  const samples = stacks.map(([stack, n]) => ({
    locationIds: stack.map(loc).reverse(),
    values: [n, n * 10_000_000],
  }));
  return analyzeProfile(
    decodeProfileProto(
      encodeProfile({
        sampleTypes: [
          { type: 'samples', unit: 'count' },
          { type: 'cpu', unit: 'nanoseconds' },
        ],
        period: 10_000_000,
        durationNanos: 10e9,
        functions,
        locations,
        samples,
      }),
    ),
  );
}

const http = ['runtime.goexit', 'net/http.(*conn).serve', 'main.(*app).handle'];

describe('CPU detectors', () => {
  it('JSON: names the share, the encoder function and the application caller, with the runbook fix', () => {
    const r = detectCpuIssues(
      cpuProfile([
        [
          [
            ...http,
            'main.encodeReport',
            'encoding/json.Marshal',
            'encoding/json.(*encodeState).marshal',
            'encoding/json.(*encodeState).string',
          ],
          60,
        ],
        [[...http, 'main.other'], 40],
      ]),
    );
    expect(r.findings.map((f) => f.id)).toEqual(['cpu.json']);
    expect(r.headline).toBe(
      'CPU: 60% in encoding/json.Marshal via main.encodeReport CRITICAL — JSON serialization',
    );
    expect(r.findings[0]?.advice?.longTerm[0]).toBe(
      'Use a faster JSON encoder: sonic or jsoniter (runbook Step 2)',
    );
  });

  it('JSON below the threshold is not a finding', () => {
    const r = detectCpuIssues(
      cpuProfile([
        [[...http, 'main.encode', 'encoding/json.Marshal'], 20],
        [[...http, 'main.a'], 26],
        [[...http, 'main.b'], 27],
        [[...http, 'main.c'], 27],
      ]),
    );
    expect(r.findings).toEqual([]);
  });

  it('regexp compilation, logging and a dominant function are each named with their caller', () => {
    const r = detectCpuIssues(
      cpuProfile([
        [
          [
            ...http,
            'main.filter',
            'regexp.MustCompile',
            'regexp.Compile',
            'regexp.compile',
            'regexp/syntax.Parse',
          ],
          10,
        ],
        [
          [...http, 'main.audit', 'log.Printf', 'log.(*Logger).Output', 'os.(*File).Write', 'syscall.Write'],
          15,
        ],
        [[...http, 'main.score', 'main.sortNaive'], 50],
        [[...http, 'main.other'], 25],
      ]),
    );
    expect(r.findings.map((f) => f.id)).toEqual(['cpu.dominant', 'cpu.logging', 'cpu.regexp']);
    const text = JSON.stringify(r.findings);
    expect(text).toContain('main.filter');
    expect(text).toContain('main.audit');
    expect(r.findings[0]?.title).toBe('One function dominates: main.sortNaive uses 50% of CPU itself');
  });

  it('the headline leads with the most severe finding, not the largest share, and carries its severity word', () => {
    // regexp compilation at 30% is critical (its bar is 25%); one function at 50% is only a warning (60%)
    const r = detectCpuIssues(
      cpuProfile([
        [[...http, 'main.filter', 'regexp.MustCompile', 'regexp.Compile', 'regexp.compile'], 30],
        [[...http, 'main.score', 'main.sortNaive'], 50],
        [[...http, 'main.other'], 20],
      ]),
    );
    expect(r.findings.map((f) => `${f.id}:${f.severity}`)).toEqual([
      'cpu.dominant:warning',
      'cpu.regexp:critical',
    ]);
    expect(r.headline).toMatch(
      /^CPU: 30% in regexp\.MustCompile via main\.filter CRITICAL — regular expressions/,
    );
  });

  it('between two equally severe findings the larger CPU share leads', () => {
    const r = detectCpuIssues(
      cpuProfile([
        [[...http, 'main.filter', 'regexp.MustCompile', 'regexp.Compile', 'regexp.compile'], 20],
        [[...http, 'main.score', 'main.sortNaive'], 45],
        [[...http, 'main.other'], 35],
      ]),
    );
    expect(r.findings.map((f) => f.severity)).toEqual(['warning', 'warning']);
    expect(r.headline).toMatch(
      /^CPU: 45% in main\.sortNaive via main\.score WARNING — one function dominates$/,
    );
  });

  it('a runtime or system call function does not count as dominant', () => {
    const r = detectCpuIssues(
      cpuProfile([
        [[...http, 'main.write', 'syscall.Syscall6'], 60],
        [['runtime.mcall', 'runtime.schedule', 'runtime.findRunnable'], 40],
      ]),
    );
    expect(r.findings).toEqual([]);
  });

  it('says nothing about a nearly idle profile', () => {
    const r = detectCpuIssues(cpuProfile([[[...http, 'main.encode', 'encoding/json.Marshal'], 5]]));
    expect(r.findings).toEqual([]);
  });
});

/** A heap profile: one sample per (site, object size), values alloc_objects, alloc_space, inuse_objects, inuse_space. */
function heapProfile(samples: { stack: string[]; size: number; allocs: number; live: number }[]) {
  const fnIds = new Map<string, number>();
  const functions: ProfileSpec['functions'][number][] = [];
  const locations: ProfileSpec['locations'][number][] = [];
  const loc = (name: string) => {
    let id = fnIds.get(name);
    if (!id) {
      id = functions.length + 1;
      fnIds.set(name, id);
      functions.push({ id, name });
      locations.push({ id, lines: [{ functionId: id, line: 1 }] });
    }
    return id;
  };
  return analyzeProfile(
    decodeProfileProto(
      encodeProfile({
        sampleTypes: [
          'alloc_objects/count',
          'alloc_space/bytes',
          'inuse_objects/count',
          'inuse_space/bytes',
        ].map((t) => {
          const [type, unit] = t.split('/') as [string, string];
          return { type, unit };
        }),
        functions,
        locations,
        samples: samples.map((s) => ({
          locationIds: s.stack.map(loc).reverse(),
          values: [s.allocs, s.allocs * s.size, s.live, s.live * s.size],
          numLabels: { bytes: s.size },
        })),
      }),
    ),
  );
}

const base = ['runtime.main', 'main.main'];
const baseline = [
  { stack: [...base, 'main.loadFixtures'], size: 288, allocs: 9000, live: 9000 },
  { stack: [...base, 'bufio.NewReaderSize'], size: 4096, allocs: 300, live: 200 },
];

describe('heap detectors', () => {
  it('unbounded slice growth: one live array, the last of a geometric series, named with its caller', () => {
    const sizes = [
      4096, 8192, 16384, 32768, 65536, 81920, 106496, 139264, 172032, 221184, 278528, 352256, 442368, 557056,
      696320, 876544, 1097728, 1376256, 1720320, 2154496, 2695168, 3375104, 4218880, 5275648, 6594560,
      8249344,
    ];
    const r = detectHeapIssues(
      heapProfile([
        ...baseline,
        ...sizes.map((size, i) => ({
          stack: [...base, 'main.handle', 'main.appendAudit'],
          size,
          allocs: 1,
          live: i === sizes.length - 1 ? 1 : 0,
        })),
      ]),
    );
    expect(r.findings.map((f) => f.id)).toEqual(['heap.slice-growth']);
    expect(r.findings[0]?.title).toBe(
      'Unbounded slice growth in main.appendAudit: 7.87MB (71% of the heap in use)',
    );
    expect(r.findings[0]?.summary).toMatch(/called by main\.handle/);
    // the headline carries the finding's severity word (71% of the heap: critical from 50%)
    expect(r.findings[0]?.severity).toBe('critical');
    expect(r.headline).toBe(
      'Memory: 71% of the heap in use is one growing slice in main.appendAudit CRITICAL — unbounded slice growth',
    );
  });

  it('string concatenation in a loop: many ever larger short-lived strings', () => {
    const samples = [...baseline];
    for (let size = 64; size <= 28672; size = Math.round(size * 1.08))
      samples.push({ stack: [...base, 'main.buildCSV'], size, allocs: 400, live: 0 });
    const r = detectHeapIssues(heapProfile(samples));
    expect(r.findings.map((f) => f.id)).toEqual(['heap.string-concat']);
    expect(r.findings[0]?.advice?.longTerm[0]).toMatch(/strings\.Builder/);
  });

  it('large retained objects: many live objects from one site', () => {
    const r = detectHeapIssues(
      heapProfile([
        ...baseline,
        { stack: [...base, 'main.handle', 'main.keepSnapshot'], size: 65536, allocs: 400, live: 400 },
      ]),
    );
    expect(r.findings.map((f) => f.id)).toEqual(['heap.retained']);
    expect(r.findings[0]?.title).toBe(
      'Large retained objects from main.keepSnapshot: 25MB (88% of the heap in use)',
    );
  });

  it('a small or unremarkable heap is not a finding', () => {
    expect(detectHeapIssues(heapProfile(baseline)).findings).toEqual([]);
  });
});
