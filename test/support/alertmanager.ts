/**
 * A real Alertmanager (Debian's prometheus-alertmanager) for tests, and a Prometheus that evaluates
 * alerting rules and sends to it.
 *
 * - startAlertmanager: on a free loopback port, no clustering, storage in a temp dir, a generated
 *   config routing everything to one webhook receiver (the bot's /alertmanager) with small
 *   group_wait / group_interval / repeat_interval, bearer or basic credentials; killed by process
 *   group and its temp dir removed at stop().
 * - startAlertingPrometheus: a second Prometheus (the shared one stays unchanged) with rule files,
 *   sending to an Alertmanager, scraping only the given test-bed instances (or every shared target).
 * - postAlerts: POST /api/v2/alerts, as Prometheus does, for tests that need an alert without rules.
 */
import fsp from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import axios from 'axios';
import {
  findTools,
  freePort,
  makeTempDir,
  type PrometheusServer,
  removeTempDir,
  StopWaiting,
  spawnManaged,
  startPrometheus,
  stopManaged,
  type TestbedContext,
  TestbedSetupError,
  tail,
  waitFor,
} from './testbed.ts';

export type WebhookAuth =
  | { readonly bearer: string }
  | { readonly basic: { readonly username: string; readonly password: string } };

export interface AlertmanagerOptions {
  /** A whole alertmanager.yml to use as it is; the options below that shape the config are then ignored. */
  configYaml?: string;
  /** Where notifications go (the bot's POST /alertmanager). Without one, the receiver does nothing. */
  webhookUrl?: string;
  /** Credentials Alertmanager sends with each notification (webhook_configs.http_config). */
  webhookAuth?: WebhookAuth;
  /** Default ['alertname', 'service']. */
  groupBy?: string[];
  /** Alertmanager durations ("1s", "500ms"). Defaults 1s, 2s, 1m. */
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  /** Default 5m, as Alertmanager's; for alerts posted without endsAt. */
  resolveTimeout?: string;
  /** Default true. */
  sendResolved?: boolean;
  /**
   * Require basic auth on Alertmanager's own API and UI (--web.config.file): the user name and the
   * bcrypt hash of the password, as Alertmanager's web config wants it (the password itself is used
   * only to wait for readiness).
   */
  webBasicAuth?: { username: string; password: string; bcryptHash: string };
}

