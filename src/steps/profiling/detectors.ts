import type { Advice, Evidence, Finding } from '../../domain/finding.ts';
import { worstFirstHeadline } from '../../domain/report.ts';
import type { Severity } from '../../domain/severity.ts';
import type { ValueType } from '../../lib/pprof/decode.ts';
import { callersOf, sampleIndexByName, valueThrough } from '../../lib/pprof/graph.ts';
import { isAppFunction, isRuntimeFunction, isStdlibFunction } from '../../lib/pprof/names.ts';
import type { ProfileAnalysis } from '../../lib/pprof/top.ts';
import { label, scaledLabel } from '../../lib/pprof/units.ts';

/**
 * The runbook's known CPU and memory issues, recognised in a profile (Step 2 "Common CPU issues",
 * Step 3 "Common memory issues"). Pure: profile analysis in, findings out. Every finding names the
 * function, its share and its caller, and carries the runbook's fix as advice.
 */

export type ProfileKind = 'cpu' | 'heap' | 'mutex' | 'other';

export function profileKind(types: readonly ValueType[]): ProfileKind {
  const names = types.map((t) => t.type);
  if (names.includes('cpu')) return 'cpu';
  if (names.includes('inuse_space') || names.includes('alloc_space')) return 'heap';
  if (names.includes('contentions') && names.includes('delay')) return 'mutex';
  return 'other';
}

export interface CpuDetectorOptions {
  /** Share of CPU under encoding/json above which JSON serialization is reported. */
  readonly jsonShare?: number;
  /** Share of CPU compiling regular expressions above which it is reported. */
  readonly regexpShare?: number;
  /** Share of CPU in logging packages above which logging is reported. */
  readonly loggingShare?: number;
  /** One function's flat share above which it is reported as dominant. */
  readonly dominantShare?: number;
  /** Fewer CPU samples than this in total (or behind a finding) say nothing. */
  readonly minSamples?: number;
}

export interface HeapDetectorOptions {
  /** Share of the heap in use held by one growing slice. */
  readonly sliceGrowthShare?: number;
  /** Share of all bytes allocated by one site that builds ever longer strings it then drops. */
  readonly concatShare?: number;
  /** Share of the heap in use held by many objects from one allocation site. */
  readonly retainedShare?: number;
  /** Below this much memory in use the heap detectors say nothing. */
  readonly minInuseBytes?: number;
}

const CPU_DEFAULTS: Required<CpuDetectorOptions> = {
  // A service that answers JSON spends some CPU there anyway: only a large share is a finding.
  jsonShare: 0.3,
  regexpShare: 0.05,
  loggingShare: 0.1,
  dominantShare: 0.3,
  minSamples: 20,
};

const HEAP_DEFAULTS: Required<HeapDetectorOptions> = {
  sliceGrowthShare: 0.2,
  concatShare: 0.2,
  retainedShare: 0.3,
  minInuseBytes: 4 * 2 ** 20,
};

// ---- the runbook's advice -----------------------------------------------------------------------

const HIGH_CPU_QUICK = [
  "Scale horizontally: kubectl scale deployment aegis-api -n aegis --replicas=5 (the runbook's quick fix for high CPU)",
];
const HIGH_CPU_LONG = [
  'Cache computed results',
  'Optimize hot code paths',
  'Use worker pools for CPU-intensive work',
  'Add batch processing for bulk operations',
];
const MEMORY_QUICK = [
  'Increase the memory limit (temporary): kubectl patch deployment aegis-api -n aegis --type=json -p=\'[{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "4Gi"}]\'',
];
const MEMORY_LONG = [
  'Implement streaming for large responses',
  'Use generators for batch processing',
  'Add memory limits to goroutines',
  'Profile and fix memory leaks',
];

