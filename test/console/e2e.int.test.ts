/**
 * End to end: `node src/main.ts` with no Slack tokens and a configuration with no sources starts the
 * local console on the bundled demo incident; headless Chromium (Debian's, driven by playwright-core:
 * nothing downloads a browser) types the commands and clicks the buttons a person would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/testbed.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let dir: string;
let bot: ChildProcess;
let output = '';
let base: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aegis-console-e2e-'));
  const port = await freePort();
  // what a fresh checkout has: no Slack tokens, and a configuration that names no sources
  writeFileSync(
    join(dir, 'aegis.yml'),
    `slack:\n  port: ${port}\n  host: 127.0.0.1\nservices:\n  - name: aegis-api\n    deployment: aegis-api\n`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AEGIS_CONFIG: join(dir, 'aegis.yml'),
    AEGIS_LOG_LEVEL: 'warn',
    KUBECONFIG: join(dir, 'none'),
  };
  for (const k of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'AEGIS_CONSOLE_HOST'])
    delete env[k];
  bot = spawn(process.execPath, [join(ROOT, 'src', 'main.ts')], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  bot.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  bot.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  base = `http://127.0.0.1:${port}`;
  await waitFor(
    'the console to answer /healthz',
    async () => {
      if (bot.exitCode !== null) throw new Error(`src/main.ts exited ${bot.exitCode}:\n${output}`);
      const res = await fetch(`${base}/healthz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(20_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (bot && bot.exitCode === null) {
    const exited = new Promise((resolve) => bot.once('exit', resolve));
    bot.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The newest top-level message that shows text. */
function topLevel(text: RegExp): Locator {
  return page.locator('#channel > .msg.message').filter({ hasText: text }).last();
}

describe('the local console in a browser', () => {
  it('runs /aegis latency, a next step in the thread, and a confirmed scale, as in Slack', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const clicks: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/console/click')) clicks.push(JSON.parse(r.postData() ?? '{}').action_id);
    });

    await page.goto(`${base}/`);
    await page.locator('#demo-banner', { hasText: 'DEMO — recorded incident, no live systems' }).waitFor();
    await page.locator('#conn.ok', { hasText: 'connected' }).waitFor();

    // type the command as in Slack
    await page.locator('#command').fill('/aegis latency');
    await page.locator('#command').press('Enter');
    const report = topLevel(/CRITICAL, driven by \/api\/search/);
    await report.locator('.bk-header').waitFor();
    expect(await report.locator('.bk-header').first().textContent()).toBe('latency · aegis-api');
    const body = report.locator(':scope > .body');
    await body.getByRole('button', { name: /^Scale to \d+ replicas$/ }).waitFor();
    // the charts come into the report's thread as images
    await report.locator('.thread img').first().waitFor();

    // a next step runs in the same thread
    await body.getByRole('button', { name: 'Database analysis' }).click();
    const dbReport = report.locator('.thread .msg').filter({ hasText: 'db · aegis-api' });
    await dbReport.locator('.bk-header').waitFor();
    // the lock wait leads the db report (worst first), named by the blocked and the blocking pid
    await dbReport.filter({ hasText: /waited .+ for a lock held by pid/ }).waitFor();

    // a dangerous action asks first; Cancel sends nothing
    const scale = body.getByRole('button', { name: /^Scale to \d+ replicas$/ });
    const label = (await scale.textContent()) ?? '';
    const target = /Scale to (\d+) replicas/.exec(label)?.[1];
    await scale.click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('#confirm-title').textContent()).toBe(label);
    expect(await dialog.locator('#confirm-text').textContent()).toContain(
      `replicas of deployment/aegis-api: 3 → ${target}`,
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });

    await scale.click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.getByRole('button', { name: `Yes, ${label}` }).click();
    const done = report
      .locator('.thread .msg')
      .filter({ hasText: `scaled deployment/aegis-api in aegis from 3 to ${target} replicas` });
    await done.waitFor();
    await report.locator('.thread .msg').filter({ hasText: 'rollout complete' }).waitFor();

    // the step button and the confirmed scale reached the bot; the cancelled one never left the page
    expect(clicks).toEqual(['aegis_step:db', 'aegis_action:scale']);
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows refusals only to the user they concern, marked as such', async () => {
    await page.locator('#user').selectOption('U0GUEST');
    const report = topLevel(/CRITICAL, driven by \/api\/search/);
    await report
      .locator(':scope > .body')
      .getByRole('button', { name: /^Scale to \d+ replicas$/ })
      .click();
    await page
      .locator('dialog#confirm')
      .getByRole('button', { name: /^Yes, / })
      .click();
    const refusal = page.locator('.msg.ephemeral').filter({ hasText: 'may scale deployments' }).last();
    await refusal.waitFor();
    expect(await refusal.locator('.only').textContent()).toBe('Only visible to you');
    await page.locator('#user').selectOption('U0LOCAL');
    await refusal.waitFor({ state: 'hidden' });
  }, 30_000);
});
