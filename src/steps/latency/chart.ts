import type { BaselineTable } from '../../domain/thresholds.ts';
import { heatmap, lineChart, type Marker, PALETTE, type Point } from '../../lib/charts/svg.ts';
import { formatDuration } from '../../lib/format.ts';
import { formatMs, formatPercent, formatRate } from './analysis.ts';

/**
 * The latency step's pictures, as SVG (pure): P50/P95/P99 over the window with the runbook's P99
 * bounds, the runbook's latency heatmap (P50/P95/P99 by endpoint over time), and request and
 * error rate. Input values are in Prometheus' units (seconds, ratios, requests per second).
 */

export interface Window {
  readonly start: number;
  readonly end: number;
  readonly stepS: number;
}

const toMs = (pts: readonly Point[]) => pts.map((p) => ({ time: p.time, value: p.value * 1000 }));

export function latencyChartSvg(
  input: { readonly p50: readonly Point[]; readonly p95: readonly Point[]; readonly p99: readonly Point[] },
  w: Window,
  baselines: BaselineTable,
  service: string,
  /** What changed in the window (rollouts, scaling, restarts, settings), as vertical markers. */
  markers: readonly Marker[] = [],
): string {
  const b = baselines.api_p99_latency_ms;
  return lineChart({
    title: `${service}: latency P50 / P95 / P99`,
    subtitle: `last ${formatDuration((w.end - w.start) * 1000)}, UTC; dashed lines: the runbook's P99 bounds`,
    start: w.start,
    end: w.end,
    panels: [
      {
        title: 'Request latency',
        series: [
          { name: 'P50', color: '#2f9e44', points: toMs(input.p50) },
          { name: 'P95', color: '#f08c00', points: toMs(input.p95) },
          { name: 'P99', color: '#c92a2a', points: toMs(input.p99), width: 2.5 },
        ],
        thresholds: [
          { label: `P99 normal < ${formatMs(b.normal)}`, value: b.normal, color: '#2f9e44' },
          { label: `P99 critical > ${formatMs(b.critical)}`, value: b.critical, color: '#c92a2a' },
        ],
        format: (v) => formatMs(v),
        scale: 'auto',
      },
    ],
    markers,
    panelHeight: 300,
  });
}

/** Colour bands at the runbook's latency bounds (P50 normal 50 ms, P99 normal 200 ms, P50 critical 500 ms, P99 critical 2 s). */
export const HEATMAP_BANDS: readonly {
  readonly upToMs: number;
  readonly color: string;
  readonly label: string;
}[] = [
  { upToMs: 50, color: '#c3e6cb', label: '< 50 ms' },
  { upToMs: 200, color: '#69db7c', label: '50-200 ms' },
  { upToMs: 500, color: '#ffd43b', label: '200-500 ms' },
  { upToMs: 2000, color: '#ff922b', label: '0.5-2 s' },
  { upToMs: Number.POSITIVE_INFINITY, color: '#e03131', label: '> 2 s' },
];

export function heatmapColor(ms: number): string {
  return (
    HEATMAP_BANDS.find((band) => ms < band.upToMs) ??
    (HEATMAP_BANDS[HEATMAP_BANDS.length - 1] as { color: string })
  ).color;
}

export interface PathSeries {
  readonly path: string;
  readonly points: readonly Point[];
}

/** Rows: for each endpoint (highest P99 first, at most maxPaths), its P99, P95 and P50 over time. */
export function latencyHeatmapSvg(
  input: {
    readonly p50: readonly PathSeries[];
    readonly p95: readonly PathSeries[];
    readonly p99: readonly PathSeries[];
  },
  w: Window,
  service: string,
  maxPaths = 8,
): string {
  const times: number[] = [];
  for (let t = w.start; t <= w.end + 1e-9; t += w.stepS) times.push(t);
  const cells = (pts: readonly Point[] | undefined) =>
    times.map((t) => {
      const p = pts?.find((x) => Math.abs(x.time - t) < w.stepS / 2);
      return p && Number.isFinite(p.value) ? p.value * 1000 : undefined;
    });
  const peak = (pts: readonly Point[]) =>
    Math.max(-1, ...pts.map((p) => p.value).filter((v) => Number.isFinite(v)));
  const paths = [...input.p99].sort((a, b) => peak(b.points) - peak(a.points)).slice(0, maxPaths);
  const rows = paths.flatMap((s) => [
    { label: `${s.path} P99`, cells: cells(s.points) },
    { label: `${s.path} P95`, cells: cells(input.p95.find((x) => x.path === s.path)?.points) },
    { label: `${s.path} P50`, cells: cells(input.p50.find((x) => x.path === s.path)?.points) },
  ]);
  return heatmap({
    title: `${service}: latency heatmap by endpoint`,
    subtitle: `histogram_quantile(0.5 / 0.95 / 0.99) by path, last ${formatDuration((w.end - w.start) * 1000)}, UTC`,
    times,
    stepS: w.stepS,
    rows,
    color: heatmapColor,
    legend: HEATMAP_BANDS.map((band) => ({ label: band.label, color: band.color })),
  });
}

