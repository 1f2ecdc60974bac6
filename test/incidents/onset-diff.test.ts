import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../src/config/schema.ts';
import { onsetDiff } from '../../src/incidents/onset-diff.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import type { OnsetEvidence, ProfileCapture } from '../../src/store/types.ts';
import { fakeResult } from '../support/slack.ts';
import { cpuBytes } from './fixtures.ts';
import { alertsConfig } from './support.ts';

const service = alertsConfig().services[0] as ServiceConfig;

const http = ['runtime.goexit', 'main.handle'];
const atOnset = cpuBytes([
  [[...http, 'main.search'], 90],
  [[...http, 'main.encodeReportJSON', 'encoding/json.Marshal'], 10],
]);
const later = cpuBytes([
  [[...http, 'main.search'], 40],
  [[...http, 'main.encodeReportJSON', 'encoding/json.Marshal'], 60],
]);

const ONSET_AT = new Date('2026-01-05T10:00:01Z');
const capture = (pod: string, at: Date, bytes: Uint8Array): ProfileCapture => ({
  service: service.name,
  pod,
  kind: 'cpu',
  capturedAt: at,
  bytes,
});
const onset: OnsetEvidence = {
  step: 'cpu',
  capturedAt: ONSET_AT,
  target: 'pod-a',
  capture: { pod: 'pod-a', kind: 'cpu', capturedAt: ONSET_AT },
  table: { columns: ['function'], rows: [['main.search']] },
};
// the fresh run: 10:30:00 to 10:30:31
const fresh = fakeResult('cpu', service.name, {
  startedAt: new Date('2026-01-05T10:30:00Z'),
  finishedAt: new Date('2026-01-05T10:30:31Z'),
});
const FRESH_AT = new Date('2026-01-05T10:30:00.500Z');

describe('"compare with onset" diffs the onset capture against the one taken now', () => {
  it('names the functions whose share grew since onset (pprof -diff_base), with onset as the base', async () => {
    const store = new MemoryStore();
    await store.saveProfileCapture(capture('pod-a', ONSET_AT, atOnset));
    await store.saveProfileCapture(capture('pod-a', FRESH_AT, later));
    const d = await onsetDiff(store, service, onset, fresh);
    expect(d.note).toBeUndefined();
    expect(d.finding?.id).toBe('cpu.diff');
    expect(d.finding?.title).toMatch(
      /^Since onset \(pod-a at 2026-01-05T10:00:01\.000Z\): encoding\/json\.Marshal grew most, 10% → 60% of CPU/,
    );
    const grown = d.finding?.evidence.find((e) => e.type === 'table' && /grew most/.test(e.title ?? ''));
    expect(grown?.type === 'table' && grown.rows.map((r) => r[0])).toEqual([
      'encoding/json.Marshal',
      'main.encodeReportJSON',
    ]);
  });

  it('says so when the fresh profile is of another pod than the onset one', async () => {
    const store = new MemoryStore();
    await store.saveProfileCapture(capture('pod-a', ONSET_AT, atOnset));
    await store.saveProfileCapture(capture('pod-b', FRESH_AT, later));
    const d = await onsetDiff(store, service, onset, fresh);
    expect(d.finding?.title).toMatch(/encoding\/json\.Marshal grew most/);
    expect(d.note).toBe('the onset pod pod-a was not profiled now; the fresh profile is of pod-b');
  });

  it('falls back to the tables, saying why, when the onset capture is no longer kept', async () => {
    const store = new MemoryStore();
    await store.saveProfileCapture(capture('pod-a', FRESH_AT, later));
    const d = await onsetDiff(store, service, onset, fresh);
    expect(d.finding).toBeUndefined();
    expect(d.note).toMatch(/^the onset cpu profile of pod-a is no longer kept/);
  });

  it('never diffs the onset against itself when the fresh run kept no capture', async () => {
    const store = new MemoryStore();
    await store.saveProfileCapture(capture('pod-a', ONSET_AT, atOnset));
    const soon = fakeResult('cpu', service.name, {
      startedAt: new Date('2026-01-05T10:00:30Z'),
      finishedAt: new Date('2026-01-05T10:01:01Z'),
    });
    const d = await onsetDiff(store, service, onset, soon);
    expect(d.finding).toBeUndefined();
    expect(d.note).toBe('the cpu profile captured now was not kept, so there is no diff');
  });

  it('reports a capture that does not decode as the reason, not as an internal error', async () => {
    const store = new MemoryStore();
    await store.saveProfileCapture(capture('pod-a', ONSET_AT, new Uint8Array([1, 2, 3])));
    await store.saveProfileCapture(capture('pod-a', FRESH_AT, later));
    const d = await onsetDiff(store, service, onset, fresh);
    expect(d.finding).toBeUndefined();
    expect(d.note).toMatch(/^no diff: /);
  });

  it('leaves a goroutine onset (no capture: no pprof diff) to the table comparison', async () => {
    const { capture: _none, ...goroutines } = { ...onset, step: 'goroutines' };
    expect(await onsetDiff(new MemoryStore(), service, goroutines, fresh)).toEqual({});
  });
});
