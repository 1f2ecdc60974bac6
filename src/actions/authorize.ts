import type { Config } from '../config/load.ts';
import type { ActionKind } from '../domain/finding.ts';
import { type Allowed, ForbiddenError } from './errors.ts';
import type { Actor, GroupsOf } from './types.ts';

export interface Permission {
  readonly allowed: Allowed;
  readonly secondApprover: boolean;
}

/** config.authorization[action]; an action that is not listed is allowed to nobody. */
export function permissionFor(config: Config, action: ActionKind): Permission {
  const p = config.authorization[action];
  return {
    allowed: { users: p?.users ?? [], groups: p?.groups ?? [] },
    secondApprover: p?.second_approver ?? false,
  };
}

/** "users U1, U2 or members of S1": who may, without Slack markup (slack/ renders mentions). */
export function describeAllowed(a: Allowed): string {
  const parts: string[] = [];
  if (a.users.length) parts.push(`${a.users.length === 1 ? 'user' : 'users'} ${a.users.join(', ')}`);
  if (a.groups.length) parts.push(`members of ${a.groups.join(', ')}`);
  return parts.join(' or ');
}

/**
 * Whether `actor` may run `action`: listed as a user, or a member of a listed group (looked up only
 * when the user is not listed). Resolves with how the actor qualified; throws ForbiddenError otherwise.
 */
export async function authorize(
  config: Config,
  action: ActionKind,
  verb: string,
  actor: Actor,
  groupsOf: GroupsOf,
): Promise<{ via: 'user' } | { via: 'group'; group: string }> {
  const { allowed } = permissionFor(config, action);
  if (allowed.users.length === 0 && allowed.groups.length === 0) {
    throw new ForbiddenError(
      `nobody may ${verb}: authorization.${action} in the configuration lists no users or groups`,
      { allowed, verb, reason: 'not_configured' },
    );
  }
  if (allowed.users.includes(actor.userId)) return { via: 'user' };
  if (allowed.groups.length > 0) {
    const member = actor.groups ?? (await groupsOf(actor.userId, allowed.groups));
    const group = allowed.groups.find((g) => member.includes(g));
    if (group) return { via: 'group', group };
  }
  throw new ForbiddenError(
    `you may not ${verb}: only ${describeAllowed(allowed)} may (authorization.${action})`,
    {
      allowed,
      verb,
      reason: 'not_allowed',
    },
  );
}
