import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import { silenceMatchersOf } from '../incidents/model.ts';
import type { SilenceClient, SilenceMatcher } from '../incidents/ports.ts';
import type { AlertNotification } from '../incidents/webhook-schema.ts';
import { formatDuration } from '../lib/format.ts';
import type { AlertIncident } from '../store/types.ts';
import { ConflictError } from './errors.ts';
import type { ActionDeps, ActionHandler, PreparedChange } from './types.ts';

/**
 * Silences from an incident thread (authorization.silence): "create" makes a silence in Alertmanager
 * (API v2) whose matchers are the alert group's common labels, `createdBy` the Slack user's name and
 * the comment the thread's permalink; "expire" ends the silence the incident holds. The handler is bound
 * to the click's thread (see silenceHandler): the store's incident, never the button's value, says which
 * labels and which silence.
 */

export interface SilenceThread {
  /** The incident whose root (or thread) was clicked, as the store has it. */
  readonly incident: AlertIncident;
  /** The Slack user's name, for createdBy. */
  readonly actorName: string;
  readonly permalink?: string;
}

/** What the click did, once Alertmanager accepted it. */
export type SilenceMade =
  | {
      readonly op: 'create';
      readonly id: string;
      readonly endsAt: Date;
      readonly matchers: readonly SilenceMatcher[];
    }
  | { readonly op: 'expire'; readonly id: string; readonly at: Date };

function opOf(p: Proposal): 'create' | 'expire' {
  const op = p.params.op;
  if (op !== 'create' && op !== 'expire') throw new AppError('usage', 'a silence is created or expired');
  return op;
}

function durationOf(p: Proposal, deps: Pick<ActionDeps, 'config'>): number {
  const allowed = deps.config.alertmanager?.silence_durations ?? [];
  const ms = p.params.durationMs;
  if (typeof ms !== 'number' || !allowed.includes(ms)) {
    throw new AppError(
      'out_of_range',
      `a silence lasts one of the configured durations (${allowed.map((d) => formatDuration(d)).join(', ') || 'none'}), not ${String(ms)}`,
    );
  }
  return ms;
}

export function silenceHandler(
  client: SilenceClient | undefined,
  thread?: SilenceThread,
): ActionHandler & { made(): SilenceMade | undefined } {
  let made: SilenceMade | undefined;
  return {
    verb: 'silence alerts',
    made: () => made,
    check(p, _service: ServiceConfig, deps) {
      if (!deps.config.alertmanager || !client) {
        throw new AppError('config', 'silences need Alertmanager: set alertmanager.url in the configuration');
      }
      if (opOf(p) === 'create') durationOf(p, deps);
    },
    async prepare(p, _service, deps): Promise<PreparedChange> {
      const now = deps.now ?? (() => new Date());
      if (!thread || !client) {
        throw new AppError(
          'not_found',
          'this button is not on the thread of an alert incident the bot knows',
        );
      }
      const { incident } = thread;
      const n = incident.latest as AlertNotification;
      const active = incident.silence && !incident.silence.expired && incident.silence.endsAt > now();
      if (opOf(p) === 'expire') {
        if (!active || !incident.silence)
          throw new ConflictError('this alert group has no active silence to expire');
        const id = incident.silence.id;
        return {
          what: `silence ${id}`,
          from: `active until ${incident.silence.endsAt.toISOString()}`,
          to: 'expired',
          async apply() {
            await client.expireSilence(id);
            const at = now();
            await deps.store.updateAlertIncident(incident.groupKey, {
              silence: { ...(incident.silence as NonNullable<AlertIncident['silence']>), expired: true },
            });
            made = { op: 'expire', id, at };
            return { summary: `expired silence ${id}` };
          },
        };
      }
      if (active && incident.silence) {
        throw new ConflictError(
          `this alert group is silenced already until ${incident.silence.endsAt.toISOString()} (silence ${incident.silence.id})`,
        );
      }
      const matchers: SilenceMatcher[] = silenceMatchersOf(n).map((m) => ({
        ...m,
        isRegex: false,
        isEqual: true,
      }));
      if (matchers.length === 0)
        throw new AppError('usage', 'this alert group has no common labels to silence it by');
      const durationMs = durationOf(p, deps);
      const startsAt = now();
      const endsAt = new Date(startsAt.getTime() + durationMs);
      const shown = matchers.map((m) => `${m.name}="${m.value}"`).join(', ');
      return {
        what: `silence of {${shown}}`,
        from: 'none',
        to: `until ${endsAt.toISOString()}`,
        async apply() {
          const silenceId = await client.createSilence({
            matchers,
            startsAt,
            endsAt,
            createdBy: thread.actorName,
            comment: `aegis-bot: silenced from the incident thread ${thread.permalink ?? `${incident.channel}/${incident.rootTs}`}`,
          });
          await deps.store.updateAlertIncident(incident.groupKey, {
            silence: { id: silenceId, endsAt, createdBy: thread.actorName },
          });
          made = { op: 'create', id: silenceId, endsAt, matchers };
          return { summary: `silenced {${shown}} until ${endsAt.toISOString()} (silence ${silenceId})` };
        },
      };
    },
  };
}
