import type { Finding } from '../../domain/finding.ts';
import { formatDuration, humanDuration } from '../../lib/format.ts';
import type { ConfigMapEdit, HpaScaling, PodInfo, ReplicaSetRevision } from '../../sources/kubernetes.ts';
import type { SettingsHistory } from '../../sources/postgres-types.ts';

/**
 * "What changed": the rollouts, HPA scalings, ConfigMap edits, pod restarts and PostgreSQL changes
 * in the window before the onset, newest last, for the latency report and the chart's markers. Pure.
 */

export type ChangeKind = 'rollout' | 'scaling' | 'config' | 'restart' | 'database';

export interface Change {
  readonly at: Date;
  readonly kind: ChangeKind;
  /** A few words for the chart marker, e.g. "rev 7 aegis-api:1.4.2". */
  readonly label: string;
  /** One line for the report's table. */
  readonly detail: string;
}

export interface ChangeSources {
  readonly deployment: string;
  readonly pods?: readonly PodInfo[];
  readonly replicaSets?: readonly ReplicaSetRevision[];
  readonly hpas?: readonly HpaScaling[];
  readonly configMaps?: readonly ConfigMapEdit[];
  readonly database?: SettingsHistory;
}

export interface ChangeWindow {
  /** From here (the report's window start, or the caller's, e.g. an alert's onset minus a margin). */
  readonly since: Date;
  /** To here: the onset when one is known, else the end of the window. */
  readonly until: Date;
}

const imageTag = (image: string) => image.slice(image.lastIndexOf('/') + 1);

/** Every change the sources show inside [since, until], oldest first. */
export function collectChanges(s: ChangeSources, w: ChangeWindow): Change[] {
  const inside = (d: Date | undefined): d is Date =>
    d !== undefined && d.getTime() >= w.since.getTime() && d.getTime() <= w.until.getTime();
  const out: Change[] = [];
  for (const rs of s.replicaSets ?? []) {
    if (rs.deployment !== undefined && rs.deployment !== s.deployment) continue;
    if (!inside(rs.createdAt)) continue;
    // the marker names the first container's image (the service's own, in the runbook's layout)
    const first = rs.images[0];
    out.push({
      at: rs.createdAt,
      kind: 'rollout',
      label: `rev ${rs.revision ?? '?'}${first ? ` ${imageTag(first.slice(first.indexOf('=') + 1))}` : ''}`,
      detail:
        `Deployment ${s.deployment} rolled out revision ${rs.revision ?? '?'} (ReplicaSet ${rs.name}): ${rs.images.join(', ')}` +
        (rs.changeCause ? `; change-cause: ${rs.changeCause}` : '; no kubernetes.io/change-cause'),
    });
  }
  for (const h of s.hpas ?? []) {
    if (h.target !== `Deployment/${s.deployment}` || !inside(h.lastScaleTime)) continue;
    out.push({
      at: h.lastScaleTime,
      kind: 'scaling',
      label: `HPA → ${h.desiredReplicas}`,
      detail: `HPA ${h.name} scaled ${h.target} to ${h.desiredReplicas} replicas (now ${h.currentReplicas}, bounds ${h.minReplicas ?? 1}-${h.maxReplicas})`,
    });
  }
  for (const c of s.configMaps ?? []) {
    if (!inside(c.editedAt)) continue;
    out.push({
      at: c.editedAt,
      kind: 'config',
      label: `ConfigMap ${c.name}`,
      detail: `ConfigMap ${c.name} written${c.manager ? ` by ${c.manager}` : ''} (managedFields)`,
    });
  }
  for (const p of s.pods ?? []) {
    for (const c of p.containers) {
      const t = c.lastTermination;
      if (!inside(t?.finishedAt)) continue;
      out.push({
        at: t.finishedAt,
        kind: 'restart',
        label: `restart ${p.name.slice(-5)}`,
        detail: `Pod ${p.name} container ${c.name} restarted: ${t.reason ?? 'terminated'}${t.exitCode !== undefined ? ` (exit ${t.exitCode})` : ''}, ${c.restartCount} restarts in all`,
      });
    }
  }
  const db = s.database;
  if (db) {
    if (inside(db.startedAt)) {
      out.push({
        at: db.startedAt,
        kind: 'database',
        label: 'PostgreSQL restart',
        detail: 'PostgreSQL restarted (pg_postmaster_start_time): caches are cold, settings reloaded',
      });
    }
    // the postmaster loads its configuration just before it records its start: only a later load is a reload
    if (inside(db.configLoadedAt) && db.configLoadedAt.getTime() > db.startedAt.getTime()) {
      const fromFile = db.changed.filter((c) => c.source === 'configuration file');
      out.push({
        at: db.configLoadedAt,
        kind: 'database',
        label: 'PostgreSQL reload',
        detail:
          'PostgreSQL reloaded its configuration (pg_conf_load_time)' +
          (fromFile.length
            ? `; settings from the configuration file now: ${fromFile
                .slice(0, 8)
                .map((c) => `${c.name}=${c.setting}${c.unit ?? ''}`)
                .join(', ')}${fromFile.length > 8 ? ` and ${fromFile.length - 8} more` : ''}`
            : ''),
      });
    }
    if (inside(db.statementsResetAt)) {
      out.push({
        at: db.statementsResetAt,
        kind: 'database',
        label: 'pg_stat_statements reset',
        detail:
          'pg_stat_statements was reset (pg_stat_statements_info.stats_reset): its statistics start here',
      });
    }
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** Settings waiting for a restart or not applied: shown with the changes, since they are changes in waiting. */
function pendingSettings(db: SettingsHistory | undefined): string[] {
  if (!db) return [];
  return [
    ...db.changed.filter((c) => c.pendingRestart).map((c) => `${c.name} (pending restart)`),
    ...(db.unapplied ?? []).map((u) => `${u.name}=${u.setting} not applied${u.error ? `: ${u.error}` : ''}`),
  ];
}

/** The report's "what changed" finding: info, since a change is a lead to follow, not a judgement. */
export function changesFinding(
  changes: readonly Change[],
  w: ChangeWindow & { readonly onset: boolean; readonly now: Date; readonly checked: readonly string[] },
  database?: SettingsHistory,
): Finding {
  const span = formatDuration(Math.max(60_000, w.until.getTime() - w.since.getTime()));
  const where = w.onset ? `in the ${span} before the onset` : `in the last ${span}`;
  const pending = pendingSettings(database);
  const hhmm = (d: Date) => d.toISOString().slice(11, 19);
  return {
    id: 'changes',
    severity: 'info',
    title: changes.length
      ? `${changes.length} ${changes.length === 1 ? 'change' : 'changes'} ${where}`
      : `No change ${where}`,
    summary:
      (changes.length
        ? `Latest: ${(changes[changes.length - 1] as Change).detail} (${humanDuration(w.now.getTime() - (changes[changes.length - 1] as Change).at.getTime())} ago).`
        : `Nothing in what was checked (${w.checked.join(', ')}).`) +
      (pending.length ? ` Waiting to take effect: ${pending.join(', ')}.` : ''),
    evidence: changes.length
      ? [
          {
            type: 'table',
            title: `What changed ${where} (UTC), marked on the latency chart`,
            columns: ['Time', 'Kind', 'What'],
            rows: changes.map((c) => [hhmm(c.at), c.kind, c.detail]),
          },
        ]
      : [],
    links: [],
  };
}
