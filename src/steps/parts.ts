import { isAppError } from '../domain/errors.ts';
import type { PartStatus } from '../domain/finding.ts';
import type { PartUpdate } from './step.ts';

/**
 * The parts of a step (one source call or a few, each under the source's own deadline and the
 * step's signal), run in parallel and reported as they complete: "running" when a part starts, then
 * "ok" or "unavailable" with the reason. A part whose source fails is unavailable while the others
 * still report; a failure that is not the source's (a bug) rejects the step.
 */

export type PartOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly error: unknown };

export interface PartsOptions {
  /** The failures that make a part unavailable (their message is the reason). Default: AppError. */
  readonly unavailableOn?: (error: unknown) => boolean;
}

export interface Parts {
  /**
   * Runs one part. `unavailableIf` reads the part's answer for a reason it is unavailable all the
   * same (pg_stat_statements missing, every fact of a layer unknown); undefined means ok.
   */
  run<T>(
    name: string,
    work: () => Promise<T>,
    unavailableIf?: (value: T) => string | undefined,
  ): Promise<PartOutcome<T>>;
  /** A part that cannot start (no source configured): unavailable at once, without "running". */
  unavailable(name: string, reason: string): void;
  /** Each finished part's status, in the order they finished. */
  readonly statuses: readonly PartStatus[];
}

export function createParts(progress: (update: PartUpdate) => void, options: PartsOptions = {}): Parts {
  const unavailableOn = options.unavailableOn ?? isAppError;
  const statuses: PartStatus[] = [];
  const finish = (status: PartStatus) => {
    statuses.push(status);
    progress(status);
  };
  return {
    statuses,
    unavailable: (name, reason) => finish({ name, status: 'unavailable', reason }),
    async run<T>(
      name: string,
      work: () => Promise<T>,
      unavailableIf?: (value: T) => string | undefined,
    ): Promise<PartOutcome<T>> {
      progress({ name, status: 'running' });
      let value: T;
      try {
        value = await work();
      } catch (error) {
        if (!unavailableOn(error)) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        finish({ name, status: 'unavailable', reason });
        return { ok: false, reason, error };
      }
      const reason = unavailableIf?.(value);
      finish(reason ? { name, status: 'unavailable', reason } : { name, status: 'ok' });
      return { ok: true, value };
    },
  };
}