export const ADVICE = {
  json: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: [
      'Use a faster JSON encoder: sonic or jsoniter (runbook Step 2)',
      'Cache encoded responses that do not change',
      ...HIGH_CPU_LONG.slice(1),
    ],
  },
  regexp: {
    quickFix: [
      'Compile the regular expression once (a package-level regexp.MustCompile) and reuse it (runbook Step 2)',
      ...HIGH_CPU_QUICK,
    ],
    longTerm: ['Cache compiled patterns when they depend on input', ...HIGH_CPU_LONG.slice(1)],
  },
  logging: {
    quickFix: [
      'Lower the log level: drop per-request debug lines (runbook Step 2: excessive logging)',
      ...HIGH_CPU_QUICK,
    ],
    longTerm: [
      'Structured logging, not excessive (runbook checklist, application layer)',
      'Sample repetitive log lines',
      ...HIGH_CPU_LONG.slice(1),
    ],
  },
  // Libraries the runbook has no line of its own for: its High CPU fixes, made specific.
  formatting: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: [
      'Format less on the hot path: strconv and a reused buffer instead of fmt.Sprintf (runbook: optimize hot code paths)',
      ...HIGH_CPU_LONG,
    ],
  },
  compression: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: [
      'Compress once and cache the result, or use a faster compression level (runbook: cache computed results)',
      ...HIGH_CPU_LONG,
    ],
  },
  reflection: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: [
      'Replace reflection on the hot path with typed code or cached type information (runbook: optimize hot code paths)',
      ...HIGH_CPU_LONG,
    ],
  },
  allocation: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: [
      'Allocate less on this path: reuse buffers (sync.Pool), preallocate slices and maps; see where with /aegis heap (runbook Step 3)',
      ...HIGH_CPU_LONG,
    ],
  },
  dominant: {
    quickFix: HIGH_CPU_QUICK,
    longTerm: ['Look for an inefficient algorithm in this function (runbook Step 2)', ...HIGH_CPU_LONG],
  },
  sliceGrowth: {
    quickFix: MEMORY_QUICK,
    longTerm: [
      'Bound the slice: cap it, flush it, or use a ring buffer (runbook Step 3: unbounded slice growth)',
      ...MEMORY_LONG,
    ],
  },
  concat: {
    quickFix: MEMORY_QUICK,
    longTerm: [
      'Build the string with strings.Builder (or bytes.Buffer), not += in a loop (runbook Step 3)',
      'Implement streaming for large responses',
      ...MEMORY_LONG.slice(1),
    ],
  },
  retained: {
    quickFix: MEMORY_QUICK,
    longTerm: [
      'Drop references once done: held references prevent GC (runbook Step 3); bound caches and object pools',
      ...MEMORY_LONG,
    ],
  },
} satisfies Record<string, Advice>;

// ---- CPU ------------------------------------------------------------------------------------------

export const JSON_RX = /^encoding\/json\./;
export const REGEXP_COMPILE_RX = /^regexp\.(MustCompile|Compile|MustCompilePOSIX|CompilePOSIX|compile)$/;
const REGEXP_ANY_RX = /^regexp(\/syntax)?\./;
export const LOGGING_RX =
  /^(log|log\/slog)\.|^github\.com\/sirupsen\/logrus\.|^go\.uber\.org\/zap|^github\.com\/rs\/zerolog/;

