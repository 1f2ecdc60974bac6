import { describe, expect, it } from 'vitest';
import { onceKey } from '../../src/actions/once-key.ts';
import { parseProposal } from '../../src/actions/proposal-schema.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { Proposal } from '../../src/domain/finding.ts';

const scale: Proposal = {
  action: 'scale',
  label: 'Scale to 5 replicas',
  change: { what: 'replicas of deployment/aegis-api', from: '3', to: '5' },
  service: 'aegis-api',
  params: { namespace: 'aegis', deployment: 'aegis-api', from: 3, to: 5 },
  reason: 'CPU > 90%: scale and page on-call',
  danger: true,
};

function refusal(value: unknown): string {
  try {
    parseProposal(value);
  } catch (e) {
    if (e instanceof AppError && e.code === 'usage') return e.message;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('a button value is untrusted input', () => {
  it('parses a proposal as the renderer carries it, with or without its reason', () => {
    expect(parseProposal(JSON.stringify(scale))).toEqual(scale);
    const { reason: _r, ...compact } = scale;
    expect(parseProposal(JSON.stringify(compact))).toEqual({ ...scale, reason: '' });
  });

  it('refuses what is not a proposal, saying where, never crashing', () => {
    expect(refusal(undefined)).toBe('this button carries no valid proposal: run the step again');
    expect(refusal('{"action":')).toBe(
      'this button carries no valid proposal (not JSON): run the step again',
    );
    expect(refusal(JSON.stringify({ ...scale, action: 'delete_namespace' }))).toMatch(/\(action\)/);
    expect(refusal(JSON.stringify({ ...scale, extra: 1 }))).toMatch(/\(top level\)/);
    expect(refusal(JSON.stringify({ ...scale, params: { to: { $gt: 1 } } }))).toMatch(/params\.to/);
    expect(refusal(JSON.stringify({ ...scale, service: '../kube-system' }))).toMatch(/service/);
    expect(refusal(JSON.stringify({ ...scale, label: 'x'.repeat(201) }))).toMatch(/label/);
    expect(refusal('x'.repeat(5000))).toBe('this button carries no valid proposal: run the step again');
  });
});

describe('the once-only key of a click', () => {
  const click = {
    channel: 'C0INCIDENT',
    messageTs: '1700000000.000100',
    actionId: 'aegis_action:scale',
    value: JSON.stringify(scale),
  };

  it('is the same for the same button on the same message, a repeat suffix aside', () => {
    expect(onceKey(click)).toBe(onceKey({ ...click }));
    expect(onceKey({ ...click, actionId: 'aegis_action:scale#2' })).toBe(onceKey(click));
  });

  it('differs for another message, channel or value', () => {
    const keys = new Set([
      onceKey(click),
      onceKey({ ...click, messageTs: '1700000000.000200' }),
      onceKey({ ...click, channel: 'C0GENERAL' }),
      onceKey({ ...click, value: JSON.stringify({ ...scale, params: { ...scale.params, to: 6 } }) }),
      // field boundaries cannot be shifted to forge a collision
      onceKey({ ...click, channel: 'C0INCIDENT1', messageTs: '700000000.000100' }),
    ]);
    expect(keys.size).toBe(5);
  });
});
