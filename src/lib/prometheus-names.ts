/**
 * Prometheus metric and label names the bot accepts from configuration. The legacy grammar
 * (`http_requests_total`, label `path`) is written bare in PromQL; Prometheus 3 also takes UTF-8
 * names (OpenTelemetry's `http.server.request.duration`, label `http.route`), which PromQL can only
 * write quoted: `{"http.server.request.duration", le="0.5"}`, `sum by ("http.route") (...)`.
 *
 * Of UTF-8 names the bot takes the dotted kind OpenTelemetry uses: a letter, `_` or (metrics) `:`
 * first, then letters, digits, `_`, `.`, `-`, `/` and (metrics) `:`. Quoting keeps any name from
 * changing a query; this narrower set keeps a typo (a space, a brace) a configuration error.
 */

const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UTF8_METRIC = /^[\p{L}_:][\p{L}\p{N}_:./-]*$/u;
const UTF8_LABEL = /^[\p{L}_][\p{L}\p{N}_./-]*$/u;
/** Longest name accepted; Prometheus has no limit, this keeps error messages and queries readable. */
const NAME_MAX = 200;

/** A name PromQL can write bare. */
export function isLegacyMetricName(name: string): boolean {
  return LEGACY_METRIC.test(name);
}

export function isLegacyLabelName(name: string): boolean {
  return LEGACY_LABEL.test(name);
}

export function isMetricName(name: string): boolean {
  return name.length <= NAME_MAX && (LEGACY_METRIC.test(name) || UTF8_METRIC.test(name));
}

/** Label names starting with `__` are Prometheus' own (`__name__`): never configurable. */
export function isLabelName(name: string): boolean {
  return (
    name.length <= NAME_MAX && !name.startsWith('__') && (LEGACY_LABEL.test(name) || UTF8_LABEL.test(name))
  );
}
