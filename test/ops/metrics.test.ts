import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import { createMetrics, type Metrics } from '../../src/ops/metrics.ts';
import { sourceCall } from '../../src/sources/http.ts';

let metrics: Metrics | undefined;
afterEach(() => metrics?.close());

function sampleLines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('createMetrics', () => {
  it('counts commands by command and outcome', async () => {
    metrics = createMetrics({ defaultMetrics: false });
    metrics.recordCommand('latency', 'ok');
    metrics.recordCommand('latency', 'ok');
    metrics.recordCommand('db', 'internal_error');
    const { body } = await metrics.expose();
    expect(sampleLines(body, 'aegis_commands_total')).toEqual([
      'aegis_commands_total{command="latency",outcome="ok"} 2',
      'aegis_commands_total{command="db",outcome="internal_error"} 1',
    ]);
  });

  it('records ack latency with fine buckets below 100 ms and a last bucket at 3 s', async () => {
    metrics = createMetrics({ defaultMetrics: false });
    metrics.observeAck(0.012, 'latency');
    metrics.observeAck(2.5, 'latency');
    const { body } = await metrics.expose();
    const buckets = sampleLines(body, 'aegis_ack_latency_seconds_bucket').map(
      (l) => /le="([^"]+)"/.exec(l)?.[1],
    );
    const finite = buckets.filter((b) => b !== '+Inf').map(Number);
    expect(finite.filter((b) => b < 0.1).length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...finite)).toBe(3);
    expect(body).toContain('aegis_ack_latency_seconds_bucket{le="0.015",command="latency"} 1');
    expect(body).toContain('aegis_ack_latency_seconds_bucket{le="2",command="latency"} 1');
    expect(body).toContain('aegis_ack_latency_seconds_bucket{le="3",command="latency"} 2');
    expect(body).toContain('aegis_ack_latency_seconds_count{command="latency"} 2');
  });

  it('observes every source call made through sourceCall: duration by outcome, errors by reason', async () => {
    metrics = createMetrics({ defaultMetrics: false });
    await sourceCall('prometheus', 'query p99', async () => 1);
    await expect(
      sourceCall('postgres', 'query activity', async () => {
        throw new SourceError('postgres', 'query activity', 'timeout', 'no answer within 10 ms');
      }),
    ).rejects.toThrow(SourceError);
    const { body } = await metrics.expose();
    expect(body).toContain(
      'aegis_source_call_duration_seconds_count{source="prometheus",operation="query p99",outcome="ok"} 1',
    );
    expect(body).toContain(
      'aegis_source_call_duration_seconds_count{source="postgres",operation="query activity",outcome="timeout"} 1',
    );
    expect(sampleLines(body, 'aegis_source_errors_total')).toEqual([
      'aegis_source_errors_total{source="postgres",reason="timeout"} 1',
    ]);
  });

  it('after close, source calls are no longer observed', async () => {
    metrics = createMetrics({ defaultMetrics: false });
    metrics.close();
    await sourceCall('prometheus', 'query p99', async () => 1);
    const { body } = await metrics.expose();
    expect(body).not.toContain('aegis_source_call_duration_seconds_count{');
  });

  it('uses its own registry, with process metrics, and leaves the global one empty', async () => {
    metrics = createMetrics();
    const { body, contentType } = await metrics.expose();
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('process_cpu_user_seconds_total');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
    expect(body).toContain('# TYPE aegis_commands_total counter');
    expect(await globalRegistry.metrics()).not.toContain('aegis_');
  });
});
