import { describe, expect, it } from 'vitest';
import { createInFlightTracker } from '../../src/slack/in-flight.ts';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('the in-flight tracker', () => {
  it('lists work until it settles, whether it succeeds or fails', async () => {
    const tracker = createInFlightTracker();
    const a = deferred();
    const b = deferred();
    tracker.track(a.promise, '/aegis latency');
    tracker.track(b.promise, '/aegis db');
    expect(tracker.list().map((w) => w.describe)).toEqual(['/aegis latency', '/aegis db']);
    a.resolve();
    b.reject(new Error('db down'));
    expect(await tracker.drain(5000)).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it('drain waits for running work, including work tracked while draining', async () => {
    const tracker = createInFlightTracker();
    const step = deferred();
    const post = deferred();
    // The step, when it finishes, starts posting its report: new work, tracked while drain waits.
    tracker.track(
      step.promise.then(() => tracker.track(post.promise, 'posting the report')),
      'running the step',
    );
    let drainedWith: string[] | undefined;
    const drained = tracker.drain(10_000).then((left) => {
      drainedWith = left.map((w) => w.describe);
    });

    step.resolve();
    await new Promise((resolve) => setImmediate(resolve)); // every pending callback has run
    expect(tracker.list().map((w) => w.describe)).toEqual(['posting the report']);
    expect(drainedWith).toBeUndefined(); // still waiting for the report

    post.resolve();
    await drained;
    expect(drainedWith).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it('when the time is up, drain returns the interrupted work and aborts it', async () => {
    const tracker = createInFlightTracker(() => new Date('2026-01-05T10:00:00Z'));
    const abort = new AbortController();
    const done = deferred();
    tracker.track(new Promise(() => {}), '/aegis cpu 30 (user U0ALICE)', abort);
    tracker.track(done.promise, 'quick');
    done.resolve();
    const interrupted = await tracker.drain(20);
    expect(interrupted).toEqual([
      { describe: '/aegis cpu 30 (user U0ALICE)', startedAt: new Date('2026-01-05T10:00:00Z') },
    ]);
    expect(abort.signal.aborted).toBe(true);
    expect(String(abort.signal.reason)).toContain('interrupted by shutdown');
  });
});
