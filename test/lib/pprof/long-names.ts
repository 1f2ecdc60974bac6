import type { ProfileSpec } from '../../../src/lib/pprof/encode.ts';

/** The pattern from the issue: exponential for a backtracking engine on any long name without Q. */
export const BACKTRACKING_BOMB = '^([a-zA-Z0-9./()*_-]+)+Q$';

/**
 * A CPU profile of `count` functions with long Go-style names (about 100 characters, all from the
 * bomb's character class, none ending in Q) plus one `main.handleQ` that does end in Q, called
 * by `main.main`.
 */
export function manyLongNamesSpec(count: number, extra: Partial<ProfileSpec> = {}): ProfileSpec {
  const functions = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: `github.com/cloud-aegis/aegis-api/internal/handlers/orders/v2.(*OrderHistoryHandler).serveHistoryPage_${i}.func1`,
    filename: `/src/aegis-api/internal/handlers/orders/v2/history_${i}.go`,
  }));
  const handleQ = { id: count + 1, name: 'main.handleQ', filename: '/src/aegis-api/main.go' };
  const main = { id: count + 2, name: 'main.main', filename: '/src/aegis-api/main.go' };
  functions.push(handleQ, main);
  const locations = functions.map((f) => ({
    id: f.id,
    lines: [{ functionId: f.id, line: 10 + (f.id % 7) }],
  }));
  const stack = (id: number) => (id === handleQ.id ? [id, main.id] : [id]);
  return {
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'cpu', unit: 'nanoseconds' },
    ],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    functions,
    locations,
    samples: functions
      .filter((f) => f !== main)
      .map((f) => ({ locationIds: stack(f.id), values: [1, 10_000_000] })),
    ...extra,
  };
}
