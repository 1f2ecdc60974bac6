import { AppError, type AppErrorCode } from '../../domain/errors.ts';
import { ChartFontError } from '../../lib/charts/png.ts';
import { ProfileDecodeError, type ProfileDecodeProblem } from '../../lib/pprof/decode.ts';
import {
  createWorkerPool,
  type SerializedError,
  type WorkerPool,
  type WorkerPoolOptions,
  workerModuleUrl,
} from '../../lib/worker-pool.ts';
import { type AnalysisTaskKind, INLINE_ANALYZER, type ProfileAnalyzer } from './analyzer.ts';
import type { ProfileAnalysisInput } from './profile-analysis.ts';

/**
 * The profiling analysis in worker threads (lib/worker-pool.ts running analysis-worker.ts).
 *
 * Inputs smaller than `inlineBelowBytes` (default 256 KiB: a gzipped profile of some 10,000
 * samples, a dump of some 500 goroutines, a small chart) are analysed inline: that takes a few
 * milliseconds, less than handing them to a worker and back, and keeps a worker from starting
 * for nothing. Everything larger goes to the pool.
 */

export const INLINE_BELOW_BYTES = 256 * 1024;

export interface PooledAnalyzerOptions {
  readonly size?: number;
  readonly maxQueue?: number;
  readonly idleMs?: number;
  readonly inlineBelowBytes?: number;
  /** Heap limit of each worker, MB. Default 2048. */
  readonly maxOldGenerationSizeMb?: number;
}

export interface PooledAnalyzer extends ProfileAnalyzer {
  readonly pool: WorkerPool;
  close(): Promise<void>;
}

/** Rebuilds the errors the analysis throws inline, with their class, code and fields. */
export function reviveAnalysisError(e: SerializedError): Error {
  const f = e.fields;
  switch (e.name) {
    case 'ProfileDecodeError':
      return new ProfileDecodeError(f.problem as ProfileDecodeProblem, e.message);
    case 'ChartFontError':
      return new ChartFontError(e.message);
    case 'AppError':
      return new AppError(f.code as AppErrorCode, e.message);
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
  }
}

function profileBytes(input: ProfileAnalysisInput): number {
  return input.bytes.byteLength + (input.base?.bytes.byteLength ?? 0);
}

export function createPooledAnalyzer(options: PooledAnalyzerOptions = {}): PooledAnalyzer {
  const poolOptions: WorkerPoolOptions = {
    url: workerModuleUrl(import.meta.url, 'analysis-worker'),
    name: 'profile analysis',
    maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? 2048,
    reviveError: reviveAnalysisError,
    ...(options.size !== undefined ? { size: options.size } : {}),
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
  };
  const pool = createWorkerPool(poolOptions);
  const threshold = options.inlineBelowBytes ?? INLINE_BELOW_BYTES;
  const run = <T>(kind: AnalysisTaskKind, input: unknown, signal: AbortSignal | undefined) =>
    pool.run<T>({ kind, input }, signal ? { signal } : {});
  return {
    pool,
    // the base of a comparison is decoded with the capture: both count
    cpu: (input, signal) =>
      profileBytes(input) < threshold ? INLINE_ANALYZER.cpu(input, signal) : run('cpu', input, signal),
    heap: (input, signal) =>
      profileBytes(input) < threshold ? INLINE_ANALYZER.heap(input, signal) : run('heap', input, signal),
    mutexSites: (bytes, signal) =>
      bytes.byteLength < threshold
        ? INLINE_ANALYZER.mutexSites(bytes, signal)
        : run('mutexSites', bytes, signal),
    goroutineDump: (text, signal) =>
      text.length < threshold
        ? INLINE_ANALYZER.goroutineDump(text, signal)
        : run('goroutineDump', text, signal),
    goroutineReport: (samples, detectorOptions, signal) => {
      const groups = samples.first.groups.length + (samples.second?.groups.length ?? 0);
      // a group is some 200 bytes of frames: the same yardstick as the other inputs
      return groups * 200 < threshold
        ? INLINE_ANALYZER.goroutineReport(samples, detectorOptions, signal)
        : run(
            'goroutineReport',
            { samples, ...(detectorOptions ? { options: detectorOptions } : {}) },
            signal,
          );
    },
    rasterize: (svg, signal) =>
      svg.length < threshold ? INLINE_ANALYZER.rasterize(svg, signal) : run('rasterize', svg, signal),
    close: () => pool.close(),
  };
}
