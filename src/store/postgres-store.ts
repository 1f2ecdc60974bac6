import type pg from 'pg';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import type { CheckResult } from '../domain/ports.ts';
import { pgClient } from '../sources/pg-client.ts';
import {
  type AlertIncident,
  type AlertIncidentClaim,
  type AlertIncidentUpdate,
  type AlertNotificationEntry,
  type AlertNotificationRecord,
  type AlertNotificationState,
  type ApprovalDecision,
  type ApprovalRequest,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  type AuditResult,
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
  type OnceState,
  type PendingApproval,
  type ProfileCapture,
  type ProfileCaptureKind,
  type Reminder,
  type Store,
} from './types.ts';

/** Everything the bot keeps lives in this schema of the store's own database. */
export const STORE_SCHEMA = 'aegis_bot';
/** pg_advisory_xact_lock key that serialises migrations across processes ("aegisbot" in ASCII). */
const MIGRATION_LOCK = 0x6165676973626f74n;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Applied in order, each once, recorded in aegis_bot.migrations. Never edit one that shipped: add another. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'once keys, audit log, approvals, reminders, incident threads',
    sql: `
      CREATE TABLE ${STORE_SCHEMA}.once_keys (
        key          text PRIMARY KEY,
        actor        text NOT NULL,
        action       text NOT NULL,
        what         text NOT NULL,
        state        text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
        claimed_at   timestamptz NOT NULL,
        completed_at timestamptz,
        result       text
      );
      CREATE TABLE ${STORE_SCHEMA}.audit_log (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL,
        actor       text NOT NULL,
        action      text NOT NULL,
        service     text NOT NULL,
        what        text NOT NULL,
        from_value  text NOT NULL,
        to_value    text NOT NULL,
        result      text NOT NULL,
        detail      text,
        once_key    text,
        approved_by text,
        channel     text,
        thread_ts   text
      );
      CREATE INDEX audit_log_at ON ${STORE_SCHEMA}.audit_log (at DESC);
      CREATE TABLE ${STORE_SCHEMA}.approvals (
        id           text PRIMARY KEY,
        proposal     jsonb NOT NULL,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        channel      text,
        thread_ts    text,
        status       text NOT NULL CHECK (status IN ('pending', 'approved', 'stale')),
        decided_by   text,
        decided_at   timestamptz
      );
      CREATE TABLE ${STORE_SCHEMA}.reminders (
        id         text PRIMARY KEY,
        due_at     timestamptz NOT NULL,
        channel    text NOT NULL,
        thread_ts  text NOT NULL,
        text       text NOT NULL,
        proposal   jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        taken_by   text,
        taken_at   timestamptz
      );
      CREATE INDEX reminders_due ON ${STORE_SCHEMA}.reminders (due_at) WHERE taken_by IS NULL;
      CREATE TABLE ${STORE_SCHEMA}.incident_threads (
        channel    text NOT NULL,
        thread_ts  text NOT NULL,
        service    text NOT NULL,
        step       text,
        dedup_key  text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (channel, thread_ts)
      );
      CREATE INDEX incident_threads_latest ON ${STORE_SCHEMA}.incident_threads (channel, created_at DESC);
    `,
  },
  {
    version: 2,
    name: 'alert notifications and the incidents of alert groups',
    sql: `
      CREATE TABLE ${STORE_SCHEMA}.alert_notifications (
        dedup_key  text PRIMARY KEY,
        group_key  text NOT NULL,
        status     text NOT NULL CHECK (status IN ('firing', 'resolved')),
        payload    jsonb NOT NULL,
        state      text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
        first_seen timestamptz NOT NULL,
        last_seen  timestamptz NOT NULL,
        seen       integer NOT NULL,
        claimed_by text,
        claimed_at timestamptz,
        done_at    timestamptz
      );
      CREATE INDEX alert_notifications_pending ON ${STORE_SCHEMA}.alert_notifications (first_seen)
        WHERE state = 'pending';
      CREATE TABLE ${STORE_SCHEMA}.alert_incidents (
        group_key   text PRIMARY KEY,
        service     text NOT NULL,
        status      text NOT NULL CHECK (status IN ('firing', 'resolved')),
        started_at  timestamptz NOT NULL,
        resolved_at timestamptz,
        last_seen   timestamptz NOT NULL,
        channel     text,
        root_ts     text,
        claimed_by  text NOT NULL,
        claimed_at  timestamptz NOT NULL,
        latest      jsonb NOT NULL,
        latest_at   timestamptz NOT NULL,
        onset       jsonb NOT NULL DEFAULT '[]',
        silence     jsonb
      );
      CREATE INDEX alert_incidents_thread ON ${STORE_SCHEMA}.alert_incidents (channel, root_ts);
    `,
  },
  {
    version: 3,
    name: 'replay cache of signed Slack requests',
    sql: `
      CREATE TABLE ${STORE_SCHEMA}.slack_deliveries (
        key        text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX slack_deliveries_expiry ON ${STORE_SCHEMA}.slack_deliveries (expires_at);
    `,
  },
  {
    version: 4,
    name: 'alert handling a dead replica left part-way: running claims, the steps that started',
    sql: `
      CREATE INDEX alert_notifications_running ON ${STORE_SCHEMA}.alert_notifications (claimed_at)
        WHERE state = 'running';
      CREATE TABLE ${STORE_SCHEMA}.alert_incident_steps (
        group_key  text NOT NULL,
        step       text NOT NULL,
        claimed_by text NOT NULL,
        claimed_at timestamptz NOT NULL,
        PRIMARY KEY (group_key, step)
      );
    `,
  },
  {
    version: 5,
    name: 'profile captures, the newest per service, pod and kind',
    sql: `
      CREATE TABLE ${STORE_SCHEMA}.profile_captures (
        service     text NOT NULL,
        pod         text NOT NULL,
        kind        text NOT NULL CHECK (kind IN ('cpu', 'heap')),
        captured_at timestamptz NOT NULL,
        bytes       bytea NOT NULL,
        PRIMARY KEY (service, pod, kind, captured_at)
      );
      CREATE INDEX profile_captures_latest ON ${STORE_SCHEMA}.profile_captures (service, kind, captured_at DESC);
    `,
  },
];

