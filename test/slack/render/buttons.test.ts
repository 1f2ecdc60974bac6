import { describe, expect, it } from 'vitest';
import type { Proposal } from '../../../src/domain/finding.ts';
import {
  confirmText,
  nextStepButton,
  packButtons,
  parseActionId,
  proposalButton,
  STEP_ACTION_ID,
} from '../../../src/slack/render/buttons.ts';
import { blockProblems } from '../../../src/slack/render/limits.ts';
import { dbReport, PAGE_PROPOSAL, SCALE_PROPOSAL } from './fixtures.ts';

describe('next-step buttons', () => {
  it('carry action_id aegis_step:<step> and the value {step, args, service}', () => {
    const button = nextStepButton({ label: 'Heap profile', step: 'heap', args: ['pod-1'] }, 'aegis-api');
    expect(button).toEqual({
      type: 'button',
      action_id: 'aegis_step:heap',
      text: { type: 'plain_text', text: 'Heap profile', emoji: true },
      value: '{"step":"heap","args":["pod-1"],"service":"aegis-api"}',
    });
  });

  it('are left out when their value cannot fit 2000 characters', () => {
    expect(nextStepButton({ label: 'x', step: 'cpu', args: ['a'.repeat(2000)] }, 'svc')).toBeUndefined();
  });
});

describe('proposal buttons', () => {
  it('carry action_id aegis_action:<action> and the whole proposal as the value, stamped with when it was offered', () => {
    const button = proposalButton(SCALE_PROPOSAL, new Date('2026-01-05T10:00:02Z'));
    expect(button?.action_id).toBe('aegis_action:scale');
    expect(JSON.parse(button?.value as string)).toEqual({
      ...SCALE_PROPOSAL,
      offeredAt: '2026-01-05T10:00:02.000Z',
    });
  });

  it('confirm exactly what changes: "<what>: <from> → <to>" and the reason', () => {
    const button = proposalButton(SCALE_PROPOSAL);
    expect(button?.confirm).toEqual({
      title: { type: 'plain_text', text: 'Scale to 5 replicas', emoji: true },
      text: {
        type: 'plain_text',
        text: 'replicas of deployment aegis-api (namespace aegis): 3 → 5\nCPU 94% on 3 of 4 pods (critical above 90%). Runbook, High CPU Usage: scale horizontally.',
        emoji: true,
      },
      confirm: { type: 'plain_text', text: 'Yes, Scale to 5 replicas', emoji: true },
      deny: { type: 'plain_text', text: 'Cancel', emoji: true },
      style: 'primary',
    });
  });

  it('are styled danger, dialog included, for a danger proposal, and primary otherwise', () => {
    const cancel = dbReport().proposals.find((p) => p.action === 'cancel_query') as Proposal;
    expect(proposalButton(cancel)).toMatchObject({ style: 'danger', confirm: { style: 'danger' } });
    expect(proposalButton(PAGE_PROPOSAL)).toMatchObject({ style: 'primary', confirm: { style: 'primary' } });
  });

  it('keep the change whole and shorten the reason when the dialog text would pass 300 characters', () => {
    const text = confirmText({ ...SCALE_PROPOSAL, reason: 'r'.repeat(500) });
    expect(text.length).toBe(300);
    expect(text.startsWith('replicas of deployment aegis-api (namespace aegis): 3 → 5\nrrr')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
  });

  it('shorten long labels to Slack limits: 75 on the button, 100 in the title, 30 on "Yes, …"', () => {
    const button = proposalButton({ ...SCALE_PROPOSAL, label: `Scale ${'x'.repeat(200)}` });
    expect(button?.text.text).toHaveLength(75);
    expect(button?.confirm?.title?.text).toHaveLength(100);
    expect(button?.confirm?.confirm?.text).toHaveLength(30);
    expect(button?.confirm?.confirm?.text.startsWith('Yes, Scale')).toBe(true);
  });
});

describe('packing buttons into actions blocks', () => {
  const cpu = (pod: string) => nextStepButton({ label: pod, step: 'cpu', args: [pod] }, 'svc')!;

  it('puts 25 buttons to a block and returns what does not fit', () => {
    const all = Array.from({ length: 60 }, (_, i) => cpu(`pod-${i}`));
    const { blocks, overflow } = packButtons(all, 2);
    expect(blocks.map((b) => b.elements.length)).toEqual([25, 25]);
    expect(overflow).toHaveLength(10);
    expect(blockProblems(blocks)).toEqual([]);
  });

  it('suffixes repeated action_ids within a block, and parseActionId reads them back', () => {
    const { blocks } = packButtons([cpu('a'), cpu('b'), cpu('c')], 1);
    const ids = (blocks[0]?.elements ?? []).map((e) => ('action_id' in e ? e.action_id : undefined));
    expect(ids).toEqual(['aegis_step:cpu', 'aegis_step:cpu#2', 'aegis_step:cpu#3']);
    for (const id of ids) {
      expect(STEP_ACTION_ID.test(id as string)).toBe(true);
      expect(parseActionId(id as string)).toEqual({ kind: 'step', name: 'cpu' });
    }
    expect(parseActionId('aegis_action:scale#2')).toEqual({ kind: 'action', name: 'scale' });
    expect(parseActionId('something_else')).toBeUndefined();
  });
});
