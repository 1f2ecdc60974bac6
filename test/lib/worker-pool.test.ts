import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { createWorkerPool, type WorkerPool, workerModuleUrl } from '../../src/lib/worker-pool.ts';

const url = new URL('../support/pool-test-worker.ts', import.meta.url);
const pools: WorkerPool[] = [];
function pool(options: { size?: number; maxQueue?: number; idleMs?: number } = {}): WorkerPool {
  const p = createWorkerPool({
    url,
    name: 'test pool',
    reviveError: (e) =>
      e.name === 'AppError' ? new AppError(e.fields.code as never, e.message) : new Error(e.message),
    ...options,
  });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('a worker pool', () => {
  it('runs a task in another thread (a .ts worker module under node type stripping)', async () => {
    const p = pool();
    expect(await p.run({ kind: 'double', input: 21 })).toBe(42);
    expect(await p.run<number>({ kind: 'thread', input: null })).not.toBe(threadId);
  });

  it('hands back typed arrays whole', async () => {
    const bytes = await pool().run<Uint8Array>({ kind: 'bytes', input: 1000 });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.length).toBe(1000);
    expect(bytes[999]).toBe(7);
  });

  it('rethrows an error of the task as the same error class, code and message', async () => {
    const err = await pool()
      .run({ kind: 'usage', input: 'not a profile' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'usage', message: 'not a profile' });
  });

  it('fails only the task whose worker died, and runs the next one in a fresh worker', async () => {
    const p = pool({ size: 1 });
    const crash = p.run({ kind: 'crash', input: null });
    const next = p.run({ kind: 'double', input: 2 });
    await expect(crash).rejects.toThrow(/test pool worker stopped: exited with code 3/);
    expect(await next).toBe(4);
  });

  it('stops a running task when its signal aborts, and keeps serving', async () => {
    const p = pool({ size: 1 });
    const ac = new AbortController();
    const spinning = p.run({ kind: 'spin', input: null }, { signal: ac.signal });
    const queued = p.run({ kind: 'double', input: 5 });
    setImmediate(() => ac.abort(new AppError('busy', 'cancelled')));
    await expect(spinning).rejects.toThrow('cancelled');
    expect(await queued).toBe(10);
  });

  it('takes an aborted task out of the queue without running it', async () => {
    const p = pool({ size: 1 });
    const first = p.run({ kind: 'wait', input: 50 });
    const ac = new AbortController();
    const second = p.run({ kind: 'double', input: 1 }, { signal: ac.signal });
    expect(p.stats().queued).toBe(1);
    ac.abort(new Error('gone'));
    await expect(second).rejects.toThrow('gone');
    expect(p.stats().queued).toBe(0);
    expect(await first).toBe(50);
  });

  it('refuses a task beyond the bounded queue with a clear "busy" error', async () => {
    const p = pool({ size: 1, maxQueue: 1 });
    const running = p.run({ kind: 'wait', input: 30 });
    const waiting = p.run({ kind: 'wait', input: 1 });
    const err = await p.run({ kind: 'double', input: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'busy' });
    expect(String((err as Error).message)).toMatch(/1 analyses are already waiting/);
    await Promise.all([running, waiting]);
  });

  it('never runs more workers than its size', async () => {
    const p = pool({ size: 2 });
    const all = Promise.all([1, 2, 3, 4, 5].map((n) => p.run({ kind: 'wait', input: 20 + n })));
    expect(p.stats()).toEqual({ workers: 2, busy: 2, queued: 3 });
    expect(await all).toEqual([21, 22, 23, 24, 25]);
  });

  it('stops idle workers, and starts one again when work comes', async () => {
    const p = pool({ size: 1, idleMs: 1 });
    await p.run({ kind: 'double', input: 1 });
    await new Promise<void>((resolve) => {
      const check = () => (p.stats().workers === 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(await p.run({ kind: 'double', input: 3 })).toBe(6);
  });

  it('on close, terminates its workers and fails what waits', async () => {
    const p = pool({ size: 1 });
    const spinning = p.run({ kind: 'spin', input: null }).catch((e: Error) => e.message);
    const queued = p.run({ kind: 'double', input: 1 }).catch((e: Error) => e.message);
    await p.close();
    expect(await spinning).toMatch(/stopped: shutdown/);
    expect(await queued).toMatch(/shutting down/);
    expect(p.stats().workers).toBe(0);
    await expect(p.run({ kind: 'double', input: 1 })).rejects.toThrow(/shutting down/);
  });
});

describe('workerModuleUrl', () => {
  it('names the .ts module when running from the sources and the .js one in the build', () => {
    expect(workerModuleUrl('file:///app/src/steps/x/analyzer.ts', 'w').href).toBe(
      'file:///app/src/steps/x/w.ts',
    );
    expect(workerModuleUrl('file:///app/dist/steps/x/analyzer.js', 'w').href).toBe(
      'file:///app/dist/steps/x/w.js',
    );
  });
});
