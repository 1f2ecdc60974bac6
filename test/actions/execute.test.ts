import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError } from '../../src/actions/errors.ts';
import { approveRequest, executeProposal, OFFER_CLOCK_SKEW_MS } from '../../src/actions/execute.ts';
import { memoryProposal, poolProposal, scaleProposal } from '../../src/actions/propose.ts';
import type { ActionOutcome } from '../../src/actions/types.ts';
import type { Proposal } from '../../src/domain/finding.ts';
import { fixture } from '../support/fake-cluster.ts';
import { expectGrantedByRbac, type Harness, harness, service } from '../support/harness.ts';

let h: Harness;
beforeEach(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  h = harness();
});
afterEach(() => {
  h.cluster.uninstall();
  nock.enableNetConnect();
  expectGrantedByRbac(h.cluster);
});

const click = (key = 'click:1') => ({ key, channel: 'C0INCIDENT', threadTs: '1700000000.000100' });
const scaleTo = (to: number, from = 3): Proposal =>
  scaleProposal(service(h.config), from, to, 'CPU CRITICAL');
const run = (p: Proposal, userId: string, key?: string) => executeProposal(p, { userId }, h.deps, click(key));

function expectStatus<S extends ActionOutcome['status']>(
  o: ActionOutcome,
  s: S,
): Extract<ActionOutcome, { status: S }> {
  expect(
    o.status,
    JSON.stringify(o, (k, v) => (k === 'cause' ? undefined : v)),
  ).toBe(s);
  return o as Extract<ActionOutcome, { status: S }>;
}

describe('a confirmed scale click', () => {
  it('scales the deployment through the scale subresource and audits who, what, from, to, when and the result', async () => {
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'done');
    expect(h.cluster.replicas).toBe(5);
    expect(h.cluster.patches).toHaveLength(1);
    expect(o.summary).toBe('scaled deployment/aegis-api in aegis from 3 to 5 replicas');
    expect(o.rollout).toEqual({ namespace: 'aegis', deployment: 'aegis-api' });
    const audit = await h.store.auditLog();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'U0ALICE',
      action: 'scale',
      service: 'aegis-api',
      what: 'replicas of deployment/aegis-api in aegis',
      from: '3',
      to: '5',
      result: 'done',
      at: h.clock.now,
      channel: 'C0INCIDENT',
      threadTs: '1700000000.000100',
    });
  });

  it('lets a member of an allowed user group scale, looking the membership up', async () => {
    const o = await run(scaleTo(5), 'U0ONCALL');
    expectStatus(o, 'done');
    expect(h.cluster.replicas).toBe(5);
  });

  it('for a user outside the allowed users and groups changes nothing, says who may, and writes one audit row', async () => {
    const o = expectStatus(await run(scaleTo(5), 'U0MALLORY'), 'refused');
    expect(o.error).toBeInstanceOf(ForbiddenError);
    expect(o.allowed).toEqual({ users: ['U0ALICE'], groups: ['S0ONCALL'] });
    expect(o.error.message).toBe(
      'you may not scale deployments: only user U0ALICE or members of S0ONCALL may (authorization.scale)',
    );
    expect(h.cluster.requests).toHaveLength(0);
    expect(h.cluster.replicas).toBe(3);
    const audit = await h.store.auditLog();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'U0MALLORY',
      action: 'scale',
      result: 'forbidden',
      from: '3',
      to: '5',
    });
  });

  it('refuses everyone for an action the configuration lists nobody for, and says so', async () => {
    const p: Proposal = {
      action: 'vacuum_analyze',
      label: 'VACUUM ANALYZE findings',
      change: { what: 'table findings', from: 'as it is', to: 'vacuumed and analyzed' },
      service: 'aegis-api',
      params: { schema: 'public', table: 'findings', database: 'aegis' },
      reason: 'db.vacuum.public.findings',
      danger: false,
    };
    const o = expectStatus(await run(p, 'U0ALICE'), 'refused');
    expect(o.error.message).toBe(
      'nobody may run VACUUM ANALYZE: authorization.vacuum_analyze in the configuration lists no users or groups',
    );
    const cancel = expectStatus(
      await run(
        {
          ...p,
          action: 'cancel_query',
          params: {
            pid: 4711,
            backendStart: '2026-01-05T09:00:00.000000Z',
            queryStart: '2026-01-05T09:59:00.000000Z',
            database: 'aegis',
          },
        },
        'U0ALICE',
      ),
      'refused',
    );
    expect(cancel.error.message).toMatch(/^nobody may cancel queries: authorization\.cancel_query/);
    expect((await h.store.auditLog()).map((r) => r.result)).toEqual(['forbidden', 'forbidden']);
  });

  it('refuses replicas outside the configured bounds before touching the cluster', async () => {
    const high = expectStatus(await run(scaleTo(11), 'U0ALICE', 'click:high'), 'refused');
    expect(high.error.code).toBe('out_of_range');
    expect(high.error.message).toBe(
      '11 replicas is outside the configured bounds 2..10 (actions.min_replicas, actions.max_replicas)',
    );
    const low = expectStatus(await run(scaleTo(1), 'U0ALICE', 'click:low'), 'refused');
    expect(low.error.code).toBe('out_of_range');
    expect(h.cluster.requests).toHaveLength(0);
    expect((await h.store.auditLog()).map((r) => r.result)).toEqual(['refused', 'refused']);
  });

  it('refuses a button whose dialog and values disagree, or that names another deployment', async () => {
    const lying = { ...scaleTo(5), change: { what: 'replicas of deployment/aegis-api', from: '3', to: '4' } };
    expect(expectStatus(await run(lying, 'U0ALICE', 'a'), 'refused').error.message).toMatch(
      /dialog says 4 but it carries 5/,
    );
    const other = { ...scaleTo(5), params: { namespace: 'aegis', deployment: 'billing', from: 3, to: 5 } };
    expect(expectStatus(await run(other, 'U0ALICE', 'b'), 'refused').error.message).toBe(
      'the button names deployment/billing, but service aegis-api is deployment/aegis-api',
    );
    expect(h.cluster.requests).toHaveLength(0);
  });

  it('refuses a button carrying a parameter its handler does not know, naming it, instead of dropping it', async () => {
    const padded = { ...scaleTo(5), params: { ...scaleTo(5).params, force: true } };
    expect(expectStatus(await run(padded, 'U0ALICE', 'c'), 'refused').error.message).toBe(
      'this scale button carries unknown parameter "force": nothing was changed; run the step again',
    );
    const memory = memoryProposal(service(h.config), 'aegis-api', '2Gi', '4Gi', 'OOM');
    const paddedMemory = { ...memory, params: { ...memory.params, limits: '64Gi', requests: '1' } };
    expect(expectStatus(await run(paddedMemory, 'U0ALICE', 'd'), 'refused').error.message).toMatch(
      /unknown parameters "limits", "requests"/,
    );
    expect(h.cluster.requests).toHaveLength(0);
    expect(h.cluster.replicas).toBe(3);
  });
});

