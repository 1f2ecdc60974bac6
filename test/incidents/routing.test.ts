import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.ts';
import { createAlertRouter } from '../../src/incidents/routing.ts';
import { fakeStep } from '../support/slack.ts';
import { notification } from './fixtures.ts';
import { alertsConfig } from './support.ts';

const STEPS = [fakeStep({ name: 'latency' }), fakeStep({ name: 'cpu' }), fakeStep({ name: 'db' })];
const labelled = (labels: Record<string, string>) =>
  notification([{ fingerprint: 'f1', labels }], {
    commonLabels: labels,
    groupLabels: { alertname: labels.alertname ?? '' },
  });

describe('routing alerts to a service and runbook steps', () => {
  const router = createAlertRouter(alertsConfig(), STEPS);

  it('takes the first route whose matchers all hold', () => {
    const r = router.route(labelled({ alertname: 'AegisHighP99Latency', service: 'aegis-api' }));
    expect([r.matched, r.service.name, r.steps.map((s) => s.text)]).toEqual([
      'alerts.routes[0]',
      'aegis-api',
      ['latency'],
    ]);
  });

  it('matches regular expressions anchored at both ends, as Alertmanager does', () => {
    const cpu = router.route(labelled({ alertname: 'AegisHighCPU', severity: 'critical' }));
    expect(cpu.matched).toBe('alerts.routes[1]');
    expect(cpu.steps.map((s) => s.step.name)).toEqual(['latency', 'cpu']);
    expect(router.route(labelled({ alertname: 'AegisHighCPUx', severity: 'critical' })).matched).toBe(
      'default',
    );
    expect(router.route(labelled({ alertname: 'AegisHighCPU', severity: 'warning' })).matched).toBe(
      'default',
    );
  });

  it("uses the route's service and metric when it names them", () => {
    const r = router.route(labelled({ alertname: 'AegisSlowQuery', service: 'aegis-api' }));
    expect([r.service.name, r.metric]).toEqual(['billing', 'max(pg_stat_activity_max_tx_duration)']);
  });

  it('defaults to the service label when it names a configured service, else the default service; step 1', () => {
    const byLabel = router.route(labelled({ alertname: 'Other', service: 'billing' }));
    expect([byLabel.matched, byLabel.service.name, byLabel.steps.map((s) => s.text)]).toEqual([
      'default',
      'billing',
      ['latency'],
    ]);
    expect(router.route(labelled({ alertname: 'Other', service: 'unknown' })).service.name).toBe('aegis-api');
    expect(router.route(labelled({ alertname: 'Other' })).service.name).toBe('aegis-api');
  });

  it('refuses at start a step it does not know, naming the key', () => {
    const config = alertsConfig(`
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  routes:
    - match: { alertname: X }
      steps: [latency, cpux]
`);
    expect(() => createAlertRouter(config, STEPS)).toThrow(
      'alerts.routes[0].steps[1]: unknown step "cpux": the steps are latency, cpu, db',
    );
  });

  it("refuses a step's arguments its own parser refuses, naming the key", () => {
    const config = alertsConfig(`
alerts:
  auth: { bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN }
  default_steps: [latency one two]
`);
    expect(() => createAlertRouter(config, STEPS)).toThrow(
      /^alerts\.default_steps\[0\]: latency takes at most one word/,
    );
  });
});

describe('the alerts configuration', () => {
  const problems = (yaml: string, env: Record<string, string> = {}) => {
    try {
      alertsConfig(yaml, env);
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it('names the key of a bad regular expression, an unknown service and a missing auth', () => {
    expect(
      problems(`
alerts:
  auth: {}
  routes:
    - match_re: { alertname: "(unclosed" }
      service: nope
`),
    ).toEqual([
      'alerts.auth: expected exactly one of bearer_token_env or basic, found neither',
      expect.stringMatching(
        /^alerts\.routes\[0\]\.match_re\.alertname: a regular expression in RE2 syntax: /,
      ),
      'alerts.routes[0].service: expected one of the services (aegis-api, billing), got "nope"',
    ]);
  });

  it('refuses a webhook secret whose environment variable is not set', () => {
    expect(
      problems(`
alerts:
  auth:
    basic: { username: alertmanager, password_env: AM_PASSWORD }
`),
    ).toEqual([
      "alerts.auth.basic.password_env: environment variable AM_PASSWORD is not set (Alertmanager's webhook would be refused)",
    ]);
  });

  it('takes silence durations and the Alertmanager URL', () => {
    const c = alertsConfig();
    expect(c.alertmanager?.silence_durations).toEqual([3_600_000, 4 * 3_600_000]);
    expect(c.secrets.alertsWebhookSecret).toBe('alertmanager-test-token-3f9a');
  });
});
