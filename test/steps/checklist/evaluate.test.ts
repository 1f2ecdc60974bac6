import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.ts';
import { worstFirstHeadline } from '../../../src/domain/report.ts';
import { worstSeverity } from '../../../src/domain/severity.ts';
import { targetFor } from '../../../src/sources/promql.ts';
import {
  type ChecklistFacts,
  type ChecklistItem,
  checklistFindings,
  checklistHeadline,
  effectiveSetting,
  evaluateChecklist,
  hitRatePercent,
  known,
  pgTimeToMs,
  unknownBecause,
} from '../../../src/steps/checklist/evaluate.ts';
import * as q from '../../../src/steps/checklist/promql.ts';

const ALL_DOWN = 'source down';

function facts(over: Partial<ChecklistFacts> = {}): ChecklistFacts {
  return {
    service: 'aegis-api',
    windowMs: 3_600_000,
    api: known({
      url: 'http://api/api/health',
      status: 200,
      contentEncoding: 'gzip',
      reusedConnection: true,
      rateLimitHeaders: {},
    }),
    slowClient: known({ windowMs: 15_000, closedAfterMs: 10_000 }),
    tooManyRequests: known(12),
    dbSettings: known({
      database: 'aegis',
      role: 'app',
      maxConnections: 100,
      superuserReserved: 3,
      statementTimeout: { ms: 30_000, raw: '30s', from: 'ALTER ROLE app' },
      logMinDuration: { ms: 500, raw: '500ms', from: 'server (configuration file)' },
    }),
    pool: known({ poolSize: 25, poolSizeFrom: 'ConfigMap', replicas: 3 }),
    indexes: known({ seqScans: [], unused: [] }),
    redis: known({
      target: 'redis:6379/0',
      info: { keyspace_hits: '90', keyspace_misses: '10', evicted_keys: '0' },
    }),
    ttls: known({ sampled: 50, noExpiry: 0, examples: [], dbSize: 50 }),
    goroutines: known({ current: 200, max: 220, growth: 5, windowMs: 3_600_000 }),
    memoryLimits: known({ from: 'Kubernetes pod specs', pods: [{ name: 'p1', limitBytes: 2 ** 30 }] }),
    profiling: known({ reachable: true, detail: 'p1: /debug/pprof/ reachable' }),
    logging: unknownBecause('no log-volume metric configured'),
    ...over,
  };
}

function byKey(items: readonly ChecklistItem[], key: string): ChecklistItem {
  const i = items.find((x) => `${x.layer}.${x.key}` === key);
  if (!i) throw new Error(`no item ${key}`);
  return i;
}

