import type { Advice, Evidence, Finding } from '../../domain/finding.ts';
import type { Severity } from '../../domain/severity.ts';
import { type AppCode, appCode } from '../../lib/pprof/app-code.ts';
import { peekReport } from '../../lib/pprof/peek.ts';
import type { ProfileAnalysis } from '../../lib/pprof/top.ts';
import { scaledLabel } from '../../lib/pprof/units.ts';
import { ADVICE, JSON_RX, LOGGING_RX, REGEXP_COMPILE_RX } from './detectors.ts';

/**
 * The service's own hot paths (issue 14, item 3): the application's functions with their cum share
 * and, beneath each, what it spends its time in: its callees as `go tool pprof -peek` lists them,
 * and the costly libraries under it with `-focus` semantics (samples where the function is on the
 * stack, each attributed to the outermost costly-library frame beneath it). A costly library that
 * is a large part of one application function is named with the runbook's fix even when its share
 * of the whole profile is under the global detectors' bars.
 *
 * Boundaries (README, severity section), the same for CPU and heap:
 * - named: the library is >= 25% of the function's cum and >= 2% of the profile;
 * - warning: >= 50% of the function and >= 10% of the profile;
 * - critical: >= 50% of the function and >= 40% of the profile;
 * - on CPU: a cost of fewer than 5 samples is not named, one of fewer than 10 stays info, and a
 *   profile of fewer than 20 samples names nothing (the detectors' evidence floors).
 * A function's cost is told once, under the nearest application function above the library frame.
 */

export type CostKind =
  | 'json'
  | 'regexp'
  | 'logging'
  | 'formatting'
  | 'compression'
  | 'reflection'
  | 'allocation';

interface KindSpec {
  readonly kind: CostKind;
  readonly rx: RegExp;
  readonly what: string;
  readonly advice: Advice;
  /** The fix in a few words, from the advice. */
  readonly fix: string;
  /** Only meaningful for CPU profiles (every heap sample is an allocation). */
  readonly cpuOnly?: boolean;
}

const KINDS: readonly KindSpec[] = [
  {
    kind: 'json',
    rx: JSON_RX,
    what: 'JSON serialization (encoding/json)',
    advice: ADVICE.json,
    fix: ADVICE.json.longTerm[0] as string,
  },
  {
    kind: 'regexp',
    rx: REGEXP_COMPILE_RX,
    what: 'regular expressions compiled on the hot path',
    advice: ADVICE.regexp,
    fix: ADVICE.regexp.quickFix[0] as string,
  },
  {
    kind: 'logging',
    rx: LOGGING_RX,
    what: 'logging',
    advice: ADVICE.logging,
    fix: ADVICE.logging.quickFix[0] as string,
  },
  {
    kind: 'formatting',
    rx: /^fmt\./,
    what: 'string formatting (fmt)',
    advice: ADVICE.formatting,
    fix: ADVICE.formatting.longTerm[0] as string,
  },
  {
    kind: 'compression',
    rx: /^compress\//,
    what: 'compression (compress/*)',
    advice: ADVICE.compression,
    fix: ADVICE.compression.longTerm[0] as string,
  },
  {
    kind: 'reflection',
    rx: /^reflect\./,
    what: 'reflection (reflect)',
    advice: ADVICE.reflection,
    fix: ADVICE.reflection.longTerm[0] as string,
  },
  {
    kind: 'allocation',
    rx: /^runtime\.mallocgc$/,
    what: 'memory allocation and the GC work it brings (runtime.mallocgc)',
    advice: ADVICE.allocation,
    fix: ADVICE.allocation.longTerm[0] as string,
    cpuOnly: true,
  },
];

export const HOT_PATH_BOUNDS = {
  /** Share of the function above which a library is named beneath it. */
  namedOfFunction: 0.25,
  namedOfProfile: 0.02,
  warningOfFunction: 0.5,
  warningOfProfile: 0.1,
  criticalOfProfile: 0.4,
  /** CPU samples a cost needs to be named, and to be graded warning or critical (as the detectors'). */
  minCpuSamples: 5,
  minCpuSamplesGraded: 10,
  /** A CPU profile with fewer samples in all names nothing (the detectors' minSamples). */
  minCpuProfileSamples: 20,
} as const;

