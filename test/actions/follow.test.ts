import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { executeProposal } from '../../src/actions/execute.ts';
import { type FollowLine, followRollout } from '../../src/actions/follow.ts';
import type { RolloutStatus } from '../../src/actions/ports.ts';
import { memoryProposal, scaleProposal } from '../../src/actions/propose.ts';
import { SourceError } from '../../src/domain/errors.ts';
import { expectGrantedByRbac, type Harness, harness, service } from '../support/harness.ts';

/** A clock that only the injected sleep moves. */
function fakeTime() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    elapsed: () => t,
  };
}

const status = (s: Partial<RolloutStatus>): RolloutStatus => ({
  generation: 8,
  observedGeneration: 8,
  desired: 5,
  total: 5,
  updated: 5,
  ready: 5,
  available: 5,
  ...s,
});

function sequence(list: (RolloutStatus | Error)[]) {
  let i = 0;
  return async () => {
    const s = list[Math.min(i, list.length - 1)] as RolloutStatus | Error;
    i += 1;
    if (s instanceof Error) throw s;
    return s;
  };
}

async function follow(
  statuses: (RolloutStatus | Error)[],
  extra: Partial<Parameters<typeof followRollout>[0]> = {},
) {
  const lines: FollowLine[] = [];
  const time = fakeTime();
  const result = await followRollout({
    rolloutStatus: sequence(statuses),
    namespace: 'aegis',
    deployment: 'aegis-api',
    post: async (l) => void lines.push(l),
    timeoutMs: 60_000,
    intervalMs: 2000,
    now: time.now,
    sleep: time.sleep,
    ...extra,
  });
  return { result, lines, texts: lines.map((l) => `${l.kind}: ${l.text}`), elapsed: time.elapsed() };
}

describe('following a rollout in the thread', () => {
  it('posts "ready n of m" each time it moves, then done', async () => {
    const { result, texts } = await follow([
      status({ observedGeneration: 7, ready: 3, available: 3, total: 3, updated: 3 }),
      status({ ready: 3, available: 3 }),
      status({ ready: 3, available: 3 }),
      status({ ready: 4, available: 4 }),
      status({}),
    ]);
    expect(result).toBe('done');
    expect(texts).toEqual([
      'progress: deployment/aegis-api: ready 3 of 5, 3 updated',
      'progress: deployment/aegis-api: ready 3 of 5',
      'progress: deployment/aegis-api: ready 4 of 5',
      'progress: deployment/aegis-api: ready 5 of 5',
      'done: deployment/aegis-api: rollout complete (ready 5 of 5)',
    ]);
  });

  it('is not done while old pods still run or the controller has not seen the new generation', async () => {
    const { result, texts } = await follow(
      [status({ observedGeneration: 7 }), status({ total: 6 }), status({ total: 6 })],
      { timeoutMs: 10_000 },
    );
    expect(result).toBe('timed_out');
    expect(texts.at(-1)).toBe(
      'timed_out: deployment/aegis-api: the rollout did not finish within 10 s; last seen: ready 5 of 5, 1 old pod terminating',
    );
  });

  it('stops at the deadline and says so', async () => {
    const { result, elapsed, lines } = await follow([status({ ready: 3, available: 3 })], {
      timeoutMs: 30_000,
    });
    expect(result).toBe('timed_out');
    expect(elapsed).toBe(30_000);
    expect(lines.filter((l) => l.kind === 'progress')).toHaveLength(1);
  });

  it('reports a rollout the controller gave up on', async () => {
    const { result, texts } = await follow([
      status({ ready: 3, available: 3, failed: 'ReplicaSet "aegis-api-5f7c9d" has timed out progressing.' }),
    ]);
    expect(result).toBe('failed');
    expect(texts.at(-1)).toBe(
      'failed: deployment/aegis-api: the rollout failed: ReplicaSet "aegis-api-5f7c9d" has timed out progressing.',
    );
  });

  it('rides out a failed status read and ends with the motivating metric, before and after', async () => {
    const { result, texts } = await follow(
      [
        new SourceError('kubernetes', 'read deployment/aegis-api', 'timeout', 'no answer within 5000 ms'),
        status({}),
      ],
      {
        metric: {
          probe: {
            name: 'CPU of the hottest pod (share of its limit)',
            read: async () => ({ value: 0.61, text: '61%' }),
          },
          before: { value: 0.94, text: '94%' },
        },
      },
    );
    expect(result).toBe('done');
    expect(texts.at(-1)).toBe('metric: CPU of the hottest pod (share of its limit): before 94%, after 61%');
  });
});

