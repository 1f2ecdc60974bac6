/**
 * Charts as SVG strings, built purely from numbers (no DOM, no browser): line panels with threshold
 * lines, stacked into one picture, and a heatmap. chart-png.ts rasterizes them for Slack.
 * Text is plain <text> elements (x, y, font-size, font-weight, fill, text-anchor) in FONT_FAMILY;
 * chart-png.ts outlines them with that font before rasterizing.
 */

export const FONT_FAMILY = 'DejaVu Sans';

export interface Point {
  /** Seconds since the epoch. */
  readonly time: number;
  readonly value: number;
}

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
  readonly width?: number;
}

export interface Threshold {
  readonly label: string;
  readonly value: number;
  readonly color: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly series: readonly LineSeries[];
  readonly thresholds?: readonly Threshold[];
  /** Formats a y value for the axis and labels. */
  readonly format: (v: number) => string;
  /** "auto": logarithmic when the values span more than two decades. */
  readonly scale?: 'linear' | 'log' | 'auto';
  /** Always show y = 0 on a linear scale (rates). */
  readonly fromZero?: boolean;
}

/** A moment marked on every panel: a vertical dotted line with a short label at its top. */
export interface Marker {
  /** Seconds since the epoch. */
  readonly time: number;
  readonly label: string;
  readonly color?: string;
}

export interface ChartSpec {
  readonly title: string;
  readonly subtitle?: string;
  /** Seconds since the epoch. */
  readonly start: number;
  readonly end: number;
  readonly panels: readonly PanelSpec[];
  /** Events in the window (a rollout, a restart); markers outside [start, end] are left out. */
  readonly markers?: readonly Marker[];
  readonly width?: number;
  readonly panelHeight?: number;
}

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${num(x)}" y="${num(y)}" font-family="${FONT_FAMILY}" ${attrs}>${escapeXml(content)}</text>`;
}

/** Round tick values for a linear axis: steps of 1, 2 or 5 times a power of ten. */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(Number(v.toPrecision(12)));
    }
  }
  return ticks.length >= 2 ? ticks : [min, max];
}

