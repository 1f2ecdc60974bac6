import { expect } from 'vitest';
import type { ActionDeps, GroupsOf } from '../../src/actions/types.ts';
import { type Config, parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { KubernetesActions } from '../../src/sources/kubernetes-actions.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { Store } from '../../src/store/types.ts';
import { FakeCluster, kubeConfigFor } from './fake-cluster.ts';
import { loadRbac, refusedRequests } from './rbac.ts';

export const BASE_YAML = `
services:
  - name: aegis-api
    default: true
    namespace: aegis
    deployment: aegis-api
    container: aegis-api
    configmap: aegis-config
actions:
  min_replicas: 2
  max_replicas: 10
  scale_step_percent: 50
  max_memory: 8Gi
  temporary_change_reminder: 1h
authorization:
  scale: { users: [U0ALICE], groups: [S0ONCALL] }
  set_memory_limit: { users: [U0ALICE] }
  set_pool_size: { users: [U0ALICE, U0BOB, U0CAROL], second_approver: true }
  vacuum_analyze: { users: [], groups: [] }
`;

export function actionConfig(yaml = BASE_YAML): Config {
  return parseConfig(yaml, 'actions-test.yml', {});
}

export function service(config: Config, name = 'aegis-api'): ServiceConfig {
  const s = config.services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

/** Group membership as Slack would answer it; counts lookups. */
export function groups(members: Record<string, readonly string[]>): GroupsOf & { lookups: number } {
  const fn = async (userId: string, candidates: readonly string[]) => {
    fn.lookups += 1;
    return candidates.filter((g) => members[g]?.includes(userId));
  };
  fn.lookups = 0;
  return fn;
}

export interface Harness {
  readonly config: Config;
  readonly cluster: FakeCluster;
  readonly store: Store;
  readonly deps: ActionDeps;
  readonly clock: { now: Date };
}

export function harness(
  opts: { config?: Config; store?: Store; groupsOf?: GroupsOf; deps?: Partial<ActionDeps> } = {},
): Harness {
  const config = opts.config ?? actionConfig();
  const cluster = new FakeCluster().install();
  const store = opts.store ?? new MemoryStore();
  const clock = { now: new Date('2026-01-05T10:00:00Z') };
  const deps: ActionDeps = {
    config,
    store,
    groupsOf: opts.groupsOf ?? groups({ S0ONCALL: ['U0ONCALL'] }),
    cluster: new KubernetesActions({ kubeConfig: kubeConfigFor(), timeoutMs: 5000 }),
    now: () => new Date(clock.now),
    ...opts.deps,
  };
  return { config, cluster, store, deps, clock };
}

const rbac = loadRbac();

/** Every request the fake API server saw is one deploy/rbac.yaml grants. */
export function expectGrantedByRbac(cluster: FakeCluster): void {
  expect(refusedRequests(rbac, cluster.requests)).toEqual([]);
}
