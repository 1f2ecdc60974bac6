import { describe, expect, it } from 'vitest';
import { createAckGate } from '../../src/slack/ack-gate.ts';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the ack gate', () => {
  it('lets work start at once when no request is being answered', async () => {
    await expect(createAckGate().idle(60_000)).resolves.toBeUndefined();
  });

  it('holds work back until the requests being answered have left', async () => {
    const gate = createAckGate();
    const leaveA = gate.enter();
    const leaveB = gate.enter();
    let started = false;
    const idle = gate.idle(60_000).then(() => {
      started = true;
    });
    await turn();
    leaveA();
    leaveA();
    await turn();
    await turn();
    expect(started).toBe(false);
    leaveB();
    await idle;
    expect(started).toBe(true);
  });

  it('never holds work back longer than maxWaitMs', async () => {
    const gate = createAckGate();
    gate.enter();
    await expect(gate.idle(5)).resolves.toBeUndefined();
  });
});