/** Time ticks at round intervals, labelled HH:MM(:SS) UTC. */
export function timeTicks(start: number, end: number, count = 6): { time: number; label: string }[] {
  const span = Math.max(end - start, 1);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = steps.find((s) => span / s <= count) ?? 86400;
  const out: { time: number; label: string }[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) {
    const iso = new Date(t * 1000).toISOString();
    out.push({ time: t, label: step < 60 ? iso.slice(11, 19) : iso.slice(11, 16) });
  }
  return out;
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

function panel(
  spec: PanelSpec,
  box: Box,
  start: number,
  end: number,
  markers: readonly Marker[] = [],
): string {
  const values = spec.series.flatMap((s) => s.points.map((p) => p.value)).filter((v) => Number.isFinite(v));
  const tvalues = (spec.thresholds ?? []).map((t) => t.value);
  const all = [...values, ...tvalues];
  const positive = all.filter((v) => v > 0);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  const useLog =
    spec.scale === 'log' ||
    (spec.scale === 'auto' && positive.length > 0 && Math.max(...positive) / Math.min(...positive) > 100);
  let ticks: number[];
  if (useLog) {
    lo = Math.min(...positive) / 1.5;
    hi = Math.max(...positive) * 1.5;
    ticks = logTicks(lo, hi);
  } else {
    if (spec.fromZero || lo > 0) lo = Math.min(0, lo);
    if (hi <= lo) hi = lo + 1;
    hi *= 1.08;
    ticks = linearTicks(lo, hi);
    hi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  }
  const plotX = box.x + 70;
  const plotW = box.w - 70 - 150;
  const plotY = box.y + 26;
  const plotH = box.h - 26 - 26;
  const xOf = (t: number) => plotX + ((t - start) / Math.max(end - start, 1)) * plotW;
  const yOf = (v: number) => {
    const f = useLog
      ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
      : (v - lo) / (hi - lo);
    return plotY + plotH - Math.min(Math.max(f, 0), 1) * plotH;
  };
  const parts: string[] = [];
  parts.push(text(box.x + 8, box.y + 17, spec.title, 'font-size="13" font-weight="bold" fill="#222"'));
  parts.push(
    `<rect x="${num(plotX)}" y="${num(plotY)}" width="${num(plotW)}" height="${num(plotH)}" fill="#fafafa" stroke="#ccc"/>`,
  );
  for (const t of ticks) {
    const y = yOf(t);
    parts.push(
      `<line x1="${num(plotX)}" y1="${num(y)}" x2="${num(plotX + plotW)}" y2="${num(y)}" stroke="#e4e4e4"/>`,
    );
    parts.push(text(plotX - 6, y + 4, spec.format(t), 'font-size="10" fill="#555" text-anchor="end"'));
  }
  for (const tick of timeTicks(start, end)) {
    const x = xOf(tick.time);
    parts.push(
      `<line x1="${num(x)}" y1="${num(plotY + plotH)}" x2="${num(x)}" y2="${num(plotY + plotH + 4)}" stroke="#888"/>`,
    );
    parts.push(text(x, plotY + plotH + 16, tick.label, 'font-size="10" fill="#555" text-anchor="middle"'));
  }
  for (const th of spec.thresholds ?? []) {
    const y = yOf(th.value);
    parts.push(
      `<line x1="${num(plotX)}" y1="${num(y)}" x2="${num(plotX + plotW)}" y2="${num(y)}" stroke="${th.color}" stroke-dasharray="6 4" stroke-width="1.2"/>`,
    );
    parts.push(
      text(plotX + plotW - 4, y - 4, th.label, `font-size="10" fill="${th.color}" text-anchor="end"`),
    );
  }
  spec.series.forEach((s) => {
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (!Number.isFinite(p.value) || p.time < start || p.time > end) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${num(xOf(p.time))} ${num(yOf(p.value))}`;
      pen = true;
    }
    if (d) {
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round"/>`,
      );
    }
  });
  // markers: staggered labels so that neighbours do not overprint each other
  markers
    .filter((m) => m.time >= start && m.time <= end)
    .forEach((m, i) => {
      const x = xOf(m.time);
      const color = m.color ?? '#5f3dc4';
      parts.push(
        `<line x1="${num(x)}" y1="${num(plotY)}" x2="${num(x)}" y2="${num(plotY + plotH)}" stroke="${color}" stroke-dasharray="2 3" stroke-width="1.2"/>`,
      );
      const label = m.label.length > 24 ? `${m.label.slice(0, 23)}…` : m.label;
      parts.push(
        text(x + 3, plotY + 12 + (i % 3) * 12, label, `font-size="10" fill="${color}" text-anchor="start"`),
      );
    });
  // legend, right of the plot
  spec.series.forEach((s, i) => {
    const y = plotY + 8 + i * 18;
    const last = [...s.points].reverse().find((p) => Number.isFinite(p.value));
    parts.push(
      `<rect x="${num(plotX + plotW + 12)}" y="${num(y - 6)}" width="12" height="4" fill="${s.color}"/>`,
    );
    const label = `${s.name.length > 16 ? `${s.name.slice(0, 15)}…` : s.name}${last ? ` ${spec.format(last.value)}` : ''}`;
    parts.push(text(plotX + plotW + 30, y, label, 'font-size="11" fill="#333"'));
  });
  if (values.length === 0) {
    parts.push(
      text(
        plotX + plotW / 2,
        plotY + plotH / 2,
        'no data in the window',
        'font-size="12" fill="#888" text-anchor="middle"',
      ),
    );
  }
  return parts.join('\n');
}

