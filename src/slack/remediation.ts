import type { ReminderLoop } from '../actions/reminders.ts';
import type { ActionDeps } from '../actions/types.ts';
import type { SlackApp } from './app.ts';
import type { ActionCommandWiring } from './command.ts';
import {
  ACTION_COMMANDS,
  type FollowSettings,
  type InteractionDeps,
  registerInteractions,
  slackGroupsOf,
} from './interactions.ts';
import type { Log } from './logger.ts';

/** Everything of ActionDeps but how user groups are resolved, which needs the App's Web API client. */
export type RemediationDeps = Omit<ActionDeps, 'groupsOf'>;

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
export function remediation(deps: RemediationDeps): Remediation {
  let wired: ActionDeps | undefined;
  return {
    actionCommands: {
      definitions: ACTION_COMMANDS,
      deps: () => {
        if (!wired) throw new Error('remediation used before it was wired to the Slack app');
        return wired;
      },
    },
    wire(slack, options) {
      wired = { ...deps, groupsOf: slackGroupsOf(slack.app.client, { token: options.botToken }) };
      const interactions = registerInteractions(slack.app, {
        actions: wired,
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
