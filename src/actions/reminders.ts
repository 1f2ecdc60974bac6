import type { Reminder, Store } from '../store/types.ts';
import type { ActionLog } from './types.ts';

export interface ReminderLoopOptions {
  readonly store: Store;
  /** Posts the reminder (with its Revert button) into its thread. */
  readonly post: (reminder: Reminder) => Promise<void>;
  /** Who takes reminders: this process, e.g. the pod name. */
  readonly owner: string;
  /** How often the store is asked for due reminders; default 30 s. */
  readonly intervalMs?: number;
  readonly now?: () => Date;
  readonly log?: ActionLog;
}

export interface ReminderLoop {
  /** One check now: takes what is due, posts it; resolves with how many were posted. */
  tick(): Promise<number>;
  start(): void;
  /** Stops the timer and waits for a check in progress. */
  stop(): Promise<void>;
}

/**
 * Reminders of temporary changes (the raised memory limit). Each replica runs a loop; the store hands
 * each due reminder to exactly one of them. A reminder that could not be posted is put back and tried
 * again on the next check.
 */
export function reminderLoop(o: ReminderLoopOptions): ReminderLoop {
  const now = o.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  const check = async (): Promise<number> => {
    const due = await o.store.takeDueReminders(now(), o.owner);
    let posted = 0;
    for (const r of due) {
      try {
        await o.post(r);
        posted += 1;
      } catch (e) {
        o.log?.warn(
          { err: e, reminder: r.id, channel: r.channel, thread: r.threadTs },
          'could not post a reminder: will retry',
        );
        await o.store.releaseReminder(r.id);
      }
    }
    return posted;
  };

  const tick = (): Promise<number> => {
    running ??= check().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    tick,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        tick().catch((e: unknown) => o.log?.error({ err: e }, 'reminder check failed'));
      }, o.intervalMs ?? 30_000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => 0);
    },
  };
}
