/**
 * The bundled demo incident: the real runbook steps run against the recordings in
 * src/console/demo/recordings/ (made by scripts/record-demo.ts). When a step's queries change, these
 * tests fail with the parts the recordings no longer answer: record again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AllSources } from '../../src/compose.ts';
import { stepContext } from '../../src/compose.ts';
import type { Config } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { DemoCluster } from '../../src/console/demo/demo-cluster.ts';
import { demoConfig } from '../../src/console/demo/demo-config.ts';
import { createDemo, shiftIso } from '../../src/console/demo/demo-sources.ts';
import { type DemoRecordings, loadRecordings } from '../../src/console/demo/recordings.ts';
import type { StepResult } from '../../src/domain/finding.ts';
import type { AnyStep } from '../../src/slack/app.ts';
import { dbStep } from '../../src/steps/db/step.ts';
import { latencyStep } from '../../src/steps/latency/step.ts';
import { CPU_STEP } from '../../src/steps/profiling/cpu.ts';
import { goroutinesStep } from '../../src/steps/profiling/goroutines.ts';

let recordings: DemoRecordings;
let config: Config;
let service: ServiceConfig;

beforeAll(async () => {
  recordings = await loadRecordings();
  config = demoConfig();
  service = config.services[0] as ServiceConfig;
});

async function run(
  step: AnyStep,
  words: string[],
  sources: AllSources,
  now?: () => Date,
): Promise<StepResult> {
  const ctx = stepContext(config, sources, {
    service,
    signal: new AbortController().signal,
    progress: () => {},
  });
  return step.run(now ? { ...ctx, now } : ctx, step.parse(words, { config }));
}

const notOk = (r: StepResult) => r.parts.filter((p) => p.status !== 'ok');

describe('the demo incident', () => {
  it('answers every part of /aegis latency from the recordings: a critical report offering to scale from 3', async () => {
    const demo = createDemo(recordings);
    const result = await run(latencyStep, [], demo.sources);
    expect(notOk(result)).toEqual([]);
    expect(result.severity).toBe('critical');
    expect(result.headline).toMatch(
      /^P99 [\d.]+ s CRITICAL, driven by \/api\/search; CPU 9\d% CRITICAL on 2 of 3 pods/,
    );
    expect(result.proposals.map((p) => p.label)).toContain('Scale to 5 replicas');
    expect(result.nextSteps[0]?.step).toBe('cpu');
    expect(result.nextSteps.map((n) => n.step).sort()).toEqual(['cpu', 'db', 'goroutines', 'heap']);
    expect(result.attachments.map((a) => a.mimeType)).toEqual([
      'image/png',
      'image/png',
      'image/png',
      'image/png',
    ]);
  });

  it('moves the recorded time to now: chart points end when the report is asked for', async () => {
    const later = new Date(Date.parse(recordings.prometheus.recordedAt) + 3 * 86_400_000);
    const demo = createDemo(recordings, { now: () => later });
    const prometheus = demo.sources.prometheus?.(service);
    const q = recordings.prometheus.queries.find((x) => x.type === 'range');
    if (!prometheus || q?.type !== 'range') throw new Error('no range query in the recording');
    const end = new Date(Math.floor(later.getTime() / 1000) * 1000);
    const stepMs = q.range.stepMs;
    const start = new Date(end.getTime() - (q.range.end - q.range.start) * 1000);
    const answer = await prometheus.rangeQuery(q.expr, { start, end, stepMs });
    const times = answer.series.flatMap((s) => s.points.map((p) => p.time));
    expect(Math.max(...times)).toBeLessThanOrEqual(end.getTime() / 1000);
    expect(Math.max(...times)).toBeGreaterThan(end.getTime() / 1000 - 2 * (stepMs / 1000) - 1);
    const instant = await prometheus.instantQuery(
      (recordings.prometheus.queries.find((x) => x.type === 'instant') as { expr: string }).expr,
      { time: later },
    );
    expect(instant.samples.every((s) => s.time === later.getTime() / 1000)).toBe(true);
  });

  it('answers a query it has no recording of as an unavailable part, not an internal error', async () => {
    const demo = createDemo(recordings);
    const result = await run(latencyStep, ['17m'], demo.sources);
    const parts = notOk(result);
    expect(parts.length).toBeGreaterThan(0);
    expect(parts[0]?.reason).toContain('demo recording');
    expect(parts[0]?.reason).toContain('default 5m window');
  });

  it('answers /aegis db with the recorded slow query, lock wait and long query, whose times still match when cancelled', async () => {
    const demo = createDemo(recordings);
    const result = await run(dbStep, [], demo.sources);
    expect(notOk(result)).toEqual([]);
    const ids = result.findings.map((f) => f.id);
    expect(ids.some((id) => id.startsWith('db.lock-wait.'))).toBe(true);
    expect(ids.some((id) => id.startsWith('db.long-query.'))).toBe(true);
    expect(result.findings.find((f) => f.id === 'db.pool')?.severity).not.toBe('normal');
    const cancel = result.proposals.find((p) => p.action === 'cancel_query');
    if (!cancel) throw new Error('no cancel proposal');
    const match = {
      pid: cancel.params.pid as number,
      backendStart: cancel.params.backendStart as string,
      queryStart: cancel.params.queryStart as string,
    };
    expect(Date.parse(match.queryStart)).toBeGreaterThan(Date.now() - 24 * 3_600_000);
    expect(await demo.database.session(match.pid)).toMatchObject({ queryStart: match.queryStart });
    expect(await demo.database.cancel(match)).toEqual({ matched: true });
    // the query is gone: a second cancel of the same one signals nothing
    expect(await demo.database.cancel(match)).toEqual({ matched: false });
  });

  it('reads the pool size from the demo cluster’s ConfigMap, so a changed pool size shows in the next report', async () => {
    const demo = createDemo(recordings);
    const before = await run(dbStep, ['connections'], demo.sources);
    const proposal = before.proposals.find((p) => p.action === 'set_pool_size');
    expect(proposal?.change.from).toBe('20');
    const current = await demo.cluster.readConfigValue('aegis', 'aegis-config', 'database.max_connections');
    await demo.cluster.setConfigValue('aegis', 'aegis-config', 'database.max_connections', current, '40');
    const after = await run(dbStep, ['connections'], demo.sources);
    expect(after.proposals.find((p) => p.action === 'set_pool_size')?.change.from).toBe('40');
  });

  it('replays the CPU profile and the two goroutine samples, so the leak shows as growth', async () => {
    const demo = createDemo(recordings);
    const cpu = await run(CPU_STEP, [], demo.sources);
    expect(notOk(cpu).filter((p) => p.name === 'pprof')).toEqual([]);
    expect(cpu.headline).toMatch(/encoding\/json|regexp/);
    const goroutines = await run(goroutinesStep({ intervalMs: 1 }), [], demo.sources);
    expect(notOk(goroutines)).toEqual([]);
    expect(goroutines.headline).toContain('leak');
  });

  it('shows the deployment’s replicas from the demo cluster, so a scale shows in the next report', async () => {
    const demo = createDemo(recordings);
    const scale = await demo.cluster.readScale('aegis', 'aegis-api');
    await demo.cluster.scale('aegis', 'aegis-api', 5, scale.resourceVersion);
    const result = await run(latencyStep, [], demo.sources);
    expect(result.proposals.find((p) => p.action === 'scale')?.change.from).toBe('5');
  });
});

describe('the demo cluster', () => {
  it('scales only from the resourceVersion it was read at', async () => {
    const cluster = new DemoCluster({
      namespace: 'aegis',
      deployment: 'aegis-api',
      replicas: 3,
      container: { name: 'aegis-api', memoryLimit: '1Gi' },
      configmap: { name: 'aegis-config', data: {} },
    });
    const read = await cluster.readScale('aegis', 'aegis-api');
    await cluster.scale('aegis', 'aegis-api', 5, read.resourceVersion);
    await expect(cluster.scale('aegis', 'aegis-api', 6, read.resourceVersion)).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(cluster.readScale('aegis', 'other')).rejects.toMatchObject({ code: 'not_found' });
    expect(cluster.changes).toEqual(['scale aegis/aegis-api 3 -> 5']);
  });

  it('rolls out one pod per interval until every replica is ready', async () => {
    let now = 0;
    const cluster = new DemoCluster({
      namespace: 'aegis',
      deployment: 'aegis-api',
      replicas: 3,
      container: { name: 'aegis-api' },
      configmap: { name: 'aegis-config', data: {} },
      podReadyMs: 1000,
      now: () => now,
    });
    await cluster.scale(
      'aegis',
      'aegis-api',
      5,
      (await cluster.readScale('aegis', 'aegis-api')).resourceVersion,
    );
    expect((await cluster.rolloutStatus('aegis', 'aegis-api')).ready).toBe(3);
    now = 1000;
    expect((await cluster.rolloutStatus('aegis', 'aegis-api')).ready).toBe(4);
    now = 5000;
    expect(await cluster.rolloutStatus('aegis', 'aegis-api')).toMatchObject({
      desired: 5,
      ready: 5,
      available: 5,
    });
  });

  it('refuses a memory patch when the limit changed since it was read', async () => {
    const cluster = new DemoCluster({
      namespace: 'aegis',
      deployment: 'aegis-api',
      replicas: 3,
      container: { name: 'aegis-api', memoryLimit: '1Gi' },
      configmap: { name: 'aegis-config', data: {} },
    });
    const read = await cluster.readMemoryLimit('aegis', 'aegis-api');
    expect(read).toMatchObject({
      container: 'aegis-api',
      limit: '1Gi',
      limitBytes: 2 ** 30,
      hasLimits: true,
    });
    await cluster.setMemoryLimit('aegis', 'aegis-api', read, '2Gi');
    await expect(cluster.setMemoryLimit('aegis', 'aegis-api', read, '3Gi')).rejects.toMatchObject({
      code: 'conflict',
    });
  });
});

describe('shiftIso', () => {
  it('moves a PostgreSQL timestamp and keeps its microseconds', () => {
    expect(shiftIso('2026-01-05T10:00:00.123456Z', 60_000)).toBe('2026-01-05T10:01:00.123456Z');
    expect(shiftIso('2026-01-05T10:00:00Z', 1000)).toBe('2026-01-05T10:00:01.000Z');
    expect(shiftIso('not a time', 1000)).toBe('not a time');
  });
});
