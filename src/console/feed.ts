import type { ServerResponse } from 'node:http';
import { type FileView, messageBodyToHtml, type RenderContext } from './render-html.ts';
import type { EmulatedMessage } from './slack-api-emulator.ts';
import { CONSOLE_CHANNEL, CONSOLE_USERS } from './workspace.ts';

/** What the page gets for one thing to show. */
export interface ConsoleItem {
  /** "m:<channel>:<ts>" for a channel message, "e:<n>" for an ephemeral one, "c:<n>" for a typed command. */
  readonly key: string;
  /** Raised on every change; the page keeps the newest. */
  readonly version: number;
  /** Order of first appearance. */
  readonly seq: number;
  readonly kind: 'message' | 'ephemeral' | 'command';
  readonly channel: string;
  readonly ts?: string;
  /** The thread it belongs in (replies and ephemeral answers in a thread). */
  readonly threadTs?: string;
  /** Ephemeral and command items: the one user who sees them. */
  readonly user?: string;
  readonly author: string;
  readonly time: string;
  readonly edited: boolean;
  /** Escaped HTML of the body. */
  readonly html: string;
  /** The command as typed (command items). */
  readonly text?: string;
}

/** An item as the console holds it: what the page sees, and what a click on one of its buttons needs. */
export interface Held {
  item: ConsoleItem;
  blocks: readonly unknown[];
  text: string;
}

export interface EphemeralView {
  readonly channel: string;
  readonly user: string;
  readonly text: string;
  readonly blocks?: readonly unknown[];
  readonly threadTs?: string;
}

/**
 * What the page shows: every item the console holds, drawn into HTML (render-html.ts, everything
 * escaped) and streamed to the open pages over Server-Sent Events as it appears or changes.
 */
export interface Feed {
  /** A message in the emulated channel, posted or updated. */
  showMessage(m: EmulatedMessage): void;
  /** An answer only `user` sees. */
  showEphemeral(e: EphemeralView): void;
  /** A command as typed at the page, by `user`. */
  showCommand(c: {
    readonly channel: string;
    readonly user: string;
    readonly author: string;
    readonly typed: string;
  }): void;
  get(key: string): Held | undefined;
  /** Every item, in order of first appearance. */
  items(): ConsoleItem[];
  /** Serves GET /console/events: everything held so far, then each change as it happens. */
  stream(res: ServerResponse): void;
  /** Ends every open stream. */
  close(): void;
}

const renderContext: RenderContext = {
  users: Object.fromEntries([...CONSOLE_USERS.map((u) => [u.id, u.name]), ['U0AEGISBOT', 'aegis']]),
  channels: { [CONSOLE_CHANNEL.id]: CONSOLE_CHANNEL.name },
};

/**
 * The most items the console holds (and streams to a page that opens): the newest. An older item's
 * buttons can no longer be clicked; its report is still in the terminal that asked for it, if any.
 */
export const CONSOLE_HISTORY = 500;

/** The most bytes of uploaded files (charts, profiles, dumps) the console keeps: the newest. */
export const CONSOLE_FILE_BYTES = 32 * 2 ** 20;

export function createFeed(maxItems: number = CONSOLE_HISTORY): Feed {
  const held = new Map<string, Held>();
  const clients = new Set<ServerResponse>();
  let seq = 0;
  let ephemeralSeq = 0;

  const publish = (h: Held) => {
    held.set(h.item.key, h);
    // a Map iterates in insertion order: the first keys are the oldest items
    for (const key of held.keys()) {
      if (held.size <= maxItems) break;
      held.delete(key);
    }
    const data = `event: item\ndata: ${JSON.stringify(h.item)}\n\n`;
    for (const c of clients) c.write(data);
  };
  const inOrder = () => [...held.values()].sort((a, b) => a.item.seq - b.item.seq);

  return {
    showMessage(m) {
      const key = `m:${m.channel}:${m.ts}`;
      const previous = held.get(key);
      const blocks = m.blocks ?? [];
      publish({
        blocks,
        text: m.text,
        item: {
          key,
          version: (previous?.item.version ?? 0) + 1,
          seq: previous?.item.seq ?? ++seq,
          kind: 'message',
          channel: m.channel,
          ts: m.ts,
          ...(m.threadTs ? { threadTs: m.threadTs } : {}),
          author: 'aegis',
          time: previous?.item.time ?? new Date().toISOString(),
          edited: m.history.length > 0,
          html: messageBodyToHtml({ text: m.text, blocks, files: filesOf(m) }, renderContext),
        },
      });
    },
    showEphemeral(e) {
      ephemeralSeq += 1;
      const ts = `${Math.floor(Date.now() / 1000)}.${String(900_000 + ephemeralSeq).padStart(6, '0')}`;
      const blocks = e.blocks ?? [];
      publish({
        blocks,
        text: e.text,
        item: {
          key: `e:${ephemeralSeq}`,
          version: 1,
          seq: ++seq,
          kind: 'ephemeral',
          channel: e.channel,
          ts,
          ...(e.threadTs ? { threadTs: e.threadTs } : {}),
          user: e.user,
          author: 'aegis',
          time: new Date().toISOString(),
          edited: false,
          html: messageBodyToHtml({ text: e.text, blocks }, renderContext),
        },
      });
    },
    showCommand(c) {
      publish({
        blocks: [],
        text: c.typed,
        item: {
          key: `c:${++seq}`,
          version: 1,
          seq,
          kind: 'command',
          channel: c.channel,
          user: c.user,
          author: c.author,
          time: new Date().toISOString(),
          edited: false,
          html: '',
          text: c.typed,
        },
      });
    },
    get: (key) => held.get(key),
    items: () => inOrder().map((h) => h.item),
    stream(res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 1000\n\n');
      for (const h of inOrder()) res.write(`event: item\ndata: ${JSON.stringify(h.item)}\n\n`);
      clients.add(res);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      res.on('close', () => {
        clearInterval(ping);
        clients.delete(res);
      });
    },
    close() {
      for (const c of clients) c.end();
      clients.clear();
    },
  };
}

/** The message's files as links to GET /console/files/<id>/<name>. */
function filesOf(m: EmulatedMessage): FileView[] {
  return (m.files ?? []).map((f) => ({
    id: f.id,
    name: f.name,
    title: f.title,
    size: f.size,
    url: `/console/files/${encodeURIComponent(f.id)}/${encodeURIComponent(f.name)}`,
  }));
}
