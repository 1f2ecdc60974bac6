import { type EscalationRule, evaluateEscalations, type Observation } from '../../domain/escalation.ts';
import type { Escalation, Evidence, Finding, Link, NextStep, Proposal } from '../../domain/finding.ts';
import {
  memoryProposal,
  memoryQuantity,
  memoryRaiseTarget,
  pageProposal,
  type ScaleBounds,
  scaleProposal,
  scaleTarget,
} from '../../domain/proposals.ts';
import { worstFirstHeadline } from '../../domain/report.ts';
import { SEVERITY_LABEL, type Severity, worstSeverity } from '../../domain/severity.ts';
import type { BaselineMetric, BaselineTable } from '../../domain/thresholds.ts';
import { formatBytes, formatDuration, humanDuration } from '../../lib/format.ts';
import { highCpuAdvice, memoryExhaustionAdvice, slowQueriesAdvice } from './advice.ts';
import {
  classifyValue,
  drivingEndpoint,
  type EndpointRow,
  type ErrorEndpoint,
  formatCores,
  formatMs,
  formatPercent,
  formatRate,
  hottestPod,
  type MemoryTrend,
  type Onset,
  type PodRow,
  type Quantiles,
} from './analysis.ts';

/**
 * Turns what the latency step measured into the report: findings (ranked later by finishResult),
 * the headline, fired escalation rules, proposals (scale, page) and next steps. Pure: no I/O.
 */

/** Share of CFS periods throttled at or above which a pod's throttling is a warning (the runbook has no number). */
export const THROTTLING_WARNING_PERCENT = 25;

export interface LatencyReportInput {
  readonly service: {
    readonly name: string;
    readonly namespace: string;
    readonly deployment: string;
    /** The container whose memory limit a raise changes; default the deployment's name. */
    readonly container?: string;
  };
  readonly windowMs: number;
  readonly now: Date;
  readonly baselines: BaselineTable;
  readonly rules: readonly EscalationRule[];
  readonly actions: ScaleBounds & { readonly max_memory: { readonly bytes: number } };
  readonly grafana?: { readonly url: string; readonly dashboard_uid?: string };
  /** PromQL shown in the Grafana explore link. */
  readonly grafanaQueries?: readonly string[];
  /** Undefined when the latency part was unavailable. */
  readonly quantiles?: Quantiles;
  /** Undefined when the endpoints part was unavailable. */
  readonly endpoints?: readonly EndpointRow[];
  /** Undefined when unavailable; `percent` undefined when there was no traffic. */
  readonly errors?: LatencyErrors;
  readonly pods: readonly PodRow[];
  readonly trends?: readonly MemoryTrend[];
  /** Current replicas of the deployment and where that number comes from. */
  readonly replicas?: { readonly current: number; readonly source: string };
  /** Lowest value over a rule's duration, by sustainedKey(metric, forMs); undefined = not covered. */
  readonly sustained: ReadonlyMap<string, number | undefined>;
  readonly unavailable: readonly { readonly part: string; readonly reason: string }[];
}

export interface LatencyErrors {
  readonly percent?: number;
  /** 5xx by endpoint and status code, highest 5xx ratio first; undefined when not measured. */
  readonly byEndpoint?: readonly ErrorEndpoint[];
  /** When the error ratio rose above the Normal bound within the window. */
  readonly onset?: Onset;
}

export interface LatencyReport {
  readonly headline: string;
  readonly findings: readonly Finding[];
  readonly escalations: readonly Escalation[];
  readonly proposals: readonly Proposal[];
  readonly nextSteps: readonly NextStep[];
  readonly links: readonly Link[];
}

export function sustainedKey(metric: BaselineMetric, forMs: number): string {
  return `${metric}@${forMs}`;
}

const isBad = (s: Severity) => s === 'critical' || s === 'warning';

interface PodSummary {
  readonly severity: Severity;
  readonly max?: PodRow;
  readonly value?: number;
  readonly count: number;
  readonly total: number;
}

