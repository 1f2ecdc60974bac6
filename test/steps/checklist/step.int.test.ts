/**
 * `/aegis checklist` end to end against the real test bed: aegis-api instances with and without
 * gzip, keep-alive and a header timeout; PostgreSQL databases with and without statement_timeout for
 * the application's role and log_min_duration_statement, a table read by heavy sequential scans and
 * an unused index; real Redis servers with and without TTLs, a hit rate above and below 80% and
 * evictions. Sources are built by compose.ts from the configuration, as the bot builds them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildRuntime } from '../../../src/compose.ts';
import { type Config, parseConfig } from '../../../src/config/load.ts';
import type { Finding, StepResult } from '../../../src/domain/finding.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { checklistStep } from '../../../src/steps/checklist/step.ts';
import { findStep } from '../../../src/steps/registry.ts';
import type { PartUpdate } from '../../../src/steps/step.ts';
import { type RedisServer, startRedis } from '../../support/redis.ts';
import {
  type AegisApi,
  createDatabase,
  dropDatabase,
  freePort,
  startAegisApi,
  type TestDatabase,
  waitFor,
} from '../../support/testbed.ts';

const testbed = inject('testbed');
const logger = createLogger({ level: 'silent' });
const savedKubeconfig = process.env.KUBECONFIG;
let home: string;

interface Setup {
  api: { url: string; pprof: string; instance: string; slowClientWindow: string };
  prometheusUrl: string;
  dbUrl: string;
  appRole: string;
  redisUrl: string;
}

function configFor(s: Setup): Config {
  const yaml = `
services:
  - name: aegis-api
    deployment: aegis-api
    prometheus:
      url: ${s.prometheusUrl}
      timeout: 3s
      metrics:
        selector: { instance: "${s.api.instance}" }
    pprof:
      mode: url
      base_url: ${s.api.pprof}
      timeout: 3s
    database:
      url_env: AEGIS_DB_URL
      connect_timeout: 2s
      app_role: ${s.appRole}
      pool_size: 20
    api:
      url: ${s.api.url}
      timeout: 3s
      slow_client_window: ${s.api.slowClientWindow}
redis:
  url_env: REDIS_URL
  timeout: 2s
`;
  return parseConfig(yaml, 'checklist-test.yml', { AEGIS_DB_URL: s.dbUrl, REDIS_URL: s.redisUrl });
}

async function runChecklist(config: Config): Promise<{ result: StepResult; updates: PartUpdate[] }> {
  const runtime = await buildRuntime(config, { logger });
  const service = config.services[0];
  if (!service) throw new Error('no service');
  const updates: PartUpdate[] = [];
  try {
    const result = await checklistStep.run(
      {
        config,
        service,
        sources: runtime.sources,
        signal: new AbortController().signal,
        progress: (u) => updates.push(u),
        now: () => new Date(),
      },
      checklistStep.parse(['1m'], { config }),
    );
    return { result, updates };
  } finally {
    await runtime.close();
  }
}

function item(result: StepResult, key: string): Finding {
  const f = result.findings.find((x) => x.id === `checklist.${key}`);
  if (!f) throw new Error(`no finding checklist.${key} in ${result.findings.map((x) => x.id).join(', ')}`);
  return f;
}

const status = (f: Finding) =>
  f.title.endsWith(': pass') ? 'pass' : f.title.endsWith(': FAIL') ? 'fail' : 'unknown';

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'aegis-checklist-'));
  process.env.KUBECONFIG = join(home, 'no-such-kubeconfig');
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfig;
});

describe('the checklist step', () => {
  it('is registered as "checklist" and reads a service and a window', () => {
    expect(findStep('checklist')).toBe(checklistStep);
  });
});

describe('a well-configured service: every checkable item passes', () => {
  let api: AegisApi;
  let db: TestDatabase;
  let redis: RedisServer;
  let run: { result: StepResult; updates: PartUpdate[] };
  const role = `app_good_${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    [api, db, redis] = await Promise.all([
      startAegisApi(testbed, {
        args: ['-gzip', '-read-header-timeout=500ms', '-rate-limit-header=100'],
        loadRps: 10,
      }),
      createDatabase(testbed, 'checklist_good'),
      startRedis(),
    ]);
    await admin(db.url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`ALTER ROLE ${role} IN DATABASE "${db.name}" SET statement_timeout = '5s'`);
      await c.query(`ALTER DATABASE "${db.name}" SET log_min_duration_statement = '250ms'`);
      await c.query('CREATE TABLE findings (id int PRIMARY KEY, body text)');
      await c.query("INSERT INTO findings SELECT g, 'x' FROM generate_series(1, 2000) g");
    });
    for (let i = 0; i < 20; i++) await redis.command('SET', `cache:${i}`, 'v', 'EX', '300');
    for (let i = 0; i < 18; i++) await redis.command('GET', `cache:${i}`);
    for (let i = 0; i < 2; i++) await redis.command('GET', `missing:${i}`);
    // go_goroutines needs two scrapes for the growth
    await waitFor('two scrapes of go_goroutines', async () => {
      const r = await fetch(
        `${testbed.prometheusUrl}/api/v1/query?query=${encodeURIComponent(`count_over_time(go_goroutines{instance="${api.instance}"}[1m])`)}`,
      );
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      return Number(body.data.result[0]?.value[1] ?? 0) >= 2;
    });
    run = await runChecklist(
      configFor({
        api: { url: api.baseUrl, pprof: api.pprofUrl, instance: api.instance, slowClientWindow: '5s' },
        prometheusUrl: testbed.prometheusUrl,
        dbUrl: db.url,
        appRole: role,
        redisUrl: redis.url,
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([api?.stop(), redis?.stop()]);
    if (db) {
      await dropDatabase(testbed, db.name);
      await admin(testbed.postgres.adminUrl, (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('lists all 16 items of the runbook, layer by layer in its order', () => {
    expect(run.result.findings.map((f) => f.id)).toEqual([
      'checklist.api.compression',
      'checklist.api.keep-alive',
      'checklist.api.request-timeout',
      'checklist.api.rate-limit',
      'checklist.database.pooling',
      'checklist.database.query-timeout',
      'checklist.database.slow-query-log',
      'checklist.database.indexes',
      'checklist.caching.redis',
      'checklist.caching.hit-rate',
      'checklist.caching.ttl',
      'checklist.caching.invalidation',
      'checklist.application.goroutines',
      'checklist.application.memory-limits',
      'checklist.application.profiling',
      'checklist.application.logging',
    ]);
  });

  it('passes the API layer with the evidence: Content-Encoding gzip, one connection, header timeout, RateLimit header', () => {
    expect(item(run.result, 'api.compression').summary).toContain('Content-Encoding: gzip');
    expect(status(item(run.result, 'api.keep-alive'))).toBe('pass');
    const timeout = item(run.result, 'api.request-timeout');
    expect(status(timeout)).toBe('pass');
    expect(timeout.summary).toMatch(/ended by the server after \d+\.\d s/);
    expect(item(run.result, 'api.rate-limit').summary).toContain('ratelimit-limit: 100');
  });

  it("passes the database layer: the role's statement_timeout, the database's slow query log, pool 20 of max_connections 200", () => {
    const t = item(run.result, 'database.query-timeout');
    expect(status(t)).toBe('pass');
    expect(t.summary).toContain(
      `statement_timeout 5s for role ${role} (ALTER ROLE ${role} IN DATABASE ${db.name})`,
    );
    const l = item(run.result, 'database.slow-query-log');
    expect(l.summary).toContain(`log_min_duration_statement 250ms (ALTER DATABASE ${db.name})`);
    expect(item(run.result, 'database.pooling').summary).toContain('pool size 20');
    expect(item(run.result, 'database.pooling').summary).toContain('max_connections 200');
    expect(status(item(run.result, 'database.indexes'))).toBe('pass');
  });

  it('passes the caching layer: 90% hit rate, every sampled key expires, no evictions', () => {
    expect(item(run.result, 'caching.hit-rate').summary).toContain('hit rate 90.0%');
    expect(status(item(run.result, 'caching.hit-rate'))).toBe('pass');
    expect(item(run.result, 'caching.ttl').summary).toBe('all 20 sampled keys expire');
    expect(status(item(run.result, 'caching.redis'))).toBe('pass');
  });

  it('passes the application layer from go_goroutines, the cAdvisor memory limits and the pprof index', () => {
    expect(status(item(run.result, 'application.goroutines'))).toBe('pass');
    expect(item(run.result, 'application.memory-limits').summary).toContain('all 3 pods have a memory limit');
    expect(status(item(run.result, 'application.profiling'))).toBe('pass');
  });

  it('leaves unknown what cannot be checked from outside, saying why', () => {
    const inv = item(run.result, 'caching.invalidation');
    expect(inv.severity).toBe('info');
    expect(inv.summary).toMatch(/cannot be checked from outside/);
    expect(item(run.result, 'application.logging').summary).toMatch(/no log-volume metric configured/);
  });

  it('headlines the counts, and reports one part per layer', () => {
    expect(run.result.headline).toBe('Checklist: 14 pass, 0 fail, 2 unknown');
    expect(run.result.parts.map((p) => [p.name, p.status])).toEqual([
      ['API layer', 'ok'],
      ['database layer', 'ok'],
      ['caching layer', 'ok'],
      ['application layer', 'ok'],
    ]);
    expect(run.updates.filter((u) => u.status === 'running')).toHaveLength(4);
  });
});

describe('a service that skips the checklist: the items fail with the evidence', () => {
  let api: AegisApi;
  let db: TestDatabase;
  let redis: RedisServer;
  let run: { result: StepResult; updates: PartUpdate[] };
  const role = `app_bad_${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    [api, db, redis] = await Promise.all([
      startAegisApi(testbed, {
        args: ['-keep-alive=false'],
        pods: [{ memory_limit_bytes: 2 ** 30 }, { memory_limit_bytes: 0 }],
        loadRps: 10,
      }),
      createDatabase(testbed, 'checklist_bad'),
      startRedis(),
    ]);
    await admin(db.url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query('CREATE TABLE events (id int, kind text, payload text)');
      await c.query("INSERT INTO events SELECT g, 'k' || (g % 10), 'p' FROM generate_series(1, 5000) g");
      await c.query('CREATE INDEX events_payload_idx ON events (payload)');
      await c.query('ANALYZE events');
      await c.query('SET enable_indexscan = off');
      for (let i = 0; i < 25; i++) await c.query("SELECT count(*) FROM events WHERE kind = 'k3'");
    });
    await waitFor('the seq scans in pg_stat_user_tables', () =>
      admin(db.url, async (c) => {
        const r = await c.query("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'");
        return Number(r.rows[0]?.seq_scan ?? 0) >= 25;
      }),
    );
    for (let i = 0; i < 10; i++) await redis.command('SET', `user:${i}`, 'v');
    for (let i = 0; i < 6; i++) await redis.command('GET', `user:${i}`);
    for (let i = 0; i < 4; i++) await redis.command('GET', `nope:${i}`);
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
    await redis.command('CONFIG', 'SET', 'maxmemory', '2mb');
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 60; i++) await redis.command('SET', `blob:${i}`, big, 'EX', '600');
    run = await runChecklist(
      configFor({
        api: { url: api.baseUrl, pprof: api.pprofUrl, instance: api.instance, slowClientWindow: '1500ms' },
        prometheusUrl: testbed.prometheusUrl,
        dbUrl: db.url,
        appRole: role,
        redisUrl: redis.url,
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([api?.stop(), redis?.stop()]);
    if (db) {
      await dropDatabase(testbed, db.name);
      await admin(testbed.postgres.adminUrl, (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('fails compression, keep-alive and request timeouts, saying what the probe saw', () => {
    expect(item(run.result, 'api.compression').summary).toMatch(/no Content-Encoding \(uncompressed\)/);
    expect(item(run.result, 'api.keep-alive').summary).toMatch(/Connection: close|could not reuse/);
    expect(item(run.result, 'api.request-timeout').summary).toMatch(/still held open after 1\.5 s/);
    const rate = item(run.result, 'api.rate-limit');
    expect(status(rate)).toBe('unknown');
    expect(rate.summary).toMatch(/no 429 answers in the last 1min/);
  });

  it('fails query timeouts and slow query logging for a role and database with neither set', () => {
    expect(item(run.result, 'database.query-timeout').summary).toMatch(
      new RegExp(`statement_timeout is 0 \\(no timeout\\) for role ${role} \\(server default\\)`),
    );
    expect(item(run.result, 'database.slow-query-log').summary).toMatch(
      /log_min_duration_statement is -1 \(off\)/,
    );
  });

  it('fails indexes, naming the table read by sequential scans and the unused index', () => {
    const f = item(run.result, 'database.indexes');
    expect(status(f)).toBe('fail');
    expect(f.summary).toContain('public.events (');
    expect(f.summary).toContain('public.events_payload_idx on public.events');
  });

  it('fails the hit rate (60%), the TTLs and the evictions', () => {
    const hit = item(run.result, 'caching.hit-rate');
    expect(status(hit)).toBe('fail');
    expect(hit.summary).toContain('hit rate 60.0%');
    expect(hit.severity).toBe('warning');
    const ttl = item(run.result, 'caching.ttl');
    expect(status(ttl)).toBe('fail');
    expect(ttl.summary).toMatch(/^\d+ of \d+ sampled keys have no expiry \(TTL -1\), e\.g\. user:/);
    const ev = item(run.result, 'caching.redis');
    expect(status(ev)).toBe('fail');
    expect(ev.summary).toMatch(/[1-9]\d* keys evicted since start/);
    expect(ev.summary).toContain('policy volatile-lru');
  });

  it('fails memory limits for the pod without one', () => {
    const f = item(run.result, 'application.memory-limits');
    expect(status(f)).toBe('fail');
    expect(f.summary).toMatch(
      /^1 of 2 pods have no memory limit \(Prometheus container_spec_memory_limit_bytes\)/,
    );
  });

  it('headlines the fails by name', () => {
    expect(run.result.headline).toMatch(
      /^compression WARNING; Checklist: \d+ pass, \d+ fail, \d+ unknown — fails: compression, keep-alive, request timeouts, query timeouts, slow query logging, indexes, evictions \d+, cache hit rate 60%, TTLs, memory limits$/,
    );
    expect(run.result.severity).toBe('warning');
  });
});

describe('when every source is down, each item is unknown with the reason (and the rest still run)', () => {
  let run: { result: StepResult; updates: PartUpdate[] };
  beforeAll(async () => {
    const [p1, p2, p3, p4, p5] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    run = await runChecklist(
      configFor({
        api: {
          url: `http://127.0.0.1:${p1}`,
          pprof: `http://127.0.0.1:${p2}`,
          instance: 'x',
          slowClientWindow: '1s',
        },
        prometheusUrl: `http://127.0.0.1:${p3}`,
        dbUrl: `postgres://postgres@127.0.0.1:${p4}/nope`,
        appRole: 'app',
        redisUrl: `redis://127.0.0.1:${p5}/0`,
      }),
    );
  }, 30_000);

  it('marks the items of each source unknown (unavailable) with the source and what failed', () => {
    expect(item(run.result, 'api.compression').severity).toBe('unavailable');
    expect(item(run.result, 'api.compression').summary).toMatch(
      /^api aegis-api: GET \/api\/health failed: cannot reach/,
    );
    expect(item(run.result, 'api.request-timeout').summary).toMatch(
      /slow-client probe failed: cannot connect/,
    );
    expect(item(run.result, 'database.query-timeout').summary).toMatch(/^postgres: read settings failed/);
    expect(item(run.result, 'database.indexes').summary).toMatch(/^postgres: read index usage failed/);
    expect(item(run.result, 'caching.hit-rate').summary).toMatch(
      /^redis: INFO failed: cannot connect to 127\.0\.0\.1:\d+\/0/,
    );
    expect(item(run.result, 'caching.ttl').summary).toMatch(/^redis: sample key TTLs failed/);
    expect(item(run.result, 'application.goroutines').summary).toMatch(/^prometheus: instant query failed/);
  });

  it('fails profiling when the configured pprof endpoint does not answer', () => {
    const f = item(run.result, 'application.profiling');
    expect(status(f)).toBe('fail');
    expect(f.summary).toMatch(/^pprof not reachable:/);
  });

  it('marks every layer whose facts all failed unavailable, and says so in the headline', () => {
    expect(run.result.parts.filter((p) => p.status === 'unavailable').map((p) => p.name)).toEqual([
      'API layer',
      'database layer',
      'caching layer',
    ]);
    expect(run.result.headline).toMatch(
      /^profiling endpoints WARNING; Checklist: 0 pass, 1 fail, 15 unknown — fails: profiling endpoints$/,
    );
  });
});
