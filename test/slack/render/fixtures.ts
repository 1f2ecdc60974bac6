import type { Advice, Finding, Proposal, StepResult } from '../../../src/domain/finding.ts';
import { finishResult } from '../../../src/domain/report.ts';
import type { Severity } from '../../../src/domain/severity.ts';

/** Realistic step results with fixed dates, so rendered output is deterministic. */

const STARTED = new Date('2025-03-14T09:26:49.000Z');
const at = (ms: number): Date => new Date(STARTED.getTime() + ms);

const GRAFANA = 'https://grafana.example.com/d/aegis-api/aegis-api?orgId=1&var-namespace=aegis&from=now-1h';
const PROM = 'https://prometheus.example.com/graph?g0.expr=';

export const HIGH_CPU_ADVICE: Advice = {
  quickFix: ['Scale horizontally: kubectl scale deployment aegis-api -n aegis --replicas=5'],
  longTerm: [
    'Cache computed results',
    'Optimize hot code paths',
    'Use worker pools for CPU-intensive work',
    'Add batch processing for bulk operations',
  ],
};

export const SLOW_QUERY_ADVICE: Advice = {
  quickFix: [
    "CREATE INDEX CONCURRENTLY idx_findings_created\nON findings(created_at DESC)\nWHERE status = 'open';",
    'VACUUM ANALYZE findings;',
    'SELECT * FROM pg_locks WHERE NOT granted;',
  ],
  longTerm: [
    'Add query timeouts',
    'Implement query result caching',
    'Partition large tables by date',
    'Add read replicas for reporting queries',
  ],
};

export const SCALE_PROPOSAL: Proposal = {
  action: 'scale',
  label: 'Scale to 5 replicas',
  change: { what: 'replicas of deployment aegis-api (namespace aegis)', from: '3', to: '5' },
  service: 'aegis-api',
  params: { namespace: 'aegis', deployment: 'aegis-api', fromReplicas: 3, replicas: 5 },
  reason: 'CPU 94% on 3 of 4 pods (critical above 90%). Runbook, High CPU Usage: scale horizontally.',
  danger: false,
};

export const PAGE_PROPOSAL: Proposal = {
  action: 'page',
  label: 'Page on-call',
  change: { what: 'PagerDuty incident for aegis-api', from: 'none', to: 'triggered (critical)' },
  service: 'aegis-api',
  params: { severity: 'critical', summary: 'aegis-api: CPU > 90% (94% on 3 of 4 pods)' },
  reason: 'Escalation rule cpu-high fired: CPU > 90%: scale and page on-call.',
  danger: false,
};

