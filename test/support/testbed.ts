/**
 * The integration test bed: real servers on free loopback ports.
 *
 * - buildAegisApi: builds the Go stand-in for the runbook's aegis-api (test/testbed/aegis-api).
 * - startPrometheus: Prometheus scraping every 1 s, with file_sd targets in a directory.
 * - startPostgres: a throw-away PostgreSQL 15 cluster with pg_stat_statements.
 * - startTestbed: all three at once (what test/global-setup.ts runs once per `vitest run`).
 * - startAegisApi: one Go instance per test file, registered as its own Prometheus target.
 * - createDatabase: a fresh database in the shared cluster.
 *
 * Every process runs in its own process group and is killed by group; everything is stopped and
 * every temp dir removed at teardown, and also when the process exits without tearing down.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import axios from 'axios';
import pg from 'pg';
import type {} from 'vitest';
import { freePort, StopWaiting, waitFor } from './wait.ts';

const execFileAsync = promisify(execFile);

/** What global setup hands every test file through `inject('testbed')`. Plain JSON. */
export interface TestbedContext {
  /** Path of the built aegis-api test-bed binary. */
  aegisApiBinary: string;
  /** Base URL of Prometheus, e.g. http://127.0.0.1:PORT (no trailing slash). */
  prometheusUrl: string;
  /** Directory of Prometheus file_sd target files (*.json). */
  fileSdDir: string;
  /** Directory for per-instance log files; removed at teardown. */
  logDir: string;
  postgres: PostgresInfo;
}

export interface PostgresInfo {
  host: string;
  port: number;
  /** Superuser `postgres` on the `postgres` maintenance database. */
  adminUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: TestbedContext;
  }
}

export const PATHOLOGY_NAMES = [
  'regexp-per-request',
  'json-heavy',
  'excessive-logging',
  'string-concat',
  'goroutine-leak',
  'mutex-hotspot',
  'slice-growth',
  'retained-objects',
  'slow-endpoint',
  'errors-5xx',
  'pool-exhausted-log',
] as const;

export type PathologyName = (typeof PATHOLOGY_NAMES)[number];

/** The Go function each pathology's work lives in, as it appears in profiles (package main). */
export const PATHOLOGY_FUNCTIONS: Record<PathologyName, string> = {
  'regexp-per-request': 'main.compileFilterPerRequest',
  'json-heavy': 'main.encodeReportJSON',
  'excessive-logging': 'main.logRequestVerbose',
  'string-concat': 'main.buildCSVConcat',
  'goroutine-leak': 'main.leakyWorker',
  'mutex-hotspot': 'main.lockedCounterUpdate',
  'slice-growth': 'main.appendAuditTrail',
  'retained-objects': 'main.retainSnapshot',
  'slow-endpoint': 'main.slowSearchQuery',
  'errors-5xx': 'main.failWithInternalError',
  'pool-exhausted-log': 'main.acquireDBConnection',
};

export interface PathologyState {
  name: PathologyName;
  enabled: boolean;
  description: string;
  /** errors-5xx only: share of business requests that answer 500 (default 0.2). */
  ratio?: number;
}

/** One simulated pod for POST /admin/pods; omitted fields keep their current (or default) value. */
export interface PodSpec {
  name?: string;
  /** CPU use in cores; container_cpu_usage_seconds_total grows at this rate. Default 0.2. */
  cpu_cores?: number;
  /** CPU limit in cores: container_spec_cpu_quota = this * 100000 (period 100000). Default 1. */
  cpu_limit_cores?: number;
  /** container_memory_usage_bytes. Default 256 MiB. */
  memory_bytes?: number;
  /** container_memory_working_set_bytes. Defaults to memory_bytes when that is given. */
  working_set_bytes?: number;
  /** container_spec_memory_limit_bytes. Default 1 GiB. */
  memory_limit_bytes?: number;
  /** Share of CFS periods throttled (0..1). Default 0. */
  throttled_ratio?: number;
}

export interface PodState extends Required<PodSpec> {
  cpu_usage_seconds_total: number;
}

