import { isAppError } from '../../domain/errors.ts';
import type { Finding, PartStatus } from '../../domain/finding.ts';
import { decodeProfile, type Profile } from '../../lib/pprof/decode.ts';
import { diffProfiles } from '../../lib/pprof/diff.ts';
import { analyzeProfile, topReport } from '../../lib/pprof/top.ts';
import type { FetchedProfile, ProfileTarget } from '../../sources/pprof.ts';
import type { StepContext } from '../step.ts';
import { topTable } from './report.ts';

/**
 * A new profile compared with an earlier one of the same service: which functions' share grew most
 * (each profile's cum share of its own total, so two captures of different length or load compare),
 * with pprof's `-top -diff_base` table beneath. The steps compare each `/aegis cpu` and
 * `/aegis heap` capture with the previous one of the service; an incident's onset capture can be
 * given as the base instead (`compareWithBase`).
 */

/** Where the profiling steps keep captures (the store, through compose.ts). */
export interface ProfileCaptures {
  /** The newest capture of the service and kind taken before `before`, from any pod. */
  previous(
    service: string,
    kind: 'cpu' | 'heap',
    before: Date,
  ): Promise<{ readonly pod: string; readonly capturedAt: Date; readonly bytes: Uint8Array } | undefined>;
  save(capture: {
    service: string;
    pod: string;
    kind: 'cpu' | 'heap';
    capturedAt: Date;
    bytes: Uint8Array;
  }): Promise<void>;
}

export interface CompareOptions {
  /** "cpu" or "heap": the finding's id prefix and wording; default from the sample types. */
  readonly kind?: 'cpu' | 'heap';
  /** pprof's -sample_index; default the profile's default (cpu, inuse_space). */
  readonly sampleIndex?: string;
  /** How the base is called in the finding, e.g. "the capture of aegis-api-7d9f at 10:02 UTC". */
  readonly baseLabel?: string;
  /** Functions named; default 5. */
  readonly top?: number;
}

/** Growth below this many percentage points of the profile is not named. */
export const GROWTH_MIN_POINTS = 1;

export interface ShareChange {
  readonly name: string;
  readonly before: number;
  readonly now: number;
}

function cumShares(profile: Profile, sampleIndex: string): Map<string, number> {
  const a = analyzeProfile(profile);
  const agg = a.aggregateFor(sampleIndex);
  const out = new Map<string, number>();
  if (agg.total === 0) return out;
  a.graph.names.forEach((name, n) => {
    const c = agg.cum[n] as number;
    if (c !== 0) out.set(name, Math.max(out.get(name) ?? 0, c / agg.total));
  });
  return out;
}

/** Functions by how much their cum share grew from `base` to `next`, largest first. */
export function shareGrowth(next: Profile, base: Profile, sampleIndex = ''): ShareChange[] {
  const now = cumShares(next, sampleIndex);
  const before = cumShares(base, sampleIndex);
  const out: ShareChange[] = [];
  for (const [name, share] of now) out.push({ name, before: before.get(name) ?? 0, now: share });
  return out.sort((x, y) => y.now - y.before - (x.now - x.before) || (x.name < y.name ? -1 : 1));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}

function points(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} pts`;
}

/**
 * The neutral finding comparing `next` with `base`: the functions whose share grew most, and the
 * `go tool pprof -top -diff_base` rows. Throws an AppError when the two cannot be compared (a CPU
 * profile against a heap profile).
 */
export function compareWithBase(next: Profile, base: Profile, options: CompareOptions = {}): Finding {
  const kind = options.kind ?? (next.sampleTypes.some((t) => t.type === 'cpu') ? 'cpu' : 'heap');
  const sampleIndex = options.sampleIndex ?? '';
  const diff = diffProfiles(next, base);
  const diffTop = topReport(analyzeProfile(diff), { nodeCount: 10, sampleIndex, sortBy: 'cum' });
  const grown = shareGrowth(next, base, sampleIndex)
    .filter((c) => c.now - c.before >= GROWTH_MIN_POINTS / 100)
    .slice(0, options.top ?? 5);
  const of = kind === 'cpu' ? 'CPU' : diffTop.sampleType.type.replace('_', ' ');
  const baseLabel = options.baseLabel ?? 'the base profile';
  const first = grown[0];
  return {
    id: `${kind}.diff`,
    severity: 'info',
    title: first
      ? `Since ${baseLabel}: ${first.name} grew most, ${pct(first.before)} → ${pct(first.now)} of ${of}`
      : `Since ${baseLabel}: no function's share of ${of} grew by ${GROWTH_MIN_POINTS} point or more`,
    summary: first
      ? `Compared with ${baseLabel}, the share of ${of} grew most in ${grown
          .slice(0, 3)
          .map((c) => `${c.name} (${points(c.now - c.before)})`)
          .join(
            ', ',
          )}. Shares are of each profile's own total; the table is go tool pprof -top -cum -diff_base.`
      : `Compared with ${baseLabel}, the profile's shape has not changed by ${GROWTH_MIN_POINTS} point or more in any function.`,
    evidence: [
      ...(grown.length > 0
        ? [
            {
              type: 'table' as const,
              title: `Functions whose share of ${of} grew most (cum)`,
              columns: ['function', 'before', 'now', 'change'],
              rows: grown.map((c) => [c.name, pct(c.before), pct(c.now), points(c.now - c.before)]),
            },
          ]
        : []),
      topTable(diffTop, `Top ${diffTop.rows.length} by cum (go tool pprof -top -cum -diff_base)`),
    ],
    links: [],
  };
}