function document(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n<rect width="100%" height="100%" fill="#ffffff"/>\n${body}\n</svg>\n`;
}

function header(title: string, subtitle: string | undefined, width: number): string {
  return [
    text(12, 22, title, 'font-size="16" font-weight="bold" fill="#111"'),
    subtitle ? text(12, 40, subtitle, 'font-size="11" fill="#666"') : '',
    `<line x1="0" y1="48" x2="${width}" y2="48" stroke="#eee"/>`,
  ].join('\n');
}

/** One or more line panels sharing the time axis, stacked vertically. */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const ph = spec.panelHeight ?? 240;
  const height = 52 + spec.panels.length * ph + 6;
  const body = [header(spec.title, spec.subtitle, width)];
  spec.panels.forEach((p, i) => {
    body.push(panel(p, { x: 0, y: 52 + i * ph, w: width, h: ph }, spec.start, spec.end, spec.markers));
  });
  return document(width, height, body.join('\n'));
}

export interface HeatmapRow {
  readonly label: string;
  /** One value per column; undefined where there is no data. */
  readonly cells: readonly (number | undefined)[];
}

export interface HeatmapSpec {
  readonly title: string;
  readonly subtitle?: string;
  /** Start of each column, seconds since the epoch. */
  readonly times: readonly number[];
  readonly stepS: number;
  readonly rows: readonly HeatmapRow[];
  readonly color: (v: number) => string;
  readonly legend: readonly { readonly label: string; readonly color: string }[];
  readonly width?: number;
}

/** A grid: one row per series, one column per time step, each cell coloured by its value. */
export function heatmap(spec: HeatmapSpec): string {
  const width = spec.width ?? 900;
  const rowH = 18;
  const labelW = 210;
  const gridX = labelW;
  const gridY = 60;
  const gridW = width - labelW - 20;
  const gridH = Math.max(spec.rows.length, 1) * rowH;
  const height = gridY + gridH + 70;
  const cols = Math.max(spec.times.length, 1);
  const cw = gridW / cols;
  const body: string[] = [header(spec.title, spec.subtitle, width)];
  spec.rows.forEach((row, r) => {
    const y = gridY + r * rowH;
    body.push(
      text(
        gridX - 8,
        y + 13,
        row.label.length > 30 ? `${row.label.slice(0, 29)}…` : row.label,
        'font-size="11" fill="#333" text-anchor="end"',
      ),
    );
    row.cells.forEach((v, c) => {
      const fill = v === undefined || !Number.isFinite(v) ? '#f1f1f1' : spec.color(v);
      body.push(
        `<rect x="${num(gridX + c * cw)}" y="${num(y)}" width="${num(cw + 0.5)}" height="${rowH - 1}" fill="${fill}" shape-rendering="crispEdges"/>`,
      );
    });
  });
  if (spec.rows.length === 0) {
    body.push(
      text(
        gridX + gridW / 2,
        gridY + 12,
        'no data in the window',
        'font-size="12" fill="#888" text-anchor="middle"',
      ),
    );
  }
  const start = spec.times[0] ?? 0;
  const end = (spec.times[spec.times.length - 1] ?? start) + spec.stepS;
  for (const tick of timeTicks(start, end)) {
    const x = gridX + ((tick.time - start) / Math.max(end - start, 1)) * gridW;
    body.push(
      `<line x1="${num(x)}" y1="${num(gridY + gridH)}" x2="${num(x)}" y2="${num(gridY + gridH + 4)}" stroke="#888"/>`,
    );
    body.push(text(x, gridY + gridH + 16, tick.label, 'font-size="10" fill="#555" text-anchor="middle"'));
  }
  spec.legend.forEach((l, i) => {
    const x = gridX + i * 150;
    const y = gridY + gridH + 36;
    body.push(`<rect x="${num(x)}" y="${num(y)}" width="14" height="14" fill="${l.color}" stroke="#ccc"/>`);
    body.push(text(x + 20, y + 11, l.label, 'font-size="11" fill="#333"'));
  });
  return document(width, height, body.join('\n'));
}
