import { isAppError } from '../domain/errors.ts';
import { newErrorRef } from '../ops/logger.ts';
import type { Log } from './logger.ts';

/** What the user is told about a failure; `ref` ties an internal error to its log line. */
export interface UserFacingError {
  readonly message: string;
  readonly ref?: string;
}

/**
 * The one error path of the Slack layer: an AppError is the user's message as it stands; anything else
 * is a bug, so the user gets "internal error (ref …)" and the log one line with the full cause and the ref.
 */
export function toUserFacing(
  error: unknown,
  log: Log,
  context: Readonly<Record<string, unknown>>,
  newRef: () => string = newErrorRef,
): UserFacingError {
  if (isAppError(error)) return { message: error.message };
  const ref = newRef();
  log.error({ ...context, ref, err: error }, `internal error (ref ${ref})`);
  return { message: `internal error (ref ${ref})`, ref };
}

/** The `error` of a Web API answer with ok=false ("channel_not_found"), if that is what `e` is. */
export function slackPlatformError(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, data } = e as { code?: unknown; data?: { error?: unknown } };
  return code === 'slack_webapi_platform_error' && typeof data?.error === 'string' ? data.error : undefined;
}

/** Posting failed because the bot cannot see or is not in the channel: the user can fix it by inviting it. */
export const NOT_IN_CHANNEL_ERRORS: ReadonlySet<string> = new Set(['channel_not_found', 'not_in_channel']);
