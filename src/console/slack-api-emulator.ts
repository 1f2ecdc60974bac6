import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerTooLarge, readBody } from '../lib/http-body.ts';

/**
 * An emulated Slack Web API on loopback, built from Slack's documented behaviour: the methods aegis-bot
 * calls, Slack's validation (tokens, channels, Block Kit limits), fault injection, and a record of every
 * call and message. Tests point Bolt's WebClient at `${url}/api/`; the local console reuses it to show
 * what the bot posted. It also serves the upload URLs it hands out and response_url endpoints.
 *
 * Its clients are programs on this machine (the bot's WebClient), never a browser: a request that a
 * browser sent (Origin or Sec-Fetch-* headers) or that names another Host (DNS rebinding) is refused
 * 403 before anything is recorded, so a web page open in the operator's browser cannot post into the
 * console's channel. The local console starts it with a per-process token.
 */

export interface EmulatedChannel {
  readonly id: string;
  readonly name: string;
  readonly isPrivate?: boolean;
  /** Whether the bot is a member (default true): posting where it is not answers not_in_channel. */
  readonly isMember?: boolean;
}

export interface EmulatedUser {
  readonly id: string;
  readonly name: string;
  readonly realName?: string;
  readonly isBot?: boolean;
  readonly tz?: string;
}

export interface EmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  /** Valid tokens (default one bot token, EMULATOR_BOT_TOKEN). */
  readonly tokens?: readonly string[];
  /** What apps.connections.open answers (Socket Mode's WebSocket URL); unset: the method fails. */
  readonly socketModeUrl?: string;
  readonly team?: { readonly id: string; readonly name: string; readonly domain: string };
  readonly bot?: { readonly userId: string; readonly botId: string; readonly name: string };
  readonly channels?: readonly EmulatedChannel[];
  readonly users?: readonly EmulatedUser[];
  /** User-group ID -> member user IDs. */
  readonly usergroups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Keep only the newest this many of each record (calls, messages, ephemeral messages, responses,
   * views, files), so that a long-running console does not grow; default: keep everything (tests).
   */
  readonly retain?: number;
  /**
   * Keep the content of uploaded files up to this many bytes in all, dropping the oldest files
   * beyond it (a chart is some 100 kB: a console's history of reports is mostly pictures).
   */
  readonly retainFileBytes?: number;
}

export const EMULATOR_BOT_TOKEN = 'xoxb-0000000000-emulated-bot-token';

export const DEFAULT_CHANNELS: readonly EmulatedChannel[] = [
  { id: 'C0INCIDENT', name: 'incident' },
  { id: 'C0GENERAL', name: 'general' },
  { id: 'C0OUTSIDE', name: 'outside', isMember: false },
  { id: 'G0PRIVATE', name: 'private-ops', isPrivate: true },
];

export const DEFAULT_USERS: readonly EmulatedUser[] = [
  { id: 'U0ONCALL', name: 'oncall', realName: 'On Call', tz: 'Europe/Berlin' },
  { id: 'U0ALICE', name: 'alice', realName: 'Alice SRE', tz: 'America/New_York' },
  { id: 'U0BOB', name: 'bob', realName: 'Bob Dev', tz: 'Asia/Tokyo' },
];

export interface RecordedCall {
  /** Web API method ("chat.postMessage"), or "upload" / "response_url" for those endpoints. */
  readonly method: string;
  /** Arguments as the method sees them: JSON fields (blocks, files, view) parsed; the token removed. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly token: string | undefined;
  /** Set once answered. */
  ok?: boolean;
  error?: string;
}

export interface EmulatedFile {
  readonly id: string;
  readonly name: string;
  readonly title: string;
  readonly size: number;
  readonly content: Buffer;
}

export interface EmulatedMessage {
  readonly channel: string;
  readonly ts: string;
  readonly threadTs?: string;
  readonly user: string;
  readonly botId: string;
  text: string;
  blocks?: unknown[];
  files?: EmulatedFile[];
  /** Earlier versions, oldest first, one per chat.update. */
  readonly history: { text: string; blocks?: unknown[] }[];
}

export interface EphemeralMessage {
  readonly channel: string;
  readonly user: string;
  readonly text: string;
  readonly blocks?: unknown[];
  readonly threadTs?: string;
}

