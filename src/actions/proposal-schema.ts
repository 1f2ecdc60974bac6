import { z } from 'zod';
import { AppError } from '../domain/errors.ts';
import type { ActionKind, Proposal } from '../domain/finding.ts';

export const ACTION_KINDS = [
  'scale',
  'set_memory_limit',
  'set_pool_size',
  'cancel_query',
  'terminate_session',
  'vacuum_analyze',
  'page',
  'silence',
] as const satisfies readonly ActionKind[];

const text = (max: number) => z.string().max(max);

/**
 * A Proposal as a button carries it. The value comes back from Slack with the click and is treated as
 * untrusted input: sizes are bounded, unknown keys refused, and the handlers check every parameter again
 * against the configuration and the live state.
 */
export const proposalSchema = z.strictObject({
  action: z.enum(ACTION_KINDS),
  label: text(200),
  change: z.strictObject({ what: text(300), from: text(300), to: text(300) }),
  service: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/),
  params: z.record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/),
    z.union([z.string().max(500), z.number().finite(), z.boolean()]),
  ),
  // render/ leaves `reason` out when the whole proposal would not fit Slack's 2000-character value
  reason: text(1000).default(''),
  danger: z.boolean(),
  offeredAt: z.iso.datetime().optional(),
});

/** Parses a button value into a Proposal; a malformed one is AppError('usage'), never a crash. */
export function parseProposal(value: unknown): Proposal {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4000) {
    throw new AppError('usage', 'this button carries no valid proposal: run the step again');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new AppError('usage', 'this button carries no valid proposal (not JSON): run the step again');
  }
  const parsed = proposalSchema.safeParse(raw);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 3)
      .map((i) => i.path.join('.') || '(top level)')
      .join(', ');
    throw new AppError('usage', `this button carries no valid proposal (${where}): run the step again`);
  }
  return parsed.data;
}