export interface PostgresStoreOptions {
  readonly url: string;
  /** See DEFAULT_STALE_CLAIM_MS. */
  readonly staleClaimMs?: number;
  /** See DEFAULT_ALERT_STALE_CLAIM_MS. */
  readonly alertStaleClaimMs?: number;
  /** Pool size; default 4. */
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/**
 * The store in the bot's own PostgreSQL database (never the database being diagnosed). Migrations are
 * applied by `open` inside one transaction holding an advisory lock, so processes starting together
 * do not race; once-only keys are claimed with INSERT … ON CONFLICT, so any number of processes
 * sharing the database make one change per key.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly staleClaimMs: number;
  private deliveriesSincePrune = 0;
  private readonly alertStaleClaimMs: number;

  private constructor(pool: pg.Pool, staleClaimMs: number, alertStaleClaimMs: number) {
    this.pool = pool;
    this.staleClaimMs = staleClaimMs;
    this.alertStaleClaimMs = alertStaleClaimMs;
  }

  /** Connects, applies the migrations that are missing, and returns the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new (pgClient().Pool)({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      application_name: 'aegis-bot-store',
    });
    // A pooled connection that drops (server restart) is replaced on the next query.
    pool.on('error', () => {});
    const store = new PostgresStore(
      pool,
      options.staleClaimMs ?? DEFAULT_STALE_CLAIM_MS,
      options.alertStaleClaimMs ?? DEFAULT_ALERT_STALE_CLAIM_MS,
    );
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => {});
      throw storeError('apply the store migrations', e);
    }
    return store;
  }

  /** Versions applied so far, in order. */
  async appliedMigrations(): Promise<number[]> {
    const rows = await this.query(`SELECT version FROM ${STORE_SCHEMA}.migrations ORDER BY version`);
    return rows.map((r) => Number(r.version));
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${STORE_SCHEMA}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${STORE_SCHEMA}.migrations (
           version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query(
        `SELECT coalesce(max(version), 0) AS v FROM ${STORE_SCHEMA}.migrations`,
      );
      const current = Number(rows[0]?.v ?? 0);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query(m.sql);
        await client.query(`INSERT INTO ${STORE_SCHEMA}.migrations (version, name) VALUES ($1, $2)`, [
          m.version,
          m.name,
        ]);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async claimOnce(claim: OnceClaim): Promise<ClaimResult> {
    const staleBefore = new Date(claim.at.getTime() - this.staleClaimMs);
    // A row deleted (released) between the INSERT and the SELECT is simply claimed on the next try.
    for (let attempt = 0; attempt < 3; attempt++) {
      const won = await this.query(
        `INSERT INTO ${STORE_SCHEMA}.once_keys AS o (key, actor, action, what, state, claimed_at)
         VALUES ($1, $2, $3, $4, 'running', $5)
         ON CONFLICT (key) DO UPDATE
           SET actor = EXCLUDED.actor, action = EXCLUDED.action, what = EXCLUDED.what, state = 'running',
               claimed_at = EXCLUDED.claimed_at, completed_at = NULL, result = NULL
           WHERE o.state = 'failed' OR (o.state = 'running' AND o.claimed_at < $6)
         RETURNING key`,
        [claim.key, claim.actor, claim.action, claim.what, claim.at, staleBefore],
      );
      if (won.length === 1) return { claimed: true };
      const existing = await this.onceRecord(claim.key);
      if (existing) return { claimed: false, existing };
    }
    throw new AppError('busy', `the once-only key of this click keeps changing hands: try again`);
  }

  async completeOnce(key: string, outcome: OnceOutcome): Promise<void> {
    await this.query(
      `UPDATE ${STORE_SCHEMA}.once_keys SET state = $2, result = $3, completed_at = $4 WHERE key = $1 AND state = 'running'`,
      [key, outcome.state, outcome.result, outcome.at],
    );
  }

  async releaseOnce(key: string): Promise<void> {
    await this.query(`DELETE FROM ${STORE_SCHEMA}.once_keys WHERE key = $1 AND state = 'running'`, [key]);
  }

  async onceRecord(key: string): Promise<OnceRecord | undefined> {
    const rows = await this.query(
      `SELECT key, actor, action, what, state, claimed_at, completed_at, result FROM ${STORE_SCHEMA}.once_keys WHERE key = $1`,
      [key],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      key: String(r.key),
      actor: String(r.actor),
      action: String(r.action),
      what: String(r.what),
      state: String(r.state) as OnceState,
      claimedAt: r.claimed_at as Date,
      ...(r.completed_at ? { completedAt: r.completed_at as Date } : {}),
      ...(r.result !== null && r.result !== undefined ? { result: String(r.result) } : {}),
    };
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.query(
      `INSERT INTO ${STORE_SCHEMA}.audit_log
         (at, actor, action, service, what, from_value, to_value, result, detail, once_key, approved_by, channel, thread_ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        e.at,
        e.actor,
        e.action,
        e.service,
        e.what,
        e.from,
        e.to,
        e.result,
        e.detail ?? null,
        e.key ?? null,
        e.approvedBy ?? null,
        e.channel ?? null,
        e.threadTs ?? null,
      ],
    );
  }

  async auditLog(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const rows = await this.query(
      `SELECT * FROM ${STORE_SCHEMA}.audit_log
        WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR actor = $2)
        ORDER BY at DESC, id DESC LIMIT $3`,
      [query.action ?? null, query.actor ?? null, query.limit ?? 100],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at as Date,
      actor: String(r.actor),
      action: String(r.action),
      service: String(r.service),
      what: String(r.what),
      from: String(r.from_value),
      to: String(r.to_value),
      result: String(r.result) as AuditResult,
      ...optional('detail', r.detail),
      ...optional('key', r.once_key),
      ...optional('approvedBy', r.approved_by),
      ...optional('channel', r.channel),
      ...optional('threadTs', r.thread_ts),
    }));
  }

  async createApproval(request: ApprovalRequest): Promise<{ created: boolean; approval: PendingApproval }> {
    const inserted = await this.query(
      `INSERT INTO ${STORE_SCHEMA}.approvals (id, proposal, requested_by, requested_at, channel, thread_ts, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        request.id,
        JSON.stringify(request.proposal),
        request.requestedBy,
        request.requestedAt,
        request.channel ?? null,
        request.threadTs ?? null,
      ],
    );
    if (inserted[0]) return { created: true, approval: toApproval(inserted[0]) };
    const existing = await this.getApproval(request.id);
    if (!existing)
      throw new AppError('busy', `approval ${request.id} vanished while it was being created: try again`);
    return { created: false, approval: existing };
  }

  async getApproval(id: string): Promise<PendingApproval | undefined> {
    const rows = await this.query(`SELECT * FROM ${STORE_SCHEMA}.approvals WHERE id = $1`, [id]);
    return rows[0] ? toApproval(rows[0]) : undefined;
  }

  async decideApproval(id: string, decision: ApprovalDecision): Promise<PendingApproval | undefined> {
    const rows = await this.query(
      `UPDATE ${STORE_SCHEMA}.approvals SET status = $2, decided_by = $3, decided_at = $4
        WHERE id = $1 AND status = 'pending' RETURNING *`,
      [id, decision.status, decision.by, decision.at],
    );
    return rows[0] ? toApproval(rows[0]) : undefined;
  }

  async addReminder(r: NewReminder): Promise<void> {
    await this.query(
      `INSERT INTO ${STORE_SCHEMA}.reminders (id, due_at, channel, thread_ts, text, proposal, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [r.id, r.dueAt, r.channel, r.threadTs, r.text, JSON.stringify(r.proposal), r.createdAt],
    );
  }

  async takeDueReminders(now: Date, owner: string, limit = 20): Promise<Reminder[]> {
    const rows = await this.query(
      `UPDATE ${STORE_SCHEMA}.reminders SET taken_by = $2, taken_at = $1
        WHERE id IN (SELECT id FROM ${STORE_SCHEMA}.reminders
                      WHERE taken_by IS NULL AND due_at <= $1
                      ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id, due_at, channel, thread_ts, text, proposal, created_at`,
      [now, owner, limit],
    );
    return rows
      .map((r) => ({
        id: String(r.id),
        dueAt: r.due_at as Date,
        channel: String(r.channel),
        threadTs: String(r.thread_ts),
        text: String(r.text),
        proposal: r.proposal as Proposal,
        createdAt: r.created_at as Date,
      }))
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  async releaseReminder(id: string): Promise<void> {
    await this.query(`UPDATE ${STORE_SCHEMA}.reminders SET taken_by = NULL, taken_at = NULL WHERE id = $1`, [
      id,
    ]);
  }

  async recordIncidentThread(t: IncidentThread): Promise<void> {
    await this.query(
      `INSERT INTO ${STORE_SCHEMA}.incident_threads (channel, thread_ts, service, step, dedup_key, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (channel, thread_ts) DO UPDATE
         SET service = EXCLUDED.service, step = EXCLUDED.step, dedup_key = EXCLUDED.dedup_key, created_at = EXCLUDED.created_at`,
      [t.channel, t.threadTs, t.service, t.step ?? null, t.dedupKey ?? null, t.createdAt],
    );
  }

  async latestIncidentThread(channel: string): Promise<IncidentThread | undefined> {
    const rows = await this.query(
      `SELECT * FROM ${STORE_SCHEMA}.incident_threads WHERE channel = $1 ORDER BY created_at DESC, thread_ts DESC LIMIT 1`,
      [channel],
    );
    return rows[0] ? toThread(rows[0]) : undefined;
  }

  async incidentThread(channel: string, threadTs: string): Promise<IncidentThread | undefined> {
    const rows = await this.query(
      `SELECT * FROM ${STORE_SCHEMA}.incident_threads WHERE channel = $1 AND thread_ts = $2`,
      [channel, threadTs],
    );
    return rows[0] ? toThread(rows[0]) : undefined;
  }

  async recordAlertNotification(n: AlertNotificationEntry): Promise<AlertNotificationRecord> {
    const rows = await this.query(
      `INSERT INTO ${STORE_SCHEMA}.alert_notifications AS a
         (dedup_key, group_key, status, payload, state, first_seen, last_seen, seen)
       VALUES ($1, $2, $3, $4, 'pending', $5, $5, 1)
       ON CONFLICT (dedup_key) DO UPDATE
         SET last_seen = greatest(a.last_seen, EXCLUDED.last_seen), seen = a.seen + 1
       RETURNING *, (xmax = 0) AS fresh`,
      [n.dedupKey, n.groupKey, n.status, JSON.stringify(n.payload), n.at],
    );
    return toNotification(rows[0] as Row);
  }

  async claimAlertNotification(dedupKey: string, owner: string, at: Date): Promise<boolean> {
    const rows = await this.query(
      `UPDATE ${STORE_SCHEMA}.alert_notifications SET state = 'running', claimed_by = $2, claimed_at = $3
        WHERE dedup_key = $1
          AND (state IN ('pending', 'failed') OR (state = 'running' AND claimed_at < $4))
        RETURNING dedup_key`,
      [dedupKey, owner, at, new Date(at.getTime() - this.alertStaleClaimMs)],
    );
    return rows.length === 1;
  }

  async completeAlertNotification(dedupKey: string, state: 'done' | 'failed', at: Date): Promise<void> {
    await this.query(
      `UPDATE ${STORE_SCHEMA}.alert_notifications SET state = $2, done_at = $3
        WHERE dedup_key = $1 AND state = 'running'`,
      [dedupKey, state, at],
    );
  }

  async pendingAlertNotifications(
    recordedBefore: Date,
    now: Date,
    limit = 50,
  ): Promise<AlertNotificationRecord[]> {
    const rows = await this.query(
      `SELECT *, false AS fresh FROM ${STORE_SCHEMA}.alert_notifications
        WHERE (state = 'pending' AND first_seen < $1) OR (state = 'running' AND claimed_at < $3)
        ORDER BY first_seen LIMIT $2`,
      [recordedBefore, limit, new Date(now.getTime() - this.alertStaleClaimMs)],
    );
    return rows.map(toNotification);
  }

  async claimAlertIncident(
    c: AlertIncidentClaim,
  ): Promise<{ claimed: true } | { claimed: false; incident: AlertIncident }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const won = await this.query(
        `INSERT INTO ${STORE_SCHEMA}.alert_incidents AS i
           (group_key, service, status, started_at, last_seen, claimed_by, claimed_at, latest, latest_at)
         VALUES ($1, $2, 'firing', $3, $4, $5, $4, $6, $8)
         ON CONFLICT (group_key) DO UPDATE
           SET service = EXCLUDED.service, status = 'firing', started_at = EXCLUDED.started_at,
               resolved_at = NULL, last_seen = EXCLUDED.last_seen, claimed_by = EXCLUDED.claimed_by,
               claimed_at = EXCLUDED.claimed_at, latest = EXCLUDED.latest, latest_at = EXCLUDED.latest_at,
               onset = '[]', silence = NULL
           WHERE i.root_ts IS NULL AND i.claimed_at < $7
         RETURNING group_key`,
        [
          c.groupKey,
          c.service,
          c.startedAt,
          c.at,
          c.owner,
          JSON.stringify(c.latest),
          new Date(c.at.getTime() - this.alertStaleClaimMs),
          c.latestAt,
        ],
      );
      if (won.length === 1) return { claimed: true };
      const incident = await this.alertIncident(c.groupKey);
      if (incident) return { claimed: false, incident };
    }
    throw new AppError('busy', 'the incident of this alert group keeps changing hands: try again');
  }

  async setAlertIncidentRoot(groupKey: string, root: { channel: string; ts: string }): Promise<void> {
    await this.query(
      `UPDATE ${STORE_SCHEMA}.alert_incidents SET channel = $2, root_ts = $3 WHERE group_key = $1`,
      [groupKey, root.channel, root.ts],
    );
  }

  async updateAlertIncident(groupKey: string, u: AlertIncidentUpdate): Promise<AlertIncident | undefined> {
    // One statement: concurrent updates from replicas each apply in full, and `latest` never goes back.
    const rows = await this.query(
      `UPDATE ${STORE_SCHEMA}.alert_incidents SET
         status      = CASE WHEN $7::timestamptz IS NULL OR $7 >= latest_at THEN coalesce($2, status) ELSE status END,
         resolved_at = CASE WHEN $3::boolean AND ($7::timestamptz IS NULL OR $7 >= latest_at) THEN $4::timestamptz
                            ELSE resolved_at END,
         last_seen   = greatest(last_seen, coalesce($5, last_seen)),
         latest      = CASE WHEN $7::timestamptz IS NOT NULL AND $7 >= latest_at THEN $6::jsonb ELSE latest END,
         latest_at   = CASE WHEN $7::timestamptz IS NOT NULL AND $7 >= latest_at THEN $7 ELSE latest_at END,
         onset       = CASE WHEN $8::jsonb IS NULL THEN onset ELSE onset || jsonb_build_array($8::jsonb) END,
         silence     = CASE WHEN $9::boolean THEN $10::jsonb ELSE silence END
       WHERE group_key = $1
       RETURNING *`,
      [
        groupKey,
        u.status ?? null,
        u.resolvedAt !== undefined,
        u.resolvedAt ?? null,
        u.lastSeen ?? null,
        u.latest ? JSON.stringify(u.latest.payload) : null,
        u.latest?.at ?? null,
        u.addOnset ? JSON.stringify(u.addOnset) : null,
        u.silence !== undefined,
        u.silence ? JSON.stringify(u.silence) : null,
      ],
    );
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  async alertIncident(groupKey: string): Promise<AlertIncident | undefined> {
    const rows = await this.query(`SELECT * FROM ${STORE_SCHEMA}.alert_incidents WHERE group_key = $1`, [
      groupKey,
    ]);
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  async alertIncidentByThread(channel: string, threadTs: string): Promise<AlertIncident | undefined> {
    const rows = await this.query(
      `SELECT * FROM ${STORE_SCHEMA}.alert_incidents WHERE channel = $1 AND root_ts = $2`,
      [channel, threadTs],
    );
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  async claimAlertStep(groupKey: string, step: string, owner: string, at: Date): Promise<boolean> {
    const won = await this.query(
      `INSERT INTO ${STORE_SCHEMA}.alert_incident_steps (group_key, step, claimed_by, claimed_at)
       VALUES ($1, $2, $3, $4) ON CONFLICT (group_key, step) DO NOTHING RETURNING step`,
      [groupKey, step, owner, at],
    );
    return won.length === 1;
  }

  async saveProfileCapture(c: ProfileCapture): Promise<void> {
    checkCaptureSize(c);
    await this.query(
      `INSERT INTO ${STORE_SCHEMA}.profile_captures (service, pod, kind, captured_at, bytes)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [c.service, c.pod, c.kind, c.capturedAt, Buffer.from(c.bytes)],
    );
    // Keep the newest MAX_CAPTURES_PER_POD of this service, pod and kind (any replica's trim does it),
    // and every capture a firing incident names as its onset.
    await this.query(
      `DELETE FROM ${STORE_SCHEMA}.profile_captures AS c
        WHERE service = $1 AND pod = $2 AND kind = $3
          AND captured_at NOT IN (
            SELECT captured_at FROM ${STORE_SCHEMA}.profile_captures
             WHERE service = $1 AND pod = $2 AND kind = $3
             ORDER BY captured_at DESC LIMIT $4)
          AND NOT EXISTS (
            SELECT 1 FROM ${STORE_SCHEMA}.alert_incidents i, jsonb_array_elements(i.onset) o
             WHERE i.status = 'firing' AND i.service = $1
               AND o->'capture'->>'pod' = $2 AND o->'capture'->>'kind' = $3
               AND (o->'capture'->>'capturedAt')::timestamptz = c.captured_at)`,
      [c.service, c.pod, c.kind, MAX_CAPTURES_PER_POD],
    );
  }

  async latestProfileCapture(
    service: string,
    kind: ProfileCaptureKind,
    before: Date,
    pod?: string,
  ): Promise<ProfileCapture | undefined> {
    const rows = await this.query(
      `SELECT service, pod, kind, captured_at, bytes FROM ${STORE_SCHEMA}.profile_captures
        WHERE service = $1 AND kind = $2 AND captured_at < $3 AND ($4::text IS NULL OR pod = $4)
        ORDER BY captured_at DESC, pod LIMIT 1`,
      [service, kind, before, pod ?? null],
    );
    return captureOf(rows[0]);
  }

  async profileCaptureAt(
    service: string,
    pod: string,
    kind: ProfileCaptureKind,
    capturedAt: Date,
  ): Promise<ProfileCapture | undefined> {
    const rows = await this.query(
      `SELECT service, pod, kind, captured_at, bytes FROM ${STORE_SCHEMA}.profile_captures
        WHERE service = $1 AND pod = $2 AND kind = $3 AND captured_at = $4`,
      [service, pod, kind, capturedAt],
    );
    return captureOf(rows[0]);
  }

  /** Reachable, and migrated to the version this code expects. */
  async firstDelivery(key: string, now: Date, expiresAt: Date): Promise<boolean> {
    // an expired record is taken over as if absent; the row lock makes one concurrent caller win
    const won = await this.query(
      `INSERT INTO ${STORE_SCHEMA}.slack_deliveries AS d (key, expires_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE d.expires_at <= $3
       RETURNING key`,
      [key, expiresAt, now],
    );
    this.deliveriesSincePrune += 1;
    if (this.deliveriesSincePrune >= 200) {
      this.deliveriesSincePrune = 0;
      await this.query(`DELETE FROM ${STORE_SCHEMA}.slack_deliveries WHERE expires_at <= $1`, [now]);
    }
    return won.length === 1;
  }

  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const started = performance.now();
    try {
      signal?.throwIfAborted();
      const applied = await this.appliedMigrations();
      const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
      const ok = applied.includes(latest);
      return [
        {
          name: 'store (PostgreSQL)',
          ok,
          detail: `schema ${STORE_SCHEMA} at migration ${applied.at(-1) ?? 'none'} (expected ${latest}), answered in ${Math.round(performance.now() - started)} ms`,
          ...(ok ? {} : { hint: 'restart the bot: migrations are applied at start' }),
        },
      ];
    } catch (e) {
      return [
        {
          name: 'store (PostgreSQL)',
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
          hint: 'check store.database_url_env and that the store database is reachable',
        },
      ];
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query(sql: string, values: readonly unknown[] = []): Promise<Row[]> {
    try {
      const res = await this.pool.query(sql, values as unknown[]);
      return res.rows as Row[];
    } catch (e) {
      throw storeError('query the store', e);
    }
  }
}

function optional<K extends string>(key: K, v: unknown): Partial<Record<K, string>> {
  return v === null || v === undefined ? {} : ({ [key]: String(v) } as Record<K, string>);
}

function toApproval(r: Row): PendingApproval {
  return {
    id: String(r.id),
    proposal: r.proposal as Proposal,
    requestedBy: String(r.requested_by),
    requestedAt: r.requested_at as Date,
    ...optional('channel', r.channel),
    ...optional('threadTs', r.thread_ts),
    status: String(r.status) as PendingApproval['status'],
    ...optional('decidedBy', r.decided_by),
    ...(r.decided_at ? { decidedAt: r.decided_at as Date } : {}),
  };
}

function toThread(r: Row): IncidentThread {
  return {
    channel: String(r.channel),
    threadTs: String(r.thread_ts),
    service: String(r.service),
    ...optional('step', r.step),
    ...optional('dedupKey', r.dedup_key),
    createdAt: r.created_at as Date,
  };
}

function toNotification(r: Row): AlertNotificationRecord {
  return {
    dedupKey: String(r.dedup_key),
    groupKey: String(r.group_key),
    status: String(r.status) as 'firing' | 'resolved',
    payload: r.payload,
    at: r.last_seen as Date,
    fresh: r.fresh === true,
    state: String(r.state) as AlertNotificationState,
    firstSeen: r.first_seen as Date,
    lastSeen: r.last_seen as Date,
    seen: Number(r.seen),
  };
}

function captureOf(r: Row | undefined): ProfileCapture | undefined {
  if (!r) return undefined;
  return {
    service: String(r.service),
    pod: String(r.pod),
    kind: String(r.kind) as ProfileCaptureKind,
    capturedAt: new Date(r.captured_at as Date),
    bytes: new Uint8Array(r.bytes as Buffer),
  };
}

function toIncident(r: Row): AlertIncident {
  const silence = r.silence as { id: string; endsAt: string; createdBy: string; expired?: boolean } | null;
  type Capture = NonNullable<AlertIncident['onset'][number]['capture']>;
  const onset = (r.onset ?? []) as (Omit<AlertIncident['onset'][number], 'capturedAt' | 'capture'> & {
    capturedAt: string;
    capture?: Omit<Capture, 'capturedAt'> & { capturedAt: string };
  })[];
  return {
    groupKey: String(r.group_key),
    service: String(r.service),
    status: String(r.status) as 'firing' | 'resolved',
    startedAt: r.started_at as Date,
    ...(r.resolved_at ? { resolvedAt: r.resolved_at as Date } : {}),
    lastSeen: r.last_seen as Date,
    ...optional('channel', r.channel),
    ...optional('rootTs', r.root_ts),
    claimedBy: String(r.claimed_by),
    claimedAt: r.claimed_at as Date,
    latest: r.latest,
    latestAt: r.latest_at as Date,
    onset: onset.map(({ capture, ...o }) => ({
      ...o,
      capturedAt: new Date(o.capturedAt),
      ...(capture ? { capture: { ...capture, capturedAt: new Date(capture.capturedAt) } } : {}),
    })),
    ...(silence
      ? {
          silence: {
            id: silence.id,
            endsAt: new Date(silence.endsAt),
            createdBy: silence.createdBy,
            ...(silence.expired ? { expired: true } : {}),
          },
        }
      : {}),
  };
}

/** The store failing is the bot's own problem: a SourceError-like AppError naming the store. */
function storeError(operation: string, e: unknown): AppError {
  if (e instanceof AppError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string } | undefined)?.code;
  return new AppError(
    'source',
    `store (PostgreSQL): ${operation} failed: ${message}${code ? ` (${code})` : ''}`,
    {
      cause: e,
    },
  );
}
