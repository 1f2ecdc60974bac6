import type { Store } from '../store/types.ts';
import type { IncidentLog, IncidentThreads } from './incident-threads.ts';

/** How often each replica looks for notifications to take up, before jitter (alerts.sweep_interval). */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
/** A notification still pending this long after it was recorded was answered and never started. */
export const DEFAULT_UNCLAIMED_MS = 30_000;

export interface NotificationSweepOptions {
  readonly store: Store;
  readonly threads: Pick<IncidentThreads, 'handle'>;
  readonly log: IncidentLog;
  readonly intervalMs?: number;
  readonly unclaimedMs?: number;
  /** Each sweep is handed here (a graceful shutdown waits for it). */
  readonly track?: (work: Promise<void>, describe: string) => void;
  readonly now?: () => Date;
  /** In [0, 1): spreads the replicas' sweeps apart. */
  readonly random?: () => number;
}

export interface NotificationSweep {
  /** One sweep now: takes up what the store lists; resolves with how many notifications it handled. */
  tick(): Promise<number>;
  /** Sweeps at once, then every interval (± 25 %), on a timer that does not hold the process open. */
  start(): void;
  /** Stops the timer; a sweep in progress finishes the notification it is handling and takes no other. */
  stop(): void;
}

/**
 * Takes up alert notifications that were answered 2xx and then not handled to the end: pending ones (the
 * replica died right after answering) and running ones whose claim went stale (it died part-way). Every
 * replica sweeps; the store's claims hand each notification to one of them, and incident-threads.ts
 * resumes it from the stage the store says was reached.
 */
export function notificationSweep(o: NotificationSweepOptions): NotificationSweep {
  const now = o.now ?? (() => new Date());
  const random = o.random ?? Math.random;
  const interval = o.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let started = false;
  let stopped = false;

  const sweep = async (): Promise<number> => {
    const at = now();
    const due = await o.store.pendingAlertNotifications(
      new Date(at.getTime() - (o.unclaimedMs ?? DEFAULT_UNCLAIMED_MS)),
      at,
    );
    let handled = 0;
    for (const record of due) {
      if (stopped) break;
      await o.threads
        .handle(record)
        .catch((e: unknown) =>
          o.log.error(
            { err: e, groupKey: record.groupKey, dedupKey: record.dedupKey },
            'taking up an alert notification failed',
          ),
        );
      handled += 1;
    }
    if (handled) o.log.info({ handled }, 'alert notifications taken up by the sweep');
    return handled;
  };

  const tick = (): Promise<number> => {
    if (!running) {
      running = sweep().finally(() => {
        running = undefined;
      });
      o.track?.(
        running.then(() => {}),
        'alert notification sweep',
      );
    }
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        tick()
          .catch((e: unknown) => o.log.error({ err: e }, 'the alert notification sweep failed'))
          .finally(schedule);
      },
      interval * (0.75 + 0.5 * random()),
    );
    timer.unref();
  };

  return {
    tick,
    start() {
      if (started || stopped) return;
      started = true;
      tick()
        .catch((e: unknown) => o.log.error({ err: e }, 'the alert notification sweep failed'))
        .finally(schedule);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
