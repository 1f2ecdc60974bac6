import { basename } from 'node:path';
import { AppError } from '../../domain/errors.ts';
import type { Profile, ValueType } from './decode.ts';
import { goPattern } from './pattern.ts';

/**
 * The profile seen at pprof's default granularity, "functions": one node per function name, every
 * line of a location (inlined frames included) mapped to its node. Built once per profile, shared
 * by the top report, the detectors and the flame graph.
 */
export interface FunctionGraph {
  readonly profile: Profile;
  /** Printable node names, as pprof prints them. */
  readonly names: readonly string[];
  readonly nodeCount: number;
  /** Location l's nodes are locNodes[locNodeStart[l] .. locNodeStart[l+1]): innermost first. */
  readonly locNodeStart: Uint32Array;
  readonly locNodes: Int32Array;
  /** 1 where the node appears as an inlined (not outermost) frame of some location. */
  readonly inlineCapable: Uint8Array;
  /** Effective start of each sample's stack after drop_frames pruning; null when nothing is pruned. */
  readonly sampleFrom: Uint32Array | null;
}

export function buildFunctionGraph(profile: Profile): FunctionGraph {
  const names: string[] = [];
  const byKey = new Map<string, number>();
  const nodeFor = (key: string, name: string): number => {
    let n = byKey.get(key);
    if (n === undefined) {
      n = names.length;
      names.push(name);
      byKey.set(key, n);
    }
    return n;
  };
  const { lineStart, lineFunction, functions, mappings, locationMapping } = profile;
  const nLoc = profile.locationCount;

  // drop_frames / keep_frames, as pprof's RemoveUninteresting applies them.
  let firstLine: Uint32Array | null = null;
  let prune: Uint8Array | null = null;
  if (profile.dropFrames) {
    const drop = goPattern(`^(${profile.dropFrames})$`, "profile's drop_frames pattern");
    const keep = profile.keepFrames
      ? goPattern(`^(${profile.keepFrames})$`, "profile's keep_frames pattern")
      : null;
    firstLine = new Uint32Array(nLoc);
    prune = new Uint8Array(nLoc); // 1 = prune the location, 2 = prune beneath it
    for (let l = 0; l < nLoc; l++) {
      const a = lineStart[l] as number;
      const b = lineStart[l + 1] as number;
      firstLine[l] = a;
      let i = b - 1;
      for (; i >= a; i--) {
        const fn = functions[lineFunction[i] as number];
        if (fn?.name) {
          const simple = simplifyFunc(fn.name);
          if (drop.test(simple) && !keep?.test(simple)) break;
        }
      }
      if (i >= a) {
        if (i === b - 1) prune[l] = 1;
        else {
          prune[l] = 2;
          firstLine[l] = i + 1;
        }
      }
    }
  }

  const locNodeStart = new Uint32Array(nLoc + 1);
  const nodes: number[] = [];
  const inlineFlags: number[] = [];
  for (let l = 0; l < nLoc; l++) {
    locNodeStart[l] = nodes.length;
    const a = firstLine ? (firstLine[l] as number) : (lineStart[l] as number);
    const b = lineStart[l + 1] as number;
    const m = locationMapping[l] as number;
    const objfile = m >= 0 ? (mappings[m]?.file ?? '') : '';
    if (a === b) {
      nodes.push(
        objfile
          ? nodeFor(`\u0000obj\u0000${objfile}`, `[${basename(objfile)}]`)
          : nodeFor('\u0000unknown', '<unknown>'),
      );
      continue;
    }
    for (let i = a; i < b; i++) {
      const fn = functions[lineFunction[i] as number];
      const name = fn?.name ?? '';
      let n: number;
      if (name || fn?.systemName) {
        n = nodeFor(name, name || (fn?.systemName ?? ''));
      } else {
        n = objfile
          ? nodeFor(`\u0000obj\u0000${objfile}\u0000${fn?.startLine ?? 0}`, `[${basename(objfile)}]`)
          : nodeFor(`\u0000anon\u0000${fn?.startLine ?? 0}`, '<unknown>');
      }
      nodes.push(n);
      if (i < b - 1) inlineFlags.push(n);
    }
  }
  locNodeStart[nLoc] = nodes.length;
  const inlineCapable = new Uint8Array(names.length);
  for (const n of inlineFlags) inlineCapable[n] = 1;

  let sampleFrom: Uint32Array | null = null;
  if (prune) {
    const { stackStart, stack, sampleCount } = profile;
    sampleFrom = new Uint32Array(sampleCount);
    for (let s = 0; s < sampleCount; s++) {
      const a = stackStart[s] as number;
      const b = stackStart[s + 1] as number;
      let from = a;
      let foundUser = false;
      for (let k = b - 1; k >= a; k--) {
        const p = prune[stack[k] as number] as number;
        if (p === 0) {
          foundUser = true;
          continue;
        }
        if (!foundUser) continue;
        from = p === 1 ? k + 1 : k;
        break;
      }
      sampleFrom[s] = from;
    }
  }

  return {
    profile,
    names,
    nodeCount: names.length,
    locNodeStart,
    locNodes: Int32Array.from(nodes),
    inlineCapable,
    sampleFrom,
  };
}

