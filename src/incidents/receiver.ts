import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlertsConfig } from '../config/schema.ts';
import { readBody, sendJson } from '../lib/http-body.ts';
import type { AlertNotificationRecord, Store } from '../store/types.ts';
import type { IncidentLog } from './incident-threads.ts';
import { notificationKey, parseWebhook } from './webhook-schema.ts';

export const ALERTMANAGER_PATH = '/alertmanager';

/** A route in the shape the Slack receiver, the Socket Mode route server and the console all mount. */
export interface AlertmanagerRoute {
  readonly path: string;
  readonly method: 'POST';
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export type WebhookAuth =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string };

export interface AlertmanagerReceiverOptions {
  readonly auth: WebhookAuth;
  /** Largest body accepted, in bytes (413 beyond). */
  readonly bodyLimit: number;
  readonly store: Store;
  /** Called after the answer, once per recorded notification; its failures are logged. */
  readonly onRecorded: (record: AlertNotificationRecord) => Promise<void>;
  readonly log: IncidentLog;
  /** Background work is handed here (a graceful shutdown waits for it). */
  readonly track?: (work: Promise<void>, describe: string) => void;
  readonly now?: () => Date;
}

/** The webhook's credentials from config.alerts and the secret resolved from the environment. */
export function webhookAuth(alerts: AlertsConfig, secret: string): WebhookAuth {
  return alerts.auth.basic
    ? { kind: 'basic', username: alerts.auth.basic.username, password: secret }
    : { kind: 'bearer', token: secret };
}

/**
 * `POST /alertmanager`: Alertmanager's webhook (version 4).
 *
 * 1. Credentials first, as `webhook_configs.http_config` sends them (bearer token or basic auth): without
 *    them, 401 and the body is never read into memory nor parsed.
 * 2. The body within the size limit (lib/http-body.ts, the one body reader): 413 beyond, after the rest
 *    was drained, so the sender reads the answer instead of a reset connection.
 * 3. The v4 schema: a malformed notification gets 400 naming what was wrong (and a log line).
 * 4. Recorded in the store (deduplicated there), then 200. A store failure answers 503, so Alertmanager
 *    retries; a retry of a recorded notification is harmless.
 * 5. The notification is handled after the answer, never blocking other requests.
 */
export function alertmanagerRoute(opts: AlertmanagerReceiverOptions): AlertmanagerRoute {
  const now = opts.now ?? (() => new Date());
  const expected = credentialDigest(opts.auth);
  return {
    path: ALERTMANAGER_PATH,
    method: 'POST',
    async handler(req, res) {
      const remote = req.socket.remoteAddress;
      if (!authorized(req.headers.authorization, opts.auth, expected)) {
        opts.log.warn(
          { remote, path: ALERTMANAGER_PATH },
          'refused an Alertmanager notification: no or wrong credentials',
        );
        refuse(
          req,
          res,
          401,
          { error: 'unauthorized' },
          {
            'www-authenticate':
              opts.auth.kind === 'basic' ? 'Basic realm="aegis-bot"' : 'Bearer realm="aegis-bot"',
          },
        );
        return;
      }
      const body = await readBody(req, opts.bodyLimit);
      if (body === 'too_large') {
        opts.log.warn(
          { remote, limit: opts.bodyLimit },
          'refused an Alertmanager notification: body too large',
        );
        refuse(req, res, 413, {
          error: `the notification is larger than ${opts.bodyLimit} bytes (alerts.body_limit)`,
        });
        return;
      }
      const parsed = parseWebhook(body.toString('utf8'));
      if (!parsed.ok) {
        opts.log.warn({ remote, problems: parsed.problems }, 'refused a malformed Alertmanager notification');
        sendJson(res, 400, { error: 'invalid notification', problems: parsed.problems });
        return;
      }
      const n = parsed.notification;
      let record: AlertNotificationRecord;
      try {
        record = await opts.store.recordAlertNotification({
          dedupKey: notificationKey(n),
          groupKey: n.groupKey,
          status: n.status,
          payload: n,
          at: now(),
        });
      } catch (e) {
        opts.log.error(
          { err: e, groupKey: n.groupKey },
          'could not record an Alertmanager notification: answered 503',
        );
        sendJson(res, 503, { error: 'the notification could not be recorded: retry' });
        return;
      }
      sendJson(res, 200, { status: 'recorded', duplicate: !record.fresh });
      const work = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => opts.onRecorded(record))
        .catch((e: unknown) =>
          opts.log.error(
            { err: e, groupKey: n.groupKey, dedupKey: record.dedupKey },
            'handling an alert notification failed',
          ),
        );
      opts.track?.(work, `alert notification ${n.status} ${n.groupKey}`);
    },
  };
}

function credentialDigest(auth: WebhookAuth): Buffer {
  const expected =
    auth.kind === 'bearer'
      ? `Bearer ${auth.token}`
      : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return createHash('sha256').update(expected).digest();
}

/** Compares digests in constant time; the scheme's case does not matter (RFC 7235). */
function authorized(header: string | undefined, auth: WebhookAuth, expected: Buffer): boolean {
  if (!header) return false;
  const m = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!m) return false;
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== auth.kind) return false;
  const normalized = `${auth.kind === 'bearer' ? 'Bearer' : 'Basic'} ${m[2]}`;
  return timingSafeEqual(createHash('sha256').update(normalized).digest(), expected);
}

/**
 * Answers at once; what the client still sends is read and dropped (up to a bound, then the connection
 * is cut), so it reads the answer rather than a reset connection.
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, headers);
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > 64 * 2 ** 20) req.destroy();
  });
  req.resume();
}
