import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS, PostgresStore, STORE_SCHEMA } from '../../src/store/postgres-store.ts';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/testbed.ts';
import { ALERT_STALE_MS, STALE_MS, storeContract } from './contract.ts';

const testbed = inject('testbed');
let db: TestDatabase;

beforeAll(async () => {
  db = await createDatabase(testbed, 'store_contract');
});
afterAll(async () => {
  await dropDatabase(testbed, db.name);
});

async function truncateAll(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'migrations'`,
      [STORE_SCHEMA],
    );
    if (rows.length) {
      await c.query(
        `TRUNCATE ${rows.map((r: { table_name: string }) => `${STORE_SCHEMA}.${r.table_name}`).join(', ')}`,
      );
    }
  } finally {
    await c.end();
  }
}

storeContract('PostgresStore', {
  async open() {
    const store = await PostgresStore.open({
      url: db.url,
      staleClaimMs: STALE_MS,
      alertStaleClaimMs: ALERT_STALE_MS,
    });
    await truncateAll(db.url);
    return store;
  },
});

describe('PostgresStore: its own schema, migrations at start, shared by processes', () => {
  it('creates schema aegis_bot and applies every migration once, even when processes start together', async () => {
    const fresh = await createDatabase(testbed, 'store_migrate');
    try {
      const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open({ url: fresh.url })));
      expect(await stores[0]?.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const { rows } = await c.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'aegis_bot' ORDER BY table_name`,
      );
      await c.end();
      expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual([
        'alert_incident_steps',
        'alert_incidents',
        'alert_notifications',
        'approvals',
        'audit_log',
        'incident_threads',
        'migrations',
        'once_keys',
        'profile_captures',
        'reminders',
        'slack_deliveries',
      ]);
      // a restart keeps what was stored
      await stores[0]?.audit({
        at: new Date(),
        actor: 'U0ALICE',
        action: 'scale',
        service: 'aegis-api',
        what: 'replicas',
        from: '3',
        to: '5',
        result: 'done',
      });
      await Promise.all(stores.map((s) => s.close()));
      const again = await PostgresStore.open({ url: fresh.url });
      expect(await again.auditLog()).toHaveLength(1);
      expect(await again.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      await again.close();
    } finally {
      await dropDatabase(testbed, fresh.name);
    }
  });

  it('makes two processes sharing one database behave as one: 20 claims across both, one winner', async () => {
    const a = await PostgresStore.open({ url: db.url });
    const b = await PostgresStore.open({ url: db.url });
    try {
      const key = `shared-${Date.now()}`;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).claimOnce({
            key,
            actor: `U0USER${i}`,
            action: 'scale',
            what: '3 → 5',
            at: new Date(),
          }),
        ),
      );
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails at start with a message that names the store when the database cannot be reached', async () => {
    const url = `postgres://postgres@${testbed.postgres.host}:${testbed.postgres.port}/no_such_database_for_the_store`;
    await expect(PostgresStore.open({ url, connectTimeoutMs: 2000 })).rejects.toThrow(
      /^store \(PostgreSQL\): apply the store migrations failed: database "no_such_database_for_the_store" does not exist/,
    );
  });
});

describe('PostgresStore health', () => {
  it('is not ok once its database is gone, and says what to check', async () => {
    const fresh = await createDatabase(testbed, 'store_health');
    const store = await PostgresStore.open({ url: fresh.url, connectTimeoutMs: 2000 });
    const latest = MIGRATIONS.at(-1)?.version;
    expect((await store.check())[0]?.detail).toMatch(
      new RegExp(`^schema aegis_bot at migration ${latest} \\(expected ${latest}\\)`),
    );
    await dropDatabase(testbed, fresh.name);
    const [c] = await store.check();
    expect(c?.ok).toBe(false);
    expect(c?.hint).toMatch(/store\.database_url_env/);
    await store.close().catch(() => {});
  });
});
