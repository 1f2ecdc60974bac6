import { isAppError } from '../../domain/errors.ts';
import type { Finding } from '../../domain/finding.ts';
import { buildFlameTree, renderFlameGraphSvg } from '../../lib/charts/flamegraph.ts';
import { decodeProfile, type Profile } from '../../lib/pprof/decode.ts';
import { listFunctions } from '../../lib/pprof/list.ts';
import { isAppFunction } from '../../lib/pprof/names.ts';
import { quotePattern } from '../../lib/pprof/pattern.ts';
import { analyzeProfile, type ProfileAnalysis, type TopReport, topReport } from '../../lib/pprof/top.ts';
import { label } from '../../lib/pprof/units.ts';
import type { ProfileTarget } from '../../sources/pprof.ts';
import { type ComparisonBase, compareWithBaseBytes } from './compare.ts';
import {
  type CpuDetectorOptions,
  detectCpuIssues,
  detectHeapIssues,
  type HeapDetectorOptions,
} from './detectors.ts';
import { findHotPaths, hotPathFindings } from './hot-paths.ts';
import { listEvidence, topTable } from './report.ts';

/**
 * The CPU and heap steps' analysis of one captured profile, from the gzipped bytes to the report's
 * findings, headline and flame graph SVG. Everything in and out is plain data (structured-cloneable)
 * so that it runs the same inline or in a worker thread (analysis-worker.ts): a profile of a million
 * samples takes seconds of CPU, which must not hold up the event loop that acknowledges commands.
 */

/** What the report says about the capture; the same for both steps. */
export interface CaptureFacts {
  readonly service: string;
  readonly target: ProfileTarget;
  /** When the capture started, ISO 8601. */
  readonly startedAt: string;
  readonly joined: boolean;
  readonly startedBy?: string;
  /** File names' stem, e.g. "cpu-aegis-api-7d9f-20260301T101112Z". */
  readonly base: string;
}

export interface ProfileAnalysisInput {
  readonly bytes: Uint8Array;
  /** What the profile is called in a decode error, e.g. "CPU profile of aegis-api-7d9f". */
  readonly name: string;
  readonly maxDecompressedBytes: number;
  readonly capture: CaptureFacts;
  readonly list?: string;
  readonly topN?: number;
  /** services[].pprof.app_packages: what counts as the service's own code for its hot paths. */
  readonly appPackages?: readonly string[];
  /** The previous capture to compare with (compare.ts), decoded here too: both stay off the loop. */
  readonly base?: ComparisonBase;
}

export interface CpuAnalysisInput extends ProfileAnalysisInput {
  readonly seconds: number;
  readonly detectors?: CpuDetectorOptions;
}

export interface HeapAnalysisInput extends ProfileAnalysisInput {
  readonly detectors?: HeapDetectorOptions;
}

/** The flame graph to rasterize, or why there is none. */
export type FlameGraphSvg =
  | { readonly svg: string; readonly filename: string; readonly title: string }
  | { readonly error: string };

export interface ProfileAnalysisOutput {
  readonly findings: Finding[];
  readonly headline: string;
  /** Absent when the profile has no samples to draw. */
  readonly flame?: FlameGraphSvg;
  /** Why the base given could not be compared with (it is not a profile, or not the same kind). */
  readonly comparisonError?: string;
}

async function comparison(
  profile: Profile,
  input: ProfileAnalysisInput,
  kind: 'cpu' | 'heap',
): Promise<{ finding?: Finding; error?: string }> {
  if (!input.base) return {};
  const r = await compareWithBaseBytes(profile, input.base, kind, input.maxDecompressedBytes);
  return 'error' in r ? { error: r.error } : { finding: r.finding };
}

/** pprof's `list`: a finding with the per-line breakdown of the functions matching `pattern`. */
export function listFinding(
  profile: Profile,
  pattern: string,
  sampleIndex: string,
  id: string,
  exact: boolean,
): Finding {
  try {
    const list = listFunctions(profile, exact ? `^${quotePattern(pattern)}$` : pattern, { sampleIndex });
    const fns = list.functions.map((f) => f.name);
    return {
      id,
      severity: 'info',
      title: `Line breakdown: ${fns.slice(0, 3).join(', ') || pattern}`,
      summary:
        list.functions.length > 0
          ? `Where ${fns[0]} spends its ${list.sampleType}, line by line (pprof's list).`
          : `${list.withoutSource.join(', ')} has no line information in this profile.`,
      evidence: listEvidence(list),
      links: [],
    };
  } catch (e) {
    if (!isAppError(e)) throw e;
    return { id, severity: 'info', title: `list ${pattern}`, summary: e.message, evidence: [], links: [] };
  }
}