function summarizePods(pods: readonly PodRow[], which: 'cpu' | 'memory'): PodSummary {
  const value = (p: PodRow) => (which === 'cpu' ? p.cpuPercent : p.memoryPercent);
  const sev = (p: PodRow) => (which === 'cpu' ? p.cpuSeverity : p.memorySeverity);
  const measured = pods.filter((p) => value(p) !== undefined);
  if (measured.length === 0) return { severity: 'info', count: 0, total: 0 };
  const severity = worstSeverity(measured.map(sev));
  const max = [...measured].sort((a, b) => (value(b) ?? 0) - (value(a) ?? 0))[0];
  return {
    severity,
    ...(max ? { max, value: value(max) } : {}),
    count: measured.filter((p) => sev(p) === severity).length,
    total: measured.length,
  };
}

function bound(metric: BaselineMetric, b: BaselineTable): string {
  const row = b[metric];
  const f = (v: number) => (row.unit === 'ms' ? formatMs(v) : formatPercent(v));
  return `normal < ${f(row.normal)}, critical > ${f(row.critical)}`;
}

function cpuCell(p: PodRow): string {
  if (p.cpuCores === undefined) return 'n/a';
  const src = p.cpuSource === 'metrics.k8s.io' ? ' (top)' : '';
  if (p.cpuPercent === undefined) return `${formatCores(p.cpuCores)} (no limit)${src}`;
  return `${formatPercent(p.cpuPercent)} (${formatCores(p.cpuCores)} of ${formatCores(p.cpuLimitCores)})${src}`;
}

function memoryCell(p: PodRow): string {
  if (p.memoryBytes === undefined) return 'n/a';
  const src = p.memorySource === 'metrics.k8s.io' ? ' (top)' : '';
  if (p.memoryPercent === undefined) return `${formatBytes(p.memoryBytes)} (no limit)${src}`;
  return `${formatPercent(p.memoryPercent)} (${formatBytes(p.memoryBytes)} of ${formatBytes(p.memoryLimitBytes)})${src}`;
}

/** One row per pod; the status and kubectl top columns only when the Kubernetes API answered. */
function podsTable(pods: readonly PodRow[], now: Date): Evidence {
  const withStatus = pods.some((p) => p.restarts !== undefined);
  const withTop = pods.some((p) => p.top);
  const status = (p: PodRow) => [
    p.restarts === undefined ? 'n/a' : String(p.restarts),
    p.lastTerminationReason
      ? `${p.lastTerminationReason}${p.lastTerminatedAt ? ` ${humanDuration(now.getTime() - p.lastTerminatedAt.getTime())} ago` : ''}`
      : p.restarts === undefined
        ? 'n/a'
        : '-',
    p.state ?? 'n/a',
  ];
  return {
    type: 'table',
    title: 'Pods (CPU and memory against limits; CPU is the window average, "(top)" marks kubectl top)',
    columns: [
      'Pod',
      'CPU',
      'Memory',
      'Throttled',
      ...(withStatus ? ['Restarts', 'Last termination', 'State'] : []),
      ...(withTop ? ['kubectl top'] : []),
    ],
    rows: pods.map((p) => [
      p.name,
      cpuCell(p),
      memoryCell(p),
      p.throttledPercent === undefined ? 'n/a' : formatPercent(p.throttledPercent),
      ...(withStatus ? status(p) : []),
      ...(withTop
        ? [p.top ? `${formatCores(p.top.cpuCores)}, ${formatBytes(p.top.memoryBytes)}` : 'n/a']
        : []),
    ]),
  };
}

function endpointsTable(endpoints: readonly EndpointRow[], windowMs: number): Evidence {
  return {
    type: 'table',
    title: `Top ${endpoints.length} endpoints by P99 (last ${formatDuration(windowMs)})`,
    columns: ['Endpoint', 'P50', 'P95', 'P99', 'Rate', 'P99 status'],
    rows: endpoints.map((e) => [
      e.path,
      formatMs(e.p50),
      formatMs(e.p95),
      formatMs(e.p99),
      formatRate(e.rate),
      e.p99 === undefined ? 'no traffic' : SEVERITY_LABEL[e.severity],
    ]),
  };
}

