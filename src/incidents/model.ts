import type { Proposal } from '../domain/finding.ts';
import type { AlertIncident, SilenceRecord } from '../store/types.ts';
import { type AlertNotification, hasEnd } from './webhook-schema.ts';

/**
 * The neutral model of an incident's root message: slack/render builds the blocks, the console and tests
 * read the same. Built from the store's copy of the incident, so any replica renders the same thing.
 */
export interface IncidentView {
  readonly groupKey: string;
  readonly status: 'firing' | 'resolved';
  readonly service: string;
  /** Distinct alertname labels, in order of first appearance. */
  readonly alertNames: readonly string[];
  /** The group's common labels (alertname aside). */
  readonly commonLabels: Readonly<Record<string, string>>;
  readonly summary?: string;
  readonly description?: string;
  readonly runbookUrl?: string;
  /** The first alert's generator URL (the Prometheus graph of its rule). */
  readonly generatorUrl?: string;
  readonly startedAt: Date;
  readonly lastSeen: Date;
  readonly resolvedAt?: Date;
  /** The alerts firing now, each with the labels that set it apart from the group's. */
  readonly firing: readonly AlertLine[];
  readonly resolvedCount: number;
  /** Alerts Alertmanager left out (max_alerts). */
  readonly truncated: number;
  /** The steps run in the thread, as typed ("latency", "cpu 10"). */
  readonly steps: readonly string[];
  readonly silence?: SilenceRecord;
  /** One per configured duration; empty when Alertmanager is not configured. */
  readonly silenceOffers: readonly Proposal[];
  /** Set when a silence is active. */
  readonly expireOffer?: Proposal;
  /** A recorded notification replayed by the local console, not a live alert. */
  readonly demo?: boolean;
}

export interface AlertLine {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly startsAt: Date;
  readonly summary?: string;
}

/** The alert's metric over the incident, for the resolved update. */
export interface ResolvedMetric {
  /** The expression read. */
  readonly expr: string;
  readonly before?: number;
  readonly worst?: number;
  readonly worstAt?: Date;
  readonly now?: number;
}

export interface ViewOptions {
  readonly steps: readonly string[];
  readonly silenceOffers: readonly Proposal[];
  readonly expireOffer?: Proposal;
  readonly demo?: boolean;
}

export function incidentView(incident: AlertIncident, options: ViewOptions): IncidentView {
  const n = incident.latest as AlertNotification;
  const firingAlerts = n.alerts.filter((a) => a.status === 'firing');
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname ?? '(no alertname)'))];
  const { alertname: _name, ...common } = n.commonLabels;
  const annotation = (key: string) =>
    n.commonAnnotations[key] ?? (n.alerts.length === 1 ? n.alerts[0]?.annotations[key] : undefined);
  const summary = annotation('summary');
  const description = annotation('description');
  const runbookUrl = annotation('runbook_url');
  const generatorUrl = n.alerts.find((a) => a.generatorURL)?.generatorURL;
  const silence = incident.silence && !incident.silence.expired ? incident.silence : undefined;
  return {
    groupKey: incident.groupKey,
    status: incident.status,
    service: incident.service,
    alertNames: names,
    commonLabels: common,
    ...(summary ? { summary } : {}),
    ...(description ? { description } : {}),
    ...(runbookUrl ? { runbookUrl } : {}),
    ...(generatorUrl ? { generatorUrl } : {}),
    startedAt: incident.startedAt,
    lastSeen: incident.lastSeen,
    ...(incident.resolvedAt ? { resolvedAt: incident.resolvedAt } : {}),
    firing: firingAlerts.map((a) => ({
      name: a.labels.alertname ?? '(no alertname)',
      labels: Object.fromEntries(Object.entries(a.labels).filter(([k]) => !(k in n.commonLabels))),
      startsAt: new Date(a.startsAt),
      ...(a.annotations.summary && a.annotations.summary !== summary
        ? { summary: a.annotations.summary }
        : {}),
    })),
    resolvedCount: n.alerts.length - firingAlerts.length,
    truncated: n.truncatedAlerts,
    steps: options.steps,
    ...(silence ? { silence } : {}),
    silenceOffers: incident.status === 'firing' && !silence ? options.silenceOffers : [],
    ...(silence && options.expireOffer ? { expireOffer: options.expireOffer } : {}),
    ...(options.demo ? { demo: true } : {}),
  };
}

/** When the group started: its earliest alert's startsAt. */
export function groupStart(n: AlertNotification): Date {
  return new Date(Math.min(...n.alerts.map((a) => new Date(a.startsAt).getTime())));
}

/** When the group resolved: its latest alert end, or `fallback` when none says. */
export function groupEnd(n: AlertNotification, fallback: Date): Date {
  const ends = n.alerts.filter(hasEnd).map((a) => new Date(a.endsAt).getTime());
  return ends.length ? new Date(Math.max(...ends)) : fallback;
}

/**
 * The labels a silence of the group matches: the group's common labels (equality matchers), which every
 * alert of the group carries. Alertmanager's own labels aside, nothing else is added.
 */
export function silenceMatchersOf(n: AlertNotification): { name: string; value: string }[] {
  return Object.entries(n.commonLabels)
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

/** "AegisHighP99Latency (aegis-api)": how a silence's confirm dialog names the group. */
export function groupTitle(n: AlertNotification): string {
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname ?? '?'))].join(', ');
  const service = n.commonLabels.service;
  return service ? `${names} (${service})` : names;
}
