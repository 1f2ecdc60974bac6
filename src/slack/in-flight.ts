/**
 * Work that runs after a request was acknowledged (a step, its Slack posts). Tracked so that a graceful
 * shutdown can wait for it, and report what it had to interrupt instead of losing it silently.
 */
export interface InFlightWork {
  readonly describe: string;
  readonly startedAt: Date;
}

export interface InFlightTracker {
  /**
   * Tracks `promise` until it settles. A rejection is swallowed here (the work reports its own errors);
   * `abort` is aborted when drain() gives up on the work.
   */
  track(promise: Promise<unknown>, describe: string, abort?: AbortController): void;
  /** What is running now, oldest first. */
  list(): InFlightWork[];
  readonly size: number;
  /**
   * Waits until all tracked work has settled or `timeoutMs` passed; returns the work still running
   * then (empty when everything finished), after aborting it.
   */
  drain(timeoutMs: number): Promise<InFlightWork[]>;
}

interface Entry extends InFlightWork {
  readonly done: Promise<void>;
  readonly abort?: AbortController;
}

export function createInFlightTracker(now: () => Date = () => new Date()): InFlightTracker {
  const running = new Set<Entry>();
  return {
    track(promise, describe, abort) {
      let entry!: Entry;
      const done = promise.then(
        () => {
          running.delete(entry);
        },
        () => {
          running.delete(entry);
        },
      );
      entry = { describe, startedAt: now(), done, ...(abort ? { abort } : {}) };
      running.add(entry);
    },
    list() {
      return [...running].map(({ describe, startedAt }) => ({ describe, startedAt }));
    },
    get size() {
      return running.size;
    },
    async drain(timeoutMs) {
      if (running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, timeoutMs));
        });
        // Work tracked while draining is waited for too.
        const all = async () => {
          while (running.size > 0) await Promise.all([...running].map((e) => e.done));
        };
        await Promise.race([all(), timeout]);
        clearTimeout(timer);
      }
      const left = [...running];
      for (const e of left) e.abort?.abort(new Error(`interrupted by shutdown: ${e.describe}`));
      return left.map(({ describe, startedAt }) => ({ describe, startedAt }));
    },
  };
}