export function trafficChartSvg(
  input: { readonly rateByPath: readonly PathSeries[]; readonly errorRatio: readonly Point[] },
  w: Window,
  baselines: BaselineTable,
  service: string,
  maxPaths = 6,
): string {
  const b = baselines.error_rate_percent;
  const total = (pts: readonly Point[]) =>
    pts.reduce((s, p) => s + (Number.isFinite(p.value) ? p.value : 0), 0);
  const paths = [...input.rateByPath].sort((x, y) => total(y.points) - total(x.points)).slice(0, maxPaths);
  return lineChart({
    title: `${service}: request and error rate`,
    subtitle: `last ${formatDuration((w.end - w.start) * 1000)}, UTC; error rate = 5xx / all requests`,
    start: w.start,
    end: w.end,
    panels: [
      {
        title: 'Requests per second by endpoint',
        series: paths.map((s, i) => ({
          name: s.path,
          color: PALETTE[i % PALETTE.length] as string,
          points: s.points,
        })),
        format: (v) => formatRate(v),
        scale: 'linear',
        fromZero: true,
      },
      {
        title: 'Error rate (5xx)',
        series: [
          {
            name: 'errors',
            color: '#c92a2a',
            points: input.errorRatio.map((p) => ({ time: p.time, value: p.value * 100 })),
          },
        ],
        thresholds: [
          { label: `normal < ${formatPercent(b.normal)}`, value: b.normal, color: '#2f9e44' },
          { label: `critical > ${formatPercent(b.critical)}`, value: b.critical, color: '#c92a2a' },
        ],
        format: (v) => formatPercent(v),
        scale: 'linear',
        fromZero: true,
      },
    ],
    panelHeight: 220,
  });
}

/**
 * The 5xx ratio of each endpoint over time (the endpoints with the most 5xx first, at most
 * maxPaths), with the runbook's error-rate bounds and the onset marked.
 */
export function errorRateByEndpointSvg(
  input: { readonly ratioByPath: readonly PathSeries[] },
  w: Window,
  baselines: BaselineTable,
  service: string,
  markers: readonly Marker[] = [],
  maxPaths = 6,
): string {
  const b = baselines.error_rate_percent;
  const total = (pts: readonly Point[]) =>
    pts.reduce((s, p) => s + (Number.isFinite(p.value) ? p.value : 0), 0);
  const paths = [...input.ratioByPath]
    .filter((s) => total(s.points) > 0)
    .sort((x, y) => total(y.points) - total(x.points) || x.path.localeCompare(y.path))
    .slice(0, maxPaths);
  return lineChart({
    title: `${service}: error rate by endpoint`,
    subtitle: `last ${formatDuration((w.end - w.start) * 1000)}, UTC; 5xx / requests of each endpoint`,
    start: w.start,
    end: w.end,
    panels: [
      {
        title: 'Error rate (5xx) by endpoint',
        series: paths.map((s, i) => ({
          name: s.path,
          color: PALETTE[i % PALETTE.length] as string,
          points: s.points.map((p) => ({ time: p.time, value: p.value * 100 })),
        })),
        thresholds: [
          { label: `normal < ${formatPercent(b.normal)}`, value: b.normal, color: '#2f9e44' },
          { label: `critical > ${formatPercent(b.critical)}`, value: b.critical, color: '#c92a2a' },
        ],
        format: (v) => formatPercent(v),
        scale: 'linear',
        fromZero: true,
      },
    ],
    markers,
    panelHeight: 260,
  });
}
