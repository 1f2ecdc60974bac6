/**
 * The metric an alert is about, from its generator URL (Prometheus' `/graph?g0.expr=…`): the rule's
 * expression with its final comparison against a number removed, so that "before" and "now" have values
 * while the condition does not hold. An expression that does not end in such a comparison is kept whole.
 * Undefined when the URL carries no expression.
 */
export function alertExpression(generatorUrl: string): string | undefined {
  let expr: string | null;
  try {
    expr = new URL(generatorUrl).searchParams.get('g0.expr');
  } catch {
    return undefined;
  }
  if (!expr?.trim()) return undefined;
  const stripped = expr.replace(
    /\s*(>=|<=|==|!=|>|<)\s*(bool\s+)?[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/,
    '',
  );
  return (stripped.trim() || expr).trim();
}
