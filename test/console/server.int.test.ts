/**
 * The console server over loopback, in demo mode: what the page sends (typed commands, clicks) reaches
 * the real Bolt app as Slack would deliver it, and what the bot posts comes back to the page.
 */
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../../src/console/demo/demo-config.ts';
import { createDemo, type Demo } from '../../src/console/demo/demo-sources.ts';
import { loadRecordings } from '../../src/console/demo/recordings.ts';
import type { ConsoleItem } from '../../src/console/feed.ts';
import { type ConsoleHandle, startConsole } from '../../src/console/server.ts';
import { createOpsRoutes, createReadiness } from '../../src/ops/health.ts';
import { postSigned, slashCommandBody, visibleText } from '../support/slack.ts';

let demo: Demo;
let handle: ConsoleHandle;
/** The page's per-process secret, as the page itself gets it (its boot data). */
let pageSecret: string;

beforeAll(async () => {
  demo = createDemo(await loadRecordings(), { podReadyMs: 5 });
  const readiness = createReadiness();
  readiness.markStarted();
  handle = await startConsole({
    config: demoConfig(),
    sources: demo.sources,
    port: 0,
    routes: createOpsRoutes({ readiness }),
    demo: { recordedAt: demo.recordedAt },
    actions: {
      cluster: demo.cluster,
      databaseFor: () => demo.database,
      follow: { intervalMs: 10, timeoutMs: 10_000 },
    },
  });
  const html = await (await fetch(handle.url)).text();
  const boot = /<script type="application\/json" id="boot"[^>]*>(.*?)<\/script>/s.exec(html)?.[1];
  pageSecret = (JSON.parse(boot ?? '{}') as { secret: string }).secret;
});

afterAll(async () => {
  await handle?.stop();
});

afterEach(async () => {
  await settle();
});

async function settle(): Promise<void> {
  const interrupted = await handle.slack.inFlight.drain(30_000);
  if (interrupted.length)
    throw new Error(`work did not finish: ${interrupted.map((w) => w.describe).join('; ')}`);
}

function url(path: string): string {
  return new URL(path, handle.url).toString();
}

async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url(path), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aegis-console-secret': pageSecret, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** GET with a Host header of our choosing (fetch always sends the URL's), as a DNS-rebinding page would. */
function statusWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url(path), { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function items(): Promise<ConsoleItem[]> {
  const res = await fetch(url('/console/state'));
  return ((await res.json()) as { items: ConsoleItem[] }).items;
}

/** The newest top-level message carrying a button with this action_id. */
async function messageWithButton(actionId: string): Promise<ConsoleItem> {
  const found = (await items())
    .filter((i) => i.kind === 'message' && !i.threadTs && i.html.includes(`data-action-id="${actionId}"`))
    .at(-1);
  if (!found) throw new Error(`no message with a ${actionId} button`);
  return found;
}

async function latencyReport(): Promise<ConsoleItem> {
  const sent = await postJson('/console/command', { text: '/aegis latency', user: 'U0LOCAL' });
  expect(sent).toEqual({ status: 200, json: { status: 200 } });
  await settle();
  return messageWithButton('aegis_action:scale');
}

describe('typed commands', () => {
  it('are signed and delivered as Slack delivers them: the bot posts the report in the channel, its charts in the thread', async () => {
    const root = await latencyReport();
    const posts = handle.emulator.calls.filter((c) => c.method === 'chat.postMessage' && c.ok);
    expect(posts.at(-1)?.args.channel).toBe('C0INCIDENT');
    const final = handle.emulator.messages.get('C0INCIDENT', root.ts as string);
    expect(visibleText(final ?? {})).toMatch(/P99 [\d.]+ s CRITICAL, driven by \/api\/search/);
    expect(root.html).toMatch(/P99 [\d.]+ s CRITICAL, driven by \/api\/search/);
    expect(root.edited).toBe(true);

    const charts = (await items()).find((i) => i.threadTs === root.ts && i.html.includes('<img'));
    const src = /<img src="([^"]+)"/.exec(charts?.html ?? '')?.[1];
    if (!src) throw new Error('no chart in the thread');
    const png = await fetch(url(src));
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(0, 4)
        .toString('hex'),
    ).toBe('89504e47');
  });

  it('answer help at once, only to the one who typed it', async () => {
    const sent = await postJson('/console/command', { text: '/aegis help', user: 'U0GUEST' });
    expect(sent.status).toBe(200);
    expect(visibleText(sent.json.answer as object)).toContain('/aegis latency');
    const answer = (await items()).filter((i) => i.kind === 'ephemeral').at(-1);
    expect(answer).toMatchObject({ user: 'U0GUEST', channel: 'C0INCIDENT' });
    expect(answer?.html).toContain('/aegis latency');
  });

  it('take "latency" without the slash command, and refuse other slash commands', async () => {
    const other = await postJson('/console/command', { text: '/remind me', user: 'U0LOCAL' });
    expect(other.status).toBe(400);
    expect(other.json.error).toContain('only /aegis');
    const unknown = await postJson('/console/command', { text: 'help', user: 'U0NOBODY' });
    expect(unknown.status).toBe(400);
  });
});

