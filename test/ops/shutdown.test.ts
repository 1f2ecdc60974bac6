import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { checkReady, createReadiness } from '../../src/ops/health.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { describeWork, installShutdown } from '../../src/ops/shutdown.ts';

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The shape the Slack app's in-flight tracker answers. */
interface Work {
  readonly describe: string;
  readonly startedAt: Date;
}

function harness(
  opts: {
    drain?: (ms: number) => Promise<readonly Work[]>;
    closeFails?: boolean;
    drainTimeoutMs?: number;
  } = {},
) {
  const events: string[] = [];
  const exits: number[] = [];
  const reported: Work[][] = [];
  const signals = new EventEmitter();
  const readiness = createReadiness();
  readiness.markStarted();
  const logLines: string[] = [];
  let exited: () => void = () => {};
  const exitedOnce = new Promise<void>((resolve) => {
    exited = resolve;
  });
  const handle = installShutdown<Work>({
    markNotReady: () => {
      events.push('not ready');
      readiness.markShuttingDown();
    },
    stopAccepting: () => {
      events.push('stop accepting');
    },
    drain:
      opts.drain ??
      (async (ms) => {
        events.push(`drain ${ms}`);
        return [];
      }),
    reportInterrupted: async (work) => {
      events.push('report');
      reported.push([...work]);
    },
    closers: [
      {
        name: 'http server',
        close: async () => {
          events.push('close http server');
          if (opts.closeFails) throw new Error('close failed');
        },
      },
      { name: 'store', close: () => void events.push('close store') },
    ],
    drainTimeoutMs: opts.drainTimeoutMs ?? 1000,
    exit: (code) => {
      events.push(`exit ${code}`);
      exits.push(code);
      exited();
    },
    signalSource: signals,
    logger: createLogger({ level: 'info', destination: { write: (l: string) => logLines.push(l) } }),
  });
  return { events, exits, reported, signals, readiness, handle, exitedOnce, logLines };
}

describe('graceful shutdown', () => {
  it('on SIGTERM: not ready, stop accepting, drain, close in order, exit 0', async () => {
    const h = harness();
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exitedOnce;
    expect(h.events).toEqual([
      'not ready',
      'stop accepting',
      'drain 1000',
      'close http server',
      'close store',
      'exit 0',
    ]);
    expect(h.reported).toEqual([]);
    expect((await checkReady({ readiness: h.readiness })).reasons).toEqual(['shutting down']);
    h.handle.uninstall();
  });

  it('when work is still running at the deadline, it reports it as interrupted before closing', async () => {
    const stuck: Work[] = [{ describe: '/aegis cpu 30 by U0123ALICE', startedAt: new Date() }];
    const h = harness({ drain: async () => stuck });
    h.signals.emit('SIGINT', 'SIGINT');
    await h.exitedOnce;
    expect(h.reported).toEqual([stuck]);
    expect(h.events).toEqual([
      'not ready',
      'stop accepting',
      'report',
      'close http server',
      'close store',
      'exit 0',
    ]);
    expect(h.logLines.join('')).toContain('/aegis cpu 30 by U0123ALICE');
    h.handle.uninstall();
  });

  it('a second signal during the drain exits at once with 128 + the signal number', async () => {
    const gate = deferred<readonly Work[]>();
    const draining = deferred<void>();
    const h = harness({
      drain: () => {
        draining.resolve();
        return gate.promise;
      },
    });
    h.signals.emit('SIGTERM', 'SIGTERM');
    await draining.promise;
    h.signals.emit('SIGINT', 'SIGINT');
    expect(h.exits).toEqual([130]);
    gate.resolve([]);
    await h.handle.shutdown('again');
    expect(h.exits).toEqual([130]);
    h.handle.uninstall();
  });

  it('exits 1 at its hard deadline when the drain and the closers never answer', async () => {
    const exits: number[] = [];
    const signals = new EventEmitter();
    let exited: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      exited = resolve;
    });
    const never = new Promise<never>(() => {});
    const handle = installShutdown({
      drain: () => never,
      closers: [{ name: 'stuck', close: () => never }],
      hardDeadlineMs: 50,
      exit: (code) => {
        exits.push(code);
        exited();
      },
      signalSource: signals,
    });
    signals.emit('SIGTERM', 'SIGTERM');
    await done;
    expect(exits).toEqual([1]);
    handle.uninstall();
  });

  it('when a closer fails, the others still close and the exit code is 1', async () => {
    const h = harness({ closeFails: true });
    expect(await h.handle.shutdown('test')).toBe(1);
    expect(h.events.slice(-3)).toEqual(['close http server', 'close store', 'exit 1']);
    h.handle.uninstall();
  });

  it('runs once however often it is asked', async () => {
    const h = harness();
    const [a, b] = await Promise.all([h.handle.shutdown('one'), h.handle.shutdown('two')]);
    expect([a, b]).toEqual([0, 0]);
    expect(h.exits).toEqual([0]);
    expect(h.handle.shuttingDown).toBe(true);
    h.handle.uninstall();
  });

  it('after uninstall, signals are ignored', () => {
    const h = harness();
    h.handle.uninstall();
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(h.events).toEqual([]);
    expect(h.signals.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('describeWork', () => {
  it('names work by its description or describe field, else its JSON', () => {
    expect(describeWork({ description: '/aegis db' })).toBe('/aegis db');
    expect(describeWork({ describe: '/aegis heap', startedAt: new Date() })).toBe('/aegis heap');
    expect(describeWork('/aegis cpu 30')).toBe('/aegis cpu 30');
    expect(describeWork({ step: 'latency' })).toBe('{"step":"latency"}');
  });
});
