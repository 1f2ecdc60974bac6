import { AppError } from './errors.ts';

/** Milliseconds in each unit a duration may be written in; lib/format.ts writes them back. */
export const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses "30s", "5m", "1h", "250ms" into milliseconds; throws a usage AppError otherwise. */
export function parseDuration(text: string): number {
  const m = PATTERN.exec(text.trim());
  if (!m) {
    throw new AppError('usage', `"${text}" is not a duration: use a number and a unit, e.g. 30s, 5m, 1h`);
  }
  return Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS];
}

export function isDuration(text: string): boolean {
  return PATTERN.test(text.trim());
}
