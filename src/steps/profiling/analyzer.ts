import { svgToPng } from '../../lib/charts/png.ts';
import { decodeProfile } from '../../lib/pprof/decode.ts';
import { type GoroutineDump, parseGoroutineDump } from '../../lib/pprof/goroutine-dump.ts';
import {
  detectGoroutineIssues,
  type GoroutineDetectorOptions,
  type GoroutineReport,
  type GoroutineSamples,
  type MutexSite,
  mutexSites,
} from './goroutine-detectors.ts';
import {
  analyzeCpuProfile,
  analyzeHeapProfile,
  type CpuAnalysisInput,
  type HeapAnalysisInput,
  type ProfileAnalysisOutput,
} from './profile-analysis.ts';

/**
 * The CPU-heavy half of the profiling steps, behind one interface: decoding and analysing a
 * profile, grouping goroutine dumps, drawing a flame graph. INLINE_ANALYZER runs it on the calling
 * thread (tests, the CLI); pooled-analyzer.ts runs the same functions in worker threads (the bot),
 * so that no command waits behind another's analysis. Both give the same results and the same errors.
 */
export interface ProfileAnalyzer {
  cpu(input: CpuAnalysisInput, signal?: AbortSignal): Promise<ProfileAnalysisOutput>;
  heap(input: HeapAnalysisInput, signal?: AbortSignal): Promise<ProfileAnalysisOutput>;
  /** A mutex profile's contention by call site. */
  mutexSites(bytes: Uint8Array, signal?: AbortSignal): Promise<MutexSite[]>;
  goroutineDump(text: string, signal?: AbortSignal): Promise<GoroutineDump>;
  goroutineReport(
    samples: GoroutineSamples,
    options: GoroutineDetectorOptions | undefined,
    signal?: AbortSignal,
  ): Promise<GoroutineReport>;
  /** SVG to PNG (lib/charts/png.ts). */
  rasterize(svg: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** The functions the analyzer runs, by task name: what a worker serves (analysis-worker.ts). */
export const ANALYSIS_TASKS = {
  cpu: (input: CpuAnalysisInput) => analyzeCpuProfile(input),
  heap: (input: HeapAnalysisInput) => analyzeHeapProfile(input),
  mutexSites: async (bytes: Uint8Array) => mutexSites(await decodeProfile(bytes, { name: 'mutex profile' })),
  goroutineDump: (text: string) => parseGoroutineDump(text),
  goroutineReport: (input: { samples: GoroutineSamples; options?: GoroutineDetectorOptions }) =>
    detectGoroutineIssues(input.samples, input.options),
  rasterize: (svg: string) => svgToPng(svg),
} as const;

export type AnalysisTaskKind = keyof typeof ANALYSIS_TASKS;

/** Runs on the calling thread; the signal is checked before and after. */
export const INLINE_ANALYZER: ProfileAnalyzer = {
  cpu: (input, signal) => inline(signal, () => ANALYSIS_TASKS.cpu(input)),
  heap: (input, signal) => inline(signal, () => ANALYSIS_TASKS.heap(input)),
  mutexSites: (bytes, signal) => inline(signal, () => ANALYSIS_TASKS.mutexSites(bytes)),
  goroutineDump: (text, signal) => inline(signal, () => ANALYSIS_TASKS.goroutineDump(text)),
  goroutineReport: (samples, options, signal) =>
    inline(signal, () => ANALYSIS_TASKS.goroutineReport({ samples, ...(options ? { options } : {}) })),
  rasterize: (svg, signal) => svgToPng(svg, signal ? { signal } : {}),
};

async function inline<T>(signal: AbortSignal | undefined, fn: () => T | Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const value = await fn();
  signal?.throwIfAborted();
  return value;
}
