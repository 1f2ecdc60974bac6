import { type Config, parseConfig } from '../../config/load.ts';

/**
 * The bundled demo's configuration: the service the demo incident was recorded with
 * (scripts/record-demo.ts records with exactly this file, its URLs pointed at the test bed).
 * It is embedded as a string so that `tsc` carries it into dist/ with the code.
 *
 * The source URLs below are placeholders that nothing ever contacts: in demo mode the sources are
 * the recordings (demo-sources.ts). The console's local users are U0LOCAL ("you", listed for every
 * action so that remediation can be tried) and U0GUEST (listed for none, to see a refusal).
 */
export const DEMO_CONFIG_YAML = `# aegis-bot demo: the recorded incident the local console replays (no live systems).
slack:
  mode: http
  host: 127.0.0.1
  port: 3000
  incident_channel: C0INCIDENT
services:
  - name: aegis-api
    default: true
    namespace: aegis
    deployment: aegis-api
    container: aegis-api
    pod_selector: app=aegis-api
    configmap: aegis-config
    prometheus:
      url: http://prometheus.demo.invalid:9090
    pprof:
      mode: pod_proxy
      port: 6060
    database:
      url_env: AEGIS_DEMO_DATABASE_URL
      action_url_env: AEGIS_DEMO_DATABASE_ACTION_URL
      long_query: 30s
actions:
  min_replicas: 1
  max_replicas: 10
  scale_step_percent: 50
  max_memory: 4Gi
authorization:
  scale: { users: [U0LOCAL] }
  set_memory_limit: { users: [U0LOCAL] }
  set_pool_size: { users: [U0LOCAL] }
  cancel_query: { users: [U0LOCAL] }
  terminate_session: { users: [U0LOCAL] }
  vacuum_analyze: { users: [U0LOCAL] }
  page: { users: [U0LOCAL] }
`;

/** Where the demo config says it comes from, in logs and errors. */
export const DEMO_CONFIG_NAME = 'the bundled demo configuration (src/console/demo/demo-config.ts)';

/**
 * The demo configuration, listening where `listen` says (the user's slack.host / slack.port when they
 * have a config file with no sources in it). `env` supplies database URLs only when recording.
 */
export function demoConfig(
  listen: { host?: string; port?: number } = {},
  env: NodeJS.ProcessEnv = {},
): Config {
  const config = parseConfig(DEMO_CONFIG_YAML, DEMO_CONFIG_NAME, env);
  return {
    ...config,
    slack: {
      ...config.slack,
      ...(listen.host !== undefined ? { host: listen.host } : {}),
      ...(listen.port !== undefined ? { port: listen.port } : {}),
    },
  };
}