export interface AlertmanagerServer {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  configFile: string;
  logFile: string;
  readLog(): Promise<string>;
  /** Kill the process group and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** The Alertmanager config for a test: one receiver, everything routed to it. */
export function alertmanagerConfig(options: AlertmanagerOptions = {}): string {
  const lines = [
    'global:',
    `  resolve_timeout: ${options.resolveTimeout ?? '5m'}`,
    'route:',
    '  receiver: bot',
    `  group_by: ${JSON.stringify(options.groupBy ?? ['alertname', 'service'])}`,
    `  group_wait: ${options.groupWait ?? '1s'}`,
    `  group_interval: ${options.groupInterval ?? '2s'}`,
    `  repeat_interval: ${options.repeatInterval ?? '1m'}`,
    'receivers:',
    '  - name: bot',
  ];
  if (options.webhookUrl) {
    lines.push(
      '    webhook_configs:',
      `      - url: ${JSON.stringify(options.webhookUrl)}`,
      `        send_resolved: ${options.sendResolved ?? true}`,
      '        max_alerts: 0',
    );
    const auth = options.webhookAuth;
    if (auth) {
      lines.push('        http_config:');
      if ('bearer' in auth) {
        lines.push(
          '          authorization:',
          '            type: Bearer',
          `            credentials: ${JSON.stringify(auth.bearer)}`,
        );
      } else {
        lines.push(
          '          basic_auth:',
          `            username: ${JSON.stringify(auth.basic.username)}`,
          `            password: ${JSON.stringify(auth.basic.password)}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function startAlertmanager(options: AlertmanagerOptions = {}): Promise<AlertmanagerServer> {
  const binary = findTools().alertmanager;
  const dir = await makeTempDir('aegis-alertmanager-');
  const configFile = path.join(dir, 'alertmanager.yml');
  const logFile = path.join(dir, 'alertmanager.log');
  await fsp.writeFile(configFile, options.configYaml ?? alertmanagerConfig(options), { mode: 0o600 });
  const webConfigFile = path.join(dir, 'web.yml');
  if (options.webBasicAuth) {
    const { username, bcryptHash } = options.webBasicAuth;
    await fsp.writeFile(
      webConfigFile,
      `basic_auth_users:\n  ${JSON.stringify(username)}: ${JSON.stringify(bcryptHash)}\n`,
      { mode: 0o600 },
    );
  }

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnManaged(
      'alertmanager',
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
        ...(options.webBasicAuth ? [`--web.config.file=${webConfigFile}`] : []),
      ],
      { logFile, cwd: dir },
    );
    try {
      await waitFor(
        'Alertmanager to be ready',
        async () => {
          if (proc.hasExited()) throw new StopWaiting(`alertmanager exited:\n${await tail(logFile)}`);
          const web = options.webBasicAuth;
          const res = await axios.get(`${url}/-/ready`, {
            timeout: 1000,
            validateStatus: () => true,
            ...(web ? { auth: { username: web.username, password: web.password } } : {}),
          });
          return res.status === 200;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      let stopped = false;
      return {
        url,
        configFile,
        logFile,
        readLog: () => fsp.readFile(logFile, 'utf8'),
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await stopManaged(proc, 'SIGTERM', 5000);
          await removeTempDir(dir);
        },
      };
    } catch (error) {
      await stopManaged(proc, 'SIGKILL', 1000);
      lastError = `${error instanceof Error ? error.message : String(error)}\n${await tail(logFile)}`;
    }
  }
  await removeTempDir(dir);
  throw new TestbedSetupError(`Alertmanager did not start: ${lastError}`);
}

export interface AlertingPrometheusOptions {
  /** Rules files to evaluate (absolute paths, or relative to the repository root). */
  ruleFiles: string[];
  /** Alertmanager base URLs to send to. */
  alertmanagerUrls: string[];
  /**
   * Which test-bed instances to scrape: their `instance` (host:port, AegisApi.instance), with the
   * labels the shared Prometheus gives them, or 'shared' for every target of the run (other test
   * files' instances and their pathologies included).
   */
  targets: string[] | 'shared';
}

/** A second Prometheus that evaluates `ruleFiles` every second and sends alerts to Alertmanager. */
export async function startAlertingPrometheus(
  testbed: TestbedContext,
  options: AlertingPrometheusOptions,
): Promise<PrometheusServer> {
  const dir = await makeTempDir('aegis-alerting-prometheus-');
  try {
    let fileSdDir = testbed.fileSdDir;
    if (options.targets !== 'shared') {
      fileSdDir = path.join(dir, 'targets');
      await fsp.mkdir(fileSdDir, { recursive: true });
      await fsp.writeFile(
        path.join(fileSdDir, 'instances.json'),
        JSON.stringify(
          options.targets.map((instance) => ({
            targets: [instance],
            labels: { job: 'aegis-api', instance },
          })),
        ),
      );
    }
    const ruleFiles = options.ruleFiles.map((f) => path.resolve(repoRoot(), f));
    const server = await startPrometheus(findTools().prometheus, path.join(dir, 'prometheus'), {
      ruleFiles,
      alertmanagerUrls: options.alertmanagerUrls,
      fileSdDir,
    });
    let stopped = false;
    return {
      ...server,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        try {
          await server.stop();
        } finally {
          await removeTempDir(dir);
        }
      },
    };
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
}

function repoRoot(): string {
  return path.resolve(import.meta.dirname, '../..');
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/** POST /api/v2/alerts to Alertmanager, as Prometheus sends them; throws on any answer but 200. */
export async function postAlerts(alertmanagerUrl: string, alerts: PostableAlert[]): Promise<void> {
  const res = await axios.post(`${alertmanagerUrl.replace(/\/+$/, '')}/api/v2/alerts`, alerts, {
    timeout: 5000,
    validateStatus: () => true,
  });
  if (res.status !== 200) {
    throw new Error(`Alertmanager refused the alerts: HTTP ${res.status} ${JSON.stringify(res.data)}`);
  }
}

/** GET /api/v2/alerts: what Alertmanager holds now (for waiting on Prometheus to have sent). */
export async function alertsIn(
  alertmanagerUrl: string,
): Promise<{ labels: Record<string, string>; status: { state: string } }[]> {
  const res = await axios.get(`${alertmanagerUrl.replace(/\/+$/, '')}/api/v2/alerts`, { timeout: 5000 });
  return res.data as { labels: Record<string, string>; status: { state: string } }[];
}

export interface CapturedNotification {
  authorization: string | undefined;
  /** Alertmanager's webhook payload (version 4), parsed. */
  body: {
    version: string;
    groupKey: string;
    status: 'firing' | 'resolved';
    receiver: string;
    groupLabels: Record<string, string>;
    commonLabels: Record<string, string>;
    commonAnnotations: Record<string, string>;
    alerts: {
      status: 'firing' | 'resolved';
      labels: Record<string, string>;
      annotations: Record<string, string>;
      startsAt: string;
      endsAt: string;
      fingerprint: string;
    }[];
  };
}

export interface WebhookCapture {
  /** http://127.0.0.1:PORT/alertmanager */
  url: string;
  received: CapturedNotification[];
  close(): Promise<void>;
}

/** A stand-in webhook receiver for tests of the alerting pipeline itself: records every POST, answers 200. */
export async function startWebhookCapture(): Promise<WebhookCapture> {
  const received: CapturedNotification[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({
          authorization: req.headers.authorization,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as CapturedNotification['body'],
        });
        res.end('ok');
      } catch {
        res.statusCode = 400;
        res.end('not JSON');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/alertmanager`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
