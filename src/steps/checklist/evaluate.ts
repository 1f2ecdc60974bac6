import type { Finding } from '../../domain/finding.ts';
import type { Severity } from '../../domain/severity.ts';
import { formatBytes, formatDuration } from '../../lib/format.ts';
import type { ApiProbeFacts, SlowClientFacts } from '../../sources/http-probe.ts';

export type { ApiProbeFacts, SlowClientFacts };

/**
 * The runbook's Optimization Checklist, evaluated from facts the sources gathered. Pure: every item
 * gets pass, fail or unknown with the evidence behind it.
 *
 * Severity of the finding per status:
 *   pass    -> normal
 *   fail    -> warning (critical where the runbook's own numbers say so: cache hit rate below half)
 *   unknown -> unavailable when a source the item needs failed or is not configured (fixable);
 *              info when the item cannot be checked from outside at all (cache invalidation).
 */

export type Known<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

export const known = <T>(value: T): Known<T> => ({ ok: true, value });
export const unknownBecause = <T>(reason: string): Known<T> => ({ ok: false, reason });

export type Layer = 'api' | 'database' | 'caching' | 'application';
export const LAYERS: readonly Layer[] = ['api', 'database', 'caching', 'application'];
export const LAYER_TITLE: Record<Layer, string> = {
  api: 'API Layer',
  database: 'Database Layer',
  caching: 'Caching Layer',
  application: 'Application Layer',
};

export type ItemStatus = 'pass' | 'fail' | 'unknown';

export interface ChecklistItem {
  readonly layer: Layer;
  readonly key: string;
  /** The runbook's wording, e.g. "Response compression enabled (gzip)". */
  readonly runbook: string;
  /** A few words for the headline's list of fails, e.g. "cache hit rate 62%". */
  readonly short: string;
  readonly status: ItemStatus;
  readonly severity: Severity;
  readonly evidence: string;
}

// ---------------------------------------------------------------------------------------------
// facts

export interface RoleSetting {
  /** ms; 0 means off (statement_timeout) or -1 disabled (log_min_duration_statement). */
  readonly ms: number;
  /** Where the value comes from: "ALTER ROLE app IN DATABASE db", "ALTER ROLE app", "ALTER DATABASE db", "server". */
  readonly from: string;
  readonly raw: string;
}

export interface DbSettingsFacts {
  readonly database: string;
  /** The application's role, when configured (services[].database.app_role). */
  readonly role?: string;
  readonly maxConnections: number;
  readonly superuserReserved: number;
  readonly statementTimeout: RoleSetting;
  readonly logMinDuration: RoleSetting;
  /** Sessions of the application's role now (when a role is configured). */
  readonly roleConnections?: number;
}

export interface PoolFacts {
  /** The application's pool size per replica (ConfigMap database.max_connections or services[].database.pool_size). */
  readonly poolSize?: number;
  readonly poolSizeFrom?: string;
  readonly replicas?: number;
}

export interface IndexFacts {
  readonly seqScans: readonly {
    readonly table: string;
    readonly seqScan: number;
    readonly seqTupRead: number;
    readonly idxScan: number;
    readonly liveTuples: number;
  }[];
  readonly unused: readonly { readonly index: string; readonly table: string; readonly bytes: number }[];
}

export interface RedisFacts {
  readonly target: string;
  readonly info: Readonly<Record<string, string>>;
  readonly maxmemoryPolicy?: string;
}

export interface TtlFacts {
  readonly sampled: number;
  readonly noExpiry: number;
  readonly examples: readonly string[];
  readonly dbSize: number;
}

export interface GoroutineFacts {
  /** Highest go_goroutines of any instance now. */
  readonly current: number;
  /** Highest over the window. */
  readonly max: number;
  /** Growth over the window of the fastest-growing instance (deriv × window). */
  readonly growth: number;
  readonly windowMs: number;
}

export interface MemoryLimitFacts {
  readonly from: string;
  readonly pods: readonly { readonly name: string; readonly limitBytes?: number }[];
}

export interface LoggingFacts {
  readonly metric: string;
  readonly linesPerSecond: number;
  readonly requestsPerSecond?: number;
}

