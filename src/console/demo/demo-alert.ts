import { readFile } from 'node:fs/promises';
import { ALERTMANAGER_PATH } from '../../incidents/receiver.ts';
import type { AlertNotification } from '../../incidents/webhook-schema.ts';
import { HttpError } from '../http.ts';

const RECORDING = new URL('./recordings/alert-notification.json', import.meta.url);

/**
 * The console's demo alert: a recorded Alertmanager notification (webhook v4, receiver
 * "aegis-console-demo", so the root message says it is a demo) with its start moved to `startsAt`;
 * "resolve" is the same group resolved at `now`. The same `startsAt` gives the same alert (a repeat).
 */
export async function demoAlertNotification(
  phase: 'fire' | 'resolve',
  startsAt: Date,
  now: Date,
): Promise<AlertNotification> {
  const recorded = JSON.parse(await readFile(RECORDING, 'utf8')) as AlertNotification;
  const resolved = phase === 'resolve';
  return {
    ...recorded,
    status: resolved ? 'resolved' : 'firing',
    alerts: recorded.alerts.map((a) => ({
      ...a,
      status: resolved ? 'resolved' : 'firing',
      startsAt: startsAt.toISOString(),
      endsAt: resolved ? now.toISOString() : '0001-01-01T00:00:00Z',
    })),
  };
}

/**
 * The console's demo control: the recorded notification (or its resolution) POSTed over HTTP to the
 * console's own /alertmanager, with the token only the console knows, as Alertmanager would send it.
 * One demo incident at a time: a second "fire" repeats it; after "resolve" the next one starts anew.
 */
export function demoAlertSender(
  selfUrl: () => string,
  token: string,
): (input: Record<string, unknown>) => Promise<{ status: number; answer: unknown }> {
  let startsAt: Date | undefined;
  return async (input) => {
    const phase = input.phase === 'resolve' ? 'resolve' : input.phase === 'fire' ? 'fire' : undefined;
    if (!phase) throw new HttpError(400, 'phase is "fire" or "resolve"');
    const now = new Date();
    startsAt ??= new Date(now.getTime() - 60_000);
    const notification = await demoAlertNotification(phase, startsAt, now);
    if (phase === 'resolve') startsAt = undefined;
    const res = await fetch(new URL(ALERTMANAGER_PATH, selfUrl()), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, answer: await res.json().catch(() => ({})) };
  };
}