describe('action subcommands', () => {
  it('offer a change with a confirm-dialog button and change nothing by themselves', async () => {
    const changes = demo.cluster.changes.length;
    const sent = await postJson('/console/command', { text: '/aegis scale 7', user: 'U0LOCAL' });
    expect(sent.status).toBe(200);
    await settle();
    const offer = await messageWithButton('aegis_action:scale');
    expect(offer.html).toContain('Scale to 7 replicas');
    expect(offer.html).toContain('data-confirm=');
    expect(demo.cluster.changes).toHaveLength(changes);
  });
});

describe('clicks', () => {
  it('arrive as block_actions built from the posted message: a next-step button runs its step in the thread', async () => {
    const root = await latencyReport();
    const before = (await items()).filter((i) => i.threadTs === root.ts).length;
    const clicked = await postJson('/console/click', {
      key: root.key,
      action_id: 'aegis_step:db',
      user: 'U0LOCAL',
    });
    expect(clicked).toEqual({ status: 200, json: { status: 200 } });
    await settle();
    const thread = (await items()).filter((i) => i.threadTs === root.ts);
    expect(thread.length).toBeGreaterThan(before);
    const db = thread.find((i) => i.html.includes('lock'));
    expect(db?.html).toMatch(/db · aegis-api/);
  });

  it('scale the demo cluster once for an authorized user, and the thread says so', async () => {
    const root = await latencyReport();
    const replicas = demo.cluster.deployment.replicas;
    const target = /Scale to (\d+) replicas/.exec(root.html)?.[1];
    const clicked = await postJson('/console/click', {
      key: root.key,
      action_id: 'aegis_action:scale',
      user: 'U0LOCAL',
    });
    expect(clicked.status).toBe(200);
    await settle();
    expect(demo.cluster.deployment.replicas).toBe(Number(target));
    const thread = (await items()).filter((i) => i.threadTs === root.ts);
    expect(thread.map((i) => i.html).join('\n')).toContain(
      `scaled deployment/aegis-api in aegis from ${replicas} to ${target} replicas`,
    );
    expect(thread.some((i) => /ready \d+ of \d+|rolled out|complete/i.test(i.html))).toBe(true);

    // the same click again changes nothing: the answer goes to the clicker alone
    await postJson('/console/click', { key: root.key, action_id: 'aegis_action:scale', user: 'U0LOCAL' });
    await settle();
    expect(demo.cluster.changes.filter((c) => c.startsWith('scale'))).toHaveLength(1);
    expect((await items()).filter((i) => i.kind === 'ephemeral').at(-1)?.html).toMatch(/Already/);
  });

  it('refuse the guest, who is authorized for nothing, and change nothing', async () => {
    const root = await latencyReport();
    const changes = demo.cluster.changes.length;
    await postJson('/console/click', { key: root.key, action_id: 'aegis_action:scale', user: 'U0GUEST' });
    await settle();
    expect(demo.cluster.changes).toHaveLength(changes);
    const refusal = (await items()).filter((i) => i.kind === 'ephemeral').at(-1);
    expect(refusal?.user).toBe('U0GUEST');
    expect(refusal?.html).toContain('may scale deployments. Nothing was changed.');
  });

  it('on an ephemeral answer reach the bot only from the one who sees it: to anyone else it does not exist', async () => {
    await postJson('/console/command', { text: '/aegis help', user: 'U0LOCAL' });
    const answer = (await items()).filter((i) => i.kind === 'ephemeral' && i.user === 'U0LOCAL').at(-1);
    if (!answer) throw new Error('no ephemeral answer to /aegis help');
    const click = { key: answer.key, action_id: 'aegis_step' };
    const guest = await postJson('/console/click', { ...click, user: 'U0GUEST' });
    expect(guest).toEqual({ status: 404, json: { error: 'no such message' } });
    const owner = await postJson('/console/click', { ...click, user: 'U0LOCAL' });
    expect(owner).toEqual({ status: 404, json: { error: 'the message has no button aegis_step' } });
  });

  it('must name a button the message has', async () => {
    const root = await latencyReport();
    const res = await postJson('/console/click', {
      key: root.key,
      action_id: 'aegis_action:delete_everything',
    });
    expect(res.status).toBe(404);
  });
});

