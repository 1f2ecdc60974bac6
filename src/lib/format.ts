import { DURATION_UNIT_MS } from '../domain/duration.ts';

/**
 * How the project writes byte counts and durations. Every report, message and error formats them
 * here; where two places must print differently (pg_size_pretty's units next to PostgreSQL output, a
 * terminal's fixed decimals), that is a named style of the one implementation, not a second copy.
 */

// ---------------------------------------------------------------------------------------------
// bytes

interface ByteStyle {
  /** Unit names, each 1024 times the one before. */
  readonly units: readonly string[];
  /** A value moves to the next unit from this size on (pg_size_pretty waits until 10 of it). */
  readonly stepAt: number;
  /** Negative sizes scale like positive ones (pg_size_pretty); otherwise they stay in the first unit. */
  readonly signed: boolean;
  /** Above the first unit, values below this keep one decimal; from it on they are whole. */
  readonly decimalsBelow: number;
  /** "1 MiB", not "1.0 MiB". */
  readonly trimZero: boolean;
}

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export const BYTE_STYLES = {
  /** Reports: three significant digits, "512 B", "1.5 KiB", "15.2 MiB", "152 MiB". */
  iec: { units: IEC, stepAt: 1024, signed: false, decimalsBelow: 100, trimZero: false },
  /** Listings of files (a terminal, the console): one decimal always, up to MiB: "2.0 KiB", "3.0 MiB". */
  listing: { units: IEC.slice(0, 3), stepAt: 1024, signed: false, decimalsBelow: Infinity, trimZero: false },
  /** Limits in messages, as Go's pprof writes them: "512 bytes", "1.5 MiB", "64 MiB". */
  limit: {
    units: ['bytes', ...IEC.slice(1, 4)],
    stepAt: 1024,
    signed: false,
    decimalsBelow: Infinity,
    trimZero: true,
  },
  /** PostgreSQL's pg_size_pretty: "500 bytes", "20 kB", "25 MB", "3072 MB" (powers of 1024). */
  pg: {
    units: ['bytes', 'kB', 'MB', 'GB', 'TB'],
    stepAt: 10 * 1024,
    signed: true,
    decimalsBelow: 0,
    trimZero: false,
  },
} as const satisfies Record<string, ByteStyle>;

export type ByteStyleName = keyof typeof BYTE_STYLES;

/** A byte count in the style's units; "n/a" when it is unknown. */
export function formatBytes(bytes: number | undefined, style: ByteStyleName = 'iec'): string {
  if (bytes === undefined) return 'n/a';
  const s: ByteStyle = BYTE_STYLES[style];
  const size = (x: number) => (s.signed ? Math.abs(x) : x);
  let v = bytes;
  let unit = 0;
  while (size(v) >= s.stepAt && unit < s.units.length - 1) {
    v /= 1024;
    unit++;
  }
  let text: string;
  if (unit === 0 || Math.abs(v) >= s.decimalsBelow) text = String(Math.round(v));
  else text = s.trimZero ? String(+v.toFixed(1)) : v.toFixed(1);
  return `${text} ${s.units[unit]}`;
}

// ---------------------------------------------------------------------------------------------
// durations

const COMPACT_UNITS = {
  /** Prometheus ranges and window names: "5m", "1h", "2d". */
  prometheus: [
    ['d', DURATION_UNIT_MS.d],
    ['h', DURATION_UNIT_MS.h],
    ['m', DURATION_UNIT_MS.m],
    ['s', DURATION_UNIT_MS.s],
  ],
  /** PostgreSQL's time units, as in statement_timeout = '1min': "250ms", "5s", "1min", "48h". */
  postgres: [
    ['h', DURATION_UNIT_MS.h],
    ['min', DURATION_UNIT_MS.m],
    ['s', DURATION_UNIT_MS.s],
  ],
} as const satisfies Record<string, readonly (readonly [string, number])[]>;

export type DurationStyleName = keyof typeof COMPACT_UNITS;

/** Milliseconds in the largest exact unit, e.g. 300000 -> "5m"; used in PromQL ranges too. */
export function formatDuration(ms: number, style: DurationStyleName = 'prometheus'): string {
  for (const [unit, size] of COMPACT_UNITS[style]) {
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

// ---------------------------------------------------------------------------------------------
// dates

/** "2025-03-14 09:26:53 UTC". */
export function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
