import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator, start } from '../../src/console/slack-api-emulator.ts';
import { createSlackCheck } from '../../src/slack/check.ts';

let emulator: SlackApiEmulator;
beforeAll(async () => {
  emulator = await start();
});
afterAll(async () => {
  await emulator.stop();
});

const config = (mode: 'http' | 'socket', env: Record<string, string>) =>
  parseConfig(
    `slack:\n  mode: ${mode}\nservices:\n  - name: aegis-api\n    deployment: aegis-api\n`,
    'test.yml',
    env,
  );

describe('aegis doctor: Slack', () => {
  it('names the team and the bot user when the token works', async () => {
    const check = createSlackCheck({
      config: config('http', { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_SIGNING_SECRET: 's3cret' }),
      slackApiUrl: `${emulator.url}/api/`,
    });
    const [token, secret] = await check.check();
    expect(token).toMatchObject({ name: 'slack bot token', ok: true });
    expect(token?.detail).toMatch(
      /^team "Aegis Emulated" \(T0AEGIS\), bot user @aegis \(U0AEGISBOT\), \d+ ms$/,
    );
    expect(secret).toMatchObject({ name: 'slack signing secret', ok: true });
    expect(JSON.stringify([token, secret])).not.toContain('s3cret');
  });

  it('reports a token Slack refuses, with a hint, and never prints the token', async () => {
    const bad = 'xoxb-1234-refused-token-value';
    const check = createSlackCheck({
      config: config('http', { SLACK_BOT_TOKEN: bad }),
      slackApiUrl: `${emulator.url}/api/`,
    });
    const results = await check.check();
    expect(results[0]).toMatchObject({ ok: false, detail: 'auth.test answered invalid_auth' });
    expect(results[0]?.hint).toContain('SLACK_BOT_TOKEN');
    expect(results[1]).toMatchObject({ name: 'slack signing secret', ok: false });
    expect(JSON.stringify(results)).not.toContain(bad);
  });

  it('reports an unreachable Web API without the token', async () => {
    const token = 'xoxb-9999-unreachable-token';
    const check = createSlackCheck({
      config: config('http', { SLACK_BOT_TOKEN: token, SLACK_SIGNING_SECRET: 's' }),
      slackApiUrl: 'http://127.0.0.1:9/api/',
      timeoutMs: 2000,
    });
    const [result] = await check.check();
    expect(result?.ok).toBe(false);
    expect(result?.detail).toMatch(/^auth.test failed/);
    expect(JSON.stringify(result)).not.toContain(token);
  });

  it('in Socket Mode checks for the app-level token instead of the signing secret', async () => {
    const check = createSlackCheck({
      config: config('socket', { SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN, SLACK_APP_TOKEN: 'xapp-1-A0-123-abc' }),
      slackApiUrl: `${emulator.url}/api/`,
    });
    const results = await check.check();
    expect(results[1]).toEqual({ name: 'slack app token', ok: true, detail: 'set (Socket Mode)' });
    expect(JSON.stringify(results)).not.toContain('xapp-1-A0-123-abc');
  });

  it('says which variable to set when there is no token', async () => {
    const check = createSlackCheck({ config: config('http', {}) });
    const [result] = await check.check();
    expect(result).toMatchObject({ ok: false, detail: 'SLACK_BOT_TOKEN is not set' });
  });
});
