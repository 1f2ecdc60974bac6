import type { Attachment, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  analyseCapture,
  analyzerOf,
  CPU_SECONDS,
  captureInput,
  flameGraphAttachment,
  nextStepsFor,
  noPprofResult,
  obtainCapture,
  PROFILE_PARTS,
  type ProfilingSources,
  parseProfileWords,
} from './capture.ts';
import { keepCapture, previousCapture } from './compare.ts';
import type { CpuDetectorOptions } from './detectors.ts';

/**
 * Runbook Step 2, "CPU Profiling": `/aegis cpu [seconds] [pod] [list <function>]` and
 * `aegis run cpu`. Captures a CPU profile from one pod's pprof endpoint (default 30 s, 5 to 120),
 * reports the top functions as `go tool pprof -top` does, names the runbook's known CPU issues
 * with their fix and the service's own hot paths, compares it with the previous capture, and
 * attaches the raw profile and a flame graph. The capture blocks nothing: progress is reported
 * while it runs, and a second capture of the same pod joins the first. The analysis (decoding,
 * detectors, hot paths, comparison, flame graph) is profile-analysis.ts, run by the analyzer:
 * inline or in a worker thread. What the heap and goroutine steps share with it is in capture.ts.
 */

export interface CpuArgs {
  readonly service?: string;
  readonly seconds: number;
  readonly pod?: string;
  /** pprof's `list <function>`: a regular expression. */
  readonly list?: string;
}

// ---------------------------------------------------------------------------------------------
// the step

export interface CpuStepOptions {
  readonly detectors?: CpuDetectorOptions;
  /** Rows of the top tables in the report (pprof's -nodecount). */
  readonly topN?: number;
}

export function cpuStep(options: CpuStepOptions = {}): StepDefinition<CpuArgs, ProfilingSources> {
  const usage = `cpu [seconds] [pod] [list <function>]  (seconds ${CPU_SECONDS.min} to ${CPU_SECONDS.max}, default ${CPU_SECONDS.default}; pod: default the busiest)`;
  return {
    name: 'cpu',
    summary: 'CPU profile of one pod: top functions, known CPU issues, flame graph',
    usage,
    runbook: 'Step 2: CPU Profiling',
    parse(words, { config }) {
      const w = parseProfileWords(words, config, usage, { seconds: true, list: true });
      return {
        seconds: w.seconds ?? CPU_SECONDS.default,
        ...(w.service ? { service: w.service } : {}),
        ...(w.pod ? { pod: w.pod } : {}),
        ...(w.list ? { list: w.list } : {}),
      };
    },
    run: (ctx, args) => runCpu(ctx, args, options),
  };
}

export const CPU_STEP = cpuStep();

async function runCpu(
  ctx: StepContext<ProfilingSources>,
  args: CpuArgs,
  options: CpuStepOptions,
): Promise<StepResult> {
  const startedAt = ctx.now();
  const { service } = ctx;
  const parts: PartStatus[] = [];
  const port = ctx.sources.pprof?.(service);
  const what = 'CPU profile';
  if (!port) return noPprofResult(ctx, 'cpu', startedAt, what, PROFILE_PARTS.capture);

  const got = await obtainCapture(
    ctx,
    port,
    'cpu',
    'profile',
    args.pod,
    { seconds: args.seconds, what },
    parts,
  );
  if ('step' in got) return got;
  const { target, fetched } = got;
  const seconds = fetched.seconds ?? args.seconds;
  const input = captureInput(ctx, 'cpu', target, fetched, what);
  const previous = await previousCapture(ctx, 'cpu', fetched);
  const analysed = await analyseCapture(ctx, 'cpu', startedAt, what, args.pod, parts, () =>
    analyzerOf(ctx).cpu(
      {
        ...input,
        seconds,
        ...('base' in previous && previous.base ? { base: previous.base } : {}),
        ...(args.list ? { list: args.list } : {}),
        ...(options.topN !== undefined ? { topN: options.topN } : {}),
        ...(options.detectors ? { detectors: options.detectors } : {}),
      },
      ctx.signal,
    ),
  );
  if ('step' in analysed) return analysed;
  await keepCapture(ctx, 'cpu', target, fetched, previous, analysed.comparisonError, parts);

  const attachments: Attachment[] = [
    {
      filename: `${input.capture.base}.pb.gz`,
      title: `CPU profile of ${target.label}, ${seconds} s (go tool pprof ${input.capture.base}.pb.gz)`,
      mimeType: 'application/octet-stream',
      content: new Uint8Array(fetched.bytes),
    },
  ];
  const flame = await flameGraphAttachment(ctx, analysed.flame, parts);
  if (flame) attachments.push(flame);
  return finishResult(
    {
      step: 'cpu',
      service: service.name,
      headline: analysed.headline,
      findings: analysed.findings,
      proposals: [],
      nextSteps: nextStepsFor('cpu', target.pod),
      escalations: [],
      attachments,
      parts,
      links: [],
      startedAt,
    },
    ctx.now(),
  );
}