export interface LibraryCost {
  readonly kind: CostKind;
  readonly value: number;
  readonly ofFunction: number;
  readonly ofProfile: number;
  /** In a hot path's list: the application function beneath it that owns most of this cost, if not itself. */
  readonly via?: string;
}

export interface HotPath {
  readonly function: string;
  readonly cum: number;
  readonly cumShare: number;
  /** Direct callees, as -peek lists them. */
  readonly callees: readonly { name: string; value: number; share: number }[];
  /** Costly libraries beneath (focus semantics), largest first, those >= the named bound of the function. */
  readonly costs: readonly LibraryCost[];
}

export interface OwnedCost extends LibraryCost {
  /** The nearest application function above the library frame. */
  readonly function: string;
  readonly severity: Severity;
}

export interface HotPaths {
  readonly app: AppCode;
  readonly sampleType: string;
  readonly total: number;
  readonly paths: readonly HotPath[];
  /** Named costs (>= the named bounds), most severe and largest first. */
  readonly named: readonly OwnedCost[];
  readonly format: (v: number) => string;
}

export interface HotPathOptions {
  readonly appPackages?: readonly string[];
  /** "" for the profile's default; heap reports use alloc_space. */
  readonly sampleIndex?: string;
  /** Functions listed; default 6. */
  readonly rows?: number;
}

export function costSeverity(ofFunction: number, ofProfile: number): Severity {
  const b = HOT_PATH_BOUNDS;
  if (ofFunction >= b.warningOfFunction && ofProfile >= b.criticalOfProfile) return 'critical';
  if (ofFunction >= b.warningOfFunction && ofProfile >= b.warningOfProfile) return 'warning';
  return 'info';
}

