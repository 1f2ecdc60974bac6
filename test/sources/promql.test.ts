import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { AppError } from '../../src/domain/errors.ts';
import * as promql from '../../src/sources/promql.ts';

/** Splits PromQL into the text outside string literals and the decoded literals (Go escapes). */
function lex(expr: string): { code: string; strings: string[] } {
  let code = '';
  const strings: string[] = [];
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i] as string;
    if (ch !== '"') {
      code += ch;
      continue;
    }
    let value = '';
    for (i++; i < expr.length && expr[i] !== '"'; i++) {
      if (expr[i] === '\\') {
        i++;
        const e = expr[i];
        value += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : (e as string);
      } else value += expr[i];
    }
    if (i >= expr.length) throw new Error(`unterminated string in ${expr}`);
    code += '""';
    strings.push(value);
  }
  return { code, strings };
}

function service(yaml: string): ServiceConfig {
  return parseConfig(`services:\n${yaml}`, 'test.yml', {}).services[0] as ServiceConfig;
}

const plain = service(
  '  - name: aegis-api\n    deployment: aegis-api\n    prometheus: { url: "http://prometheus:9090" }\n',
);

describe('PromQL builders', () => {
  it("build the runbook's Step 1 queries with the configured names", () => {
    const t = promql.targetFor(plain);
    expect(promql.latencyQuantile(t, 0.99, 300_000)).toBe(
      'histogram_quantile(0.99, sum by (le) (rate(aegis_http_request_duration_seconds_bucket[5m])))',
    );
    expect(promql.topEndpointsByP99(t, 300_000)).toBe(
      'topk(10, histogram_quantile(0.99, sum by (le, path) (rate(aegis_http_request_duration_seconds_bucket[5m]))))',
    );
    expect(promql.requestRateByPath(t, 300_000)).toBe('sum by (path) (rate(aegis_http_requests_total[5m]))');
    expect(promql.errorRatio(t, 300_000)).toBe(
      '(sum(rate(aegis_http_requests_total{status=~"5.."}[5m])) or vector(0)) / sum(rate(aegis_http_requests_total[5m]))',
    );
  });

  it('break 5xx down by endpoint and status code with the configured label names', () => {
    const t = promql.targetFor(plain);
    expect(promql.errorRateByPathStatus(t, 300_000)).toBe(
      'sum by (path, status) (rate(aegis_http_requests_total{status=~"5.."}[5m]))',
    );
    expect(promql.errorRatioByPath(t, 60_000)).toBe(
      '(sum by (path) (rate(aegis_http_requests_total{status=~"5.."}[1m])) or sum by (path) (rate(aegis_http_requests_total[1m])) * 0) / (sum by (path) (rate(aegis_http_requests_total[1m])) > 0)',
    );
    const renamed = { ...t, pathLabel: 'handler', statusLabel: 'code' };
    expect(promql.errorRateByPathStatus(renamed, 60_000)).toBe(
      'sum by (handler, code) (rate(aegis_http_requests_total{code=~"5.."}[1m]))',
    );
    expect(() => promql.errorRateByPathStatus({ ...t, statusLabel: 'code) or vector(1' }, 60_000)).toThrow(
      /not a Prometheus label name/,
    );
  });

  it("build the runbook's CPU and memory queries per pod, against the limits", () => {
    const t = promql.targetFor(plain);
    const sel = '{namespace="aegis",container="aegis-api"}';
    expect(promql.cpuRatioByPod(t, 60_000)).toBe(
      `sum by (pod) (rate(container_cpu_usage_seconds_total${sel}[1m])) / (sum by (pod) (container_spec_cpu_quota${sel}) / 100000 > 0)`,
    );
    expect(promql.memoryRatioByPod(t)).toBe(
      `sum by (pod) (container_memory_usage_bytes${sel}) / (sum by (pod) (container_spec_memory_limit_bytes${sel}) > 0)`,
    );
    expect(promql.throttledRatioByPod(t, 60_000)).toBe(
      `sum by (pod) (rate(container_cpu_cfs_throttled_periods_total${sel}[1m])) / (sum by (pod) (rate(container_cpu_cfs_periods_total${sel}[1m])) > 0)`,
    );
  });

  it('take metric names, labels, selector and container from config', () => {
    const s = service(
      [
        '  - name: billing',
        '    namespace: payments',
        '    deployment: billing-api',
        '    container: api',
        '    prometheus:',
        '      url: "http://prometheus:9090"',
        '      metrics:',
        '        request_duration: http_server_duration_seconds',
        '        requests_total: http_server_requests_total',
        '        path_label: route',
        '        status_label: code',
        '        selector: { instance: "127.0.0.1:4242" }',
        '',
      ].join('\n'),
    );
    const t = promql.targetFor(s);
    expect(promql.latencyQuantileByPath(t, 0.5, 90_000)).toBe(
      'histogram_quantile(0.5, sum by (le, route) (rate(http_server_duration_seconds_bucket{instance="127.0.0.1:4242"}[90s])))',
    );
    expect(promql.errorRatio(t, 60_000)).toContain('{instance="127.0.0.1:4242",code=~"5.."}');
    expect(promql.memoryBytesByPod(t)).toBe(
      'sum by (pod) (container_memory_usage_bytes{instance="127.0.0.1:4242",namespace="payments",container="api"})',
    );
  });

  it('take Prometheus 3 UTF-8 names from config and write them quoted; legacy names stay bare', () => {
    const s = service(
      [
        '  - name: checkout',
        '    deployment: checkout',
        '    prometheus:',
        '      url: "http://prometheus:9090"',
        '      metrics:',
        '        request_duration: http.server.request.duration',
        '        requests_total: http.server.requests',
        '        path_label: http.route',
        '        status_label: http.response.status_code',
        '        selector: { service.name: "checkout", job: "otel" }',
        '',
      ].join('\n'),
    );
    const t = promql.targetFor(s);
    expect(t.pathLabel).toBe('http.route');
    expect(promql.latencyQuantile(t, 0.99, 300_000)).toBe(
      'histogram_quantile(0.99, sum by (le) (rate({"http.server.request.duration_bucket","service.name"="checkout",job="otel"}[5m])))',
    );
    expect(promql.topEndpointsByP99(t, 300_000)).toBe(
      'topk(10, histogram_quantile(0.99, sum by (le, "http.route") (rate({"http.server.request.duration_bucket","service.name"="checkout",job="otel"}[5m]))))',
    );
    expect(promql.errorRatio(t, 60_000)).toBe(
      '(sum(rate({"http.server.requests","service.name"="checkout",job="otel","http.response.status_code"=~"5.."}[1m])) or vector(0)) / sum(rate({"http.server.requests","service.name"="checkout",job="otel"}[1m]))',
    );
    expect(promql.requestRateByPath(t, 60_000)).toBe(
      'sum by ("http.route") (rate({"http.server.requests","service.name"="checkout",job="otel"}[1m]))',
    );
    // cAdvisor's names are legacy: bare, with the UTF-8 selector label quoted
    expect(promql.memoryBytesByPod(t)).toBe(
      'sum by (pod) (container_memory_usage_bytes{"service.name"="checkout",job="otel",namespace="aegis",container="checkout"})',
    );
  });

  it('write a series selector bare or in the UTF-8 form, the name a string literal that cannot break out', () => {
    expect(promql.series('up', { job: 'x' })).toBe('up{job="x"}');
    expect(promql.series('up')).toBe('up');
    expect(promql.series('http.server.request.duration_bucket', { le: '0.5' })).toBe(
      '{"http.server.request.duration_bucket",le="0.5"}',
    );
    expect(promql.series('http.server.active_requests')).toBe('{"http.server.active_requests"}');
    expect(promql.labelName('http.route')).toBe('"http.route"');
    expect(promql.labelName('path')).toBe('path');
  });

  it('select container series by container_selector when the service selector names a label cAdvisor lacks', () => {
    const s = service(
      [
        '  - name: aegis-api',
        '    deployment: aegis-api',
        '    prometheus:',
        '      url: "http://prometheus:9090"',
        '      metrics:',
        '        selector: { job: "aegis-api" }',
        '        container_selector: { cluster: "prod" }',
        '',
      ].join('\n'),
    );
    const t = promql.targetFor(s);
    expect(promql.errorRatio(t, 60_000)).toContain('{job="aegis-api",status=~"5.."}');
    expect(promql.memoryBytesByPod(t)).toBe(
      'sum by (pod) (container_memory_usage_bytes{cluster="prod",namespace="aegis",container="aegis-api"})',
    );
  });

  it('format windows with the largest exact unit', () => {
    expect(promql.range(300_000)).toBe('[5m]');
    expect(promql.range(90_000)).toBe('[90s]');
    expect(promql.range(86_400_000)).toBe('[1d]');
    expect(promql.range(1500)).toBe('[1500ms]');
    expect(() => promql.range(0)).toThrow(AppError);
  });

  describe('with hostile values', () => {
    const hostile = [
      '"}) or vector(1) #',
      'a\\"b',
      'line\nbreak',
      '\\',
      '"',
      '}[5m]) or on() vector(1) or up{x="',
    ];

    it('cannot break out of a label value', () => {
      for (const value of hostile) {
        const expr = promql.selector({ job: value });
        const { code, strings } = lex(expr);
        expect(code).toBe('{job=""}');
        expect(strings).toEqual([value]);
      }
    });

    it('cannot change a whole query through the configured selector', () => {
      const value = '"}) or vector(1) #';
      const t = { ...promql.targetFor(plain), selector: { job: value }, containerSelector: { job: value } };
      const reference = {
        ...promql.targetFor(plain),
        selector: { job: 'x' },
        containerSelector: { job: 'x' },
      };
      for (const build of [
        (x: typeof t) => promql.topEndpointsByP99(x, 300_000),
        (x: typeof t) => promql.errorRatio(x, 300_000),
        (x: typeof t) => promql.errorRateByPathStatus(x, 300_000),
        (x: typeof t) => promql.errorRatioByPath(x, 300_000),
        (x: typeof t) => promql.cpuRatioByPod(x, 300_000),
      ]) {
        const a = lex(build(t));
        const b = lex(build(reference));
        expect(a.code).toBe(b.code);
        expect(a.strings.filter((s) => s === value).length).toBe(b.strings.filter((s) => s === 'x').length);
      }
    });

    it('refuses metric and label names outside the Prometheus grammar', () => {
      expect(() => promql.selector({ 'job"}) or vector(1) #': 'x' })).toThrow(/not a Prometheus label name/);
      expect(() => promql.selector({ __name__: 'x' })).toThrow(AppError);
      expect(() => promql.metricName('up or vector(1)')).toThrow(/not a Prometheus metric name/);
      expect(() => promql.metricName('9lives')).toThrow(AppError);
      expect(() => promql.metricName('http.server.request.duration"} or vector(1)')).toThrow(AppError);
      expect(() => promql.series('a b')).toThrow(/not a Prometheus metric name/);
      expect(() => promql.labelName('http.route"=~".*')).toThrow(/not a Prometheus label name/);
      expect(() => promql.labelName('__meta.x')).toThrow(AppError);
      expect(promql.metricName('namespace:http_requests:rate5m')).toBe('namespace:http_requests:rate5m');
    });

    it('refuses a quantile or topk that is not a number in range', () => {
      const t = promql.targetFor(plain);
      expect(() => promql.latencyQuantile(t, 1.5, 60_000)).toThrow(AppError);
      expect(() => promql.latencyQuantile(t, Number.NaN, 60_000)).toThrow(AppError);
      expect(() => promql.topEndpointsByP99(t, 60_000, 0)).toThrow(AppError);
    });
  });
});
