import type {
  ConnectionsSnapshot,
  LockWaitRow,
  SessionRow,
  StatementsResult,
  TableSizeRow,
  TableStatRow,
} from '../../sources/postgres-types.ts';
import type { PprofKind } from '../../sources/pprof.ts';

/**
 * The demo incident's recordings: real answers captured from the test bed by scripts/record-demo.ts
 * (Prometheus scraping the Go aegis-api with its pathologies on, its pprof endpoint, a throw-away
 * PostgreSQL with a slow query and a lock wait), kept as JSON in ./recordings/. The JSON files are
 * imported as modules, so `tsc` copies them into dist/ and the console's demo works from a build.
 *
 * Numbers that JSON cannot carry (NaN, ±Inf, which Prometheus does answer) are written as the strings
 * "NaN", "+Inf", "-Inf"; dates as ISO strings.
 */

export const RECORDING_VERSION = 1;

/** A number as recorded: finite numbers as they are, the others as Prometheus spells them. */
export type RecordedNumber = number | 'NaN' | '+Inf' | '-Inf';

export interface RecordedSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly time: number;
  readonly value: RecordedNumber;
}

export interface RecordedSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: readonly { readonly time: number; readonly value: RecordedNumber }[];
}

export type RecordedQuery =
  | {
      readonly type: 'instant';
      readonly expr: string;
      /** Evaluation time, seconds since the epoch. */
      readonly time: number;
      readonly result: {
        readonly resultType: 'vector' | 'scalar';
        readonly samples: readonly RecordedSample[];
      };
    }
  | {
      readonly type: 'range';
      readonly expr: string;
      /** Seconds since the epoch, and the step in ms. */
      readonly range: { readonly start: number; readonly end: number; readonly stepMs: number };
      readonly result: { readonly resultType: 'matrix'; readonly series: readonly RecordedSeries[] };
    };

export interface PrometheusRecording {
  readonly version: number;
  readonly recordedAt: string;
  readonly queries: readonly RecordedQuery[];
}

/** PodInfo / PodUsage with their dates as ISO strings. */
export interface RecordedPod {
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
  readonly node?: string;
  readonly startedAt?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly {
    readonly name: string;
    readonly requests: { readonly cpu?: number; readonly memory?: number };
    readonly limits: { readonly cpu?: number; readonly memory?: number };
    readonly ready: boolean;
    readonly restartCount: number;
    readonly state: string;
    readonly lastTermination?: {
      readonly reason: string;
      readonly exitCode: number;
      readonly finishedAt?: string;
    };
    readonly oomKilled: boolean;
  }[];
}

export interface KubernetesRecording {
  readonly version: number;
  readonly recordedAt: string;
  /** How this was made: no Kubernetes API runs on the recording machine. */
  readonly note: string;
  readonly pods: readonly RecordedPod[];
  readonly podMetrics: readonly {
    readonly name: string;
    readonly timestamp?: string;
    readonly windowMs?: number;
    readonly containers: readonly { readonly name: string; readonly cpu: number; readonly memory: number }[];
  }[];
  readonly replicas: number;
  /** The service's ConfigMap (database.max_connections is the application's pool size). */
  readonly configmap: Readonly<Record<string, string>>;
  /** The deployment's container and its memory limit as written in the spec. */
  readonly container: {
    readonly name: string;
    readonly memoryLimit?: string;
    readonly memoryRequest?: string;
  };
  readonly logs: readonly { readonly pod: string; readonly lines: readonly string[] }[];
}

export interface PostgresRecording {
  readonly version: number;
  readonly recordedAt: string;
  readonly database: string;
  readonly slowStatements: StatementsResult;
  readonly tableStats: readonly TableStatRow[];
  readonly maintenanceCandidates: readonly TableStatRow[];
  readonly largestTables: readonly TableSizeRow[];
  readonly connections: ConnectionsSnapshot;
  readonly longQueries: readonly SessionRow[];
  readonly lockWaits: readonly LockWaitRow[];
}

export interface RecordedProfile {
  readonly kind: PprofKind;
  readonly debug?: 0 | 1 | 2;
  readonly seconds?: number;
  readonly contentType: string;
  readonly path: string;
  /**
   * 0, 1, ...: the order of repeated captures of the same kind (the goroutine step samples twice to
   * see growth; the replay hands them out in this order).
   */
  readonly sample: number;
  /** "as-is": base64 holds the answer's bytes exactly as sent (profiles are gzipped protobuf already); "gzip": base64 holds the answer gzipped (text dumps, to keep the file small). */
  readonly stored: 'as-is' | 'gzip';
  readonly base64: string;
}

export interface PprofRecording {
  readonly version: number;
  readonly recordedAt: string;
  readonly profiles: readonly RecordedProfile[];
}

export interface DemoRecordings {
  readonly prometheus: PrometheusRecording;
  readonly kubernetes: KubernetesRecording;
  readonly postgres: PostgresRecording;
  readonly pprof: PprofRecording;
}

export const RECORDING_FILES = {
  prometheus: 'prometheus.json',
  kubernetes: 'kubernetes.json',
  postgres: 'postgres.json',
  pprof: 'pprof.json',
} as const;

/** Loads the bundled recordings (once per process). */
let loaded: Promise<DemoRecordings> | undefined;
export function loadRecordings(): Promise<DemoRecordings> {
  loaded ??= (async () => {
    const [prometheus, kubernetes, postgres, pprof] = await Promise.all([
      import('./recordings/prometheus.json', { with: { type: 'json' } }),
      import('./recordings/kubernetes.json', { with: { type: 'json' } }),
      import('./recordings/postgres.json', { with: { type: 'json' } }),
      import('./recordings/pprof.json', { with: { type: 'json' } }),
    ]);
    return {
      prometheus: prometheus.default as unknown as PrometheusRecording,
      kubernetes: kubernetes.default as unknown as KubernetesRecording,
      postgres: postgres.default as unknown as PostgresRecording,
      pprof: pprof.default as unknown as PprofRecording,
    };
  })();
  return loaded;
}

export function toNumber(v: RecordedNumber): number {
  if (v === 'NaN') return Number.NaN;
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return v;
}

export function fromNumber(v: number): RecordedNumber {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return v;
}