export interface ChecklistFacts {
  readonly service: string;
  readonly windowMs: number;
  readonly api: Known<ApiProbeFacts>;
  readonly slowClient: Known<SlowClientFacts>;
  /** 429 answers over the window, from the request counter. */
  readonly tooManyRequests: Known<number>;
  readonly dbSettings: Known<DbSettingsFacts>;
  readonly pool: Known<PoolFacts>;
  readonly indexes: Known<IndexFacts>;
  readonly redis: Known<RedisFacts>;
  readonly ttls: Known<TtlFacts>;
  readonly goroutines: Known<GoroutineFacts>;
  readonly memoryLimits: Known<MemoryLimitFacts>;
  /** The pprof index's check; unknown when no pprof endpoint is configured. */
  readonly profiling: Known<{ readonly reachable: boolean; readonly detail: string }>;
  readonly logging: Known<LoggingFacts>;
}

export interface ChecklistRules {
  readonly cacheHitRatePercent: number;
  readonly goroutineLimit: number;
  /** Growth over the window that counts as unbounded: more than this share of the current count … */
  readonly goroutineGrowthRatio: number;
  /** … and at least this many goroutines. */
  readonly goroutineGrowthMin: number;
  readonly seqScanMinRows: number;
  readonly logLinesPerRequest: number;
}

export const DEFAULT_CHECKLIST_RULES: ChecklistRules = {
  cacheHitRatePercent: 80,
  goroutineLimit: 10_000,
  goroutineGrowthRatio: 0.2,
  goroutineGrowthMin: 100,
  seqScanMinRows: 1000,
  logLinesPerRequest: 5,
};

// ---------------------------------------------------------------------------------------------
// evaluation

type Draft = Omit<ChecklistItem, 'layer' | 'severity'> & { severity?: Severity };

const pass = (key: string, runbook: string, short: string, evidence: string): Draft => ({
  key,
  runbook,
  short,
  status: 'pass',
  evidence,
});
const fail = (
  key: string,
  runbook: string,
  short: string,
  evidence: string,
  severity: Severity = 'warning',
) => ({
  key,
  runbook,
  short,
  status: 'fail' as const,
  evidence,
  severity,
});
const unknown = (
  key: string,
  runbook: string,
  short: string,
  evidence: string,
  severity: Severity = 'unavailable',
) => ({
  key,
  runbook,
  short,
  status: 'unknown' as const,
  evidence,
  severity,
});

function apiItems(f: ChecklistFacts): Draft[] {
  const items: Draft[] = [];
  const R1 = 'Response compression enabled (gzip)';
  const R2 = 'Connection keep-alive configured';
  const R3 = 'Request timeout limits set';
  const R4 = 'Rate limiting prevents overload';
  if (!f.api.ok) {
    items.push(unknown('compression', R1, 'compression', f.api.reason));
    items.push(unknown('keep-alive', R2, 'keep-alive', f.api.reason));
  } else {
    const a = f.api.value;
    const enc = a.contentEncoding?.toLowerCase();
    items.push(
      enc && /gzip|br|deflate|zstd/.test(enc)
        ? pass(
            'compression',
            R1,
            'compression',
            `GET ${a.url} with Accept-Encoding: gzip answered Content-Encoding: ${a.contentEncoding}`,
          )
        : fail(
            'compression',
            R1,
            'compression',
            `GET ${a.url} with Accept-Encoding: gzip answered HTTP ${a.status} with no Content-Encoding (uncompressed)`,
          ),
    );
    const close = a.connectionHeader?.toLowerCase() === 'close';
    items.push(
      a.reusedConnection && !close
        ? pass('keep-alive', R2, 'keep-alive', `two requests to ${a.url} went over one connection`)
        : fail(
            'keep-alive',
            R2,
            'keep-alive',
            close
              ? `${a.url} answered Connection: close, so every request opens a new connection`
              : `the second request to ${a.url} could not reuse the first one's connection`,
          ),
    );
  }
  if (!f.slowClient.ok) items.push(unknown('request-timeout', R3, 'request timeouts', f.slowClient.reason));
  else {
    const s = f.slowClient.value;
    items.push(
      s.closedAfterMs !== undefined
        ? pass(
            'request-timeout',
            R3,
            'request timeouts',
            `a request whose headers never finished was ended by the server after ${(s.closedAfterMs / 1000).toFixed(1)} s`,
          )
        : fail(
            'request-timeout',
            R3,
            'request timeouts',
            `a request whose headers never finished was still held open after ${(s.windowMs / 1000).toFixed(1)} s: no read/header timeout (e.g. http.Server ReadHeaderTimeout)`,
          ),
    );
  }
  const headers = f.api.ok ? Object.entries(f.api.value.rateLimitHeaders) : [];
  if (headers.length) {
    items.push(
      pass(
        'rate-limit',
        R4,
        'rate limiting',
        `the API announces a limit: ${headers.map(([k, v]) => `${k}: ${v}`).join(', ')}`,
      ),
    );
  } else if (f.tooManyRequests.ok && f.tooManyRequests.value > 0) {
    items.push(
      pass(
        'rate-limit',
        R4,
        'rate limiting',
        `${Math.round(f.tooManyRequests.value)} answers with status 429 in the last ${formatDuration(f.windowMs, 'postgres')}: a limiter is active`,
      ),
    );
  } else {
    const why = [
      f.tooManyRequests.ok
        ? `no 429 answers in the last ${formatDuration(f.windowMs, 'postgres')}`
        : `429 count unknown (${f.tooManyRequests.reason})`,
      f.api.ok ? 'no RateLimit-* or X-RateLimit-* headers on the probe' : 'no probe of the API',
    ];
    items.push(
      unknown(
        'rate-limit',
        R4,
        'rate limiting',
        `${why.join('; ')}; the limiter's configuration is not readable by the bot`,
        'info',
      ),
    );
  }
  return items;
}

