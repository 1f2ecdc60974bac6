import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import {
  PrometheusSource,
  parseInstant,
  parseRange,
  parseSampleValue,
} from '../../src/sources/prometheus.ts';

const PROM = 'http://prometheus.test:9090';
const source = (timeoutMs = 1000) => new PrometheusSource({ url: PROM, timeoutMs, service: 'aegis-api' });

async function failure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });

beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('PrometheusSource', () => {
  it('runs an instant query and parses the vector, NaN and +Inf included', async () => {
    const expr = 'histogram_quantile(0.99, sum by (le, path) (rate(x_bucket[5m])))';
    const scope = nock(PROM)
      .get('/api/v1/query')
      .query({ query: expr, time: '1772445600.000' })
      .reply(
        200,
        vector([
          { metric: { path: '/api/search' }, value: [1772445600, '1.8'] },
          { metric: { path: '/api/health' }, value: [1772445600, 'NaN'] },
          { metric: { path: '/api/report' }, value: [1772445600, '+Inf'] },
        ]),
      );
    const r = await source().instantQuery(expr, { time: new Date(1772445600_000) });
    scope.done();
    expect(r.resultType).toBe('vector');
    expect(r.samples.map((s) => [s.labels.path, s.value])).toEqual([
      ['/api/search', 1.8],
      ['/api/health', Number.NaN],
      ['/api/report', Number.POSITIVE_INFINITY],
    ]);
  });

  it('runs a range query with start, end and step in seconds', async () => {
    const scope = nock(PROM)
      .get('/api/v1/query_range')
      .query({ query: 'up', start: '1772445300.000', end: '1772445600.000', step: '5' })
      .reply(200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: { pod: 'a' },
              values: [
                [1772445300, '1'],
                [1772445305, '2.5e-3'],
              ],
            },
          ],
        },
      });
    const r = await source().rangeQuery('up', {
      start: new Date(1772445300_000),
      end: new Date(1772445600_000),
      stepMs: 5000,
    });
    scope.done();
    expect(r.series[0]?.labels).toEqual({ pod: 'a' });
    expect(r.series[0]?.points).toEqual([
      { time: 1772445300, value: 1 },
      { time: 1772445305, value: 0.0025 },
    ]);
  });

  it('reads a scalar answer as one sample without labels', () => {
    expect(
      parseInstant({ status: 'success', data: { resultType: 'scalar', result: [1, '0.5'] } }).samples,
    ).toEqual([{ labels: {}, time: 1, value: 0.5 }]);
  });

  it('parses sample values the way Prometheus writes them', () => {
    expect(parseSampleValue('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseSampleValue('1e+06')).toBe(1e6);
    expect(parseSampleValue('.5')).toBe(0.5);
    expect(parseSampleValue('12abc')).toBeUndefined();
    expect(parseSampleValue(12)).toBeUndefined();
  });

  it('refuses answers of the wrong shape as malformed', () => {
    const bad: unknown[] = [
      { status: 'error', errorType: 'bad_data', error: 'parse error' },
      { status: 'success', data: { resultType: 'matrix', result: [] } },
      vector([{ metric: { path: 'a' }, value: [1, 'fast'] }]),
      vector([{ metric: { path: 1 }, value: [1, '1'] }]),
      vector([{ metric: {}, value: ['1', '1'] }]),
      '<html>gateway</html>',
    ];
    for (const data of bad) expect(() => parseInstant(data)).toThrow(SourceError);
    expect(() => parseRange(vector([]))).toThrow(/expected matrix/);
  });

  it('checks Prometheus with its build info', async () => {
    nock(PROM)
      .get('/api/v1/status/buildinfo')
      .reply(200, { status: 'success', data: { version: '2.53.3', revision: 'abc', branch: 'HEAD' } });
    const [r] = await source().check();
    expect(r).toMatchObject({ name: 'prometheus aegis-api', ok: true });
    expect(r?.detail).toContain('Prometheus 2.53.3');
  });

  it('reports a failed check with a hint', async () => {
    nock(PROM).get('/api/v1/status/buildinfo').reply(503, 'Service Unavailable');
    const [r] = await source().check();
    expect(r?.ok).toBe(false);
    expect(r?.detail).toMatch(/HTTP 503/);
    expect(r?.hint).toContain('prometheus.url');
  });

  describe('when Prometheus fails', () => {
    it('is down: the query fails as unreachable', async () => {
      const probe = createNetServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as { port: number }).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const down = new PrometheusSource({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
      const err = await failure(down.instantQuery('up'));
      expect(err.reason).toBe('unreachable');
      expect(err.message).toMatch(/^prometheus: instant query failed/);
    });

    it('is slow past its timeout: the query fails as a timeout', async () => {
      const slow = createServer((_req, res) => {
        setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(vector([]))),
          1500,
        );
      });
      const url = await listen(slow);
      try {
        const err = await failure(new PrometheusSource({ url, timeoutMs: 150 }).instantQuery('up'));
        expect(err.reason).toBe('timeout');
        expect(err.message).toContain('150 ms');
      } finally {
        await close(slow);
      }
    });

    it('answers 500: the query fails as an HTTP error with its message', async () => {
      nock(PROM)
        .get('/api/v1/query')
        .query(true)
        .reply(500, { status: 'error', errorType: 'internal', error: 'out of memory' });
      const err = await failure(source().instantQuery('up'));
      expect(err.reason).toBe('http_error');
      expect(err.message).toContain('HTTP 500: internal: out of memory');
    });

    it('answers 400 for a bad query: the error says why', async () => {
      nock(PROM)
        .get('/api/v1/query')
        .query(true)
        .reply(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' });
      const err = await failure(source().instantQuery('up{'));
      expect(err.reason).toBe('http_error');
      expect(err.message).toContain('parse error');
    });

    it('answers malformed JSON: the query fails as malformed', async () => {
      nock(PROM)
        .get('/api/v1/query')
        .query(true)
        .reply(200, '{"status":"success","data":{"resultType":"vector","result":[{', {
          'content-type': 'application/json',
        });
      const err = await failure(source().instantQuery('up'));
      expect(err.reason).toBe('malformed');
    });

    it('answers a range query with a value that is not a number: malformed', async () => {
      nock(PROM)
        .get('/api/v1/query_range')
        .query(true)
        .reply(200, {
          status: 'success',
          data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, null]] }] },
        });
      const err = await failure(
        source().rangeQuery('up', { start: new Date(0), end: new Date(60_000), stepMs: 1000 }),
      );
      expect(err.reason).toBe('malformed');
      expect(err.source).toBe('prometheus');
    });
  });
});
