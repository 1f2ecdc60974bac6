import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { parseServiceWindow } from '../../src/steps/args.ts';
import { checklistStep } from '../../src/steps/checklist/step.ts';
import { latencyStep } from '../../src/steps/latency/step.ts';
import { testConfig } from '../cli/fixtures.ts';

const config = testConfig();
const RULE = { defaultMs: 300_000, minMs: 60_000, maxMs: 3_600_000, range: '1m to 1h', examples: '5m' };

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return { code: (e as AppError).code, message: (e as AppError).message };
  }
  throw new Error('the words were accepted');
}

describe('parseServiceWindow', () => {
  it('takes a service and a window in either order, skipping blank words', () => {
    expect(parseServiceWindow(['10m', ' ', 'aegis-worker'], config, 'demo', RULE)).toEqual({
      service: 'aegis-worker',
      windowMs: 600_000,
    });
    expect(parseServiceWindow([], config, 'demo', RULE)).toEqual({ windowMs: 300_000 });
  });

  it('names the step in its usage errors', () => {
    expect(refusal(() => parseServiceWindow(['5m', '10m'], config, 'demo', RULE))).toEqual({
      code: 'usage',
      message: 'two windows given ("10m"): usage: demo [service] [window]',
    });
    expect(refusal(() => parseServiceWindow(['aegis-api', 'aegis-worker'], config, 'demo', RULE))).toEqual({
      code: 'usage',
      message: 'two services given ("aegis-api", "aegis-worker"): usage: demo [service] [window]',
    });
    expect(refusal(() => parseServiceWindow(['5'], config, 'demo', RULE))).toEqual({
      code: 'usage',
      message: 'window "5" needs a unit: e.g. 5m or 5h (1m to 1h)',
    });
    expect(refusal(() => parseServiceWindow(['2h'], config, 'demo', RULE))).toEqual({
      code: 'out_of_range',
      message: 'window 2h is out of range: use 1m to 1h, e.g. 5m',
    });
  });
});

describe('the steps that take [service] [window]', () => {
  it('latency: 1m to 24h, 5m by default', () => {
    expect(latencyStep.parse([], { config })).toEqual({ windowMs: 300_000 });
    expect(refusal(() => latencyStep.parse(['25h'], { config })).message).toBe(
      'window 25h is out of range: use 1m to 24h, e.g. 5m, 30m or 2h',
    );
    expect(refusal(() => latencyStep.parse(['5m', '1h'], { config })).message).toBe(
      'two windows given ("1h"): usage: latency [service] [window]',
    );
  });

  it('checklist: 1m to 7d, 1h by default', () => {
    expect(checklistStep.parse(['aegis-api'], { config })).toEqual({
      service: 'aegis-api',
      windowMs: 3_600_000,
    });
    expect(refusal(() => checklistStep.parse(['8d'], { config })).message).toBe(
      'window 8d is out of range: use 1m to 7d, e.g. 1h',
    );
    expect(refusal(() => checklistStep.parse(['aegis-api', 'aegis-worker'], { config })).message).toBe(
      'two services given ("aegis-api", "aegis-worker"): usage: checklist [service] [window]',
    );
  });
});
