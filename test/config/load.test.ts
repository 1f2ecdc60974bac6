import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, findService, loadConfig, parseConfig } from '../../src/config/load.ts';
import { RUNBOOK_BASELINES } from '../../src/domain/thresholds.ts';

const MINIMAL = `services:
  - name: aegis-api
    deployment: aegis-api
`;

/** The problems a configuration text is refused with (fails the test when it is accepted). */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(text, 'aegis.yml', env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

const dir = mkdtempSync(join(tmpdir(), 'aegis-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loading a valid configuration', () => {
  it('fills the defaults: the runbook baselines and escalation rules, port 3000, pprof off', () => {
    const config = parseConfig(MINIMAL, 'aegis.yml', {});
    expect(config.services).toHaveLength(1);
    expect(config.slack.port).toBe(3000);
    expect(config.baselines).toEqual(RUNBOOK_BASELINES);
    expect(config.escalationRules.map((r) => r.id)).toEqual([
      'p99-sustained',
      'cpu-high',
      'memory-high',
      'error-rate',
      'db-query-long',
    ]);
    expect(findService(config, undefined).name).toBe('aegis-api');
  });

  it('reads secrets from the environment variables the file names, never from the file', () => {
    const config = parseConfig(`${MINIMAL}    database:\n      url_env: DIAG_URL\n`, 'aegis.yml', {
      DIAG_URL: 'postgres://ro:pw@db/aegis',
      SLACK_BOT_TOKEN: 'xoxb-1',
    });
    expect(config.secrets.databaseUrls).toEqual({ DIAG_URL: 'postgres://ro:pw@db/aegis' });
    expect(config.secrets.slackBotToken).toBe('xoxb-1');
  });

  it('when one bound of a baseline is overridden, the others keep the runbook value', () => {
    const config = parseConfig(`${MINIMAL}thresholds:\n  api_p99_latency_ms: { critical: 3000 }\n`, 'x', {});
    expect(config.baselines.api_p99_latency_ms).toMatchObject({ normal: 200, warning: 500, critical: 3000 });
  });

  it('reads durations in any unit into milliseconds', () => {
    const config = parseConfig(
      `${MINIMAL}    prometheus:\n      url: http://prometheus:9090\n      timeout: 1500ms\nescalation:\n  - { id: x, metric: cpu_percent, above: 90, for: 2m, action: page, prompt: "CPU" }\n`,
      'x',
      {},
    );
    expect(config.services[0]?.prometheus?.timeout).toBe(1500);
    expect(config.escalationRules[0]?.forMs).toBe(120_000);
  });
});

describe('an invalid configuration is refused with messages naming the key and what was expected', () => {
  it('when the file is not YAML, the message gives the line and column', () => {
    expect(problemsOf('services:\n  - name: a\n   deployment: b\n')).toEqual([
      'not valid YAML at line 3, column 1: Sequence item without - indicator',
    ]);
  });

  it('when the file is empty or has no services, services is required', () => {
    expect(problemsOf('')).toEqual(['services: required (expected a list)']);
    expect(problemsOf('slack: { port: 3000 }\n')).toEqual(['services: required (expected a list)']);
    expect(problemsOf('services: []\n')).toEqual([
      'services: expected at least one service, got an empty list',
    ]);
  });

  it('when the top level is a list, it says a mapping was expected', () => {
    expect(problemsOf('- a\n- b\n')).toEqual([
      '(top level): expected a mapping of settings (see aegis.example.yml), got a list of 2',
    ]);
  });

  it('when a URL is not http(s), the message names the key path and shows the value', () => {
    expect(problemsOf(`${MINIMAL}    prometheus:\n      url: prometheus:9090/api\n`)).toEqual([
      'services[0].prometheus.url: expected an http:// or https:// URL, got "prometheus:9090/api"',
    ]);
    expect(problemsOf(`${MINIMAL}grafana:\n  url: ftp://grafana\n`)).toEqual([
      'grafana.url: expected an http:// or https:// URL, got "ftp://grafana"',
    ]);
  });

  it('when a key is unknown, it is named with a suggestion or the keys allowed there', () => {
    expect(problemsOf(`${MINIMAL}    namespce: aegis\n`)).toEqual([
      'services[0]: unknown key "namespce" (did you mean "namespace"?)',
    ]);
    const [top] = problemsOf(`${MINIMAL}colour: red\n`);
    expect(top).toMatch(/^\(top level\): unknown key "colour" \(expected one of: slack, services, store, /);
    expect(problemsOf(`${MINIMAL}authorization:\n  nuke: { users: [U0123ABC] }\n`)[0]).toContain(
      'authorization: unknown key "nuke" (expected one of: scale, set_memory_limit,',
    );
  });

  it('refuses a second approver for paging, since a page must not wait for a second person', () => {
    expect(
      problemsOf(`${MINIMAL}authorization:\n  page: { users: [U0123ABC], second_approver: true }\n`),
    ).toEqual([
      'authorization.page.second_approver: paging never waits for a second approver: set it to false (or leave it out), got true',
    ]);
    const ok = parseConfig(
      `${MINIMAL}authorization:\n  page: { users: [U0123ABC], second_approver: false }\n`,
      'aegis.yml',
      {},
    );
    expect(ok.authorization.page?.second_approver).toBe(false);
  });

  it('when a pprof key belongs to the other mode, the suggestion comes from the mode that was written', () => {
    expect(
      problemsOf(`${MINIMAL}    pprof:\n      mode: url\n      base_url: http://a:6060\n      port: 6060\n`),
    ).toEqual([
      'services[0].pprof: unknown key "port" (expected one of: mode, base_url, timeout, max_bytes, app_packages)',
    ]);
  });

  it('when a duration has no unit or a wrong one, the message shows the accepted form', () => {
    expect(
      problemsOf(`${MINIMAL}    prometheus:\n      url: http://p:9090\n      timeout: 5 minutes\n`),
    ).toEqual(['services[0].prometheus.timeout: expected a duration such as 30s, 5m or 1h, got "5 minutes"']);
    expect(problemsOf(`${MINIMAL}    prometheus:\n      url: http://p:9090\n      timeout: 5\n`)).toEqual([
      'services[0].prometheus.timeout: expected a string, got 5',
    ]);
  });

  it('takes Prometheus 3 UTF-8 metric and label names, and refuses names that are neither form', () => {
    const metrics = (m: string) =>
      `${MINIMAL}    prometheus:\n      url: http://p:9090\n      metrics:\n${m}`;
    const c = parseConfig(
      metrics('        request_duration: http.server.request.duration\n        path_label: http.route\n'),
      'aegis.yml',
      {},
    );
    expect(c.services[0]?.prometheus?.metrics).toMatchObject({
      request_duration: 'http.server.request.duration',
      path_label: 'http.route',
    });
    expect(problemsOf(metrics('        requests_total: "up or vector(1)"\n'))).toEqual([
      'services[0].prometheus.metrics.requests_total: expected a Prometheus metric name (http_requests_total, or dotted as http.server.request.duration), got "up or vector(1)"',
    ]);
    expect(problemsOf(metrics('        path_label: __name__\n'))).toEqual([
      'services[0].prometheus.metrics.path_label: expected a Prometheus label name (path, or dotted as http.route; not starting with __), got "__name__"',
    ]);
  });

  it('when two services are default, both are named', () => {
    const text = `services:
  - { name: aegis-api, deployment: aegis-api, default: true }
  - { name: aegis-worker, deployment: aegis-worker, default: true }
`;
    expect(problemsOf(text)).toEqual([
      'services: expected exactly one service with default: true, found 2 (aegis-api, aegis-worker)',
    ]);
  });

  it('when several services name no default, it says so', () => {
    const text = `services:
  - { name: aegis-api, deployment: aegis-api }
  - { name: aegis-worker, deployment: aegis-worker }
`;
    expect(problemsOf(text)).toEqual([
      'services: expected exactly one service with default: true, found none',
    ]);
  });

  it('when the store names the diagnosed database variable, it is refused', () => {
    const text = `store:\n  database_url_env: DATABASE_URL\n${MINIMAL}    database:\n      url_env: DATABASE_URL\n`;
    expect(problemsOf(text, { DATABASE_URL: 'postgres://a@db/aegis' })).toEqual([
      'store.database_url_env: expected a database of the store\'s own, got DATABASE_URL, the database service "aegis-api" diagnoses',
    ]);
  });

  it('when the store variable points at the same database as the diagnosis one, it is refused', () => {
    const text = `store:\n  database_url_env: STORE_URL\n${MINIMAL}    database:\n      url_env: DATABASE_URL\n`;
    const problems = problemsOf(text, {
      STORE_URL: 'postgres://bot:secret@db.internal:5432/aegis',
      DATABASE_URL: 'postgres://ro:other@db.internal/aegis',
    });
    expect(problems).toEqual([
      'store.database_url_env: STORE_URL points at the database being diagnosed (DATABASE_URL); the store needs its own database',
    ]);
  });

  it('when the store variable is not set, it says which variable', () => {
    expect(problemsOf(`store:\n  database_url_env: STORE_URL\n${MINIMAL}`)).toEqual([
      'store.database_url_env: environment variable STORE_URL is not set',
    ]);
  });

  it('when thresholds are out of order, all three values are shown, defaults marked', () => {
    expect(
      problemsOf(
        `${MINIMAL}thresholds:\n  api_p99_latency_ms: { normal: 500, warning: 200, critical: 2000 }\n`,
      ),
    ).toEqual([
      'thresholds.api_p99_latency_ms: expected normal <= warning <= critical, got normal 500, warning 200, critical 2000',
    ]);
    expect(problemsOf(`${MINIMAL}thresholds:\n  cpu_percent: { critical: 70 }\n`)).toEqual([
      'thresholds.cpu_percent: expected normal <= warning <= critical, got normal 60 (runbook default), warning 80 (runbook default), critical 70',
    ]);
  });

  it('when a value must be one of a list, the list is given', () => {
    expect(problemsOf(`${MINIMAL}slack: { mode: sockets }\n`)).toEqual([
      'slack.mode: expected one of "http", "socket", got "sockets"',
    ]);
    expect(problemsOf(`${MINIMAL}    pprof: { mode: proxy }\n`)).toEqual([
      'services[0].pprof.mode: expected one of "url", "pod_proxy", got "proxy"',
    ]);
  });

  it('when Slack IDs, memory or replica bounds are wrong, each problem is listed at once', () => {
    const text = `${MINIMAL}actions: { min_replicas: 5, max_replicas: 2, max_memory: lots }
authorization:
  scale: { users: [bob] }
`;
    expect(problemsOf(text)).toEqual([
      'actions.max_memory: expected a memory quantity such as 512Mi or 4Gi, got "lots"',
      'actions: expected min_replicas <= max_replicas, got 5 > 2',
      'authorization.scale.users[0]: expected a Slack user ID such as U012ABCDEF, got "bob"',
    ]);
  });

  it('reads max_memory in every Kubernetes quantity form, and names the key for one Kubernetes refuses', () => {
    const bytes = (q: string) =>
      parseConfig(`${MINIMAL}actions: { max_memory: "${q}" }\n`, 'aegis.yml', {}).actions.max_memory.bytes;
    expect([bytes('2k'), bytes('1T'), bytes('1Pi'), bytes('+1Gi'), bytes('.5Gi'), bytes('1e9')]).toEqual([
      2000,
      1e12,
      2 ** 50,
      2 ** 30,
      2 ** 29,
      1e9,
    ]);
    expect(problemsOf(`${MINIMAL}actions: { max_memory: 4GB }\n`)).toEqual([
      'actions.max_memory: expected a memory quantity such as 512Mi or 4Gi, got "4GB"',
    ]);
    expect(problemsOf(`${MINIMAL}actions: { max_memory: "-1Gi" }\n`)).toEqual([
      'actions.max_memory: expected a memory quantity such as 512Mi or 4Gi, got "-1Gi"',
    ]);
  });

  it('when a required key is missing, it says required and the type', () => {
    expect(problemsOf('services:\n  - name: aegis-api\n')).toEqual([
      'services[0].deployment: required (expected a string)',
    ]);
  });
});

describe('loadConfig', () => {
  it('reads a file and names it in the error', () => {
    const path = join(dir, 'bad.yml');
    writeFileSync(path, `${MINIMAL}    prometheus:\n      url: nope\n`);
    expect(() => loadConfig(path, {})).toThrow(ConfigError);
    try {
      loadConfig(path, {});
    } catch (e) {
      expect((e as Error).message).toBe(
        `invalid configuration in ${path}:\n  - services[0].prometheus.url: expected an http:// or https:// URL, got "nope"`,
      );
    }
  });

  it('when the file is missing, it says how to create one', () => {
    const path = join(dir, 'missing.yml');
    expect(() => loadConfig(path, {})).toThrow(
      /file not found: set AEGIS_CONFIG or create .*aegis\.example\.yml/,
    );
  });

  it('takes the path from AEGIS_CONFIG', () => {
    const path = join(dir, 'good.yml');
    writeFileSync(path, MINIMAL);
    expect(loadConfig(undefined, { AEGIS_CONFIG: path }).source).toBe(path);
  });
});
