import { randomBytes } from 'node:crypto';
import { type Config, parseConfig } from '../../src/config/load.ts';
import { EMULATOR_BOT_TOKEN, type SlackApiEmulator } from '../../src/console/slack-api-emulator.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { StepResult } from '../../src/domain/finding.ts';
import { finishResult } from '../../src/domain/report.ts';
import {
  type AnyStep,
  createSlackApp,
  type RunStep,
  type SlackApp,
  type SlackAppOptions,
} from '../../src/slack/app.ts';
import type { Log } from '../../src/slack/logger.ts';
import * as render from '../../src/slack/render/index.ts';
import type { Renderer } from '../../src/slack/renderer.ts';
import { signSlackRequest } from '../../src/slack/signature.ts';
import type { StepContext, StepDefinition } from '../../src/steps/step.ts';

export const SIGNING_SECRET = 'test-signing-secret-8f14e45fceea167a5a36dedd4bea2543';

/** The real renderer, checked against the interface slack/app.ts expects. */
export const renderer: Renderer = render;

export interface SlashCommandFields {
  readonly text: string;
  readonly channel_id?: string;
  readonly channel_name?: string;
  readonly user_id?: string;
  readonly response_url?: string;
  readonly command?: string;
}

/** A slash command body, form-encoded with the fields Slack sends. */
export function slashCommandBody(f: SlashCommandFields): string {
  return new URLSearchParams({
    token: 'legacy-verification-token-unused',
    team_id: 'T0AEGIS',
    team_domain: 'aegis-emulated',
    channel_id: f.channel_id ?? 'C0INCIDENT',
    channel_name: f.channel_name ?? 'incident',
    user_id: f.user_id ?? 'U0ALICE',
    user_name: 'alice',
    command: f.command ?? '/aegis',
    text: f.text,
    api_app_id: 'A0AEGIS',
    is_enterprise_install: 'false',
    response_url: f.response_url ?? 'http://127.0.0.1:9/unused-response-url',
    // unique per request, as Slack's are: two identical signed requests are one replayed request
    trigger_id: `13345224609.738474920.${randomBytes(10).toString('hex')}`,
  }).toString();
}

export interface SignedPost {
  /** Seconds added to the current time for X-Slack-Request-Timestamp (e.g. -360 for 6 minutes old). */
  readonly skewSeconds?: number;
  /** Overrides the computed signature (undefined: computed; null: header left out). */
  readonly signature?: string | null;
  readonly secret?: string;
  readonly contentType?: string;
}

export interface PostAnswer {
  readonly status: number;
  readonly text: string;
  json(): Record<string, unknown>;
}

/** POSTs `body` to the bot's Slack endpoint signed as Slack does. */
export async function postSigned(url: string, body: string, opts: SignedPost = {}): Promise<PostAnswer> {
  const ts = Math.floor(Date.now() / 1000) + (opts.skewSeconds ?? 0);
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
  };
  const signature =
    opts.signature === undefined ? signSlackRequest(opts.secret ?? SIGNING_SECRET, ts, body) : opts.signature;
  if (signature !== null) headers['x-slack-signature'] = signature;
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