export function latencyReport(): StepResult {
  const findings: Finding[] = [
    {
      id: 'latency.p99',
      severity: 'warning',
      title: 'P99 latency 1.8 s',
      summary: 'P99 over the last 5m is 1.8 s (warning between 200 ms and 2 s), driven by /api/search.',
      evidence: [
        {
          type: 'fields',
          fields: [
            { label: 'P50', value: '120 ms' },
            { label: 'P99', value: '1.8 s' },
            { label: 'Error rate', value: '0.04%' },
            { label: 'Window', value: '5m' },
          ],
        },
      ],
      links: [
        {
          label: 'P99 in Prometheus',
          url: `${PROM}histogram_quantile(0.99%2Crate(aegis_http_request_duration_seconds_bucket%5B5m%5D))&g0.tab=0`,
        },
      ],
    },
    {
      id: 'latency.cpu',
      severity: 'critical',
      title: 'CPU 94% on 3 of 4 pods',
      summary: 'Three aegis-api pods are above the 90% critical bound; aegis-api-7d9f8b6c4-m4r7z is at 41%.',
      evidence: [
        {
          type: 'table',
          title: 'kubectl top pods -n aegis',
          columns: ['pod', 'cpu', 'cpu %', 'memory', 'memory %'],
          rows: [
            ['aegis-api-7d9f8b6c4-x2kqp', '940m', '94%', '1.2Gi', '60%'],
            ['aegis-api-7d9f8b6c4-h8c2n', '952m', '95%', '1.3Gi', '65%'],
            ['aegis-api-7d9f8b6c4-q9w1t', '938m', '94%', '1.1Gi', '55%'],
            ['aegis-api-7d9f8b6c4-m4r7z', '410m', '41%', '0.9Gi', '45%'],
          ],
        },
      ],
      links: [{ label: 'CPU dashboard', url: `${GRAFANA}&viewPanel=4` }],
      advice: HIGH_CPU_ADVICE,
    },
    {
      id: 'latency.endpoint./api/search',
      severity: 'critical',
      title: 'P99 2.9 s on /api/search',
      summary: '/api/search is the slowest endpoint and carries 38% of requests.',
      evidence: [
        {
          type: 'table',
          title: 'P99 by endpoint (top 5)',
          columns: ['path', 'p99', 'req/s'],
          rows: [
            ['/api/search', '2.9 s', '412'],
            ['/api/findings', '640 ms', '301'],
            ['/api/assets', '210 ms', '188'],
            ['/api/auth/token', '95 ms', '97'],
            ['/healthz', '2 ms', '40'],
          ],
        },
      ],
      links: [],
    },
    {
      id: 'latency.memory',
      severity: 'normal',
      title: 'Memory 57% of limit',
      summary: 'Highest pod memory is 65% of its 2Gi limit.',
      evidence: [],
      links: [],
    },
  ];
  return finishResult(
    {
      step: 'latency',
      service: 'aegis-api',
      headline: 'CPU 94% on 3 of 4 pods CRITICAL; P99 1.8 s, driven by /api/search (2.9 s)',
      findings,
      proposals: [SCALE_PROPOSAL, PAGE_PROPOSAL],
      nextSteps: [
        {
          label: 'CPU profile (30s) of aegis-api-7d9f8b6c4-h8c2n',
          step: 'cpu',
          args: ['30', 'aegis-api-7d9f8b6c4-h8c2n'],
        },
        { label: 'Heap profile', step: 'heap', args: ['aegis-api-7d9f8b6c4-h8c2n'] },
        { label: 'Database analysis', step: 'db', args: [] },
        { label: 'Goroutines', step: 'goroutines', args: ['aegis-api-7d9f8b6c4-h8c2n'] },
      ],
      escalations: [
        {
          ruleId: 'cpu-high',
          condition: 'CPU > 90%',
          action: 'scale_and_page',
          prompt: 'CPU > 90%: scale and page on-call',
          observed: '95% on aegis-api-7d9f8b6c4-h8c2n',
        },
      ],
      attachments: [
        {
          filename: 'latency-p99-by-endpoint.png',
          title: 'P99 by endpoint, last hour',
          mimeType: 'image/png',
          content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]),
          image: true,
        },
      ],
      parts: [
        { name: 'prometheus', status: 'ok' },
        { name: 'metrics.k8s.io', status: 'ok' },
      ],
      links: [{ label: 'Grafana: aegis-api', url: GRAFANA }],
      startedAt: STARTED,
    },
    at(4200),
  );
}

const SLOW_QUERIES: string[][] = [
  [
    'SELECT f.id, f.title, f.severity, a.hostname FROM findings f JOIN assets a ON a.id = f.asset_id WHERE f.status = $1 ORDER BY f.created_at DESC LIMIT $2',
    '18234',
    '1412.5',
    '25756012',
  ],
  ['UPDATE findings SET status = $1, updated_at = now() WHERE id = $2', '5120', '388.1', '1987072'],
  ['SELECT count(*) FROM findings WHERE status = $1', '9001', '214.9', '1934315'],
  ['SELECT * FROM assets WHERE tenant_id = $1', '44120', '42.3', '1866276'],
  ['INSERT INTO audit_log (actor, action, at) VALUES ($1, $2, $3)', '81233', '3.2', '259946'],
];

