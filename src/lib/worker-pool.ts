import { readlinkSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import { isMainThread, parentPort, type TransferListItem, Worker } from 'node:worker_threads';
import { AppError } from '../domain/errors.ts';

/**
 * A bounded pool of worker threads for CPU-heavy work that must not hold up the event loop.
 *
 * - At most `size` workers (default: os.availableParallelism() - 1, at least 1), started on first
 *   use and stopped again after `idleMs` without work, so an idle process pays nothing for them.
 * - At most `maxQueue` tasks wait for a worker; one more is refused with AppError('busy').
 * - An error thrown in the worker is sent back as its name, message and own fields and rebuilt by
 *   `reviveError`, so the caller sees the error the same code would have thrown inline.
 * - A worker that dies (a crash, out of memory, terminate) fails only the task it was running,
 *   with an Error naming the cause; the next task gets a fresh worker.
 * - An aborted task is taken out of the queue, or, when it is running, its worker is terminated.
 * - close() terminates every worker and fails what is queued (graceful shutdown, ops/shutdown.ts).
 *
 * The worker side is `serveTasks(handlers)`: the module the pool starts calls it once.
 */

/** A task: which handler, and its (structured-cloneable) input. */
export interface PoolTask {
  readonly kind: string;
  readonly input: unknown;
}

/** An error as it crosses the thread boundary: enough to rebuild the same error. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export interface WorkerPoolOptions {
  /** The worker module (it calls serveTasks); see workerModuleUrl for .ts/.js. */
  readonly url: URL;
  /** Shown in errors and thread names, e.g. "profile analysis". */
  readonly name: string;
  readonly size?: number;
  readonly maxQueue?: number;
  /** Workers without work for this long are stopped. Default 30 s. */
  readonly idleMs?: number;
  /** Heap limit of each worker (MB): a runaway input kills its worker, not the process. */
  readonly maxOldGenerationSizeMb?: number;
  /** Rebuilds an error thrown in a worker; default: an Error with the same name and message. */
  readonly reviveError?: (e: SerializedError) => Error;
}

export interface WorkerPoolStats {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
}

export interface WorkerPool {
  run<T>(
    task: PoolTask,
    options?: { signal?: AbortSignal; transfer?: readonly TransferListItem[] },
  ): Promise<T>;
  stats(): WorkerPoolStats;
  close(): Promise<void>;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

interface Job {
  readonly id: number;
  readonly task: PoolTask;
  readonly transfer: readonly TransferListItem[];
  readonly signal: AbortSignal | undefined;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  onAbort?: () => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
  idle: NodeJS.Timeout | undefined;
  /** Why the pool itself stopped this worker (abort, idle, close): not a crash. */
  stopping?: string;
}

/** The default pool size: one worker per core beyond the main thread's, at least one. */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * The URL of a worker module next to `base` (import.meta.url of the caller): `name.ts` when running
 * from the sources (node's type stripping, vitest), `name.js` in the compiled build (dist/), where
 * the import rewriting of tsc does not reach a URL.
 */
export function workerModuleUrl(base: string, name: string): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, base);
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) {
      if (k === 'cause' || k === 'stack') continue;
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v;
    }
    return { name: e.name, message: e.message, fields };
  }
  return { name: 'Error', message: String(e), fields: {} };
}

