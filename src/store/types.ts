import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import type { Checkable } from '../domain/ports.ts';

/**
 * State the bot's replicas share: once-only keys (a click makes one change), the audit log, pending
 * approvals (second approver), reminders of temporary changes, and incident threads.
 *
 * Two implementations keep the same contract (test/store/contract.ts runs against both):
 * - PostgresStore: the store's own PostgreSQL database; any number of bot processes behave as one.
 * - MemoryStore: the embedded default for a single process; see its doc comment for what it gives up.
 *
 * Every time comes from the caller (`at`, `now`), so replicas agree on what the clicks said and tests
 * can move the clock.
 */
/** `check()` (from Checkable) serves /readyz and `aegis doctor`: reachable and migrated, or what the embedded store gives up. */
export interface Store extends Checkable {
  /** "postgres" or "memory": shown by `aegis doctor` and in the startup log. */
  readonly kind: 'postgres' | 'memory';

  /**
   * Claims `key` for one change. Exactly one of any number of concurrent callers (in any process sharing
   * the store) gets `{claimed: true}`; the others get the record of the claim that won. A claim that ended
   * `failed`, or that stayed `running` longer than the store's stale-claim window (its process died),
   * may be claimed again.
   */
  claimOnce(claim: OnceClaim): Promise<ClaimResult>;
  /** Records how a claimed change ended. Only a `running` claim is completed. */
  completeOnce(key: string, outcome: OnceOutcome): Promise<void>;
  /** Gives a `running` claim up without a change (the click was refused after claiming): the key is free again. */
  releaseOnce(key: string): Promise<void>;
  /** The record of a key, if any. */
  onceRecord(key: string): Promise<OnceRecord | undefined>;

  /** Appends one audit record. */
  audit(entry: AuditEntry): Promise<void>;
  /** Audit records, newest first. */
  auditLog(query?: AuditQuery): Promise<AuditRecord[]>;

  /** Records a request waiting for a second person. With an existing id nothing changes and `created` is false. */
  createApproval(request: ApprovalRequest): Promise<{ created: boolean; approval: PendingApproval }>;
  getApproval(id: string): Promise<PendingApproval | undefined>;
  /** Decides a pending request; undefined when it was not pending any more (someone else decided first). */
  decideApproval(id: string, decision: ApprovalDecision): Promise<PendingApproval | undefined>;

  addReminder(reminder: NewReminder): Promise<void>;
  /**
   * Takes the reminders due at `now` that nobody took yet, at most `limit`: each reminder is taken by
   * exactly one caller, so exactly one replica posts it.
   */
  takeDueReminders(now: Date, owner: string, limit?: number): Promise<Reminder[]>;
  /** Puts a taken reminder back (posting it failed): it is due again on the next check. */
  releaseReminder(id: string): Promise<void>;

  /** Records (or refreshes) an incident thread: the root message of a command and what it was about. */
  recordIncidentThread(thread: IncidentThread): Promise<void>;
  /** The channel's most recent incident thread. */
  latestIncidentThread(channel: string): Promise<IncidentThread | undefined>;
  incidentThread(channel: string, threadTs: string): Promise<IncidentThread | undefined>;

  /**
   * Records a notification from Alertmanager (before it is answered 2xx). A repeat of the same one
   * (same dedupKey: the HA twin, a retry, a repeat_interval resend) only moves its "last seen".
   */
  recordAlertNotification(n: AlertNotificationEntry): Promise<AlertNotificationRecord>;
  /**
   * Takes a recorded notification for handling: exactly one of any number of concurrent callers (in any
   * process) gets true, and only while it is pending, failed, or running longer than the alert
   * stale-claim window (its replica died part-way).
   */
  claimAlertNotification(dedupKey: string, owner: string, at: Date): Promise<boolean>;
  completeAlertNotification(dedupKey: string, state: 'done' | 'failed', at: Date): Promise<void>;
  /**
   * Notifications to take up again, oldest first: pending ones recorded before `recordedBefore` (answered,
   * never started), and running ones whose claim is older than the alert stale-claim window at `now`
   * (their replica died part-way).
   */
  pendingAlertNotifications(
    recordedBefore: Date,
    now: Date,
    limit?: number,
  ): Promise<AlertNotificationRecord[]>;

  /**
   * Claims the incident of an alert group: the one caller that gets `claimed: true` posts its root message.
   * The others get the incident (its root, once posted). A claim whose root was never posted may be taken
   * again after the alert stale-claim window.
   */
  claimAlertIncident(
    claim: AlertIncidentClaim,
  ): Promise<{ claimed: true } | { claimed: false; incident: AlertIncident }>;
  /** Sets where the root message is, once posted. */
  setAlertIncidentRoot(groupKey: string, root: { channel: string; ts: string }): Promise<void>;
  /** Applies what a notification changed; `latest` only when it is newer than the one kept. */
  updateAlertIncident(groupKey: string, update: AlertIncidentUpdate): Promise<AlertIncident | undefined>;
  alertIncident(groupKey: string): Promise<AlertIncident | undefined>;
  alertIncidentByThread(channel: string, threadTs: string): Promise<AlertIncident | undefined>;
  /**
   * Records that a routed step starts in an incident's thread: true for exactly one caller per group and
   * step, ever. A step that started is never run again for that incident, even when its replica died
   * while it ran (a second run would post a second report; its evidence is from later).
   */
  claimAlertStep(groupKey: string, step: string, owner: string, at: Date): Promise<boolean>;

