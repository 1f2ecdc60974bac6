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

/**
 * The steps' part: compares the new capture with the service's previous one (when the store has
 * one) and keeps the new capture. A store that fails or a capture too large to keep marks the part
 * unavailable; the report goes on without the comparison.
 */
export async function compareWithPrevious(
  ctx: StepContext<{ readonly captures?: ProfileCaptures }>,
  kind: 'cpu' | 'heap',
  target: ProfileTarget,
  fetched: FetchedProfile,
  profile: Profile,
  parts: PartStatus[],
): Promise<Finding | undefined> {
  const captures = ctx.sources.captures;
  if (!captures) return undefined;
  const part = 'comparison';
  const service = ctx.service.name;
  let finding: Finding | undefined;
  try {
    const previous = await captures.previous(service, kind, fetched.startedAt);
    if (previous) {
      const base = await decodeProfile(previous.bytes, {
        name: `the previous ${kind} capture of ${previous.pod}`,
        maxDecompressedBytes: (ctx.service.pprof?.max_bytes ?? 64 * 2 ** 20) * 16,
        signal: ctx.signal,
      });
      finding = compareWithBase(profile, base, {
        kind,
        ...(kind === 'heap' && profile.sampleTypes.some((t) => t.type === 'inuse_space')
          ? { sampleIndex: 'inuse_space' }
          : {}),
        baseLabel: `the capture of ${previous.pod} at ${previous.capturedAt.toISOString()}`,
      });
    }
    if (!fetched.joined) {
      await captures.save({
        service,
        pod: target.pod ?? target.label,
        kind,
        capturedAt: fetched.startedAt,
        bytes: new Uint8Array(fetched.bytes),
      });
    }
    parts.push({
      name: part,
      status: 'ok',
      ...(previous ? {} : { reason: 'no earlier capture of this service to compare with; this one is kept' }),
    });
  } catch (e) {
    if (!isAppError(e)) throw e;
    parts.push({ name: part, status: 'unavailable', reason: e.message });
  }
  return finding;
}
