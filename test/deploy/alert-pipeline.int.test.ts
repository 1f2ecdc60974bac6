import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TEST_RULES_FILE } from '../support/alert-rules.ts';
import {
  type AlertmanagerServer,
  type CapturedNotification,
  startAlertingPrometheus,
  startAlertmanager,
  startWebhookCapture,
  type WebhookCapture,
} from '../support/alertmanager.ts';
import { type AegisApi, type PrometheusServer, startAegisApi, waitFor } from '../support/testbed.ts';

const testbed = inject('testbed');

/**
 * The real chain the incident feature starts from: the test bed's service, a Prometheus evaluating
 * the test rules (the deploy rules with short windows), Alertmanager routing with small group
 * timings, and a webhook receiving notifications with the configured bearer token.
 */
describe('alerting pipeline from a test-bed pathology to a webhook', () => {
  let api: AegisApi;
  let capture: WebhookCapture;
  let am: AlertmanagerServer;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    capture = await startWebhookCapture();
    am = await startAlertmanager({ webhookUrl: capture.url, webhookAuth: { bearer: 'pipeline-token' } });
    api = await startAegisApi(testbed, { loadRps: 20 });
    prometheus = await startAlertingPrometheus(testbed, {
      ruleFiles: [TEST_RULES_FILE],
      alertmanagerUrls: [am.url],
      targets: [api.instance],
    });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await api?.stop();
    await am?.stop();
    await capture?.close();
  });

  const p99 = (n: CapturedNotification) => n.body.groupLabels.alertname === 'AegisApiP99LatencySustained';

  it('fires the P99 escalation when /api/search turns slow, and resolves it when it recovers', async () => {
    await api.setPathology('slow-endpoint', true);
    const firing = await waitFor(
      'a firing AegisApiP99LatencySustained notification',
      async () => capture.received.find((n) => p99(n) && n.body.status === 'firing'),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(firing.authorization).toBe('Bearer pipeline-token');
    expect(firing.body).toMatchObject({
      version: '4',
      groupLabels: { alertname: 'AegisApiP99LatencySustained', service: 'aegis-api' },
      commonLabels: {
        severity: 'critical',
        service: 'aegis-api',
        runbook_step: 'latency',
        escalation: 'p99-sustained',
      },
      commonAnnotations: {
        summary: expect.stringMatching(/^aegis-api P99 latency \d+(\.\d+)?s has been above 2s/),
        runbook_url: expect.stringContaining('#step-1-identify-the-bottleneck'),
      },
    });

    await api.setPathology('slow-endpoint', false);
    const resolved = await waitFor(
      'the resolved notification of the same group',
      async () =>
        capture.received.find(
          (n) => p99(n) && n.body.status === 'resolved' && n.body.groupKey === firing.body.groupKey,
        ),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(resolved.body.alerts.map((a) => a.fingerprint)).toEqual(
      firing.body.alerts.map((a) => a.fingerprint),
    );
  });
});
