import { describe, expect, it } from 'vitest';
import { alertExpression } from '../../src/incidents/alert-expression.ts';
import { notificationKey, parseWebhook } from '../../src/incidents/webhook-schema.ts';
import { notification } from './fixtures.ts';

describe('the Alertmanager webhook (version 4)', () => {
  it('accepts what Alertmanager sends', () => {
    const parsed = parseWebhook(JSON.stringify(notification()));
    expect(parsed.ok && parsed.notification.alerts[0]?.labels.alertname).toBe('AegisHighP99Latency');
  });

  it('names the key path of each problem in a malformed notification', () => {
    const bad = {
      ...notification(),
      version: '3',
      alerts: [{ ...notification().alerts[0], startsAt: 'yesterday' }],
    };
    const parsed = parseWebhook(JSON.stringify(bad));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problems).toEqual([
      'version: only webhook version "4" is understood',
      'alerts.0.startsAt: an RFC 3339 time',
    ]);
  });

  it('says when the body is not JSON at all', () => {
    const parsed = parseWebhook('{"version": "4",');
    expect(!parsed.ok && parsed.problems[0]).toMatch(/^not valid JSON: /);
  });

  it('gives a repeat and the HA twin the same key, whatever the order of the alerts', () => {
    const two = [{ fingerprint: 'f1' }, { fingerprint: 'f2' }];
    const twin = notification([...two].reverse());
    expect(notificationKey(notification(two))).toBe(notificationKey(twin));
  });

  it('gives a new key when an alert joins, resolves, restarts, or the group resolves', () => {
    const base = notificationKey(notification([{ fingerprint: 'f1' }]));
    const others = [
      notification([{ fingerprint: 'f1' }, { fingerprint: 'f2' }]),
      notification([{ fingerprint: 'f1', status: 'resolved' }]),
      notification([{ fingerprint: 'f1', startsAt: '2026-01-05T11:00:00Z' }]),
      notification([{ fingerprint: 'f1' }], { groupKey: 'another group' }),
    ];
    for (const n of others) expect(notificationKey(n)).not.toBe(base);
  });
});

describe("the alert's expression from its generator URL", () => {
  it('drops the final comparison, so the metric has values before and after the alert', () => {
    expect(alertExpression(notification().alerts[0]?.generatorURL ?? '')).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(aegis_http_request_duration_seconds_bucket[5m])))',
    );
  });

  it('keeps an expression without a final comparison, and gives nothing for a URL without one', () => {
    expect(alertExpression('http://p:9090/graph?g0.expr=up%20%3D%3D%200')).toBe('up');
    expect(alertExpression('http://p:9090/graph?g0.expr=absent(up)')).toBe('absent(up)');
    expect(alertExpression('http://p:9090/graph')).toBeUndefined();
    expect(alertExpression('not a url')).toBeUndefined();
  });
});