export function testConfig(extraYaml = ''): Config {
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
${extraYaml}`;
  return parseConfig(yaml, 'test.yml', {
    SLACK_BOT_TOKEN: EMULATOR_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
  });
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

export function recordingLog(): Log & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (fields: object, msg?: string): void => {
      entries.push({ level, fields: fields as Record<string, unknown>, msg });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A finished result with the given headline; attachments go into the thread as files. */
export function fakeResult(step: string, service: string, overrides: Partial<StepResult> = {}): StepResult {
  const startedAt = new Date('2026-01-05T10:00:00Z');
  return {
    ...finishResult(
      {
        step,
        service,
        headline: `${step} on ${service}: all normal`,
        findings: [
          {
            id: `${step}.p99`,
            severity: 'normal',
            title: 'P99 latency',
            summary: 'P99 is 120 ms (normal below 200 ms)',
            evidence: [],
            links: [],
          },
        ],
        proposals: [],
        nextSteps: [],
        escalations: [],
        attachments: [],
        parts: [{ name: 'prometheus', status: 'ok' }],
        links: [],
        startedAt,
      },
      new Date('2026-01-05T10:00:02Z'),
    ),
    ...overrides,
  };
}

export interface FakeStepOptions {
  readonly name?: string;
  readonly run?: (
    ctx: StepContext,
    args: { service?: string; words: readonly string[] },
  ) => Promise<StepResult>;
}

/** A step with the shape of the runbook's: `<name> [service]`, rejecting more than one word. */
export function fakeStep(
  opts: FakeStepOptions = {},
): StepDefinition<{ service?: string; words: readonly string[] }> {
  const name = opts.name ?? 'latency';
  return {
    name,
    summary: `Fake ${name} step for tests`,
    usage: `${name} [service]`,
    runbook: 'Step 1: Identify the Bottleneck',
    parse(words) {
      if (words.length > 1)
        throw new AppError('usage', `${name} takes at most one word (a service), got ${words.length}`);
      return { ...(words[0] ? { service: words[0] } : {}), words };
    },
    run: opts.run ?? (async (ctx) => fakeResult(name, ctx.service.name)),
  };
}

/** What the composition root does: builds the StepContext (here with no sources) and runs the step. */
export function runStepDirectly(config: Config): RunStep & { calls: number } {
  const fn = async (step: AnyStep, args: unknown, run: Parameters<RunStep>[2]) => {
    fn.calls += 1;
    const ctx: StepContext = {
      config,
      service: run.service,
      sources: {},
      signal: run.signal,
      progress: run.progress,
      now: () => new Date(),
    };
    return step.run(ctx, args);
  };
  fn.calls = 0;
  return fn;
}

export interface TestBot {
  readonly slack: SlackApp;
  /** The Slack endpoint, e.g. http://127.0.0.1:4321/slack/events. */
  readonly eventsUrl: string;
  readonly baseUrl: string;
  readonly log: ReturnType<typeof recordingLog>;
  readonly runStep: ReturnType<typeof runStepDirectly>;
  /** Requests that reached Bolt's middleware (a refused request never does). */
  readonly reachedBolt: () => number;
  stop(): Promise<void>;
}

/** The real Bolt app on 127.0.0.1 with its Web API pointed at the emulator. */
export async function startTestBot(
  emulator: SlackApiEmulator,
  opts: Partial<SlackAppOptions> & { steps?: readonly AnyStep[] } = {},
): Promise<TestBot> {
  const config = opts.config ?? testConfig();
  const log = recordingLog();
  const runStep = runStepDirectly(config);
  const slack = createSlackApp({
    config,
    renderer,
    runStep,
    logger: log,
    steps: [fakeStep()],
    listen: { host: '127.0.0.1', port: 0 },
    clientOptions: {
      slackApiUrl: `${emulator.url}/api/`,
      retryConfig: { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 20 },
    },
    ...opts,
  });
  let reached = 0;
  slack.app.use(async ({ next }) => {
    reached += 1;
    await next();
  });
  const address = await slack.start();
  const baseUrl = `http://${address.host}:${address.port}`;
  return {
    slack,
    baseUrl,
    eventsUrl: `${baseUrl}/slack/events`,
    log,
    runStep,
    reachedBolt: () => reached,
    async stop() {
      await slack.shutdown(5000);
    },
  };
}

/** Waits for background work started by the bot's acknowledged commands. */
export async function settle(bot: TestBot): Promise<void> {
  const interrupted = await bot.slack.inFlight.drain(15_000);
  if (interrupted.length)
    throw new Error(`work did not finish: ${interrupted.map((w) => w.describe).join('; ')}`);
}

/** Every string inside a Slack message (text and blocks), for assertions on what the user sees. */
export function visibleText(m: { text?: unknown; blocks?: unknown }): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(m.text);
  walk(m.blocks);
  return out.join('\n');
}
