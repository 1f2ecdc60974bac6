/**
 * Records the local console's demo incident from the real test bed:
 *
 *   npx node scripts/record-demo.ts            (about 7 minutes; needs go, prometheus, postgresql 15)
 *
 * It starts the test bed (test/support/testbed.ts: the Go aegis-api, Prometheus scraping it every
 * second, a throw-away PostgreSQL 15 with pg_stat_statements), switches on pathologies (a slow
 * endpoint, heavy JSON encoding, a regexp compiled per request, an audit slice that grows without
 * bound, "connection pool exhausted" log lines, later a goroutine leak), plants database trouble (a slow query on an unindexed table, a lock
 * wait behind a session idle in transaction, a query running for minutes, a table full of dead
 * tuples), lets the 5-minute window fill, then runs the real runbook steps with recording wrappers
 * around the real sources, and writes what the sources answered into src/console/demo/recordings/.
 *
 * Kubernetes cannot run here: the pods, `kubectl top` and the deployment's scale are written from the
 * test bed's simulated pods (the same names, limits and usage its cAdvisor metrics report).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { type AnyStepDefinition, stepContext } from '../src/compose.ts';
import type { Config } from '../src/config/load.ts';
import type { ServiceConfig } from '../src/config/schema.ts';
import { demoConfig } from '../src/console/demo/demo-config.ts';
import {
  fromNumber,
  type KubernetesRecording,
  type PostgresRecording,
  type PprofRecording,
  type PrometheusRecording,
  RECORDING_FILES,
  RECORDING_VERSION,
  type RecordedProfile,
  type RecordedQuery,
} from '../src/console/demo/recordings.ts';
import type { StepResult } from '../src/domain/finding.ts';
import type { PodInfo, PodUsage } from '../src/sources/kubernetes.ts';
import { DatabaseSource } from '../src/sources/postgres.ts';
import { type FetchedProfile, PprofSource } from '../src/sources/pprof.ts';
import { PrometheusSource } from '../src/sources/prometheus.ts';
import type { DatabaseReader, DbSources, PodLogReader } from '../src/steps/db/step.ts';
import { dbStep } from '../src/steps/db/step.ts';
import type { ClusterPort, LatencySources, MetricsPort } from '../src/steps/latency/step.ts';
import { latencyStep } from '../src/steps/latency/step.ts';
import type { ProfilingSources } from '../src/steps/profiling/capture.ts';
import { CPU_STEP } from '../src/steps/profiling/cpu.ts';
import { GOROUTINES_STEP } from '../src/steps/profiling/goroutines.ts';
import { HEAP_STEP } from '../src/steps/profiling/heap.ts';
import {
  type AegisApi,
  createDatabase,
  dropDatabase,
  type PodSpec,
  sleep,
  startAegisApi,
  startTestbed,
  type Testbed,
  waitFor,
} from '../test/support/testbed.ts';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'console', 'demo', 'recordings');
const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** The latency window the demo replays (the step's default), plus time for rate() to settle. */
const WINDOW_FILL_MS = 5 * 60_000 + 45_000;

const POD_NAMES = ['aegis-api-7d9f8b6c4-x2lkq', 'aegis-api-7d9f8b6c4-m9tqz', 'aegis-api-7d9f8b6c4-p4wnd'];
const podSpecs = (memoryOfFirst: number): PodSpec[] => [
  {
    name: POD_NAMES[0] as string,
    cpu_cores: 0.96,
    cpu_limit_cores: 1,
    memory_bytes: memoryOfFirst,
    memory_limit_bytes: GiB,
    throttled_ratio: 0.35,
  },
  {
    name: POD_NAMES[1] as string,
    cpu_cores: 0.93,
    cpu_limit_cores: 1,
    memory_bytes: 0.58 * GiB,
    memory_limit_bytes: GiB,
  },
  {
    name: POD_NAMES[2] as string,
    cpu_cores: 0.41,
    cpu_limit_cores: 1,
    memory_bytes: 0.44 * GiB,
    memory_limit_bytes: GiB,
  },
];

