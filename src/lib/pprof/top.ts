import { basename } from 'node:path';
import type { Profile, ValueType } from './decode.ts';
import {
  type Aggregate,
  aggregate,
  buildFunctionGraph,
  type FunctionGraph,
  sampleIndexByName,
} from './graph.ts';
import { label, percentage, scale, scaledLabel, selectOutputUnit } from './units.ts';

/**
 * `go tool pprof -top`, reproduced: the same nodes, in the same order, with the same flat and cum
 * values and the same header lines, computed the way google/pprof's report and graph packages do
 * (granularity "functions", cum counted once per sample, flat to the leaf frame, nodes with
 * cum below nodefraction × total dropped, sorted by flat, then name, then cum).
 */

export interface TopOptions {
  /** pprof's -sample_index: "" for the default (CPU: cpu; heap: inuse_space), a name, or an index. */
  readonly sampleIndex?: string | number;
  /** pprof's -nodecount; 0 shows every node that survives nodefraction (the -top default). */
  readonly nodeCount?: number;
  /** pprof's -nodefraction, default 0.005. */
  readonly nodeFraction?: number;
  /** pprof's -edgefraction, default 0.001: call edges below it do not count for "(inline)". */
  readonly edgeFraction?: number;
  /** pprof's -cum: sort by cum instead of flat. */
  readonly sortBy?: 'flat' | 'cum';
}

export interface TopRow {
  readonly name: string;
  /** pprof's "(inline)" / "(partial-inline)" marker, or "". */
  readonly inline: '' | 'inline' | 'partial-inline';
  readonly flat: number;
  readonly cum: number;
  /** Running sum of flat down to this row. */
  readonly sum: number;
  readonly flatText: string;
  readonly cumText: string;
  readonly flatPercent: string;
  readonly sumPercent: string;
  readonly cumPercent: string;
}

export interface TopReport {
  readonly sampleType: ValueType;
  readonly sampleIndex: number;
  readonly total: number;
  /** The unit values are printed in, e.g. "ms" or "MB". */
  readonly outputUnit: string;
  readonly rows: readonly TopRow[];
  readonly shownFlat: number;
  readonly droppedNodes: number;
  /** Nodes after the nodefraction cut, before nodecount. */
  readonly origCount: number;
  /** pprof's header: File, Type, Time, Duration, "Showing nodes accounting for ...", ... */
  readonly labels: readonly string[];
  /** Formats a value of this sample type in the report's unit. */
  readonly format: (v: number) => string;
}

export interface ProfileAnalysis {
  readonly profile: Profile;
  readonly graph: FunctionGraph;
  aggregateFor(sampleIndex: string | number): Aggregate;
}