describe('following a real change on the fake API server', () => {
  let h: Harness;
  afterEach(() => {
    h.cluster.uninstall();
    nock.enableNetConnect();
    expectGrantedByRbac(h.cluster);
  });

  it('after a scale from 3 to 5, sees the new pods become ready', async () => {
    nock.disableNetConnect();
    h = harness();
    const o = await executeProposal(
      scaleProposal(service(h.config), 3, 5, 'CPU'),
      { userId: 'U0ALICE' },
      h.deps,
      {
        key: 'k',
      },
    );
    expect(o.status).toBe('done');
    const time = fakeTime();
    const lines: string[] = [];
    const result = await followRollout({
      rolloutStatus: (ns, d) => h.deps.cluster?.rolloutStatus(ns, d) as Promise<RolloutStatus>,
      namespace: 'aegis',
      deployment: 'aegis-api',
      post: async (l) => void lines.push(l.text),
      timeoutMs: 60_000,
      intervalMs: 1000,
      now: time.now,
      sleep: time.sleep,
    });
    expect(result).toBe('done');
    expect(lines).toEqual([
      'deployment/aegis-api: ready 3 of 5, 3 updated',
      'deployment/aegis-api: ready 4 of 5, 4 updated',
      'deployment/aegis-api: ready 5 of 5',
      'deployment/aegis-api: rollout complete (ready 5 of 5)',
    ]);
  });

  it('after a memory limit change, follows the new pod template rolling out', async () => {
    nock.disableNetConnect();
    h = harness();
    const p = memoryProposal(service(h.config), 'aegis-api', '2Gi', '4Gi', 'memory');
    expect((await executeProposal(p, { userId: 'U0ALICE' }, h.deps, { key: 'm' })).status).toBe('done');
    const time = fakeTime();
    const lines: string[] = [];
    const result = await followRollout({
      rolloutStatus: (ns, d) => h.deps.cluster?.rolloutStatus(ns, d) as Promise<RolloutStatus>,
      namespace: 'aegis',
      deployment: 'aegis-api',
      post: async (l) => void lines.push(l.text),
      timeoutMs: 60_000,
      intervalMs: 1000,
      now: time.now,
      sleep: time.sleep,
    });
    expect(result).toBe('done');
    expect(lines[0]).toMatch(/ready \d of 3, \d updated/);
    expect(lines.at(-1)).toBe('deployment/aegis-api: rollout complete (ready 3 of 3)');
  });
});

describe('following stops when the bot shuts down', () => {
  it('says where it stopped and how to see the rest', async () => {
    const abort = new AbortController();
    let reads = 0;
    const lines: string[] = [];
    const result = await followRollout({
      rolloutStatus: async () => {
        reads += 1;
        if (reads === 2) abort.abort();
        return status({ ready: 2 + reads, available: 2 + reads });
      },
      namespace: 'aegis',
      deployment: 'aegis-api',
      post: async (l) => void lines.push(l.text),
      timeoutMs: 60_000,
      intervalMs: 1000,
      signal: abort.signal,
      ...(() => {
        const t = fakeTime();
        return { now: t.now, sleep: t.sleep };
      })(),
    });
    expect(result).toBe('interrupted');
    expect(reads).toBe(2);
    expect(lines.at(-1)).toBe(
      'stopped following deployment/aegis-api at ready 4 of 5: the bot is shutting down (kubectl rollout status deployment/aegis-api -n aegis shows the rest)',
    );
  });
});
