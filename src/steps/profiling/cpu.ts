import type { Attachment, Finding, PartStatus, StepResult } from '../../domain/finding.ts';
import { finishResult } from '../../domain/report.ts';
import type { Profile } from '../../lib/pprof/decode.ts';
import { analyzeProfile, topReport } from '../../lib/pprof/top.ts';
import { label } from '../../lib/pprof/units.ts';
import type { StepContext, StepDefinition } from '../step.ts';
import {
  CPU_SECONDS,
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
import { type CpuDetectorOptions, detectCpuIssues } from './detectors.ts';
import { findHotPaths, hotPathFindings } from './hot-paths.ts';
import { fileLabel, fileStamp, topTable } from './report.ts';

/**
 * Runbook Step 2, "CPU Profiling": `/aegis cpu [seconds] [pod] [list <function>]` and
 * `aegis run cpu`. Captures a CPU profile from one pod's pprof endpoint (default 30 s, 5 to 120),
 * reports the top functions as `go tool pprof -top` does, names the runbook's known CPU issues
 * with their fix and the service's own hot paths, compares it with the previous capture, and
 * attaches the raw profile and a flame graph. The capture blocks nothing: progress is reported
 * while it runs, and a second capture of the same pod joins the first. What the heap and
 * goroutine steps share with it is in capture.ts.
 */

export interface CpuArgs {
  readonly service?: string;
  readonly seconds: number;
  readonly pod?: string;
  /** pprof's `list <function>`: a regular expression. */
  readonly list?: string;
}

/** How a profile's CPU time compares with its wall time: "2.3 cores busy". */
function utilization(profile: Profile, total: number): string {
  if (!profile.durationNanos) return '';
  const cores = total / profile.durationNanos;
  return `, ${cores.toFixed(cores < 1 ? 2 : 1)} cores busy on average`;
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

  const got = await obtainProfile(
    ctx,
    port,
    'cpu',
    'profile',
    args.pod,
    { seconds: args.seconds, what },
    parts,
  );
  if ('step' in got) return got;
  const { target, fetched, profile } = got;

  ctx.progress({ name: PROFILE_PARTS.analysis, status: 'running' });
  const analysis = analyzeProfile(profile);
  const topN = options.topN ?? 10;
  const byFlat = topReport(analysis, { nodeCount: topN });
  const byCum = topReport(analysis, { nodeCount: topN, sortBy: 'cum' });
  const full = topReport(analysis, {});
  const detected = detectCpuIssues(analysis, options.detectors);
  const hot = hotPathFindings(
    'cpu',
    findHotPaths(analysis, {
      ...(service.pprof?.app_packages ? { appPackages: service.pprof.app_packages } : {}),
    }),
    detected.findings,
  );
  ctx.progress({ name: PROFILE_PARTS.analysis, status: 'ok' });
  parts.push({ name: PROFILE_PARTS.analysis, status: 'ok' });

  const seconds = fetched.seconds ?? args.seconds;
  const stamp = fileStamp(fetched.startedAt);
  const base = `cpu-${fileLabel(target.label)}-${stamp}`;
  const joinedNote = fetched.joined
    ? ` This report joined a capture already running (started ${fetched.startedAt.toISOString()}${fetched.startedBy ? ` by <@${fetched.startedBy}>` : ''}).`
    : '';
  const chosen = target.chosen === 'busiest' ? ' (the busiest pod by CPU)' : '';
  const findings: Finding[] = [...detected.findings, ...hot.findings.slice(1)];
  findings.push(hot.findings[0] as Finding);
  findings.push({
    id: 'cpu.top',
    severity: 'info',
    title: `Top functions by CPU: ${seconds} s profile of ${target.label}`,
    summary: `${byFlat.format(byFlat.total)} of CPU samples in ${seconds} s on ${target.label}${chosen}${utilization(profile, byFlat.total)}.${joinedNote} Open the attached profile with go tool pprof ${base}.pb.gz.`,
    evidence: [
      topTable(byFlat, `Top ${byFlat.rows.length} by flat (go tool pprof -top)`),
      topTable(byCum, `Top ${byCum.rows.length} by cum (go tool pprof -top -cum)`),
    ],
    links: [],
  });
  const comparison = await compareWithPrevious(ctx, 'cpu', target, fetched, profile, parts);
  if (comparison) findings.push(comparison);
  const primary = detected.findings[0];
  const focus = args.list ? undefined : focusFunction(byFlat, primary ? primaryCaller(primary) : undefined);
  if (args.list) findings.push(listFinding(profile, args.list, '', 'cpu.list', false));
  else if (focus) findings.push(listFinding(profile, focus, '', 'cpu.list', true));
  if (detected.findings.length === 0 && !hot.headline) {
    const top = byFlat.rows[0];
    findings.push({
      id: 'cpu.no-known-issue',
      severity: 'normal',
      title: 'No known CPU issue in this profile',
      summary: top
        ? `No JSON, regexp or logging hot spot and no dominant function: the top function is ${top.name} with ${top.flatPercent.trim()} flat.`
        : 'The profile has no CPU samples: the process was idle during the capture.',
      evidence: [],
      links: [],
    });
  }

  const attachments: Attachment[] = [
    {
      filename: `${base}.pb.gz`,
      title: `CPU profile of ${target.label}, ${seconds} s (go tool pprof ${base}.pb.gz)`,
      mimeType: 'application/octet-stream',
      content: new Uint8Array(fetched.bytes),
    },
  ];
  if (byFlat.total > 0) {
    ctx.progress({ name: PROFILE_PARTS.flamegraph, status: 'running' });
    try {
      attachments.push(
        await flameGraphAttachment(
          ctx,
          analysis,
          full,
          `${base}-flamegraph.png`,
          `CPU flame graph: ${target.label}, ${seconds} s`,
          `${service.name} · ${label(full.total, full.sampleType.unit)} of CPU samples · ${fetched.startedAt.toISOString()}`,
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

  const top = byFlat.rows[0];
  const headline =
    detected.headline ??
    hot.headline ??
    (top
      ? `CPU: top function ${top.name} at ${top.flatPercent.trim()} flat of ${byFlat.format(byFlat.total)} in ${seconds} s, no known issue`
      : `CPU: no samples in ${seconds} s on ${target.label}`);
  return finishResult(
    {
      step: 'cpu',
      service: service.name,
      headline,
      findings,
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

function primaryCaller(f: Finding): string | undefined {
  const fields = f.evidence.find((e) => e.type === 'fields');
  if (fields?.type !== 'fields') return undefined;
  const caller = fields.fields.find((x) => x.label === 'Caller')?.value.replace(/ \(.*\)$/, '');
  const fn = fields.fields.find((x) => x.label === 'Function')?.value;
  return caller ?? fn;
}
