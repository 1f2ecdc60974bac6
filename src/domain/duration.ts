import { AppError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses "30s", "5m", "1h", "250ms" into milliseconds; throws a usage AppError otherwise. */
export function parseDuration(text: string): number {
  const m = PATTERN.exec(text.trim());
  if (!m) {
    throw new AppError('usage', `"${text}" is not a duration: use a number and a unit, e.g. 30s, 5m, 1h`);
  }
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

export function isDuration(text: string): boolean {
  return PATTERN.test(text.trim());
}

/** Formats milliseconds in the largest exact unit, e.g. 300000 -> "5m"; used in PromQL ranges too. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}

/** Human form for reports: 1.8 s, 240 ms, 4m 10s. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  if (h > 0) return `${h}h ${m}m`;
  return s > 0 ? `${m}m ${s}s` : `${m}m`;
}