/** Builds the function graph once and caches per-sample-type aggregates. */
export function analyzeProfile(profile: Profile): ProfileAnalysis {
  const graph = buildFunctionGraph(profile);
  const cache = new Map<number, Aggregate>();
  return {
    profile,
    graph,
    aggregateFor(sampleIndex) {
      const i = sampleIndexByName(profile, sampleIndex);
      let a = cache.get(i);
      if (!a) {
        a = aggregate(graph, i);
        cache.set(i, a);
      }
      return a;
    },
  };
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function topReport(analysis: ProfileAnalysis, options: TopOptions = {}): TopReport {
  const { profile, graph } = analysis;
  const agg = analysis.aggregateFor(options.sampleIndex ?? '');
  const { flat, cum, total } = agg;
  const nodeFraction = options.nodeFraction ?? 0.005;
  const nodeCount = options.nodeCount ?? 0;
  const names = graph.names;
  const sampleUnit = agg.sampleType.unit.toLowerCase();

  // The full graph: nodes with any value.
  let nodes: number[] = [];
  let flatTotal = 0;
  for (let n = 0; n < graph.nodeCount; n++) {
    if (flat[n] === 0 && cum[n] === 0) continue;
    nodes.push(n);
    flatTotal += flat[n] as number;
  }
  const nodeCutoff = Math.abs(Math.trunc(flatTotal * nodeFraction));
  let droppedNodes = 0;
  if (nodeCutoff > 0) {
    const kept = nodes.filter((n) => Math.abs(cum[n] as number) >= nodeCutoff);
    droppedNodes = nodes.length - kept.length;
    nodes = kept;
  }
  const origCount = nodes.length;

  const byFlat = (x: number, y: number) =>
    Math.abs(flat[y] as number) - Math.abs(flat[x] as number) ||
    compareNames(names[x] as string, names[y] as string) ||
    Math.abs(cum[y] as number) - Math.abs(cum[x] as number) ||
    x - y;
  const byCum = (x: number, y: number) =>
    Math.abs(cum[y] as number) - Math.abs(cum[x] as number) ||
    compareNames(names[x] as string, names[y] as string) ||
    Math.abs(flat[y] as number) - Math.abs(flat[x] as number) ||
    x - y;
  nodes.sort(options.sortBy === 'cum' ? byCum : byFlat);
  if (nodeCount > 0 && nodeCount < nodes.length) nodes = nodes.slice(0, nodeCount);

  // Output unit, from the smallest value shown.
  let minValue = 0;
  for (const n of nodes) {
    let v = Math.abs(flat[n] as number);
    if (v === 0) v = Math.abs(cum[n] as number);
    if (v > 0 && (minValue === 0 || v < minValue)) minValue = v;
  }
  const outputUnit = nodes.length ? selectOutputUnit(minValue, total, sampleUnit) : 'minimum';
  const format = (v: number) => scaledLabel(v, sampleUnit, outputUnit);

  const edgeCutoff = Math.abs(Math.trunc(flatTotal * (options.edgeFraction ?? 0.001)));
  const inlineLabels = inlineMarkers(analysis, agg, nodes, edgeCutoff);

  let sum = 0;
  const rows: TopRow[] = nodes.map((n, i) => {
    const f = flat[n] as number;
    const c = cum[n] as number;
    sum += f;
    return {
      name: names[n] as string,
      inline: inlineLabels[i] ?? '',
      flat: f,
      cum: c,
      sum,
      flatText: format(f),
      cumText: format(c),
      flatPercent: percentage(f, total),
      sumPercent: percentage(sum, total),
      cumPercent: percentage(c, total),
    };
  });

  const labels = [...profileLabels(profile, agg, format)];
  labels.push(
    `Showing nodes accounting for ${format(sum)}, ${percentage(sum, total).trim()} of ${format(total)} total`,
  );
  if (total !== 0) {
    if (droppedNodes > 0) {
      labels.push(
        `Dropped ${droppedNodes} node${droppedNodes > 1 ? 's' : ''} (cum <= ${format(Math.abs(Math.trunc(total * nodeFraction)))})`,
      );
    }
    if (nodes.length > 0 && nodes.length < origCount) {
      labels.push(`Showing top ${nodes.length} nodes out of ${origCount}`);
    }
  }

  return {
    sampleType: agg.sampleType,
    sampleIndex: agg.sampleIndex,
    total,
    outputUnit,
    rows,
    shownFlat: sum,
    droppedNodes,
    origCount,
    labels,
    format,
  };
}

/**
 * pprof marks a node "(inline)" when every call edge into it (in the graph of the nodes shown)
 * is an inlined call, "(partial-inline)" when some are. An edge is inlined when all of its
 * occurrences are; the edge comes from the nearest shown frame above; edges lighter than the
 * edge cutoff are trimmed from the graph first and do not count.
 */
function inlineMarkers(
  analysis: ProfileAnalysis,
  agg: Aggregate,
  shown: readonly number[],
  edgeCutoff: number,
): ('' | 'inline' | 'partial-inline')[] {
  const { graph, profile } = analysis;
  const kept = new Uint8Array(graph.nodeCount);
  let anyInline = false;
  for (const n of shown) {
    kept[n] = 1;
    if (graph.inlineCapable[n]) anyInline = true;
  }
  if (!anyInline) return shown.map(() => '');
  const stride = profile.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = profile;
  const { locNodeStart, locNodes, sampleFrom, inlineCapable } = graph;
  const N = graph.nodeCount;
  // Edges into inline-capable nodes, in an open-addressing table keyed by parent * N + node:
  // weight, "every occurrence inlined", and the last sample that counted it.
  let cap = 1024;
  let keys = new Float64Array(cap).fill(-1);
  let slots = new Int32Array(cap);
  let count = 0;
  let edgeDest = new Int32Array(cap);
  let edgeWeight = new Float64Array(cap);
  let edgeInline = new Uint8Array(cap);
  let edgeSeen = new Int32Array(cap);
  const slotOf = (key: number): number => {
    const mask = cap - 1;
    let h = Math.imul((key % 4294967296) ^ Math.floor(key / 4294967296), 0x9e3779b1) & mask;
    while (keys[h] !== -1 && keys[h] !== key) h = (h + 1) & mask;
    return h;
  };
  const grow = () => {
    const oldKeys = keys;
    const oldSlots = slots;
    cap *= 2;
    keys = new Float64Array(cap).fill(-1);
    slots = new Int32Array(cap);
    for (let i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] === -1) continue;
      const h = slotOf(oldKeys[i] as number);
      keys[h] = oldKeys[i] as number;
      slots[h] = oldSlots[i] as number;
    }
    const more = <T extends Int32Array | Float64Array | Uint8Array>(x: T, y: T): T => {
      y.set(x);
      return y;
    };
    edgeDest = more(edgeDest, new Int32Array(cap));
    edgeWeight = more(edgeWeight, new Float64Array(cap));
    edgeInline = more(edgeInline, new Uint8Array(cap));
    edgeSeen = more(edgeSeen, new Int32Array(cap));
  };
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + agg.sampleIndex] as number;
    if (w === 0) continue;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    let parent = -1;
    for (let k = b - 1; k >= a; k--) {
      const loc = stack[k] as number;
      const lo = locNodeStart[loc] as number;
      const hi = (locNodeStart[loc + 1] as number) - 1;
      for (let i = hi; i >= lo; i--) {
        const n = locNodes[i] as number;
        if (!kept[n]) continue;
        if (parent !== -1 && n !== parent && inlineCapable[n]) {
          const key = parent * N + n;
          let h = slotOf(key);
          let e: number;
          if (keys[h] === key) e = slots[h] as number;
          else {
            if (2 * (count + 1) > cap) {
              grow();
              h = slotOf(key);
            }
            e = count++;
            keys[h] = key;
            slots[h] = e;
            edgeDest[e] = n;
            edgeInline[e] = 1;
            edgeSeen[e] = -1;
          }
          if (edgeSeen[e] !== s) {
            edgeSeen[e] = s;
            if (i === hi) edgeInline[e] = 0;
            edgeWeight[e] = (edgeWeight[e] as number) + w;
          }
        }
        parent = n;
      }
    }
  }
  const hasInline = new Uint8Array(N);
  const hasNoInline = new Uint8Array(N);
  for (let e = 0; e < count; e++) {
    if (Math.abs(edgeWeight[e] as number) < edgeCutoff) continue;
    const n = edgeDest[e] as number;
    if (edgeInline[e]) hasInline[n] = 1;
    else hasNoInline[n] = 1;
  }
  return shown.map((n) => (hasInline[n] ? (hasNoInline[n] ? 'partial-inline' : 'inline') : ''));
}