/** pprof's simplifyFunc: drops an argument list, keeping reserved names that contain "(". */
function simplifyFunc(f: string): string {
  const name = f.startsWith('.') ? f.slice(1) : f;
  const rx = /\(anonymous namespace\)|operator\(\)|\(/g;
  for (let m = rx.exec(name); m; m = rx.exec(name)) {
    if (m[0] === '(') return name.slice(0, m.index);
  }
  return name;
}

/**
 * pprof's sample index: "" picks the profile's default_sample_type, else the last type; a number
 * is an index; a name matches a type, "inuse_" optional (as `-sample_index=inuse_space`).
 */
export function sampleIndexByName(profile: Profile, name: string | number = ''): number {
  const types = profile.sampleTypes;
  if (types.length === 0) throw new AppError('usage', 'the profile has no sample types');
  if (typeof name === 'number') {
    if (!Number.isInteger(name) || name < 0 || name >= types.length) {
      throw new AppError('usage', `sample index ${name} is outside the range [0..${types.length - 1}]`);
    }
    return name;
  }
  if (name === '') {
    if (profile.defaultSampleType) {
      const i = types.findIndex((t) => t.type === profile.defaultSampleType);
      if (i >= 0) return i;
    }
    return types.length - 1;
  }
  if (/^\d+$/.test(name)) return sampleIndexByName(profile, Number(name));
  const noInuse = name.replace(/^inuse_/, '');
  const i = types.findIndex((t) => t.type === name || t.type === noInuse);
  if (i < 0) {
    throw new AppError(
      'usage',
      `sample index "${name}" must be one of: ${types.map((t) => t.type).join(', ')}`,
    );
  }
  return i;
}

/** Flat and cum per node for one sample type, counted as pprof's graph builder counts them. */
export interface Aggregate {
  readonly sampleIndex: number;
  readonly sampleType: ValueType;
  /** Sum of |value| over all samples: pprof's report total. */
  readonly total: number;
  readonly flat: Float64Array;
  readonly cum: Float64Array;
}

export function aggregate(graph: FunctionGraph, sampleIndex: number): Aggregate {
  const p = graph.profile;
  const stride = p.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = p;
  const { locNodeStart, locNodes, sampleFrom } = graph;
  const flat = new Float64Array(graph.nodeCount);
  const cum = new Float64Array(graph.nodeCount);
  const seen = new Int32Array(graph.nodeCount).fill(-1);
  let total = 0;
  let negative = false;
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + sampleIndex] as number;
    if (w === 0) continue;
    if (w < 0) negative = true;
    total += w < 0 ? -w : w;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    if (a === b) continue;
    for (let k = b - 1; k >= a; k--) {
      const loc = stack[k] as number;
      for (
        let i = (locNodeStart[loc + 1] as number) - 1, stop = locNodeStart[loc] as number;
        i >= stop;
        i--
      ) {
        const n = locNodes[i] as number;
        if (seen[n] !== s) {
          seen[n] = s;
          cum[n] = (cum[n] as number) + w;
        }
      }
    }
    const leafLoc = stack[a] as number;
    const leaf = locNodes[locNodeStart[leafLoc] as number] as number;
    flat[leaf] = (flat[leaf] as number) + w;
  }
  if (p.diffBaseFrom !== undefined) {
    // pprof's computeTotal: in a -diff_base profile the percentages are of the base's total.
    let base = 0;
    for (let s = p.diffBaseFrom; s < sampleCount; s++)
      base += Math.abs(values[s * stride + sampleIndex] as number);
    if (base > 0) total = base;
  } else if (negative) total = mergedTotal(p, sampleIndex);
  return { sampleIndex, sampleType: p.sampleTypes[sampleIndex] as ValueType, total, flat, cum };
}

