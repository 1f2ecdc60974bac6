import type { z } from 'zod';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';

/**
 * The proposal's params as the handler needs them (the handlers' schemas are strict), or
 * AppError('usage') naming what is wrong: a parameter the handler does not know is refused, never
 * dropped, so a button cannot carry more than what its confirm dialog showed.
 */
export function checkedParams<T>(p: Proposal, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(p.params);
  if (parsed.success) return parsed.data;
  const unknown = parsed.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
  if (unknown.length) throw unknownParams(p.action, unknown);
  const where = parsed.error.issues
    .slice(0, 3)
    .map((i) => i.path.join('.') || 'params')
    .join(', ');
  throw new AppError(
    'usage',
    `this ${p.action} button carries invalid parameters (${where}): run the step again`,
  );
}

/**
 * The button's namespace and deployment, when it names them, must be the configured service's: the
 * configuration, not the click, says what the bot may touch.
 */
export function sameTarget(
  service: ServiceConfig,
  params: { namespace?: string; deployment?: string },
): void {
  if (params.namespace !== undefined && params.namespace !== service.namespace) {
    throw new AppError(
      'usage',
      `the button names namespace ${params.namespace}, but service ${service.name} is in ${service.namespace}`,
    );
  }
  if (params.deployment !== undefined && params.deployment !== service.deployment) {
    throw new AppError(
      'usage',
      `the button names deployment/${params.deployment}, but service ${service.name} is deployment/${service.deployment}`,
    );
  }
}

/** A button parameter its handler does not know: refused with a clear message. */
export function unknownParams(action: string, keys: readonly string[]): AppError {
  const names = keys
    .slice(0, 3)
    .map((k) => `"${k.slice(0, 40)}"`)
    .join(', ');
  return new AppError(
    'usage',
    `this ${action} button carries unknown parameter${keys.length > 1 ? 's' : ''} ${names}: nothing was changed; run the step again`,
  );
}
