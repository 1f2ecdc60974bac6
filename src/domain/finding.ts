import type { Severity } from './severity.ts';

/** A piece of evidence behind a finding: neutral data that each renderer lays out its own way. */
export type Evidence =
  | { readonly type: 'fields'; readonly fields: readonly Field[] }
  | {
      readonly type: 'table';
      readonly title?: string;
      readonly columns: readonly string[];
      readonly rows: readonly (readonly string[])[];
    }
  | { readonly type: 'code'; readonly title?: string; readonly text: string }
  | { readonly type: 'text'; readonly text: string };

export interface Field {
  readonly label: string;
  readonly value: string;
}

export interface Link {
  readonly label: string;
  readonly url: string;
}

/** The runbook's advice for a known kind of problem. */
export interface Advice {
  readonly quickFix: readonly string[];
  readonly longTerm: readonly string[];
}

export interface Finding {
  /** Stable key within a step, e.g. "latency.p99" or "db.lock-wait.4711". */
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  readonly links: readonly Link[];
  readonly advice?: Advice;
  /**
   * How much of the service the finding concerns, as a fraction 0..1 of the step's whole: share of
   * traffic (an endpoint's request rate, the pods affected, the requests that failed), of CPU or
   * heap, of database time. Breaks severity ties when findings are ranked: the larger leads.
   */
  readonly impact?: number;
  /** How the finding reads in the step's headline; the severity word is added by domain/report.ts. */
  readonly headline?: HeadlinePhrase;
}

/**
 * e.g. { text: 'P99 215 ms', suffix: ', driven by /api/search' } reads "P99 215 ms WARNING, driven by
 * /api/search"; { text: 'CPU 94%', suffix: ' on 3 of 4 pods' } reads "CPU 94% CRITICAL on 3 of 4 pods".
 */
export interface HeadlinePhrase {
  readonly text: string;
  /** Written right after the severity word. */
  readonly suffix?: string;
  /** The id of a finding whose phrase already names this one: left out when that one comes first. */
  readonly coveredBy?: string;
}

/** The kinds of change the bot can make, each executed by actions/ after confirm + authorization. */
export type ActionKind =
  | 'scale'
  | 'set_memory_limit'
  | 'set_pool_size'
  | 'cancel_query'
  | 'terminate_session'
  | 'vacuum_analyze'
  | 'page'
  | 'silence';

export type ParamValue = string | number | boolean;

/** An action the bot offers. The button carries it; the click is validated again when it arrives. */
export interface Proposal {
  readonly action: ActionKind;
  /** Button text, e.g. "Scale to 5 replicas". */
  readonly label: string;
  /** What changes, from and to, stated exactly: shown in the confirm dialog. */
  readonly change: { readonly what: string; readonly from: string; readonly to: string };
  readonly service: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Why the bot offers it: the finding or escalation rule behind it. */
  readonly reason: string;
  readonly danger: boolean;
  /**
   * When the button was offered (ISO 8601), stamped into the button's value when it is rendered: a
   * click on an offer older than actions.proposal_max_age asks again with the current values.
   */
  readonly offeredAt?: string;
}

/** A read-only runbook step offered as a button, e.g. "CPU profile of aegis-api-7d9f". */
export interface NextStep {
  readonly label: string;
  readonly step: string;
  readonly args: readonly string[];
}

/** An escalation rule that fired, with the prompt the runbook gives. */
export interface Escalation {
  readonly ruleId: string;
  readonly condition: string;
  readonly action: EscalationAction;
  readonly prompt: string;
  readonly observed: string;
}

export type EscalationAction = 'page' | 'scale_and_page' | 'page_immediately' | 'cancel_query';

/** A file that goes into the thread: a chart, a raw profile, long output. */
export interface Attachment {
  readonly filename: string;
  readonly title: string;
  readonly mimeType: string;
  readonly content: Uint8Array | string;
  /** An image that the renderer may show inline. */
  readonly image?: boolean;
}

/** How one part of a step went: each source call is a part. */
export interface PartStatus {
  readonly name: string;
  readonly status: 'ok' | 'unavailable';
  readonly reason?: string;
}

export interface StepResult {
  readonly step: string;
  readonly service: string;
  /** The one line an SRE needs, e.g. "P99 1.8 s CRITICAL, driven by /api/search". */
  readonly headline: string;
  readonly severity: Severity;
  readonly findings: readonly Finding[];
  readonly proposals: readonly Proposal[];
  readonly nextSteps: readonly NextStep[];
  readonly escalations: readonly Escalation[];
  readonly attachments: readonly Attachment[];
  readonly parts: readonly PartStatus[];
  readonly links: readonly Link[];
  readonly startedAt: Date;
  readonly finishedAt: Date;
}
