import { constants } from 'node:os';
import type { Logger } from './logger.ts';

/**
 * Work that was still running when the drain deadline passed, e.g. "/aegis cpu 30 by U012 in C034".
 * Any shape will do (the Slack app's tracker answers { describe, startedAt }); `describeWork` names it
 * in the log.
 */
export type InterruptedWork = unknown;

/** "description" or "describe" of a work item, else its JSON. */
export function describeWork(work: unknown): string {
  if (typeof work === 'string') return work;
  if (work && typeof work === 'object') {
    const w = work as { description?: unknown; describe?: unknown };
    if (typeof w.description === 'string') return w.description;
    if (typeof w.describe === 'string') return w.describe;
  }
  return JSON.stringify(work);
}

export interface Closer {
  readonly name: string;
  close(): Promise<void> | void;
}

/** The part of `process` shutdown listens on; tests pass an EventEmitter. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownOptions<W = InterruptedWork> {
  /** Marks the process not ready, so /readyz answers 503 and the load balancer stops sending. */
  readonly markNotReady?: () => void;
  /** Stops taking new commands (from then on they are answered "restarting, try again"). */
  readonly stopAccepting?: () => void | Promise<void>;
  /** Waits for work in flight up to timeoutMs; answers what had to be interrupted. */
  readonly drain: (timeoutMs: number) => Promise<readonly W[]>;
  /** Tells the users: posts "interrupted by shutdown" into each interrupted work's thread. */
  readonly reportInterrupted?: (work: readonly W[]) => Promise<void>;
  /** Names a work item in the log; default: its description / describe field. */
  readonly describeWork?: (work: W) => string;
  /** Closed in order after the drain: HTTP servers, Socket Mode, sources, the store. */
  readonly closers?: readonly Closer[];
  /** How long work in flight may take to finish; default 20 s (inside Kubernetes' 30 s grace period). */
  readonly drainTimeoutMs?: number;
  /** Deadline of the report and of each closer; default 3 s. */
  readonly stepTimeoutMs?: number;
  /**
   * The whole shutdown's deadline: past it the process exits 1 whatever is still running. Default: the
   * drain, the report and every closer at their deadlines, plus 2 s.
   */
  readonly hardDeadlineMs?: number;
  readonly exit?: (code: number) => void;
  readonly logger?: Logger;
  readonly signals?: readonly NodeJS.Signals[];
  readonly signalSource?: SignalSource;
}

export interface ShutdownHandle {
  /** Runs the graceful shutdown once (later calls return the same promise); resolves with the exit code. */
  shutdown(reason: string): Promise<number>;
  readonly shuttingDown: boolean;
  /** Removes the signal listeners (tests, or a CLI command that ends on its own). */
  uninstall(): void;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: mark not ready, stop accepting commands, wait for work in flight
 * (up to drainTimeoutMs), tell the users whose work was interrupted, close servers and clients in
 * order, exit 0 (1 when a closer failed). A second signal exits at once with 128 + the signal's number;
 * past hardDeadlineMs the process exits 1 whatever is still running.
 */
export function installShutdown<W = InterruptedWork>(options: ShutdownOptions<W>): ShutdownHandle {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const source: SignalSource = options.signalSource ?? process;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const log = options.logger;
  const drainTimeoutMs = options.drainTimeoutMs ?? 20_000;
  const stepTimeoutMs = options.stepTimeoutMs ?? 3000;
  const hardDeadlineMs =
    options.hardDeadlineMs ?? drainTimeoutMs + stepTimeoutMs * ((options.closers?.length ?? 0) + 2) + 2000;
  let running: Promise<number> | undefined;
  let exited = false;
  let deadline: NodeJS.Timeout | undefined;

  const finish = (code: number, flush = true) => {
    if (exited) return;
    exited = true;
    clearTimeout(deadline);
    if (flush) {
      try {
        log?.flush();
      } catch {
        // a log that cannot be flushed (its reader is gone) must not keep the process alive
      }
    }
    exit(code);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (running) {
      const code = 128 + (constants.signals[signal] ?? 1);
      log?.warn({ signal }, 'second signal during shutdown: exiting now');
      finish(code, false);
      return;
    }
    void handle.shutdown(signal);
  };

  async function step(name: string, fn: () => Promise<void> | void): Promise<boolean> {
    try {
      await withTimeout(Promise.resolve().then(fn), stepTimeoutMs, name);
      return true;
    } catch (e) {
      log?.error({ err: e, step: name }, 'shutdown step failed');
      return false;
    }
  }

  async function run(reason: string): Promise<number> {
    log?.info({ reason, drainTimeoutMs }, 'shutting down');
    options.markNotReady?.();
    let ok = true;
    if (options.stopAccepting) ok = (await step('stop accepting', options.stopAccepting)) && ok;
    let interrupted: readonly W[] = [];
    try {
      interrupted = await options.drain(drainTimeoutMs);
    } catch (e) {
      log?.error({ err: e }, 'drain failed');
      ok = false;
    }
    if (interrupted.length) {
      const describe = options.describeWork ?? describeWork;
      log?.warn({ interrupted: interrupted.map((w) => describe(w)) }, 'work interrupted by shutdown');
      const report = options.reportInterrupted;
      if (report) await step('report interrupted work', () => report(interrupted));
    } else {
      log?.info('all work in flight finished');
    }
    for (const closer of options.closers ?? []) {
      ok = (await step(`close ${closer.name}`, () => closer.close())) && ok;
    }
    const code = ok ? 0 : 1;
    log?.info({ code }, 'shutdown complete');
    finish(code);
    return code;
  }

  const handle: ShutdownHandle = {
    shutdown(reason) {
      if (!running) {
        deadline = setTimeout(() => {
          log?.error({ hardDeadlineMs }, 'shutdown did not finish by its deadline: exiting now');
          finish(1, false);
        }, hardDeadlineMs);
        running = run(reason);
      }
      return running;
    },
    get shuttingDown() {
      return running !== undefined;
    },
    uninstall() {
      for (const s of signals) source.off(s, onSignal);
    },
  };
  for (const s of signals) source.on(s, onSignal);
  return handle;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