export interface ResponseUrlPost {
  /** The id in the response_url (see responseUrl()). */
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface OpenedView {
  readonly triggerId: string;
  readonly view: Readonly<Record<string, unknown>>;
}

export interface MessageStore {
  /** Every message in posting order. */
  all(): EmulatedMessage[];
  /** Top-level messages of a channel. */
  inChannel(channel: string): EmulatedMessage[];
  /** Replies in the thread of `ts` (without the root). */
  thread(channel: string, ts: string): EmulatedMessage[];
  get(channel: string, ts: string): EmulatedMessage | undefined;
  readonly ephemeral: EphemeralMessage[];
}

export interface Fault {
  /** Slack's error code, e.g. "ratelimited", "channel_not_found", "internal_error". */
  readonly error: string;
  /** For ratelimited: seconds in Retry-After (HTTP 429). */
  readonly retryAfter?: number;
  /** HTTP status (default 429 for ratelimited, else 200 as Slack answers ok=false). */
  readonly status?: number;
}

/**
 * What changed in the emulated workspace, told to onChange listeners as it happens (after the call
 * that made it succeeded): the local console shows these.
 */
export type EmulatorChange =
  | { readonly kind: 'message'; readonly change: 'posted' | 'updated'; readonly message: EmulatedMessage }
  | { readonly kind: 'ephemeral'; readonly message: EphemeralMessage }
  | { readonly kind: 'response'; readonly response: ResponseUrlPost };

export interface SlackApiEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234; the Web API is at `${url}/api/`. */
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly messages: MessageStore;
  readonly responses: ResponseUrlPost[];
  readonly views: OpenedView[];
  readonly files: ReadonlyMap<string, EmulatedFile>;
  /** The next call of `method` fails with `fault` (queued: call it twice for two failures). */
  failNext(method: string, fault: Fault): void;
  /**
   * The next call of `method` whose arguments satisfy `when` is recorded, has no effect and is never
   * answered, as if Slack stopped answering: its caller waits until it times out, or dies waiting
   * (tests kill it there).
   */
  hangNext(method: string, when?: (args: Record<string, unknown>) => boolean): void;
  /** A response_url served here; what is posted to it lands in `responses`. */
  responseUrl(id?: string): string;
  /** Called after every answered call. Returns an unsubscribe function. */
  onCall(listener: (call: RecordedCall) => void): () => void;
  /** Called for every message posted or updated, ephemeral message, and response_url post. Returns an unsubscribe function. */
  onChange(listener: (change: EmulatorChange) => void): () => void;
  /** Forgets calls, messages, files, responses, views and pending faults and hangs. */
  reset(): void;
  stop(): Promise<void>;
}

type Args = Record<string, unknown>;
type Answer = { status?: number; headers?: Record<string, string>; body: Args };

class SlackApiError extends Error {
  readonly code: string;
  readonly extra: Args;
  constructor(code: string, extra: Args = {}) {
    super(code);
    this.code = code;
    this.extra = extra;
  }
}

