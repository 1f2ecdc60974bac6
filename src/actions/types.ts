import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { AppError } from '../domain/errors.ts';
import type { ActionKind, Proposal } from '../domain/finding.ts';
import type { Store } from '../store/types.ts';
import type { Allowed } from './errors.ts';
import type { ClusterActions, DatabaseActions, MetricProbe, MetricReading } from './ports.ts';

/** Who clicked. `groups`, when known already, spares the group lookup. */
export interface Actor {
  readonly userId: string;
  readonly groups?: readonly string[];
}

/** Where the click happened: its once-only key and the incident thread the outcome goes to. */
export interface ClickContext {
  /** Derived from the click (see onceKey): two clicks, a retry or two replicas give the same key. */
  readonly key: string;
  readonly channel?: string;
  readonly threadTs?: string;
  /**
   * The proposal came from a button someone clicked: it must say when it was offered (offeredAt), and an
   * offer older than actions.proposal_max_age (or of unknown age) runs nothing and is offered again.
   */
  readonly offered?: boolean;
}

/**
 * Which of `candidates` (Slack user-group IDs) the user belongs to. slack/ implements it with
 * usergroups.users.list and a short cache; a failure to look up rejects (the click is refused).
 */
export type GroupsOf = (userId: string, candidates: readonly string[]) => Promise<readonly string[]>;

export interface ActionLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ActionDeps {
  readonly config: Config;
  readonly store: Store;
  readonly groupsOf: GroupsOf;
  /** The Kubernetes API; absent, the Kubernetes actions are refused as not configured. */
  readonly cluster?: ClusterActions;
  /** The action role's connection for a service; throws AppError('config') when it has none. */
  readonly databaseFor?: (service: ServiceConfig) => DatabaseActions;
  /** The metric that motivated a change, read before it and after the rollout. */
  readonly metricFor?: (proposal: Proposal, service: ServiceConfig) => MetricProbe | undefined;
  /** Extra or replacement handlers (e.g. "page" from the paging module): they get the same checks. */
  readonly handlers?: Partial<Record<ActionKind, ActionHandler>>;
  readonly now?: () => Date;
  readonly log?: ActionLog;
}

/** A change checked against the live state, ready to apply. */
export interface PreparedChange {
  readonly what: string;
  /** The live value, as found now. */
  readonly from: string;
  readonly to: string;
  apply(): Promise<AppliedChange>;
}

export interface AppliedChange {
  /** One line in words: "scaled deployment/aegis-api in aegis from 3 to 5 replicas". */
  readonly summary: string;
  /** A rollout to follow in the thread. */
  readonly rollout?: { readonly namespace: string; readonly deployment: string };
  /** A temporary change (runbook): remind the thread later, offering this proposal to undo it. */
  readonly temporary?: { readonly text: string; readonly revert: Proposal };
}

export interface ActionHandler {
  /** "scale deployments": for messages such as "only … may scale deployments". */
  readonly verb: string;
  /** Parameters and configured bounds, without I/O. Throws AppError (usage, out_of_range, not_found, config). */
  check(proposal: Proposal, service: ServiceConfig, deps: ActionDeps): void;
  /**
   * Re-reads the live state: the target exists and is what the proposal saw. Throws ConflictError (with
   * a fresh proposal when one makes sense), or AppError not_found / source.
   */
  prepare(proposal: Proposal, service: ServiceConfig, deps: ActionDeps): Promise<PreparedChange>;
}

export interface ChangeText {
  readonly what: string;
  readonly from: string;
  readonly to: string;
}

/** What became of a click. Everything except `already` is audited. */
export type ActionOutcome =
  | {
      readonly status: 'done';
      readonly proposal: Proposal;
      readonly actor: string;
      readonly approvedBy?: string;
      readonly change: ChangeText;
      readonly summary: string;
      readonly at: Date;
      readonly rollout?: { readonly namespace: string; readonly deployment: string };
      /** The motivating metric and its value just before the change. */
      readonly metric?: { readonly probe: MetricProbe; readonly before?: MetricReading };
      /** When the thread gets the reminder of a temporary change. */
      readonly reminderAt?: Date;
    }
  | {
      /** The key was claimed before: by whom, when, how it went. */
      readonly status: 'already';
      readonly by: string;
      readonly at: Date;
      readonly state: 'running' | 'done' | 'failed';
      readonly what: string;
      readonly result?: string;
    }
  | {
      readonly status: 'awaiting_approval';
      readonly approvalId: string;
      readonly proposal: Proposal;
      readonly requestedBy: string;
      readonly requestedAt: Date;
      readonly change: ChangeText;
      /** False when this click repeated a request already waiting. */
      readonly created: boolean;
    }
  | {
      readonly status: 'refused';
      readonly error: AppError;
      /** The change proposed again from the live state (conflicts). */
      readonly fresh?: Proposal;
      /** Who may (forbidden). */
      readonly allowed?: Allowed;
    }
  | {
      /** The change was attempted and failed. */
      readonly status: 'failed';
      readonly error: AppError;
      readonly change: ChangeText;
    };
