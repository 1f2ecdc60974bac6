import type { ServiceConfig } from '../config/schema.ts';
import type { StepResult } from '../domain/finding.ts';
import type { NewSilence } from '../sources/alertmanager.ts';
import type { IncidentView, ResolvedMetric } from './model.ts';
import type { RoutedStep } from './routing.ts';

/**
 * What incidents/ needs from the outside, as interfaces: the chat the threads live in (slack/ implements
 * it with the Web API and the same step runner as typed commands), Alertmanager's silences
 * (sources/alertmanager.ts), and the alert's metric over time (Prometheus). Tests hand fakes.
 */

export interface ThreadRef {
  readonly channel: string;
  /** The root message's ts: the thread. */
  readonly ts: string;
}

export interface IncidentChat {
  /** Posts the root message in `channel`; answers where it is. */
  postRoot(channel: string, view: IncidentView): Promise<ThreadRef>;
  /** Replaces the root message (chat.update). */
  updateRoot(root: ThreadRef, view: IncidentView): Promise<void>;
  /**
   * Runs a step in the thread as if typed there (progress, report, files, buttons, escalation prompts);
   * answers its result, or undefined when it failed (the failure is in the thread already).
   */
  runStep(thread: ThreadRef, routed: RoutedStep, service: ServiceConfig): Promise<StepResult | undefined>;
  /** The resolved update in the thread: the alert's metric before, at worst and now. */
  postResolved(thread: ThreadRef, view: IncidentView, metric: ResolvedMetric | undefined): Promise<void>;
  /** "Onset evidence kept" with its "Compare with onset" button. */
  postOnsetKept(
    thread: ThreadRef,
    onset: { step: string; target?: string; capturedAt: Date },
    service: string,
  ): Promise<void>;
  /** A one-line note in the thread (the group fires again, ...). */
  postNote(thread: ThreadRef, text: string): Promise<void>;
}

export type { NewSilence, SilenceMatcher } from '../sources/alertmanager.ts';

/**
 * Alertmanager's silences (API v2): sources/alertmanager.ts (AlertmanagerSource) is the implementation.
 * Failures are AppErrors naming Alertmanager (SourceError).
 */
export interface SilenceClient {
  /** Answers the new silence's ID. */
  createSilence(silence: NewSilence): Promise<string>;
  expireSilence(silenceId: string): Promise<void>;
}

/** Reads a PromQL expression over a window, for the resolved update. */
export interface MetricHistory {
  read(
    expr: string,
    service: ServiceConfig,
    window: { from: Date; to: Date },
  ): Promise<ResolvedMetric | undefined>;
}
