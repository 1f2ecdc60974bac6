import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, humanDuration } from '../../src/lib/format.ts';

describe('formatBytes', () => {
  it.each([
    // value, iec (reports), listing (files), limit (pprof messages), pg (pg_size_pretty)
    [0, '0 B', '0 B', '0 bytes', '0 bytes'],
    [512, '512 B', '512 B', '512 bytes', '512 bytes'],
    [1024, '1.0 KiB', '1.0 KiB', '1 KiB', '1024 bytes'],
    [1536, '1.5 KiB', '1.5 KiB', '1.5 KiB', '1536 bytes'],
    [20 * 1024, '20.0 KiB', '20.0 KiB', '20 KiB', '20 kB'],
    [150 * 1024, '150 KiB', '150.0 KiB', '150 KiB', '150 kB'],
    [64 * 2 ** 20, '64.0 MiB', '64.0 MiB', '64 MiB', '64 MB'],
    [1.8 * 2 ** 30, '1.8 GiB', '1843.2 MiB', '1.8 GiB', '1843 MB'],
    [3 * 2 ** 40, '3.0 TiB', '3145728.0 MiB', '3072 GiB', '3072 GB'],
    [-20 * 1024, '-20480 B', '-20480 B', '-20480 bytes', '-20 kB'],
  ])('%d bytes: %s, %s, %s, %s', (bytes, iec, listing, limit, pg) => {
    expect([
      formatBytes(bytes),
      formatBytes(bytes, 'listing'),
      formatBytes(bytes, 'limit'),
      formatBytes(bytes, 'pg'),
    ]).toEqual([iec, listing, limit, pg]);
  });

  it('says n/a for an unknown size', () => {
    expect(formatBytes(undefined)).toBe('n/a');
  });
});

describe('formatDuration', () => {
  it.each([
    [250, '250ms', '250ms'],
    [1500, '1500ms', '1500ms'],
    [30_000, '30s', '30s'],
    [90_000, '90s', '90s'],
    [300_000, '5m', '5min'],
    [3_600_000, '1h', '1h'],
    [172_800_000, '2d', '48h'],
  ])('%d ms: %s for Prometheus, %s for PostgreSQL', (ms, prometheus, postgres) => {
    expect([formatDuration(ms), formatDuration(ms, 'postgres')]).toEqual([prometheus, postgres]);
  });
});

describe('humanDuration', () => {
  it.each([
    [240, '240 ms'],
    [1800, '1.8 s'],
    [42_000, '42 s'],
    [250_000, '4m 10s'],
    [300_000, '5m'],
    [5_400_000, '1h 30m'],
  ])('%d ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
