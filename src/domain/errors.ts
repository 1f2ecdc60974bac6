/**
 * Errors meant for the user. Anything that is not an AppError is a bug: the user sees
 * "internal error (ref …)" and the log gets the full cause.
 */
export type AppErrorCode =
  | 'usage' // malformed command or arguments
  | 'not_found' // unknown service, pod, step
  | 'out_of_range' // a value outside configured bounds
  | 'forbidden' // the actor may not do this
  | 'conflict' // the state changed since the proposal was made
  | 'source' // an outside system failed (see SourceError)
  | 'busy' // the same work is already running
  | 'config'; // configuration is invalid

export class AppError extends Error {
  readonly code: AppErrorCode;
  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }
}

/** An outside system failed. Names the source and what the bot was doing. */
export class SourceError extends AppError {
  readonly source: string;
  readonly operation: string;
  readonly reason: SourceFailure;
  constructor(
    source: string,
    operation: string,
    reason: SourceFailure,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('source', `${source}: ${operation} failed: ${detail}`, options);
    this.name = 'SourceError';
    this.source = source;
    this.operation = operation;
    this.reason = reason;
  }
}

export type SourceFailure =
  | 'unreachable'
  | 'timeout'
  | 'http_error'
  | 'malformed'
  | 'auth'
  | 'refused'
  | 'too_large';

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