/**
 * pprof merges samples with the same stack (and labels) when it reads a profile, so where values
 * of both signs meet on one stack (a diff profile) its total is the sum of |merged value|.
 */
function mergedTotal(p: Profile, sampleIndex: number): number {
  const stride = p.sampleTypes.length;
  const merged = new Map<string, number>();
  for (let s = 0; s < p.sampleCount; s++) {
    const w = p.values[s * stride + sampleIndex] as number;
    const ids = Array.from(p.stack.subarray(p.stackStart[s] as number, p.stackStart[s + 1] as number));
    const label = p.bytesLabel ? p.bytesLabel[s] : Number.NaN;
    const key = `${ids.join(',')}|${label}`;
    merged.set(key, (merged.get(key) ?? 0) + w);
  }
  let total = 0;
  for (const v of merged.values()) total += Math.abs(v);
  return total;
}

/**
 * For the samples that pass through a node matching `target`, who called it: the nearest frame
 * above the outermost matching frame whose node does not match `skip` (e.g. the library's own
 * frames), weighted by the sample value. Ranked by value.
 */
export function callersOf(
  graph: FunctionGraph,
  sampleIndex: number,
  target: (node: number) => boolean,
  skip: (node: number) => boolean = () => false,
): { node: number; value: number }[] {
  const p = graph.profile;
  const stride = p.sampleTypes.length;
  const { values, stackStart, stack, sampleCount } = p;
  const { locNodeStart, locNodes, sampleFrom } = graph;
  const isTarget = new Uint8Array(graph.nodeCount);
  const isSkip = new Uint8Array(graph.nodeCount);
  for (let n = 0; n < graph.nodeCount; n++) {
    isTarget[n] = target(n) ? 1 : 0;
    isSkip[n] = skip(n) ? 1 : 0;
  }
  const by = new Map<number, number>();
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + sampleIndex] as number;
    if (w === 0) continue;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    // Walk root -> leaf; remember the last non-skipped, non-target frame before the first target.
    let caller = -1;
    let found = false;
    outer: for (let k = b - 1; k >= a; k--) {
      const loc = stack[k] as number;
      for (
        let i = (locNodeStart[loc + 1] as number) - 1, stop = locNodeStart[loc] as number;
        i >= stop;
        i--
      ) {
        const n = locNodes[i] as number;
        if (isTarget[n]) {
          found = true;
          break outer;
        }
        if (!isSkip[n]) caller = n;
      }
    }
    if (found) by.set(caller, (by.get(caller) ?? 0) + w);
  }
  return [...by.entries()].map(([node, value]) => ({ node, value })).sort((x, y) => y.value - x.value);
}

/** Sum of the values of the samples that pass through a node matching `target` (each sample once). */
export function valueThrough(
  graph: FunctionGraph,
  agg: Aggregate,
  target: (name: string) => boolean,
): number {
  // cum of a set of nodes is not the sum of their cums (a sample may hit several): count samples.
  const p = graph.profile;
  const stride = p.sampleTypes.length;
  const isTarget = new Uint8Array(graph.nodeCount);
  let any = false;
  graph.names.forEach((name, n) => {
    if (target(name)) {
      isTarget[n] = 1;
      any = true;
    }
  });
  if (!any) return 0;
  let sum = 0;
  const { values, stackStart, stack, sampleCount } = p;
  const { locNodeStart, locNodes, sampleFrom } = graph;
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + agg.sampleIndex] as number;
    if (w === 0) continue;
    const a = sampleFrom ? (sampleFrom[s] as number) : (stackStart[s] as number);
    const b = stackStart[s + 1] as number;
    let hit = false;
    for (let k = a; k < b && !hit; k++) {
      const loc = stack[k] as number;
      for (let i = locNodeStart[loc] as number, stop = locNodeStart[loc + 1] as number; i < stop; i++) {
        if (isTarget[locNodes[i] as number]) {
          hit = true;
          break;
        }
      }
    }
    if (hit) sum += w;
  }
  return sum;
}