export interface AegisApiOptions {
  pathologies?: PathologyName[];
  /** A number of default pods, or the pods to simulate. Default 3 default pods. */
  pods?: number | PodSpec[];
  /** Requests per second of the internal load generator. Default 20. */
  loadRps?: number;
  /** Extra command-line flags for the binary. */
  args?: string[];
}

export interface AegisApi {
  /** http://127.0.0.1:PORT: /api/*, /metrics, /admin/*. */
  baseUrl: string;
  /** http://127.0.0.1:PORT serving /debug/pprof/*. */
  pprofUrl: string;
  /** The Prometheus `instance` label of this target (host:port of baseUrl). */
  instance: string;
  /** The file the service's stdout and stderr go to. */
  logFile: string;
  pid: number;
  setPathology(
    name: PathologyName,
    enabled: boolean,
    options?: { ratio?: number },
  ): Promise<PathologyState[]>;
  pathologies(): Promise<PathologyState[]>;
  /** Replace the simulated pods (the array's length is the pod count); counters keep growing. */
  setPods(specs: PodSpec[]): Promise<PodState[]>;
  pods(): Promise<PodState[]>;
  setLoadRps(rps: number): Promise<void>;
  readLog(): Promise<string>;
  /** Remove the Prometheus target and kill the process. Safe to call twice. */
  stop(): Promise<void>;
}

export class TestbedSetupError extends Error {
  override name = 'TestbedSetupError';
}

// ---------------------------------------------------------------------------------------------
// processes

export interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  hasExited(): boolean;
}

const live = new Set<Managed>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a run ends without teardown: synchronous kill and cleanup only.
  process.on('exit', () => {
    for (const m of live) killGroup(m.child.pid, 'SIGKILL');
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // nothing more can be done while exiting
      }
    }
  });
}

/**
 * A detached watchdog process for the run that owns the shared servers: if that process dies
 * without tearing down (SIGKILL), the watchdog kills the process groups and removes the temp dirs
 * listed in its state file. (aegis-api instances exit by themselves when their parent goes away.)
 */
let watchdog: { child: ChildProcess; stateFile: string } | undefined;

const WATCHDOG_SCRIPT = `
const fs = require('node:fs');
const [parent, stateFile] = process.argv.slice(1);
setInterval(() => {
  try { process.kill(Number(parent), 0); return; } catch {}
  let state = { groups: [], dirs: [] };
  try { state = JSON.parse(fs.readFileSync(stateFile, 'utf8')); } catch {}
  for (const g of state.groups) { try { process.kill(-g, 'SIGKILL'); } catch {} }
  for (const d of state.dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
  try { fs.rmSync(stateFile, { force: true }); } catch {}
  process.exit(0);
}, 1000);
`;

