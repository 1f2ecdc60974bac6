import { afterEach, describe, expect, it, vi } from 'vitest';
import { incidentThreads } from '../../src/incidents/incident-threads.ts';
import type { IncidentChat } from '../../src/incidents/ports.ts';
import { createAlertRouter } from '../../src/incidents/routing.ts';
import { notificationSweep } from '../../src/incidents/sweep.ts';
import type { AlertNotification } from '../../src/incidents/webhook-schema.ts';
import { notificationKey } from '../../src/incidents/webhook-schema.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { DEFAULT_ALERT_STALE_CLAIM_MS, type Store } from '../../src/store/types.ts';
import { fakeStep, recordingLog } from '../support/slack.ts';
import { fakeChat, notification } from './fixtures.ts';
import { alertsConfig } from './support.ts';

/**
 * A replica dies part-way through handling a notification it answered 2xx: every port call it makes from
 * the chosen one on never returns (as in a killed process, nothing after it runs). Another replica's
 * sweep then takes the notification up once its claim is stale, and finishes it from where the store
 * says it stopped: exactly one root, each routed step once.
 */
const config = alertsConfig();
const router = createAlertRouter(config, [
  fakeStep({ name: 'latency' }),
  fakeStep({ name: 'cpu' }),
  fakeStep({ name: 'db' }),
]);
/** Routed to [latency, cpu]: two steps, so that a death between them shows too. */
const CPU_ALERT = notification([{ fingerprint: 'c1', labels: { alertname: 'AegisHighCPU' } }], {
  groupKey: 'cpu-group',
  commonLabels: { alertname: 'AegisHighCPU', severity: 'critical', service: 'aegis-api' },
});

interface Death {
  readonly port: 'store' | 'chat';
  readonly method: string;
  /** before: the call never reaches the port; after: it does, and its caller never resumes. */
  readonly when: 'before' | 'after';
}

/** A replica's view of a port: from `death` on, every call on any of its ports hangs forever. */
function mortal() {
  let dead = false;
  let died: () => void = () => {};
  const death = new Promise<void>((resolve) => {
    died = resolve;
  });
  const never = () => new Promise<never>(() => {});
  const wrap = <T extends object>(target: T, fatal?: Omit<Death, 'port'>): T =>
    new Proxy(target, {
      get(obj, prop) {
        const value = Reflect.get(obj, prop, obj);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (dead) return never();
          if (prop !== fatal?.method) return value.apply(obj, args);
          if (fatal.when === 'after') await value.apply(obj, args);
          dead = true;
          died();
          return never();
        };
      },
    });
  return { wrap, death };
}

function clock() {
  let t = new Date('2026-01-05T10:01:00Z').getTime();
  return {
    now: () => {
      t += 1000;
      return new Date(t);
    },
    jump: (ms: number) => {
      t += ms;
    },
  };
}

function replica(owner: string, store: Store, chat: IncidentChat, now: () => Date) {
  const log = recordingLog();
  const threads = incidentThreads({
    config,
    store,
    router,
    chat,
    owner,
    log,
    now,
    pollMs: 1,
    rootWaitMs: 5000,
  });
  return { threads, log, sweep: notificationSweep({ store, threads, log, now }) };
}

/** What the receiver does before answering 2xx: the notification is recorded. */
async function record(store: Store, n: AlertNotification, at: Date) {
  return store.recordAlertNotification({
    dedupKey: notificationKey(n),
    groupKey: n.groupKey,
    status: n.status,
    payload: n,
    at,
  });
}

const STAGES: readonly (Death & { stage: string })[] = [
  {
    stage: 'after claiming the notification',
    port: 'store',
    method: 'claimAlertNotification',
    when: 'after',
  },
  {
    stage: "after claiming the group's root, before posting it",
    port: 'store',
    method: 'claimAlertIncident',
    when: 'after',
  },
  { stage: 'while posting the root (Slack never got it)', port: 'chat', method: 'postRoot', when: 'before' },
  {
    stage: "after recording the root's ts",
    port: 'store',
    method: 'setAlertIncidentRoot',
    when: 'after',
  },
  {
    stage: 'with the root posted, before any step started',
    port: 'store',
    method: 'claimAlertStep',
    when: 'before',
  },
  { stage: 'while the steps run', port: 'chat', method: 'runStep', when: 'after' },
  {
    stage: 'with everything done but the notification not marked done',
    port: 'store',
    method: 'completeAlertNotification',
    when: 'before',
  },
];