function grafanaLinks(input: LatencyReportInput): Link[] {
  const g = input.grafana;
  if (!g) return [];
  const base = g.url.replace(/\/+$/, '');
  const from = `now-${formatDuration(input.windowMs)}`;
  if (g.dashboard_uid) {
    const q = new URLSearchParams({ from, to: 'now', 'var-namespace': input.service.namespace });
    return [{ label: 'Grafana dashboard', url: `${base}/d/${encodeURIComponent(g.dashboard_uid)}?${q}` }];
  }
  const queries = (input.grafanaQueries ?? []).map((expr, i) => ({
    refId: String.fromCharCode(65 + i),
    expr,
  }));
  const panes = { a: { queries, range: { from, to: 'now' } } };
  const q = new URLSearchParams({ schemaVersion: '1', panes: JSON.stringify(panes), orgId: '1' });
  return [{ label: 'Grafana explore', url: `${base}/explore?${q}` }];
}

export function buildLatencyReport(input: LatencyReportInput): LatencyReport {
  const { baselines: b, service, now, windowMs } = input;
  const window = formatDuration(windowMs);
  const names = { namespace: service.namespace, deployment: service.deployment };
  const links = grafanaLinks(input);
  const findings: Finding[] = [];
  const q = input.quantiles;
  const p99Severity = q ? classifyValue(q.p99, b.api_p99_latency_ms) : 'unavailable';
  const p50Severity = q ? classifyValue(q.p50, b.api_p50_latency_ms) : 'unavailable';
  const driver = input.endpoints && q ? drivingEndpoint(input.endpoints, q.p99) : undefined;
  const cpu = summarizePods(input.pods, 'cpu');
  const mem = summarizePods(input.pods, 'memory');
  const errorSeverity: Severity = input.errors
    ? classifyValue(input.errors.percent, b.error_rate_percent)
    : 'unavailable';

  // --- latency
  if (q) {
    if (q.p99 === undefined) {
      findings.push({
        id: 'latency.p99',
        severity: 'info',
        title: 'No requests in the window',
        summary: `No requests were recorded in the last ${window}, so there is no latency to measure.`,
        evidence: [],
        links,
      });
    } else {
      const evidence: Evidence[] = [
        {
          type: 'fields',
          fields: [
            { label: 'P50', value: formatMs(q.p50) },
            { label: 'P95', value: formatMs(q.p95) },
            { label: 'P99', value: formatMs(q.p99) },
            { label: 'Window', value: window },
          ],
        },
      ];
      if (input.endpoints?.length) evidence.push(endpointsTable(input.endpoints, windowMs));
      findings.push({
        id: 'latency.p99',
        severity: p99Severity,
        title: `P99 latency ${formatMs(q.p99)}`,
        summary:
          `P99 ${formatMs(q.p99)} over the last ${window} (${bound('api_p99_latency_ms', b)}); ` +
          `P95 ${formatMs(q.p95)}, P50 ${formatMs(q.p50)}.` +
          (driver && isBad(p99Severity) ? ` Driven by ${driver.path} (P99 ${formatMs(driver.p99)}).` : ''),
        evidence,
        links,
        ...(isBad(p99Severity) ? { advice: slowQueriesAdvice() } : {}),
        impact: 1,
        headline: {
          text: `P99 ${formatMs(q.p99)}`,
          ...(driver && isBad(p99Severity) ? { suffix: `, driven by ${driver.path}` } : {}),
        },
      });
      findings.push({
        id: 'latency.p50',
        severity: p50Severity,
        title: `P50 latency ${formatMs(q.p50)}`,
        summary: `P50 ${formatMs(q.p50)} over the last ${window} (${bound('api_p50_latency_ms', b)}).`,
        evidence: [],
        links: [],
        impact: 1,
        headline: { text: `P50 ${formatMs(q.p50)}` },
      });
    }
  }
  if (input.endpoints) {
    const totalRate = input.endpoints.reduce((n, e) => n + (e.rate ?? 0), 0);
    for (const e of input.endpoints.filter((x) => isBad(x.severity)).slice(0, 3)) {
      findings.push({
        id: `latency.endpoint:${e.path}`,
        severity: e.severity,
        title: `${e.path}: P99 ${formatMs(e.p99)}`,
        summary: `${e.path} answers with P99 ${formatMs(e.p99)}, P95 ${formatMs(e.p95)}, P50 ${formatMs(e.p50)} at ${formatRate(e.rate)} (${bound('api_p99_latency_ms', b)}).`,
        evidence: [],
        links: [],
        advice: slowQueriesAdvice(),
        impact: totalRate > 0 ? (e.rate ?? 0) / totalRate : 0,
        headline: {
          text: `${e.path} P99 ${formatMs(e.p99)}`,
          ...(driver?.path === e.path && isBad(p99Severity) ? { coveredBy: 'latency.p99' } : {}),
        },
      });
    }
  }

  // --- errors
  if (input.errors) findings.push(errorsFinding(input.errors, errorSeverity, input));

  // --- replicas and scale
  const replicas = input.replicas;
  const scaleTo = replicas ? scaleTarget(replicas.current, input.actions) : undefined;

  // --- CPU and memory
  const podsEvidence = input.pods.length ? [podsTable(input.pods, now)] : [];
  if (cpu.total > 0) {
    findings.push({
      id: 'resources.cpu',
      severity: cpu.severity,
      title: `CPU up to ${formatPercent(cpu.value)}${isBad(cpu.severity) ? `: ${cpu.count} of ${cpu.total} pods ${SEVERITY_LABEL[cpu.severity]}` : ''}`,
      summary:
        `Highest CPU use against the limit: ${formatPercent(cpu.value)} on ${cpu.max?.name} (${bound('cpu_percent', b)}); ` +
        `${cpu.count} of ${cpu.total} pods ${SEVERITY_LABEL[cpu.severity]}.` +
        (isBad(cpu.severity) && replicas && scaleTo === undefined
          ? ` The deployment is already at ${replicas.current} replicas, the configured maximum.`
          : ''),
      evidence: podsEvidence,
      links: [],
      ...(isBad(cpu.severity) ? { advice: highCpuAdvice(names, scaleTo) } : {}),
      impact: cpu.count / cpu.total,
      headline: { text: `CPU ${formatPercent(cpu.value)}`, suffix: ` on ${cpu.count} of ${cpu.total} pods` },
    });
  }
  if (mem.total > 0) {
    findings.push({
      id: 'resources.memory',
      severity: mem.severity,
      title: `Memory up to ${formatPercent(mem.value)}${isBad(mem.severity) ? `: ${mem.count} of ${mem.total} pods ${SEVERITY_LABEL[mem.severity]}` : ''}`,
      summary: `Highest memory use against the limit: ${formatPercent(mem.value)} on ${mem.max?.name} (${bound('memory_percent', b)}); ${mem.count} of ${mem.total} pods ${SEVERITY_LABEL[mem.severity]}.`,
      evidence: cpu.total > 0 ? [] : podsEvidence,
      links: [],
      ...(isBad(mem.severity) ? { advice: memoryExhaustionAdvice(names) } : {}),
      impact: mem.count / mem.total,
      headline: {
        text: `memory ${formatPercent(mem.value)}`,
        suffix: ` on ${mem.count} of ${mem.total} pods`,
      },
    });
  }
  if (cpu.total === 0 && mem.total === 0 && podsEvidence.length) {
    findings.push({
      id: 'resources.pods',
      severity: 'info',
      title: `${input.pods.length} pods`,
      summary: 'No CPU or memory figures against limits were available for these pods.',
      evidence: podsEvidence,
      links: [],
    });
  }

  const throttled = input.pods.filter((p) => (p.throttledPercent ?? 0) >= THROTTLING_WARNING_PERCENT);
  if (throttled.length) {
    const worst = [...throttled].sort(
      (a, c) => (c.throttledPercent ?? 0) - (a.throttledPercent ?? 0),
    )[0] as PodRow;
    findings.push({
      id: 'resources.throttling',
      severity: 'warning',
      title: `CPU throttled on ${throttled.length} of ${input.pods.length} pods`,
      summary: `Up to ${formatPercent(worst.throttledPercent)} of CFS periods were throttled (${worst.name}) over the last ${window}: the pods hit their CPU limit (warning from ${THROTTLING_WARNING_PERCENT}% of periods).`,
      evidence: [],
      links: [],
      advice: highCpuAdvice(names, scaleTo),
      impact: throttled.length / input.pods.length,
      headline: { text: `CPU throttled on ${throttled.length} of ${input.pods.length} pods` },
    });
  }

  // --- restarts and OOM kills
  const recentMs = Math.max(windowMs, 3_600_000);
  const isRecent = (p: PodRow) =>
    p.lastTerminatedAt !== undefined && now.getTime() - p.lastTerminatedAt.getTime() <= recentMs;
  const oom = input.pods.filter((p) => p.oomKilled);
  const restarted = input.pods.filter((p) => (p.restarts ?? 0) > 0);
  const oomInWindow = oom.some(
    (p) => p.lastTerminatedAt && now.getTime() - p.lastTerminatedAt.getTime() <= windowMs,
  );
  if (oom.length || restarted.length) {
    const severity: Severity = oomInWindow
      ? 'critical'
      : oom.length || restarted.some(isRecent)
        ? 'warning'
        : 'info';
    const total = restarted.reduce((n, p) => n + (p.restarts ?? 0), 0);
    const recentOom = oom.filter(isRecent).length;
    findings.push({
      id: 'resources.restarts',
      severity,
      title: oom.length
        ? `OOMKilled on ${oom.length} of ${input.pods.length} pods`
        : `${total} restarts on ${restarted.length} of ${input.pods.length} pods`,
      summary:
        `${total} container restarts on ${restarted.length} pods` +
        (oom.length
          ? `; last terminated OOMKilled: ${oom
              .map(
                (p) =>
                  `${p.name}${p.lastTerminatedAt ? ` (${humanDuration(now.getTime() - p.lastTerminatedAt.getTime())} ago)` : ''}`,
              )
              .join(', ')}`
          : '') +
        '.',
      evidence: [],
      links: [],
      ...(oom.length ? { advice: memoryExhaustionAdvice(names) } : {}),
      impact: Math.max(oom.length, restarted.length) / Math.max(1, input.pods.length),
      headline: {
        text: oom.length
          ? `OOMKilled on ${recentOom || oom.length} ${(recentOom || oom.length) === 1 ? 'pod' : 'pods'}`
          : `${total} restarts on ${restarted.length} of ${input.pods.length} pods`,
      },
    });
  }

  // --- memory trend
  const rising = (input.trends ?? []).filter((t) => t.rising);
  if (rising.length) {
    const worst = [...rising].sort((a, c) => c.slopeBytesPerHour - a.slopeBytesPerHour)[0] as MemoryTrend;
    findings.push({
      id: 'resources.memory-trend',
      severity: 'warning',
      title: `Memory rising on ${rising.length} of ${input.trends?.length ?? 0} pods`,
      summary:
        `Gradual memory increase over the last ${window}: ${worst.pod} went from ${formatBytes(worst.startBytes)} to ${formatBytes(worst.endBytes)}` +
        (worst.increasePercentOfLimit !== undefined
          ? ` (+${formatPercent(worst.increasePercentOfLimit)} of its limit)`
          : '') +
        (worst.reachesLimitAt
          ? `; at this rate it reaches the limit in ${humanDuration(worst.reachesLimitAt.getTime() - now.getTime())}`
          : '') +
        '.',
      evidence: [
        {
          type: 'table',
          title: 'Memory trend (least-squares line over the window)',
          columns: ['Pod', 'Start', 'End', 'Slope', 'Fit (r²)'],
          rows: rising.map((t) => [
            t.pod,
            formatBytes(t.startBytes),
            formatBytes(t.endBytes),
            `${formatBytes(t.slopeBytesPerHour)}/h`,
            t.r2.toFixed(2),
          ]),
        },
      ],
      links: [],
      advice: memoryExhaustionAdvice(names),
      impact: rising.length / Math.max(1, input.trends?.length ?? 0),
      headline: { text: `memory rising on ${rising.length} of ${input.trends?.length ?? 0} pods` },
    });
  }

  // --- parts that could not answer
  for (const u of input.unavailable) {
    findings.push({
      id: `unavailable.${u.part.replace(/\s+/g, '-')}`,
      severity: 'unavailable',
      title: `${u.part} unavailable`,
      summary: u.reason,
      evidence: [],
      links: [],
    });
  }

  // --- escalation rules
  const observations: Partial<Record<BaselineMetric, Observation>> = {};
  const sustained = (metric: BaselineMetric) => (forMs: number) =>
    input.sustained.get(sustainedKey(metric, forMs));
  if (q?.p99 !== undefined) {
    observations.api_p99_latency_ms = {
      value: q.p99,
      display: `P99 ${formatMs(q.p99)}`,
      sustained: sustained('api_p99_latency_ms'),
    };
  }
  if (q?.p50 !== undefined) {
    observations.api_p50_latency_ms = {
      value: q.p50,
      display: `P50 ${formatMs(q.p50)}`,
      sustained: sustained('api_p50_latency_ms'),
    };
  }
  if (input.errors?.percent !== undefined) {
    observations.error_rate_percent = {
      value: input.errors.percent,
      display: `error rate ${formatPercent(input.errors.percent)}`,
      sustained: sustained('error_rate_percent'),
    };
  }
  if (cpu.value !== undefined) {
    observations.cpu_percent = {
      value: cpu.value,
      display: `CPU ${formatPercent(cpu.value)} on ${cpu.max?.name}`,
      sustained: sustained('cpu_percent'),
    };
  }
  if (mem.value !== undefined) {
    observations.memory_percent = {
      value: mem.value,
      display: `memory ${formatPercent(mem.value)} on ${mem.max?.name}`,
      sustained: sustained('memory_percent'),
    };
  }
  const escalations = evaluateEscalations(input.rules, observations);

  // --- headline
  const headline = buildHeadline(findings, {
    window,
    quantiles: q,
    p99Severity,
    errors: input.errors,
    cpu,
    mem,
    unavailable: input.unavailable,
  });

  // --- proposals
  const proposals: Proposal[] = [];
  const resourceEscalation = escalations.some((e) => {
    const rule = input.rules.find((r) => r.id === e.ruleId);
    return rule?.metric === 'cpu_percent' || rule?.metric === 'memory_percent';
  });
  if (
    (resourceEscalation || cpu.severity === 'critical' || mem.severity === 'critical') &&
    replicas &&
    scaleTo
  ) {
    const why = escalations
      .filter((e) =>
        ['cpu_percent', 'memory_percent'].includes(input.rules.find((r) => r.id === e.ruleId)?.metric ?? ''),
      )
      .map((e) => e.prompt);
    proposals.push(
      scaleProposal(
        service,
        replicas.current,
        scaleTo,
        why.length
          ? why.join('; ')
          : [
              cpu.severity === 'critical' ? 'CPU CRITICAL' : '',
              mem.severity === 'critical' ? 'memory CRITICAL' : '',
            ]
              .filter(Boolean)
              .join(', '),
      ),
    );
  }
  // the runbook's Memory Exhaustion quick fix: raise the limit (temporary), when pods run out of it
  const memoryEscalation = escalations.some(
    (e) => input.rules.find((r) => r.id === e.ruleId)?.metric === 'memory_percent',
  );
  const limit = Math.max(0, ...input.pods.map((p) => p.memoryLimitBytes ?? 0));
  const raiseTo = limit > 0 ? memoryRaiseTarget(limit, input.actions.max_memory.bytes) : undefined;
  if ((oom.length > 0 || mem.severity === 'critical' || memoryEscalation) && raiseTo) {
    proposals.push(
      memoryProposal(
        service,
        service.container ?? service.deployment,
        memoryQuantity(limit),
        memoryQuantity(raiseTo),
        oom.length
          ? `OOMKilled on ${oom.length} of ${input.pods.length} pods (runbook: Memory Exhaustion, temporary)`
          : `memory up to ${formatPercent(mem.value)} of the limit (runbook: Memory Exhaustion, temporary)`,
        { fromBytes: limit, toBytes: raiseTo },
      ),
    );
  }
  const pages = escalations.filter(
    (e) => e.action === 'page' || e.action === 'scale_and_page' || e.action === 'page_immediately',
  );
  if (pages.length) {
    const immediately = pages.some((e) => e.action === 'page_immediately');
    proposals.push(
      pageProposal(service, {
        label: immediately ? 'Page on-call now' : 'Page on-call',
        severity: immediately || worstOf(findings) === 'critical' ? 'critical' : 'error',
        summary: `${service.name}: ${headline}`,
        rules: pages.map((e) => e.ruleId).join(','),
        reason: pages.map((e) => `${e.prompt} (${e.observed})`).join('; '),
      }),
    );
  }

  // --- next steps
  const hotCpu = hottestPod(input.pods, 'cpu')?.name;
  const hotMem = hottestPod(input.pods, 'memory')?.name;
  const steps: { step: NextStep; weight: number }[] = [
    {
      step: {
        label: `CPU profile${hotCpu ? ` of ${hotCpu}` : ''} (30 s)`,
        step: 'cpu',
        args: hotCpu ? ['30', hotCpu] : ['30'],
      },
      weight: rank(cpu.severity) + (throttled.length ? 0.5 : 0),
    },
    {
      step: {
        label: `Heap profile${hotMem ? ` of ${hotMem}` : ''}`,
        step: 'heap',
        args: hotMem ? [hotMem] : [],
      },
      weight: Math.max(
        rank(mem.severity),
        oomInWindow ? rank('critical') : rising.length || oom.length ? rank('warning') : 0,
      ),
    },
    { step: { label: 'Database analysis', step: 'db', args: [] }, weight: rank(p99Severity) - 0.25 },
    {
      step: {
        label: `Goroutines${hotCpu ? ` of ${hotCpu}` : ''}`,
        step: 'goroutines',
        args: hotCpu ? [hotCpu] : [],
      },
      weight: rank(p99Severity) - 0.5,
    },
  ];
  const nextSteps = steps
    .map((s, i) => ({ ...s, i }))
    .sort((a, c) => c.weight - a.weight || a.i - c.i)
    .map((s) => s.step);

  return { headline, findings, escalations, proposals, nextSteps, links };
}