  /**
   * The replay cache of signed Slack requests: records `key` until `expiresAt` and answers true when
   * this call recorded it, false when a live (unexpired at `now`) record of it already existed. Exactly
   * one of any number of concurrent callers, in any process sharing the store, gets true.
   */
  firstDelivery(key: string, now: Date, expiresAt: Date): Promise<boolean>;

  /**
   * Keeps a profile capture (`/aegis cpu`, `/aegis heap`) for later comparison. Only the newest
   * MAX_CAPTURES_PER_POD per service, pod and kind are kept (older ones are deleted by the same
   * call), besides any capture a firing incident's onset names (OnsetEvidence.capture), which the trim
   * never deletes; a capture larger than MAX_CAPTURE_BYTES is refused with an AppError. Saving the same
   * service, pod, kind and time again changes nothing (a report that joined a running capture).
   */
  saveProfileCapture(capture: ProfileCapture): Promise<void>;
  /** The newest capture of a service and kind (any pod, or only `pod`) taken before `before`, if any. */
  latestProfileCapture(
    service: string,
    kind: ProfileCaptureKind,
    before: Date,
    pod?: string,
  ): Promise<ProfileCapture | undefined>;
  /** The capture of a service, pod and kind taken at exactly `capturedAt`, if still kept. */
  profileCaptureAt(
    service: string,
    pod: string,
    kind: ProfileCaptureKind,
    capturedAt: Date,
  ): Promise<ProfileCapture | undefined>;

  close(): Promise<void>;
}

export type AlertNotificationState = 'pending' | 'running' | 'done' | 'failed';

export interface AlertNotificationEntry {
  readonly dedupKey: string;
  readonly groupKey: string;
  readonly status: 'firing' | 'resolved';
  /** The validated notification, as JSON. */
  readonly payload: unknown;
  readonly at: Date;
}

export interface AlertNotificationRecord extends AlertNotificationEntry {
  /** True when this call recorded it for the first time. */
  readonly fresh: boolean;
  readonly state: AlertNotificationState;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  /** How many times it arrived. */
  readonly seen: number;
}

export interface AlertIncidentClaim {
  readonly groupKey: string;
  readonly service: string;
  readonly owner: string;
  readonly at: Date;
  readonly startedAt: Date;
  /** The notification that opened it, as JSON, and when it was received (orders it among later ones). */
  readonly latest: unknown;
  readonly latestAt: Date;
}

/** The onset evidence of a profile step, kept with its incident. */
export interface OnsetEvidence {
  readonly step: string;
  readonly capturedAt: Date;
  /** The pod it came from, when known. */
  readonly target?: string;
  /**
   * Which kept profile capture is the onset's raw profile (cpu, heap): the bytes stay in the capture
   * store, which never trims a capture an open (firing) incident names here. Absent for goroutines
   * (no pprof diff: the top-N tables are compared) and when the capture could not be kept.
   */
  readonly capture?: { readonly pod: string; readonly kind: ProfileCaptureKind; readonly capturedAt: Date };
  /** The step's top-N table (neutral evidence). */
  readonly table: {
    readonly title?: string;
    readonly columns: readonly string[];
    readonly rows: readonly (readonly string[])[];
  };
}

export interface SilenceRecord {
  readonly id: string;
  readonly endsAt: Date;
  readonly createdBy: string;
  readonly expired?: boolean;
}

export interface AlertIncident {
  readonly groupKey: string;
  readonly service: string;
  readonly status: 'firing' | 'resolved';
  readonly startedAt: Date;
  readonly resolvedAt?: Date;
  readonly lastSeen: Date;
  readonly channel?: string;
  readonly rootTs?: string;
  readonly claimedBy: string;
  readonly claimedAt: Date;
  /** The newest notification applied, as JSON. */
  readonly latest: unknown;
  readonly latestAt: Date;
  readonly onset: readonly OnsetEvidence[];
  readonly silence?: SilenceRecord;
}

/**
 * With `latest`, status and resolvedAt apply only when that notification is not older than the one kept:
 * a late "firing" never reopens a group a newer "resolved" closed.
 */
export interface AlertIncidentUpdate {
  readonly status?: 'firing' | 'resolved';
  /** null clears it (the group fires again). */
  readonly resolvedAt?: Date | null;
  readonly lastSeen?: Date;
  readonly latest?: { readonly payload: unknown; readonly at: Date };
  readonly addOnset?: OnsetEvidence;
  /** null removes it. */
  readonly silence?: SilenceRecord | null;
}