function log(message: string): void {
  process.stdout.write(`[record-demo] ${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// recording wrappers around the real sources

function recordingPrometheus(real: PrometheusSource, queries: RecordedQuery[]): MetricsPort {
  return {
    async instantQuery(expr, options = {}) {
      const result = await real.instantQuery(expr, options);
      const time = (options.time ?? new Date()).getTime() / 1000;
      queries.push({
        type: 'instant',
        expr,
        time,
        result: {
          resultType: result.resultType,
          samples: result.samples.map((s) => ({
            labels: s.labels,
            time: s.time,
            value: fromNumber(s.value),
          })),
        },
      });
      return result;
    },
    async rangeQuery(expr, range, options = {}) {
      const result = await real.rangeQuery(expr, range, options);
      queries.push({
        type: 'range',
        expr,
        range: { start: range.start.getTime() / 1000, end: range.end.getTime() / 1000, stepMs: range.stepMs },
        result: {
          resultType: 'matrix',
          series: result.series.map((s) => ({
            labels: s.labels,
            points: s.points.map((p) => ({ time: p.time, value: fromNumber(p.value) })),
          })),
        },
      });
      return result;
    },
  };
}

type Recorded<T> = { -readonly [K in keyof T]?: T[K] };

function recordingDatabase(real: DatabaseSource, into: Recorded<PostgresRecording>): DatabaseReader {
  const wrap =
    <K extends Exclude<keyof DatabaseReader, 'database'>>(name: K) =>
    async (q: Parameters<DatabaseReader[K]>[0]) => {
      // biome-ignore lint/suspicious/noExplicitAny: one wrapper for every reader method
      const result = await (real[name] as (q: any) => Promise<unknown>).call(real, q);
      (into as Record<string, unknown>)[name] = result;
      return result;
    };
  return {
    database: real.database,
    slowStatements: wrap('slowStatements'),
    tableStats: wrap('tableStats'),
    maintenanceCandidates: wrap('maintenanceCandidates'),
    largestTables: wrap('largestTables'),
    connections: wrap('connections'),
    longQueries: wrap('longQueries'),
    lockWaits: wrap('lockWaits'),
    // Index advice reads pg_stats, index definitions and HypoPG live; the recordings keep none of
    // them (demo-sources.ts answers "unverified"), so these pass through unrecorded.
    columnStats: (q) => real.columnStats(q),
    tableIndexes: (q) => real.tableIndexes(q),
    checkHypotheticalIndexes: (q) => real.checkHypotheticalIndexes(q),
  } as DatabaseReader;
}

function recordingPprof(
  real: PprofSource,
  profiles: RecordedProfile[],
): NonNullable<ProfilingSources['pprof']> {
  const port = {
    resolveTarget: (pod: string | undefined, signal?: AbortSignal) => real.resolveTarget(pod, signal),
    running: real.running.bind(real),
    async fetch(
      kind: Parameters<PprofSource['fetch']>[0],
      options: Parameters<PprofSource['fetch']>[1] = {},
    ) {
      const f: FetchedProfile = await real.fetch(kind, options);
      const debug = options.debug ?? 0;
      const sample = profiles.filter((p) => p.kind === kind && (p.debug ?? 0) === debug).length;
      const text = debug > 0;
      profiles.push({
        kind,
        ...(debug ? { debug } : {}),
        ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
        contentType: f.contentType,
        path: f.path,
        sample,
        stored: text ? 'gzip' : 'as-is',
        base64: (text ? gzipSync(f.bytes, { level: 9 }) : f.bytes).toString('base64'),
      });
      return f;
    },
  };
  return () => port;
}

/** kubectl's view of the test bed's simulated pods: what a Kubernetes API would say about them. */
function simulatedCluster(
  api: AegisApi,
  startedAt: Date,
): {
  port: ClusterPort;
  snapshot: () => Promise<Pick<KubernetesRecording, 'pods' | 'podMetrics' | 'replicas'>>;
} {
  const pods = async (): Promise<PodInfo[]> =>
    (await api.pods()).map((p, i) => ({
      name: p.name,
      namespace: 'aegis',
      phase: 'Running',
      node: `node-${String.fromCharCode(97 + i)}`,
      startedAt,
      labels: { app: 'aegis-api', 'pod-template-hash': '7d9f8b6c4' },
      containers: [
        {
          name: 'aegis-api',
          requests: { cpu: p.cpu_limit_cores / 2, memory: 512 * MiB },
          limits: { cpu: p.cpu_limit_cores, memory: p.memory_limit_bytes },
          ready: true,
          restartCount: 0,
          state: 'running',
          oomKilled: false,
        },
      ],
    }));
  const usage = async (): Promise<PodUsage[]> =>
    (await api.pods()).map((p) => ({
      name: p.name,
      timestamp: new Date(),
      windowMs: 15_000,
      containers: [{ name: 'aegis-api', cpu: p.cpu_cores, memory: p.working_set_bytes || p.memory_bytes }],
    }));
  return {
    port: {
      listPods: () => pods(),
      podMetrics: () => usage(),
      getDeploymentScale: async () => ({ replicas: POD_NAMES.length, current: POD_NAMES.length }),
    },
    async snapshot() {
      const iso = (d: Date | undefined) => (d ? d.toISOString() : undefined);
      return {
        pods: (await pods()).map((p) => ({
          name: p.name,
          namespace: p.namespace,
          phase: p.phase,
          ...(p.node ? { node: p.node } : {}),
          ...(p.startedAt ? { startedAt: iso(p.startedAt) } : {}),
          labels: p.labels,
          containers: p.containers.map((c) => ({ ...c, lastTermination: undefined })),
        })),
        podMetrics: (await usage()).map((u) => ({
          name: u.name,
          ...(u.windowMs !== undefined ? { windowMs: u.windowMs } : {}),
          containers: u.containers,
        })),
        replicas: POD_NAMES.length,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// database trouble

interface PlantedDb {
  readonly readerUrl: string;
  readonly name: string;
  close(): Promise<void>;
}

async function plantDatabaseTrouble(testbed: Testbed): Promise<PlantedDb> {
  const ctx = testbed.context;
  const db = await createDatabase(ctx, 'aegis');
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const reader = `aegis_reader_${db.name.split('_').at(-1)}`;
  await admin.query(`CREATE ROLE ${reader} LOGIN IN ROLE pg_monitor`);
  const clients: pg.Client[] = [];
  const session = async (application: string) => {
    const c = new pg.Client({ connectionString: db.url, application_name: application });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };

  log('database: findings (800k rows, no index on status/created_at/owner_id), accounts, churn');
  await admin.query(`CREATE TABLE findings (
    id bigserial PRIMARY KEY, status text NOT NULL, owner_id int NOT NULL, created_at timestamptz NOT NULL, body text)`);
  await admin.query(`INSERT INTO findings (status, owner_id, created_at, body)
    SELECT CASE WHEN i % 20 = 0 THEN 'open' ELSE 'closed' END, i % 5000, now() - i * interval '1 second', md5(i::text)
      FROM generate_series(1, 800000) AS i`);
  await admin.query('ANALYZE findings');
  await admin.query(
    "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric); INSERT INTO accounts SELECT i, 'owner-' || i, 100 FROM generate_series(1, 1000) AS i",
  );
  await admin.query('CREATE TABLE churn (id int, payload text) WITH (autovacuum_enabled = false)');
  await admin.query("INSERT INTO churn SELECT i, repeat('x', 200) FROM generate_series(1, 60000) AS i");
  await admin.query('ANALYZE churn');
  await admin.query('DELETE FROM churn WHERE id % 3 <> 0');

  // the statistics start now: the set-up above is not the application's workload
  await admin.query('SELECT pg_stat_statements_reset()');
  const app = await session('aegis-api');
  for (let i = 0; i < 8; i++) {
    await app.query('SELECT id, body FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT 20', [
      'open',
    ]);
    await app.query('SELECT count(*) FROM findings WHERE owner_id = $1', [4000 + i]);
    await app.query('SELECT * FROM accounts WHERE id = $1', [i + 1]);
  }
  await app.query('SELECT pg_stat_force_next_flush()');

  // a report query that has been running for minutes (runbook: DB query > 30 s pages)
  const reporter = await session('aegis-api');
  void reporter
    .query("SELECT pg_sleep(3600), 'monthly-report' AS job FROM findings WHERE status = 'open' LIMIT 1")
    .catch(() => undefined);
  // a migration holding a lock while idle in transaction, and a request waiting behind it
  const holder = await session('aegis-migrate');
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
  const waiter = await session('aegis-api');
  void waiter.query('UPDATE accounts SET balance = balance - 10 WHERE id = 42').catch(() => undefined);
  await waitFor(
    'the request to wait for the lock',
    async () => {
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = $1",
        [db.name],
      );
      return rows[0]?.n > 0;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  return {
    readerUrl: `postgres://${reader}@${ctx.postgres.host}:${ctx.postgres.port}/${db.name}`,
    name: db.name,
    async close() {
      const pids = clients.map((c) => (c as unknown as { processID?: number }).processID).filter(Boolean);
      await admin
        .query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids])
        .catch(() => undefined);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await admin.end();
      await dropDatabase(ctx, db.name);
      const c = new pg.Client({ connectionString: ctx.postgres.adminUrl });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${reader}`);
      await c.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------

async function runStep<S>(
  config: Config,
  step: AnyStepDefinition,
  words: string[],
  sources: S,
): Promise<StepResult> {
  const service = config.services[0] as ServiceConfig;
  const args = step.parse(words, { config });
  const result = await step.run(
    stepContext(config, sources, { service, signal: new AbortController().signal, progress: () => {} }),
    args,
  );
  const missing = result.parts.filter((p) => p.status !== 'ok');
  log(`${step.name}: ${result.severity} — ${result.headline}`);
  for (const p of missing) log(`  part ${p.name}: ${p.status} ${p.reason ?? ''}`);
  return result;
}

/** Written as biome formats JSON (two spaces), so `biome check` leaves the recordings alone. */
function write(name: string, data: unknown): number {
  const text = `${JSON.stringify(data, null, 2)}\n`;
  writeFileSync(join(OUT, name), text);
  return text.length;
}

async function main(): Promise<void> {
  const started = Date.now();
  log('starting the test bed (builds the Go aegis-api, starts Prometheus and PostgreSQL)');
  const testbed = await startTestbed();
  let api: AegisApi | undefined;
  let db: PlantedDb | undefined;
  try {
    api = await startAegisApi(testbed.context, {
      pathologies: [
        'slow-endpoint',
        'json-heavy',
        'regexp-per-request',
        'pool-exhausted-log',
        'slice-growth',
      ],
      pods: podSpecs(0.55 * GiB),
      loadRps: 20,
    });
    const apiStarted = new Date();
    log(`aegis-api ${api.instance} with ${POD_NAMES.length} simulated pods`);
    db = await plantDatabaseTrouble(testbed);

    // Let the 5-minute window fill; the first pod's memory creeps up meanwhile (a leak in the making).
    while (Date.now() - apiStarted.getTime() < WINDOW_FILL_MS) {
      const done = (Date.now() - apiStarted.getTime()) / WINDOW_FILL_MS;
      await api.setPods(podSpecs((0.55 + 0.25 * done) * GiB));
      log(`filling the 5m window: ${Math.round(done * 100)}%`);
      await sleep(20_000);
    }

    const env = { AEGIS_DEMO_DATABASE_URL: db.readerUrl };
    const base = demoConfig({}, env);
    const svc = base.services[0] as ServiceConfig;
    const config: Config = {
      ...base,
      services: [
        {
          ...svc,
          prometheus: {
            ...(svc.prometheus as NonNullable<ServiceConfig['prometheus']>),
            url: testbed.context.prometheusUrl,
          },
          pprof: { mode: 'url', base_url: api.pprofUrl, timeout: 10_000, max_bytes: 64 * MiB },
        },
      ],
    };

    // Step 1: latency
    const queries: RecordedQuery[] = [];
    const cluster = simulatedCluster(api, apiStarted);
    const prometheus = recordingPrometheus(
      new PrometheusSource({ url: testbed.context.prometheusUrl, timeoutMs: 10_000 }),
      queries,
    );
    const latencySources: LatencySources = { prometheus: () => prometheus, kubernetes: () => cluster.port };
    const latency = await runStep(config, latencyStep, [], latencySources);
    const prometheusRecordedAt = new Date().toISOString();
    const k8s = await cluster.snapshot();

    // Step 4: database (and the pods' logs for the pool check)
    const pgRec: Recorded<PostgresRecording> = {};
    const logText = await api.readLog();
    const poolLines = logText
      .split('\n')
      .filter((l) => l.includes('level='))
      .slice(-600);
    const logs = POD_NAMES.map((pod, i) => ({
      pod,
      lines: poolLines.filter((_, j) => j % POD_NAMES.length === i),
    }));
    const source = new DatabaseSource({
      url: db.readerUrl,
      service: svc.name,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 10_000,
    });
    const podLogs: PodLogReader = { recentLogs: async () => logs, poolSize: async () => 20 };
    const dbSources: DbSources = { database: () => recordingDatabase(source, pgRec), podLogs: () => podLogs };
    await runStep(config, dbStep, [], dbSources);
    await source.close();

    // Steps 2, 3, 5: profiles
    const profiles: RecordedProfile[] = [];
    const pprof = recordingPprof(new PprofSource(config.services[0] as ServiceConfig), profiles);
    await runStep(config, CPU_STEP, [], { pprof } satisfies ProfilingSources);
    await runStep(config, HEAP_STEP, [], { pprof } satisfies ProfilingSources);
    // the goroutine leak only now, at a low request rate, so the dumps stay small
    await api.setLoadRps(4);
    await api.setPathology('goroutine-leak', true);
    await sleep(12_000);
    await runStep(config, GOROUTINES_STEP, [], { pprof } satisfies ProfilingSources);

    mkdirSync(OUT, { recursive: true });
    const sizes = [
      write(RECORDING_FILES.prometheus, {
        version: RECORDING_VERSION,
        recordedAt: prometheusRecordedAt,
        queries,
      } satisfies PrometheusRecording),
      write(RECORDING_FILES.kubernetes, {
        version: RECORDING_VERSION,
        recordedAt: prometheusRecordedAt,
        note: "written from the test bed's simulated pods (no Kubernetes API runs where this was recorded)",
        ...k8s,
        configmap: { 'database.max_connections': '20', 'log.level': 'info' },
        container: { name: 'aegis-api', memoryLimit: '1Gi', memoryRequest: '512Mi' },
        logs,
      } satisfies KubernetesRecording),
      write(RECORDING_FILES.postgres, {
        version: RECORDING_VERSION,
        recordedAt: new Date().toISOString(),
        database: source.database,
        ...pgRec,
      } as PostgresRecording),
      write(RECORDING_FILES.pprof, {
        version: RECORDING_VERSION,
        recordedAt: new Date().toISOString(),
        profiles,
      } satisfies PprofRecording),
    ];
    const total = sizes.reduce((a, b) => a + b, 0);
    log(
      `wrote ${OUT}: ${Object.values(RECORDING_FILES).join(', ')} (${Math.round(total / 1024)} KiB in all)`,
    );
    log(`latency headline: ${latency.headline}`);
    log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    await db?.close().catch((e: unknown) => log(`database cleanup failed: ${String(e)}`));
    await api?.stop();
    await testbed.stop();
  }
}

await main();
