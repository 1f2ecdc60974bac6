export { authorize, describeAllowed, permissionFor } from './authorize.ts';
export { ACTION_COMMAND_DEFINITIONS, type ActionCommand } from './commands.ts';
export { type Allowed, ConflictError, ForbiddenError } from './errors.ts';
export { ACTION_HANDLERS, approveRequest, executeProposal, handlerFor } from './execute.ts';
export {
  describeRollout,
  type FollowLine,
  type FollowOptions,
  type FollowResult,
  followRollout,
  rolloutComplete,
} from './follow.ts';
export { type InstantQuery, prometheusMetricFor } from './metric-probe.ts';
export { approvalKey, type ClickIdentity, onceKey } from './once-key.ts';
export type * from './ports.ts';
export { ACTION_KINDS, parseProposal, proposalSchema } from './proposal-schema.ts';
export * from './propose.ts';
export { type ReminderLoop, type ReminderLoopOptions, reminderLoop } from './reminders.ts';
export type * from './types.ts';
