import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import type { BackendState } from '../../actions/ports.ts';
import type { AllSources } from '../../compose.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { SourceError } from '../../domain/errors.ts';
import type { DeploymentScale, PodInfo, PodUsage } from '../../sources/kubernetes.ts';
import type { LockWaitRow, SessionRow } from '../../sources/postgres-types.ts';
import type {
  FetchedProfile,
  FetchOptions,
  PprofKind,
  PprofPort,
  ProfileTarget,
} from '../../sources/pprof.ts';
import type { InstantResult, QueryOptions, RangeResult, TimeRange } from '../../sources/prometheus.ts';
import type { DatabaseReader, PodLogReader } from '../../steps/db/step.ts';
import type { ClusterPort, MetricsPort } from '../../steps/latency/step.ts';
import { DemoCluster, DemoDatabaseActions } from './demo-cluster.ts';
import { type DemoRecordings, type RecordedPod, type RecordedQuery, toNumber } from './recordings.ts';

/**
 * The demo incident's sources: the steps' own ports (LatencySources, DbSources, ProfilingSources),
 * answered from the recordings instead of live systems. Times are moved to now: a range query's
 * points by the distance between the asked end and the recorded end (so charts end now), everything
 * else by the distance between now and the moment of recording, fixed when the demo starts (so a
 * session's query_start in a proposal still matches when the button is clicked).
 *
 * Queries are matched by their exact text: the demo answers `/aegis latency` with the default
 * window; anything else is answered as a source that has no such recording, which the report shows
 * as an unavailable part, like a real source failing.
 */

export const DEMO_SOURCE = 'demo recording';

export interface DemoOptions {
  readonly now?: () => Date;
  /** Simulated answer time of each call (0 to 2x this, so parts finish in a varying order); default 0. */
  readonly delayMs?: number;
  /** How long a demo pod takes to become ready in a rollout; default 1.5 s. */
  readonly podReadyMs?: number;
}

export interface Demo {
  readonly sources: AllSources;
  /** The stand-in the remediation buttons change (scale, memory limit, pool size). */
  readonly cluster: DemoCluster;
  /** The stand-in for cancel / terminate / VACUUM. */
  readonly database: DemoDatabaseActions;
  readonly recordedAt: Date;
  /** The recorded service's name (aegis-api). */
  readonly service: string;
}

const ISO_WITH_FRACTION = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/;

/** An ISO timestamp moved by offsetMs, keeping its sub-millisecond digits (PostgreSQL's microseconds). */
export function shiftIso(iso: string, offsetMs: number): string {
  const m = ISO_WITH_FRACTION.exec(iso);
  const d = new Date(iso);
  if (!m || Number.isNaN(d.getTime())) return iso;
  const fraction = m[2] ?? '';
  const shifted = new Date(d.getTime() + offsetMs).toISOString(); // ...ss.mmmZ
  const extra = fraction.length > 3 ? fraction.slice(3) : '';
  return `${shifted.slice(0, -1)}${extra}Z`;
}

function shiftSession(s: SessionRow, offsetMs: number): SessionRow {
  const at = (v: string | null) => (v === null ? null : shiftIso(v, offsetMs));
  return { ...s, backendStart: at(s.backendStart), queryStart: at(s.queryStart), xactStart: at(s.xactStart) };
}

function unrecorded(operation: string, detail: string): SourceError {
  return new SourceError(DEMO_SOURCE, operation, 'refused', detail);
}

function short(expr: string): string {
  return expr.length > 80 ? `${expr.slice(0, 77)}...` : expr;
}

