import { describe, expect, it } from 'vitest';
import { appCode, moduleOf } from '../../../src/lib/pprof/app-code.ts';
import { decodeProfileProto } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile, type ProfileSpec } from '../../../src/lib/pprof/encode.ts';
import { analyzeProfile } from '../../../src/lib/pprof/top.ts';
import { ADVICE, detectCpuIssues } from '../../../src/steps/profiling/detectors.ts';
import { costSeverity, findHotPaths, hotPathFindings } from '../../../src/steps/profiling/hot-paths.ts';

/** A CPU profile whose stacks (root first) get the given number of 10 ms samples each. */
function cpuProfile(stacks: [string[], number][], files: Record<string, string> = {}) {
  const fnIds = new Map<string, number>();
  const functions: ProfileSpec['functions'][number][] = [];
  const locations: ProfileSpec['locations'][number][] = [];
  const loc = (name: string) => {
    let id = fnIds.get(name);
    if (!id) {
      id = functions.length + 1;
      fnIds.set(name, id);
      functions.push({ id, name, filename: files[name] ?? '/src/aegis/x.go' });
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
const json = ['encoding/json.Marshal', 'encoding/json.(*encodeState).marshal'];

describe("the service's own hot paths", () => {
  it('names encoding/json beneath the handler that spends most of its CPU there, with the runbook fix, although the global JSON detector stays quiet', () => {
    // 20% of the profile in JSON (under the global 30% bar), all of it under main.handleReport
    const a = cpuProfile([
      [[...http, 'main.handleReport', 'main.encodeReport', ...json], 20],
      [[...http, 'main.handleReport', 'main.render'], 5],
      [[...http, 'main.search', 'main.score'], 75],
    ]);
    expect(detectCpuIssues(a).findings.map((f) => f.id)).not.toContain('cpu.json');
    const hot = findHotPaths(a);
    expect(hot.app.prefixes).toEqual(['main.']);
    const report = hot.paths.find((p) => p.function === 'main.handleReport');
    expect(report?.cumShare).toBeCloseTo(0.25);
    expect(report?.costs[0]).toMatchObject({ kind: 'json', ofFunction: 0.8, via: 'main.encodeReport' });
    const { findings, headline } = hotPathFindings('cpu', hot);
    const f = findings.find((x) => x.id === 'cpu.hot-path.json');
    expect(f?.title).toBe(
      'main.encodeReport spends 100% of its CPU in JSON serialization (encoding/json): 20% of all CPU',
    );
    expect(f?.severity).toBe('warning');
    expect(f?.advice).toBe(ADVICE.json);
    expect(f?.summary).toContain('sonic or jsoniter');
    expect(headline).toMatch(/^CPU: main\.encodeReport spends 100%/);
  });

  it('lists the functions by cum with their callees as pprof -peek weighs them', () => {
    const a = cpuProfile([
      [[...http, 'main.handleReport', 'main.encodeReport', ...json], 30],
      [[...http, 'main.handleReport', 'main.render'], 10],
    ]);
    const hot = findHotPaths(a);
    expect(hot.paths.map((p) => p.function)).toEqual([
      'main.(*app).handle',
      'main.handleReport',
      'main.encodeReport',
      'main.render',
    ]);
    expect(hot.paths[1]?.callees).toEqual([
      { name: 'main.encodeReport', value: 300_000_000, share: 0.75 },
      { name: 'main.render', value: 100_000_000, share: 0.25 },
    ]);
  });

  it('attributes a sample to the outermost costly library: reflection inside encoding/json is JSON', () => {
    const a = cpuProfile([
      [[...http, 'main.encode', ...json, 'reflect.Value.Field', 'runtime.mallocgc'], 40],
    ]);
    const hot = findHotPaths(a);
    expect(hot.named.map((c) => c.kind)).toEqual(['json']);
  });

  it('names GC and allocation (runtime.mallocgc) beneath the function that allocates', () => {
    const a = cpuProfile([
      [
        [...http, 'main.buildRows', 'runtime.growslice', 'runtime.mallocgc', 'runtime.memclrNoHeapPointers'],
        30,
      ],
      [[...http, 'main.other'], 70],
    ]);
    const c = findHotPaths(a).named[0];
    expect(c).toMatchObject({ kind: 'allocation', function: 'main.buildRows', ofFunction: 1 });
    expect(c?.ofProfile).toBeCloseTo(0.3);
  });

  it('does not name a library under a quarter of the function, nor under 2% of the profile, nor on fewer than 5 samples', () => {
    const under = (stacks: [string[], number][]) => findHotPaths(cpuProfile(stacks)).named;
    // 24% of main.f
    expect(
      under([
        [[...http, 'main.f', 'fmt.Sprintf'], 24],
        [[...http, 'main.f'], 76],
      ]),
    ).toEqual([]);
    // 25% of main.f: named
    expect(
      under([
        [[...http, 'main.f', 'fmt.Sprintf'], 25],
        [[...http, 'main.f'], 75],
      ])[0]?.kind,
    ).toBe('formatting');
    // all of main.g, but 1.9% of the profile
    expect(
      under([
        [[...http, 'main.g', 'fmt.Sprintf'], 19],
        [[...http, 'main.h'], 981],
      ]),
    ).toEqual([]);
    // all of main.g and 4 samples (20% of the profile)
    expect(
      under([
        [[...http, 'main.g', 'compress/flate.(*compressor).deflate'], 4],
        [[...http, 'main.h'], 16],
      ]),
    ).toEqual([]);
    // 5 samples: named
    expect(
      under([
        [[...http, 'main.g', 'compress/flate.(*compressor).deflate'], 5],
        [[...http, 'main.h'], 15],
      ])[0]?.kind,
    ).toBe('compression');
  });

  it('names nothing in a CPU profile of fewer than 20 samples, and grades a cost of fewer than 10 samples info', () => {
    const named = (stacks: [string[], number][]) =>
      findHotPaths(cpuProfile(stacks)).named.map((c) => [c.kind, c.severity]);
    expect(
      named([
        [[...http, 'main.g', ...json], 9],
        [[...http, 'main.h'], 10],
      ]),
    ).toEqual([]);
    expect(
      named([
        [[...http, 'main.g', ...json], 9],
        [[...http, 'main.h'], 11],
      ]),
    ).toEqual([['json', 'info']]);
    expect(
      named([
        [[...http, 'main.g', ...json], 10],
        [[...http, 'main.h'], 10],
      ]),
    ).toEqual([['json', 'critical']]);
  });

  it('grades by share of the function and of the profile at the documented boundaries', () => {
    expect(costSeverity(0.49, 0.9)).toBe('info');
    expect(costSeverity(0.5, 0.099)).toBe('info');
    expect(costSeverity(0.5, 0.1)).toBe('warning');
    expect(costSeverity(1, 0.399)).toBe('warning');
    expect(costSeverity(0.5, 0.4)).toBe('critical');
  });

  it('does not repeat a cost the global detector already named with the same caller', () => {
    const a = cpuProfile([
      [[...http, 'main.encodeReportJSON', ...json], 60],
      [[...http, 'main.other'], 40],
    ]);
    const detected = detectCpuIssues(a);
    expect(detected.findings.map((f) => f.id)).toEqual(['cpu.json']);
    const { findings } = hotPathFindings('cpu', findHotPaths(a), detected.findings);
    expect(findings.map((f) => f.id)).toEqual(['cpu.hot-paths']);
    // the table still names it beneath the function, with the fix
    const table = findings[0]?.evidence[0];
    expect(JSON.stringify(table)).toMatch(
      /main\.encodeReportJSON.*encoding\/json.*100% of it → Use a faster JSON encoder/,
    );
  });
});

/** A heap profile: [stack root first, bytes allocated, bytes in use]. */
function heapProfile(stacks: [string[], number, number][]) {
  const functions: ProfileSpec['functions'][number][] = [];
  const locations: ProfileSpec['locations'][number][] = [];
  const ids = new Map<string, number>();
  const loc = (name: string) => {
    let id = ids.get(name);
    if (!id) {
      id = functions.length + 1;
      ids.set(name, id);
      functions.push({ id, name, filename: '/src/aegis/x.go' });
      locations.push({ id, lines: [{ functionId: id, line: id }] });
    }
    return id;
  };
  return analyzeProfile(
    decodeProfileProto(
      encodeProfile({
        sampleTypes: [
          { type: 'alloc_objects', unit: 'count' },
          { type: 'alloc_space', unit: 'bytes' },
          { type: 'inuse_objects', unit: 'count' },
          { type: 'inuse_space', unit: 'bytes' },
        ],
        period: 524288,
        functions,
        locations,
        samples: stacks.map(([stack, alloc, inuse]) => ({
          locationIds: stack.map(loc).reverse(),
          values: [1, alloc, inuse ? 1 : 0, inuse],
        })),
      }),
    ),
  );
}

describe('hot paths of a heap profile (bytes allocated)', () => {
  it('names encoding/json beneath the function whose allocations it makes, and never GC (every heap sample allocates)', () => {
    const a = heapProfile([
      [[...http, 'main.encodeReport', 'encoding/json.Marshal', 'runtime.mallocgc'], 60 << 20, 0],
      [[...http, 'main.cache', 'runtime.makemap', 'runtime.mallocgc'], 40 << 20, 40 << 20],
    ]);
    const hot = findHotPaths(a, { sampleIndex: 'alloc_space' });
    expect(hot.sampleType).toBe('alloc_space');
    expect(hot.named.map((c) => [c.kind, c.function, c.severity])).toEqual([
      ['json', 'main.encodeReport', 'critical'],
    ]);
    const { findings } = hotPathFindings('heap', hot);
    expect(findings.map((f) => f.id)).toEqual(['heap.hot-paths', 'heap.hot-path.json']);
    expect(findings[1]?.title).toBe(
      'main.encodeReport spends 100% of its bytes allocated in JSON serialization (encoding/json): 60% of all bytes allocated',
    );
  });
});

describe("which code is the service's own", () => {
  it('takes the module with the most sampled functions from its own source tree, plus package main', () => {
    const a = cpuProfile(
      [
        [
          [
            'runtime.goexit',
            'main.main',
            'github.com/acme/aegis-api/internal/api.(*Server).handle',
            'github.com/acme/aegis-api/internal/report.Build',
            'google.golang.org/grpc.(*Server).serve',
            'google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders',
            'google.golang.org/grpc/internal/transport.newWriteQuota',
            'github.com/acme/aegis-api/vendor/github.com/x/y.F',
          ],
          10,
        ],
      ],
      {
        'google.golang.org/grpc.(*Server).serve': '/root/go/pkg/mod/google.golang.org/grpc@v1.60.0/server.go',
        'google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders':
          'google.golang.org/grpc@v1.60.0/internal/transport/http2_server.go',
        'google.golang.org/grpc/internal/transport.newWriteQuota':
          'google.golang.org/grpc@v1.60.0/internal/transport/flowcontrol.go',
      },
    );
    const hot = findHotPaths(a);
    expect(hot.app.prefixes).toEqual(['github.com/acme/aegis-api', 'main.']);
    expect(hot.app.derived).toBe(true);
    expect(hot.paths.map((p) => p.function)).toEqual([
      'main.main',
      'github.com/acme/aegis-api/internal/api.(*Server).handle',
      'github.com/acme/aegis-api/internal/report.Build',
    ]);
  });

  it('uses the configured prefixes when given', () => {
    const a = cpuProfile([[[...http, 'main.f', 'github.com/acme/lib.G'], 10]]);
    const hot = findHotPaths(a, { appPackages: ['github.com/acme/lib'] });
    expect(hot.app).toMatchObject({ prefixes: ['github.com/acme/lib'], derived: false });
    expect(hot.paths.map((p) => p.function)).toEqual(['github.com/acme/lib.G']);
  });

  it('reads module paths the way Go spells them', () => {
    expect(moduleOf('main.(*app).handle')).toBe('main.');
    expect(moduleOf('github.com/acme/aegis-api/internal/x.(*T).F')).toBe('github.com/acme/aegis-api');
    expect(moduleOf('go.uber.org/zap.(*Logger).Info')).toBe('go.uber.org/zap');
    expect(moduleOf('aegis/internal/x.F')).toBe('aegis');
  });

  it('finds no own code in a profile of the standard library only', () => {
    const a = cpuProfile([[['runtime.goexit', 'net/http.(*conn).serve', 'encoding/json.Marshal'], 10]]);
    const hot = findHotPaths(a);
    expect(appCode(a.profile, [], undefined).prefixes).toEqual([]);
    expect(hot.paths).toEqual([]);
    expect(hotPathFindings('cpu', hot).findings[0]?.title).toBe(
      "Your code's hot paths: none in this profile",
    );
  });
});
