import type { FunctionGraph } from '../pprof/graph.ts';
import { isRuntimeFunction, isStdlibFunction } from '../pprof/names.ts';

/**
 * A flame graph of a profile as SVG: one box per function on each call path, root at the bottom,
 * width proportional to the sample value. Pure: the PNG for Slack comes from chart-png.ts.
 */

export interface FlameNode {
  readonly name: string;
  value: number;
  readonly children: FlameNode[];
}

export interface FlameTree {
  readonly root: FlameNode;
  readonly total: number;
  readonly maxDepth: number;
  /** Samples whose call path was cut short because the tree had reached its maximum size. */
  readonly cutSamples: number;
}

/**
 * The most boxes a flame tree holds. A picture 1200 px wide shows a few thousand of them; without a
 * bound, a profile of a million distinct deep stacks builds tens of millions of nodes (minutes of
 * CPU, gigabytes). Paths first seen after the bound are cut where they leave the tree: the frames
 * above keep their full value, only the thin tips of rare paths are missing.
 */
export const MAX_FLAME_NODES = 250_000;

/** Merges the samples' stacks (inlined frames included) into a tree of function names. */
export function buildFlameTree(
  graph: FunctionGraph,
  sampleIndex: number,
  maxNodes: number = MAX_FLAME_NODES,
): FlameTree {
  const p = graph.profile;
  const stride = p.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = p;
  const { locNodeStart, locNodes, sampleFrom, names } = graph;
  // Tree in arrays: child lookup through one Map keyed by parent * nodeCount + node.
  const N = graph.nodeCount + 1;
  const childOf = new Map<number, number>();
  const treeNode: number[] = [-1];
  const treeParent: number[] = [-1];
  const treeValue: number[] = [0];
  let total = 0;
  let cutSamples = 0;
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + sampleIndex] as number;
    if (w === 0) continue;
    const v = Math.abs(w);
    total += v;
    treeValue[0] = (treeValue[0] as number) + v;
    let cur = 0;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    frames: for (let k = b - 1; k >= a; k--) {
      const loc = stack[k] as number;
      for (
        let i = (locNodeStart[loc + 1] as number) - 1, stop = locNodeStart[loc] as number;
        i >= stop;
        i--
      ) {
        const n = locNodes[i] as number;
        const key = cur * N + n;
        let t = childOf.get(key);
        if (t === undefined) {
          if (treeNode.length >= maxNodes) {
            cutSamples += 1;
            break frames;
          }
          t = treeNode.length;
          treeNode.push(n);
          treeParent.push(cur);
          treeValue.push(0);
          childOf.set(key, t);
        }
        treeValue[t] = (treeValue[t] as number) + v;
        cur = t;
      }
    }
  }
  const nodes: FlameNode[] = treeNode.map((n, t) => ({
    name: n < 0 ? 'all' : (names[n] as string),
    value: treeValue[t] as number,
    children: [],
  }));
  for (let t = 1; t < nodes.length; t++)
    (nodes[treeParent[t] as number] as FlameNode).children.push(nodes[t] as FlameNode);
  let maxDepth = 0;
  const walk = (node: FlameNode, depth: number) => {
    if (depth > maxDepth) maxDepth = depth;
    node.children.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const c of node.children) walk(c, depth + 1);
  };
  walk(nodes[0] as FlameNode, 0);
  return { root: nodes[0] as FlameNode, total, maxDepth, cutSamples };
}

export interface FlameGraphOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly width?: number;
  /** Boxes narrower than this many pixels are left out. */
  readonly minWidthPx?: number;
  /** Rows beyond this depth are left out (the image stays readable in Slack). */
  readonly maxDepth?: number;
  readonly formatValue?: (v: number) => string;
}

const ROW = 17;
const FONT = 11;
const CHAR_W = 6.4;

export function renderFlameGraphSvg(tree: FlameTree, options: FlameGraphOptions): string {
  const width = options.width ?? 1200;
  const pad = 10;
  const inner = width - 2 * pad;
  const minW = options.minWidthPx ?? 0.4;
  const depthCap = Math.min(options.maxDepth ?? 64, tree.maxDepth);
  const top = options.subtitle ? 52 : 36;
  const height = top + (depthCap + 1) * ROW + pad + 16;
  const fmt = options.formatValue ?? ((v: number) => String(v));
  const total = tree.root.value || 1;
  const boxes: string[] = [];
  const draw = (node: FlameNode, x: number, depth: number) => {
    const w = (node.value / total) * inner;
    if (w < minW || depth > depthCap) return;
    const y = height - pad - 16 - (depth + 1) * ROW;
    const pct = ((node.value / total) * 100).toFixed(2);
    const label = fitLabel(node.name, w);
    boxes.push(
      `<g><title>${esc(node.name)} (${esc(fmt(node.value))}, ${pct}%)</title>` +
        `<rect x="${r(x)}" y="${y}" width="${r(Math.max(w - 0.5, 0.1))}" height="${ROW - 1}" rx="2" fill="${color(node.name, depth === 0)}"/>` +
        (label ? `<text x="${r(x + 3)}" y="${y + ROW - 5}" font-size="${FONT}">${esc(label)}</text>` : '') +
        '</g>',
    );
    let cx = x;
    for (const c of node.children) {
      draw(c, cx, depth + 1);
      cx += (c.value / total) * inner;
    }
  };
  draw(tree.root, pad, 0);
  const truncated =
    (tree.maxDepth > depthCap ? ` · deepest ${tree.maxDepth - depthCap} levels not shown` : '') +
    (tree.cutSamples > 0 ? ` · rare call paths of ${tree.cutSamples} samples cut short` : '');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans" font-size="${FONT}">`,
    `<rect width="100%" height="100%" fill="#f8f8f4"/>`,
    `<text x="${width / 2}" y="22" font-size="15" text-anchor="middle" font-weight="bold">${esc(options.title)}</text>`,
    options.subtitle
      ? `<text x="${width / 2}" y="40" font-size="11" text-anchor="middle" fill="#555">${esc(options.subtitle)}</text>`
      : '',
    ...boxes,
    `<text x="${pad}" y="${height - 6}" font-size="10" fill="#777">width = share of ${esc(fmt(tree.total))}; root at the bottom; callers below callees${esc(truncated)}</text>`,
    '</svg>',
  ].join('\n');
}

function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function fitLabel(name: string, w: number): string {
  const chars = Math.floor((w - 6) / CHAR_W);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 2)}..`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Warm colors for the application, yellows for the standard library, greys for the runtime. */
function color(name: string, root: boolean): string {
  if (root) return 'hsl(0, 0%, 80%)';
  const h = hash(name);
  if (isRuntimeFunction(name)) return `hsl(${200 + (h % 20)}, 15%, ${72 + (h % 10)}%)`;
  if (isStdlibFunction(name)) return `hsl(${42 + (h % 14)}, 85%, ${58 + (h % 12)}%)`;
  return `hsl(${8 + (h % 22)}, 85%, ${56 + (h % 12)}%)`;
}
