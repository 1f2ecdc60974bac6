import { describe, expect, it } from 'vitest';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import { createParts } from '../../src/steps/parts.ts';
import type { PartUpdate } from '../../src/steps/step.ts';

function recorder() {
  const updates: PartUpdate[] = [];
  return { updates, progress: (u: PartUpdate) => updates.push(u) };
}

describe('the parts of a step', () => {
  it('reports a part running when it starts, then ok with its value', async () => {
    const { updates, progress } = recorder();
    const parts = createParts(progress);
    const pending = parts.run('latency', async () => 42);
    expect(updates).toEqual([{ name: 'latency', status: 'running' }]);
    expect(await pending).toEqual({ ok: true, value: 42 });
    expect(updates).toEqual([
      { name: 'latency', status: 'running' },
      { name: 'latency', status: 'ok' },
    ]);
    expect(parts.statuses).toEqual([{ name: 'latency', status: 'ok' }]);
  });

  it('makes a part whose source fails unavailable with the reason, and the others still report', async () => {
    const { updates, progress } = recorder();
    const parts = createParts(progress);
    const failure = new SourceError('Prometheus', 'query', 'timeout', 'no answer within 5 s');
    const [down, up] = await Promise.all([
      parts.run('error rate', async () => {
        throw failure;
      }),
      parts.run('pods', async () => ['p1']),
    ]);
    expect(down).toEqual({ ok: false, reason: failure.message, error: failure });
    expect(up).toEqual({ ok: true, value: ['p1'] });
    expect(parts.statuses).toEqual([
      { name: 'error rate', status: 'unavailable', reason: failure.message },
      { name: 'pods', status: 'ok' },
    ]);
    expect(updates.map((u) => `${u.name} ${u.status}`)).toEqual([
      'error rate running',
      'pods running',
      'error rate unavailable',
      'pods ok',
    ]);
  });

  it('rejects on a failure that is not a source failure (a bug), recording nothing for the part', async () => {
    const { updates, progress } = recorder();
    const parts = createParts(progress);
    await expect(
      parts.run('charts', async () => {
        throw new TypeError('x is undefined');
      }),
    ).rejects.toThrow('x is undefined');
    expect(parts.statuses).toEqual([]);
    expect(updates).toEqual([{ name: 'charts', status: 'running' }]);
  });

  it('lets a step say which failures make a part unavailable', async () => {
    class FontMissing extends Error {}
    const parts = createParts(() => {}, { unavailableOn: (e) => e instanceof FontMissing });
    const o = await parts.run('charts', async () => {
      throw new FontMissing('DejaVu Sans is not installed');
    });
    expect(o).toMatchObject({ ok: false, reason: 'DejaVu Sans is not installed' });
    await expect(
      parts.run('latency', async () => {
        throw new AppError('config', 'no Prometheus');
      }),
    ).rejects.toThrow('no Prometheus');
  });

  it('marks a part unavailable when its answer says so', async () => {
    const parts = createParts(() => {});
    const o = await parts.run(
      'slow queries',
      async () => 'pg_stat_statements not installed',
      (why) => why,
    );
    expect(o).toEqual({ ok: true, value: 'pg_stat_statements not installed' });
    expect(parts.statuses).toEqual([
      { name: 'slow queries', status: 'unavailable', reason: 'pg_stat_statements not installed' },
    ]);
  });

  it('records a part that cannot start as unavailable without a running update', () => {
    const { updates, progress } = recorder();
    const parts = createParts(progress);
    parts.unavailable('pool logs', 'no pod log reader configured (Kubernetes API)');
    expect(updates).toEqual([
      { name: 'pool logs', status: 'unavailable', reason: 'no pod log reader configured (Kubernetes API)' },
    ]);
    expect(parts.statuses).toEqual(updates);
  });
});
