import type { CheckResult } from '../domain/ports.ts';
import {
  type AlertIncident,
  type AlertIncidentClaim,
  type AlertIncidentUpdate,
  type AlertNotificationEntry,
  type AlertNotificationRecord,
  type ApprovalDecision,
  type ApprovalRequest,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  type ClaimResult,
  checkCaptureSize,
  DEFAULT_ALERT_STALE_CLAIM_MS,
  DEFAULT_STALE_CLAIM_MS,
  type IncidentThread,
  MAX_CAPTURES_PER_POD,
  type NewReminder,
  type OnceClaim,
  type OnceOutcome,
  type OnceRecord,
  type PendingApproval,
  type ProfileCapture,
  type ProfileCaptureKind,
  type Reminder,
  type Store,
} from './types.ts';

/**
 * Most incident threads the embedded store remembers (one is recorded per report posted, so this is
 * the one per-command map). Past it the oldest recorded goes: paging from a thread older than the
 * newest MAX_MEMORY_THREADS is treated as paging from a thread the bot did not start. About 300
 * bytes each.
 */
export const MAX_MEMORY_THREADS = 10_000;
/**
 * Most audit records the embedded store keeps: past it the oldest goes (ids keep counting). The
 * PostgreSQL store keeps them all. About 500 bytes each.
 */
export const MAX_MEMORY_AUDIT_RECORDS = 10_000;

export interface MemoryStoreOptions {
  /** See DEFAULT_STALE_CLAIM_MS. */
  readonly staleClaimMs?: number;
  /** See DEFAULT_ALERT_STALE_CLAIM_MS. */
  readonly alertStaleClaimMs?: number;
  /** See MAX_MEMORY_THREADS (smaller in tests). */
  readonly maxThreads?: number;
  /** See MAX_MEMORY_AUDIT_RECORDS (smaller in tests). */
  readonly maxAuditRecords?: number;
}