function dbItems(f: ChecklistFacts): Draft[] {
  const items: Draft[] = [];
  const R1 = 'Connection pooling configured';
  const R2 = 'Query timeouts set';
  const R3 = 'Slow query logging enabled';
  const R4 = 'Indexes optimized for common queries';
  const s = f.dbSettings;
  // pooling
  if (!s.ok) items.push(unknown('pooling', R1, 'connection pooling', s.reason));
  else if (!f.pool.ok || f.pool.value.poolSize === undefined) {
    const why = f.pool.ok
      ? "the application's pool size is not known (ConfigMap database.max_connections or services[].database.pool_size)"
      : f.pool.reason;
    const seen =
      s.value.roleConnections !== undefined
        ? `, ${s.value.roleConnections} sessions of ${s.value.role} now`
        : '';
    items.push(
      unknown(
        'pooling',
        R1,
        'connection pooling',
        `${why}; server max_connections ${s.value.maxConnections}${seen}`,
      ),
    );
  } else {
    const { poolSize, poolSizeFrom, replicas } = f.pool.value;
    const n = replicas ?? 1;
    const total = poolSize * n;
    const usable = s.value.maxConnections - s.value.superuserReserved;
    const detail = `pool size ${poolSize} (${poolSizeFrom ?? 'configured'}) × ${n} replica${n === 1 ? '' : 's'}${replicas === undefined ? ' (replicas unknown)' : ''} = ${total} against max_connections ${s.value.maxConnections} (${usable} usable after ${s.value.superuserReserved} reserved)`;
    items.push(
      poolSize > 0 && total <= usable
        ? pass('pooling', R1, 'connection pooling', detail)
        : fail(
            'pooling',
            R1,
            `pool ${total}/${usable}`,
            `${detail}: the pools can ask for more connections than the server allows`,
          ),
    );
  }
  // statement_timeout
  if (!s.ok) {
    items.push(unknown('query-timeout', R2, 'query timeouts', s.reason));
    items.push(unknown('slow-query-log', R3, 'slow query logging', s.reason));
  } else {
    const t = s.value.statementTimeout;
    const who = s.value.role
      ? `role ${s.value.role}`
      : 'the database (no services[].database.app_role configured)';
    items.push(
      t.ms > 0
        ? pass('query-timeout', R2, 'query timeouts', `statement_timeout ${t.raw} for ${who} (${t.from})`)
        : fail(
            'query-timeout',
            R2,
            'query timeouts',
            `statement_timeout is 0 (no timeout) for ${who} (${t.from}): ALTER ROLE … SET statement_timeout = '30s'`,
          ),
    );
    const l = s.value.logMinDuration;
    items.push(
      l.ms >= 0
        ? pass('slow-query-log', R3, 'slow query logging', `log_min_duration_statement ${l.raw} (${l.from})`)
        : fail(
            'slow-query-log',
            R3,
            'slow query logging',
            `log_min_duration_statement is -1 (off) (${l.from}): ALTER DATABASE … SET log_min_duration_statement = '500ms'`,
          ),
    );
  }
  // indexes
  if (!f.indexes.ok) items.push(unknown('indexes', R4, 'indexes', f.indexes.reason));
  else {
    const { seqScans, unused } = f.indexes.value;
    const parts: string[] = [];
    if (seqScans.length)
      parts.push(
        `heavy sequential scans: ${seqScans
          .slice(0, 3)
          .map(
            (t) =>
              `${t.table} (${t.seqScan} seq scans reading ${t.seqTupRead} rows, ${t.idxScan} index scans, ${t.liveTuples} rows)`,
          )
          .join('; ')}`,
      );
    if (unused.length)
      parts.push(
        `unused indexes: ${unused
          .slice(0, 3)
          .map((u) => `${u.index} on ${u.table} (${formatBytes(u.bytes)}, 0 scans)`)
          .join('; ')}`,
      );
    items.push(
      parts.length
        ? fail('indexes', R4, 'indexes', parts.join('. '))
        : pass(
            'indexes',
            R4,
            'indexes',
            'no table read mostly by large sequential scans, no unused non-unique index',
          ),
    );
  }
  return items;
}

