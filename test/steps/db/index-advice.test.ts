import { beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../../src/lib/sql/identifier.ts';
import { loadPgParser } from '../../../src/lib/sql/pg-parser.ts';
import type { ColumnStatsRow, IndexDefRow, TableRef } from '../../../src/sources/postgres-types.ts';
import {
  type AdviceResult,
  equalitySelectivity,
  indexName,
  LOW_CARDINALITY_MAX_DISTINCT,
  suggestIndex,
} from '../../../src/steps/db/index-advice.ts';
import { plainWord, queryShape } from '../../../src/steps/db/query-shape.ts';

beforeAll(async () => {
  await loadPgParser();
});

/** pg_stats for a column with `distinct` evenly spread values. */
function even(column: string, distinct: number, table = 't'): ColumnStatsRow {
  return {
    schema: 'public',
    table,
    column,
    nullFrac: 0,
    nDistinct: distinct,
    mostCommonFreqs: null,
    reltuples: 1e6,
  };
}

function advise(
  sql: string,
  table: TableRef,
  stats: readonly ColumnStatsRow[] = [],
  indexes: readonly IndexDefRow[] = [],
): AdviceResult | undefined {
  const shape = queryShape(sql);
  const access = shape?.tables.find((t) => t.name === table.name && (!t.schema || t.schema === table.schema));
  if (!access) return undefined;
  return suggestIndex(access, table, { stats: new Map(stats.map((s) => [s.column, s])), indexes });
}

function ddl(sql: string, table: TableRef, stats: readonly ColumnStatsRow[] = []): string | undefined {
  const r = advise(sql, table, stats);
  return r?.kind === 'suggestion' ? r.suggestion.sql : undefined;
}

describe('index advice from the parse tree, by statement shape', () => {
  const cases: {
    shape: string;
    sql: string;
    table: string;
    schema?: string;
    expected: string | undefined;
  }[] = [
    {
      shape: 'one equality column',
      sql: 'SELECT id, total FROM orders WHERE customer_id = $1',
      table: 'orders',
      expected: 'CREATE INDEX CONCURRENTLY idx_orders_customer_id ON orders (customer_id);',
    },
    {
      shape: 'equality before one range column, whatever the order in the text',
      sql: 'SELECT * FROM events WHERE created_at > $1 AND tenant_id = $2',
      table: 'events',
      expected:
        'CREATE INDEX CONCURRENTLY idx_events_tenant_id_created_at ON events (tenant_id, created_at);',
    },
    {
      shape: 'BETWEEN as a range, not split at its AND',
      sql: 'SELECT * FROM events WHERE created_at BETWEEN $1 AND $2 AND kind = $3',
      table: 'events',
      expected: 'CREATE INDEX CONCURRENTLY idx_events_kind_created_at ON events (kind, created_at);',
    },
    {
      shape: 'IN list and = ANY as key columns',
      sql: 'SELECT * FROM t WHERE id IN ($1, $2, $3)',
      table: 't',
      expected: 'CREATE INDEX CONCURRENTLY idx_t_id ON t (id);',
    },
    {
      shape: '= ANY($1)',
      sql: 'SELECT * FROM t WHERE id = ANY($1)',
      table: 't',
      expected: 'CREATE INDEX CONCURRENTLY idx_t_id ON t (id);',
    },
    {
      shape: 'equality with the sort columns after it (no pg_stats: no partial index)',
      sql: 'SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT $2',
      table: 'findings',
      expected:
        'CREATE INDEX CONCURRENTLY idx_findings_status_created_at ON findings (status, created_at DESC);',
    },
    {
      shape: 'a join: each table by its own filter, by alias',
      sql: 'SELECT f.id FROM findings f JOIN users AS u ON u.id = f.user_id WHERE f.status = $1 AND u.email = $2',
      table: 'users',
      expected: 'CREATE INDEX CONCURRENTLY idx_users_email ON users (email);',
    },
    {
      shape: 'a joined table with no filter of its own: its join column',
      sql: 'SELECT o.id FROM orders o JOIN items i ON i.order_id = o.id WHERE o.customer_id = $1',
      table: 'items',
      expected: 'CREATE INDEX CONCURRENTLY idx_items_order_id ON items (order_id);',
    },
    {
      shape: 'a CTE body; the CTE name is not a table',
      sql: 'WITH recent AS (SELECT id FROM events WHERE tenant_id = $1 AND created_at > now() - $2::interval) SELECT * FROM recent r JOIN users u ON u.id = r.id',
      table: 'events',
      expected:
        'CREATE INDEX CONCURRENTLY idx_events_tenant_id_created_at ON events (tenant_id, created_at);',
    },
    {
      shape: 'an IN subquery: the inner table by its filter',
      sql: 'SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE region = $1)',
      table: 'customers',
      expected: 'CREATE INDEX CONCURRENTLY idx_customers_region ON customers (region);',
    },
    {
      shape: 'an IN subquery: the outer column as its lookup key',
      sql: 'SELECT * FROM orders o WHERE o.customer_id IN (SELECT id FROM customers WHERE region = $1)',
      table: 'orders',
      expected: 'CREATE INDEX CONCURRENTLY idx_orders_customer_id ON orders (customer_id);',
    },
    {
      shape: 'a correlated EXISTS: the inner table by the correlated column',
      sql: 'SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id) AND u.created_at > $1',
      table: 'sessions',
      expected: 'CREATE INDEX CONCURRENTLY idx_sessions_user_id ON sessions (user_id);',
    },
    {
      shape: 'an expression index for lower(email)',
      sql: 'SELECT * FROM users WHERE lower(email) = $1',
      table: 'users',
      expected: 'CREATE INDEX CONCURRENTLY idx_users_lower_email ON users (lower(email));',
    },
    {
      shape: "LIKE 'prefix%' with text_pattern_ops",
      sql: "SELECT * FROM users WHERE name LIKE 'ada%'",
      table: 'users',
      expected: 'CREATE INDEX CONCURRENTLY idx_users_name ON users (name text_pattern_ops);',
    },
    {
      shape: "not LIKE '%infix%' (a btree cannot serve it)",
      sql: "SELECT * FROM users WHERE name LIKE '%ada%'",
      table: 'users',
      expected: undefined,
    },
    {
      shape: 'jsonb containment @> as GIN',
      sql: 'SELECT * FROM docs WHERE body @> $1',
      table: 'docs',
      expected: 'CREATE INDEX CONCURRENTLY idx_docs_body ON docs USING gin (body);',
    },
    {
      shape: 'jsonb key existence ? as GIN',
      sql: "SELECT * FROM docs WHERE body ? 'tags'",
      table: 'docs',
      expected: 'CREATE INDEX CONCURRENTLY idx_docs_body ON docs USING gin (body);',
    },
    {
      shape: 'IS NULL as a partial predicate, which needs no value',
      sql: 'SELECT * FROM jobs WHERE deleted_at IS NULL AND queue = $1',
      table: 'jobs',
      expected: 'CREATE INDEX CONCURRENTLY idx_jobs_queue ON jobs (queue) WHERE deleted_at IS NULL;',
    },
    {
      shape: 'UPDATE by its WHERE',
      sql: 'UPDATE findings SET status = $1 WHERE owner_id = $2',
      table: 'findings',
      expected: 'CREATE INDEX CONCURRENTLY idx_findings_owner_id ON findings (owner_id);',
    },
    {
      shape: 'DELETE with now() as the range bound',
      sql: 'DELETE FROM sessions WHERE expires_at < now()',
      table: 'sessions',
      expected: 'CREATE INDEX CONCURRENTLY idx_sessions_expires_at ON sessions (expires_at);',
    },
    {
      shape: 'a constant on the left',
      sql: 'SELECT * FROM t WHERE $1 = status',
      table: 't',
      expected: 'CREATE INDEX CONCURRENTLY idx_t_status ON t (status);',
    },
    {
      shape: 'UNION branches each with their tables',
      sql: 'SELECT id FROM a WHERE x = $1 UNION ALL SELECT id FROM b WHERE y = $2',
      table: 'b',
      expected: 'CREATE INDEX CONCURRENTLY idx_b_y ON b (y);',
    },
    {
      shape: 'a schema-qualified table',
      sql: 'SELECT * FROM app.events WHERE kind = $1',
      table: 'events',
      schema: 'app',
      expected: 'CREATE INDEX CONCURRENTLY idx_events_kind ON app.events (kind);',
    },
    {
      shape: 'quoted names stay quoted',
      sql: 'SELECT * FROM "Order" WHERE "userId" = $1',
      table: 'Order',
      expected: 'CREATE INDEX CONCURRENTLY idx_order_userid ON "Order" ("userId");',
    },
    {
      shape: 'OR at the top: nothing to index',
      sql: 'SELECT * FROM t WHERE a = $1 OR b = $2',
      table: 't',
      expected: undefined,
    },
    {
      shape: 'an OR inside parentheses is left out, the other conditions kept',
      sql: 'SELECT * FROM t WHERE a = $1 AND (b = $2 OR c = $3)',
      table: 't',
      expected: 'CREATE INDEX CONCURRENTLY idx_t_a ON t (a);',
    },
    {
      shape: 'an unqualified column in a join: whose it is cannot be told',
      sql: 'SELECT * FROM a, b WHERE x = $1',
      table: 'a',
      expected: undefined,
    },
    {
      shape: 'an ORDER BY ordinal is dropped, the filter kept',
      sql: 'SELECT a, b FROM t WHERE a = $1 ORDER BY 2',
      table: 't',
      expected: 'CREATE INDEX CONCURRENTLY idx_t_a ON t (a);',
    },
  ];

  it.each(cases)('$shape', ({ sql, table, schema, expected }) => {
    expect(ddl(sql, schema ? { schema, name: table } : { name: table })).toBe(expected);
  });

  it('gives nothing, and does not throw, for text cut short or not a query', () => {
    for (const sql of [
      'SELECT * FROM t WHERE a = $1 AND b = ',
      "SELECT * FROM t WHERE a = 'unterminated",
      'INSERT INTO t VALUES ($1)',
      'VACUUM t',
      'SELECT 1; SELECT 2',
      '',
    ]) {
      expect(queryShape(sql)).toBeUndefined();
    }
  });

  it('counts the $n parameters EXECUTE must fill, subqueries and LIMIT included', () => {
    expect(
      queryShape('SELECT * FROM t WHERE a = $1 AND b IN (SELECT c FROM u WHERE d = $3) LIMIT $2')?.params,
    ).toBe(3);
    expect(queryShape('SELECT * FROM t')?.params).toBe(0);
  });

  it('marks row locks, which a read-only role cannot plan', () => {
    expect(queryShape('SELECT * FROM t WHERE a = $1 FOR UPDATE')?.locks).toBe(true);
    expect(queryShape('SELECT * FROM t WHERE a = $1')?.locks).toBe(false);
  });
});

describe('column order by selectivity (pg_stats)', () => {
  const sql = 'SELECT * FROM t WHERE region = $1 AND customer_id = $2 AND kind = $3';

  it('puts the most selective equality column first', () => {
    const stats = [even('region', 40), even('customer_id', 50_000), even('kind', 400)];
    expect(ddl(sql, { name: 't' }, stats)).toBe(
      'CREATE INDEX CONCURRENTLY idx_t_customer_id_kind_region ON t (customer_id, kind, region);',
    );
  });

  it('counts skew: a column whose few common values hold most rows is less selective', () => {
    const skewed: ColumnStatsRow = { ...even('a', 1000), mostCommonFreqs: [0.9] };
    const flat = even('b', 200);
    expect(equalitySelectivity(skewed)).toBeGreaterThan(equalitySelectivity(flat) as number);
    expect(ddl('SELECT * FROM t WHERE a = $1 AND b = $2', { name: 't' }, [skewed, flat])).toBe(
      'CREATE INDEX CONCURRENTLY idx_t_b_a ON t (b, a);',
    );
  });

  it('reads a negative n_distinct as a fraction of the rows', () => {
    const perRow: ColumnStatsRow = { ...even('id', 0), nDistinct: -1, reltuples: 1e6 };
    expect(
      ddl('SELECT * FROM t WHERE kind = $1 AND id = $2', { name: 't' }, [even('kind', 400), perRow]),
    ).toBe('CREATE INDEX CONCURRENTLY idx_t_id_kind ON t (id, kind);');
  });

  it("keeps the query's order when pg_stats lacks a column", () => {
    expect(ddl(sql, { name: 't' }, [even('region', 40), even('customer_id', 50_000)])).toBe(
      'CREATE INDEX CONCURRENTLY idx_t_region_customer_id_kind ON t (region, customer_id, kind);',
    );
  });
});

describe('partial indexes on low-cardinality columns', () => {
  const findings = { name: 'findings' };
  const lowStatus = even('status', 3, 'findings');

  it("builds the runbook's form for a parameter, with a placeholder and the plain index as alternative", () => {
    const r = advise('SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT $2', findings, [
      lowStatus,
    ]);
    const s = r?.kind === 'suggestion' ? r.suggestion : undefined;
    expect(s?.sql).toBe(
      "CREATE INDEX CONCURRENTLY idx_findings_created_at ON findings (created_at DESC) WHERE status = '<value>';",
    );
    expect(s?.note).toMatch(/does not post literals/);
    expect(s?.alternative).toBe(
      'CREATE INDEX CONCURRENTLY idx_findings_status_created_at ON findings (status, created_at DESC);',
    );
    // a generic plan cannot match a partial index to $1: HypoPG checks the plain index
    expect(s?.checkedAs).toBe('alternative');
    expect(s?.check).toBe(
      'CREATE INDEX idx_findings_status_created_at ON findings (status, created_at DESC)',
    );
  });

  it('shows a plain-word literal as written and checks the partial index itself', () => {
    const r = advise("SELECT * FROM findings WHERE status = 'open' ORDER BY created_at DESC", findings, [
      lowStatus,
    ]);
    const s = r?.kind === 'suggestion' ? r.suggestion : undefined;
    expect(s?.sql).toBe(
      "CREATE INDEX CONCURRENTLY idx_findings_created_at ON findings (created_at DESC) WHERE status = 'open';",
    );
    expect(s?.check).toBe(
      "CREATE INDEX idx_findings_created_at ON findings (created_at DESC) WHERE status = 'open'",
    );
    expect(s?.checkedAs).toBe('suggestion');
  });

  it('never shows a literal that is not a plain word, but checks with it', () => {
    const r = advise(
      "SELECT id FROM findings WHERE status = 'secret-ish token' ORDER BY created_at DESC",
      findings,
      [lowStatus],
    );
    const s = r?.kind === 'suggestion' ? r.suggestion : undefined;
    expect(s?.sql).toContain("WHERE status = '<value>'");
    const { check, ...shown } = s ?? ({} as NonNullable<typeof s>);
    expect(JSON.stringify(shown)).not.toContain('secret-ish');
    expect(check).toContain("WHERE status = 'secret-ish token'");
  });

  it('quotes a literal with a quote in it for the check', () => {
    const r = advise("SELECT * FROM findings WHERE status = 'it''s' ORDER BY created_at", findings, [
      lowStatus,
    ]);
    expect(r?.kind === 'suggestion' && r.suggestion.check).toContain("WHERE status = 'it''s'");
  });

  it(`keeps a column with more than ${LOW_CARDINALITY_MAX_DISTINCT} distinct values as a key`, () => {
    const stats = [even('status', LOW_CARDINALITY_MAX_DISTINCT + 1, 'findings')];
    expect(ddl('SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC', findings, stats)).toBe(
      'CREATE INDEX CONCURRENTLY idx_findings_status_created_at ON findings (status, created_at DESC);',
    );
    const atBound = [even('status', LOW_CARDINALITY_MAX_DISTINCT, 'findings')];
    expect(
      ddl('SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC', findings, atBound),
    ).toContain('WHERE status =');
  });

  it('keeps a low-cardinality column as the key when it is the only column', () => {
    expect(ddl('SELECT * FROM findings WHERE status = $1', findings, [lowStatus])).toBe(
      'CREATE INDEX CONCURRENTLY idx_findings_status ON findings (status);',
    );
  });
});

describe('existing indexes', () => {
  const ix = (columns: string[], method = 'btree', partial = false): IndexDefRow => ({
    schema: 'public',
    table: 't',
    index: 't_idx',
    method,
    columns,
    partial,
  });

  it('skips a key an existing index already leads with', () => {
    expect(advise('SELECT * FROM t WHERE a = $1', { name: 't' }, [], [ix(['a', 'b'])])).toEqual({
      kind: 'covered',
      index: 't_idx',
      columns: ['a'],
    });
    expect(
      advise('SELECT * FROM t WHERE lower(email) = $1', { name: 't' }, [], [ix(['lower(email)'])])?.kind,
    ).toBe('covered');
  });

  it('still suggests when the existing index is partial, another method, or leads with another column', () => {
    for (const existing of [ix(['a'], 'btree', true), ix(['a'], 'hash'), ix(['b', 'a'])]) {
      expect(advise('SELECT * FROM t WHERE a = $1', { name: 't' }, [], [existing])?.kind).toBe('suggestion');
    }
  });
});

describe('names and literals', () => {
  it('keeps index names within 63 characters', () => {
    expect(indexName('t'.repeat(40), ['c'.repeat(40)]).length).toBe(63);
  });

  it('quotes reserved words, type/function-name keywords and mixed case only', () => {
    expect(quoteIdent('created_at')).toBe('created_at');
    expect(quoteIdent('order')).toBe('"order"');
    expect(quoteIdent('left')).toBe('"left"');
    expect(quoteIdent('Mixed')).toBe('"Mixed"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });

  it('shows only short plain words', () => {
    expect(plainWord('open')).toBe(true);
    expect(plainWord('in_review')).toBe(true);
    expect(plainWord('jane@example.com')).toBe(false);
    expect(plainWord('two words')).toBe(false);
    expect(plainWord('12345')).toBe(false);
    expect(plainWord('x'.repeat(33))).toBe(false);
  });
});
