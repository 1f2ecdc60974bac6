import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RUNBOOK_ESCALATION_RULES } from '../../src/domain/escalation.ts';
import { type BaselineMetric, RUNBOOK_BASELINES } from '../../src/domain/thresholds.ts';
import { updatingGolden } from '../slack/render/golden.ts';
import {
  type AlertRule,
  allRules,
  PROMETHEUS_RULE_FILE,
  prometheusRuleYaml,
  RULES_FILE,
  type RuleGroup,
  readRuleGroups,
  repoRoot,
  TEST_RULES_FILE,
  testRulesYaml,
} from '../support/alert-rules.ts';
import { postAlerts, startAlertmanager, startWebhookCapture } from '../support/alertmanager.ts';
import { type AegisApi, findTools, startAegisApi, waitFor } from '../support/testbed.ts';

const execFileAsync = promisify(execFile);
const testbed = inject('testbed');
const tools = findTools();
const groups = readRuleGroups();
const rules = allRules(groups);

async function run(binary: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, { timeout: 30_000 });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'aegis-alert-rules-'));
});
afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

/** promtool check rules on groups written to a file of their own. */
async function promtoolCheck(name: string, ruleGroups: RuleGroup[]): Promise<string> {
  const file = path.join(tmp, name);
  await fsp.writeFile(file, stringify({ groups: ruleGroups }));
  const result = await run(tools.promtool, ['check', 'rules', file]);
  expect(result.ok, result.output).toBe(true);
  return result.output;
}

/** The bound a rule's comparison must use, in the expression's unit (seconds or percent). */
type Bound = { metric: BaselineMetric; column: 'warning' | 'critical' } | { escalation: string };
const RULE_BOUNDS: Record<string, Bound> = {
  AegisApiP99LatencySustained: { escalation: 'p99-sustained' },
  AegisApiCpuHigh: { escalation: 'cpu-high' },
  AegisApiMemoryHigh: { escalation: 'memory-high' },
  AegisApiErrorRateHigh: { escalation: 'error-rate' },
  AegisApiDbQueryLong: { escalation: 'db-query-long' },
  AegisApiP50LatencyWarning: { metric: 'api_p50_latency_ms', column: 'warning' },
  AegisApiP50LatencyCritical: { metric: 'api_p50_latency_ms', column: 'critical' },
  AegisApiP99LatencyWarning: { metric: 'api_p99_latency_ms', column: 'warning' },
  AegisApiErrorRateWarning: { metric: 'error_rate_percent', column: 'warning' },
  AegisApiCpuWarning: { metric: 'cpu_percent', column: 'warning' },
  AegisApiMemoryWarning: { metric: 'memory_percent', column: 'warning' },
  AegisApiDbQueryTimeWarning: { metric: 'db_query_ms', column: 'warning' },
  AegisApiDbQueryTimeCritical: { metric: 'db_query_ms', column: 'critical' },
};

/** `expr > 2` → { query: 'expr', threshold: 2 }: the comparison every rule ends with. */
function splitComparison(rule: AlertRule): { query: string; threshold: number } {
  const m = /^(.*\S)\s*>\s*([0-9.]+)$/s.exec(rule.expr.trim());
  if (!m?.[1] || !m[2]) throw new Error(`${rule.alert}: expr does not end with "> number"`);
  return { query: m[1], threshold: Number(m[2]) };
}

function inExprUnit(metric: BaselineMetric, value: number): number {
  return metric.endsWith('_ms') ? value / 1000 : value;
}

