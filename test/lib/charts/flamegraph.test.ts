import { describe, expect, it } from 'vitest';
import { buildFlameTree, type FlameNode, renderFlameGraphSvg } from '../../../src/lib/charts/flamegraph.ts';
import { decodeProfileProto } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile } from '../../../src/lib/pprof/encode.ts';
import { buildFunctionGraph } from '../../../src/lib/pprof/graph.ts';

/** 200 samples, each a distinct 5-frame path under one root function: 1 + 200 * 4 + 1 boxes. */
function distinctPaths() {
  const functions = Array.from({ length: 1001 }, (_, i) => ({ id: i + 1, name: `main.f${i}` }));
  const locations = functions.map((f) => ({ id: f.id, lines: [{ functionId: f.id }] }));
  const samples = Array.from({ length: 200 }, (_, s) => ({
    // leaf first; location 1 (main.f0) is the root of every path
    locationIds: [2 + s * 4, 3 + s * 4, 4 + s * 4, 5 + s * 4, 1],
    values: [1],
  }));
  const profile = decodeProfileProto(
    encodeProfile({ sampleTypes: [{ type: 'samples', unit: 'count' }], functions, locations, samples }),
  );
  return buildFunctionGraph(profile);
}

function count(node: FlameNode): number {
  return 1 + node.children.reduce((n, c) => n + count(c), 0);
}

describe('a flame tree', () => {
  it('keeps every box while it fits', () => {
    const tree = buildFlameTree(distinctPaths(), 0);
    expect(count(tree.root)).toBe(802);
    expect(tree.cutSamples).toBe(0);
  });

  it('stops growing at its bound: later rare paths are cut short, every value above stays whole', () => {
    const tree = buildFlameTree(distinctPaths(), 0, 100);
    expect(count(tree.root)).toBeLessThanOrEqual(100);
    expect(tree.cutSamples).toBeGreaterThan(0);
    expect(tree.total).toBe(200);
    expect(tree.root.value).toBe(200);
    expect(tree.root.children[0]?.value).toBe(200);
    expect(renderFlameGraphSvg(tree, { title: 't' })).toContain(
      `rare call paths of ${tree.cutSamples} samples cut short`,
    );
  });
});