export function findHotPaths(analysis: ProfileAnalysis, options: HotPathOptions = {}): HotPaths {
  const { graph, profile } = analysis;
  const agg = analysis.aggregateFor(options.sampleIndex ?? '');
  const names = graph.names;
  const N = graph.nodeCount;
  const total = agg.total;
  const unit = agg.sampleType.unit;
  const format = (v: number) => scaledLabel(v, unit, 'auto');
  const isCpu = agg.sampleType.type === 'cpu' || agg.sampleType.type === 'samples';
  const sampled: { name: string; cum: number }[] = [];
  for (let n = 0; n < N; n++)
    if (agg.cum[n] !== 0) sampled.push({ name: names[n] as string, cum: agg.cum[n] as number });
  const app = appCode(profile, sampled, options.appPackages);
  const empty: HotPaths = { app, sampleType: agg.sampleType.type, total, paths: [], named: [], format };
  if (total === 0) return empty;

  const kinds = KINDS.filter((k) => isCpu || !k.cpuOnly);
  const isApp = new Uint8Array(N);
  const kindOf = new Int8Array(N).fill(-1);
  for (let n = 0; n < N; n++) {
    const name = names[n] as string;
    if (app.test(name)) isApp[n] = 1;
    else kindOf[n] = kinds.findIndex((k) => k.rx.test(name));
  }
  const appNodes: number[] = [];
  for (let n = 0; n < N; n++) if (isApp[n] && agg.cum[n] !== 0) appNodes.push(n);
  appNodes.sort((x, y) => Math.abs(agg.cum[y] as number) - Math.abs(agg.cum[x] as number) || x - y);

  // One pass: each sample's outermost costly-library frame, the application frames above it (focus
  // semantics for every application function) and the nearest one (the cost's owner).
  const K = kinds.length;
  const beneath = new Map<number, Float64Array>(); // app node -> value per kind (focus semantics)
  const owned = new Map<number, Float64Array>(); // owner node -> value per kind
  const row = (m: Map<number, Float64Array>, n: number) => {
    let r = m.get(n);
    if (!r) {
      r = new Float64Array(K);
      m.set(n, r);
    }
    return r;
  };
  const stride = profile.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = profile;
  const { locNodeStart, locNodes, sampleFrom } = graph;
  const seen = new Int32Array(N).fill(-1);
  const above: number[] = [];
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + agg.sampleIndex] as number;
    if (w === 0) continue;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    above.length = 0;
    let owner = -1;
    walk: for (let k = b - 1; k >= a; k--) {
      const loc = stack[k] as number;
      for (
        let i = (locNodeStart[loc + 1] as number) - 1, stop = locNodeStart[loc] as number;
        i >= stop;
        i--
      ) {
        const n = locNodes[i] as number;
        if (isApp[n]) {
          owner = n;
          if (seen[n] !== s) {
            seen[n] = s;
            above.push(n);
          }
          continue;
        }
        const kind = kindOf[n] as number;
        if (kind < 0) continue;
        if (owner >= 0) {
          for (const f of above) (row(beneath, f)[kind] as number) += w;
          (row(owned, owner)[kind] as number) += w;
        }
        break walk;
      }
    }
  }

  const b = HOT_PATH_BOUNDS;
  const samplesOf = (v: number) =>
    isCpu && profile.period ? Math.abs(v) / profile.period : Number.POSITIVE_INFINITY;
  const enough = (v: number) => samplesOf(v) >= b.minCpuSamples && samplesOf(total) >= b.minCpuProfileSamples;
  const named: OwnedCost[] = [];
  for (const [n, r] of owned) {
    const cum = agg.cum[n] as number;
    r.forEach((v, kind) => {
      if (v === 0 || cum === 0) return;
      const ofFunction = v / cum;
      const ofProfile = v / total;
      if (ofFunction < b.namedOfFunction || ofProfile < b.namedOfProfile || !enough(v)) return;
      named.push({
        kind: (kinds[kind] as KindSpec).kind,
        function: names[n] as string,
        value: v,
        ofFunction,
        ofProfile,
        severity: samplesOf(v) >= b.minCpuSamplesGraded ? costSeverity(ofFunction, ofProfile) : 'info',
      });
    });
  }
  const rank = (s: Severity) => (s === 'critical' ? 0 : s === 'warning' ? 1 : 2);
  named.sort((x, y) => rank(x.severity) - rank(y.severity) || y.value - x.value);

  // The listed functions: the largest by cum, and every owner of a named cost.
  const rows = options.rows ?? 6;
  const listed = appNodes.slice(0, rows);
  for (const c of named) {
    const n = names.indexOf(c.function);
    if (!listed.includes(n)) listed.push(n);
  }
  const listedNames = new Set(listed.map((n) => names[n] as string));
  const peek = peekReport(analysis, (name) => listedNames.has(name), {
    ...(options.sampleIndex ? { sampleIndex: options.sampleIndex } : {}),
  });
  const peeked = new Map(peek.entries.map((e) => [e.name, e]));
  const paths: HotPath[] = listed.map((n) => {
    const name = names[n] as string;
    const cum = agg.cum[n] as number;
    const r = beneath.get(n);
    const costs: LibraryCost[] = [];
    if (r) {
      r.forEach((v, kind) => {
        if (cum !== 0 && v / cum >= b.namedOfFunction && enough(v)) {
          const k = (kinds[kind] as KindSpec).kind;
          const own = owned.get(n)?.[kind] ?? 0;
          const owner = named.find((c) => c.kind === k && c.function !== name);
          costs.push({
            kind: k,
            value: v,
            ofFunction: v / cum,
            ofProfile: v / total,
            ...(own < v / 2 && owner ? { via: owner.function } : {}),
          });
        }
      });
    }
    costs.sort((x, y) => y.value - x.value);
    return {
      function: name,
      cum,
      cumShare: cum / total,
      callees: (peeked.get(name)?.callees ?? [])
        .slice(0, 3)
        .map((c) => ({ name: c.name, value: c.weight, share: cum ? c.weight / cum : 0 })),
      costs,
    };
  });
  return { app, sampleType: agg.sampleType.type, total, paths, named, format };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

function spec(kind: CostKind): KindSpec {
  return KINDS.find((k) => k.kind === kind) as KindSpec;
}

/**
 * The report's findings: the table of hot paths, and one finding per named cost (at most three)
 * unless a global detector already named that library with that function as its caller.
 */
