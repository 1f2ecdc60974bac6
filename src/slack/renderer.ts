import type { types } from '@slack/bolt';
import type { StepResult } from '../domain/finding.ts';
import type { PartUpdate } from '../steps/step.ts';

/** Block Kit as the Web API takes it. Only slack/render builds blocks; the rest of slack/ passes them on. */
export type SlackBlock = types.KnownBlock | types.Block;

/** A message ready to post: `text` is the notification / accessibility fallback of `blocks`. */
export interface RenderedMessage {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** A file that goes into the incident thread (domain `Attachment` satisfies it). */
export interface RenderedFile {
  readonly filename: string;
  readonly title: string;
  readonly content: Uint8Array | string;
  readonly mimeType?: string;
}

/** The final report: the root message's new content, and the files that go into its thread. */
export interface RenderedReport extends RenderedMessage {
  readonly files: readonly RenderedFile[];
}

/** One line of `/aegis help`: a runbook step (StepDefinition satisfies it) or a built-in subcommand. */
export interface HelpEntry {
  readonly name: string;
  /** e.g. "latency [service] [window]" (without "/aegis"). */
  readonly usage: string;
  readonly summary: string;
}

/**
 * Turns findings, progress and errors into Slack messages. slack/render implements it (pure: data in,
 * blocks out, Slack's limits enforced by degrading): `import * as render from './render/index.ts'` is one.
 * slack/app.ts receives it from the composition root.
 */
export interface Renderer {
  renderStepResult(result: StepResult): RenderedReport;
  /** The whole report as plain text: the fallback when Slack refuses the blocks. */
  renderTextReport(result: StepResult): string;
  /** The root message while a step runs: `step` and `service` are names ("latency", "aegis-api"). */
  renderProgress(step: string, service: string, parts: readonly PartUpdate[]): RenderedMessage;
  /** A message for the user; `ref` is set for internal errors ("internal error (ref …)"). */
  renderError(message: string, ref?: string): RenderedMessage;
  /** `/aegis help`: the runbook steps, then the built-in subcommands (either list may be empty). */
  renderHelp(steps: readonly HelpEntry[], builtins: readonly HelpEntry[]): RenderedMessage;
  /** `usage` is the full command line, e.g. "/aegis cpu [seconds] [pod]". */
  renderUsage(message: string, usage: string): RenderedMessage;
}