describe('the age of a clicked offer', () => {
  const clicked = (p: Proposal, key: string) =>
    executeProposal(p, { userId: 'U0ALICE' }, h.deps, { ...click(key), offered: true });
  const offered = (msFromNow: number): Proposal => ({
    ...scaleTo(5),
    offeredAt: new Date(h.clock.now.getTime() + msFromNow).toISOString(),
  });

  it('runs an offer stamped a little ahead of the clock (another replica, within the documented skew)', async () => {
    expectStatus(await clicked(offered(OFFER_CLOCK_SKEW_MS), 'click:skew'), 'done');
    expect(h.cluster.replicas).toBe(5);
  });

  it('treats an offer claiming to be from further in the future like a too-old one: changes nothing and offers it again', async () => {
    const o = expectStatus(await clicked(offered(OFFER_CLOCK_SKEW_MS + 1000), 'click:future'), 'refused');
    expect(o.error.code).toBe('conflict');
    expect(o.error.message).toBe(
      'this offer claims to be from the future (offered 2026-01-05 10:01 UTC): nothing was changed. Here it is again with the current values.',
    );
    expect(o.fresh).toEqual(scaleTo(5));
    expect(h.cluster.patches).toHaveLength(0);
    const far = expectStatus(await clicked(offered(10 * 365 * 86_400_000), 'click:far'), 'refused');
    expect(far.error.message).toMatch(/^this offer claims to be from the future \(offered 2036-/);
    expect(h.cluster.patches).toHaveLength(0);
  });
});

describe('the state is what the proposal saw', () => {
  it('when the replicas changed meanwhile, changes nothing and asks again from the live count', async () => {
    h.cluster.setReplicasBehindTheBotsBack(4);
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'refused');
    expect(o.error.code).toBe('conflict');
    expect(o.error.message).toBe(
      'the replicas of deployment/aegis-api changed meanwhile: the button saw 3, now there are 4',
    );
    expect(o.fresh?.change).toEqual({ what: 'replicas of deployment/aegis-api', from: '4', to: '5' });
    expect(h.cluster.patches).toHaveLength(0);
    expect((await h.store.auditLog())[0]).toMatchObject({ result: 'conflict' });
    // the fresh proposal is a new button, a new click
    const again = await run(o.fresh as Proposal, 'U0ALICE', 'click:fresh');
    expectStatus(again, 'done');
    expect(h.cluster.replicas).toBe(5);
  });

  it('when someone already made the same change, says there is nothing to do', async () => {
    h.cluster.setReplicasBehindTheBotsBack(5);
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'refused');
    expect(o.error.message).toMatch(/already has 5 replicas/);
    expect(o.fresh).toBeUndefined();
  });

  it('when the API server answers 409 between the read and the patch, asks again and frees the click', async () => {
    h.cluster.fail({ method: 'PATCH', path: /\/scale$/, status: 409, body: fixture('status-conflict.json') });
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'refused');
    expect(o.error.code).toBe('conflict');
    expect(o.error.message).toMatch(/changed meanwhile \(409 Conflict\)/);
    expect(o.fresh).toEqual(scaleTo(5));
    expect(h.cluster.replicas).toBe(3);
    // nothing changed, so the same button works when clicked again
    expectStatus(await run(scaleTo(5), 'U0ALICE'), 'done');
  });

  it('when the deployment is gone, says where it looked', async () => {
    h.cluster.gone.add('deployment');
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'refused');
    expect(o.error.code).toBe('not_found');
    expect(o.error.message).toMatch(/^deployment\/aegis-api not found in namespace aegis/);
  });
});

