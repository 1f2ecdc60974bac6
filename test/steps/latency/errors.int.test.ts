/**
 * Errors by endpoint against the real test bed: Prometheus scraping the Go aegis-api with its
 * errors-5xx pathology on (a share of /api/search, /api/findings and /api/report answer 500;
 * /api/health never does).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../../src/config/load.ts';
import type { Finding, StepResult } from '../../../src/domain/finding.ts';
import { PrometheusSource } from '../../../src/sources/prometheus.ts';
import { type LatencySources, latencyStep } from '../../../src/steps/latency/step.ts';
import { type AegisApi, startAegisApi, waitFor } from '../../support/testbed.ts';
import { context, testConfig } from './fakes.ts';

const testbed = inject('testbed');
let api: AegisApi;

function config(instance: string): Config {
  const c = testConfig(testbed.prometheusUrl);
  const s = c.services[0];
  if (!s?.prometheus) throw new Error('no prometheus in the test config');
  const prometheus = { ...s.prometheus, metrics: { ...s.prometheus.metrics, selector: { instance } } };
  return { ...c, services: [{ ...s, prometheus }] };
}

const sources: LatencySources = {
  prometheus: (s) =>
    s.prometheus ? new PrometheusSource({ url: s.prometheus.url, timeoutMs: 5000 }) : undefined,
};

async function report(c: Config): Promise<StepResult> {
  const { ctx } = context(c, sources);
  return latencyStep.run(ctx, latencyStep.parse(['1m'], { config: c }));
}

const BUSINESS = /\/api\/(search|findings|report)/;

beforeAll(async () => {
  api = await startAegisApi(testbed, { pathologies: ['errors-5xx'] });
});

afterAll(async () => {
  await api?.stop();
});

describe('the errors-5xx pathology in the latency report', () => {
  it('names the endpoints answering 500 with their share of all 5xx, in the finding and the headline', async () => {
    const c = config(api.instance);
    const { result, errors } = await waitFor(
      'an error-rate finding with the 5xx broken down by endpoint',
      async () => {
        const r = await report(c);
        const f = r.findings.find((x) => x.id === 'errors.rate');
        const table = f?.evidence.find((e) => e.type === 'table');
        // wait for all three business endpoints to have answered 500 at least once
        return f && f.severity !== 'normal' && table?.type === 'table' && table.rows.length >= 3
          ? { result: r, errors: f as Finding }
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
    // 20% of business requests fail: far above the runbook's 5% critical bound, the worst finding
    expect(errors.severity).toBe('critical');
    expect(result.severity).toBe('critical');
    expect(result.headline).toMatch(
      /^errors \d+(\.\d)?% CRITICAL from \/api\/(search|findings|report) \(\d+% of 5xx\)/,
    );
    expect(errors.summary).toMatch(
      /Highest 5xx ratio: \/api\/(search|findings|report) \d+(\.\d)?% 5xx \(\d+% of all 5xx: 500\)/,
    );
    const table = errors.evidence.find((e) => e.type === 'table');
    if (table?.type !== 'table') throw new Error('expected the 5xx-by-endpoint table');
    expect(table.rows.map((r) => r[0]).sort()).toEqual(['/api/findings', '/api/report', '/api/search']);
    for (const row of table.rows) {
      expect(row[0]).toMatch(BUSINESS);
      expect(row[4]).toMatch(/^500 /);
    }
    // the shares of all 5xx add up to the whole
    const shares = table.rows.map((r) => Number.parseFloat(r[2] as string));
    expect(shares.reduce((a, b) => a + b, 0)).toBeGreaterThan(97);
    expect(shares.reduce((a, b) => a + b, 0)).toBeLessThan(103);
    // the chart by endpoint joins the others
    expect(result.attachments.map((a) => a.filename)).toContain('latency-aegis-api-errors-by-endpoint.png');
  }, 90_000);

  it('says when the error rate rose once the pathology is switched on mid-window', async () => {
    const c = config(api.instance);
    await api.setPathology('errors-5xx', false);
    // a clean minute first, so the rise happens inside the 1m window
    await waitFor(
      'the error rate back under its Normal bound',
      async () => {
        const r = await report(c);
        return r.findings.find((f) => f.id === 'errors.rate')?.severity === 'normal' ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2000 },
    );
    const switchedOn = Date.now();
    await api.setPathology('errors-5xx', true);
    const errors = await waitFor(
      'an onset within the window',
      async () => {
        const r = await report(c);
        const f = r.findings.find((x) => x.id === 'errors.rate');
        return f && /Rose above 0\.10% at/.test(f.summary) ? f : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
    const at = /Rose above 0\.10% at (\d\d):(\d\d) UTC/.exec(errors.summary);
    expect(at).not.toBeNull();
    // the onset minute is the minute the pathology went on (or the next one, at a minute's edge)
    const minute = (d: Date) => d.getUTCHours() * 60 + d.getUTCMinutes();
    const onset = Number(at?.[1]) * 60 + Number(at?.[2]);
    expect(onset - minute(new Date(switchedOn))).toBeGreaterThanOrEqual(0);
    expect(onset - minute(new Date(switchedOn))).toBeLessThanOrEqual(1);
  }, 200_000);
});
