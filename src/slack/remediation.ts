import { type Pager, pageHandler } from '../actions/page.ts';
import type { ReminderLoop } from '../actions/reminders.ts';
import type { ActionDeps } from '../actions/types.ts';
import type { SlackApp } from './app.ts';
import type { ActionCommandWiring, ReportPosted } from './commands/deps.ts';
import {
  ACTION_COMMANDS,
  type FollowSettings,
  type InteractionDeps,
  registerInteractions,
  slackGroupsOf,
} from './interactions.ts';
import type { Log } from './logger.ts';
import { autoPageAfterReport, registerPaging } from './paging.ts';

/**
 * Everything of ActionDeps but how user groups are resolved, which needs the App's Web API client; and
 * the pager (PagerDuty), when paging is configured.
 */
export type RemediationDeps = Omit<ActionDeps, 'groupsOf'> & { readonly pager?: Pager };

export interface Remediation {
  /** Pass to createSlackApp: the action subcommands, reading the deps once they are wired. */
  readonly actionCommands: ActionCommandWiring;
  /** Registers the click handlers on the App and completes the deps; call once, before slack.start(). */
  wire(
    slack: SlackApp,
    options: {
      readonly botToken: string;
      readonly log: Log;
      readonly follow?: FollowSettings;
      readonly reminders?: InteractionDeps['reminders'];
    },
  ): ReminderLoop;
}

/**
 * The remediation layer as Slack and the local console both plug it in: `/aegis scale` and friends in
 * the command router, the `aegis_action:*` click handlers, and reminders of temporary changes. Group
 * membership is resolved through the App's own client (usergroups.users.list, cached briefly).
 */
export function remediation(remedy: RemediationDeps): Remediation {
  const { pager, ...deps } = remedy;
  let wired: ActionDeps | undefined;
  let afterReport: ((r: ReportPosted) => Promise<void>) | undefined;
  return {
    actionCommands: {
      definitions: ACTION_COMMANDS,
      deps: () => {
        if (!wired) throw new Error('remediation used before it was wired to the Slack app');
        return wired;
      },
      ...(pager
        ? {
            afterReport: async (r: ReportPosted) => {
              if (!afterReport) throw new Error('remediation used before it was wired to the Slack app');
              await afterReport(r);
            },
          }
        : {}),
    },
    wire(slack, options) {
      // Page clicks bind a handler to their own thread (slack/paging.ts); the generic click handlers
      // leave "page" alone, and commands see a handler that checks a page before it is offered.
      const { page: _page, ...others } = deps.handlers ?? {};
      const base = {
        ...deps,
        handlers: others,
        groupsOf: slackGroupsOf(slack.app.client, { token: options.botToken }),
      };
      wired = pager ? { ...base, handlers: { ...others, page: pageHandler(pager) } } : base;
      if (pager) {
        registerPaging(slack.app, { actions: base, pager, log: options.log, inFlight: slack.inFlight });
        afterReport = autoPageAfterReport({ actions: base, pager, log: options.log });
      }
      const interactions = registerInteractions(slack.app, {
        actions: base,
        log: options.log,
        inFlight: slack.inFlight,
        botToken: options.botToken,
        ...(options.follow ? { follow: options.follow } : {}),
        ...(options.reminders ? { reminders: options.reminders } : {}),
      });
      return interactions.reminders;
    },
  };
}
