import { describe, expect, it } from 'vitest';
import { memoryProposal, poolProposal, scaleProposal } from '../../../src/actions/propose.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ServiceConfig } from '../../../src/config/schema.ts';
import {
  renderActionDone,
  renderAlready,
  renderApprovalRequest,
  renderFailed,
  renderFollowLine,
  renderForbidden,
  renderProposalOffer,
  renderRefused,
  renderReminder,
} from '../../../src/slack/render/action-messages.ts';
import { messageProblems } from '../../../src/slack/render/limits.ts';
import { visibleText } from '../../support/slack.ts';

const service = parseConfig(
  'services: [{name: aegis-api, deployment: aegis-api, container: aegis-api}]',
  't.yml',
  {},
).services[0] as ServiceConfig;
const scale = scaleProposal(service, 3, 5, 'CPU > 90%: scale and page on-call');
const change = { what: 'replicas of deployment/aegis-api in aegis', from: '3', to: '5' };

describe('messages about remediation', () => {
  it('stay within Slack limits, even with long texts', () => {
    const long = 'x'.repeat(5000);
    const messages = [
      renderActionDone({
        actor: 'U0ALICE',
        summary: long,
        change,
        reminderAt: new Date('2026-01-05T12:00:00Z'),
      }),
      renderAlready({ by: 'U0ALICE', at: new Date(), state: 'done', what: long, result: long }),
      renderForbidden({
        message: long,
        allowed: { users: ['U0ALICE'], groups: ['S0ONCALL'] },
        verb: 'scale deployments',
        reason: 'not_allowed',
      }),
      renderRefused({ message: long, fresh: scale }),
      renderFailed({ actor: 'U0ALICE', message: long, change: { what: long, from: long, to: long } }),
      renderApprovalRequest({
        approvalId: 'a'.repeat(64),
        requestedBy: 'U0ALICE',
        proposal: poolProposal(service, '50', 100, false, 'db.pool'),
        change: { what: long, from: '50', to: '100' },
      }),
      renderReminder({
        text: long,
        proposal: memoryProposal(service, 'aegis-api', '4Gi', '2Gi', 'temporary', { revert: true }),
      }),
      renderProposalOffer({ ...scale, reason: long }),
      renderFollowLine('progress', long),
    ];
    for (const m of messages) expect(messageProblems(m)).toEqual([]);
  });

  it('says who may, with mentions built only from configured IDs', () => {
    const m = renderForbidden({
      message: 'x',
      allowed: { users: ['U0ALICE', 'U0BOB'], groups: ['S0ONCALL'] },
      verb: 'scale deployments',
      reason: 'not_allowed',
    });
    expect(visibleText(m)).toContain(
      'Only <@U0ALICE>, <@U0BOB> or <!subteam^S0ONCALL> may scale deployments. Nothing was changed.',
    );
    const nobody = renderForbidden({
      message: 'x',
      allowed: { users: [], groups: [] },
      verb: 'run VACUUM ANALYZE',
      reason: 'not_configured',
    });
    expect(visibleText(nobody)).toContain('Nobody may run VACUUM ANALYZE');
  });

  it('escapes what came from outside so it cannot mention or link', () => {
    const m = renderActionDone({ actor: 'U0ALICE', summary: 'scaled <!channel> & <https://evil|x>', change });
    expect(visibleText(m)).toContain('scaled &lt;!channel&gt; &amp; &lt;https://evil|x&gt;');
  });

  it("shows the change exactly in the offer's confirm dialog", () => {
    const m = renderProposalOffer(scale);
    expect(JSON.stringify(m.blocks)).toContain(
      '"confirm":{"title":{"type":"plain_text","text":"Scale to 5 replicas"',
    );
    expect(JSON.stringify(m.blocks)).toContain('replicas of deployment/aegis-api: 3 → 5');
  });
});