function rank(s: Severity): number {
  return s === 'critical' ? 3 : s === 'warning' ? 2 : 1;
}

function worstOf(findings: readonly Finding[]): Severity {
  return worstSeverity(findings.map((f) => f.severity));
}

interface HeadlineInput {
  readonly window: string;
  readonly quantiles?: Quantiles;
  readonly p99Severity: Severity;
  readonly errors?: { readonly percent?: number };
  readonly cpu: PodSummary;
  readonly mem: PodSummary;
  readonly unavailable: readonly { readonly part: string; readonly reason: string }[];
}

/**
 * The one line an SRE needs, worst first (domain/report.ts worstFirstHeadline): every critical or
 * warning finding's phrase, most severe first and, within a severity, the one touching the most
 * traffic first; then the overall P99 when it is normal, or why there is none; "within the
 * runbook's baselines" when nothing is outside its Normal band. At most three findings are named.
 * e.g. "/api/export P99 5.0 s CRITICAL; P99 215 ms WARNING, driven by /api/export".
 */
export function buildHeadline(findings: readonly Finding[], h: HeadlineInput): string {
  const q = h.quantiles;
  let lead: string;
  if (!q) {
    const why = h.unavailable.find((u) => u.part === 'latency' || u.part === 'prometheus')?.reason;
    lead = `Latency unavailable${why ? ` (${why})` : ''}`;
  } else if (q.p99 === undefined) {
    lead = `No requests in the last ${h.window}`;
  } else {
    lead = `P99 ${formatMs(q.p99)} ${SEVERITY_LABEL[h.p99Severity]}`;
  }
  const judged = worstFirstHeadline(findings, []);
  if (!judged && q?.p99 !== undefined) {
    const extras = [
      h.errors?.percent !== undefined ? `errors ${formatPercent(h.errors.percent)}` : '',
      h.cpu.value !== undefined ? `CPU max ${formatPercent(h.cpu.value)}` : '',
      h.mem.value !== undefined ? `memory max ${formatPercent(h.mem.value)}` : '',
    ].filter(Boolean);
    return `${lead}${extras.length ? `; ${extras.join(', ')}` : ''}: within the runbook's baselines`;
  }
  return worstFirstHeadline(findings, isBad(h.p99Severity) ? [] : [lead], { max: HEADLINE_PHRASES });
}

