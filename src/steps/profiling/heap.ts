import type { Attachment, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  analyseCapture,
  analyzerOf,
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
import type { HeapDetectorOptions } from './detectors.ts';

/**
 * Runbook Step 3, "Memory Profiling": `/aegis heap [pod] [list <function>]` and `aegis run heap`.
 * Fetches the heap profile, reports the top functions by memory in use (inuse_space, pprof's
 * default) and by bytes allocated (alloc_space), names the runbook's known memory issues
 * (unbounded slice growth, string concatenation in loops, large retained objects) with their
 * fix and the service's own hot paths, compares it with the previous capture, and attaches the raw
 * profile and a flame graph of the memory in use.
 */

export interface HeapArgs {
  readonly service?: string;
  readonly pod?: string;
  readonly list?: string;
}

export interface HeapStepOptions {
  readonly detectors?: HeapDetectorOptions;
  readonly topN?: number;
}

export function heapStep(options: HeapStepOptions = {}): StepDefinition<HeapArgs, ProfilingSources> {
  const usage = 'heap [pod] [list <function>]  (pod: default the busiest)';
  return {
    name: 'heap',
    summary: 'Heap profile of one pod: memory in use and allocated by function, known memory issues',
    usage,
    runbook: 'Step 3: Memory Profiling',
    parse(words, { config }) {
      const w = parseProfileWords(words, config, usage, { seconds: false, list: true });
      return {
        ...(w.service ? { service: w.service } : {}),
        ...(w.pod ? { pod: w.pod } : {}),
        ...(w.list ? { list: w.list } : {}),
      };
    },
    run: (ctx, args) => runHeap(ctx, args, options),
  };
}

export const HEAP_STEP = heapStep();

async function runHeap(
  ctx: StepContext<ProfilingSources>,
  args: HeapArgs,
  options: HeapStepOptions,
): Promise<StepResult> {
  const startedAt = ctx.now();
  const { service } = ctx;
  const parts: PartStatus[] = [];
  const what = 'heap profile';
  const port = ctx.sources.pprof?.(service);
  if (!port) return noPprofResult(ctx, 'heap', startedAt, 'Heap profile', PROFILE_PARTS.capture);
  const got = await obtainCapture(ctx, port, 'heap', 'heap', args.pod, { what }, parts);
  if ('step' in got) return got;
  const { target, fetched } = got;
  const input = captureInput(ctx, 'heap', target, fetched, what);
  const previous = await previousCapture(ctx, 'heap', fetched);
  const analysed = await analyseCapture(ctx, 'heap', startedAt, what, args.pod, parts, () =>
    analyzerOf(ctx).heap(
      {
        ...input,
        ...('base' in previous && previous.base ? { base: previous.base } : {}),
        ...(args.list ? { list: args.list } : {}),
        ...(options.topN !== undefined ? { topN: options.topN } : {}),
        ...(options.detectors ? { detectors: options.detectors } : {}),
      },
      ctx.signal,
    ),
  );
  if ('step' in analysed) return analysed;
  await keepCapture(ctx, 'heap', target, fetched, previous, analysed.comparisonError, parts);

  const attachments: Attachment[] = [
    {
      filename: `${input.capture.base}.pb.gz`,
      title: `Heap profile of ${target.label} (go tool pprof ${input.capture.base}.pb.gz)`,
      mimeType: 'application/octet-stream',
      content: new Uint8Array(fetched.bytes),
    },
  ];
  const flame = await flameGraphAttachment(ctx, analysed.flame, parts);
  if (flame) attachments.push(flame);
  return finishResult(
    {
      step: 'heap',
      service: service.name,
      headline: analysed.headline,
      findings: analysed.findings,
      proposals: [],
      nextSteps: nextStepsFor('heap', target.pod),
      escalations: [],
      attachments,
      parts,
      links: [],
      startedAt,
    },
    ctx.now(),
  );
}
