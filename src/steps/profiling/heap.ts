import type { Attachment, Finding, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import { analyzeProfile, topReport } from '../../lib/pprof/top.ts';
import { label } from '../../lib/pprof/units.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  flameGraphAttachment,
  focusFunction,
  listFinding,
  nextStepsFor,
  noPprofResult,
  obtainProfile,
  PROFILE_PARTS,
  type ProfilingSources,
  parseProfileWords,
} from './capture.ts';
import { compareWithPrevious } from './compare.ts';
import { detectHeapIssues, type HeapDetectorOptions } from './detectors.ts';
import { findHotPaths, hotPathFindings } from './hot-paths.ts';
import { fileLabel, fileStamp, topTable } from './report.ts';

/**
 * Runbook Step 3, "Memory Profiling": `/aegis heap [pod] [list <function>]` and `aegis run heap`.
 * Fetches the heap profile, reports the top functions by memory in use (inuse_space, pprof's
 * default) and by bytes allocated (alloc_space), names the runbook's known memory issues
 * (unbounded slice growth, string concatenation in loops, large retained objects) with their
 * fix, and attaches the raw profile and a flame graph of the memory in use.
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
  const got = await obtainProfile(ctx, port, 'heap', 'heap', args.pod, { what }, parts);
  if ('step' in got) return got;
  const { target, fetched, profile } = got;

  ctx.progress({ name: PROFILE_PARTS.analysis, status: 'running' });
  const analysis = analyzeProfile(profile);
  const topN = options.topN ?? 10;
  const hasAlloc = profile.sampleTypes.some((t) => t.type === 'alloc_space');
  const hasInuse = profile.sampleTypes.some((t) => t.type === 'inuse_space');
  const inuse = topReport(analysis, { nodeCount: topN, ...(hasInuse ? { sampleIndex: 'inuse_space' } : {}) });
  const alloc = hasAlloc ? topReport(analysis, { nodeCount: topN, sampleIndex: 'alloc_space' }) : undefined;
  const detected = detectHeapIssues(analysis, options.detectors);
  const hot = hotPathFindings(
    'heap',
    findHotPaths(analysis, {
      ...(hasAlloc ? { sampleIndex: 'alloc_space' } : {}),
      ...(service.pprof?.app_packages ? { appPackages: service.pprof.app_packages } : {}),
    }),
    detected.findings,
  );
  parts.push({ name: PROFILE_PARTS.analysis, status: 'ok' });
  ctx.progress({ name: PROFILE_PARTS.analysis, status: 'ok' });

  const base = `heap-${fileLabel(target.label)}-${fileStamp(fetched.startedAt)}`;
  const chosen = target.chosen === 'busiest' ? ' (the busiest pod by CPU)' : '';
  const findings: Finding[] = [...detected.findings, ...hot.findings.slice(1)];
  findings.push(hot.findings[0] as Finding);
  findings.push({
    id: 'heap.top',
    severity: 'info',
    title: `Top functions by memory: heap profile of ${target.label}`,
    summary: `${inuse.format(inuse.total)} in use${alloc ? `, ${alloc.format(alloc.total)} allocated since the process started` : ''} on ${target.label}${chosen} (sampled: Go records about one allocation per 512 kB). Open the attached profile with go tool pprof ${base}.pb.gz.`,
    evidence: [
      topTable(inuse, `Top ${inuse.rows.length} by memory in use (inuse_space)`),
      ...(alloc ? [topTable(alloc, `Top ${alloc.rows.length} by bytes allocated (alloc_space)`)] : []),
    ],
    links: [],
  });
  const comparison = await compareWithPrevious(ctx, 'heap', target, fetched, profile, parts);
  if (comparison) findings.push(comparison);
  if (args.list)
    findings.push(listFinding(profile, args.list, hasInuse ? 'inuse_space' : '', 'heap.list', false));
  else {
    const focus = focusFunction(inuse);
    if (focus) findings.push(listFinding(profile, focus, hasInuse ? 'inuse_space' : '', 'heap.list', true));
  }
  if (detected.findings.length === 0 && !hot.headline) {
    findings.push({
      id: 'heap.no-known-issue',
      severity: 'normal',
      title: 'No known memory issue in this profile',
      summary: inuse.rows[0]
        ? `No growing slice, string concatenation in a loop or large retained objects: the most memory in use is ${inuse.rows[0].cumText} under ${inuse.rows[0].name}.`
        : 'The heap profile holds no samples.',
      evidence: [],
      links: [],
    });
  }

  const attachments: Attachment[] = [
    {
      filename: `${base}.pb.gz`,
      title: `Heap profile of ${target.label} (go tool pprof ${base}.pb.gz)`,
      mimeType: 'application/octet-stream',
      content: new Uint8Array(fetched.bytes),
    },
  ];
  if (inuse.total > 0) {
    ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'running' });
    try {
      const full = topReport(analysis, { ...(hasInuse ? { sampleIndex: 'inuse_space' } : {}) });
      attachments.push(
        await flameGraphAttachment(
          ctx,
          analysis,
          full,
          `${base}-flamegraph.png`,
          `Heap in use (inuse_space): ${target.label}`,
          `${service.name} · ${label(full.total, full.sampleType.unit)} in use · ${fetched.startedAt.toISOString()}`,
        ),
      );
      parts.push({ name: PROFILE_PARTS.flamegraph, status: 'ok' });
      ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'ok' });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      parts.push({ name: PROFILE_PARTS.flamegraph, status: 'unavailable', reason });
      ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'unavailable', reason });
    }
  }

  const top = inuse.rows[0];
  const headline =
    detected.headline ??
    hot.headline ??
    (top
      ? `Heap: ${inuse.format(inuse.total)} in use, most under ${top.name} (${top.flatPercent.trim()} flat), no known issue`
      : `Heap: no samples on ${target.label}`);
  return finishResult(
    {
      step: 'heap',
      service: service.name,
      headline,
      findings,
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
