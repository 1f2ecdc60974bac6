import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.ts';
import { newErrorRef } from '../../src/ops/logger.ts';
import { toUserFacing } from '../../src/slack/errors.ts';
import type { Log } from '../../src/slack/logger.ts';

function recordingLog(): Log & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  return { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => errors.push(a), errors };
}

describe('error references', () => {
  it('are eight hex digits, the form the README shows ("internal error (ref 1a2b3c4d)")', () => {
    for (let i = 0; i < 50; i++) expect(newErrorRef()).toMatch(/^[0-9a-f]{8}$/);
  });

  it('are what Slack shows for an internal error by default, and the log line carries the same ref', () => {
    const log = recordingLog();
    const shown = toUserFacing(new Error('boom'), log, { step: 'latency' });
    expect(shown.message).toMatch(/^internal error \(ref [0-9a-f]{8}\)$/);
    expect(shown.message).toBe(`internal error (ref ${shown.ref})`);
    expect(log.errors[0]?.[0]).toMatchObject({ ref: shown.ref, step: 'latency' });
  });

  it("show an AppError's own message and no ref", () => {
    expect(toUserFacing(new AppError('usage', 'say which service'), recordingLog(), {})).toEqual({
      message: 'say which service',
    });
  });
});