export function hotPathFindings(
  step: 'cpu' | 'heap',
  hot: HotPaths,
  alreadyReported: readonly Finding[] = [],
): { findings: Finding[]; headline?: string } {
  const of = step === 'cpu' ? 'CPU' : 'bytes allocated';
  const prefixes = hot.app.prefixes.join(', ');
  const source = hot.app.derived
    ? `derived from the profile (the module with the most sampled functions of the service's own source); set services[].pprof.app_packages to choose`
    : 'from services[].pprof.app_packages';
  if (hot.paths.length === 0) {
    return {
      findings: [
        {
          id: `${step}.hot-paths`,
          severity: 'info',
          title: "Your code's hot paths: none in this profile",
          summary: hot.total
            ? `No function of the service's own code (${prefixes || 'none found'}; ${source}) has samples in this profile.`
            : 'The profile has no samples.',
          evidence: [],
          links: [],
        },
      ],
    };
  }
  const table: Evidence = {
    type: 'table',
    title: `Your code (${prefixes}) by cum, and what it spends its ${of} in`,
    columns: ['function', 'cum', 'cum%', 'calls (pprof -peek)', 'costly library beneath'],
    rows: hot.paths.map((p) => [
      p.function,
      hot.format(p.cum),
      pct(p.cumShare),
      p.callees.map((c) => `${c.name} ${pct(c.share)}`).join(', ') || '(own code)',
      p.costs
        .map((c) =>
          c.via
            ? `${spec(c.kind).what}: ${pct(c.ofFunction)} of it, in ${c.via}`
            : `${spec(c.kind).what}: ${pct(c.ofFunction)} of it → ${spec(c.kind).fix}`,
        )
        .join('; ') || '',
    ]),
  };
  const findings: Finding[] = [
    {
      id: `${step}.hot-paths`,
      severity: 'info',
      title: `Your code's hot paths: ${hot.paths[0]?.function} and ${hot.paths.length - 1} more`,
      summary: `The service's own functions (${prefixes}; ${source}) with their share of ${of} and what each spends it in.`,
      evidence: [table],
      links: [],
    },
  ];
  const reported = new Set(
    alreadyReported.flatMap((f) => {
      const kind = /^(cpu|heap)\.(json|regexp|logging)$/.exec(f.id)?.[2];
      const fields = f.evidence.find((e) => e.type === 'fields');
      const caller =
        fields?.type === 'fields'
          ? fields.fields.find((x) => x.label === 'Caller')?.value.replace(/ \(.*\)$/, '')
          : undefined;
      return kind && caller ? [`${kind}:${caller}`] : [];
    }),
  );
  const ids = new Map<string, number>();
  let headline: string | undefined;
  for (const c of hot.named.filter((x) => !reported.has(`${x.kind}:${x.function}`)).slice(0, 3)) {
    const k = spec(c.kind);
    const base = `${step}.hot-path.${c.kind}`;
    const nth = (ids.get(base) ?? 0) + 1;
    ids.set(base, nth);
    const title = `${c.function} spends ${pct(c.ofFunction)} of its ${of} in ${k.what}: ${pct(c.ofProfile)} of all ${of}`;
    if (!headline && c.severity !== 'info') headline = `${step === 'cpu' ? 'CPU' : 'Heap'}: ${title}`;
    findings.push({
      id: nth === 1 ? base : `${base}.${nth}`,
      severity: c.severity,
      title,
      summary: `${pct(c.ofFunction)} of ${c.function}'s ${of} (${hot.format(c.value)}) is ${k.what}, ${pct(c.ofProfile)} of the whole profile. Fix: ${k.fix}.`,
      evidence: [
        {
          type: 'fields',
          fields: [
            { label: 'Function', value: c.function },
            { label: 'Library', value: k.what },
            { label: 'Share of the function', value: pct(c.ofFunction) },
            {
              label: `Share of ${of}`,
              value: `${pct(c.ofProfile)} (${hot.format(c.value)} of ${hot.format(hot.total)})`,
            },
          ],
        },
      ],
      links: [],
      advice: k.advice,
    });
  }
  return { findings, ...(headline ? { headline } : {}) };
}
