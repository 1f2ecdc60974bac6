import { describe, expect, it } from 'vitest';
import { reminderLoop } from '../../src/actions/reminders.ts';
import type { Proposal } from '../../src/domain/finding.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { Reminder } from '../../src/store/types.ts';

const revert: Proposal = {
  action: 'set_memory_limit',
  label: 'Revert memory limit to 2Gi',
  change: { what: 'memory limit of container aegis-api in deployment/aegis-api', from: '4Gi', to: '2Gi' },
  service: 'aegis-api',
  params: { container: 'aegis-api', from: '4Gi', to: '2Gi', revert: true },
  reason: 'temporary',
  danger: true,
};

describe('the reminder loop', () => {
  it('posts each due reminder once, across replicas, and retries one that could not be posted', async () => {
    const store = new MemoryStore();
    let now = new Date('2026-01-05T11:59:59Z');
    await store.addReminder({
      id: 'r1',
      dueAt: new Date('2026-01-05T12:00:00Z'),
      channel: 'C0INCIDENT',
      threadTs: '1.1',
      text: 'The memory limit raised to 4Gi is temporary (runbook): revert to 2Gi?',
      proposal: revert,
      createdAt: new Date('2026-01-05T10:00:00Z'),
    });
    const posted: string[] = [];
    let failNext = true;
    const replica = (name: string) =>
      reminderLoop({
        store,
        owner: name,
        now: () => now,
        post: async (r: Reminder) => {
          if (failNext) {
            failNext = false;
            throw new Error('ratelimited');
          }
          posted.push(`${name}: ${r.text}`);
        },
      });
    const a = replica('pod-a');
    const b = replica('pod-b');
    // not due yet
    expect(await a.tick()).toBe(0);
    // due, but Slack refuses the post: the reminder goes back
    now = new Date('2026-01-05T12:00:00Z');
    expect(await a.tick()).toBe(0);
    expect(failNext).toBe(false);
    expect(posted).toEqual([]);
    now = new Date('2026-01-05T12:00:30Z');
    const counts = await Promise.all([a.tick(), b.tick()]);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(1);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatch(/: The memory limit raised to 4Gi is temporary \(runbook\): revert to 2Gi\?$/);
    expect(await a.tick()).toBe(0);
    await Promise.all([a.stop(), b.stop()]);
  });
});
