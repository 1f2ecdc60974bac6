import type { z } from 'zod';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';

/** The proposal's params as the handler needs them, or AppError('usage') naming what is wrong. */
export function checkedParams<T>(p: Proposal, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(p.params);
  if (parsed.success) return parsed.data;
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
