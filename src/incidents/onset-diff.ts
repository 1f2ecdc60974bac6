import type { ServiceConfig } from '../config/schema.ts';
import { isAppError } from '../domain/errors.ts';
import type { Finding, StepResult } from '../domain/finding.ts';
import { decodeProfile } from '../lib/pprof/decode.ts';
import { compareWithBase } from '../steps/profiling/compare.ts';
import type { OnsetEvidence, ProfileCapture, Store } from '../store/types.ts';

/**
 * "Compare with onset" for a CPU or heap onset: the onset's raw profile (kept in the capture store,
 * named by OnsetEvidence.capture) against the capture the fresh step run just kept, as
 * compareWithBase's finding (pprof -diff_base: which functions' share grew most since onset).
 * Goroutine onsets have no capture: the caller compares the top-N tables instead.
 */
export interface OnsetDiff {
  /** The comparison, when both profiles were there. */
  readonly finding?: Finding;
  /** Why there is no comparison, or what the reader must know about it (another pod). */
  readonly note?: string;
}

/** How much earlier than the step a capture it joined may have started: the longest CPU capture. */
const JOINED_CAPTURE_MS = 120_000;

export async function onsetDiff(
  store: Pick<Store, 'profileCaptureAt' | 'latestProfileCapture'>,
  service: ServiceConfig,
  onset: OnsetEvidence,
  fresh: StepResult | undefined,
): Promise<OnsetDiff> {
  const ref = onset.capture;
  if (!ref) return {};
  if (!fresh) return { note: 'no profile was captured now, so there is no diff (see the step report)' };
  try {
    const base = await store.profileCaptureAt(service.name, ref.pod, ref.kind, ref.capturedAt);
    if (!base) {
      return {
        note: `the onset ${ref.kind} profile of ${ref.pod} is no longer kept (the incident was resolved, or the store was reset); only the tables are compared`,
      };
    }
    const now = await capturedDuring(store, service.name, ref.kind, fresh, onset.target);
    if (!now || now.capturedAt.getTime() <= ref.capturedAt.getTime())
      return { note: `the ${ref.kind} profile captured now was not kept, so there is no diff` };
    const label = `onset (${ref.pod} at ${ref.capturedAt.toISOString()})`;
    const decode = (c: ProfileCapture, name: string) =>
      decodeProfile(c.bytes, { name, maxDecompressedBytes: (service.pprof?.max_bytes ?? 64 * 2 ** 20) * 16 });
    const [nextProfile, baseProfile] = await Promise.all([
      decode(now, `the ${ref.kind} profile of ${now.pod} now`),
      decode(base, `the onset ${ref.kind} profile of ${base.pod}`),
    ]);
    const finding = compareWithBase(nextProfile, baseProfile, {
      kind: ref.kind,
      ...(ref.kind === 'heap' && nextProfile.sampleTypes.some((t) => t.type === 'inuse_space')
        ? { sampleIndex: 'inuse_space' }
        : {}),
      baseLabel: label,
    });
    return {
      finding,
      ...(now.pod !== ref.pod
        ? { note: `the onset pod ${ref.pod} was not profiled now; the fresh profile is of ${now.pod}` }
        : {}),
    };
  } catch (e) {
    if (!isAppError(e)) throw e;
    return { note: `no diff: ${e.message}` };
  }
}

/**
 * The capture a profile step run kept: the newest of the pod (or, when it has none, of any pod) taken
 * while it ran, or one it joined that started up to JOINED_CAPTURE_MS earlier.
 */
export async function capturedDuring(
  store: Pick<Store, 'latestProfileCapture'>,
  service: string,
  kind: 'cpu' | 'heap',
  fresh: StepResult,
  pod: string | undefined,
): Promise<ProfileCapture | undefined> {
  const before = new Date(fresh.finishedAt.getTime() + 1);
  const during = (c: ProfileCapture | undefined) =>
    c && c.capturedAt.getTime() >= fresh.startedAt.getTime() - JOINED_CAPTURE_MS ? c : undefined;
  return (
    (pod ? during(await store.latestProfileCapture(service, kind, before, pod)) : undefined) ??
    during(await store.latestProfileCapture(service, kind, before))
  );
}
