import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildRuntime } from '../src/compose.ts';
import { parseConfig } from '../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../src/console/slack-api-emulator.ts';
import type { CheckResult } from '../src/domain/ports.ts';
import { createLogger } from '../src/ops/logger.ts';
import { FakeCluster, K8S_SERVER } from './support/fake-cluster.ts';
import { SIGNING_SECRET } from './support/slack.ts';

const testbed = inject('testbed');
const logger = createLogger({ level: 'silent' });
let emulator: SlackApiEmulator;
let home: string;
const savedKubeconfig = process.env.KUBECONFIG;

beforeAll(async () => {
  emulator = await start();
  home = mkdtempSync(join(tmpdir(), 'aegis-compose-'));
  process.env.KUBECONFIG = join(home, 'no-such-kubeconfig');
});
afterAll(async () => {
  await emulator.stop();
  rmSync(home, { recursive: true, force: true });
  if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfig;
});

async function doctor(
  yaml: string,
  env: Record<string, string> = {},
): Promise<{ live: boolean; lines: CheckResult[] }> {
  const config = parseConfig(yaml, 'compose-test.yml', env);
  const runtime = await buildRuntime(config, { logger });
  try {
    const lines = (await Promise.all(runtime.checks.map((c) => c.check()))).flat();
    return { live: runtime.live, lines };
  } finally {
    await runtime.close();
  }
}

const line = (lines: CheckResult[], name: RegExp) => lines.find((l) => name.test(l.name));

describe('the runtime compose.ts builds from configuration', () => {
  it('checks every configured source against the real thing, and Slack through its Web API', async () => {
    const { live, lines } = await doctor(
      [
        'slack:',
        `  api_url: ${emulator.url}/api/`,
        'services:',
        '  - name: aegis-api',
        '    deployment: aegis-api',
        `    prometheus: { url: "${testbed.prometheusUrl}" }`,
        '    database: { url_env: DIAG_URL }',
        '',
      ].join('\n'),
      {
        DIAG_URL: testbed.postgres.adminUrl,
        SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
      },
    );
    expect(live).toBe(true);
    expect(line(lines, /^prometheus aegis-api/)).toMatchObject({ ok: true });
    expect(line(lines, /^prometheus aegis-api/)?.detail).toMatch(/2\.\d+/);
    expect(line(lines, /^postgres aegis-api/)).toMatchObject({ ok: true });
    expect(line(lines, /^slack bot token/)).toMatchObject({ ok: true });
    expect(JSON.stringify(lines)).not.toContain(EMULATOR_BOT_TOKEN);
  });

  it('names what is missing with a hint: database URL, Slack token, cluster access', async () => {
    const { live, lines } = await doctor(
      'services:\n  - name: aegis-api\n    deployment: aegis-api\n    database: { url_env: DIAG_URL }\n',
    );
    expect(live).toBe(true);
    expect(line(lines, /^postgres aegis-api/)).toMatchObject({
      ok: false,
      hint: expect.stringContaining('DIAG_URL'),
    });
    expect(line(lines, /^slack bot token/)).toMatchObject({
      ok: false,
      hint: expect.stringContaining('xoxb'),
    });
    expect(line(lines, /^kubernetes/)).toMatchObject({
      ok: false,
      hint: expect.stringContaining('KUBECONFIG'),
    });
  });

  it('is not live when the configuration names no outside system, so the console replays the demo', async () => {
    const { live } = await doctor('services:\n  - name: aegis-api\n    deployment: aegis-api\n');
    expect(live).toBe(false);
  });
});

describe('the pod log reader the db step gets', () => {
  it("reads the application's pool size from the service's ConfigMap, and answers undefined when it cannot", async () => {
    const kubeconfig = join(home, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: test, cluster: { server: "' + K8S_SERVER + '" } }]',
        'users: [{ name: aegis-bot, user: { token: sa-token-actions } }]',
        'contexts: [{ name: test, context: { cluster: test, user: aegis-bot, namespace: aegis } }]',
        'current-context: test',
        '',
      ].join('\n'),
    );
    process.env.KUBECONFIG = kubeconfig;
    const cluster = new FakeCluster().install();
    try {
      const config = parseConfig(
        'services:\n  - name: aegis-api\n    namespace: aegis\n    deployment: aegis-api\n    configmap: aegis-config\n',
        'compose-test.yml',
        {},
      );
      const runtime = await buildRuntime(config, { logger });
      const service = config.services[0] as (typeof config.services)[number];
      const reader = runtime.sources.podLogs?.(service);
      expect(await reader?.poolSize?.(service)).toBe(50);
      cluster.gone.add('configmap');
      expect(await reader?.poolSize?.(service)).toBeUndefined();
      await runtime.close();
    } finally {
      cluster.uninstall();
      process.env.KUBECONFIG = join(home, 'no-such-kubeconfig');
    }
  });
});