/** The function a line breakdown is most useful for: the finding's caller, else the top app function. */
export function focusFunction(report: TopReport, preferred?: string): string | undefined {
  if (preferred) return preferred;
  return report.rows.find((r) => isAppFunction(r.name))?.name ?? report.rows[0]?.name;
}

/** How a profile's CPU time compares with its wall time: "2.3 cores busy". */
function utilization(profile: Profile, total: number): string {
  if (!profile.durationNanos) return '';
  const cores = total / profile.durationNanos;
  return `, ${cores.toFixed(cores < 1 ? 2 : 1)} cores busy on average`;
}

function primaryCaller(f: Finding): string | undefined {
  const fields = f.evidence.find((e) => e.type === 'fields');
  if (fields?.type !== 'fields') return undefined;
  const caller = fields.fields.find((x) => x.label === 'Caller')?.value.replace(/ \(.*\)$/, '');
  const fn = fields.fields.find((x) => x.label === 'Function')?.value;
  return caller ?? fn;
}

function flameGraph(
  analysis: ProfileAnalysis,
  report: TopReport,
  capture: CaptureFacts,
  title: string,
  subtitle: string,
): FlameGraphSvg {
  try {
    const tree = buildFlameTree(analysis.graph, report.sampleIndex);
    const unit = report.sampleType.unit;
    const svg = renderFlameGraphSvg(tree, { title, subtitle, formatValue: (v) => label(v, unit) });
    return { svg, filename: `${capture.base}-flamegraph.png`, title };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function decode(input: ProfileAnalysisInput): Promise<Profile> {
  return decodeProfile(input.bytes, { name: input.name, maxDecompressedBytes: input.maxDecompressedBytes });
}

/** Runbook Step 2's analysis: top by flat and cum, the known CPU issues, the line breakdown. */
export async function analyzeCpuProfile(input: CpuAnalysisInput): Promise<ProfileAnalysisOutput> {
  const profile = await decode(input);
  const { capture, seconds } = input;
  const { target } = capture;
  const analysis = analyzeProfile(profile);
  const topN = input.topN ?? 10;
  const byFlat = topReport(analysis, { nodeCount: topN });
  const byCum = topReport(analysis, { nodeCount: topN, sortBy: 'cum' });
  const detected = detectCpuIssues(analysis, input.detectors);
  const hot = hotPathFindings(
    'cpu',
    findHotPaths(analysis, input.appPackages ? { appPackages: input.appPackages } : {}),
    detected.findings,
  );

  const joinedNote = capture.joined
    ? ` This report joined a capture already running (started ${capture.startedAt}${capture.startedBy ? ` by <@${capture.startedBy}>` : ''}).`
    : '';
  const chosen = target.chosen === 'busiest' ? ' (the busiest pod by CPU)' : '';
  const findings: Finding[] = [...detected.findings, ...hot.findings.slice(1)];
  findings.push(hot.findings[0] as Finding);
  findings.push({
    id: 'cpu.top',
    severity: 'info',
    title: `Top functions by CPU: ${seconds} s profile of ${target.label}`,
    summary: `${byFlat.format(byFlat.total)} of CPU samples in ${seconds} s on ${target.label}${chosen}${utilization(profile, byFlat.total)}.${joinedNote} Open the attached profile with go tool pprof ${capture.base}.pb.gz.`,
    evidence: [
      topTable(byFlat, `Top ${byFlat.rows.length} by flat (go tool pprof -top)`),
      topTable(byCum, `Top ${byCum.rows.length} by cum (go tool pprof -top -cum)`),
    ],
    links: [],
  });
  const compared = await comparison(profile, input, 'cpu');
  if (compared.finding) findings.push(compared.finding);
  const primary = detected.findings[0];
  const focus = input.list ? undefined : focusFunction(byFlat, primary ? primaryCaller(primary) : undefined);
  if (input.list) findings.push(listFinding(profile, input.list, '', 'cpu.list', false));
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

  let flame: FlameGraphSvg | undefined;
  if (byFlat.total > 0) {
    const full = topReport(analysis, {});
    flame = flameGraph(
      analysis,
      full,
      capture,
      `CPU flame graph: ${target.label}, ${seconds} s`,
      `${capture.service} · ${label(full.total, full.sampleType.unit)} of CPU samples · ${capture.startedAt}`,
    );
  }
  const top = byFlat.rows[0];
  const headline =
    detected.headline ??
    hot.headline ??
    (top
      ? `CPU: top function ${top.name} at ${top.flatPercent.trim()} flat of ${byFlat.format(byFlat.total)} in ${seconds} s, no known issue`
      : `CPU: no samples in ${seconds} s on ${target.label}`);
  return {
    findings,
    headline,
    ...(flame ? { flame } : {}),
    ...(compared.error !== undefined ? { comparisonError: compared.error } : {}),
  };
}

/** Runbook Step 3's analysis: memory in use and allocated, the known memory issues, the line breakdown. */
export async function analyzeHeapProfile(input: HeapAnalysisInput): Promise<ProfileAnalysisOutput> {
  const profile = await decode(input);
  const { capture } = input;
  const { target } = capture;
  const analysis = analyzeProfile(profile);
  const topN = input.topN ?? 10;
  const hasAlloc = profile.sampleTypes.some((t) => t.type === 'alloc_space');
  const hasInuse = profile.sampleTypes.some((t) => t.type === 'inuse_space');
  const inuse = topReport(analysis, { nodeCount: topN, ...(hasInuse ? { sampleIndex: 'inuse_space' } : {}) });
  const alloc = hasAlloc ? topReport(analysis, { nodeCount: topN, sampleIndex: 'alloc_space' }) : undefined;
  const detected = detectHeapIssues(analysis, input.detectors);
  const hot = hotPathFindings(
    'heap',
    findHotPaths(analysis, {
      ...(hasAlloc ? { sampleIndex: 'alloc_space' } : {}),
      ...(input.appPackages ? { appPackages: input.appPackages } : {}),
    }),
    detected.findings,
  );

  const chosen = target.chosen === 'busiest' ? ' (the busiest pod by CPU)' : '';
  const findings: Finding[] = [...detected.findings, ...hot.findings.slice(1)];
  findings.push(hot.findings[0] as Finding);
  findings.push({
    id: 'heap.top',
    severity: 'info',
    title: `Top functions by memory: heap profile of ${target.label}`,
    summary: `${inuse.format(inuse.total)} in use${alloc ? `, ${alloc.format(alloc.total)} allocated since the process started` : ''} on ${target.label}${chosen} (sampled: Go records about one allocation per 512 kB). Open the attached profile with go tool pprof ${capture.base}.pb.gz.`,
    evidence: [
      topTable(inuse, `Top ${inuse.rows.length} by memory in use (inuse_space)`),
      ...(alloc ? [topTable(alloc, `Top ${alloc.rows.length} by bytes allocated (alloc_space)`)] : []),
    ],
    links: [],
  });
  const compared = await comparison(profile, input, 'heap');
  if (compared.finding) findings.push(compared.finding);
  const sampleIndex = hasInuse ? 'inuse_space' : '';
  if (input.list) findings.push(listFinding(profile, input.list, sampleIndex, 'heap.list', false));
  else {
    const focus = focusFunction(inuse);
    if (focus) findings.push(listFinding(profile, focus, sampleIndex, 'heap.list', true));
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

  let flame: FlameGraphSvg | undefined;
  if (inuse.total > 0) {
    const full = topReport(analysis, { ...(hasInuse ? { sampleIndex: 'inuse_space' } : {}) });
    flame = flameGraph(
      analysis,
      full,
      capture,
      `Heap in use (inuse_space): ${target.label}`,
      `${capture.service} · ${label(full.total, full.sampleType.unit)} in use · ${capture.startedAt}`,
    );
  }
  const top = inuse.rows[0];
  const headline =
    detected.headline ??
    hot.headline ??
    (top
      ? `Heap: ${inuse.format(inuse.total)} in use, most under ${top.name} (${top.flatPercent.trim()} flat), no known issue`
      : `Heap: no samples on ${target.label}`);
  return {
    findings,
    headline,
    ...(flame ? { flame } : {}),
    ...(compared.error !== undefined ? { comparisonError: compared.error } : {}),
  };
}