describe('deploy/alerts/aegis-rules.yml', () => {
  it('passes promtool check rules', async () => {
    const result = await run(tools.promtool, ['check', 'rules', RULES_FILE]);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('labels every alert with severity, service and runbook step, and annotates it', () => {
    for (const rule of rules) {
      expect(rule.labels, rule.alert).toMatchObject({
        severity: expect.stringMatching(/^(warning|critical)$/),
        service: 'aegis-api',
        runbook_step: expect.stringMatching(/^(latency|cpu|heap|db|goroutines)$/),
      });
      expect(Object.keys(rule.annotations).sort(), rule.alert).toEqual([
        'description',
        'runbook_url',
        'summary',
      ]);
      expect(rule.annotations.runbook_url, rule.alert).toMatch(/^https:\/\/\S+#[a-z0-9-]+$/);
    }
  });

  it("compares with the runbook's Escalation and Performance Baselines bounds, for their durations", () => {
    expect(Object.keys(RULE_BOUNDS).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const rule of rules) {
      const bound = RULE_BOUNDS[rule.alert] as Bound;
      const { threshold } = splitComparison(rule);
      if ('escalation' in bound) {
        const esc = RUNBOOK_ESCALATION_RULES.find((e) => e.id === bound.escalation);
        if (!esc) throw new Error(`no escalation rule ${bound.escalation}`);
        expect(rule.labels.escalation, rule.alert).toBe(esc.id);
        expect(rule.labels.severity, rule.alert).toBe('critical');
        expect(threshold, rule.alert).toBe(inExprUnit(esc.metric as BaselineMetric, esc.above));
        expect(rule.for, rule.alert).toBe(esc.forMs === 0 ? undefined : `${esc.forMs / 60_000}m`);
      } else {
        expect(rule.labels.escalation, rule.alert).toBeUndefined();
        expect(rule.labels.severity, rule.alert).toBe(bound.column);
        expect(threshold, rule.alert).toBe(
          inExprUnit(bound.metric, RUNBOOK_BASELINES[bound.metric][bound.column]),
        );
        expect(rule.for, rule.alert).toBe('5m');
      }
    }
    // every escalation row of the runbook has its alert
    expect(
      rules
        .map((r) => r.labels.escalation)
        .filter(Boolean)
        .sort(),
    ).toEqual(RUNBOOK_ESCALATION_RULES.map((e) => e.id).sort());
  });

  describe("on the test bed's Prometheus", () => {
    let api: AegisApi;
    beforeAll(async () => {
      api = await startAegisApi(testbed, { pods: 2 });
    });
    afterAll(async () => {
      await api?.stop();
    });

    it('evaluates every expression without error, and finds series for all but the database rules', async () => {
      // the test bed has no postgres_exporter: the pg_* rules are checked for syntax and evaluation only
      const needsExporter = (r: AlertRule) => r.labels.runbook_step === 'db';
      await waitFor(
        'every non-database rule to find the test bed series (rates need two scrapes)',
        async () => {
          for (const rule of rules) {
            const { query } = splitComparison(rule);
            for (const q of [rule.expr, query]) {
              const res = await axios.get(`${testbed.prometheusUrl}/api/v1/query`, {
                params: { query: q },
                timeout: 5000,
                validateStatus: () => true,
              });
              if (res.status !== 200 || res.data.status !== 'success') {
                throw new Error(`${rule.alert}: ${q} failed: ${JSON.stringify(res.data)}`);
              }
              if (q === query && !needsExporter(rule) && res.data.data.result.length === 0) {
                return false;
              }
            }
          }
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    });
  });
});

describe('deploy/alerts/prometheusrule.yaml', () => {
  it('is the rules file as a PrometheusRule (generated)', async () => {
    const expected = prometheusRuleYaml(groups);
    if (updatingGolden) await fsp.writeFile(PROMETHEUS_RULE_FILE, expected);
    expect(fs.readFileSync(PROMETHEUS_RULE_FILE, 'utf8')).toBe(expected);
  });

  it("passes promtool check rules on its spec's groups, which equal the rules file's", async () => {
    const resource = parse(fs.readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as {
      apiVersion: string;
      kind: string;
      spec: { groups: RuleGroup[] };
    };
    expect(resource).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(resource.spec.groups).toEqual(groups);
    expect(await promtoolCheck('prometheusrule-spec.yml', resource.spec.groups)).toContain(
      `SUCCESS: ${rules.length} rules found`,
    );
  });
});

describe('test/fixtures/alerts/rules.yml', () => {
  it('is the rules file with short windows and durations (generated), and passes promtool', async () => {
    const expected = testRulesYaml(groups);
    if (updatingGolden) {
      await fsp.mkdir(path.dirname(TEST_RULES_FILE), { recursive: true });
      await fsp.writeFile(TEST_RULES_FILE, expected);
    }
    expect(fs.readFileSync(TEST_RULES_FILE, 'utf8')).toBe(expected);
    const result = await run(tools.promtool, ['check', 'rules', TEST_RULES_FILE]);
    expect(result.ok, result.output).toBe(true);
    const testRules = allRules(readRuleGroups(TEST_RULES_FILE));
    expect(testRules.map((r) => [r.alert, r.labels, splitComparison(r).threshold])).toEqual(
      rules.map((r) => [r.alert, r.labels, splitComparison(r).threshold]),
    );
  });
});

describe('deploy/alerts/alertmanager-receiver.yml', () => {
  const snippet = parse(
    fs.readFileSync(path.join(repoRoot, 'deploy/alerts/alertmanager-receiver.yml'), 'utf8'),
  ) as {
    route: { routes: Record<string, unknown>[] };
    receivers: {
      name: string;
      webhook_configs: {
        url: string;
        send_resolved: boolean;
        http_config: { authorization: { type: string; credentials_file: string } };
      }[];
    }[];
  };

  /** A whole alertmanager.yml: a default receiver, with the snippet's route and receiver merged in. */
  function fullConfig(adjust: (s: typeof snippet) => void = () => undefined): string {
    const s = structuredClone(snippet);
    adjust(s);
    return stringify({
      route: { receiver: 'default', group_by: ['alertname'], routes: s.route.routes },
      receivers: [{ name: 'default' }, ...s.receivers],
    });
  }

  it('points at the bot with resolved notifications and a bearer token from a file', () => {
    expect(snippet.receivers[0]?.webhook_configs[0]).toMatchObject({
      url: 'http://aegis-bot:3000/alertmanager',
      send_resolved: true,
      http_config: { authorization: { type: 'Bearer', credentials_file: expect.stringMatching(/^\//) } },
    });
  });

  it('passes amtool check-config in a full config built around it', async () => {
    const file = path.join(tmp, 'alertmanager.yml');
    await fsp.writeFile(file, fullConfig());
    const result = await run(tools.amtool, ['check-config', file]);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.output).toMatch(/- 2 receivers/);
  });

  it('has a real Alertmanager deliver an aegis-api alert to the bot URL with the token from the file', async () => {
    const capture = await startWebhookCapture();
    const tokenFile = path.join(tmp, 'token');
    await fsp.writeFile(tokenFile, 'the-shared-token\n');
    const am = await startAlertmanager({
      configYaml: fullConfig((s) => {
        const hook = s.receivers[0]?.webhook_configs[0];
        if (!hook) throw new Error('no webhook_configs');
        hook.url = capture.url;
        hook.http_config.authorization.credentials_file = tokenFile;
        // the snippet's timings, shortened for the test
        Object.assign(s.route.routes[0] ?? {}, { group_wait: '1s', group_interval: '1s' });
      }),
    });
    try {
      await postAlerts(am.url, [
        { labels: { alertname: 'AegisApiCpuHigh', service: 'aegis-api', severity: 'critical' } },
        { labels: { alertname: 'SomethingElse', service: 'billing' } },
      ]);
      const got = await waitFor('the notification', async () => capture.received[0]);
      expect(got.authorization).toBe('Bearer the-shared-token');
      expect(got.body).toMatchObject({
        version: '4',
        receiver: 'aegis-bot',
        status: 'firing',
        groupLabels: { alertname: 'AegisApiCpuHigh', service: 'aegis-api' },
      });
      // the other service's alert goes to the default receiver, not to the bot
      expect(capture.received.flatMap((n) => n.body.alerts.map((a) => a.labels.service))).not.toContain(
        'billing',
      );
    } finally {
      await am.stop();
      await capture.close();
    }
  });
});
