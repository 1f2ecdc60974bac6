import { webApi } from '@slack/bolt';
import type { Config, Secrets } from '../config/load.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { slackPlatformError } from './errors.ts';

export interface SlackCheckOptions {
  readonly config: Config;
  /** Defaults to config.secrets. */
  readonly secrets?: Secrets;
  /** Defaults to config.slack.api_url, else Slack's. */
  readonly slackApiUrl?: string;
  readonly timeoutMs?: number;
}

const TOKEN_HINT =
  'set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...) from the app\'s "OAuth & Permissions" page, after installing the app to the workspace';

/**
 * `aegis doctor` for Slack: the bot token works (auth.test names the team and the bot user), and the
 * secret the configured mode needs is present. Never prints a token or a secret.
 */
export function createSlackCheck(opts: SlackCheckOptions): Checkable {
  const secrets = opts.secrets ?? opts.config.secrets;
  const slackApiUrl = opts.slackApiUrl ?? opts.config.slack.api_url;
  return {
    async check(signal) {
      return [
        await checkToken(secrets.slackBotToken, slackApiUrl, opts.timeoutMs ?? 5000, signal),
        modeSecret(opts.config, secrets),
      ];
    },
  };
}

async function checkToken(
  token: string | undefined,
  slackApiUrl: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<CheckResult> {
  const name = 'slack bot token';
  if (!token) return { name, ok: false, detail: 'SLACK_BOT_TOKEN is not set', hint: TOKEN_HINT };
  const client = new webApi.WebClient(token, {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: webApi.LogLevel.ERROR,
    timeout: timeoutMs,
  });
  const started = performance.now();
  try {
    const r = await abortable(client.auth.test(), signal);
    const ms = Math.round(performance.now() - started);
    return {
      name,
      ok: true,
      detail: `team "${r.team}" (${r.team_id}), bot user @${r.user} (${r.user_id}), ${ms} ms`,
    };
  } catch (error) {
    const code = slackPlatformError(error);
    const detail = code
      ? `auth.test answered ${code}`
      : `auth.test failed: ${redact(error instanceof Error ? error.message : String(error))}`;
    const hint = code
      ? TOKEN_HINT
      : `check that ${slackApiUrl ?? 'https://slack.com/api/'} is reachable from here (proxy, firewall, DNS)`;
    return { name, ok: false, detail, hint };
  }
}

function modeSecret(config: Config, secrets: Secrets): CheckResult {
  if (config.slack.mode === 'http') {
    return secrets.slackSigningSecret
      ? { name: 'slack signing secret', ok: true, detail: 'set (HTTP mode)' }
      : {
          name: 'slack signing secret',
          ok: false,
          detail: 'SLACK_SIGNING_SECRET is not set (needed in HTTP mode)',
          hint: 'copy the Signing Secret from the app\'s "Basic Information" page into SLACK_SIGNING_SECRET',
        };
  }
  const token = secrets.slackAppToken;
  if (token?.startsWith('xapp-')) return { name: 'slack app token', ok: true, detail: 'set (Socket Mode)' };
  return {
    name: 'slack app token',
    ok: false,
    detail: token
      ? 'SLACK_APP_TOKEN is not an app-level token (xapp-...)'
      : 'SLACK_APP_TOKEN is not set (needed in Socket Mode)',
    hint: 'create an app-level token with the connections:write scope ("Basic Information" page) and set SLACK_APP_TOKEN',
  };
}

/** Slack tokens never reach a report, even inside an error message. */
function redact(text: string): string {
  return text.replace(/xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g, '[redacted]');
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Error('check aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('check aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
