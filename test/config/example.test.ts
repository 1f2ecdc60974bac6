import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, type Node, parseDocument } from 'yaml';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { RUNBOOK_ESCALATION_RULES } from '../../src/domain/escalation.ts';
import { RUNBOOK_BASELINES } from '../../src/domain/thresholds.ts';
import { createAlertRouter } from '../../src/incidents/routing.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { STEPS } from '../../src/steps/registry.ts';

const EXAMPLE = fileURLToPath(new URL('../../aegis.example.yml', import.meta.url));
const ENV = {
  DATABASE_URL: 'postgres://aegis_ro:pw@db.internal:5432/aegis',
  DATABASE_ACTION_URL: 'postgres://aegis_ops:pw@db.internal:5432/aegis',
  AEGIS_STORE_DATABASE_URL: 'postgres://aegis_bot:pw@store.internal:5432/aegis_bot',
  REDIS_URL: 'redis://:pw@redis:6379/0',
  PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY',
  ALERTMANAGER_WEBHOOK_TOKEN: 'webhook-token',
};

describe('aegis.example.yml', () => {
  const config = loadConfig(EXAMPLE, ENV);

  it('is valid against the schema', () => {
    expect(config.source).toBe(EXAMPLE);
  });

  it('describes aegis-api as the runbook does: namespace aegis, Prometheus on 9090, pprof on 6060', () => {
    expect(config.services).toHaveLength(1);
    const api = config.services[0];
    expect(api).toMatchObject({
      name: 'aegis-api',
      default: true,
      namespace: 'aegis',
      deployment: 'aegis-api',
      prometheus: { url: 'http://prometheus:9090' },
      pprof: { mode: 'url', base_url: 'http://aegis-api:6060' },
      database: { url_env: 'DATABASE_URL', action_url_env: 'DATABASE_ACTION_URL' },
    });
    expect(api?.prometheus?.metrics.request_duration).toBe('aegis_http_request_duration_seconds');
  });

  it("sets the thresholds to the runbook's baseline table", () => {
    expect(config.baselines).toEqual(RUNBOOK_BASELINES);
  });

  it("spells out the runbook's escalation rules", () => {
    expect(config.escalationRules).toEqual(RUNBOOK_ESCALATION_RULES);
  });

  it('has the store, Grafana, Redis, action bounds, incident channel, paging and every action authorized', () => {
    expect(config.store.database_url_env).toBe('AEGIS_STORE_DATABASE_URL');
    expect(config.grafana?.url).toMatch(/^https:\/\//);
    expect(config.redis?.url_env).toBe('REDIS_URL');
    expect(config.actions).toMatchObject({ min_replicas: 1, max_replicas: 20, max_memory: { text: '8Gi' } });
    expect(config.slack.incident_channel).toMatch(/^C/);
    expect(config.paging.routing_key_env).toBe('PAGERDUTY_ROUTING_KEY');
    expect(Object.keys(config.authorization).sort()).toEqual([
      'cancel_query',
      'page',
      'scale',
      'set_memory_limit',
      'set_pool_size',
      'silence',
      'terminate_session',
      'vacuum_analyze',
    ]);
    for (const rule of Object.values(config.authorization)) {
      expect((rule?.users.length ?? 0) + (rule?.groups.length ?? 0)).toBeGreaterThan(0);
    }
    expect(config.authorization.scale?.users).toContain('U0123ALICE');
    expect(config.authorization.scale?.groups).toContain('S0123ONCALL');
  });

  it("routes the runbook's alerts (high P99, error rate, CPU, memory, slow query) to their steps", () => {
    const router = createAlertRouter(config, STEPS);
    const routed = (alertname: string) => {
      const labels = { alertname, service: 'aegis-api' };
      const n = { groupLabels: labels, commonLabels: labels } as unknown as AlertNotification;
      return router.route(n).steps.map((s) => s.text);
    };
    expect(routed('AegisApiP99LatencySustained')).toEqual(['latency']);
    expect(routed('AegisApiErrorRateHigh')).toEqual(['latency']);
    expect(routed('AegisApiCpuHigh')).toEqual(['latency', 'cpu']);
    expect(routed('AegisApiMemoryHigh')).toEqual(['heap']);
    expect(routed('AegisApiDbQueryLong')).toEqual(['db']);
    expect(routed('SomethingElse')).toEqual(['latency']);
    expect(config.alertmanager?.silence_durations).toEqual([3_600_000, 4 * 3_600_000, 24 * 3_600_000]);
  });

  it('names only alerts the shipped rules define', () => {
    const rules = readFileSync(
      fileURLToPath(new URL('../../deploy/alerts/aegis-rules.yml', import.meta.url)),
      'utf8',
    );
    for (const name of [
      'AegisApiP99LatencySustained',
      'AegisApiErrorRateHigh',
      'AegisApiCpuHigh',
      'AegisApiMemoryHigh',
    ]) {
      expect(rules).toContain(`alert: ${name}`);
    }
    expect(rules).toMatch(/alert: AegisApiDbQuery/);
  });

  it('holds no secret: only the names of the variables that carry them', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    // Slack tokens, or a URL with user:password (the Redis example in a comment has a placeholder only)
    expect(text).not.toMatch(/xox[a-z]-|xapp-|:\/\/[^\s:@/]+:[^\s@]+@/);
    expect(config.secrets.databaseUrls.DATABASE_URL).toBe(ENV.DATABASE_URL);
  });

  it('shows the pod_proxy mode of pprof as a commented alternative that is valid when uncommented', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const block = text
      .split('\n')
      .filter((l) => /^ {4}# {0,3}(pprof:| {2}[a-z_]+: )/.test(l))
      .map((l) => l.replace(/^ {4}# /, ''));
    const swapped = `services:\n  - name: aegis-api\n    deployment: aegis-api\n${block.map((l) => `    ${l}`).join('\n')}\n`;
    const path = `${EXAMPLE}.pod-proxy`;
    expect(block[0]).toBe('pprof:');
    expect(() => loadConfigText(swapped, path)).not.toThrow();
    expect(loadConfigText(swapped, path).services[0]?.pprof).toMatchObject({ mode: 'pod_proxy', port: 6060 });
  });

  it('has a comment on every key', () => {
    const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
    const commented = new Map<string, boolean>();
    const walk = (node: unknown, path: string) => {
      if (isMap(node)) {
        if (node.flow) return; // { normal: 50, ... }: the line's own comment describes the row
        node.items.forEach((pair, i) => {
          // the entries of authorization share one shape: its first entry documents the keys
          const name = path === '.authorization' ? '*' : String((pair.key as { value?: unknown }).value);
          const key = `${path}.${name}`;
          const before =
            (pair.key as Node | null)?.commentBefore ?? (i === 0 ? node.commentBefore : undefined);
          commented.set(key, (commented.get(key) ?? false) || Boolean(before?.trim()));
          walk(pair.value, key);
        });
      } else if (isSeq(node)) {
        for (const item of node.items) walk(item, `${path}[]`);
      }
    };
    walk(doc.contents, '');
    const bare = [...commented].filter(([, c]) => !c).map(([k]) => k);
    expect(bare).toEqual([]);
    expect(commented.size).toBeGreaterThan(50);
  });
});

function loadConfigText(text: string, file: string) {
  return parseConfig(text, file, ENV);
}