/** pprof's ProfileLabels: File, Build ID, comments, Type, Time, Duration. */
function profileLabels(profile: Profile, agg: Aggregate, format: (v: number) => string): string[] {
  const out: string[] = [];
  const m = profile.mappings[0];
  if (m?.file) out.push(`File: ${basename(m.file)}`);
  if (m?.buildId) out.push(`Build ID: ${m.buildId}`);
  for (const c of profile.comments) if (!c.startsWith('#')) out.push(c);
  out.push(`Type: ${agg.sampleType.type}`);
  if (profile.timeNanos) out.push(`Time: ${goTimeLabel(new Date(profile.timeNanos / 1e6))}`);
  if (profile.durationNanos) {
    const duration = label(profile.durationNanos, 'nanoseconds');
    const [totalNanos, unit] = scale(agg.total, agg.sampleType.unit.toLowerCase(), 'nanoseconds');
    const ratio =
      unit === 'ns' && totalNanos !== 0 ? `(${percentage(totalNanos, profile.durationNanos)})` : '';
    out.push(`Duration: ${duration}, Total samples = ${format(agg.total)} ${ratio}`);
  }
  return out;
}

/** Go's "Jan 2, 2006 at 3:04pm (MST)" in UTC. */
function goTimeLabel(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${months[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} at ${h12}:${mm}${h < 12 ? 'am' : 'pm'} (UTC)`;
}

/** The report as `go tool pprof -top` prints it. */
export function formatTopText(report: TopReport): string {
  const lines = [...report.labels];
  lines.push(
    `${'flat'.padStart(10)} ${'flat'.padStart(5)}% ${'sum'.padStart(5)}% ${'cum'.padStart(10)} ${'cum'.padStart(5)}%`,
  );
  for (const r of report.rows) {
    lines.push(
      `${r.flatText.padStart(10)} ${r.flatPercent} ${r.sumPercent} ${r.cumText.padStart(10)} ${r.cumPercent}  ${r.name}${r.inline ? ` (${r.inline})` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
