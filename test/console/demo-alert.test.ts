/**
 * The console's demo alert: a recorded Alertmanager notification sent through the bot's own
 * POST /alertmanager (the same receiver Alertmanager reaches), then its resolution, clearly a demo.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../../src/console/demo/demo-config.ts';
import { createDemo } from '../../src/console/demo/demo-sources.ts';
import { loadRecordings } from '../../src/console/demo/recordings.ts';
import { type ConsoleHandle, startConsole } from '../../src/console/server.ts';
import { notification } from '../incidents/fixtures.ts';
import { visibleText } from '../support/slack.ts';

let handle: ConsoleHandle;

beforeAll(async () => {
  const demo = createDemo(await loadRecordings(), { delayMs: 0 });
  handle = await startConsole({
    config: demoConfig(),
    sources: demo.sources,
    port: 0,
    demo: { recordedAt: demo.recordedAt },
  });
});
afterAll(async () => {
  await handle?.stop();
});

const settle = async () => {
  const left = await handle.slack.inFlight.drain(30_000);
  if (left.length) throw new Error(`work did not finish: ${left.map((w) => w.describe).join('; ')}`);
};
/** The page's per-process secret, as the page gets it (its boot data): every POST carries it. */
const pageSecret = async (): Promise<string> => {
  const html = await (await fetch(handle.url)).text();
  const boot = /<script type="application\/json" id="boot"[^>]*>(.*?)<\/script>/s.exec(html)?.[1];
  return (JSON.parse(boot ?? '{}') as { secret: string }).secret;
};
const post = async (path: string, body: unknown) => {
  const res = await fetch(new URL(path, handle.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aegis-console-secret': await pageSecret() },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};
const roots = () => handle.emulator.messages.inChannel('C0INCIDENT').filter((m) => !m.threadTs);

describe('the console demo alert', () => {
  it('shows a labelled control on the page', async () => {
    const page = await (await fetch(handle.url)).text();
    expect(page).toContain('DEMO alert (no Alertmanager):');
    expect(page).toContain('id="demo-alert-fire"');
  });

  it('sends a recorded notification through POST /alertmanager: a demo incident thread, then resolved', async () => {
    expect(await post('/console/demo-alert', { phase: 'fire' })).toEqual({
      status: 200,
      json: { status: 200, answer: { status: 'recorded', duplicate: false } },
    });
    await settle();
    const [root] = roots();
    expect(roots()).toHaveLength(1);
    expect(visibleText(root ?? {})).toContain('Firing: AegisApiP99LatencySustained on aegis-api');
    expect(visibleText(root ?? {})).toContain(
      '*Demo*: a recorded Alertmanager notification replayed by the local console',
    );
    const thread = handle.emulator.messages
      .thread('C0INCIDENT', root?.ts ?? '')
      .filter((m) => m.ts !== root?.ts);
    expect(thread[0]?.text).toMatch(/^P99 .* driven by \/api\/search/);

    await post('/console/demo-alert', { phase: 'fire' });
    await settle();
    expect(roots()).toHaveLength(1);

    await post('/console/demo-alert', { phase: 'resolve' });
    await settle();
    expect(visibleText(roots()[0] ?? {})).toContain('Resolved: AegisApiP99LatencySustained on aegis-api');
  });

  it('is the receiver Alertmanager reaches: without the token the console made, 401', async () => {
    const res = await fetch(new URL('/alertmanager', handle.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer guessed' },
      body: JSON.stringify(notification()),
    });
    expect(res.status).toBe(401);
  });

  it('refuses a phase it does not know', async () => {
    expect((await post('/console/demo-alert', { phase: 'explode' })).status).toBe(400);
  });
});
