import { isAppError, SourceError } from '../../domain/errors.ts';
import type { Attachment, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import type { GoroutineDump } from '../../lib/pprof/goroutine-dump.ts';
import type { PprofPort, ProfileTarget } from '../../sources/pprof.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  analyzerOf,
  captureWithProgress,
  nextStepsFor,
  noPprofResult,
  type ProfilingSources,
  parseProfileWords,
  unavailableResult,
} from './capture.ts';
import { type GoroutineDetectorOptions, type MutexSite, mutexDelta } from './goroutine-detectors.ts';
import { fileLabel, fileStamp } from './report.ts';

/**
 * Runbook Step 5, "Goroutine Analysis": `/aegis goroutines [pod]` and `aegis run goroutines`.
 * Takes two full goroutine dumps (debug=2) a few seconds apart, and the mutex profile at the same
 * two moments; reports the total and its growth, the largest groups of identical stacks,
 * goroutine leak suspects (named by the function that started them) and mutex contention.
 * The second dump is attached (the runbook's goroutines.txt).
 */

export interface GoroutinesArgs {
  readonly service?: string;
  readonly pod?: string;
}

export interface GoroutinesStepOptions {
  /** Time between the two samples. Default 5 s. */
  readonly intervalMs?: number;
  readonly detectors?: GoroutineDetectorOptions;
}

export const PARTS = {
  first: 'goroutines (1st sample)',
  second: 'goroutines (2nd sample)',
  mutex: 'mutex profile',
} as const;

export function goroutinesStep(
  options: GoroutinesStepOptions = {},
): StepDefinition<GoroutinesArgs, ProfilingSources> {
  const usage = 'goroutines [pod]  (pod: default the busiest)';
  return {
    name: 'goroutines',
    summary: 'Goroutines of one pod: count and growth, identical stacks, leaks, mutex contention',
    usage,
    runbook: 'Step 5: Goroutine Analysis',
    parse(words, { config }) {
      const w = parseProfileWords(words, config, usage, { seconds: false, list: false });
      return { ...(w.service ? { service: w.service } : {}), ...(w.pod ? { pod: w.pod } : {}) };
    },
    run: (ctx, args) => runGoroutines(ctx, args, options),
  };
}

export const GOROUTINES_STEP = goroutinesStep();

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One sample: the debug=2 dump, and the mutex profile (optional: a failure there is only noted). */
async function sample(
  ctx: StepContext<ProfilingSources>,
  port: PprofPort,
  target: ProfileTarget,
  part: string,
): Promise<{ dump: GoroutineDump; text: string; at: Date; mutex?: MutexSite[]; mutexError?: string }> {
  const mutexP = port
    .fetch('mutex', { target, signal: ctx.signal })
    .then((f) => analyzerOf(ctx).mutexSites(f.bytes, ctx.signal))
    .then(
      (mutex) => ({ mutex }),
      // The mutex profile only adds to the report: whatever goes wrong there is noted, not thrown.
      (e: unknown) => ({ mutexError: e instanceof Error ? e.message : String(e) }),
    );
  const fetched = await captureWithProgress(ctx, port, 'goroutine', target, {
    debug: 2,
    what: 'goroutine dump',
    part,
  });
  const text = fetched.bytes.toString('utf8');
  const dump = await analyzerOf(ctx).goroutineDump(text, ctx.signal);
  return { dump, text, at: fetched.startedAt, ...(await mutexP) };
}

async function runGoroutines(
  ctx: StepContext<ProfilingSources>,
  args: GoroutinesArgs,
  options: GoroutinesStepOptions,
): Promise<StepResult> {
  const startedAt = ctx.now();
  const { service } = ctx;
  const parts: PartStatus[] = [];
  const what = 'Goroutine dump';
  const port = ctx.sources.pprof?.(service);
  const next = nextStepsFor('goroutines', args.pod);
  if (!port) return noPprofResult(ctx, 'goroutines', startedAt, what, PARTS.first);
  let target: ProfileTarget;
  try {
    target = await port.resolveTarget(args.pod, ctx.signal);
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    parts.push({ name: PARTS.first, status: 'unavailable', reason: e.message });
    return unavailableResult(
      ctx,
      'goroutines',
      startedAt,
      what,
      `cannot choose a pod: ${e.message}`,
      parts,
      next,
    );
  }
  const intervalMs = options.intervalMs ?? 5000;

  let first: Awaited<ReturnType<typeof sample>>;
  try {
    first = await sample(ctx, port, target, PARTS.first);
    parts.push({ name: PARTS.first, status: 'ok' });
  } catch (e) {
    if (!isAppError(e)) throw e;
    parts.push({ name: PARTS.first, status: 'unavailable', reason: e.message });
    return unavailableResult(ctx, 'goroutines', startedAt, what, e.message, parts, next);
  }
  ctx.progress({
    name: PARTS.second,
    status: 'running',
    reason: `second sample in ${Math.round(intervalMs / 1000)} s, to see growth`,
  });
  await sleep(intervalMs, ctx.signal);
  let second: Awaited<ReturnType<typeof sample>> | undefined;
  try {
    second = await sample(ctx, port, target, PARTS.second);
    parts.push({ name: PARTS.second, status: 'ok' });
  } catch (e) {
    if (!isAppError(e)) throw e;
    parts.push({ name: PARTS.second, status: 'unavailable', reason: `${e.message} (growth not measured)` });
  }

  let mutex: MutexSite[] | undefined;
  if (first.mutex && second?.mutex) {
    mutex = mutexDelta(first.mutex, second.mutex);
    parts.push({ name: PARTS.mutex, status: 'ok' });
  } else {
    parts.push({
      name: PARTS.mutex,
      status: 'unavailable',
      reason: first.mutexError ?? second?.mutexError ?? 'only one sample',
    });
  }
  const measuredMs = second ? second.at.getTime() - first.at.getTime() : intervalMs;
  const report = await analyzerOf(ctx).goroutineReport(
    {
      first: first.dump,
      ...(second ? { second: second.dump } : {}),
      intervalMs: Math.max(1, measuredMs),
      ...(mutex ? { mutex } : {}),
      target: target.label,
    },
    options.detectors,
    ctx.signal,
  );

  const last = second ?? first;
  const attachments: Attachment[] = [
    {
      filename: `goroutines-${fileLabel(target.label)}-${fileStamp(last.at)}.txt`,
      title: `Full goroutine dump of ${target.label} (debug=2), ${report.total} goroutines`,
      mimeType: 'text/plain',
      content: last.text,
    },
  ];
  return finishResult(
    {
      step: 'goroutines',
      service: service.name,
      headline: report.headline,
      findings: report.findings,
      proposals: [],
      nextSteps: nextStepsFor('goroutines', target.pod),
      escalations: [],
      attachments,
      parts,
      links: [],
      startedAt,
    },
    ctx.now(),
  );
}