/** Builds the demo's sources and stand-ins from the recordings. */
export function createDemo(recordings: DemoRecordings, options: DemoOptions = {}): Demo {
  const now = options.now ?? (() => new Date());
  const delayMs = options.delayMs ?? 0;
  const pause = async () => {
    if (delayMs > 0) await sleep(Math.round(delayMs * 2 * Math.random()));
  };
  const k = recordings.kubernetes;
  const recordedAt = new Date(recordings.prometheus.recordedAt);
  const offsetMs = now().getTime() - recordedAt.getTime();
  const firstPod = k.pods[0];
  const namespace = firstPod?.namespace ?? 'aegis';
  const service = firstPod?.labels.app ?? 'aegis-api';

  const cluster = new DemoCluster({
    namespace,
    deployment: service,
    replicas: k.replicas,
    container: k.container,
    configmap: { name: 'aegis-config', data: k.configmap },
    ...(options.podReadyMs !== undefined ? { podReadyMs: options.podReadyMs } : {}),
  });

  // --- Prometheus
  const instant = new Map<string, Extract<RecordedQuery, { type: 'instant' }>>();
  const range = new Map<string, Extract<RecordedQuery, { type: 'range' }>>();
  for (const q of recordings.prometheus.queries) {
    if (q.type === 'instant') instant.set(q.expr, q);
    else range.set(q.expr, q);
  }
  const notRecorded =
    'the demo has no recording of this query (it replays /aegis latency with the default 5m window)';
  const metrics: MetricsPort = {
    async instantQuery(expr: string, opts: QueryOptions = {}): Promise<InstantResult> {
      await pause();
      const q = instant.get(expr);
      if (!q) throw unrecorded(`query ${short(expr)}`, notRecorded);
      const time = (opts.time ?? now()).getTime() / 1000;
      return {
        resultType: q.result.resultType,
        samples: q.result.samples.map((s) => ({ labels: s.labels, time, value: toNumber(s.value) })),
      };
    },
    async rangeQuery(expr: string, r: TimeRange): Promise<RangeResult> {
      await pause();
      const q = range.get(expr);
      if (!q) throw unrecorded(`range query ${short(expr)}`, notRecorded);
      const shift = Math.round(r.end.getTime() / 1000 - q.range.end);
      return {
        resultType: 'matrix',
        series: q.result.series.map((s) => ({
          labels: s.labels,
          points: s.points.map((p) => ({ time: p.time + shift, value: toNumber(p.value) })),
        })),
      };
    },
  };

  // --- Kubernetes (read side)
  const pods = (): PodInfo[] => k.pods.map((p) => revivePod(p, offsetMs));
  const kubernetes: ClusterPort = {
    async listPods(ns: string): Promise<PodInfo[]> {
      await pause();
      return ns === namespace ? pods() : [];
    },
    async podMetrics(ns: string): Promise<PodUsage[]> {
      await pause();
      if (ns !== namespace) return [];
      return k.podMetrics.map((m) => ({
        name: m.name,
        timestamp: now(),
        ...(m.windowMs !== undefined ? { windowMs: m.windowMs } : {}),
        containers: m.containers,
      }));
    },
    async getDeploymentScale(ns: string, name: string): Promise<DeploymentScale> {
      await pause();
      const status = await cluster.rolloutStatus(ns, name);
      return { replicas: status.desired, current: status.ready };
    },
  };

  // --- PostgreSQL (read side), times moved once
  const pg = recordings.postgres;
  const sessions = (rows: readonly SessionRow[]) => rows.map((s) => shiftSession(s, offsetMs));
  const longQueries = sessions(pg.longQueries);
  const lockWaits: LockWaitRow[] = pg.lockWaits.map((l) => ({
    ...l,
    blocked: shiftSession(l.blocked, offsetMs),
    blocking: shiftSession(l.blocking, offsetMs),
  }));
  const connections = { ...pg.connections, idleInTransaction: sessions(pg.connections.idleInTransaction) };
  const after = async <T>(value: T): Promise<T> => {
    await pause();
    return value;
  };
  const reader: DatabaseReader = {
    database: pg.database,
    slowStatements: () => after(pg.slowStatements),
    tableStats: () => after([...pg.tableStats]),
    maintenanceCandidates: () => after([...pg.maintenanceCandidates]),
    largestTables: () => after([...pg.largestTables]),
    connections: () => after(connections),
    longQueries: () => after(longQueries),
    lockWaits: () => after(lockWaits),
    // The recordings hold no pg_stats, index definitions or HypoPG: the advice says "unverified".
    columnStats: () => after([]),
    tableIndexes: () => after([]),
    checkHypotheticalIndexes: () => after({ available: false as const }),
  };
  const known = new Map<number, BackendState>();
  for (const s of [
    ...longQueries,
    ...lockWaits.flatMap((l) => [l.blocked, l.blocking]),
    ...connections.idleInTransaction,
  ]) {
    known.set(s.pid, {
      pid: s.pid,
      database: s.database,
      user: s.user,
      state: s.state,
      backendStart: s.backendStart,
      queryStart: s.queryStart,
      query: s.query,
    });
  }
  const database = new DemoDatabaseActions(pg.database, [...known.values()]);

  const logs: PodLogReader = {
    async recentLogs() {
      await pause();
      return k.logs.map((l) => ({ pod: l.pod, lines: [...l.lines] }));
    },
    async poolSize(s: ServiceConfig) {
      const v = await cluster.readConfigValue(s.namespace, s.configmap, 'database.max_connections');
      const n = Number(v.value);
      return Number.isFinite(n) && n > 0 ? n : undefined;
    },
  };

  // --- pprof
  const busiest = () => {
    const cpu = (m: (typeof k.podMetrics)[number]) => m.containers.reduce((sum, c) => sum + c.cpu, 0);
    return [...k.podMetrics].sort((a, b) => cpu(b) - cpu(a))[0]?.name ?? firstPod?.name ?? service;
  };
  // Repeated captures of one kind (the goroutine step's two samples) get the recorded samples in
  // order when they follow each other within a minute; a capture after a pause starts again at 0.
  const lastFetch = new Map<string, { at: number; sample: number }>();
  const pickProfile = (kind: PprofKind, debug: number) => {
    const samples = recordings.pprof.profiles
      .filter((x) => x.kind === kind && (x.debug ?? 0) === debug)
      .sort((a, b) => a.sample - b.sample);
    if (samples.length === 0) return undefined;
    const key = `${kind}:${debug}`;
    const at = now().getTime();
    const previous = lastFetch.get(key);
    const sample =
      previous && at - previous.at < 60_000 ? Math.min(previous.sample + 1, samples.length - 1) : 0;
    lastFetch.set(key, { at, sample });
    return samples[sample];
  };
  const pprof: PprofPort = {
    async resolveTarget(pod: string | undefined): Promise<ProfileTarget> {
      if (pod) return { pod, label: pod, chosen: 'named' };
      const b = busiest();
      return { pod: b, label: b, chosen: 'busiest' };
    },
    async fetch(kind: PprofKind, o: FetchOptions = {}): Promise<FetchedProfile> {
      const target = o.target ?? (await pprof.resolveTarget(o.pod));
      const debug = o.debug ?? 0;
      const p = pickProfile(kind, debug);
      if (!p)
        throw unrecorded(
          `fetch ${kind}${debug ? ` debug=${debug}` : ''} of ${target.label}`,
          'the demo has no recording of this profile',
        );
      await pause();
      const finishedAt = now();
      const seconds = o.seconds ?? p.seconds;
      return {
        kind,
        target,
        bytes:
          p.stored === 'gzip' ? gunzipSync(Buffer.from(p.base64, 'base64')) : Buffer.from(p.base64, 'base64'),
        contentType: p.contentType,
        startedAt: new Date(finishedAt.getTime() - (kind === 'profile' ? (p.seconds ?? 0) * 1000 : 0)),
        finishedAt,
        joined: false,
        ...(o.requestedBy ? { startedBy: o.requestedBy } : {}),
        ...(seconds !== undefined ? { seconds } : {}),
        path: p.path,
      };
    },
    running: () => undefined,
  };

  const ours = (s: ServiceConfig) => s.name === service;
  const sources: AllSources = {
    prometheus: (s) => (ours(s) ? metrics : undefined),
    kubernetes: (s) => (ours(s) ? kubernetes : undefined),
    database: (s) => {
      if (!ours(s))
        throw unrecorded(`connect to the database of ${s.name}`, `the demo recorded only ${service}`);
      return reader;
    },
    podLogs: () => logs,
    pprof: (s) => (ours(s) ? pprof : undefined),
  };
  return { sources, cluster, database, recordedAt, service };
}

function revivePod(p: RecordedPod, offsetMs: number): PodInfo {
  const date = (iso: string | undefined) => (iso ? new Date(new Date(iso).getTime() + offsetMs) : undefined);
  const startedAt = date(p.startedAt);
  return {
    name: p.name,
    namespace: p.namespace,
    phase: p.phase,
    ...(p.node ? { node: p.node } : {}),
    ...(startedAt ? { startedAt } : {}),
    labels: p.labels,
    containers: p.containers.map((c) => {
      const finishedAt = date(c.lastTermination?.finishedAt);
      return {
        name: c.name,
        requests: c.requests,
        limits: c.limits,
        ready: c.ready,
        restartCount: c.restartCount,
        state: c.state,
        oomKilled: c.oomKilled,
        ...(c.lastTermination
          ? {
              lastTermination: {
                reason: c.lastTermination.reason,
                exitCode: c.lastTermination.exitCode,
                ...(finishedAt ? { finishedAt } : {}),
              },
            }
          : {}),
      };
    }),
  };
}