describe('exactly once', () => {
  it('makes one PATCH for 20 concurrent identical clicks; every other click hears who did it', async () => {
    const users = ['U0ALICE', 'U0ONCALL'];
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(scaleTo(5), users[i % 2] as string)),
    );
    expect(h.cluster.patches).toHaveLength(1);
    const done = outcomes.filter((o) => o.status === 'done');
    expect(done).toHaveLength(1);
    const winner = (done[0] as Extract<ActionOutcome, { status: 'done' }>).actor;
    const others = outcomes.filter((o) => o.status === 'already') as Extract<
      ActionOutcome,
      { status: 'already' }
    >[];
    expect(others).toHaveLength(19);
    for (const o of others) expect(o.by).toBe(winner);
    expect((await h.store.auditLog()).filter((r) => r.result === 'done')).toHaveLength(1);
  });

  it('answers a retry after the change with who did it, when, and the result', async () => {
    await run(scaleTo(5), 'U0ALICE');
    h.clock.now = new Date('2026-01-05T10:05:00Z');
    const o = expectStatus(await run(scaleTo(5), 'U0ONCALL'), 'already');
    expect(o).toMatchObject({
      by: 'U0ALICE',
      state: 'done',
      at: new Date('2026-01-05T10:00:00Z'),
      result: 'scaled deployment/aegis-api in aegis from 3 to 5 replicas',
    });
    expect(h.cluster.patches).toHaveLength(1);
  });

  it('audits a change that failed (RBAC 403) and lets the same button try again', async () => {
    h.cluster.fail({
      method: 'PATCH',
      path: /\/scale$/,
      status: 403,
      body: fixture('status-forbidden-scale.json'),
    });
    const o = expectStatus(await run(scaleTo(5), 'U0ALICE'), 'failed');
    expect(o.error.message).toMatch(
      /forbidden by RBAC: the bot's service account may not patch deployments\/scale/,
    );
    expect((await h.store.auditLog())[0]).toMatchObject({ result: 'failed', from: '3', to: '5' });
    expectStatus(await run(scaleTo(5), 'U0ALICE'), 'done');
    expect(h.cluster.replicas).toBe(5);
  });
});

describe('a temporary change: the raised memory limit', () => {
  const raise = () => memoryProposal(service(h.config), 'aegis-api', '2Gi', '4Gi', 'memory CRITICAL');

  it("applies the runbook's JSON patch and schedules a reminder offering to revert", async () => {
    const o = expectStatus(await run(raise(), 'U0ALICE'), 'done');
    expect(h.cluster.containerLimit('aegis-api')).toBe('4Gi');
    expect(o.reminderAt).toEqual(new Date('2026-01-05T11:00:00Z'));
    expect(await h.store.takeDueReminders(new Date('2026-01-05T10:59:59Z'), 'r1')).toEqual([]);
    const [reminder] = await h.store.takeDueReminders(new Date('2026-01-05T11:00:00Z'), 'r1');
    expect(reminder?.text).toBe(
      'The memory limit of aegis-api in deployment/aegis-api raised to 4Gi is temporary (runbook: Memory Exhaustion): revert to 2Gi?',
    );
    expect(reminder?.threadTs).toBe('1700000000.000100');
    const revert = reminder?.proposal as Proposal;
    expect(revert).toMatchObject({
      action: 'set_memory_limit',
      label: 'Revert memory limit to 2Gi',
      change: { from: '4Gi', to: '2Gi' },
    });
    const back = expectStatus(await run(revert, 'U0ALICE', 'click:revert'), 'done');
    expect(h.cluster.containerLimit('aegis-api')).toBe('2Gi');
    expect(back.reminderAt).toBeUndefined();
  });

  it('refuses a limit above actions.max_memory', async () => {
    const p = memoryProposal(service(h.config), 'aegis-api', '2Gi', '16Gi', 'x');
    const o = expectStatus(await run(p, 'U0ALICE'), 'refused');
    expect(o.error.message).toBe(
      'a memory limit of 16Gi is above the configured maximum 8Gi (actions.max_memory)',
    );
    expect(h.cluster.requests).toHaveLength(0);
  });
});