describe('a replica dies part-way through handling an answered notification', () => {
  it.each(STAGES)('$stage: another replica’s sweep finishes it, one root, each step once', async (death) => {
    const store = new MemoryStore();
    const slack = fakeChat();
    const { now, jump } = clock();
    const a = mortal();
    const fatal = { method: death.method, when: death.when };
    const dying = replica(
      'bot-a',
      death.port === 'store' ? a.wrap(store, fatal) : a.wrap(store),
      death.port === 'chat' ? a.wrap(slack, fatal) : a.wrap(slack),
      now,
    );
    const survivor = replica('bot-b', store, slack, now);

    const recorded = await record(store, CPU_ALERT, now());
    void dying.threads.handle(recorded);
    await a.death;
    // before the claims are stale, the survivor leaves the notification alone
    expect(await survivor.sweep.tick()).toBe(0);

    jump(DEFAULT_ALERT_STALE_CLAIM_MS);
    expect(await survivor.sweep.tick()).toBe(1);

    expect(slack.roots()).toBe(1);
    expect(slack.steps().sort()).toEqual(['cpu', 'latency']);
    const incident = await store.alertIncident('cpu-group');
    expect(incident?.rootTs).toBe('100.1');
    expect(await store.incidentThread('C0INCIDENT', '100.1')).toMatchObject({ service: 'aegis-api' });
    expect(survivor.log.entries.filter((e) => e.level === 'error')).toEqual([]);
    // done: no later sweep takes it up again
    jump(10 * DEFAULT_ALERT_STALE_CLAIM_MS);
    expect(await survivor.sweep.tick()).toBe(0);
    expect(slack.roots()).toBe(1);
    expect(slack.steps()).toHaveLength(2);
  });

  it("runs the group's steps with its next notification when the replica that posted the root died before them", async () => {
    const store = new MemoryStore();
    const slack = fakeChat();
    const { now } = clock();
    const a = mortal();
    const dying = replica(
      'bot-a',
      a.wrap(store, { method: 'claimAlertStep', when: 'before' }),
      a.wrap(slack),
      now,
    );
    const survivor = replica('bot-b', store, slack, now);
    void dying.threads.handle(await record(store, CPU_ALERT, now()));
    await a.death;
    const joined = structuredClone(CPU_ALERT);
    joined.alerts.push({ ...(joined.alerts[0] as AlertNotification['alerts'][number]), fingerprint: 'c2' });
    await survivor.threads.handle(await record(store, joined, now()));
    expect(slack.roots()).toBe(1);
    expect(slack.steps().sort()).toEqual(['cpu', 'latency']);
  });

  it('waits out a live claim on the root, then takes it over once stale and posts the root itself', async () => {
    const store = new MemoryStore();
    const slack = fakeChat();
    const { now, jump } = clock();
    const a = mortal();
    const dying = replica(
      'bot-a',
      a.wrap(store, { method: 'claimAlertIncident', when: 'after' }),
      a.wrap(slack),
      now,
    );
    void dying.threads.handle(await record(store, CPU_ALERT, now()));
    await a.death;
    // the survivor's clock reaches the root claim's stale boundary only while it waits (1 s per reading)
    jump(DEFAULT_ALERT_STALE_CLAIM_MS - 30_000);
    const survivor = replica('bot-b', store, slack, now);
    await survivor.threads.handle(await record(store, structuredClone(CPU_ALERT), now()));
    expect(slack.roots()).toBe(0); // a repeat of a notification being handled: last seen only
    const other = structuredClone(CPU_ALERT);
    other.alerts.push({ ...(other.alerts[0] as AlertNotification['alerts'][number]), fingerprint: 'c3' });
    await survivor.threads.handle(await record(store, other, now()));
    expect(slack.roots()).toBe(1);
    expect(slack.steps().sort()).toEqual(['cpu', 'latency']);
    expect((await store.alertIncident('cpu-group'))?.claimedBy).toBe('bot-b');
  });
});

describe('the sweep of every replica', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps at start and then every interval with jitter, and not after it is stopped', async () => {
    vi.useFakeTimers();
    let sweeps = 0;
    const store = new MemoryStore();
    const counting = new Proxy(store, {
      get(obj, prop) {
        const value = Reflect.get(obj, prop, obj);
        if (prop === 'pendingAlertNotifications') sweeps += 1;
        return typeof value === 'function' ? value.bind(obj) : value;
      },
    });
    const sweep = notificationSweep({
      store: counting,
      threads: { handle: async () => {} },
      log: recordingLog(),
      intervalMs: 10_000,
      random: () => 0.99, // the longest wait: 10 s × 1.245
    });
    sweep.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sweeps).toBe(1);
    await vi.advanceTimersByTimeAsync(12_000);
    expect(sweeps).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(sweeps).toBe(2);
    await vi.advanceTimersByTimeAsync(12_500);
    expect(sweeps).toBe(3);
    sweep.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sweeps).toBe(3);
  });

  it('stopped during a sweep, finishes the notification in hand, takes no other and sweeps no more', async () => {
    const store = new MemoryStore();
    const { now } = clock();
    for (const fingerprint of ['x1', 'x2', 'x3']) {
      await record(store, notification([{ fingerprint }]), now());
    }
    let release: () => void = () => {};
    const handled: string[] = [];
    const sweep = notificationSweep({
      store,
      threads: {
        async handle(r) {
          handled.push(r.dedupKey);
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      log: recordingLog(),
      now: () => new Date(now().getTime() + 60_000),
      intervalMs: 10,
    });
    sweep.start();
    await vi.waitFor(() => expect(handled).toHaveLength(1));
    sweep.stop();
    release();
    // the sweep in progress ends with the one it had in hand
    expect(await sweep.tick()).toBe(1);
    expect(handled).toHaveLength(1);
  });
});