export interface OnceClaim {
  readonly key: string;
  /** Slack user ID of whoever clicked. */
  readonly actor: string;
  readonly action: string;
  /** What the change is, for "already done by …": e.g. "replicas of deployment/aegis-api: 3 → 5". */
  readonly what: string;
  readonly at: Date;
}

export type OnceState = 'running' | 'done' | 'failed';

export interface OnceOutcome {
  readonly state: 'done' | 'failed';
  /** One line: "scaled to 5 replicas", "failed: kubernetes: … HTTP 403 …". */
  readonly result: string;
  readonly at: Date;
}

export interface OnceRecord {
  readonly key: string;
  readonly actor: string;
  readonly action: string;
  readonly what: string;
  readonly state: OnceState;
  readonly claimedAt: Date;
  readonly completedAt?: Date;
  readonly result?: string;
}

export type ClaimResult =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly existing: OnceRecord };

/**
 * done: the change was made. failed: it was attempted and failed. forbidden: the actor may not.
 * conflict: the state changed since the proposal (asked again). refused: invalid or out of bounds.
 * approval_requested: waiting for a second person.
 */
export type AuditResult = 'done' | 'failed' | 'forbidden' | 'conflict' | 'refused' | 'approval_requested';

export interface AuditEntry {
  readonly at: Date;
  /** Slack user ID. */
  readonly actor: string;
  readonly action: string;
  readonly service: string;
  readonly what: string;
  readonly from: string;
  readonly to: string;
  readonly result: AuditResult;
  /** The error or the result in words. */
  readonly detail?: string;
  readonly key?: string;
  /** The second person, when the action needed one. */
  readonly approvedBy?: string;
  readonly channel?: string;
  readonly threadTs?: string;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}

export interface AuditQuery {
  readonly limit?: number;
  readonly action?: string;
  readonly actor?: string;
}

export interface ApprovalRequest {
  readonly id: string;
  readonly proposal: Proposal;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly channel?: string;
  readonly threadTs?: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'stale';

export interface PendingApproval extends ApprovalRequest {
  readonly status: ApprovalStatus;
  readonly decidedBy?: string;
  readonly decidedAt?: Date;
}

export interface ApprovalDecision {
  readonly status: 'approved' | 'stale';
  readonly by: string;
  readonly at: Date;
}

export interface NewReminder {
  readonly id: string;
  readonly dueAt: Date;
  readonly channel: string;
  readonly threadTs: string;
  /** What the reminder says, in plain words. */
  readonly text: string;
  /** The change that undoes the temporary one: offered as a button. */
  readonly proposal: Proposal;
  readonly createdAt: Date;
}

export type Reminder = NewReminder;

export interface IncidentThread {
  readonly channel: string;
  readonly threadTs: string;
  readonly service: string;
  /** The step that started it ("latency"), when a step did. */
  readonly step?: string;
  /** Deduplication key of the incident, e.g. for paging. */
  readonly dedupKey?: string;
  readonly createdAt: Date;
}

export type ProfileCaptureKind = 'cpu' | 'heap';

export interface ProfileCapture {
  readonly service: string;
  /** The pod profiled, or the host:port of a configured URL. */
  readonly pod: string;
  readonly kind: ProfileCaptureKind;
  /** When the capture started. */
  readonly capturedAt: Date;
  /** The gzipped pprof protobuf, as the endpoint served it. */
  readonly bytes: Uint8Array;
}

/** Captures kept per service, pod and kind: enough to compare with the previous ones, not an archive. */
export const MAX_CAPTURES_PER_POD = 5;
/** Largest capture kept, in bytes (gzipped): a 30 s CPU profile of a busy service is well under 1 MiB. */
export const MAX_CAPTURE_BYTES = 8 * 2 ** 20;

/** Refuses a capture over MAX_CAPTURE_BYTES (both stores). */
export function checkCaptureSize(capture: ProfileCapture): void {
  if (capture.bytes.length > MAX_CAPTURE_BYTES) {
    throw new AppError(
      'out_of_range',
      `the ${capture.kind} profile of ${capture.pod} is ${capture.bytes.length} bytes, over the ${MAX_CAPTURE_BYTES} bytes the store keeps; it is reported but not kept for comparison`,
    );
  }
}

/** A claim left `running` this long is taken to belong to a process that died: default 15 minutes. */
export const DEFAULT_STALE_CLAIM_MS = 15 * 60_000;
/**
 * The same for the claims of alert handling (a notification, the root of a group): default 2 minutes, so
 * that an incident a dead replica left half-handled is taken up while it is fresh
 * (config: alerts.stale_claim). It must exceed the longest a live replica takes to post a root message
 * (the Web API client's timeout and retries: about a minute), or a slow post could be taken over.
 */
export const DEFAULT_ALERT_STALE_CLAIM_MS = 2 * 60_000;
