import type { webApi } from '@slack/bolt';
import type { ActionDeps } from '../../actions/types.ts';
import type { Config } from '../../config/load.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import type { StepResult } from '../../domain/finding.ts';
import type { PartUpdate, StepDefinition } from '../../steps/step.ts';
import type { AckGate } from '../ack-gate.ts';
import type { InFlightTracker } from '../in-flight.ts';
import type { ActionCommandDefinition } from '../interactions.ts';
import type { Log } from '../logger.ts';
import type { Renderer } from '../renderer.ts';
import type { CommandMeter } from './outcome.ts';

// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types (see steps/registry.ts)
export type AnyStep = StepDefinition<any, any>;

/** Who typed the command, where. */
export interface Actor {
  readonly userId: string;
  readonly teamId?: string;
  readonly channelId: string;
}

/** What the Slack layer hands the composition root's runStep: it builds the StepContext (sources) from it. */
export interface StepRun {
  readonly service: ServiceConfig;
  readonly signal: AbortSignal;
  readonly progress: (update: PartUpdate) => void;
  readonly actor: Actor;
}

export type RunStep = (step: AnyStep, args: unknown, run: StepRun) => Promise<StepResult>;

/** The action subcommands (`/aegis scale 5`): offered only where the remediation layer is wired. */
export interface ActionCommandWiring {
  readonly definitions: readonly ActionCommandDefinition[];
  /** Built after the App (its client resolves user groups), so read when a command arrives. */
  readonly deps: () => ActionDeps;
  /**
   * Called once a step's report is in its incident thread (e.g. auto_page: page without a click when a
   * "page immediately" rule fired). Its failures go through the error path into the thread.
   */
  readonly afterReport?: (posted: ReportPosted) => Promise<void>;
}

/** A report as posted: the result, and the incident thread it is in. */
export interface ReportPosted {
  readonly result: StepResult;
  readonly channel: string;
  readonly threadTs: string;
  readonly teamId?: string;
  readonly userId: string;
  readonly client: webApi.WebClient;
}

/** What the command handlers are given: wired by createSlackApp from the composition root's parts. */
export interface CommandDeps {
  readonly config: Config;
  readonly steps: readonly AnyStep[];
  readonly renderer: Renderer;
  readonly runStep: RunStep;
  readonly log: Log;
  readonly inFlight: InFlightTracker;
  readonly newRef?: () => string;
  /** Work after an ack starts when no other request waits for its ack. */
  readonly ackGate: AckGate;
  /** "@aegis" once auth.test answered: named in "invite me" hints. */
  readonly botMention: () => string;
  readonly actionCommands?: ActionCommandWiring;
  /** Counts every command by name and outcome (aegis_commands_total). */
  readonly meter?: CommandMeter;
}