/**
 * The embedded default store, used when `store.database_url_env` is not configured. It keeps the
 * contract of Store within ONE process, and gives up:
 * - sharing between replicas: two bot processes each have their own, so the same click reaching both
 *   would make two changes, and one replica cannot see another's approvals or reminders. Run one
 *   replica only (deploy/deployment.yaml runs two and therefore needs the PostgreSQL store);
 * - durability: everything (audit log included) is lost on restart, pending approvals and reminders too;
 * - completeness: it keeps the newest MAX_MEMORY_AUDIT_RECORDS audit records and the newest
 *   MAX_MEMORY_THREADS incident threads, nothing older.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly staleClaimMs: number;
  private readonly alertStaleClaimMs: number;
  private readonly maxThreads: number;
  private readonly maxAuditRecords: number;
  private auditCount = 0;
  private readonly once = new Map<string, OnceRecord>();
  private readonly auditRecords: AuditRecord[] = [];
  private readonly approvals = new Map<string, PendingApproval>();
  private readonly reminders = new Map<string, { reminder: Reminder; takenBy?: string }>();
  private readonly threads = new Map<string, IncidentThread>();
  private readonly captures = new Map<string, ProfileCapture[]>();
  private readonly notifications = new Map<string, AlertNotificationRecord & { claimedAt?: Date }>();
  private readonly incidents = new Map<string, AlertIncident>();
  private readonly deliveries = new Map<string, number>();
  private readonly incidentSteps = new Set<string>();

  constructor(options: MemoryStoreOptions = {}) {
    this.staleClaimMs = options.staleClaimMs ?? DEFAULT_STALE_CLAIM_MS;
    this.alertStaleClaimMs = options.alertStaleClaimMs ?? DEFAULT_ALERT_STALE_CLAIM_MS;
    this.maxThreads = options.maxThreads ?? MAX_MEMORY_THREADS;
    this.maxAuditRecords = options.maxAuditRecords ?? MAX_MEMORY_AUDIT_RECORDS;
  }

  async claimOnce(claim: OnceClaim): Promise<ClaimResult> {
    const existing = this.once.get(claim.key);
    const reclaimable =
      existing &&
      (existing.state === 'failed' ||
        (existing.state === 'running' &&
          existing.claimedAt.getTime() < claim.at.getTime() - this.staleClaimMs));
    if (existing && !reclaimable) return { claimed: false, existing: { ...existing } };
    this.once.set(claim.key, {
      key: claim.key,
      actor: claim.actor,
      action: claim.action,
      what: claim.what,
      state: 'running',
      claimedAt: claim.at,
    });
    return { claimed: true };
  }

  async completeOnce(key: string, outcome: OnceOutcome): Promise<void> {
    const r = this.once.get(key);
    if (r?.state !== 'running') return;
    this.once.set(key, { ...r, state: outcome.state, result: outcome.result, completedAt: outcome.at });
  }

  async releaseOnce(key: string): Promise<void> {
    if (this.once.get(key)?.state === 'running') this.once.delete(key);
  }

  async onceRecord(key: string): Promise<OnceRecord | undefined> {
    const r = this.once.get(key);
    return r ? { ...r } : undefined;
  }

  async audit(entry: AuditEntry): Promise<void> {
    this.auditCount += 1;
    this.auditRecords.push({ ...entry, id: this.auditCount });
    if (this.auditRecords.length > this.maxAuditRecords) this.auditRecords.shift();
  }

  async auditLog(query: AuditQuery = {}): Promise<AuditRecord[]> {
    return this.auditRecords
      .filter(
        (r) =>
          (query.action === undefined || r.action === query.action) &&
          (query.actor === undefined || r.actor === query.actor),
      )
      .sort((a, b) => b.at.getTime() - a.at.getTime() || b.id - a.id)
      .slice(0, query.limit ?? 100)
      .map((r) => ({ ...r }));
  }

  async createApproval(request: ApprovalRequest): Promise<{ created: boolean; approval: PendingApproval }> {
    const existing = this.approvals.get(request.id);
    if (existing) return { created: false, approval: { ...existing } };
    const approval: PendingApproval = { ...request, status: 'pending' };
    this.approvals.set(request.id, approval);
    return { created: true, approval: { ...approval } };
  }

  async getApproval(id: string): Promise<PendingApproval | undefined> {
    const a = this.approvals.get(id);
    return a ? { ...a } : undefined;
  }

  async decideApproval(id: string, decision: ApprovalDecision): Promise<PendingApproval | undefined> {
    const a = this.approvals.get(id);
    if (a?.status !== 'pending') return undefined;
    const decided: PendingApproval = {
      ...a,
      status: decision.status,
      decidedBy: decision.by,
      decidedAt: decision.at,
    };
    this.approvals.set(id, decided);
    return { ...decided };
  }

  async addReminder(reminder: NewReminder): Promise<void> {
    if (!this.reminders.has(reminder.id)) this.reminders.set(reminder.id, { reminder: { ...reminder } });
  }

  async takeDueReminders(now: Date, owner: string, limit = 20): Promise<Reminder[]> {
    const due = [...this.reminders.values()]
      .filter((r) => r.takenBy === undefined && r.reminder.dueAt.getTime() <= now.getTime())
      .sort((a, b) => a.reminder.dueAt.getTime() - b.reminder.dueAt.getTime())
      .slice(0, limit);
    for (const r of due) r.takenBy = owner;
    return due.map((r) => ({ ...r.reminder }));
  }

  async releaseReminder(id: string): Promise<void> {
    const r = this.reminders.get(id);
    if (r) r.takenBy = undefined;
  }

  async saveProfileCapture(capture: ProfileCapture): Promise<void> {
    checkCaptureSize(capture);
    const key = `${capture.service}\u0000${capture.pod}\u0000${capture.kind}`;
    const list = this.captures.get(key) ?? [];
    if (list.some((c) => c.capturedAt.getTime() === capture.capturedAt.getTime())) return;
    list.push({ ...capture, bytes: new Uint8Array(capture.bytes) });
    list.sort((a, b) => b.capturedAt.getTime() - a.capturedAt.getTime());
    // The newest MAX_CAPTURES_PER_POD, and any a firing incident names as its onset.
    const pinned = new Set<number>();
    for (const i of this.incidents.values()) {
      if (i.status !== 'firing' || i.service !== capture.service) continue;
      for (const o of i.onset) {
        if (o.capture?.pod === capture.pod && o.capture.kind === capture.kind) {
          pinned.add(o.capture.capturedAt.getTime());
        }
      }
    }
    this.captures.set(
      key,
      list.filter((c, n) => n < MAX_CAPTURES_PER_POD || pinned.has(c.capturedAt.getTime())),
    );
  }

  async profileCaptureAt(
    service: string,
    pod: string,
    kind: ProfileCaptureKind,
    capturedAt: Date,
  ): Promise<ProfileCapture | undefined> {
    const c = this.captures
      .get(`${service}\u0000${pod}\u0000${kind}`)
      ?.find((x) => x.capturedAt.getTime() === capturedAt.getTime());
    return c ? { ...c, bytes: new Uint8Array(c.bytes) } : undefined;
  }

  async latestProfileCapture(
    service: string,
    kind: ProfileCaptureKind,
    before: Date,
    pod?: string,
  ): Promise<ProfileCapture | undefined> {
    let best: ProfileCapture | undefined;
    for (const list of this.captures.values()) {
      for (const c of list) {
        if (c.service !== service || c.kind !== kind || c.capturedAt.getTime() >= before.getTime()) continue;
        if (pod !== undefined && c.pod !== pod) continue;
        if (!best || c.capturedAt.getTime() > best.capturedAt.getTime()) best = c;
      }
    }
    return best ? { ...best, bytes: new Uint8Array(best.bytes) } : undefined;
  }

  async recordIncidentThread(thread: IncidentThread): Promise<void> {
    const key = `${thread.channel}\u0000${thread.threadTs}`;
    // re-recorded threads move to the newest end, so the first in the map is the oldest recorded
    this.threads.delete(key);
    this.threads.set(key, { ...thread });
    if (this.threads.size > this.maxThreads) {
      const oldest = this.threads.keys().next();
      if (!oldest.done) this.threads.delete(oldest.value);
    }
  }

  async latestIncidentThread(channel: string): Promise<IncidentThread | undefined> {
    const latest = [...this.threads.values()]
      .filter((t) => t.channel === channel)
      .sort(
        (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.threadTs.localeCompare(a.threadTs),
      )[0];
    return latest ? { ...latest } : undefined;
  }

  async incidentThread(channel: string, threadTs: string): Promise<IncidentThread | undefined> {
    const t = this.threads.get(`${channel}\u0000${threadTs}`);
    return t ? { ...t } : undefined;
  }

  async recordAlertNotification(n: AlertNotificationEntry): Promise<AlertNotificationRecord> {
    const existing = this.notifications.get(n.dedupKey);
    if (existing) {
      const lastSeen = existing.lastSeen.getTime() < n.at.getTime() ? n.at : existing.lastSeen;
      const updated = { ...existing, lastSeen, seen: existing.seen + 1 };
      this.notifications.set(n.dedupKey, updated);
      return { ...withoutClaim(updated), fresh: false };
    }
    const record = { ...n, fresh: true, state: 'pending' as const, firstSeen: n.at, lastSeen: n.at, seen: 1 };
    this.notifications.set(n.dedupKey, record);
    return { ...record };
  }

  async claimAlertNotification(dedupKey: string, _owner: string, at: Date): Promise<boolean> {
    const r = this.notifications.get(dedupKey);
    if (!r) return false;
    if (r.state !== 'pending' && r.state !== 'failed' && !this.staleNotification(r, at)) return false;
    this.notifications.set(dedupKey, { ...r, state: 'running', claimedAt: at });
    return true;
  }

  async completeAlertNotification(dedupKey: string, state: 'done' | 'failed'): Promise<void> {
    const r = this.notifications.get(dedupKey);
    if (r?.state === 'running') this.notifications.set(dedupKey, { ...r, state });
  }

  async pendingAlertNotifications(
    recordedBefore: Date,
    now: Date,
    limit = 50,
  ): Promise<AlertNotificationRecord[]> {
    return [...this.notifications.values()]
      .filter(
        (r) =>
          (r.state === 'pending' && r.firstSeen.getTime() < recordedBefore.getTime()) ||
          this.staleNotification(r, now),
      )
      .sort((a, b) => a.firstSeen.getTime() - b.firstSeen.getTime())
      .slice(0, limit)
      .map((r) => ({ ...withoutClaim(r), fresh: false }));
  }

  async claimAlertIncident(
    claim: AlertIncidentClaim,
  ): Promise<{ claimed: true } | { claimed: false; incident: AlertIncident }> {
    const existing = this.incidents.get(claim.groupKey);
    const stale =
      existing &&
      existing.rootTs === undefined &&
      existing.claimedAt.getTime() < claim.at.getTime() - this.alertStaleClaimMs;
    if (existing && !stale) return { claimed: false, incident: copyIncident(existing) };
    this.incidents.set(claim.groupKey, {
      groupKey: claim.groupKey,
      service: claim.service,
      status: 'firing',
      startedAt: claim.startedAt,
      lastSeen: claim.at,
      claimedBy: claim.owner,
      claimedAt: claim.at,
      latest: claim.latest,
      latestAt: claim.latestAt,
      onset: [],
    });
    return { claimed: true };
  }

  async setAlertIncidentRoot(groupKey: string, root: { channel: string; ts: string }): Promise<void> {
    const i = this.incidents.get(groupKey);
    if (i) this.incidents.set(groupKey, { ...i, channel: root.channel, rootTs: root.ts });
  }

  async updateAlertIncident(groupKey: string, u: AlertIncidentUpdate): Promise<AlertIncident | undefined> {
    const i = this.incidents.get(groupKey);
    if (!i) return undefined;
    const { resolvedAt: _r, silence: _s, ...rest } = i;
    const newer = u.latest && u.latest.at.getTime() >= i.latestAt.getTime();
    const applies = !u.latest || newer;
    const resolvedAt = u.resolvedAt === undefined || !applies ? i.resolvedAt : (u.resolvedAt ?? undefined);
    const silence = u.silence === undefined ? i.silence : (u.silence ?? undefined);
    const next: AlertIncident = {
      ...rest,
      ...(u.status && applies ? { status: u.status } : {}),
      ...(resolvedAt ? { resolvedAt } : {}),
      ...(silence ? { silence } : {}),
      lastSeen: u.lastSeen && u.lastSeen.getTime() > i.lastSeen.getTime() ? u.lastSeen : i.lastSeen,
      ...(newer && u.latest ? { latest: u.latest.payload, latestAt: u.latest.at } : {}),
      onset: u.addOnset ? [...i.onset, u.addOnset] : i.onset,
    };
    this.incidents.set(groupKey, next);
    return copyIncident(next);
  }

  async alertIncident(groupKey: string): Promise<AlertIncident | undefined> {
    const i = this.incidents.get(groupKey);
    return i ? copyIncident(i) : undefined;
  }

  async alertIncidentByThread(channel: string, threadTs: string): Promise<AlertIncident | undefined> {
    const i = [...this.incidents.values()].find((x) => x.channel === channel && x.rootTs === threadTs);
    return i ? copyIncident(i) : undefined;
  }

  async firstDelivery(key: string, now: Date, expiresAt: Date): Promise<boolean> {
    const t = now.getTime();
    const live = this.deliveries.get(key);
    if (live !== undefined && live > t) return false;
    // expired entries go as new ones come: the cache holds one signature window of requests at most
    if (this.deliveries.size >= 1024) {
      for (const [k, until] of this.deliveries) if (until <= t) this.deliveries.delete(k);
    }
    this.deliveries.set(key, expiresAt.getTime());
    return true;
  }

  async claimAlertStep(groupKey: string, step: string): Promise<boolean> {
    const key = `${groupKey}\u0000${step}`;
    if (this.incidentSteps.has(key)) return false;
    this.incidentSteps.add(key);
    return true;
  }

  async check(): Promise<CheckResult[]> {
    return [
      {
        name: 'store (embedded)',
        ok: true,
        detail: 'in this process only: not shared between replicas, lost on restart',
        hint: 'set store.database_url_env to run more than one replica',
      },
    ];
  }

  async close(): Promise<void> {}

  /** Running, and claimed longer ago than the alert stale-claim window: its replica died part-way. */
  private staleNotification(r: AlertNotificationRecord & { claimedAt?: Date }, now: Date): boolean {
    return r.state === 'running' && (r.claimedAt?.getTime() ?? 0) < now.getTime() - this.alertStaleClaimMs;
  }
}

function withoutClaim(r: AlertNotificationRecord & { claimedAt?: Date }): AlertNotificationRecord {
  const { claimedAt: _c, ...rest } = r;
  return rest;
}

/** A copy that shares nothing mutable with the store (JSON payloads are cloned). */
function copyIncident(i: AlertIncident): AlertIncident {
  return { ...i, latest: structuredClone(i.latest), onset: i.onset.map((o) => structuredClone(o)) };
}
