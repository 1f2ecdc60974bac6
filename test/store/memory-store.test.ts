import { describe, expect, it } from 'vitest';
import { MAX_MEMORY_AUDIT_RECORDS, MAX_MEMORY_THREADS, MemoryStore } from '../../src/store/memory-store.ts';
import { ALERT_STALE_MS, STALE_MS, storeContract } from './contract.ts';

storeContract('MemoryStore', {
  open: async () => new MemoryStore({ staleClaimMs: STALE_MS, alertStaleClaimMs: ALERT_STALE_MS }),
});

describe('MemoryStore bounds', () => {
  const thread = (i: number) => ({
    channel: 'C1',
    threadTs: `${1000 + i}.1`,
    service: 'aegis-api',
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  });

  it('forgets the oldest recorded incident thread once it holds maxThreads', async () => {
    const store = new MemoryStore({ maxThreads: 3 });
    for (let i = 0; i < 4; i += 1) await store.recordIncidentThread(thread(i));
    expect(await store.incidentThread('C1', '1000.1')).toBeUndefined();
    for (let i = 1; i < 4; i += 1) expect(await store.incidentThread('C1', `${1000 + i}.1`)).toBeDefined();
    expect((await store.latestIncidentThread('C1'))?.threadTs).toBe('1003.1');
  });

  it('counts a re-recorded thread as the newest, so it outlives threads recorded before it', async () => {
    const store = new MemoryStore({ maxThreads: 3 });
    for (let i = 0; i < 3; i += 1) await store.recordIncidentThread(thread(i));
    await store.recordIncidentThread(thread(0));
    await store.recordIncidentThread(thread(3));
    expect(await store.incidentThread('C1', '1000.1')).toBeDefined();
    expect(await store.incidentThread('C1', '1001.1')).toBeUndefined();
  });

  it('keeps the newest maxAuditRecords audit records, their ids still counting', async () => {
    const store = new MemoryStore({ maxAuditRecords: 2 });
    for (let i = 0; i < 4; i += 1) {
      await store.audit({
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        actor: 'U1',
        action: 'scale',
        service: 'aegis-api',
        what: `scale ${i}`,
        from: '3',
        to: '4',
        result: 'done',
      });
    }
    const log = await store.auditLog();
    expect(log.map((r) => [r.id, r.what])).toEqual([
      [4, 'scale 3'],
      [3, 'scale 2'],
    ]);
  });

  it('has documented default bounds', () => {
    expect(MAX_MEMORY_THREADS).toBe(10_000);
    expect(MAX_MEMORY_AUDIT_RECORDS).toBe(10_000);
  });
});
