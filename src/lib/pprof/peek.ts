import type { ProfileAnalysis, TopOptions } from './top.ts';
import { topReport } from './top.ts';
import { percentage } from './units.ts';

/**
 * `go tool pprof -peek <regexp>`, reproduced: for each function node that matches, its callers and
 * its callees with the weight of each call edge, as pprof's graph builder counts them (an edge
 * counted once per sample; sorted by |weight|, then caller name, then callee name). pprof does not
 * trim a peek report (driver.go: nodefraction and edgefraction 0); given fractions, edges join the
 * nearest kept nodes as in its trimmed graphs.
 */

export interface PeekEdge {
  readonly name: string;
  readonly weight: number;
  /** pprof's " (inline)": every occurrence of the call was inlined. */
  readonly inline: boolean;
  readonly weightText: string;
  /** Of the node's cum, as pprof prints it ("  100%", "66.67%"). */
  readonly percent: string;
}

export interface PeekEntry {
  readonly name: string;
  readonly flat: number;
  readonly cum: number;
  readonly callers: readonly PeekEdge[];
  readonly callees: readonly PeekEdge[];
}

export interface PeekReport {
  readonly total: number;
  readonly entries: readonly PeekEntry[];
  readonly format: (v: number) => string;
}

export type PeekOptions = Pick<TopOptions, 'sampleIndex' | 'nodeFraction' | 'edgeFraction'>;

export function peekReport(
  analysis: ProfileAnalysis,
  match: RegExp | ((name: string) => boolean),
  options: PeekOptions = {},
): PeekReport {
  const { graph, profile } = analysis;
  const test = typeof match === 'function' ? match : (name: string) => match.test(name);
  // The nodes pprof keeps (and the output unit it picks) are those of the full -top report.
  const top = topReport(analysis, { nodeFraction: 0, edgeFraction: 0, ...options, nodeCount: 0 });
  const agg = analysis.aggregateFor(options.sampleIndex ?? '');
  const index = new Map<string, number>();
  graph.names.forEach((name, n) => {
    if (!index.has(name)) index.set(name, n);
  });
  const N = graph.nodeCount;
  const kept = new Uint8Array(N);
  let flatTotal = 0;
  for (const r of top.rows) {
    kept[index.get(r.name) as number] = 1;
  }
  for (let n = 0; n < N; n++) flatTotal += agg.flat[n] as number;
  const matched: number[] = [];
  for (const r of top.rows) {
    const n = index.get(r.name) as number;
    if (test(r.name)) matched.push(n);
  }
  if (matched.length === 0) return { total: top.total, entries: [], format: top.format };
  const isMatched = new Uint8Array(N);
  for (const n of matched) isMatched[n] = 1;

  // Edges touching a matched node: key parent * N + child.
  const edges = new Map<number, { weight: number; inline: boolean; seen: number }>();
  const stride = profile.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = profile;
  const { locNodeStart, locNodes, sampleFrom } = graph;
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
        if (parent !== -1 && n !== parent && (isMatched[n] || isMatched[parent])) {
          const key = parent * N + n;
          let e = edges.get(key);
          if (!e) {
            e = { weight: 0, inline: true, seen: -1 };
            edges.set(key, e);
          }
          if (e.seen !== s) {
            e.seen = s;
            e.weight += w;
            if (i === hi) e.inline = false;
          }
        }
        parent = n;
      }
    }
  }

  const edgeCutoff = Math.abs(Math.trunc(flatTotal * (options.edgeFraction ?? 0)));
  const callers = new Map<number, { other: number; weight: number; inline: boolean }[]>();
  const callees = new Map<number, { other: number; weight: number; inline: boolean }[]>();
  for (const [key, e] of edges) {
    if (Math.abs(e.weight) < edgeCutoff) continue;
    const parent = Math.floor(key / N);
    const child = key - parent * N;
    if (isMatched[child]) push(callers, child, { other: parent, weight: e.weight, inline: e.inline });
    if (isMatched[parent]) push(callees, parent, { other: child, weight: e.weight, inline: e.inline });
  }
  const names = graph.names;
  const edgeList = (node: number, list: { other: number; weight: number; inline: boolean }[]) => {
    const cum = agg.cum[node] as number;
    const name = (x: { other: number }) => names[x.other] as string;
    return list
      .sort(
        (x, y) =>
          Math.abs(y.weight) - Math.abs(x.weight) ||
          // pprof compares the callers' names, then the callees' (one of the two is this node)
          cmp(name(x), name(y)),
      )
      .map((x) => ({
        name: name(x),
        weight: x.weight,
        inline: x.inline,
        weightText: top.format(x.weight),
        percent: percentage(x.weight, cum),
      }));
  };
  const entries = matched.map((n) => ({
    name: names[n] as string,
    flat: agg.flat[n] as number,
    cum: agg.cum[n] as number,
    callers: edgeList(n, callers.get(n) ?? []),
    callees: edgeList(n, callees.get(n) ?? []),
  }));
  return { total: top.total, entries, format: top.format };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