/** Fields Slack takes as JSON when form-encoded. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'files', 'view', 'metadata']);

const BLOCK_TYPES = new Set([
  'section',
  'header',
  'divider',
  'actions',
  'context',
  'image',
  'input',
  'file',
  'rich_text',
  'video',
  'markdown',
  'table',
]);

/** Why Slack would answer invalid_blocks: empty when the blocks are acceptable. */
export function blockProblems(blocks: unknown, maxBlocks = 50): string[] {
  if (!Array.isArray(blocks)) return ['blocks must be an array'];
  const problems: string[] = [];
  if (blocks.length > maxBlocks)
    problems.push(`no more than ${maxBlocks} items allowed [json-pointer:/blocks]`);
  blocks.forEach((b: unknown, i) => {
    const at = `[json-pointer:/blocks/${i}]`;
    if (typeof b !== 'object' || b === null) {
      problems.push(`block must be an object ${at}`);
      return;
    }
    const block = b as Record<string, unknown>;
    const type = block.type;
    if (typeof type !== 'string' || !BLOCK_TYPES.has(type)) {
      problems.push(`unknown block type ${JSON.stringify(type)} ${at}`);
      return;
    }
    if (typeof block.block_id === 'string' && block.block_id.length > 255) {
      problems.push(`block_id must be at most 255 characters ${at}`);
    }
    const text = block.text as { type?: unknown; text?: unknown } | undefined;
    const textLength = typeof text?.text === 'string' ? text.text.length : 0;
    if (type === 'section') {
      const fields = block.fields;
      if (!text && !Array.isArray(fields)) problems.push(`section needs text or fields ${at}`);
      if (textLength > 3000)
        problems.push(`must be less than 3001 characters [json-pointer:/blocks/${i}/text/text]`);
      if (Array.isArray(fields)) {
        if (fields.length > 10) problems.push(`no more than 10 fields allowed ${at}`);
        fields.forEach((f: { text?: unknown }, j) => {
          if (typeof f?.text === 'string' && f.text.length > 2000) {
            problems.push(`must be less than 2001 characters [json-pointer:/blocks/${i}/fields/${j}/text]`);
          }
        });
      }
    }
    if (type === 'header') {
      if (text?.type !== 'plain_text') problems.push(`header text must be plain_text ${at}`);
      if (textLength > 150)
        problems.push(`must be less than 151 characters [json-pointer:/blocks/${i}/text/text]`);
    }
    if (type === 'markdown' && typeof block.text === 'string' && block.text.length > 12000) {
      problems.push(`must be less than 12001 characters [json-pointer:/blocks/${i}/text]`);
    }
    if (type === 'actions') {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) problems.push(`actions needs elements ${at}`);
      else if (elements.length > 25)
        problems.push(`no more than 25 items allowed [json-pointer:/blocks/${i}/elements]`);
    }
    if (type === 'context') {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) problems.push(`context needs elements ${at}`);
      else if (elements.length > 10)
        problems.push(`no more than 10 items allowed [json-pointer:/blocks/${i}/elements]`);
    }
    if (type === 'image') {
      if (typeof block.alt_text !== 'string') problems.push(`image needs alt_text ${at}`);
      else if (block.alt_text.length > 2000)
        problems.push(`alt_text must be less than 2001 characters ${at}`);
    }
  });
  return problems;
}