describe('the gate', () => {
  it('still refuses a tampered or unsigned request to the Bolt app', async () => {
    const body = slashCommandBody({ text: 'latency' });
    const unsigned = await postSigned(handle.eventsUrl, body, { signature: null });
    const tampered = await postSigned(handle.eventsUrl, body, { signature: 'v0=00ff' });
    const otherSecret = await postSigned(handle.eventsUrl, body, { secret: 'not-the-console-secret' });
    expect([unsigned.status, tampered.status, otherSecret.status]).toEqual([401, 401, 401]);
  });

  it('refuses requests for another host, from another origin, or not in JSON', async () => {
    expect(await statusWithHost('/console/state', 'attacker.example')).toBe(403);
    expect(await statusWithHost('/console/state', new URL(handle.url).host)).toBe(200);
    const crossOrigin = await postJson(
      '/console/command',
      { text: 'help' },
      { origin: 'http://attacker.example' },
    );
    expect(crossOrigin.status).toBe(403);
    const form = await fetch(url('/console/command'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'text=help',
    });
    expect(form.status).toBe(403);
    const formWithSecret = await fetch(url('/console/command'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-aegis-console-secret': pageSecret },
      body: 'text=help',
    });
    expect(formWithSecret.status).toBe(415);
  });

  it("takes state-changing requests only with the page's per-process secret, from its own origin", async () => {
    const before = handle.emulator.messages.all().length;
    const calls = handle.emulator.calls.length;
    expect(pageSecret).toMatch(/^[0-9a-f]{64}$/);
    const noSecret = await postJson(
      '/console/command',
      { text: '/aegis help', user: 'U0LOCAL' },
      {
        'x-aegis-console-secret': '',
      },
    );
    expect(noSecret).toEqual({
      status: 403,
      json: { error: 'missing or wrong console secret: reload the page' },
    });
    const wrong = await postJson(
      '/console/click',
      { key: 'x', action_id: 'aegis_action:scale', user: 'U0LOCAL' },
      {
        'x-aegis-console-secret': 'f'.repeat(64),
      },
    );
    expect(wrong.status).toBe(403);
    const crossSite = await postJson(
      '/console/command',
      { text: '/aegis help', user: 'U0LOCAL' },
      {
        'sec-fetch-site': 'cross-site',
      },
    );
    expect(crossSite.status).toBe(403);
    expect(handle.emulator.messages.all()).toHaveLength(before);
    expect(handle.emulator.calls).toHaveLength(calls);
  });

  it('lets no web page post into the channel through the emulated Web API: browser requests, another Host and the well-known token are refused', async () => {
    const before = handle.emulator.messages.all().length;
    const calls = handle.emulator.calls.length;
    const injected = new URLSearchParams({
      channel: 'C0INCIDENT',
      text: 'Scale 3 -> 10',
      blocks: JSON.stringify([{ type: 'section', text: { type: 'mrkdwn', text: 'click me' } }]),
    });
    // a cross-origin form post, as a page in the operator's browser sends it
    const crossOrigin = await fetch(`${handle.emulator.url}/api/chat.postMessage`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://attacker.example',
        'sec-fetch-site': 'cross-site',
      },
      body: new URLSearchParams({
        ...Object.fromEntries(injected),
        token: 'xoxb-0000000000-emulated-bot-token',
      }),
    });
    expect(crossOrigin.status).toBe(403);
    expect(await crossOrigin.json()).toEqual({ ok: false, error: 'browser_requests_refused' });
    // DNS rebinding: the page's own origin, resolving to the emulator
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${handle.emulator.url}/api/chat.postMessage`,
        {
          method: 'POST',
          headers: { host: 'attacker.example', 'content-type': 'application/x-www-form-urlencoded' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(injected.toString());
    });
    expect(rebound).toBe(403);
    // the token is made per process: the emulator's well-known test token is not it
    const wellKnown = await fetch(`${handle.emulator.url}/api/chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...Object.fromEntries(injected),
        token: 'xoxb-0000000000-emulated-bot-token',
      }),
    });
    expect(await wellKnown.json()).toMatchObject({ ok: false, error: 'invalid_auth' });
    expect(handle.emulator.messages.all()).toHaveLength(before);
    expect(handle.emulator.calls.slice(calls).map((c) => c.method)).toEqual(['chat.postMessage']);
    expect(handle.emulator.calls.at(-1)?.ok).toBe(false);
  });

  it('serves the health routes and the page, which says it is a demo and runs under a strict CSP', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const page = await fetch(url('/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[^']+'/);
    const html = await page.text();
    expect(html).toContain('DEMO — recorded incident, no live systems');
    expect(html).toContain('no authentication');
  });
});

describe('events', () => {
  it('streams what the bot posts to the page as it happens', async () => {
    const known = new Set((await items()).map((i) => i.key));
    const controller = new AbortController();
    const res = await fetch(url('/console/events'), { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await postJson('/console/command', { text: '/aegis help', user: 'U0LOCAL' });
    const decoder = new TextDecoder();
    let buffer = '';
    let fresh: ConsoleItem | undefined;
    while (!fresh) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value);
      const events = buffer.split('\n\n');
      buffer = events.pop() ?? '';
      for (const e of events) {
        if (!e.startsWith('event: item\n')) continue;
        const item = JSON.parse(e.slice('event: item\ndata: '.length)) as ConsoleItem;
        if (!known.has(item.key) && item.kind === 'ephemeral') fresh = item;
      }
    }
    controller.abort();
    expect(fresh).toMatchObject({ kind: 'ephemeral', user: 'U0LOCAL' });
    expect(fresh?.html).toContain('/aegis latency');
  });
});