describe('a second approver (set_pool_size)', () => {
  const pool = (restart = false) => poolProposal(service(h.config), '50', 100, restart, 'db.pool');

  it('records the request; only another authorized person can approve; the first approval runs once', async () => {
    const asked = expectStatus(await run(pool(), 'U0ALICE'), 'awaiting_approval');
    expect(asked.created).toBe(true);
    expect(asked.change).toEqual({
      what: 'database.max_connections in ConfigMap aegis-config (aegis)',
      from: '50',
      to: '100',
    });
    expect(h.cluster.patches).toHaveLength(0);
    expect(expectStatus(await run(pool(), 'U0ALICE'), 'awaiting_approval').created).toBe(false);

    const own = expectStatus(
      await approveRequest(asked.approvalId, { userId: 'U0ALICE' }, h.deps, {}),
      'refused',
    );
    expect(own.error).toBeInstanceOf(ForbiddenError);
    expect((own.error as ForbiddenError).reason).toBe('own_request');
    const outsider = expectStatus(
      await approveRequest(asked.approvalId, { userId: 'U0MALLORY' }, h.deps, {}),
      'refused',
    );
    expect(outsider.error.code).toBe('forbidden');
    expect(h.cluster.patches).toHaveLength(0);

    const [bob, carol] = await Promise.all([
      approveRequest(asked.approvalId, { userId: 'U0BOB' }, h.deps, {}),
      approveRequest(asked.approvalId, { userId: 'U0CAROL' }, h.deps, {}),
    ]);
    const outcomes = [bob, carol] as ActionOutcome[];
    expect(outcomes.filter((o) => o.status === 'done')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'already')).toHaveLength(1);
    expect(h.cluster.patches).toHaveLength(1);
    expect((h.cluster.configmap.data as Record<string, string>)['database.max_connections']).toBe('100');

    const audit = await h.store.auditLog();
    expect(audit.map((r) => r.result).sort()).toEqual([
      'approval_requested',
      'done',
      'forbidden',
      'forbidden',
    ]);
    const done = audit.find((r) => r.result === 'done');
    expect(done).toMatchObject({ actor: 'U0ALICE', from: '50', to: '100' });
    expect(['U0BOB', 'U0CAROL']).toContain(done?.approvedBy);
  });

  it('with --restart, restarts the rollout after the ConfigMap change', async () => {
    const asked = expectStatus(await run(pool(true), 'U0ALICE'), 'awaiting_approval');
    const o = expectStatus(await approveRequest(asked.approvalId, { userId: 'U0BOB' }, h.deps, {}), 'done');
    expect(o.rollout).toEqual({ namespace: 'aegis', deployment: 'aegis-api' });
    expect(h.cluster.patches.map((p) => p.path)).toEqual([
      '/api/v1/namespaces/aegis/configmaps/aegis-config',
      '/apis/apps/v1/namespaces/aegis/deployments/aegis-api',
    ]);
    expect(h.cluster.patches[1]?.contentType).toBe('application/strategic-merge-patch+json');
  });

  it('closes a request whose state changed before approval and proposes the change again', async () => {
    const asked = expectStatus(await run(pool(), 'U0ALICE'), 'awaiting_approval');
    (h.cluster.configmap.data as Record<string, string>)['database.max_connections'] = '80';
    const o = expectStatus(
      await approveRequest(asked.approvalId, { userId: 'U0BOB' }, h.deps, {}),
      'refused',
    );
    expect(o.error.code).toBe('conflict');
    expect(o.fresh?.change.from).toBe('80');
    expect((await h.store.getApproval(asked.approvalId))?.status).toBe('stale');
    expect(h.cluster.patches).toHaveLength(0);
  });
});

describe('the motivating metric', () => {
  it('is read just before the change and handed to the follow-up', async () => {
    let reads = 0;
    const deps = {
      ...h.deps,
      metricFor: () => ({
        name: 'CPU of the hottest pod (share of its limit)',
        read: async () => {
          reads += 1;
          return { value: 0.94, text: '94%' };
        },
      }),
    };
    const o = expectStatus(await executeProposal(scaleTo(5), { userId: 'U0ALICE' }, deps, click()), 'done');
    expect(reads).toBe(1);
    expect(o.metric?.before).toEqual({ value: 0.94, text: '94%' });
  });
});