/** At most this many findings are named in the headline; the report lists them all. */
const HEADLINE_PHRASES = 3;

const hhmm = (d: Date) => `${d.toISOString().slice(11, 16)} UTC`;

/** The error-rate finding: the ratio, the endpoints with the highest 5xx ratio and when it rose. */
function errorsFinding(errors: LatencyErrors, severity: Severity, input: LatencyReportInput): Finding {
  const { baselines: b, now } = input;
  const window = formatDuration(input.windowMs);
  const pct = errors.percent;
  if (pct === undefined) {
    return {
      id: 'errors.rate',
      severity,
      title: 'Error rate: no requests',
      summary: `No requests in the last ${window}: no error rate.`,
      evidence: [],
      links: [],
    };
  }
  const top = (errors.byEndpoint ?? []).slice(0, 3);
  const named = (e: ErrorEndpoint) =>
    `${e.path}${e.ratioPercent !== undefined ? ` ${formatPercent(e.ratioPercent)} 5xx` : ''} (${formatPercent(e.sharePercent)} of all 5xx: ${e.statuses.map((s) => s.status).join(', ')})`;
  const onset = errors.onset;
  const boundText = formatPercent(b.error_rate_percent.normal);
  const onsetText = !onset
    ? ''
    : onset.beforeWindow
      ? ` Above ${boundText} since before the window began${onset.ongoing ? '' : `, until ${hhmm(onset.until as Date)}`}.`
      : ` Rose above ${boundText} at ${hhmm(onset.at)} (${humanDuration(now.getTime() - onset.at.getTime())} ago)${onset.ongoing ? ' and stays above' : `, back under it since ${hhmm(onset.until as Date)}`}.`;
  const lead = top[0];
  const evidence: Evidence[] = top.length
    ? [
        {
          type: 'table',
          title: `5xx by endpoint (last ${window}), highest 5xx ratio first`,
          columns: ['Endpoint', '5xx ratio', 'Share of all 5xx', '5xx rate', 'Status codes'],
          rows: (errors.byEndpoint ?? [])
            .slice(0, 10)
            .map((e) => [
              e.path,
              formatPercent(e.ratioPercent),
              formatPercent(e.sharePercent),
              formatRate(e.errorsPerSecond),
              e.statuses.map((s) => `${s.status} ${formatRate(s.perSecond)}`).join(', '),
            ]),
        },
      ]
    : [];
  return {
    id: 'errors.rate',
    severity,
    title: `Error rate ${formatPercent(pct)}${lead && isBad(severity) ? `, mostly ${lead.path}` : ''}`,
    summary:
      `5xx responses are ${formatPercent(pct)} of all requests over the last ${window} (${bound('error_rate_percent', b)}).` +
      (top.length ? ` Highest 5xx ratio: ${top.map(named).join('; ')}.` : '') +
      onsetText,
    evidence,
    links: [],
    impact: pct / 100,
    headline: {
      text: `errors ${formatPercent(pct)}`,
      ...(lead
        ? {
            suffix: ` from ${top
              .slice(0, 2)
              .map((e) => `${e.path} (${formatPercent(e.sharePercent)} of 5xx)`)
              .join(', ')}`,
          }
        : {}),
    },
  };
}
