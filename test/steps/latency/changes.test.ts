import { describe, expect, it } from 'vitest';
import type { PodInfo } from '../../../src/sources/kubernetes.ts';
import { changesFinding, collectChanges } from '../../../src/steps/latency/changes.ts';

const at = (iso: string) => new Date(`2026-03-02T${iso}Z`);
const window = { since: at('09:50:00'), until: at('09:58:00') };

const pod = (name: string, finishedAt?: Date): PodInfo =>
  ({
    name,
    namespace: 'aegis',
    phase: 'Running',
    containers: [
      {
        name: 'aegis-api',
        limits: {},
        requests: {},
        restartCount: 2,
        ready: true,
        state: 'running',
        oomKilled: true,
        ...(finishedAt ? { lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt } } : {}),
      },
    ],
  }) as unknown as PodInfo;

describe('what changed before the onset', () => {
  const changes = collectChanges(
    {
      deployment: 'aegis-api',
      replicaSets: [
        {
          name: 'aegis-api-7d9f',
          deployment: 'aegis-api',
          revision: 7,
          createdAt: at('09:52:30'),
          images: ['aegis-api=registry.example.com/aegis-api:1.4.2'],
          changeCause: 'release 1.4.2',
          replicas: 3,
        },
        // an older revision, and another deployment's
        {
          name: 'aegis-api-6c7d',
          deployment: 'aegis-api',
          revision: 6,
          createdAt: at('08:00:00'),
          images: [],
          replicas: 0,
        },
        {
          name: 'billing-1',
          deployment: 'billing',
          revision: 2,
          createdAt: at('09:53:00'),
          images: [],
          replicas: 1,
        },
      ],
      hpas: [
        {
          name: 'aegis-api',
          target: 'Deployment/aegis-api',
          lastScaleTime: at('09:55:05'),
          currentReplicas: 3,
          desiredReplicas: 5,
          minReplicas: 2,
          maxReplicas: 10,
        },
      ],
      configMaps: [
        { name: 'aegis-config', editedAt: at('09:57:12'), manager: 'kubectl-edit' },
        { name: 'kube-root-ca.crt', editedAt: new Date('2025-11-01T00:00:00Z') },
      ],
      pods: [pod('aegis-api-7d9f-abcde', at('09:56:00')), pod('aegis-api-7d9f-fghij')],
      database: {
        startedAt: new Date('2026-02-01T00:00:00Z'),
        configLoadedAt: at('09:51:00'),
        statementsResetAt: at('09:59:00'),
        changed: [
          {
            name: 'work_mem',
            setting: '1024',
            unit: 'kB',
            source: 'configuration file',
            pendingRestart: false,
          },
          {
            name: 'shared_buffers',
            setting: '16384',
            unit: '8kB',
            source: 'configuration file',
            pendingRestart: true,
          },
        ],
      },
    },
    window,
  );

  it('lists rollouts, HPA scaling, ConfigMap edits, restarts and PostgreSQL reloads inside the window, oldest first', () => {
    expect(changes.map((c) => `${c.at.toISOString().slice(11, 19)} ${c.kind} ${c.label}`)).toEqual([
      '09:51:00 database PostgreSQL reload',
      '09:52:30 rollout rev 7 aegis-api:1.4.2',
      '09:55:05 scaling HPA → 5',
      '09:56:00 restart restart abcde',
      '09:57:12 config ConfigMap aegis-config',
    ]);
    expect(changes[1]?.detail).toContain('change-cause: release 1.4.2');
    expect(changes[0]?.detail).toContain('work_mem=1024kB');
  });

  it('leaves out what happened after the onset (the pg_stat_statements reset at 09:59)', () => {
    expect(changes.some((c) => c.label === 'pg_stat_statements reset')).toBe(false);
    const later = collectChanges(
      {
        deployment: 'aegis-api',
        database: {
          startedAt: at('09:40:00'),
          configLoadedAt: at('09:40:00'),
          statementsResetAt: at('09:59:00'),
          changed: [],
        },
      },
      { since: window.since, until: at('10:00:00') },
    );
    expect(later.map((c) => c.label)).toEqual(['pg_stat_statements reset']);
  });

  it('makes one info finding with a table, and says what was checked when nothing changed', () => {
    const f = changesFinding(changes, { ...window, onset: true, now: at('10:00:00'), checked: ['rollouts'] });
    expect(f).toMatchObject({
      id: 'changes',
      severity: 'info',
      title: '5 changes in the 8m before the onset',
    });
    expect(f.evidence[0]).toMatchObject({ type: 'table', columns: ['Time', 'Kind', 'What'] });
    const none = changesFinding([], {
      ...window,
      onset: false,
      now: at('10:00:00'),
      checked: ['rollouts', 'PostgreSQL'],
    });
    expect(none.title).toBe('No change in the last 8m');
    expect(none.summary).toBe('Nothing in what was checked (rollouts, PostgreSQL).');
  });
});
