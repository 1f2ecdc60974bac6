import { gunzipSync } from 'node:zlib';
import axios from 'axios';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type AegisApi,
  createDatabase,
  dropDatabase,
  PATHOLOGY_NAMES,
  promQuery,
  startAegisApi,
  waitFor,
} from './support/testbed.ts';

const testbed = inject('testbed');

describe('the integration test bed', () => {
  let api: AegisApi;

  beforeAll(async () => {
    api = await startAegisApi(testbed, { pathologies: ['slow-endpoint'] });
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('has Prometheus scrape the instance and see its request counters grow', async () => {
    const up = await promQuery(testbed.prometheusUrl, `up{instance="${api.instance}"}`);
    expect(up).toEqual([
      { metric: expect.objectContaining({ job: 'aegis-api', instance: api.instance }), value: 1 },
    ]);

    const rate = await waitFor('a request rate for /api/health', async () => {
      const [sample] = await promQuery(
        testbed.prometheusUrl,
        `sum(rate(aegis_http_requests_total{instance="${api.instance}",path="/api/health"}[10s]))`,
      );
      return sample && sample.value > 0 ? sample.value : undefined;
    });
    expect(rate).toBeGreaterThan(0);
  });

  it('with slow-endpoint on, /api/search has a P99 above 1 s while /api/health stays fast', async () => {
    const p99 = (path: string) =>
      `histogram_quantile(0.99, sum by (le)(rate(aegis_http_request_duration_seconds_bucket{instance="${api.instance}",path="${path}"}[30s])))`;

    const searchP99 = await waitFor('P99 of /api/search above 1 s', async () => {
      const [sample] = await promQuery(testbed.prometheusUrl, p99('/api/search'));
      return sample && sample.value > 1 ? sample.value : undefined;
    });
    expect(searchP99).toBeGreaterThan(1);

    const [health] = await promQuery(testbed.prometheusUrl, p99('/api/health'));
    expect(health?.value).toBeLessThan(0.5);
  });

  it('with errors-5xx on, Prometheus sees status="500" counts', async () => {
    const errors = `sum(aegis_http_requests_total{instance="${api.instance}",status="500"})`;
    expect(await promQuery(testbed.prometheusUrl, errors)).toEqual([]);

    const state = await api.setPathology('errors-5xx', true, { ratio: 0.5 });
    expect(state.find((p) => p.name === 'errors-5xx')).toMatchObject({ enabled: true, ratio: 0.5 });

    const count = await waitFor('status="500" counts in Prometheus', async () => {
      const [sample] = await promQuery(testbed.prometheusUrl, errors);
      return sample && sample.value > 0 ? sample.value : undefined;
    });
    expect(count).toBeGreaterThan(0);

    await api.setPathology('errors-5xx', false);
    expect((await api.pathologies()).find((p) => p.name === 'errors-5xx')?.enabled).toBe(false);
  });

  it('with pool-exhausted-log on, the log file gets "connection pool exhausted" lines', async () => {
    expect(await api.readLog()).not.toContain('connection pool exhausted');

    await api.setPathology('pool-exhausted-log', true);
    const log = await waitFor('the pool-exhausted line in the log', async () => {
      const text = await api.readLog();
      return text.includes('connection pool exhausted') ? text : undefined;
    });
    expect(log).toMatch(/level=error msg="connection pool exhausted"/);
    await api.setPathology('pool-exhausted-log', false);
  });

  it('lists every pathology by name and rejects an unknown one', async () => {
    const names = (await api.pathologies()).map((p) => p.name);
    expect(names).toEqual([...PATHOLOGY_NAMES]);

    const res = await axios.post(
      `${api.baseUrl}/admin/pathology`,
      { name: 'no-such-thing', enabled: true },
      { validateStatus: () => true },
    );
    expect(res.status).toBe(400);
    expect(res.data.error).toContain('unknown pathology');
  });

  it('with goroutine-leak on, the goroutine dump shows leakyWorker blocked on a channel receive', async () => {
    await api.setPathology('goroutine-leak', true);
    const dump = await waitFor('leakyWorker in the goroutine dump', async () => {
      const res = await axios.get<string>(`${api.pprofUrl}/debug/pprof/goroutine?debug=2`, {
        responseType: 'text',
      });
      return res.data.includes('main.leakyWorker') ? res.data : undefined;
    });
    expect(dump).toMatch(/goroutine \d+ \[chan receive(, \d+ minutes)?\]:\nmain\.leakyWorker/);
    await api.setPathology('goroutine-leak', false);
  });

  it('serves /debug/pprof/heap as a gzipped protobuf profile', async () => {
    const res = await axios.get<ArrayBuffer>(`${api.pprofUrl}/debug/pprof/heap`, {
      responseType: 'arraybuffer',
      decompress: false,
    });
    const body = Buffer.from(res.data);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect([body[0], body[1]]).toEqual([0x1f, 0x8b]); // gzip magic
    const profile = gunzipSync(body);
    expect(profile.length).toBeGreaterThan(100);
    expect(profile.includes('inuse_space')).toBe(true); // a sample type in the string table
  });

  it('lets a test make CPU 94% on 3 of 4 pods, as Prometheus sees it', async () => {
    const pods = await api.setPods([
      { cpu_cores: 0.94 },
      { cpu_cores: 0.94 },
      { cpu_cores: 0.94 },
      { cpu_cores: 0.3 },
    ]);
    expect(pods).toHaveLength(4);

    const query =
      `rate(container_cpu_usage_seconds_total{instance="${api.instance}",container="aegis-api"}[5s])` +
      ` / on (pod) (container_spec_cpu_quota{instance="${api.instance}"} / container_spec_cpu_period{instance="${api.instance}"})`;
    const usage = await waitFor('the new CPU rates in Prometheus', async () => {
      const samples = await promQuery(testbed.prometheusUrl, query);
      const hot = samples.filter((s) => s.value > 0.9);
      return samples.length === 4 && hot.length === 3 ? samples : undefined;
    });
    const byPod = Object.fromEntries(usage.map((s) => [s.metric.pod, s.value]));
    for (const pod of pods.slice(0, 3)) expect(byPod[pod.name]).toBeCloseTo(0.94, 1);
    expect(byPod[pods[3]?.name ?? '']).toBeCloseTo(0.3, 1);
  });

  it('answers on PostgreSQL with pg_stat_statements in a database made by createDatabase', async () => {
    const db = await createDatabase(testbed, 'testbed_check');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Number(version.rows[0]?.server_version_num)).toBeGreaterThanOrEqual(150000);

      await client.query('CREATE TABLE findings (id serial PRIMARY KEY, status text NOT NULL)');
      await client.query("INSERT INTO findings (status) SELECT 'open' FROM generate_series(1, 100)");
      await client.query("SELECT count(*) FROM findings WHERE status = 'open'");

      const statements = await client.query<{ query: string; calls: string; mean_exec_time: number }>(
        `SELECT query, calls, mean_exec_time FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query LIKE 'SELECT count(*) FROM findings%'`,
      );
      expect(statements.rows).toHaveLength(1);
      expect(statements.rows[0]?.calls).toBe('1'); // pg returns bigint as a string
    } finally {
      await client.end();
      await dropDatabase(testbed, db.name);
    }
  });
});