describe('evaluating the optimization checklist', () => {
  it('gives every one of the 16 runbook items, in the runbook order, whatever the sources answered', () => {
    const down = unknownBecause<never>(ALL_DOWN);
    const none = evaluateChecklist(
      facts({
        api: down,
        slowClient: down,
        tooManyRequests: down,
        dbSettings: down,
        pool: down,
        indexes: down,
        redis: down,
        ttls: down,
        goroutines: down,
        memoryLimits: down,
        profiling: down,
        logging: down,
      }),
    );
    const all = evaluateChecklist(facts());
    expect(none.map((i) => `${i.layer}.${i.key}`)).toEqual(all.map((i) => `${i.layer}.${i.key}`));
    expect(all).toHaveLength(16);
    expect(none.every((i) => i.status === 'unknown')).toBe(true);
    expect(none.filter((i) => i.severity === 'unavailable').every((i) => i.evidence.includes(ALL_DOWN))).toBe(
      true,
    );
  });

  it('passes a service that does everything, with pass as severity normal', () => {
    const items = evaluateChecklist(facts());
    expect(items.filter((i) => i.status !== 'pass').map((i) => i.key)).toEqual(['invalidation', 'logging']);
    expect(items.filter((i) => i.status === 'pass').every((i) => i.severity === 'normal')).toBe(true);
  });

  it('counts 429s in the metrics as rate limiting, and says unknown when there are neither 429s nor headers', () => {
    expect(byKey(evaluateChecklist(facts()), 'api.rate-limit').evidence).toBe(
      '12 answers with status 429 in the last 1h: a limiter is active',
    );
    const none = byKey(evaluateChecklist(facts({ tooManyRequests: known(0) })), 'api.rate-limit');
    expect(none.status).toBe('unknown');
    expect(none.severity).toBe('info');
    expect(none.evidence).toMatch(
      /^no 429 answers in the last 1h; no RateLimit-\* or X-RateLimit-\* headers/,
    );
  });

  it('fails the cache hit rate at exactly 80% (the runbook says >80%), critical below half of it', () => {
    const at = (hits: number, misses: number) =>
      byKey(
        evaluateChecklist(
          facts({
            redis: known({
              target: 'r',
              info: { keyspace_hits: String(hits), keyspace_misses: String(misses) },
            }),
          }),
        ),
        'caching.hit-rate',
      );
    expect(at(81, 19)).toMatchObject({ status: 'pass', severity: 'normal' });
    expect(at(80, 20)).toMatchObject({ status: 'fail', severity: 'warning', short: 'cache hit rate 80%' });
    expect(at(39, 61)).toMatchObject({ status: 'fail', severity: 'critical' });
    expect(at(0, 0)).toMatchObject({ status: 'unknown', severity: 'info' });
    expect(hitRatePercent({ keyspace_hits: '3', keyspace_misses: '1' })).toBe(75);
  });

  it('fails TTLs when a sampled key never expires, naming examples', () => {
    const i = byKey(
      evaluateChecklist(
        facts({ ttls: known({ sampled: 40, noExpiry: 2, examples: ['a', 'b'], dbSize: 900 }) }),
      ),
      'caching.ttl',
    );
    expect(i).toMatchObject({
      status: 'fail',
      evidence: '2 of 40 sampled keys have no expiry (TTL -1), e.g. a, b',
    });
  });

  it('fails pooling when the pools of all replicas can ask for more than the server allows', () => {
    const i = byKey(
      evaluateChecklist(facts({ pool: known({ poolSize: 40, poolSizeFrom: 'ConfigMap', replicas: 3 }) })),
      'database.pooling',
    );
    expect(i.status).toBe('fail');
    expect(i.short).toBe('pool 120/97');
    expect(i.evidence).toContain(
      'pool size 40 (ConfigMap) × 3 replicas = 120 against max_connections 100 (97 usable',
    );
  });

  it('leaves pooling unknown when the pool size cannot be read, still showing max_connections', () => {
    const i = byKey(evaluateChecklist(facts({ pool: known({}) })), 'database.pooling');
    expect(i.status).toBe('unknown');
    expect(i.evidence).toMatch(/pool size is not known .*; server max_connections 100$/);
  });

  it('fails goroutines that grow over the window, and those above the limit', () => {
    const growing = byKey(
      evaluateChecklist(
        facts({ goroutines: known({ current: 900, max: 900, growth: 400, windowMs: 600_000 }) }),
      ),
      'application.goroutines',
    );
    expect(growing).toMatchObject({ status: 'fail', short: 'goroutines growing' });
    const high = byKey(
      evaluateChecklist(
        facts({ goroutines: known({ current: 12_000, max: 12_500, growth: 0, windowMs: 600_000 }) }),
      ),
      'application.goroutines',
    );
    expect(high).toMatchObject({ status: 'fail', short: 'goroutines 12500' });
  });

  it('flags excessive logging per request when a log metric is configured', () => {
    const i = byKey(
      evaluateChecklist(
        facts({ logging: known({ metric: 'log_lines_total', linesPerSecond: 300, requestsPerSecond: 20 }) }),
      ),
      'application.logging',
    );
    expect(i).toMatchObject({ status: 'fail', short: 'excessive logging' });
    expect(i.evidence).toContain('15.0 per request');
  });

  it('headlines the counts and the fails by their short names', () => {
    const items = evaluateChecklist(
      facts({
        api: known({ url: 'u', status: 200, reusedConnection: true, rateLimitHeaders: {} }),
        redis: known({ target: 'r', info: { keyspace_hits: '62', keyspace_misses: '38' } }),
      }),
    );
    expect(checklistHeadline(items)).toBe(
      'Checklist: 12 pass, 2 fail, 2 unknown — fails: compression, cache hit rate 62%',
    );
  });

  it('leads the headline with the most severe item, a critical cache hit rate before an earlier warning', () => {
    const items = evaluateChecklist(
      facts({
        api: known({ url: 'u', status: 200, reusedConnection: true, rateLimitHeaders: {} }),
        redis: known({ target: 'r', info: { keyspace_hits: '20', keyspace_misses: '80' } }),
      }),
    );
    const findings = checklistFindings(items);
    expect(worstSeverity(findings.map((f) => f.severity))).toBe('critical');
    expect(worstFirstHeadline(findings, [checklistHeadline(items)], { max: 1 })).toBe(
      'cache hit rate 20% CRITICAL; Checklist: 12 pass, 2 fail, 2 unknown — fails: compression, cache hit rate 20%',
    );
  });

  it('turns items into findings titled with the layer, the runbook wording and the status', () => {
    const [first] = checklistFindings(evaluateChecklist(facts()));
    expect(first).toMatchObject({
      id: 'checklist.api.compression',
      severity: 'normal',
      title: 'API Layer: Response compression enabled (gzip): pass',
    });
  });
});

