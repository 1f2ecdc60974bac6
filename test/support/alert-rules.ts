/**
 * deploy/alerts/aegis-rules.yml is the one source of the alerting rules. From it come:
 * - deploy/alerts/prometheusrule.yaml: the same groups as a Prometheus Operator PrometheusRule;
 * - test/fixtures/alerts/rules.yml: the same expressions with short windows and `for:` durations,
 *   so end-to-end tests fire and resolve in seconds.
 * test/deploy/alert-rules.int.test.ts keeps both equal to what these functions make (UPDATE_GOLDEN=1
 * rewrites them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const RULES_FILE = path.join(repoRoot, 'deploy/alerts/aegis-rules.yml');
export const PROMETHEUS_RULE_FILE = path.join(repoRoot, 'deploy/alerts/prometheusrule.yaml');
export const TEST_RULES_FILE = path.join(repoRoot, 'test/fixtures/alerts/rules.yml');

/** The test rules' range window (the deploy rules' [5m]) and `for:` (the deploy rules' 5m). */
export const TEST_WINDOW = '15s';
export const TEST_FOR = '3s';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export function readRuleGroups(file = RULES_FILE): RuleGroup[] {
  const doc = parse(fs.readFileSync(file, 'utf8')) as { groups?: RuleGroup[] };
  if (!Array.isArray(doc?.groups)) throw new Error(`${file} has no groups`);
  return doc.groups;
}

export function allRules(groups: RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules);
}

const DUMP = { lineWidth: 0, indent: 2 } as const;

function header(what: string): string {
  return [
    `# ${what}`,
    '# GENERATED from deploy/alerts/aegis-rules.yml: edit that file, then run',
    '#   UPDATE_GOLDEN=1 npx vitest run test/deploy/alert-rules.int.test.ts',
    '',
  ].join('\n');
}

/** The rules as a PrometheusRule (monitoring.coreos.com/v1) in the service's namespace. */
export function prometheusRuleYaml(groups: RuleGroup[]): string {
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'aegis-api-runbook',
      namespace: 'aegis',
      labels: {
        'app.kubernetes.io/name': 'aegis-api',
        'app.kubernetes.io/component': 'alerting-rules',
        'app.kubernetes.io/part-of': 'aegis-bot',
      },
    },
    spec: { groups },
  };
  return (
    header(
      "aegis-api's runbook alerts for the Prometheus Operator. Its Prometheus must select this resource\n" +
        '# (spec.ruleSelector / ruleNamespaceSelector): add the labels your installation selects on.',
    ) + stringify(resource, DUMP)
  );
}

/**
 * The same rules for end-to-end tests: every `[5m]` range becomes [TEST_WINDOW] and every `for:`
 * becomes TEST_FOR; thresholds, labels and annotations stay as they are. Any other range is refused
 * (it would not be shortened).
 */
export function testRulesYaml(groups: RuleGroup[]): string {
  const short = groups.map((g) => ({
    name: `${g.name}-test`,
    rules: g.rules.map((r) => {
      if (/\[(?!5m\])[^\]]*\]/.test(r.expr)) throw new Error(`${r.alert}: a window other than [5m]`);
      return {
        ...r,
        expr: r.expr.replaceAll('[5m]', `[${TEST_WINDOW}]`),
        ...(r.for !== undefined ? { for: TEST_FOR } : {}),
      };
    }),
  }));
  return (
    header('TEST ONLY: the runbook alerts with short windows and durations, for the end-to-end tests.') +
    stringify({ groups: short }, DUMP)
  );
}