export interface CpuSignal {
  readonly kind: 'json' | 'regexp' | 'logging' | 'dominant';
  readonly function: string;
  readonly share: number;
  readonly value: number;
  readonly caller?: string;
  readonly callerShare?: number;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

export interface DetectorResult {
  readonly findings: Finding[];
  /** The worst finding's one line with its severity word (the largest share among equals), for a headline. */
  readonly headline?: string;
}

export function detectCpuIssues(analysis: ProfileAnalysis, options: CpuDetectorOptions = {}): DetectorResult {
  const o = { ...CPU_DEFAULTS, ...options };
  const agg = analysis.aggregateFor('');
  const { graph } = analysis;
  const names = graph.names;
  const total = agg.total;
  const samplesIdx = analysis.profile.sampleTypes.findIndex((t) => t.type === 'samples');
  const allSamples = samplesIdx >= 0 ? columnTotal(analysis, samplesIdx) : 0;
  const sampleCountOf = (value: number) => {
    if (samplesIdx < 0 || total === 0) return Math.round(value / (analysis.profile.period || 1));
    return Math.round((value / total) * allSamples);
  };
  if (total === 0 || sampleCountOf(total) < o.minSamples) return { findings: [] };
  const fmt = (v: number) => scaledLabel(v, agg.sampleType.unit, 'auto');

  const signal = (kind: CpuSignal['kind'], rx: RegExp, threshold: number): CpuSignal | undefined => {
    const value = valueThrough(graph, agg, (n) => rx.test(n));
    const share = value / total;
    if (share < threshold || sampleCountOf(value) < Math.max(3, o.minSamples / 4)) return undefined;
    let best = -1;
    for (let n = 0; n < graph.nodeCount; n++) {
      if (!rx.test(names[n] as string)) continue;
      if (best < 0 || (agg.cum[n] as number) > (agg.cum[best] as number)) best = n;
    }
    const callers = callersOf(
      graph,
      agg.sampleIndex,
      (n) => rx.test(names[n] as string),
      (n) => !isAppFunction(names[n] as string),
    );
    const top = callers[0];
    return {
      kind,
      function: names[best] as string,
      share,
      value,
      ...(top && top.node >= 0 ? { caller: names[top.node] as string, callerShare: top.value / total } : {}),
    };
  };

  const signals: CpuSignal[] = [];
  const json = signal('json', JSON_RX, o.jsonShare);
  if (json) signals.push(json);
  const re = signal('regexp', REGEXP_COMPILE_RX, o.regexpShare);
  if (re) signals.push(re);
  const logging = signal('logging', LOGGING_RX, o.loggingShare);
  if (logging) signals.push(logging);

  // Dominant function: the top flat function of code that has an algorithm to fix (not the
  // runtime, the scheduler or a system call), unless a finding above already explains it.
  let top = -1;
  for (let n = 0; n < graph.nodeCount; n++) {
    if (!canDominate(names[n] as string)) continue;
    if (top < 0 || (agg.flat[n] as number) > (agg.flat[top] as number)) top = n;
  }
  if (top >= 0) {
    const name = names[top] as string;
    const share = (agg.flat[top] as number) / total;
    const explained =
      (json && JSON_RX.test(name)) || (re && REGEXP_ANY_RX.test(name)) || (logging && LOGGING_RX.test(name));
    if (
      share >= o.dominantShare &&
      !explained &&
      sampleCountOf(agg.flat[top] as number) >= o.minSamples / 2
    ) {
      const callers = callersOf(
        graph,
        agg.sampleIndex,
        (n) => n === top,
        (n) => !isAppFunction(names[n] as string),
      );
      const c = callers[0];
      signals.push({
        kind: 'dominant',
        function: name,
        share,
        value: agg.flat[top] as number,
        ...(c && c.node >= 0 && c.node !== top
          ? { caller: names[c.node] as string, callerShare: c.value / total }
          : {}),
      });
    }
  }

  signals.sort((a, b) => b.share - a.share);
  const findings = signals.map(
    (s): Finding => ({
      ...cpuFinding(s, fmt, total),
      impact: s.share,
      headline: {
        text: `CPU: ${pct(s.share)} in ${s.function}${s.caller ? ` via ${s.caller}` : ''}`,
        suffix: ` — ${CPU_WHAT[s.kind]}`,
      },
    }),
  );
  const headline = worstFirstHeadline(findings, [], { max: 1 });
  return { findings, ...(headline ? { headline } : {}) };
}

/** Sum of |value| of one sample type over all samples. */
function columnTotal(analysis: ProfileAnalysis, index: number): number {
  const { values, sampleCount, sampleTypes } = analysis.profile;
  const stride = sampleTypes.length;
  let t = 0;
  for (let s = 0; s < sampleCount; s++) t += Math.abs(values[s * stride + index] as number);
  return t;
}

/** Functions whose own CPU time is not an algorithm the service can change. */
function canDominate(name: string): boolean {
  return !(
    isRuntimeFunction(name) ||
    name.startsWith('syscall.') ||
    name.startsWith('internal/') ||
    name.startsWith('[') ||
    name.startsWith('<')
  );
}

const CPU_WHAT: Record<CpuSignal['kind'], string> = {
  json: 'JSON serialization',
  regexp: 'regular expressions compiled on a hot path',
  logging: 'excessive logging',
  dominant: 'one function dominates',
};

function severityForShare(share: number, critical: number): Severity {
  return share >= critical ? 'critical' : 'warning';
}

function cpuFinding(s: CpuSignal, fmt: (v: number) => string, total: number): Finding {
  const via = s.caller ? ` via ${s.caller}` : '';
  const fields = [
    { label: 'Function', value: s.function },
    { label: 'Share of CPU', value: `${pct(s.share)} (${fmt(s.value)} of ${fmt(total)})` },
    ...(s.caller
      ? [
          {
            label: 'Caller',
            value: `${s.caller}${s.callerShare !== undefined ? ` (${pct(s.callerShare)})` : ''}`,
          },
        ]
      : []),
  ];
  const evidence: Evidence[] = [{ type: 'fields', fields }];
  switch (s.kind) {
    case 'json':
      return {
        id: 'cpu.json',
        severity: severityForShare(s.share, 0.4),
        title: `JSON serialization takes ${pct(s.share)} of CPU`,
        summary: `${pct(s.share)} of CPU is spent in encoding/json${via}. The runbook: use a faster encoder (sonic or jsoniter).`,
        evidence,
        links: [],
        advice: ADVICE.json,
      };
    case 'regexp':
      return {
        id: 'cpu.regexp',
        severity: severityForShare(s.share, 0.25),
        title: `Regular expressions compiled on a hot path: ${pct(s.share)} of CPU`,
        summary: `${pct(s.share)} of CPU goes to regexp compilation${via}. Compile the pattern once and reuse it.`,
        evidence,
        links: [],
        advice: ADVICE.regexp,
      };
    case 'logging':
      return {
        id: 'cpu.logging',
        severity: severityForShare(s.share, 0.3),
        title: `Excessive logging: ${pct(s.share)} of CPU`,
        summary: `${pct(s.share)} of CPU is spent writing logs${via}. Log less on the hot path.`,
        evidence,
        links: [],
        advice: ADVICE.logging,
      };
    case 'dominant':
      return {
        id: 'cpu.dominant',
        severity: severityForShare(s.share, 0.6),
        title: `One function dominates: ${s.function} uses ${pct(s.share)} of CPU itself`,
        summary: `${s.function}${via} spends ${pct(s.share)} of all CPU samples in its own code (flat). Look for an inefficient algorithm there.`,
        evidence,
        links: [],
        advice: ADVICE.dominant,
      };
  }
}

// ---- Heap -----------------------------------------------------------------------------------------

export interface AllocationSite {
  /** The allocating function (the profile's leaf frame). */
  readonly function: string;
  /** The first application function on the path (the site itself when it is application code). */
  readonly owner: string;
  readonly inuseSpace: number;
  readonly inuseObjects: number;
  readonly allocSpace: number;
  readonly allocObjects: number;
  /** Distinct object sizes allocated at the site (Go's "bytes" label), ascending. */
  readonly sizes: readonly number[];
  /** Size of the largest object still in use. */
  readonly largestLive: number;
}

/** Allocation sites (leaf functions) with their in-use and allocated totals and object sizes. */
export function allocationSites(analysis: ProfileAnalysis): AllocationSite[] {
  const p = analysis.profile;
  const { graph } = analysis;
  const idx = (name: string) => p.sampleTypes.findIndex((t) => t.type === name);
  const iInSpace = idx('inuse_space');
  const iInObj = idx('inuse_objects');
  const iAlSpace = idx('alloc_space');
  const iAlObj = idx('alloc_objects');
  const stride = p.sampleTypes.length;
  const sites = new Map<
    number,
    {
      inS: number;
      inO: number;
      alS: number;
      alO: number;
      sizes: Set<number>;
      largestLive: number;
      owner: number;
    }
  >();
  const { values, stackStart, stack, sampleCount, bytesLabel } = p;
  const { locNodeStart, locNodes, names } = graph;
  for (let s = 0; s < sampleCount; s++) {
    const a = stackStart[s] as number;
    const b = stackStart[s + 1] as number;
    if (a === b) continue;
    const leaf = locNodes[locNodeStart[stack[a] as number] as number] as number;
    let site = sites.get(leaf);
    if (!site) {
      // The first application frame from the leaf up.
      let owner = -1;
      outer: for (let k = a; k < b; k++) {
        const loc = stack[k] as number;
        for (let i = locNodeStart[loc] as number; i < (locNodeStart[loc + 1] as number); i++) {
          const n = locNodes[i] as number;
          if (isAppFunction(names[n] as string)) {
            owner = n;
            break outer;
          }
        }
      }
      site = { inS: 0, inO: 0, alS: 0, alO: 0, sizes: new Set(), largestLive: 0, owner };
      sites.set(leaf, site);
    }
    const v = (i: number) => (i >= 0 ? (values[s * stride + i] as number) : 0);
    const inS = v(iInSpace);
    const inO = v(iInObj);
    site.inS += inS;
    site.inO += inO;
    site.alS += v(iAlSpace);
    site.alO += v(iAlObj);
    const size = bytesLabel ? (bytesLabel[s] as number) : Number.NaN;
    if (Number.isFinite(size) && size > 0) {
      if (v(iAlObj) > 0 || inO > 0) site.sizes.add(size);
      if (inO > 0 && size > site.largestLive) site.largestLive = size;
    }
  }
  return [...sites.entries()].map(([leaf, x]) => ({
    function: names[leaf] as string,
    owner: x.owner >= 0 ? (names[x.owner] as string) : (names[leaf] as string),
    inuseSpace: x.inS,
    inuseObjects: x.inO,
    allocSpace: x.alS,
    allocObjects: x.alO,
    sizes: [...x.sizes].sort((m, n) => m - n),
    largestLive: x.largestLive,
  }));
}

function medianGrowth(sizes: readonly number[]): number {
  if (sizes.length < 2) return 1;
  const r: number[] = [];
  for (let i = 1; i < sizes.length; i++) r.push((sizes[i] as number) / (sizes[i - 1] as number));
  r.sort((a, b) => a - b);
  return r[Math.floor(r.length / 2)] as number;
}

export function detectHeapIssues(
  analysis: ProfileAnalysis,
  options: HeapDetectorOptions = {},
): DetectorResult {
  const o = { ...HEAP_DEFAULTS, ...options };
  const p = analysis.profile;
  if (!p.sampleTypes.some((t) => t.type === 'inuse_space')) return { findings: [] };
  const sites = allocationSites(analysis);
  const totalInuse = sites.reduce((t, s) => t + s.inuseSpace, 0);
  const totalAlloc = sites.reduce((t, s) => t + s.allocSpace, 0);
  const bytes = (v: number) => label(v, 'bytes');
  const findings: { share: number; finding: Finding; headline: string }[] = [];
  const explained = new Set<string>();

  // Unbounded slice growth: one site, few live objects, the largest of a geometric series of sizes.
  if (totalInuse >= o.minInuseBytes) {
    for (const s of sites) {
      const share = s.inuseSpace / totalInuse;
      if (!isAppFunction(s.function) || share < o.sliceGrowthShare) continue;
      if (s.sizes.length < 4 || s.inuseObjects > 4 || s.largestLive < 64 * 1024) continue;
      const growth = medianGrowth(s.sizes);
      const span = (s.sizes[s.sizes.length - 1] as number) / (s.sizes[0] as number);
      if (growth < 1.18 || span < 16) continue;
      explained.add(s.function);
      const caller = callerOfSite(analysis, s.function);
      findings.push({
        share,
        headline: `Memory: ${pct(share)} of the heap in use is one growing slice in ${s.function} — unbounded slice growth`,
        finding: {
          id: 'heap.slice-growth',
          severity: severityForShare(share, 0.5),
          title: `Unbounded slice growth in ${s.function}: ${bytes(s.inuseSpace)} (${pct(share)} of the heap in use)`,
          summary: `${s.function}${caller ? ` (called by ${caller})` : ''} keeps appending to a slice: its backing array was reallocated ${s.sizes.length} times, from ${bytes(s.sizes[0] as number)} to ${bytes(s.sizes[s.sizes.length - 1] as number)}, and now holds ${bytes(s.inuseSpace)}.`,
          evidence: [
            {
              type: 'fields',
              fields: [
                { label: 'Function', value: s.function },
                {
                  label: 'Share of heap in use',
                  value: `${pct(share)} (${bytes(s.inuseSpace)} of ${bytes(totalInuse)})`,
                },
                { label: 'Largest live array', value: bytes(s.largestLive) },
                { label: 'Reallocations seen', value: `${s.sizes.length} sizes, ×${growth.toFixed(2)} each` },
                ...(caller ? [{ label: 'Caller', value: caller }] : []),
              ],
            },
          ],
          links: [],
          advice: ADVICE.sliceGrowth,
        },
      });
    }
  }

  // String concatenation in loops: a site that allocates ever longer objects and keeps none.
  if (totalAlloc > 0) {
    for (const s of sites) {
      const share = s.allocSpace / totalAlloc;
      if (!isAppFunction(s.function) || share < o.concatShare || explained.has(s.function)) continue;
      if (s.sizes.length < 8 || s.inuseSpace > 0.05 * s.allocSpace) continue;
      if (medianGrowth(s.sizes) >= 1.18) continue;
      explained.add(s.function);
      const caller = callerOfSite(analysis, s.function);
      findings.push({
        share,
        headline: `Memory: ${pct(share)} of all allocation is strings rebuilt in a loop in ${s.function} — string concatenation`,
        finding: {
          id: 'heap.string-concat',
          severity: severityForShare(share, 0.5),
          title: `String concatenation in a loop in ${s.function}: ${pct(share)} of all bytes allocated`,
          summary: `${s.function}${caller ? ` (called by ${caller})` : ''} allocated ${bytes(s.allocSpace)} in ${s.sizes.length} ever larger sizes (${bytes(s.sizes[0] as number)} to ${bytes(s.sizes[s.sizes.length - 1] as number)}) and keeps almost none: each += copies the whole string.`,
          evidence: [
            {
              type: 'fields',
              fields: [
                { label: 'Function', value: s.function },
                {
                  label: 'Share of bytes allocated',
                  value: `${pct(share)} (${bytes(s.allocSpace)} of ${bytes(totalAlloc)})`,
                },
                { label: 'Still in use', value: bytes(s.inuseSpace) },
                {
                  label: 'Object sizes',
                  value: `${s.sizes.length}, ${bytes(s.sizes[0] as number)} to ${bytes(s.sizes[s.sizes.length - 1] as number)}`,
                },
                ...(caller ? [{ label: 'Caller', value: caller }] : []),
              ],
            },
          ],
          links: [],
          advice: ADVICE.concat,
        },
      });
    }
  }

  // Large retained objects: one site holds much of the heap in many live objects.
  if (totalInuse >= o.minInuseBytes) {
    const byOwner = new Map<string, { inS: number; inO: number; largest: number; fns: Set<string> }>();
    for (const s of sites) {
      if (explained.has(s.function) || s.inuseSpace <= 0) continue;
      const x = byOwner.get(s.owner) ?? { inS: 0, inO: 0, largest: 0, fns: new Set<string>() };
      x.inS += s.inuseSpace;
      x.inO += s.inuseObjects;
      x.largest = Math.max(x.largest, s.largestLive);
      x.fns.add(s.function);
      byOwner.set(s.owner, x);
    }
    for (const [owner, x] of byOwner) {
      const share = x.inS / totalInuse;
      if (share < o.retainedShare || x.inO < 8 || isRuntimeFunction(owner)) continue;
      const caller = isStdlibFunction(owner) ? undefined : callerOfSite(analysis, owner);
      findings.push({
        share,
        headline: `Memory: ${pct(share)} of the heap in use is held by objects from ${owner} — large retained objects`,
        finding: {
          id: 'heap.retained',
          severity: severityForShare(share, 0.6),
          title: `Large retained objects from ${owner}: ${bytes(x.inS)} (${pct(share)} of the heap in use)`,
          summary: `${Math.round(x.inO).toLocaleString('en-US')} objects allocated in ${owner}${caller ? ` (called by ${caller})` : ''} are still referenced, ${bytes(x.inS)} in all: something holds references that keep them from being collected.`,
          evidence: [
            {
              type: 'fields',
              fields: [
                { label: 'Function', value: owner },
                {
                  label: 'Share of heap in use',
                  value: `${pct(share)} (${bytes(x.inS)} of ${bytes(totalInuse)})`,
                },
                {
                  label: 'Live objects',
                  value: `${Math.round(x.inO).toLocaleString('en-US')}${x.largest ? `, up to ${bytes(x.largest)} each` : ''}`,
                },
                ...(caller ? [{ label: 'Caller', value: caller }] : []),
              ],
            },
          ],
          links: [],
          advice: ADVICE.retained,
        },
      });
    }
  }

  findings.sort((a, b) => b.share - a.share);
  const ranked = findings.map(({ share, finding, headline }): Finding => {
    const [text, what] = headline.split(' — ');
    return {
      ...finding,
      impact: share,
      headline: { text: text as string, ...(what ? { suffix: ` — ${what}` } : {}) },
    };
  });
  const headline = worstFirstHeadline(ranked, [], { max: 1 });
  return { findings: ranked, ...(headline ? { headline } : {}) };
}

/** The application function that calls `fn` the most (by inuse, else alloc space). */
function callerOfSite(analysis: ProfileAnalysis, fn: string): string | undefined {
  const { graph, profile } = analysis;
  const node = graph.names.indexOf(fn);
  if (node < 0) return undefined;
  const si = profile.sampleTypes.some((t) => t.type === 'alloc_space')
    ? sampleIndexByName(profile, 'alloc_space')
    : sampleIndexByName(profile, '');
  const callers = callersOf(
    graph,
    si,
    (n) => n === node,
    (n) => !isAppFunction(graph.names[n] as string),
  );
  const c = callers[0];
  return c && c.node >= 0 ? (graph.names[c.node] as string) : undefined;
}
