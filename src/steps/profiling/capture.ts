import type { Config } from '../../config/load.ts';
import { findService } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { AppError, isAppError, SourceError } from '../../domain/errors.ts';
import type { Attachment, NextStep, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import { goPattern } from '../../lib/pprof/pattern.ts';
import type { FetchedProfile, PprofKind, PprofPort, ProfileTarget } from '../../sources/pprof.ts';
import type { StepContext } from '../step.ts';
import { INLINE_ANALYZER, type ProfileAnalyzer } from './analyzer.ts';
import type { ProfileCaptures } from './compare.ts';
import type { CaptureFacts, FlameGraphSvg, ProfileAnalysisOutput } from './profile-analysis.ts';
import { fileLabel, fileStamp } from './report.ts';

/**
 * What the profiling steps (cpu.ts, heap.ts, goroutines.ts) share: the sources they use, their
 * argument words, capturing a profile with progress, the unavailable report, handing the capture to
 * the analyzer (inline or in a worker: profile-analysis.ts does the decoding, pprof's list, hot paths
 * and the comparison), the flame graph attachment, and the next steps between them.
 */

// ---------------------------------------------------------------------------------------------
// the sources the profiling steps use (implemented by src/sources/pprof.ts)

export interface ProfilingSources {
  /** The service's pprof endpoint; undefined when none is configured. */
  readonly pprof?: (service: ServiceConfig) => PprofPort | undefined;
  /** SVG to PNG; default: the analyzer's (resvg with text outlined in DejaVu Sans, lib/charts/png.ts). */
  readonly rasterize?: (svg: string, signal: AbortSignal) => Promise<Uint8Array>;
  /** Where profiles are analysed; default inline. The bot passes worker threads (pooled-analyzer.ts). */
  readonly analyzer?: ProfileAnalyzer;
  /** Earlier captures, to compare a new one with (the store, through compose.ts); none: no comparison. */
  readonly captures?: ProfileCaptures;
}

export function analyzerOf(ctx: StepContext<ProfilingSources>): ProfileAnalyzer {
  return ctx.sources.analyzer ?? INLINE_ANALYZER;
}

export const CPU_SECONDS = { default: 30, min: 5, max: 120 } as const;

const POD = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface ProfileWords {
  service?: string;
  pod?: string;
  seconds?: number;
  list?: string;
}

/**
 * Splits the words after the subcommand: a configured service name, a number of seconds (when
 * allowed), a pod name, and `list <function>`.
 */
export function parseProfileWords(
  words: readonly string[],
  config: Config,
  usage: string,
  allow: { seconds: boolean; list: boolean },
): ProfileWords {
  const out: ProfileWords = {};
  for (let i = 0; i < words.length; i++) {
    const word = (words[i] as string).trim();
    if (!word) continue;
    if (allow.list && word === 'list') {
      const fn = words
        .slice(i + 1)
        .join(' ')
        .trim();
      if (!fn)
        throw new AppError('usage', `list needs a function name or regular expression: usage: ${usage}`);
      goPattern(fn, 'list pattern');
      out.list = fn;
      break;
    }
    if (allow.seconds && /^\d+(\.\d+)?s?$/.test(word)) {
      if (out.seconds !== undefined)
        throw new AppError('usage', `two durations given ("${word}"): usage: ${usage}`);
      const seconds = Number(word.replace(/s$/, ''));
      if (!Number.isInteger(seconds) || seconds < CPU_SECONDS.min || seconds > CPU_SECONDS.max) {
        throw new AppError(
          'out_of_range',
          `a CPU profile lasts ${CPU_SECONDS.min} to ${CPU_SECONDS.max} whole seconds, not ${word} (default ${CPU_SECONDS.default})`,
        );
      }
      out.seconds = seconds;
      continue;
    }
    if (config.services.some((s) => s.name === word)) {
      if (out.service !== undefined)
        throw new AppError('usage', `two services given ("${out.service}", "${word}"): usage: ${usage}`);
      out.service = findService(config, word).name;
      continue;
    }
    if (!POD.test(word)) {
      throw new AppError(
        'usage',
        `"${word}" is neither a service nor a pod name (pod names are RFC 1123: lower-case letters, digits, "-" and "."): usage: ${usage}`,
      );
    }
    if (out.pod !== undefined)
      throw new AppError('usage', `two pods given ("${out.pod}", "${word}"): usage: ${usage}`);
    out.pod = word;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// shared by the profiling steps

export const PROFILE_PARTS = { capture: 'pprof', analysis: 'analysis', flamegraph: 'flame graph' } as const;

/** The report when the service has no pprof endpoint configured: says where to configure one. */
export function noPprofResult(
  ctx: StepContext<unknown>,
  step: string,
  startedAt: Date,
  what: string,
  part: string,
): StepResult {
  const reason = `no pprof endpoint configured for service ${ctx.service.name} (services[].pprof)`;
  return unavailableResult(ctx, step, startedAt, what, reason, [
    { name: part, status: 'unavailable', reason },
  ]);
}

export function unavailableResult(
  ctx: StepContext<unknown>,
  step: string,
  startedAt: Date,
  what: string,
  reason: string,
  parts: PartStatus[],
  nextSteps: NextStep[] = [],
): StepResult {
  return finishResult(
    {
      step,
      service: ctx.service.name,
      headline: `${what} unavailable: ${reason}`,
      findings: [
        {
          id: `${step}.unavailable`,
          severity: 'unavailable',
          title: `${what} unavailable`,
          summary: reason,
          evidence: [],
          links: [],
        },
      ],
      proposals: [],
      nextSteps,
      escalations: [],
      attachments: [],
      parts,
      links: [],
      startedAt,
    },
    ctx.now(),
  );
}

function secondsAgo(ctx: StepContext<unknown>, since: Date): number {
  return Math.max(0, Math.round((ctx.now().getTime() - since.getTime()) / 1000));
}

/**
 * Fetches one profile with progress: says whether it joins a capture already running, ticks
 * while a long capture runs, and reports the part's outcome.
 */
export async function captureWithProgress(
  ctx: StepContext<unknown>,
  port: PprofPort,
  kind: PprofKind,
  target: ProfileTarget,
  options: { seconds?: number; debug?: 0 | 1 | 2; what: string; part?: string },
): Promise<FetchedProfile> {
  const part = options.part ?? PROFILE_PARTS.capture;
  const running = port.running(kind, target);
  const joining = running
    ? `joining the ${running.seconds ? `${running.seconds} s ` : ''}${options.what} of ${target.label} already running (started ${secondsAgo(ctx, running.startedAt)} s ago${running.startedBy ? ` by <@${running.startedBy}>` : ''}); not starting a second one`
    : undefined;
  ctx.progress({
    name: part,
    status: 'running',
    reason:
      joining ??
      `capturing ${options.seconds ? `a ${options.seconds} s ` : 'the '}${options.what} of ${target.label}`,
  });
  let ticker: NodeJS.Timeout | undefined;
  if (options.seconds && options.seconds >= 10) {
    const started = ctx.now().getTime();
    const total = running?.seconds ?? options.seconds;
    const base = running ? secondsAgo(ctx, running.startedAt) : 0;
    ticker = setInterval(() => {
      const elapsed = Math.min(total, base + Math.round((ctx.now().getTime() - started) / 1000));
      ctx.progress({
        name: part,
        status: 'running',
        reason: `${options.what} of ${target.label}: ${elapsed} s of ${total} s`,
      });
    }, 5000);
    ticker.unref();
  }
  try {
    const fetched = await port.fetch(kind, {
      target,
      ...(options.seconds !== undefined ? { seconds: options.seconds } : {}),
      ...(options.debug ? { debug: options.debug } : {}),
      signal: ctx.signal,
    });
    ctx.progress({
      name: part,
      status: 'ok',
      ...(fetched.joined
        ? { reason: `joined the capture started ${secondsAgo(ctx, fetched.startedAt)} s ago` }
        : {}),
    });
    return fetched;
  } catch (e) {
    ctx.progress({ name: part, status: 'unavailable', reason: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    if (ticker) clearInterval(ticker);
  }
}

/**
 * Resolves the target and captures one profile. A source that fails gives an "unavailable" result
 * instead; a usage error (a pod named where none can be chosen) is thrown for the user to see.
 */
export async function obtainCapture(
  ctx: StepContext<unknown>,
  port: PprofPort,
  step: 'cpu' | 'heap',
  kind: PprofKind,
  pod: string | undefined,
  options: { seconds?: number; what: string },
  parts: PartStatus[],
): Promise<{ target: ProfileTarget; fetched: FetchedProfile } | StepResult> {
  const startedAt = ctx.now();
  const next = nextStepsFor(step, pod);
  let target: ProfileTarget;
  try {
    target = await port.resolveTarget(pod, ctx.signal);
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    parts.push({ name: PROFILE_PARTS.capture, status: 'unavailable', reason: e.message });
    return unavailableResult(
      ctx,
      step,
      startedAt,
      options.what,
      `cannot choose a pod: ${e.message}`,
      parts,
      next,
    );
  }
  let fetched: FetchedProfile;
  try {
    fetched = await captureWithProgress(ctx, port, kind, target, options);
  } catch (e) {
    if (!isAppError(e)) throw e;
    parts.push({ name: PROFILE_PARTS.capture, status: 'unavailable', reason: e.message });
    return unavailableResult(ctx, step, startedAt, options.what, e.message, parts, next);
  }
  parts.push({
    name: PROFILE_PARTS.capture,
    status: 'ok',
    ...(fetched.joined ? { reason: 'joined a capture already running' } : {}),
  });
  return { target, fetched };
}

/** What the analysis needs to know about a capture, and the size guard from the configured limit. */
export function captureInput(
  ctx: StepContext<unknown>,
  step: 'cpu' | 'heap',
  target: ProfileTarget,
  fetched: FetchedProfile,
  what: string,
): {
  bytes: Uint8Array;
  name: string;
  maxDecompressedBytes: number;
  capture: CaptureFacts;
  appPackages?: readonly string[];
} {
  const maxBytes = ctx.service.pprof?.max_bytes ?? 64 * 2 ** 20;
  const appPackages = ctx.service.pprof?.app_packages;
  return {
    bytes: fetched.bytes,
    ...(appPackages ? { appPackages } : {}),
    name: `${what} of ${target.label}`,
    maxDecompressedBytes: maxBytes * 16,
    capture: {
      service: ctx.service.name,
      target,
      startedAt: fetched.startedAt.toISOString(),
      joined: fetched.joined,
      ...(fetched.startedBy ? { startedBy: fetched.startedBy } : {}),
      base: `${step}-${fileLabel(target.label)}-${fileStamp(fetched.startedAt)}`,
    },
  };
}

/**
 * Runs the analysis of a capture (on the analyzer: inline or in a worker). An answer that is not a
 * usable profile gives an "unavailable" result.
 */
export async function analyseCapture(
  ctx: StepContext<unknown>,
  step: 'cpu' | 'heap',
  startedAt: Date,
  what: string,
  pod: string | undefined,
  parts: PartStatus[],
  analyse: () => Promise<ProfileAnalysisOutput>,
): Promise<ProfileAnalysisOutput | StepResult> {
  ctx.progress({ name: PROFILE_PARTS.analysis, status: 'running' });
  try {
    const out = await analyse();
    ctx.progress({ name: PROFILE_PARTS.analysis, status: 'ok' });
    parts.push({ name: PROFILE_PARTS.analysis, status: 'ok' });
    return out;
  } catch (e) {
    if (!isAppError(e)) throw e;
    const reason = `the pprof endpoint's answer is not a usable profile: ${e.message}`;
    ctx.progress({ name: PROFILE_PARTS.analysis, status: 'unavailable', reason });
    parts.push({ name: PROFILE_PARTS.analysis, status: 'unavailable', reason });
    return unavailableResult(ctx, step, startedAt, what, reason, parts, nextStepsFor(step, pod));
  }
}

/** The flame graph as a PNG attachment; a failure to draw it leaves it out and marks the part. */
export async function flameGraphAttachment(
  ctx: StepContext<ProfilingSources>,
  flame: FlameGraphSvg | undefined,
  parts: PartStatus[],
): Promise<Attachment | undefined> {
  if (!flame) return undefined;
  ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'running' });
  try {
    if ('error' in flame) throw new Error(flame.error);
    const png = ctx.sources.rasterize
      ? await ctx.sources.rasterize(flame.svg, ctx.signal)
      : await analyzerOf(ctx).rasterize(flame.svg, ctx.signal);
    parts.push({ name: PROFILE_PARTS.flamegraph, status: 'ok' });
    ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'ok' });
    return { filename: flame.filename, title: flame.title, mimeType: 'image/png', content: png, image: true };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    parts.push({ name: PROFILE_PARTS.flamegraph, status: 'unavailable', reason });
    ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'unavailable', reason });
    return undefined;
  }
}

export function nextStepsFor(step: 'cpu' | 'heap' | 'goroutines', pod: string | undefined): NextStep[] {
  const args = pod ? [pod] : [];
  const on = pod ? ` of ${pod}` : '';
  const all: NextStep[] = [
    { label: `CPU profile${on}`, step: 'cpu', args },
    { label: `Heap profile${on}`, step: 'heap', args },
    { label: `Goroutines${on}`, step: 'goroutines', args },
  ];
  return all.filter((s) => s.step !== step);
}
