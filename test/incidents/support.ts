import type { Config } from '../../src/config/load.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN } from '../../src/console/slack-api-emulator.ts';
import { SIGNING_SECRET } from '../support/slack.ts';

export const WEBHOOK_TOKEN = 'alertmanager-test-token-3f9a';

export const ALERTS_YAML = `
alerts:
  auth:
    bearer_token_env: ALERTMANAGER_WEBHOOK_TOKEN
  body_limit: 4096
  routes:
    - match: { alertname: AegisHighP99Latency }
      steps: [latency]
    - match_re: { alertname: "AegisHigh(CPU|Memory)" }
      match: { severity: critical }
      steps: [latency, cpu]
    - match: { alertname: AegisSlowQuery }
      service: billing
      steps: [db]
      metric: max(pg_stat_activity_max_tx_duration)
alertmanager:
  url: http://127.0.0.1:9093
  silence_durations: [1h, 4h]
`;

/** Two services (aegis-api the default), incident channel C0INCIDENT, the alerts above. */
export function alertsConfig(alertsYaml = ALERTS_YAML, env: Record<string, string> = {}): Config {
  const yaml = `
slack:
  mode: http
  incident_channel: C0INCIDENT
services:
  - name: aegis-api
    default: true
    deployment: aegis-api
  - name: billing
    deployment: billing
${alertsYaml}`;
  return parseConfig(yaml, 'test.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    ALERTMANAGER_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    ...env,
  });
}