export async function start(options: EmulatorOptions = {}): Promise<SlackApiEmulator> {
  const tokens = new Set(options.tokens ?? [EMULATOR_BOT_TOKEN]);
  const team = options.team ?? { id: 'T0AEGIS', name: 'Aegis Emulated', domain: 'aegis-emulated' };
  const bot = options.bot ?? { userId: 'U0AEGISBOT', botId: 'B0AEGISBOT', name: 'aegis' };
  const channels = new Map((options.channels ?? DEFAULT_CHANNELS).map((c) => [c.id, c]));
  const users = new Map(
    [...(options.users ?? DEFAULT_USERS), { id: bot.userId, name: bot.name, isBot: true }].map((u) => [
      u.id,
      u,
    ]),
  );
  const usergroups = options.usergroups ?? { S0ONCALL: ['U0ONCALL'] };

  const retain = options.retain ?? Number.POSITIVE_INFINITY;
  /** Drops the oldest entries beyond `retain`. */
  const bounded = <T>(list: T[]): void => {
    if (list.length > retain) list.splice(0, list.length - retain);
  };
  const calls: RecordedCall[] = [];
  const all: EmulatedMessage[] = [];
  const ephemeral: EphemeralMessage[] = [];
  const responses: ResponseUrlPost[] = [];
  const views: OpenedView[] = [];
  const files = new Map<string, EmulatedFile & { uploaded: boolean }>();
  const faults = new Map<string, Fault[]>();
  const hangs: { method: string; when: (args: Args) => boolean }[] = [];
  const listeners = new Set<(call: RecordedCall) => void>();
  const changeListeners = new Set<(change: EmulatorChange) => void>();
  const changed = (change: EmulatorChange) => {
    for (const l of changeListeners) l(change);
  };
  let seq = 0;
  let url = '';
  const ownHosts = new Set<string>();

  const nextTs = () => {
    seq += 1;
    const micros = seq * 100;
    return `${1_700_000_000 + Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
  const nextId = (prefix: string) => `${prefix}${randomBytes(5).toString('hex').toUpperCase()}`;

  const messages: MessageStore = {
    all: () => [...all],
    inChannel: (channel) => all.filter((m) => m.channel === channel && !m.threadTs),
    thread: (channel, ts) => all.filter((m) => m.channel === channel && m.threadTs === ts),
    get: (channel, ts) => all.find((m) => m.channel === channel && m.ts === ts),
    ephemeral,
  };

  const channelFor = (id: unknown, needMember: boolean): EmulatedChannel => {
    if (typeof id !== 'string' || !id) throw new SlackApiError('channel_not_found');
    const c = channels.get(id);
    if (!c || (c.isPrivate && c.isMember === false)) throw new SlackApiError('channel_not_found');
    if (needMember && c.isMember === false) throw new SlackApiError('not_in_channel');
    return c;
  };
  const str = (args: Args, name: string, error = 'invalid_arguments'): string => {
    const v = args[name];
    if (typeof v !== 'string' || v === '') throw new SlackApiError(error, { detail: `missing ${name}` });
    return v;
  };
  const checkBlocks = (args: Args, max = 50) => {
    if (args.blocks === undefined) return;
    const problems = blockProblems(args.blocks, max);
    if (problems.length) {
      throw new SlackApiError('invalid_blocks', {
        errors: problems,
        response_metadata: { messages: problems },
      });
    }
  };
  const checkText = (args: Args) => {
    if (args.text === undefined && args.blocks === undefined && args.attachments === undefined) {
      throw new SlackApiError('no_text');
    }
    if (typeof args.text === 'string' && args.text.length > 40_000) throw new SlackApiError('msg_too_long');
  };
  const findMessage = (channel: string, ts: unknown) => {
    const m = typeof ts === 'string' ? messages.get(channel, ts) : undefined;
    if (!m) throw new SlackApiError('message_not_found');
    return m;
  };
  const post = (channel: string, args: Args, extra: Partial<EmulatedMessage> = {}): EmulatedMessage => {
    const threadTs = typeof args.thread_ts === 'string' && args.thread_ts ? args.thread_ts : undefined;
    const m: EmulatedMessage = {
      channel,
      ts: nextTs(),
      ...(threadTs ? { threadTs } : {}),
      user: bot.userId,
      botId: bot.botId,
      text: typeof args.text === 'string' ? args.text : '',
      ...(Array.isArray(args.blocks) ? { blocks: args.blocks } : {}),
      history: [],
      ...extra,
    };
    all.push(m);
    bounded(all);
    changed({ kind: 'message', change: 'posted', message: m });
    return m;
  };
  const messageJson = (m: EmulatedMessage) => ({
    type: 'message',
    user: m.user,
    bot_id: m.botId,
    text: m.text,
    ts: m.ts,
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.files ? { files: m.files.map(fileJson) } : {}),
  });
  const fileJson = (f: EmulatedFile) => ({
    id: f.id,
    name: f.name,
    title: f.title,
    size: f.size,
    url_private: `${url}/files/${f.id}/${encodeURIComponent(f.name)}`,
  });
  const channelJson = (c: EmulatedChannel) => ({
    id: c.id,
    name: c.name,
    is_channel: !c.isPrivate,
    is_group: Boolean(c.isPrivate),
    is_im: false,
    is_private: Boolean(c.isPrivate),
    is_member: c.isMember !== false,
    is_archived: false,
  });

  const methods: Record<string, (args: Args) => Args> = {
    'auth.test': () => ({
      url: `https://${team.domain}.slack.com/`,
      team: team.name,
      user: bot.name,
      team_id: team.id,
      user_id: bot.userId,
      bot_id: bot.botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      const c = channelFor(args.channel, true);
      checkText(args);
      checkBlocks(args);
      const m = post(c.id, args);
      return { channel: c.id, ts: m.ts, message: messageJson(m) };
    },
    'chat.update': (args) => {
      const c = channelFor(args.channel, true);
      checkText(args);
      checkBlocks(args);
      const m = findMessage(c.id, args.ts);
      m.history.push({ text: m.text, ...(m.blocks ? { blocks: m.blocks } : {}) });
      if (typeof args.text === 'string') m.text = args.text;
      if (Array.isArray(args.blocks)) m.blocks = args.blocks;
      changed({ kind: 'message', change: 'updated', message: m });
      return { channel: c.id, ts: m.ts, text: m.text, message: messageJson(m) };
    },
    'chat.postEphemeral': (args) => {
      const c = channelFor(args.channel, true);
      const user = str(args, 'user', 'user_not_in_channel');
      if (!users.has(user)) throw new SlackApiError('user_not_in_channel');
      checkText(args);
      checkBlocks(args);
      const e: EphemeralMessage = {
        channel: c.id,
        user,
        text: typeof args.text === 'string' ? args.text : '',
        ...(Array.isArray(args.blocks) ? { blocks: args.blocks } : {}),
        ...(typeof args.thread_ts === 'string' ? { threadTs: args.thread_ts } : {}),
      };
      ephemeral.push(e);
      bounded(ephemeral);
      changed({ kind: 'ephemeral', message: e });
      return { message_ts: nextTs() };
    },
    'chat.getPermalink': (args) => {
      const c = channelFor(args.channel, false);
      const m = findMessage(c.id, args.message_ts);
      const thread = m.threadTs ? `?thread_ts=${m.threadTs}&cid=${c.id}` : '';
      return {
        channel: c.id,
        permalink: `https://${team.domain}.slack.com/archives/${c.id}/p${m.ts.replace('.', '')}${thread}`,
      };
    },
    'files.getUploadURLExternal': (args) => {
      const filename = str(args, 'filename');
      const length = Number(args.length);
      if (!Number.isInteger(length) || length < 0)
        throw new SlackApiError('invalid_arguments', { detail: 'length' });
      const id = nextId('F');
      files.set(id, {
        id,
        name: filename,
        title: filename,
        size: length,
        content: Buffer.alloc(0),
        uploaded: false,
      });
      // files are kept in upload order: beyond the bound the oldest go (their messages show no file)
      for (const old of files.keys()) {
        if (files.size <= retain) break;
        files.delete(old);
      }
      return { upload_url: `${url}/upload/${id}`, file_id: id };
    },
    'files.completeUploadExternal': (args) => {
      const list = args.files;
      if (!Array.isArray(list) || list.length === 0)
        throw new SlackApiError('invalid_arguments', { detail: 'files' });
      const done = list.map((entry: { id?: unknown; title?: unknown }) => {
        const f = typeof entry?.id === 'string' ? files.get(entry.id) : undefined;
        if (!f?.uploaded) throw new SlackApiError('file_not_found');
        const title = typeof entry.title === 'string' && entry.title ? entry.title : f.name;
        const shared = { ...f, title };
        files.set(f.id, shared);
        return shared;
      });
      if (args.channel_id !== undefined) {
        const c = channelFor(args.channel_id, true);
        post(
          c.id,
          {
            thread_ts: args.thread_ts,
            text: typeof args.initial_comment === 'string' ? args.initial_comment : '',
          },
          {
            files: done.map(({ uploaded: _, ...f }) => f),
          },
        );
      }
      return { files: done.map((f) => ({ id: f.id, title: f.title, name: f.name, size: f.size })) };
    },
    'usergroups.users.list': (args) => {
      const id = str(args, 'usergroup', 'no_such_subteam');
      const members = usergroups[id];
      if (!members) throw new SlackApiError('no_such_subteam');
      return { users: [...members] };
    },
    'users.info': (args) => {
      const u = users.get(str(args, 'user', 'user_not_found'));
      if (!u) throw new SlackApiError('user_not_found');
      return {
        user: {
          id: u.id,
          team_id: team.id,
          name: u.name,
          real_name: u.realName ?? u.name,
          is_bot: Boolean(u.isBot),
          deleted: false,
          tz: u.tz ?? 'UTC',
          profile: { display_name: u.name, real_name: u.realName ?? u.name },
        },
      };
    },
    'conversations.info': (args) => ({ channel: channelJson(channelFor(args.channel, false)) }),
    'apps.connections.open': () => {
      if (!options.socketModeUrl) throw new SlackApiError('not_allowed_token_type');
      return { url: options.socketModeUrl };
    },
    'views.open': (args) => {
      const triggerId = str(args, 'trigger_id', 'invalid_trigger_id');
      const view = args.view;
      if (typeof view !== 'object' || view === null || Array.isArray(view)) {
        throw new SlackApiError('invalid_arguments', { detail: 'view' });
      }
      const v = view as Args;
      if (v.blocks !== undefined) checkBlocks({ blocks: v.blocks }, 100);
      views.push({ triggerId, view: v });
      bounded(views);
      return { view: { id: nextId('V'), team_id: team.id, ...v } };
    },
  };

  const record = (method: string, args: Args, token: string | undefined): RecordedCall => {
    const call: RecordedCall = { method, args, token };
    calls.push(call);
    bounded(calls);
    return call;
  };
  const injected = (method: string): Answer | undefined => {
    const queue = faults.get(method);
    const fault = queue?.shift();
    if (!fault) return undefined;
    if (fault.error === 'ratelimited') {
      return {
        status: fault.status ?? 429,
        headers: { 'retry-after': String(fault.retryAfter ?? 1) },
        body: { ok: false, error: 'ratelimited' },
      };
    }
    return { status: fault.status ?? 200, body: { ok: false, error: fault.error } };
  };
  const finish = (call: RecordedCall, answer: Answer): Answer => {
    call.ok = answer.body.ok === true;
    if (typeof answer.body.error === 'string') call.error = answer.body.error;
    for (const l of listeners) l(call);
    return answer;
  };

  const apiCall = async (method: string, req: IncomingMessage, raw: Buffer, query: URLSearchParams) => {
    let args: Args;
    try {
      args = await parseArgs(req, raw, query);
    } catch {
      return finish(record(method, {}, undefined), { body: { ok: false, error: 'invalid_form_data' } });
    }
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const token = bearer || (typeof args.token === 'string' ? args.token : undefined);
    const { token: _, ...rest } = args;
    const parsed: Args = {};
    let badJson: string | undefined;
    for (const [k, v] of Object.entries(rest)) {
      if (JSON_FIELDS.has(k) && typeof v === 'string') {
        try {
          parsed[k] = JSON.parse(v);
        } catch {
          badJson = k;
          parsed[k] = v;
        }
      } else parsed[k] = v;
    }
    const call = record(method, parsed, token);
    const hang = hangs.findIndex((h) => h.method === method && h.when(parsed));
    if (hang >= 0) {
      hangs.splice(hang, 1);
      return new Promise<Answer>(() => {});
    }
    const fault = injected(method);
    if (fault) return finish(call, fault);
    if (!token) return finish(call, { body: { ok: false, error: 'not_authed' } });
    if (!tokens.has(token)) return finish(call, { body: { ok: false, error: 'invalid_auth' } });
    const handler = methods[method];
    if (!handler) return finish(call, { status: 404, body: { ok: false, error: 'unknown_method' } });
    if (badJson) {
      const error = badJson === 'blocks' ? 'invalid_blocks' : 'invalid_arguments';
      return finish(call, { body: { ok: false, error, errors: [`${badJson} is not valid JSON`] } });
    }
    try {
      return finish(call, { body: { ok: true, ...handler(parsed) } });
    } catch (e) {
      if (e instanceof SlackApiError) return finish(call, { body: { ok: false, error: e.code, ...e.extra } });
      throw e;
    }
  };

  const retainFileBytes = options.retainFileBytes ?? Number.POSITIVE_INFINITY;
  /** Drops the oldest files (and their content in the messages that show them) beyond retainFileBytes. */
  const dropOldFiles = (keep: string) => {
    let total = 0;
    for (const f of files.values()) total += f.content.length;
    for (const [old, f] of files) {
      if (total <= retainFileBytes) break;
      if (old === keep) continue;
      files.delete(old);
      total -= f.content.length;
      for (const m of all) {
        if (m.files?.some((x) => x.id === old)) m.files = m.files.filter((x) => x.id !== old);
      }
    }
  };

  const upload = async (id: string, req: IncomingMessage, raw: Buffer) => {
    const call = record('upload', { file_id: id, bytes: raw.length }, undefined);
    const fault = injected('upload');
    if (fault) return finish(call, fault);
    const f = files.get(id);
    if (!f) return finish(call, { status: 404, body: { ok: false, error: 'file_not_found' } });
    const content = await uploadedContent(req, raw);
    files.set(id, { ...f, content, size: content.length, uploaded: true });
    dropOldFiles(id);
    return finish(call, { body: { ok: true } });
  };

  const respond = (id: string, raw: Buffer) => {
    let body: Args;
    try {
      body = JSON.parse(raw.toString('utf8')) as Args;
    } catch {
      return finish(record('response_url', { id }, undefined), {
        status: 400,
        body: { ok: false, error: 'invalid_json' },
      });
    }
    const call = record('response_url', { id, ...body }, undefined);
    const fault = injected('response_url');
    if (fault) return finish(call, fault);
    const response: ResponseUrlPost = { id, body };
    responses.push(response);
    bounded(responses);
    changed({ kind: 'response', response });
    return finish(call, { body: { ok: true } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'internal_error', detail: String(error) }));
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const refusal = browserOrForeignHost(req, ownHosts);
    if (refusal) {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      res.end(JSON.stringify({ ok: false, error: refusal }));
      return;
    }
    const raw = await readBody(req, BODY_LIMIT);
    if (raw === 'too_large') return answerTooLarge(req, res);
    let answer: Answer;
    const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(u.pathname);
    const up = /^\/upload\/([A-Z0-9]+)$/.exec(u.pathname);
    const resp = /^\/respond\/([A-Za-z0-9_-]+)$/.exec(u.pathname);
    if (api?.[1] && (req.method === 'POST' || req.method === 'GET'))
      answer = await apiCall(api[1], req, raw, u.searchParams);
    else if (up?.[1] && req.method === 'POST') answer = await upload(up[1], req, raw);
    else if (resp?.[1] && req.method === 'POST') answer = respond(resp[1], raw);
    else answer = { status: 404, body: { ok: false, error: 'not_found' } };
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json; charset=utf-8',
      ...answer.headers,
    });
    res.end(JSON.stringify(answer.body));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;
  ownHosts.add(`${host}:${address.port}`);
  if (address.address === '0.0.0.0' || address.address === '::') ownHosts.add('*');
  if (address.address === '127.0.0.1' || address.address === '::1') {
    for (const h of ['127.0.0.1', 'localhost', '[::1]']) ownHosts.add(`${h}:${address.port}`);
  }

  return {
    url,
    calls,
    messages,
    responses,
    views,
    files,
    failNext(method, fault) {
      const queue = faults.get(method) ?? [];
      queue.push(fault);
      faults.set(method, queue);
    },
    hangNext(method, when = () => true) {
      hangs.push({ method, when });
    },
    responseUrl(id = randomBytes(6).toString('hex')) {
      return `${url}/respond/${id}`;
    },
    onCall(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    reset() {
      calls.length = 0;
      all.length = 0;
      ephemeral.length = 0;
      responses.length = 0;
      views.length = 0;
      files.clear();
      faults.clear();
      hangs.length = 0;
    },
    stop() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** The largest request the emulator takes (Slack's own limits are smaller; uploads are the big ones). */
const BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Why a request must not be served: a browser sent it (Origin, Sec-Fetch-Site: a page's form post or
 * fetch), or it names a Host the emulator does not listen on (a DNS-rebinding page). Undefined when fine.
 */
function browserOrForeignHost(req: IncomingMessage, own: ReadonlySet<string>): string | undefined {
  if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) {
    return 'browser_requests_refused';
  }
  if (!own.has('*') && !own.has(String(req.headers.host ?? '').toLowerCase())) return 'unexpected_host';
  return undefined;
}

async function parseArgs(req: IncomingMessage, raw: Buffer, query: URLSearchParams): Promise<Args> {
  const args: Args = Object.fromEntries(query);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (raw.length === 0) return args;
  if (type === 'application/json') {
    const body = JSON.parse(raw.toString('utf8')) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
    return { ...args, ...(body as Args) };
  }
  if (type === 'multipart/form-data') {
    const form = await new Response(raw, {
      headers: { 'content-type': String(req.headers['content-type']) },
    }).formData();
    for (const [k, v] of form) args[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer());
    return args;
  }
  return { ...args, ...Object.fromEntries(new URLSearchParams(raw.toString('utf8'))) };
}

/** Upload URLs take the raw bytes, or a multipart form with one file part (the WebClient sends that). */
async function uploadedContent(req: IncomingMessage, raw: Buffer): Promise<Buffer> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.toLowerCase().startsWith('multipart/form-data')) return raw;
  const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
  for (const [, v] of form) if (typeof v !== 'string') return Buffer.from(await v.arrayBuffer());
  const first = [...form.values()][0];
  return Buffer.from(typeof first === 'string' ? first : '');
}