function defaultRevive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const size = Math.max(1, Math.floor(options.size ?? defaultPoolSize()));
  const maxQueue = Math.max(0, options.maxQueue ?? 64);
  const idleMs = options.idleMs ?? 30_000;
  const revive = options.reviveError ?? defaultRevive;
  const slots = new Set<Slot>();
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = new Worker(options.url, {
      name: options.name,
      // the main thread's flags, less those only a main script takes (node --input-type=module -e ...)
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
      ...(options.maxOldGenerationSizeMb
        ? { resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb } }
        : {}),
    });
    // A worker that waits for work must not keep the process alive.
    worker.unref();
    const slot: Slot = { worker, job: undefined, idle: undefined };
    worker.on('message', (reply: Reply) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      finish(slot);
      if (reply.ok) job.resolve(reply.value);
      else job.reject(revive(reply.error));
      pump();
    });
    const died = (cause: string) => {
      if (!slots.delete(slot)) return;
      if (slot.idle) clearTimeout(slot.idle);
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        job.onAbort && job.signal?.removeEventListener('abort', job.onAbort);
        if (slot.stopping === 'abort') job.reject(job.signal?.reason);
        else job.reject(new Error(`${options.name} worker stopped: ${slot.stopping ?? cause}`));
      }
      pump();
    };
    worker.on('error', (e) => died(`${e.name}: ${e.message}`));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    slots.add(slot);
    return slot;
  }

  function finish(slot: Slot): void {
    const job = slot.job;
    slot.job = undefined;
    if (job?.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    slot.worker.unref();
    if (idleMs > 0) {
      slot.idle = setTimeout(() => stop(slot, 'idle'), idleMs);
      slot.idle.unref();
    }
  }

  function stop(slot: Slot, why: string): void {
    slot.stopping = why;
    void slot.worker.terminate();
  }

  function start(slot: Slot, job: Job): void {
    if (slot.idle) clearTimeout(slot.idle);
    slot.idle = undefined;
    slot.job = job;
    // A worker at work keeps the process alive until its answer arrives.
    slot.worker.ref();
    if (job.signal) {
      job.onAbort = () => stop(slot, 'abort');
      job.signal.addEventListener('abort', job.onAbort, { once: true });
    }
    slot.worker.postMessage({ id: job.id, task: job.task }, [...job.transfer]);
  }

  function pump(): void {
    while (queue.length > 0 && !closed) {
      let free: Slot | undefined;
      for (const s of slots) if (!s.job && !s.stopping) free = s;
      if (!free && slots.size < size) free = spawn();
      if (!free) return;
      const job = queue.shift() as Job;
      if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
      job.onAbort = undefined;
      start(free, job);
    }
  }

  return {
    run<T>(
      task: PoolTask,
      runOptions: { signal?: AbortSignal; transfer?: readonly TransferListItem[] } = {},
    ) {
      if (closed) return Promise.reject(new AppError('busy', `${options.name} is shutting down`));
      const signal = runOptions.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      const busy = [...slots].filter((s) => s.job).length;
      if (busy >= size && queue.length >= maxQueue) {
        return Promise.reject(
          new AppError(
            'busy',
            `${options.name}: ${queue.length} analyses are already waiting; try again in a minute`,
          ),
        );
      }
      return new Promise<T>((resolve, reject) => {
        const job: Job = {
          id: nextId++,
          task,
          transfer: runOptions.transfer ?? [],
          signal,
          resolve: resolve as (v: unknown) => void,
          reject,
        };
        if (signal) {
          job.onAbort = () => {
            const i = queue.indexOf(job);
            if (i >= 0) queue.splice(i, 1);
            reject(signal.reason);
          };
          signal.addEventListener('abort', job.onAbort, { once: true });
        }
        queue.push(job);
        pump();
      });
    },
    stats() {
      const all = [...slots];
      return { workers: all.length, busy: all.filter((s) => s.job).length, queued: queue.length };
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) {
        if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
        job.reject(new AppError('busy', `${options.name} is shutting down`));
      }
      await Promise.all(
        [...slots].map((s) => {
          s.stopping = 'shutdown';
          return s.worker.terminate();
        }),
      );
    },
  };
}

export type TaskHandlers = Record<string, (input: never) => unknown>;

export interface ServeOptions {
  /**
   * Lowers this worker thread's scheduling priority (a nice value, 1 to 19) where the OS allows
   * it per thread (Linux): background analysis then yields the CPU to the main thread, which
   * acknowledges commands, on a machine with few cores.
   */
  readonly nice?: number;
}

/**
 * The worker side: answers each task with its handler's result, or the error it threw. Values
 * that are ArrayBuffer-backed typed arrays are transferred, not copied.
 */
export function serveTasks(handlers: TaskHandlers, options: ServeOptions = {}): void {
  if (isMainThread || !parentPort) throw new Error('serveTasks runs in a worker thread');
  const port = parentPort;
  if (options.nice) lowerThreadPriority(options.nice);
  port.on('message', async (m: { id: number; task: PoolTask }) => {
    try {
      const handler = handlers[m.task.kind];
      if (!handler) throw new Error(`no handler for task "${m.task.kind}"`);
      const value = await handler(m.task.input as never);
      port.postMessage({ id: m.id, ok: true, value } satisfies Reply, transferables(value));
    } catch (e) {
      port.postMessage({ id: m.id, ok: false, error: serializeError(e) } satisfies Reply);
    }
  });
}

function transferables(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number) => {
    if (depth > 3 || v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength)
        out.add(v.buffer);
      return;
    }
    for (const x of Object.values(v)) visit(x, depth + 1);
  };
  visit(value, 0);
  return [...out];
}

/** setpriority(2) on Linux takes a thread id: this thread's, from /proc/thread-self ("pid/task/tid"). */
function lowerThreadPriority(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux, or not allowed: the worker runs at the process' priority
  }
}