/** The base of a comparison, as the analysis gets it (plain data: it may run in a worker). */
export interface ComparisonBase {
  readonly bytes: Uint8Array;
  /** What the base is called in a decode error, e.g. "the previous cpu capture of aegis-api-7d9f". */
  readonly name: string;
  /** How the finding names it, e.g. "the capture of aegis-api-7d9f at 2026-03-01T09:00:00.000Z". */
  readonly label: string;
}

/**
 * The comparison, done by the analysis (profile-analysis.ts, inline or in a worker, where the new
 * profile is decoded anyway): the base decoded with the same size guard, then compareWithBase. A
 * base that is not a profile, or cannot be compared, gives the reason instead of a finding.
 */
export async function compareWithBaseBytes(
  next: Profile,
  base: ComparisonBase,
  kind: 'cpu' | 'heap',
  maxDecompressedBytes: number,
): Promise<{ finding: Finding } | { error: string }> {
  try {
    const profile = await decodeProfile(base.bytes, { name: base.name, maxDecompressedBytes });
    const finding = compareWithBase(next, profile, {
      kind,
      ...(kind === 'heap' && next.sampleTypes.some((t) => t.type === 'inuse_space')
        ? { sampleIndex: 'inuse_space' }
        : {}),
      baseLabel: base.label,
    });
    return { finding };
  } catch (e) {
    if (!isAppError(e)) throw e;
    return { error: e.message };
  }
}

/** What the store said before the analysis: the base to compare with, or why there is none. */
export type PreviousCapture =
  | { readonly base?: ComparisonBase }
  | { readonly error: string }
  | { readonly none: true };

/**
 * The steps' first half of the comparison part: the service's previous capture (when a store is
 * configured and has one), to hand to the analysis with the new capture.
 */
export async function previousCapture(
  ctx: StepContext<{ readonly captures?: ProfileCaptures }>,
  kind: 'cpu' | 'heap',
  fetched: FetchedProfile,
): Promise<PreviousCapture> {
  const captures = ctx.sources.captures;
  if (!captures) return { none: true };
  try {
    const previous = await captures.previous(ctx.service.name, kind, fetched.startedAt);
    if (!previous) return {};
    return {
      base: {
        bytes: previous.bytes,
        name: `the previous ${kind} capture of ${previous.pod}`,
        label: `the capture of ${previous.pod} at ${previous.capturedAt.toISOString()}`,
      },
    };
  } catch (e) {
    if (!isAppError(e)) throw e;
    return { error: e.message };
  }
}

/**
 * The second half, after the analysis: keeps the new capture (unless the report joined one already
 * kept) and reports the part. A store that fails, a capture too large to keep, or a base that could
 * not be compared marks the part unavailable; the report goes on without the comparison.
 */
export async function keepCapture(
  ctx: StepContext<{ readonly captures?: ProfileCaptures }>,
  kind: 'cpu' | 'heap',
  target: ProfileTarget,
  fetched: FetchedProfile,
  previous: PreviousCapture,
  comparisonError: string | undefined,
  parts: PartStatus[],
): Promise<void> {
  const captures = ctx.sources.captures;
  if (!captures || 'none' in previous) return;
  const part = 'comparison';
  if ('error' in previous) {
    parts.push({ name: part, status: 'unavailable', reason: previous.error });
    return;
  }
  try {
    if (!fetched.joined) {
      await captures.save({
        service: ctx.service.name,
        pod: target.pod ?? target.label,
        kind,
        capturedAt: fetched.startedAt,
        bytes: new Uint8Array(fetched.bytes),
      });
    }
  } catch (e) {
    if (!isAppError(e)) throw e;
    parts.push({ name: part, status: 'unavailable', reason: e.message });
    return;
  }
  if (comparisonError !== undefined) {
    parts.push({ name: part, status: 'unavailable', reason: comparisonError });
    return;
  }
  parts.push({
    name: part,
    status: 'ok',
    ...(previous.base
      ? {}
      : { reason: 'no earlier capture of this service to compare with; this one is kept' }),
  });
}