function startWatchdog(): void {
  if (watchdog) return;
  const stateFile = path.join(os.tmpdir(), `aegis-testbed-watchdog-${process.pid}-${Date.now()}.json`);
  const child = spawn(process.execPath, ['-e', WATCHDOG_SCRIPT, String(process.pid), stateFile], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  watchdog = { child, stateFile };
  syncWatchdog();
}

function syncWatchdog(): void {
  if (!watchdog) return;
  const state = {
    groups: [...live].map((m) => m.child.pid).filter((pid): pid is number => pid !== undefined),
    dirs: [...tempDirs],
  };
  const tmp = `${watchdog.stateFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, watchdog.stateFile);
}

function stopWatchdog(): void {
  if (!watchdog) return;
  killGroup(watchdog.child.pid, 'SIGKILL');
  fs.rmSync(watchdog.stateFile, { force: true });
  watchdog = undefined;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface SpawnOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

export function spawnManaged(name: string, command: string, args: string[], options: SpawnOptions): Managed {
  installExitHook();
  const fd = fs.openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true, // own process group, killed by group
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
    });
  } finally {
    fs.closeSync(fd);
  }
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    });
    child.once('error', (error) => {
      done = true;
      fs.appendFileSync(options.logFile, `\n[testbed] could not start ${command}: ${error.message}\n`);
      resolve(null);
    });
  });
  child.unref();
  const managed: Managed = { name, child, exited, hasExited: () => done };
  live.add(managed);
  syncWatchdog();
  void exited.then(() => forget(managed));
  return managed;
}

function forget(m: Managed): void {
  if (live.delete(m)) syncWatchdog();
}

/** Ask politely (signal to the leader), then kill the whole group. */
export async function stopManaged(
  m: Managed,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<void> {
  if (!m.hasExited() && m.child.pid !== undefined) {
    try {
      process.kill(m.child.pid, signal);
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    if ((await Promise.race([m.exited, timedOut])) === 'timeout') killGroup(m.child.pid, 'SIGKILL');
    clearTimeout(timer);
    await m.exited;
  }
  killGroup(m.child.pid, 'SIGKILL'); // stragglers in the group
  forget(m);
}

// ---------------------------------------------------------------------------------------------
// small helpers (in wait.ts, which unit tests may use: it starts nothing)

export { freePort, StopWaiting, sleep, waitFor } from './wait.ts';

export async function tail(file: string, lines = 30): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function makeTempDir(prefix: string): Promise<string> {
  installExitHook();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  syncWatchdog();
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
  syncWatchdog();
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// tools

export interface TestbedTools {
  go: string;
  prometheus: string;
  /** Debian's `prometheus-alertmanager` (upstream calls it `alertmanager`). */
  alertmanager: string;
  amtool: string;
  promtool: string;
  /** Directory holding postgres and initdb (PostgreSQL 15). */
  pgBin: string;
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, command);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** hypopg.control in the extension directory of the PostgreSQL whose binaries are in pgBin (Debian or a plain prefix). */
function hypopgInstalled(pgBin: string): boolean {
  const candidates = [
    path.resolve(
      pgBin,
      '../../../../share/postgresql',
      path.basename(path.resolve(pgBin, '..')),
      'extension',
    ),
    path.resolve(pgBin, '../share/postgresql/extension'),
    path.resolve(pgBin, '../share/extension'),
  ];
  return candidates.some((dir) => fs.existsSync(path.join(dir, 'hypopg.control')));
}

/**
 * Find go, prometheus, promtool, Alertmanager, amtool and the PostgreSQL 15 binaries (with the HypoPG
 * extension), or throw naming the Debian packages to install. Overrides: AEGIS_TESTBED_GO,
 * AEGIS_TESTBED_PROMETHEUS, AEGIS_TESTBED_PROMTOOL, AEGIS_TESTBED_ALERTMANAGER, AEGIS_TESTBED_AMTOOL,
 * AEGIS_TESTBED_PG_BIN.
 */
export function findTools(): TestbedTools {
  const missing: string[] = [];
  const resolve = (override: string | undefined, command: string, extraDirs: string[] = []) =>
    override ? (executable(override) ? override : undefined) : onPath(command, extraDirs);
  const go = resolve(process.env.AEGIS_TESTBED_GO, 'go', ['/usr/lib/go/bin', '/usr/local/go/bin']);
  if (!go) missing.push('`go` (apt-get install golang-go)');
  const prometheus = resolve(process.env.AEGIS_TESTBED_PROMETHEUS, 'prometheus');
  if (!prometheus) missing.push('`prometheus` (apt-get install prometheus)');
  const promtool = resolve(process.env.AEGIS_TESTBED_PROMTOOL, 'promtool');
  if (!promtool) missing.push('`promtool` (apt-get install prometheus)');
  const alertmanager =
    resolve(process.env.AEGIS_TESTBED_ALERTMANAGER, 'prometheus-alertmanager') ??
    (process.env.AEGIS_TESTBED_ALERTMANAGER ? undefined : onPath('alertmanager'));
  if (!alertmanager) missing.push('`prometheus-alertmanager` (apt-get install prometheus-alertmanager)');
  const amtool = resolve(process.env.AEGIS_TESTBED_AMTOOL, 'amtool');
  if (!amtool) missing.push('`amtool` (apt-get install prometheus-alertmanager)');
  const pgBin = process.env.AEGIS_TESTBED_PG_BIN || '/usr/lib/postgresql/15/bin';
  const pgMissing = ['postgres', 'initdb'].filter((b) => !executable(path.join(pgBin, b)));
  if (pgMissing.length > 0) {
    missing.push(`PostgreSQL 15 ${pgMissing.join(' and ')} in ${pgBin} (apt-get install postgresql)`);
  } else if (!hypopgInstalled(pgBin)) {
    missing.push(
      `the HypoPG extension for the PostgreSQL in ${pgBin} (apt-get install postgresql-15-hypopg)`,
    );
  }
  if (missing.length > 0 || !go || !prometheus || !promtool || !alertmanager || !amtool) {
    throw new TestbedSetupError(
      `The integration test bed needs programs that are not installed: ${missing.join('; ')}. ` +
        'On Debian 12: apt-get install -y golang-go prometheus prometheus-alertmanager postgresql postgresql-15-hypopg. ' +
        'Tests are never skipped for this.',
    );
  }
  return { go, prometheus, promtool, alertmanager, amtool, pgBin };
}

// ---------------------------------------------------------------------------------------------
// Go service build

/**
 * Build test/testbed/aegis-api into outDir/aegis-api with no network access (standard library
 * only). The Go build cache lives in the OS temp dir and is kept between runs, as a cache.
 */
export async function buildAegisApi(goBin: string, outDir: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const cacheRoot = path.join(os.tmpdir(), `aegis-testbed-go-${uid}`);
  await fsp.mkdir(cacheRoot, { recursive: true });
  const out = path.join(outDir, 'aegis-api');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOCACHE: path.join(cacheRoot, 'cache'),
    GOPATH: path.join(cacheRoot, 'gopath'),
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOENV: 'off',
    GO111MODULE: 'on',
    CGO_ENABLED: '0', // no C compiler needed
  };
  try {
    await execFileAsync(goBin, ['build', '-o', out, '.'], {
      cwd: path.join(repoRoot, 'test/testbed/aegis-api'),
      env,
      maxBuffer: 16 << 20,
    });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new TestbedSetupError(`go build of the aegis-api test bed failed: ${e.stderr || e.message}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prometheus

export interface PrometheusServer {
  url: string;
  fileSdDir: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Alerting rules files to evaluate (every 1 s); paths as given, absolute is safest. */
  ruleFiles?: string[];
  /** Alertmanagers to send firing and resolved alerts to, e.g. http://127.0.0.1:PORT. */
  alertmanagerUrls?: string[];
  /** Read file_sd targets from here (e.g. the shared test bed's fileSdDir) instead of dir/targets. */
  fileSdDir?: string;
}

/**
 * Prometheus scraping the file_sd targets every 1 s. With options it also evaluates alerting rules
 * and sends to Alertmanagers: start a second one for that, so the shared one stays as every test expects.
 */
export async function startPrometheus(
  binary: string,
  dir: string,
  options: PrometheusOptions = {},
): Promise<PrometheusServer> {
  const fileSdDir = options.fileSdDir ?? path.join(dir, 'targets');
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'prometheus.yml');
  const logFile = path.join(dir, 'prometheus.log');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.mkdir(fileSdDir, { recursive: true });
  const ruleFiles = options.ruleFiles ?? [];
  const alertmanagers = (options.alertmanagerUrls ?? []).map((u) => new URL(u));
  await fsp.writeFile(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      '  evaluation_interval: 1s',
      ...(ruleFiles.length > 0 ? ['rule_files:', ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
      ...(alertmanagers.length > 0
        ? [
            'alerting:',
            '  alertmanagers:',
            ...alertmanagers.flatMap((u) => [
              `    - scheme: ${u.protocol.replace(':', '')}`,
              `      path_prefix: ${JSON.stringify(u.pathname)}`,
              '      timeout: 5s',
              `      static_configs: [{ targets: [${JSON.stringify(u.host)}] }]`,
            ]),
          ]
        : []),
      'scrape_configs:',
      '  - job_name: aegis-api',
      '    file_sd_configs:',
      `      - files: [${JSON.stringify(path.join(fileSdDir, '*.json'))}]`,
      '        refresh_interval: 1s',
      '',
    ].join('\n'),
  );

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnManaged(
      'prometheus',
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=2h',
        '--log.level=warn',
      ],
      { logFile, cwd: dir },
    );
    try {
      await waitFor(
        'Prometheus to be ready',
        async () => {
          if (proc.hasExited()) throw new StopWaiting('prometheus exited');
          const res = await axios.get(`${url}/-/ready`, { timeout: 1000, validateStatus: () => true });
          return res.status === 200;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      return { url, fileSdDir, logFile, stop: () => stopManaged(proc, 'SIGTERM', 10_000) };
    } catch (error) {
      await stopManaged(proc, 'SIGKILL', 1000);
      lastError = `${error instanceof Error ? error.message : String(error)}\n${await tail(logFile)}`;
    }
  }
  throw new TestbedSetupError(`Prometheus did not start: ${lastError}`);
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** Instant query; returns the vector (or a scalar as one sample with no labels). */
export async function promQuery(prometheusUrl: string, query: string): Promise<PromSample[]> {
  const res = await axios.get(`${prometheusUrl}/api/v1/query`, { params: { query }, timeout: 5000 });
  const data = res.data.data as
    | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
    | { resultType: 'scalar'; result: [number, string] };
  if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
  if (data.resultType !== 'vector') throw new Error(`unexpected result type for ${query}`);
  return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export interface PostgresServer extends PostgresInfo {
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined; // not root: run as ourselves
  try {
    const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new TestbedSetupError(
      'PostgreSQL refuses to run as root and there is no `postgres` OS user (apt-get install postgresql creates it).',
    );
  }
}

/** A throw-away PostgreSQL cluster on 127.0.0.1 with pg_stat_statements in every new database. */
export async function startPostgres(pgBin: string): Promise<PostgresServer> {
  const ids = await postgresIds();
  const dir = await makeTempDir('aegis-testbed-pg-');
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  if (ids) await fsp.chown(dir, ids.uid, ids.gid);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
  try {
    await execFileAsync(
      path.join(pgBin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { env, cwd: dir, uid: ids?.uid, gid: ids?.gid, maxBuffer: 16 << 20 },
    );
  } catch (error) {
    await removeTempDir(dir);
    const e = error as { stderr?: string; message: string };
    throw new TestbedSetupError(`initdb failed: ${e.stderr || e.message}`);
  }

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawnManaged(
      'postgres',
      path.join(pgBin, 'postgres'),
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=64MB',
        '-c',
        'max_connections=200',
        '-c',
        'shared_preload_libraries=pg_stat_statements',
        '-c',
        'pg_stat_statements.track=all',
        '-c',
        'pg_stat_statements.max=10000',
        '-c',
        'logging_collector=off',
      ],
      { logFile, env, cwd: dir, uid: ids?.uid, gid: ids?.gid },
    );
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitFor(
        'PostgreSQL to accept connections',
        async () => {
          if (proc.hasExited()) throw new StopWaiting('postgres exited');
          const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
          try {
            await client.connect();
            await client.query('SELECT 1');
            return true;
          } finally {
            await client.end().catch(() => undefined);
          }
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      for (const db of ['template1', 'postgres']) {
        const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/${db}` });
        await client.connect();
        try {
          await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        } finally {
          await client.end();
        }
      }
      return {
        host: '127.0.0.1',
        port,
        adminUrl,
        dir,
        logFile,
        stop: async () => {
          // SIGINT is "fast shutdown": it does not wait for clients to disconnect.
          await stopManaged(proc, 'SIGINT', 10_000);
          await removeTempDir(dir);
        },
      };
    } catch (error) {
      await stopManaged(proc, 'SIGKILL', 1000);
      lastError = `${error instanceof Error ? error.message : String(error)}\n${await tail(logFile)}`;
    }
  }
  await removeTempDir(dir);
  throw new TestbedSetupError(`PostgreSQL did not start: ${lastError}`);
}

export interface TestDatabase {
  /** The database's actual name: the prefix plus a random suffix. */
  name: string;
  /** Superuser `postgres` connected to the new database. */
  url: string;
  /** Superuser `postgres` connected to the `postgres` maintenance database. */
  adminUrl: string;
}

/**
 * Create a fresh database (with pg_stat_statements, from template1). Its name is `prefix` plus a
 * random suffix, so test files running in parallel never collide.
 */
export async function createDatabase(
  testbed: TestbedContext | PostgresInfo,
  prefix = 'test',
): Promise<TestDatabase> {
  const info = 'postgres' in testbed ? testbed.postgres : testbed;
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 40) || 'test';
  const name = `${clean}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: info.adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return { name, url: `postgres://postgres@${info.host}:${info.port}/${name}`, adminUrl: info.adminUrl };
}

/** Drop a database made by createDatabase, disconnecting whoever is still in it. */
export async function dropDatabase(testbed: TestbedContext | PostgresInfo, name: string): Promise<void> {
  const info = 'postgres' in testbed ? testbed.postgres : testbed;
  const client = new pg.Client({ connectionString: info.adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// the whole bed (global setup)

export interface Testbed {
  context: TestbedContext;
  stop(): Promise<void>;
}

/** Build the Go binary, start Prometheus and PostgreSQL. On any failure, stop what started. */
export async function startTestbed(): Promise<Testbed> {
  const tools = findTools();
  startWatchdog();
  const runDir = await makeTempDir('aegis-testbed-');
  const logDir = path.join(runDir, 'logs');
  const binDir = path.join(runDir, 'bin');
  const promDir = path.join(runDir, 'prometheus');
  await Promise.all([logDir, binDir, promDir].map((d) => fsp.mkdir(d, { recursive: true })));

  const [binary, prometheus, postgres] = await Promise.allSettled([
    buildAegisApi(tools.go, binDir),
    startPrometheus(tools.prometheus, promDir),
    startPostgres(tools.pgBin),
  ]);
  const stopAll = async (): Promise<void> => {
    await reapAegisApis(logDir);
    const stops: Promise<void>[] = [];
    if (prometheus.status === 'fulfilled') stops.push(prometheus.value.stop());
    if (postgres.status === 'fulfilled') stops.push(postgres.value.stop());
    const results = await Promise.allSettled(stops);
    await removeTempDir(runDir);
    stopWatchdog();
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  if (binary.status === 'rejected' || prometheus.status === 'rejected' || postgres.status === 'rejected') {
    const reasons = [binary, prometheus, postgres]
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)));
    await stopAll().catch(() => undefined);
    throw new TestbedSetupError(`The test bed did not start:\n${reasons.join('\n')}`);
  }
  return {
    context: {
      aegisApiBinary: binary.value,
      prometheusUrl: prometheus.value.url,
      fileSdDir: prometheus.value.fileSdDir,
      logDir,
      postgres: { host: postgres.value.host, port: postgres.value.port, adminUrl: postgres.value.adminUrl },
    },
    stop: stopAll,
  };
}

/**
 * Kill aegis-api instances whose test file never stopped them (their pid files are still in
 * logDir). The binary also exits by itself when its parent process goes away.
 */
async function reapAegisApis(logDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(logDir);
  } catch {
    return;
  }
  for (const file of names.filter((n) => n.endsWith('.pid'))) {
    const pid = Number(await fsp.readFile(path.join(logDir, file), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      const cmdline = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('aegis-api')) killGroup(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------------------------------------
// aegis-api instances (one per test file)

let instanceSeq = 0;

async function readStartupLine(proc: Managed, logFile: string): Promise<{ http: string; pprof: string }> {
  return waitFor(
    'aegis-api to print its addresses',
    async () => {
      const text = await fsp.readFile(logFile, 'utf8');
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const parsed = JSON.parse(line) as { http?: unknown; pprof?: unknown };
          if (typeof parsed.http === 'string' && typeof parsed.pprof === 'string') {
            return { http: parsed.http, pprof: parsed.pprof };
          }
        } catch {
          // a partial line: read again
        }
      }
      if (proc.hasExited()) throw new StopWaiting(`aegis-api exited:\n${await tail(logFile)}`);
      return undefined;
    },
    { timeoutMs: 15_000, intervalMs: 25 },
  );
}

/**
 * Start an aegis-api test-bed instance, register it with Prometheus as its own target
 * (job="aegis-api", instance=host:port) and wait until Prometheus reports up == 1.
 */
export async function startAegisApi(
  testbed: TestbedContext,
  options: AegisApiOptions = {},
): Promise<AegisApi> {
  const id = `aegis-api-${process.pid}-${++instanceSeq}-${Math.random().toString(36).slice(2, 8)}`;
  const logFile = path.join(testbed.logDir, `${id}.log`);
  const pidFile = path.join(testbed.logDir, `${id}.pid`);
  const targetFile = path.join(testbed.fileSdDir, `${id}.json`);
  const podCount = typeof options.pods === 'number' ? options.pods : (options.pods?.length ?? 3);
  const args = [
    '-addr=127.0.0.1:0',
    '-pprof-addr=127.0.0.1:0',
    `-load-rps=${options.loadRps ?? 20}`,
    `-pods=${podCount}`,
    ...(options.pathologies?.length ? [`-pathologies=${options.pathologies.join(',')}`] : []),
    ...(options.args ?? []),
  ];
  const proc = spawnManaged(id, testbed.aegisApiBinary, args, { logFile });
  if (proc.child.pid !== undefined) await fsp.writeFile(pidFile, String(proc.child.pid));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await fsp.rm(targetFile, { force: true });
    await stopManaged(proc, 'SIGTERM', 5000);
    await fsp.rm(pidFile, { force: true });
  };

  try {
    const addresses = await readStartupLine(proc, logFile);
    const instance = addresses.http;
    const baseUrl = `http://${addresses.http}`;
    const pprofUrl = `http://${addresses.pprof}`;
    const admin = axios.create({ baseURL: baseUrl, timeout: 5000 });

    if (Array.isArray(options.pods)) await admin.post('/admin/pods', options.pods);

    // write-then-rename so Prometheus never reads half a file (the temp name does not match *.json)
    const tmp = path.join(testbed.fileSdDir, `.${id}.tmp`);
    await fsp.writeFile(
      tmp,
      JSON.stringify([{ targets: [instance], labels: { job: 'aegis-api', instance } }]),
    );
    await fsp.rename(tmp, targetFile);

    await waitFor(
      `Prometheus to scrape ${instance}`,
      async () => {
        if (proc.hasExited()) throw new StopWaiting(`aegis-api exited:\n${await tail(logFile)}`);
        const samples = await promQuery(testbed.prometheusUrl, `up{instance="${instance}"}`);
        return samples.some((s) => s.value === 1);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const adminCall = async <T>(method: 'get' | 'post', url: string, body?: unknown): Promise<T> => {
      const res = await admin.request<T>({ method, url, data: body, validateStatus: () => true });
      if (res.status !== 200) {
        throw new Error(
          `aegis-api ${method.toUpperCase()} ${url} answered ${res.status}: ${JSON.stringify(res.data)}`,
        );
      }
      return res.data;
    };

    return {
      baseUrl,
      pprofUrl,
      instance,
      logFile,
      pid: proc.child.pid ?? -1,
      setPathology: (name, enabled, opts) =>
        adminCall<PathologyState[]>('post', '/admin/pathology', { name, enabled, ...opts }),
      pathologies: () => adminCall<PathologyState[]>('get', '/admin/pathology'),
      setPods: (specs) => adminCall<PodState[]>('post', '/admin/pods', specs),
      pods: () => adminCall<PodState[]>('get', '/admin/pods'),
      setLoadRps: async (rps) => {
        await adminCall('post', '/admin/load', { rps });
      },
      readLog: () => fsp.readFile(logFile, 'utf8'),
      stop,
    };
  } catch (error) {
    const log = await tail(logFile);
    await stop();
    throw new TestbedSetupError(
      `aegis-api test-bed instance did not come up: ${error instanceof Error ? error.message : String(error)}\n` +
        `log (${logFile}):\n${log}`,
    );
  }
}
