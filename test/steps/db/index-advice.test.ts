import { describe, expect, it } from 'vitest';
import { indexName, parseQueryShape, quoteIdent, suggestIndex } from '../../../src/steps/db/index-advice.ts';

describe('suggestIndex', () => {
  it("builds the runbook's partial index for an equality filter with a sort, with a placeholder for the value", () => {
    const s = suggestIndex('SELECT * FROM findings WHERE status = $1 ORDER BY created_at DESC LIMIT $2', {
      name: 'findings',
    });
    expect(s?.sql).toBe(
      "CREATE INDEX CONCURRENTLY idx_findings_created_at ON findings (created_at DESC) WHERE status = '<value>';",
    );
    expect(s?.predicate).toBe("status = '<value>'");
    expect(s?.note).toMatch(/does not post literals/);
    expect(s?.alternative).toBe(
      'CREATE INDEX CONCURRENTLY idx_findings_status_created_at ON findings (status, created_at DESC);',
    );
  });

  it('never copies a literal from raw query text into the suggestion', () => {
    const s = suggestIndex("SELECT id FROM findings WHERE status = 'secret-ish' ORDER BY created_at DESC", {
      name: 'findings',
    });
    expect(s?.sql).toContain("WHERE status = '<value>'");
    expect(JSON.stringify(s)).not.toContain('secret-ish');
  });

  it('indexes the equality column when there is no sort', () => {
    expect(suggestIndex('SELECT id, total FROM orders WHERE customer_id = $1', { name: 'orders' })?.sql).toBe(
      'CREATE INDEX CONCURRENTLY idx_orders_customer_id ON orders (customer_id);',
    );
  });

  it('puts equality columns before one range column', () => {
    const s = suggestIndex('SELECT * FROM events WHERE created_at > $1 AND tenant_id = $2', {
      name: 'events',
    });
    expect(s?.columns).toEqual(['tenant_id', 'created_at']);
  });

  it('reads BETWEEN as a range and does not split it at its AND', () => {
    const s = suggestIndex('SELECT * FROM events WHERE created_at BETWEEN $1 AND $2 AND kind = $3', {
      name: 'events',
    });
    expect(s?.columns).toEqual(['kind', 'created_at']);
  });

  it('treats IN lists and = ANY as key columns, not partial predicates', () => {
    expect(suggestIndex('SELECT * FROM t WHERE id IN ($1, $2, $3)', { name: 't' })?.sql).toBe(
      'CREATE INDEX CONCURRENTLY idx_t_id ON t (id);',
    );
    expect(suggestIndex('SELECT * FROM t WHERE id = ANY($1)', { name: 't' })?.columns).toEqual(['id']);
  });

  it('makes IS NULL a partial predicate, which needs no value', () => {
    const s = suggestIndex('SELECT * FROM jobs WHERE deleted_at IS NULL AND queue = $1', { name: 'jobs' });
    expect(s?.sql).toBe('CREATE INDEX CONCURRENTLY idx_jobs_queue ON jobs (queue) WHERE deleted_at IS NULL;');
  });

  it('picks the columns of the named table in a join, by alias', () => {
    const sql =
      'SELECT f.id FROM findings f JOIN users AS u ON u.id = f.user_id WHERE f.status = $1 AND u.email = $2';
    expect(suggestIndex(sql, { name: 'findings' })?.columns).toEqual(['status']);
    expect(suggestIndex(sql, { name: 'users' })?.columns).toEqual(['email']);
  });

  it('gives up on unqualified columns in a join: it cannot tell whose they are', () => {
    expect(suggestIndex('SELECT * FROM a, b WHERE x = $1', { name: 'a' })).toBeUndefined();
  });

  it('gives up when an OR joins the top-level conditions', () => {
    expect(suggestIndex('SELECT * FROM t WHERE a = $1 OR b = $2', { name: 't' })).toBeUndefined();
  });

  it('ignores an OR inside parentheses but keeps the other conditions', () => {
    expect(
      suggestIndex('SELECT * FROM t WHERE a = $1 AND (b = $2 OR c = $3)', { name: 't' })?.columns,
    ).toEqual(['a']);
  });

  it('gives up on expressions over columns', () => {
    expect(suggestIndex('SELECT * FROM users WHERE lower(email) = $1', { name: 'users' })).toBeUndefined();
  });

  it('reads a constant on the left', () => {
    expect(suggestIndex('SELECT * FROM t WHERE $1 = status', { name: 't' })?.columns).toEqual(['status']);
  });

  it('covers UPDATE and DELETE', () => {
    expect(
      suggestIndex('UPDATE findings SET status = $1 WHERE owner_id = $2', { name: 'findings' })?.columns,
    ).toEqual(['owner_id']);
    expect(
      suggestIndex('DELETE FROM sessions WHERE expires_at < now()', { name: 'sessions' })?.columns,
    ).toEqual(['expires_at']);
  });

  it('qualifies a table outside public and quotes names that need it', () => {
    expect(
      suggestIndex('SELECT * FROM app.events WHERE kind = $1', { schema: 'app', name: 'events' })?.sql,
    ).toBe('CREATE INDEX CONCURRENTLY idx_events_kind ON app.events (kind);');
    expect(suggestIndex('SELECT * FROM "Order" WHERE "userId" = $1', { name: 'Order' })?.sql).toBe(
      'CREATE INDEX CONCURRENTLY idx_order_userid ON "Order" ("userId");',
    );
  });

  it('does not suggest for a table the query does not read', () => {
    expect(suggestIndex('SELECT * FROM a WHERE x = $1', { name: 'b' })).toBeUndefined();
  });

  it('drops an ORDER BY it cannot follow (ordinal) and keeps the filter', () => {
    expect(suggestIndex('SELECT a, b FROM t WHERE a = $1 ORDER BY 2', { name: 't' })?.columns).toEqual(['a']);
  });
});

describe('parseQueryShape', () => {
  it('returns nothing for statements it does not follow', () => {
    expect(parseQueryShape('INSERT INTO t VALUES ($1)')).toBeUndefined();
    expect(parseQueryShape('VACUUM t')).toBeUndefined();
  });

  it('reads tables, conditions and sort order', () => {
    expect(
      parseQueryShape('SELECT * FROM s.t x WHERE x.a = $1 ORDER BY x.b DESC NULLS LAST, c LIMIT 5'),
    ).toEqual({
      tables: [{ schema: 's', name: 't', alias: 'x' }],
      conditions: [{ kind: 'eq', column: { qualifier: 'x', column: 'a' } }],
      orderBy: [
        { column: { qualifier: 'x', column: 'b' }, desc: true },
        { column: { column: 'c' }, desc: false },
      ],
    });
  });
});

describe('index names and identifiers', () => {
  it('keeps names within 63 characters', () => {
    expect(indexName('t'.repeat(40), ['c'.repeat(40)]).length).toBe(63);
  });

  it('quotes reserved words and mixed case only', () => {
    expect(quoteIdent('created_at')).toBe('created_at');
    expect(quoteIdent('order')).toBe('"order"');
    expect(quoteIdent('Mixed')).toBe('"Mixed"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });
});
