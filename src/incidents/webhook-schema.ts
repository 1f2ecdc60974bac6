import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Alertmanager's webhook payload, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
 * Everything the bot reads is checked here; bounds keep a hostile or broken sender from making the bot
 * hold or post unbounded text.
 */
const MAX_TEXT = 16 * 1024;
const labelMap = z.record(z.string().max(1024), z.string().max(MAX_TEXT));
const timestamp = z.iso.datetime({ offset: true, error: 'an RFC 3339 time' });
const status = z.enum(['firing', 'resolved']);

export const webhookAlertSchema = z.object({
  status,
  labels: labelMap,
  annotations: labelMap.default({}),
  startsAt: timestamp,
  /** "0001-01-01T00:00:00Z" while an alert fires with no end time. */
  endsAt: timestamp,
  generatorURL: z.string().max(MAX_TEXT).default(''),
  fingerprint: z.string().min(1).max(64),
});

export const webhookSchema = z.object({
  version: z.literal('4', { error: 'only webhook version "4" is understood' }),
  groupKey: z.string().min(1).max(MAX_TEXT),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status,
  receiver: z.string().max(1024),
  groupLabels: labelMap,
  commonLabels: labelMap,
  commonAnnotations: labelMap,
  externalURL: z.string().max(MAX_TEXT).default(''),
  alerts: z.array(webhookAlertSchema).min(1).max(1000),
});

export type WebhookAlert = z.output<typeof webhookAlertSchema>;
export type AlertNotification = z.output<typeof webhookSchema>;
export type AlertStatus = AlertNotification['status'];

export type ParsedWebhook =
  | { readonly ok: true; readonly notification: AlertNotification }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Parses a request body: JSON, then the v4 schema. Problems name the key path, e.g. "alerts.0.startsAt: …". */
export function parseWebhook(body: string): ParsedWebhook {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    return { ok: false, problems: [`not valid JSON: ${(e as Error).message}`] };
  }
  const parsed = webhookSchema.safeParse(raw);
  if (parsed.success) return { ok: true, notification: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
  };
}

/**
 * What makes two notifications the same one: the group, its status, and each alert's fingerprint,
 * status and start. A repeat after repeat_interval and the HA twin share it; an alert joining, leaving
 * or resolving changes it.
 */
export function notificationKey(n: AlertNotification): string {
  const alerts = n.alerts
    .map((a) => `${a.fingerprint}|${a.status}|${new Date(a.startsAt).toISOString()}`)
    .sort();
  const hash = createHash('sha256')
    .update(JSON.stringify([n.groupKey, n.status, alerts]))
    .digest('hex');
  return `alert:${hash.slice(0, 40)}`;
}

/** Alertmanager's "no end" time. */
export function hasEnd(a: WebhookAlert): boolean {
  return new Date(a.endsAt).getUTCFullYear() > 1;
}