function num(info: Readonly<Record<string, string>>, key: string): number | undefined {
  const v = info[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Keyspace hit rate in percent from INFO stats; undefined when nothing was read yet. */
export function hitRatePercent(info: Readonly<Record<string, string>>): number | undefined {
  const hits = num(info, 'keyspace_hits');
  const misses = num(info, 'keyspace_misses');
  if (hits === undefined || misses === undefined || hits + misses === 0) return undefined;
  return (100 * hits) / (hits + misses);
}

function cacheItems(f: ChecklistFacts, rules: ChecklistRules): Draft[] {
  const items: Draft[] = [];
  const R1 = 'Redis caching for hot data';
  const R2 = `Cache hit rate >${rules.cacheHitRatePercent}%`;
  const R3 = 'TTL configured appropriately';
  const R4 = 'Cache invalidation working';
  if (!f.redis.ok) {
    items.push(unknown('redis', R1, 'redis', f.redis.reason));
    items.push(unknown('hit-rate', R2, 'cache hit rate', f.redis.reason));
  } else {
    const { info, target, maxmemoryPolicy } = f.redis.value;
    const evicted = num(info, 'evicted_keys') ?? 0;
    const used = num(info, 'used_memory');
    const max = num(info, 'maxmemory');
    const keys = f.ttls.ok ? f.ttls.value.dbSize : undefined;
    const mem = `${used !== undefined ? formatBytes(used) : '?'} used${max ? ` of maxmemory ${formatBytes(max)}` : ''}${maxmemoryPolicy ? `, policy ${maxmemoryPolicy}` : ''}`;
    const base = `Redis ${info.redis_version ?? '?'} at ${target}${keys !== undefined ? `, ${keys} keys` : ''}, ${mem}`;
    items.push(
      evicted > 0
        ? fail(
            'redis',
            R1,
            `evictions ${evicted}`,
            `${base}: ${evicted} keys evicted since start, so hot data is pushed out (raise maxmemory or cut what is cached)`,
          )
        : pass('redis', R1, 'redis', `${base}, no evictions`),
    );
    const rate = hitRatePercent(info);
    const counts = `keyspace_hits ${info.keyspace_hits ?? '?'}, keyspace_misses ${info.keyspace_misses ?? '?'}`;
    if (rate === undefined)
      items.push(
        unknown('hit-rate', R2, 'cache hit rate', `no reads since Redis started (${counts})`, 'info'),
      );
    else {
      const text = `hit rate ${rate.toFixed(1)}% (${counts}, since start)`;
      items.push(
        rate > rules.cacheHitRatePercent
          ? pass('hit-rate', R2, 'cache hit rate', text)
          : fail(
              'hit-rate',
              R2,
              `cache hit rate ${Math.round(rate)}%`,
              text,
              rate < rules.cacheHitRatePercent / 2 ? 'critical' : 'warning',
            ),
      );
    }
  }
  if (!f.ttls.ok) items.push(unknown('ttl', R3, 'TTLs', f.ttls.reason));
  else {
    const t = f.ttls.value;
    if (t.sampled === 0)
      items.push(unknown('ttl', R3, 'TTLs', 'no keys to sample (the database is empty)', 'info'));
    else
      items.push(
        t.noExpiry > 0
          ? fail(
              'ttl',
              R3,
              'TTLs',
              `${t.noExpiry} of ${t.sampled} sampled keys have no expiry (TTL -1), e.g. ${t.examples.join(', ')}`,
            )
          : pass('ttl', R3, 'TTLs', `all ${t.sampled} sampled keys expire`),
      );
  }
  items.push(
    unknown(
      'invalidation',
      R4,
      'cache invalidation',
      'cannot be checked from outside: whether writes invalidate the cached copies is application behaviour',
      'info',
    ),
  );
  return items;
}

function appItems(f: ChecklistFacts, rules: ChecklistRules): Draft[] {
  const items: Draft[] = [];
  const R1 = 'Goroutine limits configured';
  const R2 = 'Memory limits enforced';
  const R3 = 'Profiling endpoints enabled';
  const R4 = 'Structured logging (not excessive)';
  if (!f.goroutines.ok) items.push(unknown('goroutines', R1, 'goroutines', f.goroutines.reason));
  else {
    const g = f.goroutines.value;
    const growing = g.growth > Math.max(rules.goroutineGrowthMin, rules.goroutineGrowthRatio * g.current);
    const text = `go_goroutines ${Math.round(g.current)} now, max ${Math.round(g.max)} in the last ${formatDuration(g.windowMs, 'postgres')}, growth ${Math.round(g.growth)} over the window`;
    if (g.max > rules.goroutineLimit)
      items.push(
        fail('goroutines', R1, `goroutines ${Math.round(g.max)}`, `${text}: above ${rules.goroutineLimit}`),
      );
    else if (growing)
      items.push(
        fail(
          'goroutines',
          R1,
          'goroutines growing',
          `${text}: still growing, a leak or an unbounded worker pool`,
        ),
      );
    else items.push(pass('goroutines', R1, 'goroutines', `${text}: bounded`));
  }
  if (!f.memoryLimits.ok) items.push(unknown('memory-limits', R2, 'memory limits', f.memoryLimits.reason));
  else {
    const m = f.memoryLimits.value;
    const without = m.pods.filter((p) => !p.limitBytes);
    if (m.pods.length === 0)
      items.push(unknown('memory-limits', R2, 'memory limits', `no pods found (${m.from})`));
    else
      items.push(
        without.length
          ? fail(
              'memory-limits',
              R2,
              'memory limits',
              `${without.length} of ${m.pods.length} pods have no memory limit (${m.from}): ${without
                .slice(0, 5)
                .map((p) => p.name)
                .join(', ')}`,
            )
          : pass(
              'memory-limits',
              R2,
              'memory limits',
              `all ${m.pods.length} pods have a memory limit (${m.from}): ${[...new Set(m.pods.map((p) => formatBytes(p.limitBytes as number)))].join(', ')}`,
            ),
      );
  }
  if (!f.profiling.ok) items.push(unknown('profiling', R3, 'profiling', f.profiling.reason));
  else
    items.push(
      f.profiling.value.reachable
        ? pass('profiling', R3, 'profiling', f.profiling.value.detail)
        : fail('profiling', R3, 'profiling endpoints', `pprof not reachable: ${f.profiling.value.detail}`),
    );
  if (!f.logging.ok) items.push(unknown('logging', R4, 'logging', f.logging.reason, 'info'));
  else {
    const l = f.logging.value;
    const perReq = l.requestsPerSecond ? l.linesPerSecond / l.requestsPerSecond : undefined;
    const text = `${l.linesPerSecond.toFixed(1)} log lines/s (${l.metric})${perReq !== undefined ? `, ${perReq.toFixed(1)} per request` : ''}; whether they are structured cannot be read from a metric`;
    items.push(
      perReq !== undefined && perReq > rules.logLinesPerRequest
        ? fail(
            'logging',
            R4,
            'excessive logging',
            `${text}: more than ${rules.logLinesPerRequest} lines per request`,
          )
        : pass('logging', R4, 'logging', text),
    );
  }
  return items;
}

/** Every item of the runbook's checklist, layer by layer in the runbook's order. */
export function evaluateChecklist(
  facts: ChecklistFacts,
  rules: ChecklistRules = DEFAULT_CHECKLIST_RULES,
): ChecklistItem[] {
  const byLayer: Record<Layer, Draft[]> = {
    api: apiItems(facts),
    database: dbItems(facts),
    caching: cacheItems(facts, rules),
    application: appItems(facts, rules),
  };
  return LAYERS.flatMap((layer) =>
    byLayer[layer].map((d) => ({
      ...d,
      layer,
      severity:
        d.severity ?? (d.status === 'pass' ? 'normal' : d.status === 'fail' ? 'warning' : 'unavailable'),
    })),
  );
}

const STATUS_TAG: Record<ItemStatus, string> = { pass: 'pass', fail: 'FAIL', unknown: 'unknown' };

export function checklistFindings(items: readonly ChecklistItem[]): Finding[] {
  return items.map((i) => ({
    id: `checklist.${i.layer}.${i.key}`,
    severity: i.severity,
    title: `${LAYER_TITLE[i.layer]}: ${i.runbook}: ${STATUS_TAG[i.status]}`,
    summary: i.evidence,
    // The summary is the evidence; the title carries layer, runbook wording and status.
    evidence: [],
    links: [],
    headline: { text: i.short },
  }));
}

/** "Checklist: 9 pass, 4 fail, 3 unknown — fails: compression, query timeouts, cache hit rate 62%, TTLs". */
export function checklistHeadline(items: readonly ChecklistItem[]): string {
  const count = (s: ItemStatus) => items.filter((i) => i.status === s).length;
  const fails = items.filter((i) => i.status === 'fail').map((i) => i.short);
  return `Checklist: ${count('pass')} pass, ${count('fail')} fail, ${count('unknown')} unknown${fails.length ? ` — fails: ${fails.join(', ')}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL settings as pg_db_role_setting and pg_settings give them

/** A time setting's text ("5s", "250ms", "1min", "5000") in ms; a bare number is in `unit` (default ms). */
export function pgTimeToMs(text: string, unit = 'ms'): number | undefined {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const factor: Record<string, number> = {
    us: 0.001,
    ms: 1,
    s: 1000,
    min: 60_000,
    h: 3_600_000,
    d: 86_400_000,
  };
  const n = Number(m[1]);
  const u = m[2] ?? unit;
  const f = factor[u];
  return f === undefined ? undefined : n * f;
}

export interface RoleSettingRow {
  /** Applies to every database (setdatabase 0). */
  readonly anyDatabase: boolean;
  /** Applies to every role (setrole 0). */
  readonly anyRole: boolean;
  readonly config: readonly string[];
}

/**
 * The value a new session of `role` in `database` gets: ALTER ROLE … IN DATABASE, then ALTER ROLE,
 * then ALTER DATABASE, then the server's. (ALTER ROLE ALL IN DATABASE is not distinguished from ALTER DATABASE.)
 */
export function effectiveSetting(
  name: string,
  rows: readonly RoleSettingRow[],
  server: { raw: string; unit?: string; from: string },
  who: { role?: string; database: string },
): RoleSetting {
  const value = (r: RoleSettingRow | undefined) => {
    const entry = r?.config.find((c) => c.startsWith(`${name}=`));
    return entry?.slice(name.length + 1);
  };
  const order: [RoleSettingRow | undefined, string][] = [
    [rows.find((r) => !r.anyRole && !r.anyDatabase), `ALTER ROLE ${who.role} IN DATABASE ${who.database}`],
    [rows.find((r) => !r.anyRole && r.anyDatabase), `ALTER ROLE ${who.role}`],
    [rows.find((r) => r.anyRole && !r.anyDatabase), `ALTER DATABASE ${who.database}`],
  ];
  for (const [row, from] of order) {
    const raw = value(row);
    if (raw !== undefined) {
      const ms = pgTimeToMs(raw);
      if (ms !== undefined) return { ms, raw, from };
    }
  }
  const ms = pgTimeToMs(server.raw, server.unit || 'ms') ?? 0;
  const raw =
    server.unit && /^-?\d+$/.test(server.raw) && ms > 0 ? formatDuration(ms, 'postgres') : server.raw;
  return { ms, raw, from: server.from };
}