export function dbReport(): StepResult {
  return finishResult(
    {
      step: 'db',
      service: 'aegis-api',
      headline: 'Slowest query: mean 1.4 s CRITICAL (findings by status, no index on created_at)',
      findings: [
        {
          id: 'db.slow-queries',
          severity: 'critical',
          title: 'Slow queries: mean up to 1.4 s',
          summary:
            '2 of the top 5 statements by mean time are over 200 ms; the slowest sorts findings by created_at.',
          evidence: [
            {
              type: 'table',
              title: 'pg_stat_statements by mean_exec_time',
              columns: ['query', 'calls', 'mean ms', 'total ms'],
              rows: SLOW_QUERIES,
            },
          ],
          links: [],
          advice: SLOW_QUERY_ADVICE,
        },
        {
          id: 'db.long-running.4711',
          severity: 'critical',
          title: 'Query running for 47 s (pid 4711)',
          summary: 'A report query has held a lock on findings for 47 s; 6 sessions wait on it.',
          evidence: [
            {
              type: 'code',
              title: 'pid 4711',
              text: "SELECT tenant_id, count(*)\nFROM findings\nWHERE created_at > now() - interval '90 days'\nGROUP BY tenant_id;",
            },
            {
              type: 'fields',
              fields: [
                { label: 'State', value: 'active' },
                { label: 'Running for', value: '47 s' },
                { label: 'Waiting sessions', value: '6' },
                { label: 'Application', value: 'aegis-reports' },
              ],
            },
          ],
          links: [],
        },
        {
          id: 'db.connections',
          severity: 'warning',
          title: 'Connections 75 of 100',
          summary: 'The pool is 75% used; 3 sessions are idle in transaction.',
          evidence: [
            {
              type: 'table',
              columns: ['state', 'count'],
              rows: [
                ['active', '42'],
                ['idle', '30'],
                ['idle in transaction', '3'],
              ],
            },
          ],
          links: [],
        },
        {
          id: 'db.table-sizes',
          severity: 'info',
          title: 'Largest tables',
          summary: 'findings is 38 GB, 71% of the database.',
          evidence: [
            {
              type: 'table',
              columns: ['relname', 'size'],
              rows: [
                ['findings', '38 GB'],
                ['audit_log', '9.1 GB'],
                ['assets', '4.2 GB'],
              ],
            },
          ],
          links: [],
        },
      ],
      proposals: [
        {
          action: 'cancel_query',
          label: 'Cancel query 4711',
          change: { what: 'query of pid 4711 on aegis (running 47 s)', from: 'active', to: 'cancelled' },
          service: 'aegis-api',
          params: { pid: 4711, database: 'aegis' },
          reason: 'Escalation rule db-query-long fired: DB query > 30s: kill the query, investigate.',
          danger: true,
        },
        {
          action: 'vacuum_analyze',
          label: 'VACUUM ANALYZE findings',
          change: {
            what: 'statistics of table findings',
            from: 'last analyzed 9 days ago',
            to: 'analyzed now',
          },
          service: 'aegis-api',
          params: { table: 'findings' },
          reason: 'Runbook, Slow Database Queries: vacuum and analyze.',
          danger: false,
        },
      ],
      nextSteps: [
        { label: 'Latency', step: 'latency', args: [] },
        { label: 'Goroutines', step: 'goroutines', args: [] },
      ],
      escalations: [
        {
          ruleId: 'db-query-long',
          condition: 'DB query > 30s',
          action: 'cancel_query',
          prompt: 'DB query > 30s: kill the query, investigate',
          observed: '47 s (pid 4711)',
        },
      ],
      attachments: [],
      parts: [
        { name: 'pg_stat_statements', status: 'ok' },
        { name: 'pg_stat_activity', status: 'ok' },
        { name: 'table sizes', status: 'ok' },
      ],
      links: [],
      startedAt: STARTED,
    },
    at(850),
  );
}

export function unavailableReport(): StepResult {
  return finishResult(
    {
      step: 'latency',
      service: 'aegis-api',
      headline: 'P99 140 ms normal; pod CPU and memory unavailable',
      findings: [
        {
          id: 'latency.p99',
          severity: 'normal',
          title: 'P99 latency 140 ms',
          summary: 'P99 over the last 5m is 140 ms, inside the 200 ms normal bound.',
          evidence: [{ type: 'text', text: 'Busiest endpoint: /api/findings at 301 req/s.' }],
          links: [],
        },
        {
          id: 'latency.pods',
          severity: 'unavailable',
          title: 'Pod CPU and memory unavailable',
          summary: 'kubectl top pods could not be answered, so CPU and memory were not classified.',
          evidence: [],
          links: [],
        },
      ],
      proposals: [],
      nextSteps: [{ label: 'CPU profile', step: 'cpu', args: [] }],
      escalations: [],
      attachments: [],
      parts: [
        { name: 'prometheus', status: 'ok' },
        {
          name: 'metrics.k8s.io',
          status: 'unavailable',
          reason:
            'kubernetes: GET /apis/metrics.k8s.io/v1beta1/namespaces/aegis/pods failed: timed out after 5s',
        },
      ],
      links: [],
      startedAt: STARTED,
    },
    at(5100),
  );
}

