import type { Config } from '../config/load.ts';
import { HttpError } from './http.ts';

/** The console's emulated workspace: one incident channel and the people at the keyboard. */

export interface ConsoleUser {
  readonly id: string;
  readonly name: string;
  readonly realName: string;
}

export const CONSOLE_CHANNEL = { id: 'C0INCIDENT', name: 'incident' } as const;

/** The people at the keyboard: "you" (listed in the demo's authorization) and a guest who may do nothing. */
export const CONSOLE_USERS: readonly ConsoleUser[] = [
  { id: 'U0LOCAL', name: 'you', realName: 'You (local console)' },
  { id: 'U0GUEST', name: 'guest', realName: 'Guest (authorized for nothing)' },
];

/** The user a page request names ("you" when it names none); anyone else is refused. */
export function consoleUserOf(id: unknown): ConsoleUser {
  const users = CONSOLE_USERS;
  const u = users.find((x) => x.id === id) ?? (id === undefined ? users[0] : undefined);
  if (!u)
    throw new HttpError(
      400,
      `unknown user ${String(id)}: the console's users are ${users.map((x) => x.id).join(', ')}`,
    );
  return u;
}

/** Every user group the configuration names (authorization, on-call): "you" is in each of them. */
export function consoleUsergroups(config: Config): Record<string, string[]> {
  const groups = new Set<string>();
  for (const p of Object.values(config.authorization)) for (const g of p?.groups ?? []) groups.add(g);
  if (config.slack.oncall_usergroup) groups.add(config.slack.oncall_usergroup);
  return Object.fromEntries([...groups].map((g) => [g, ['U0LOCAL']]));
}
