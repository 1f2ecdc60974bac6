import type { AxiosInstance } from 'axios';
import { SourceError } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { createHttpClient, errorSummary, httpGet } from './http.ts';

/**
 * Prometheus over its HTTP API (/api/v1/query, /api/v1/query_range). Answers are validated
 * (status "success", the result type asked for, every value a number: "NaN", "+Inf" and "-Inf"
 * included) and anything else is a SourceError "malformed". Every call has its own deadline.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  /** Seconds since the epoch, as Prometheus gives it. */
  readonly time: number;
  /** May be NaN or ±Infinity: Prometheus says so for empty histograms and divisions by zero. */
  readonly value: number;
}

export interface Series {
  readonly labels: Labels;
  readonly points: readonly { readonly time: number; readonly value: number }[];
}

export interface InstantResult {
  readonly resultType: 'vector' | 'scalar';
  readonly samples: readonly Sample[];
}

export interface RangeResult {
  readonly resultType: 'matrix';
  readonly series: readonly Series[];
}

export interface QueryOptions {
  readonly signal?: AbortSignal;
  /** Overrides the source's default deadline for this call. */
  readonly timeoutMs?: number;
  /** Evaluation time of an instant query; default: now at the server. */
  readonly time?: Date;
}

export interface TimeRange {
  readonly start: Date;
  readonly end: Date;
  readonly stepMs: number;
}

export interface PrometheusSourceOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** The service it serves, shown in check() results. */
  readonly service?: string;
  /** Source name in errors and call metrics; default "prometheus". */
  readonly name?: string;
}

export class PrometheusSource implements Checkable {
  readonly name: string;
  readonly url: string;
  private readonly service: string | undefined;
  private readonly timeoutMs: number;
  private readonly client: AxiosInstance;

  constructor(options: PrometheusSourceOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
    this.service = options.service;
    this.name = options.name ?? 'prometheus';
    this.client = createHttpClient(this.url, { accept: 'application/json' });
  }

  async instantQuery(expr: string, options: QueryOptions = {}): Promise<InstantResult> {
    const params: Record<string, string> = { query: expr };
    if (options.time) params.time = seconds(options.time);
    const { data } = await httpGet<unknown>(
      this.client,
      '/api/v1/query',
      this.call('instant query', options),
      { params },
    );
    return parseInstant(data, this.name);
  }

  async rangeQuery(expr: string, range: TimeRange, options: QueryOptions = {}): Promise<RangeResult> {
    const params = {
      query: expr,
      start: seconds(range.start),
      end: seconds(range.end),
      step: String(Math.max(range.stepMs, 1) / 1000),
    };
    const { data } = await httpGet<unknown>(
      this.client,
      '/api/v1/query_range',
      this.call('range query', options),
      { params },
    );
    return parseRange(data, this.name);
  }

  /** GET /api/v1/status/buildinfo: the server's version. */
  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const name = `prometheus${this.service ? ` ${this.service}` : ''}`;
    const started = performance.now();
    try {
      const { data } = await httpGet<unknown>(
        this.client,
        '/api/v1/status/buildinfo',
        this.call('read build info', { signal }),
      );
      const version = (data as { status?: unknown; data?: { version?: unknown } } | undefined)?.data?.version;
      if ((data as { status?: unknown })?.status !== 'success' || typeof version !== 'string') {
        throw new SourceError(this.name, 'read build info', 'malformed', 'no version in the answer');
      }
      return [
        {
          name,
          ok: true,
          detail: `${this.url}: Prometheus ${version}, answered in ${Math.round(performance.now() - started)} ms`,
        },
      ];
    } catch (e) {
      return [
        {
          name,
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
          hint: `check services[].prometheus.url (${this.url}) and that Prometheus is reachable from the bot`,
        },
      ];
    }
  }

  private call(operation: string, options: QueryOptions) {
    return {
      source: this.name,
      operation,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    };
  }
}

function seconds(d: Date): string {
  return (d.getTime() / 1000).toFixed(3);
}

function malformed(source: string, operation: string, detail: string): SourceError {
  return new SourceError(source, operation, 'malformed', `unexpected answer: ${detail}`);
}

/** Prometheus sends sample values as strings: decimal numbers, "NaN", "+Inf", "-Inf". */
export function parseSampleValue(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) return undefined;
  return Number(v);
}

function parsePair(pair: unknown, source: string, operation: string): { time: number; value: number } {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number') {
    throw malformed(source, operation, 'a sample is not [time, "value"]');
  }
  const value = parseSampleValue(pair[1]);
  if (value === undefined)
    throw malformed(source, operation, `sample value ${JSON.stringify(pair[1])} is not a number`);
  return { time: pair[0], value };
}

function parseLabels(metric: unknown, source: string, operation: string): Labels {
  if (metric === undefined) return {};
  if (!metric || typeof metric !== 'object' || Array.isArray(metric)) {
    throw malformed(source, operation, 'a series has no label set');
  }
  for (const v of Object.values(metric)) {
    if (typeof v !== 'string') throw malformed(source, operation, 'a label value is not a string');
  }
  return metric as Labels;
}

function envelope(
  data: unknown,
  source: string,
  operation: string,
): { resultType: unknown; result: unknown } {
  if (!data || typeof data !== 'object') {
    throw malformed(source, operation, typeof data === 'string' ? 'not JSON' : 'not an object');
  }
  const d = data as { status?: unknown; data?: { resultType?: unknown; result?: unknown }; error?: unknown };
  if (d.status !== 'success') {
    const said = errorSummary(d);
    throw malformed(source, operation, `status ${JSON.stringify(d.status)}${said ? `: ${said}` : ''}`);
  }
  if (!d.data || typeof d.data !== 'object') throw malformed(source, operation, 'no data');
  return { resultType: d.data.resultType, result: d.data.result };
}

export function parseInstant(data: unknown, source = 'prometheus'): InstantResult {
  const op = 'instant query';
  const { resultType, result } = envelope(data, source, op);
  if (resultType === 'scalar') {
    const p = parsePair(result, source, op);
    return { resultType: 'scalar', samples: [{ labels: {}, time: p.time, value: p.value }] };
  }
  if (resultType !== 'vector')
    throw malformed(source, op, `result type ${JSON.stringify(resultType)}, expected vector`);
  if (!Array.isArray(result)) throw malformed(source, op, 'result is not a list');
  return {
    resultType: 'vector',
    samples: result.map((r: unknown) => {
      const s = r as { metric?: unknown; value?: unknown };
      if (!s || typeof s !== 'object') throw malformed(source, op, 'a result is not an object');
      const p = parsePair(s.value, source, op);
      return { labels: parseLabels(s.metric, source, op), time: p.time, value: p.value };
    }),
  };
}

export function parseRange(data: unknown, source = 'prometheus'): RangeResult {
  const op = 'range query';
  const { resultType, result } = envelope(data, source, op);
  if (resultType !== 'matrix')
    throw malformed(source, op, `result type ${JSON.stringify(resultType)}, expected matrix`);
  if (!Array.isArray(result)) throw malformed(source, op, 'result is not a list');
  return {
    resultType: 'matrix',
    series: result.map((r: unknown) => {
      const s = r as { metric?: unknown; values?: unknown };
      if (!s || typeof s !== 'object' || !Array.isArray(s.values)) {
        throw malformed(source, op, 'a series has no values');
      }
      return {
        labels: parseLabels(s.metric, source, op),
        points: s.values.map((v: unknown) => parsePair(v, source, op)),
      };
    }),
  };
}
