/**
 * The Store contract: MemoryStore and PostgresStore both run these, so the embedded default and the
 * shared store cannot drift apart.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Proposal } from '../../src/domain/finding.ts';
import { MAX_CAPTURE_BYTES, MAX_CAPTURES_PER_POD, type Store } from '../../src/store/types.ts';

export interface ContractOptions {
  /** A store with empty state, a stale-claim window of STALE_MS and one of ALERT_STALE_MS for alerts. */
  open(): Promise<Store>;
}

export const STALE_MS = 60_000;
/** Shorter than STALE_MS, so a test can tell which window a store applies. */
export const ALERT_STALE_MS = 20_000;
const T0 = new Date('2026-01-05T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

export const PROPOSAL: Proposal = {
  action: 'set_pool_size',
  label: 'Set pool size to 100',
  change: { what: 'database.max_connections in ConfigMap aegis-config', from: '50', to: '100' },
  service: 'aegis-api',
  params: {
    configmap: 'aegis-config',
    namespace: 'aegis',
    key: 'database.max_connections',
    from: '50',
    to: 100,
    restart: false,
  },
  reason: 'db.pool',
  danger: false,
};

const claim = (key: string, actor = 'U0ALICE', when = T0) => ({
  key,
  actor,
  action: 'scale',
  what: 'replicas of deployment/aegis-api: 3 → 5',
  at: when,
});

export function storeContract(name: string, options: ContractOptions): void {
  describe(`${name}: the Store contract`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await options.open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('once-only keys', () => {
      it('gives a key to the first claim and tells later ones who holds it', async () => {
        expect(await store.claimOnce(claim('k1'))).toEqual({ claimed: true });
        const second = await store.claimOnce(claim('k1', 'U0BOB', at(1000)));
        expect(second).toEqual({
          claimed: false,
          existing: {
            key: 'k1',
            actor: 'U0ALICE',
            action: 'scale',
            what: 'replicas of deployment/aegis-api: 3 → 5',
            state: 'running',
            claimedAt: T0,
          },
        });
        expect(await store.claimOnce(claim('k2', 'U0BOB'))).toEqual({ claimed: true });
      });

      it('gives a key to exactly one of 20 concurrent claims', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.claimOnce(claim('hot', `U0USER${i}`))),
        );
        expect(results.filter((r) => r.claimed)).toHaveLength(1);
        const holders = new Set(results.flatMap((r) => (r.claimed ? [] : [r.existing.actor])));
        expect(holders.size).toBe(1);
      });

      it('keeps a done key done, with the result and when', async () => {
        await store.claimOnce(claim('k'));
        await store.completeOnce('k', { state: 'done', result: 'scaled to 5', at: at(2000) });
        const again = await store.claimOnce(claim('k', 'U0BOB', at(STALE_MS * 10)));
        expect(again.claimed).toBe(false);
        expect(again.claimed ? undefined : again.existing).toMatchObject({
          state: 'done',
          result: 'scaled to 5',
          completedAt: at(2000),
        });
      });

      it('lets a key that failed be claimed again', async () => {
        await store.claimOnce(claim('k'));
        await store.completeOnce('k', { state: 'failed', result: 'failed: 403', at: at(1) });
        expect(await store.claimOnce(claim('k', 'U0BOB', at(2)))).toEqual({ claimed: true });
        expect(await store.onceRecord('k')).toMatchObject({ actor: 'U0BOB', state: 'running' });
        expect((await store.onceRecord('k'))?.result).toBeUndefined();
      });

      it('frees a released running key, but never a done one', async () => {
        await store.claimOnce(claim('r'));
        await store.releaseOnce('r');
        expect(await store.onceRecord('r')).toBeUndefined();
        expect(await store.claimOnce(claim('r', 'U0BOB'))).toEqual({ claimed: true });
        await store.completeOnce('r', { state: 'done', result: 'ok', at: at(1) });
        await store.releaseOnce('r');
        expect((await store.onceRecord('r'))?.state).toBe('done');
      });

      it('takes over a running claim only after the stale-claim window', async () => {
        await store.claimOnce(claim('s'));
        expect((await store.claimOnce(claim('s', 'U0BOB', at(STALE_MS - 1)))).claimed).toBe(false);
        expect((await store.claimOnce(claim('s', 'U0BOB', at(STALE_MS + 1)))).claimed).toBe(true);
      });

      it('completes only a running claim', async () => {
        await store.completeOnce('never-claimed', { state: 'done', result: 'x', at: T0 });
        expect(await store.onceRecord('never-claimed')).toBeUndefined();
      });
    });

    describe('audit log', () => {
      it('keeps who, what, from, to, when and the result, newest first, filterable', async () => {
        await store.audit({
          at: at(0),
          actor: 'U0ALICE',
          action: 'scale',
          service: 'aegis-api',
          what: 'replicas',
          from: '3',
          to: '5',
          result: 'done',
          detail: 'scaled',
          key: 'k1',
          channel: 'C1',
          threadTs: '1.1',
        });
        await store.audit({
          at: at(1000),
          actor: 'U0MALLORY',
          action: 'scale',
          service: 'aegis-api',
          what: 'replicas',
          from: '5',
          to: '9',
          result: 'forbidden',
        });
        await store.audit({
          at: at(2000),
          actor: 'U0BOB',
          action: 'set_pool_size',
          service: 'aegis-api',
          what: 'pool',
          from: '50',
          to: '100',
          result: 'done',
          approvedBy: 'U0CAROL',
        });
        const all = await store.auditLog();
        expect(all.map((r) => r.actor)).toEqual(['U0BOB', 'U0MALLORY', 'U0ALICE']);
        expect(all[2]).toMatchObject({
          at: at(0),
          what: 'replicas',
          from: '3',
          to: '5',
          result: 'done',
          detail: 'scaled',
          key: 'k1',
          channel: 'C1',
          threadTs: '1.1',
        });
        expect(all[0]?.approvedBy).toBe('U0CAROL');
        expect(all[1]?.detail).toBeUndefined();
        expect((await store.auditLog({ action: 'scale' })).map((r) => r.actor)).toEqual([
          'U0MALLORY',
          'U0ALICE',
        ]);
        expect((await store.auditLog({ actor: 'U0MALLORY' })).map((r) => r.result)).toEqual(['forbidden']);
        expect(await store.auditLog({ limit: 1 })).toHaveLength(1);
        expect(new Set(all.map((r) => r.id)).size).toBe(3);
      });
    });

    describe('approvals', () => {
      it('records a request once, and lets exactly one decision through', async () => {
        const req = {
          id: 'a1',
          proposal: PROPOSAL,
          requestedBy: 'U0ALICE',
          requestedAt: T0,
          channel: 'C1',
          threadTs: '1.1',
        };
        const first = await store.createApproval(req);
        expect(first).toEqual({ created: true, approval: { ...req, status: 'pending' } });
        const again = await store.createApproval({ ...req, requestedBy: 'U0BOB', requestedAt: at(5) });
        expect(again.created).toBe(false);
        expect(again.approval.requestedBy).toBe('U0ALICE');
        const decisions = await Promise.all([
          store.decideApproval('a1', { status: 'approved', by: 'U0BOB', at: at(10) }),
          store.decideApproval('a1', { status: 'approved', by: 'U0CAROL', at: at(11) }),
        ]);
        expect(decisions.filter(Boolean)).toHaveLength(1);
        const got = await store.getApproval('a1');
        expect(got).toMatchObject({ status: 'approved', proposal: PROPOSAL });
        expect(['U0BOB', 'U0CAROL']).toContain(got?.decidedBy);
        expect(await store.getApproval('nope')).toBeUndefined();
      });
    });

    describe('reminders', () => {
      const reminder = (id: string, dueMs: number) => ({
        id,
        dueAt: at(dueMs),
        channel: 'C1',
        threadTs: '1.1',
        text: 'The memory limit raised to 4Gi is temporary (runbook): revert to 2Gi?',
        proposal: PROPOSAL,
        createdAt: T0,
      });

      it('hands each due reminder to one taker, puts back a released one', async () => {
        await store.addReminder(reminder('r1', 1000));
        await store.addReminder(reminder('r1', 1000));
        await store.addReminder(reminder('r2', 5000));
        expect(await store.takeDueReminders(at(999), 'p1')).toEqual([]);
        const [a, b] = await Promise.all([
          store.takeDueReminders(at(1000), 'p1'),
          store.takeDueReminders(at(1000), 'p2'),
        ]);
        expect([...(a ?? []), ...(b ?? [])].map((r) => r.id)).toEqual(['r1']);
        const taken = [...(a ?? []), ...(b ?? [])][0];
        expect(taken).toEqual(reminder('r1', 1000));
        await store.releaseReminder('r1');
        expect((await store.takeDueReminders(at(6000), 'p1')).map((r) => r.id)).toEqual(['r1', 'r2']);
        expect(await store.takeDueReminders(at(7000), 'p1')).toEqual([]);
      });
    });

    describe('health', () => {
      it('answers its check', async () => {
        const [c] = await store.check();
        expect(c?.ok).toBe(true);
        expect(c?.name).toMatch(/^store \((embedded|PostgreSQL)\)$/);
      });
    });

    describe('the replay cache of signed requests', () => {
      it('answers true once per key until it expires, then once again', async () => {
        const until = at(300_000);
        expect(await store.firstDelivery('sig:1', T0, until)).toBe(true);
        expect(await store.firstDelivery('sig:1', at(1000), at(301_000))).toBe(false);
        expect(await store.firstDelivery('sig:2', at(1000), at(301_000))).toBe(true);
        expect(await store.firstDelivery('sig:1', at(299_999), at(599_999))).toBe(false);
        // past the signature window the request is refused by its timestamp anyway; the key is free
        expect(await store.firstDelivery('sig:1', at(300_000), at(600_000))).toBe(true);
        expect(await store.firstDelivery('sig:1', at(300_001), at(600_001))).toBe(false);
      });

      it('gives a key to exactly one of 20 concurrent deliveries', async () => {
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => store.firstDelivery('sig:race', T0, at(300_000))),
        );
        expect(answers.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('incident threads', () => {
      it("finds a channel's latest thread and a thread by its ts", async () => {
        await store.recordIncidentThread({
          channel: 'C1',
          threadTs: '100.1',
          service: 'aegis-api',
          step: 'latency',
          createdAt: at(0),
        });
        await store.recordIncidentThread({
          channel: 'C1',
          threadTs: '200.1',
          service: 'aegis-api',
          step: 'db',
          dedupKey: 'aegis-api/p99',
          createdAt: at(1000),
        });
        await store.recordIncidentThread({
          channel: 'C2',
          threadTs: '300.1',
          service: 'billing',
          createdAt: at(2000),
        });
        expect(await store.latestIncidentThread('C1')).toEqual({
          channel: 'C1',
          threadTs: '200.1',
          service: 'aegis-api',
          step: 'db',
          dedupKey: 'aegis-api/p99',
          createdAt: at(1000),
        });
        expect((await store.incidentThread('C1', '100.1'))?.step).toBe('latency');
        expect(await store.latestIncidentThread('C9')).toBeUndefined();
        await store.recordIncidentThread({
          channel: 'C1',
          threadTs: '100.1',
          service: 'aegis-api',
          step: 'latency',
          createdAt: at(5000),
        });
        expect((await store.latestIncidentThread('C1'))?.threadTs).toBe('100.1');
      });
    });

    describe('alert notifications', () => {
      const note = (dedupKey: string, when = T0) => ({
        dedupKey,
        groupKey: '{}:{alertname="AegisHighP99"}',
        status: 'firing' as const,
        payload: { version: '4', alerts: [{ fingerprint: 'f1' }] },
        at: when,
      });

      it('records a notification once; a repeat only moves its last seen', async () => {
        const first = await store.recordAlertNotification(note('n1'));
        expect(first).toMatchObject({ fresh: true, state: 'pending', seen: 1, firstSeen: T0, lastSeen: T0 });
        expect(first.payload).toEqual({ version: '4', alerts: [{ fingerprint: 'f1' }] });
        const repeat = await store.recordAlertNotification(note('n1', at(5000)));
        expect(repeat).toMatchObject({
          fresh: false,
          state: 'pending',
          seen: 2,
          firstSeen: T0,
          lastSeen: at(5000),
        });
        const late = await store.recordAlertNotification(note('n1', at(1000)));
        expect(late.lastSeen).toEqual(at(5000));
      });

      it('hands a notification to exactly one of 20 concurrent claims, and a failed one again', async () => {
        await store.recordAlertNotification(note('n2'));
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.claimAlertNotification('n2', `bot-${i}`, at(10))),
        );
        expect(claims.filter(Boolean)).toHaveLength(1);
        await store.completeAlertNotification('n2', 'done', at(20));
        expect(await store.claimAlertNotification('n2', 'bot-x', at(30))).toBe(false);
        await store.recordAlertNotification(note('n3'));
        expect(await store.claimAlertNotification('n3', 'bot-1', at(10))).toBe(true);
        await store.completeAlertNotification('n3', 'failed', at(20));
        expect(await store.claimAlertNotification('n3', 'bot-2', at(30))).toBe(true);
        expect(await store.claimAlertNotification('unknown', 'bot-2', at(30))).toBe(false);
      });

      it('takes over a running notification only after the alert stale-claim window, and lists pending ones', async () => {
        await store.recordAlertNotification(note('n4'));
        await store.recordAlertNotification(note('n5', at(100)));
        expect((await store.pendingAlertNotifications(at(1000), at(1000))).map((n) => n.dedupKey)).toEqual([
          'n4',
          'n5',
        ]);
        expect(await store.claimAlertNotification('n4', 'bot-1', at(0))).toBe(true);
        expect(await store.claimAlertNotification('n4', 'bot-2', at(ALERT_STALE_MS - 1))).toBe(false);
        expect(await store.claimAlertNotification('n4', 'bot-2', at(ALERT_STALE_MS + 1))).toBe(true);
        expect((await store.pendingAlertNotifications(at(1000), at(1000))).map((n) => n.dedupKey)).toEqual([
          'n5',
        ]);
        expect(await store.pendingAlertNotifications(at(50), at(50))).toEqual([]);
      });

      it('lists a running notification again once its claim is stale (its replica died), never a done one', async () => {
        await store.recordAlertNotification(note('n6'));
        await store.recordAlertNotification(note('n7'));
        expect(await store.claimAlertNotification('n6', 'bot-dead', at(1000))).toBe(true);
        expect(await store.claimAlertNotification('n7', 'bot-1', at(1000))).toBe(true);
        await store.completeAlertNotification('n7', 'done', at(2000));
        const listed = async (now: number) =>
          (await store.pendingAlertNotifications(at(0), at(now))).map((n) => n.dedupKey);
        expect(await listed(1000 + ALERT_STALE_MS - 1)).toEqual([]);
        expect(await listed(1000 + ALERT_STALE_MS + 1)).toEqual(['n6']);
        const [record] = await store.pendingAlertNotifications(at(0), at(1000 + ALERT_STALE_MS + 1));
        expect(record).toMatchObject({ dedupKey: 'n6', state: 'running', fresh: false, firstSeen: T0 });
        // any replica may take it; exactly one of them does
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.claimAlertNotification('n6', `bot-${i}`, at(1000 + ALERT_STALE_MS + 1)),
          ),
        );
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await listed(1000 + ALERT_STALE_MS + 1)).toEqual([]);
        expect(await listed(1000 + 2 * ALERT_STALE_MS + 2)).toEqual(['n6']);
      });
    });

    describe('incidents of alert groups', () => {
      const claimOf = (owner: string, when = T0) => ({
        groupKey: 'g1',
        service: 'aegis-api',
        owner,
        at: when,
        startedAt: at(-60_000),
        latest: { status: 'firing', n: 1 },
        latestAt: when,
      });

      it('gives the incident of a group to exactly one of 20 concurrent claims; the others see it', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.claimAlertIncident(claimOf(`bot-${i}`))),
        );
        expect(results.filter((r) => r.claimed)).toHaveLength(1);
        const lost = results.find((r) => !r.claimed);
        expect(lost?.claimed === false && lost.incident).toMatchObject({
          groupKey: 'g1',
          service: 'aegis-api',
          status: 'firing',
          startedAt: at(-60_000),
          onset: [],
        });
        expect(lost?.claimed === false ? lost.incident.rootTs : 'claimed').toBeUndefined();
      });

      it('finds the incident by its group and by its thread once the root is posted', async () => {
        await store.claimAlertIncident(claimOf('bot-1'));
        await store.setAlertIncidentRoot('g1', { channel: 'C1', ts: '100.1' });
        expect((await store.alertIncident('g1'))?.rootTs).toBe('100.1');
        expect((await store.alertIncidentByThread('C1', '100.1'))?.groupKey).toBe('g1');
        expect(await store.alertIncidentByThread('C1', '999.1')).toBeUndefined();
        expect(await store.alertIncident('g2')).toBeUndefined();
      });

      it('takes over a claim whose root was never posted only after the alert stale-claim window', async () => {
        await store.claimAlertIncident(claimOf('bot-1'));
        expect((await store.claimAlertIncident(claimOf('bot-2', at(ALERT_STALE_MS - 1)))).claimed).toBe(
          false,
        );
        expect((await store.claimAlertIncident(claimOf('bot-2', at(ALERT_STALE_MS + 1)))).claimed).toBe(true);
        await store.setAlertIncidentRoot('g1', { channel: 'C1', ts: '100.1' });
        expect((await store.claimAlertIncident(claimOf('bot-3', at(10 * STALE_MS)))).claimed).toBe(false);
      });

      it('records each step of a group as it starts, for exactly one of 20 concurrent callers, forever', async () => {
        const starts = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.claimAlertStep('g1', 'cpu 30s', `bot-${i}`, at(10))),
        );
        expect(starts.filter(Boolean)).toHaveLength(1);
        expect(await store.claimAlertStep('g1', 'cpu 30s', 'bot-x', at(100 * STALE_MS))).toBe(false);
        expect(await store.claimAlertStep('g1', 'latency', 'bot-x', at(10))).toBe(true);
        expect(await store.claimAlertStep('g2', 'cpu 30s', 'bot-x', at(10))).toBe(true);
      });

      it('applies updates: newest notification wins, last seen only moves forward, onset and silence kept', async () => {
        await store.claimAlertIncident(claimOf('bot-1'));
        await store.updateAlertIncident('g1', {
          latest: { payload: { n: 3 }, at: at(3000) },
          lastSeen: at(3000),
        });
        const stale = await store.updateAlertIncident('g1', {
          latest: { payload: { n: 2 }, at: at(2000) },
          lastSeen: at(2000),
        });
        expect(stale?.latest).toEqual({ n: 3 });
        expect(stale?.lastSeen).toEqual(at(3000));
        const table = { title: 'top', columns: ['flat', 'function'], rows: [['40%', 'regexp.Compile']] };
        await store.updateAlertIncident('g1', {
          addOnset: { step: 'cpu', capturedAt: at(100), target: 'pod-a', table },
        });
        await store.updateAlertIncident('g1', {
          silence: { id: 's-1', endsAt: at(3_600_000), createdBy: 'alice' },
        });
        const resolved = await store.updateAlertIncident('g1', { status: 'resolved', resolvedAt: at(9000) });
        expect(resolved).toMatchObject({
          status: 'resolved',
          resolvedAt: at(9000),
          onset: [{ step: 'cpu', capturedAt: at(100), target: 'pod-a', table }],
          silence: { id: 's-1', endsAt: at(3_600_000), createdBy: 'alice' },
        });
        const late = await store.updateAlertIncident('g1', {
          status: 'firing',
          resolvedAt: null,
          latest: { payload: { n: 'late firing' }, at: at(1000) },
        });
        expect(late).toMatchObject({ status: 'resolved', resolvedAt: at(9000), latest: { n: 3 } });
        const again = await store.updateAlertIncident('g1', {
          status: 'firing',
          resolvedAt: null,
          silence: null,
        });
        expect(again?.resolvedAt).toBeUndefined();
        expect(again?.silence).toBeUndefined();
        expect(await store.updateAlertIncident('nope', { status: 'firing' })).toBeUndefined();
      });
    });
    describe('profile captures', () => {
      const capture = (pod: string, ms: number, kind: 'cpu' | 'heap' = 'cpu', service = 'aegis-api') => ({
        service,
        pod,
        kind,
        capturedAt: at(ms),
        bytes: new Uint8Array([0x1f, 0x8b, ms % 256, pod.length]),
      });

      it('gives back the newest capture of the service and kind taken before a time, from any pod', async () => {
        await store.saveProfileCapture(capture('pod-a', 1000));
        await store.saveProfileCapture(capture('pod-b', 2000));
        await store.saveProfileCapture(capture('pod-a', 3000, 'heap'));
        await store.saveProfileCapture(capture('pod-c', 4000, 'cpu', 'other-service'));
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(5000))).toEqual(
          capture('pod-b', 2000),
        );
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(2000))).toEqual(
          capture('pod-a', 1000),
        );
        expect(await store.latestProfileCapture('aegis-api', 'heap', at(5000))).toEqual(
          capture('pod-a', 3000, 'heap'),
        );
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(1000))).toBeUndefined();
      });

      it(`keeps only the newest ${MAX_CAPTURES_PER_POD} per service, pod and kind`, async () => {
        for (let i = 0; i < MAX_CAPTURES_PER_POD + 3; i++)
          await store.saveProfileCapture(capture('pod-a', i * 1000));
        await store.saveProfileCapture(capture('pod-b', 500));
        const oldest = MAX_CAPTURES_PER_POD + 3 - MAX_CAPTURES_PER_POD;
        // the older captures of pod-a are gone; pod-b's own is kept
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(oldest * 1000))).toEqual(
          capture('pod-b', 500),
        );
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(oldest * 1000 + 1))).toEqual(
          capture('pod-a', oldest * 1000),
        );
      });

      it('never trims the capture a firing incident names as its onset; once resolved, it is trimmed as any other', async () => {
        await store.saveProfileCapture(capture('pod-a', 1000));
        await store.claimAlertIncident({
          groupKey: 'g-onset',
          service: 'aegis-api',
          owner: 'bot-1',
          at: at(1500),
          startedAt: at(900),
          latest: { status: 'firing' },
          latestAt: at(1500),
        });
        const table = { columns: ['function'], rows: [['main.handler']] };
        await store.updateAlertIncident('g-onset', {
          addOnset: {
            step: 'cpu',
            capturedAt: at(1000),
            target: 'pod-a',
            capture: { pod: 'pod-a', kind: 'cpu', capturedAt: at(1000) },
            table,
          },
        });
        expect((await store.alertIncident('g-onset'))?.onset[0]?.capture).toEqual({
          pod: 'pod-a',
          kind: 'cpu',
          capturedAt: at(1000),
        });
        for (let i = 2; i < MAX_CAPTURES_PER_POD + 4; i++)
          await store.saveProfileCapture(capture('pod-a', i * 1000));
        // the onset capture outlives the trim; the one after it (not named by an incident) does not
        expect(await store.profileCaptureAt('aegis-api', 'pod-a', 'cpu', at(1000))).toEqual(
          capture('pod-a', 1000),
        );
        expect(await store.profileCaptureAt('aegis-api', 'pod-a', 'cpu', at(2000))).toBeUndefined();
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(2000), 'pod-a')).toEqual(
          capture('pod-a', 1000),
        );
        await store.updateAlertIncident('g-onset', { status: 'resolved', resolvedAt: at(50_000) });
        await store.saveProfileCapture(capture('pod-a', 60_000));
        expect(await store.profileCaptureAt('aegis-api', 'pod-a', 'cpu', at(1000))).toBeUndefined();
      });

      it('finds the newest capture of one pod, and a capture by its exact time', async () => {
        await store.saveProfileCapture(capture('pod-a', 1000));
        await store.saveProfileCapture(capture('pod-b', 2000));
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(5000), 'pod-a')).toEqual(
          capture('pod-a', 1000),
        );
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(5000), 'pod-c')).toBeUndefined();
        expect(await store.profileCaptureAt('aegis-api', 'pod-b', 'cpu', at(2000))).toEqual(
          capture('pod-b', 2000),
        );
        expect(await store.profileCaptureAt('aegis-api', 'pod-b', 'cpu', at(2001))).toBeUndefined();
      });

      it('changes nothing when the same capture is saved twice (a report that joined a running capture)', async () => {
        await store.saveProfileCapture(capture('pod-a', 1000));
        await store.saveProfileCapture({ ...capture('pod-a', 1000), bytes: new Uint8Array([9]) });
        expect((await store.latestProfileCapture('aegis-api', 'cpu', at(2000)))?.bytes).toEqual(
          capture('pod-a', 1000).bytes,
        );
      });

      it(`refuses a capture over ${MAX_CAPTURE_BYTES} bytes, saying so, and keeps nothing`, async () => {
        const big = { ...capture('pod-a', 1000), bytes: new Uint8Array(MAX_CAPTURE_BYTES + 1) };
        await expect(store.saveProfileCapture(big)).rejects.toThrow(/over the 8388608 bytes the store keeps/);
        expect(await store.latestProfileCapture('aegis-api', 'cpu', at(2000))).toBeUndefined();
      });
    });
  });
}