/** 30 KB of goroutine dump, deterministic. */
export function bigGoroutineDump(): string {
  const lines: string[] = [];
  for (let g = 1; lines.join('\n').length < 30_000; g += 1) {
    lines.push(
      `goroutine ${g} [chan receive, ${g % 60} minutes]:`,
      'github.com/cloud-aegis/aegis-api/internal/search.(*Indexer).worker(0xc000512000)',
      '\t/src/internal/search/indexer.go:142 +0x8c',
      'created by github.com/cloud-aegis/aegis-api/internal/search.NewIndexer in goroutine 1',
      '\t/src/internal/search/indexer.go:88 +0x1a5',
      '',
    );
  }
  return lines.join('\n');
}

export function bigTableRows(): string[][] {
  return Array.from({ length: 500 }, (_, i) => [
    `aegis-api-7d9f8b6c4-p${String(i).padStart(3, '0')}`,
    `${(i * 37) % 1000}m`,
    `${(i * 7) % 100}%`,
  ]);
}

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'normal', 'info', 'unavailable'];

/** 200 findings, a 30 KB code evidence, a 500-row table, 30 next steps and a dozen proposals. */
export function hugeReport(): StepResult {
  const findings: Finding[] = Array.from({ length: 200 }, (_, i) => ({
    id: `checklist.item-${i}`,
    severity: SEVERITIES[i % SEVERITIES.length] as Severity,
    title: `Checklist item ${i}: ${['gzip', 'keep-alive', 'timeouts', 'rate limit', 'pool'][i % 5]} on route /api/r${i}`,
    summary: `Observation ${i}: the value seen was ${i * 3} against a bound of ${i * 2}.`,
    evidence:
      i % 3 === 0
        ? [
            {
              type: 'fields' as const,
              fields: Array.from({ length: 12 }, (_, k) => ({ label: `metric ${k}`, value: `${i * k} ms` })),
            },
          ]
        : [],
    links: [],
  }));
  findings.unshift(
    {
      id: 'goroutines.leak',
      severity: 'critical',
      title: 'Goroutine leak: 48,211 goroutines blocked in search.(*Indexer).worker',
      summary: 'The count grew by 12k in 10 minutes; all wait on the same channel receive.',
      evidence: [{ type: 'code', title: 'goroutine dump (debug=2)', text: bigGoroutineDump() }],
      links: [],
    },
    {
      id: 'latency.pods-all',
      severity: 'critical',
      title: 'CPU of every pod',
      summary: '500 pods reported; 212 are above 90%.',
      evidence: [
        { type: 'table', title: 'CPU by pod', columns: ['pod', 'cpu', 'cpu %'], rows: bigTableRows() },
      ],
      links: [],
    },
  );
  const proposals: Proposal[] = Array.from({ length: 12 }, (_, i) => ({
    ...SCALE_PROPOSAL,
    label: `Scale worker pool ${i} to ${i + 4} replicas`,
    params: { ...SCALE_PROPOSAL.params, deployment: `aegis-worker-${i}`, replicas: i + 4 },
  }));
  return finishResult(
    {
      step: 'checklist',
      service: 'aegis-api',
      headline: 'Optimization checklist: 41 critical, 40 warning of 202 items',
      findings,
      proposals: [...proposals, PAGE_PROPOSAL],
      nextSteps: Array.from({ length: 30 }, (_, i) => ({
        label: `CPU profile of aegis-api-7d9f8b6c4-p${String(i).padStart(3, '0')}`,
        step: 'cpu',
        args: ['30', `aegis-api-7d9f8b6c4-p${String(i).padStart(3, '0')}`],
      })),
      escalations: [
        {
          ruleId: 'cpu-high',
          condition: 'CPU > 90%',
          action: 'scale_and_page',
          prompt: 'CPU > 90%: scale and page on-call',
          observed: '99% on aegis-api-7d9f8b6c4-p027',
        },
        {
          ruleId: 'p99-sustained',
          condition: 'P99 > 2s for > 5 min',
          action: 'page',
          prompt: 'P99 > 2s for > 5 min: page on-call',
          observed: '2.6 s for 7 min',
        },
      ],
      attachments: [],
      parts: Array.from({ length: 14 }, (_, i) =>
        i % 4 === 0
          ? { name: `source-${i}`, status: 'unavailable' as const, reason: `timed out after ${i + 1}s` }
          : { name: `source-${i}`, status: 'ok' as const },
      ),
      links: [{ label: 'Grafana: aegis-api', url: GRAFANA }],
      startedAt: STARTED,
    },
    at(73_000),
  );
}
