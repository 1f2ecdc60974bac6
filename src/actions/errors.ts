import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';

/**
 * The state is not what the proposal saw (replicas changed meanwhile, the query finished). `fresh`,
 * when set, is the same change proposed again from the state as it is now: the user is asked again.
 */
export class ConflictError extends AppError {
  readonly fresh?: Proposal;
  constructor(message: string, fresh?: Proposal, options?: { cause?: unknown }) {
    super('conflict', message, options);
    this.name = 'ConflictError';
    if (fresh) this.fresh = fresh;
  }
}

/** Who may run an action, from config.authorization. */
export interface Allowed {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

/** The actor may not run this action. `allowed` says who may (empty: nobody is configured). */
export class ForbiddenError extends AppError {
  readonly allowed: Allowed;
  /** What the actor tried, in words: "scale deployments". */
  readonly verb: string;
  readonly reason: 'not_configured' | 'not_allowed' | 'own_request';
  constructor(
    message: string,
    details: { allowed: Allowed; verb: string; reason: ForbiddenError['reason'] },
    options?: { cause?: unknown },
  ) {
    super('forbidden', message, options);
    this.name = 'ForbiddenError';
    this.allowed = details.allowed;
    this.verb = details.verb;
    this.reason = details.reason;
  }
}
