/**
 * What every outside-system client offers the rest of the bot, besides its own typed calls:
 * a health check for `aegis doctor` and /readyz. Each source module (src/sources/*) implements it.
 */
export interface CheckResult {
  /** e.g. "prometheus aegis-api", "postgres aegis-api (diagnosis role)". */
  readonly name: string;
  readonly ok: boolean;
  /** What was seen: version, latency, row counts. */
  readonly detail: string;
  /** How to fix it, when not ok. */
  readonly hint?: string;
}

export interface Checkable {
  check(signal?: AbortSignal): Promise<CheckResult[]>;
}
