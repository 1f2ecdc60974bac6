import type { Config } from '../config/load.ts';
import { findService } from '../config/load.ts';
import { isDuration, parseDuration } from '../domain/duration.ts';
import { AppError } from '../domain/errors.ts';

/** The window a step accepts, with the words its messages use. */
export interface WindowRule {
  readonly defaultMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** The bounds as the user writes them, e.g. "1m to 24h". */
  readonly range: string;
  /** Examples after "e.g.", e.g. "5m, 30m or 2h". */
  readonly examples: string;
}

export interface ServiceWindowArgs {
  readonly service?: string;
  readonly windowMs: number;
}

/**
 * `[service] [window]` in any order, as `/aegis <step> ...` and `aegis run <step> ...` take them: a
 * duration is the window, anything else names a configured service (findService says which exist).
 */
export function parseServiceWindow(
  words: readonly string[],
  config: Config,
  step: string,
  window: WindowRule,
): ServiceWindowArgs {
  const usage = `usage: ${step} [service] [window]`;
  let windowMs: number | undefined;
  let service: string | undefined;
  for (const raw of words) {
    const word = raw.trim();
    if (!word) continue;
    if (isDuration(word)) {
      if (windowMs !== undefined) throw new AppError('usage', `two windows given ("${word}"): ${usage}`);
      windowMs = parseDuration(word);
      if (windowMs < window.minMs || windowMs > window.maxMs) {
        throw new AppError(
          'out_of_range',
          `window ${word} is out of range: use ${window.range}, e.g. ${window.examples}`,
        );
      }
    } else if (/^\d+(\.\d+)?$/.test(word)) {
      throw new AppError(
        'usage',
        `window "${word}" needs a unit: e.g. ${word}m or ${word}h (${window.range})`,
      );
    } else {
      if (service !== undefined)
        throw new AppError('usage', `two services given ("${service}", "${word}"): ${usage}`);
      service = findService(config, word).name;
    }
  }
  return { ...(service ? { service } : {}), windowMs: windowMs ?? window.defaultMs };
}