describe("the application role's settings", () => {
  const rows = [
    { anyDatabase: true, anyRole: false, config: ['statement_timeout=10s'] },
    {
      anyDatabase: false,
      anyRole: true,
      config: ['statement_timeout=1min', 'log_min_duration_statement=250'],
    },
    { anyDatabase: false, anyRole: false, config: ['statement_timeout=5000'] },
  ];
  const server = { raw: '0', unit: 'ms', from: 'server default' };
  const who = { role: 'app', database: 'aegis' };

  it('take ALTER ROLE … IN DATABASE first, then ALTER ROLE, then ALTER DATABASE, then the server', () => {
    expect(effectiveSetting('statement_timeout', rows, server, who)).toEqual({
      ms: 5000,
      raw: '5000',
      from: 'ALTER ROLE app IN DATABASE aegis',
    });
    expect(effectiveSetting('statement_timeout', rows.slice(0, 2), server, who).from).toBe('ALTER ROLE app');
    expect(effectiveSetting('statement_timeout', rows.slice(1, 2), server, who)).toMatchObject({
      ms: 60_000,
    });
    expect(
      effectiveSetting(
        'log_min_duration_statement',
        rows,
        { raw: '-1', unit: 'ms', from: 'server default' },
        who,
      ),
    ).toMatchObject({ ms: 250, from: 'ALTER DATABASE aegis' });
    expect(
      effectiveSetting('statement_timeout', [], { raw: '30000', unit: 'ms', from: 'postgresql.conf' }, who),
    ).toEqual({
      ms: 30_000,
      raw: '30s',
      from: 'postgresql.conf',
    });
  });

  it('read PostgreSQL time values with their units, a bare number in the setting unit', () => {
    expect(pgTimeToMs('5s')).toBe(5000);
    expect(pgTimeToMs('2min')).toBe(120_000);
    expect(pgTimeToMs('-1')).toBe(-1);
    expect(pgTimeToMs('3', 's')).toBe(3000);
    expect(pgTimeToMs('soon')).toBeUndefined();
  });
});

describe('the checklist PromQL', () => {
  const config = parseConfig(
    `services:\n  - name: aegis-api\n    deployment: aegis-api\n    prometheus:\n      url: http://p:9090\n      metrics:\n        selector: { instance: 'a"b\\c' }\n`,
    't.yml',
    {},
  );
  const t = targetFor(config.services[0] as (typeof config.services)[number]);

  it('escapes label values from configuration and counts 429s by the status label', () => {
    expect(q.tooManyRequests(t, 300_000)).toBe(
      'sum(increase(aegis_http_requests_total{instance="a\\"b\\\\c",status="429"}[5m]))',
    );
    expect(q.goroutinesGrowth(t, 600_000)).toBe(
      'max(deriv(go_goroutines{instance="a\\"b\\\\c"}[10m])) * 600',
    );
  });

  it('refuses a log metric that is not a metric name', () => {
    expect(() => q.logLinesRate('x} or vector(1', t, 60_000)).toThrow(/not a Prometheus metric name/);
  });
});
