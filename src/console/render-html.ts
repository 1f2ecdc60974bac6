/**
 * Block Kit to HTML for the local console: what the bot posts, drawn well enough to work from.
 * Pure: blocks in, an HTML string out. Every piece of text passes through escapeHtml (or is built
 * from escaped parts), so nothing a source, a user or the bot wrote can become markup: the page
 * inserts these strings as they are.
 *
 * Covered: header, section (text, fields, button or image accessory), context, divider, actions
 * (buttons with style and confirm dialog), image, markdown; mrkdwn with *bold*, _italic_, ~strike~,
 * `code`, ```code blocks```, <url|links>, <@user> and <#channel> mentions, <!date^…> and the
 * :emoji: shortcodes the renderer uses. Anything else is shown as "unsupported", never dropped
 * silently.
 */

import { formatBytes } from '../lib/format.ts';

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The shortcodes the bot's renderer uses, and a few common ones; an unknown one stays as typed. */
export const EMOJI: Readonly<Record<string, string>> = {
  alarm_clock: '⏰',
  arrows_counterclockwise: '🔄',
  ballot_box_with_check: '☑️',
  bar_chart: '📊',
  bell: '🔔',
  chart_with_upwards_trend: '📈',
  eyes: '👀',
  fire: '🔥',
  heavy_check_mark: '✔️',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  information_source: 'ℹ️',
  large_blue_circle: '🔵',
  large_green_circle: '🟢',
  large_orange_circle: '🟠',
  large_yellow_circle: '🟡',
  link: '🔗',
  lock: '🔒',
  mag: '🔍',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  page_facing_up: '📄',
  pager: '📟',
  paperclip: '📎',
  raised_hand: '✋',
  red_circle: '🔴',
  rotating_light: '🚨',
  stopwatch: '⏱️',
  warning: '⚠️',
  white_check_mark: '✅',
  white_circle: '⚪',
  x: '❌',
};

/**
 * The coloured circles carry a finding's severity: drawn with CSS, so they show in any browser,
 * also one without an emoji font.
 */
const DOTS: Readonly<Record<string, string>> = {
  red_circle: 'red',
  large_orange_circle: 'orange',
  large_yellow_circle: 'yellow',
  large_green_circle: 'green',
  large_blue_circle: 'blue',
  white_circle: 'white',
};

/** Replaces known :shortcodes: in already escaped text. */
function emoji(escaped: string): string {
  return escaped.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => {
    const dot = DOTS[name];
    if (dot) return `<span class="dot ${dot}" role="img" aria-label="${dot} circle"></span>`;
    return EMOJI[name] ?? whole;
  });
}

/** Slack's three entities back to characters (mrkdwn arrives with &amp; &lt; &gt; escaped). */
function slackUnescape(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export interface RenderContext {
  /** Display names of user IDs, for <@U…> mentions. */
  readonly users?: Readonly<Record<string, string>>;
  /** Names of channel IDs, for <#C…> mentions. */
  readonly channels?: Readonly<Record<string, string>>;
}

const SAFE_URL = /^(https?:\/\/|mailto:)[^\s"'<>]+$/i;

function safeUrl(url: string): string | undefined {
  return SAFE_URL.test(url) ? url : undefined;
}

function formatDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** One <…> token of mrkdwn: a link, a mention, a date, or a broadcast. */
function angleToken(inner: string, ctx: RenderContext): string {
  const [target = '', ...rest] = inner.split('|');
  const label = rest.join('|');
  const text = (t: string) => escapeHtml(slackUnescape(t));
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const name = label || ctx.users?.[id] || id;
    return `<span class="mention">@${text(name)}</span>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = label || ctx.channels?.[id] || id;
    return `<span class="mention">#${text(name)}</span>`;
  }
  if (target.startsWith('!date^')) {
    const seconds = Number(target.split('^')[1]);
    const shown = Number.isFinite(seconds) ? formatDate(seconds) : '';
    return `<time>${text(shown || label)}</time>`;
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    return `<span class="mention">@${text(label || id)}</span>`;
  }
  if (target.startsWith('!')) return `<span class="mention">@${text(label || target.slice(1))}</span>`;
  const url = safeUrl(slackUnescape(target));
  if (!url) return text(label || target);
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${emoji(text(label || target))}</a>`;
}

/** *bold*, _italic_ and ~strike~ on escaped text (the markers are not special in HTML). */
function emphasis(escaped: string): string {
  const around = (marker: string, tag: string, s: string) => {
    const m = marker === '*' ? '\\*' : marker;
    const re = new RegExp(`(^|[\\s(\\[{"'>])${m}([^${m}\\n]*[^\\s${m}])${m}(?=$|[\\s.,;:!?)\\]}"'<])`, 'g');
    return s.replace(re, (_w, before: string, body: string) => `${before}<${tag}>${body}</${tag}>`);
  };
  return around('~', 's', around('_', 'em', around('*', 'strong', escaped)));
}

/** Text outside code: links and mentions, then escaping, emphasis and emoji. */
function inline(text: string, ctx: RenderContext): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(/<([^<>\n]+)>/g)) {
    out += emphasis(emoji(escapeHtml(slackUnescape(text.slice(last, m.index)))));
    out += angleToken(m[1] as string, ctx);
    last = (m.index ?? 0) + m[0].length;
  }
  out += emphasis(emoji(escapeHtml(slackUnescape(text.slice(last)))));
  return out;
}

/** Inline `code` spans inside one non-block piece of text. */
function withInlineCode(text: string, ctx: RenderContext): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    out += inline(text.slice(last, m.index), ctx);
    out += `<code>${escapeHtml(slackUnescape(m[1] as string))}</code>`;
    last = (m.index ?? 0) + m[0].length;
  }
  return out + inline(text.slice(last), ctx);
}

/** Slack mrkdwn to HTML: ``` blocks, `code`, links, mentions, emphasis, :emoji:, line breaks. */
export function mrkdwnToHtml(text: string, ctx: RenderContext = {}): string {
  const parts = text.split('```');
  return parts
    .map((part, i) => {
      // odd pieces are inside a ``` block (an unclosed one runs to the end, as in Slack)
      if (i % 2 === 1)
        return `<pre>${escapeHtml(slackUnescape(part.replace(/^\n/, '').replace(/\n$/, '')))}</pre>`;
      return part
        .split('\n')
        .map((line) => {
          const quote = /^&gt; ?/.exec(line) ?? /^> ?/.exec(line);
          if (quote) return `<span class="quote">${withInlineCode(line.slice(quote[0].length), ctx)}</span>`;
          return withInlineCode(line, ctx);
        })
        .join('<br>');
    })
    .join('');
}

function plainToHtml(text: string, allowEmoji = true): string {
  const escaped = escapeHtml(text).replace(/\n/g, '<br>');
  return allowEmoji ? emoji(escaped) : escaped;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A text object: mrkdwn or plain_text. */
export function textObjectToHtml(t: unknown, ctx: RenderContext = {}): string {
  if (!isObject(t)) return '';
  if (t.type === 'mrkdwn') return mrkdwnToHtml(str(t.text), ctx);
  return plainToHtml(str(t.text), t.emoji !== false);
}

/** A button as the page draws it: what the click handler needs rides in data- attributes. */
function buttonToHtml(b: Json, where: { blockIndex: number; blockId: string }): string {
  const style = b.style === 'primary' || b.style === 'danger' ? ` ${b.style}` : '';
  const attrs: string[] = [
    `class="bk-button${style}"`,
    'type="button"',
    `data-action-id="${escapeHtml(str(b.action_id))}"`,
    `data-block-index="${where.blockIndex}"`,
    `data-block-id="${escapeHtml(where.blockId)}"`,
  ];
  const url = safeUrl(str(b.url));
  if (url) attrs.push(`data-url="${escapeHtml(url)}"`);
  if (isObject(b.confirm)) {
    const c = b.confirm;
    const confirm = {
      title: str(isObject(c.title) ? c.title.text : ''),
      text: str(isObject(c.text) ? c.text.text : ''),
      confirm: str(isObject(c.confirm) ? c.confirm.text : '') || 'Yes',
      deny: str(isObject(c.deny) ? c.deny.text : '') || 'Cancel',
      style: c.style === 'danger' ? 'danger' : 'primary',
    };
    attrs.push(`data-confirm="${escapeHtml(JSON.stringify(confirm))}"`);
  }
  return `<button ${attrs.join(' ')}>${textObjectToHtml(b.text)}</button>`;
}

function imageToHtml(url: string, alt: string, cls: string): string {
  const safe = safeUrl(url);
  if (!safe) return `<span class="${cls} missing">${escapeHtml(alt || 'image')}</span>`;
  return `<img class="${cls}" src="${escapeHtml(safe)}" alt="${escapeHtml(alt)}" loading="lazy">`;
}

function elementToHtml(
  e: unknown,
  where: { blockIndex: number; blockId: string },
  ctx: RenderContext,
): string {
  if (!isObject(e)) return '';
  switch (e.type) {
    case 'button':
      return buttonToHtml(e, where);
    case 'image':
      return imageToHtml(str(e.image_url), str(e.alt_text), 'bk-context-image');
    case 'mrkdwn':
    case 'plain_text':
      return `<span>${textObjectToHtml(e, ctx)}</span>`;
    default:
      return `<span class="unsupported">[${escapeHtml(str(e.type) || 'element')} is not shown in the console]</span>`;
  }
}

/** Slack assigns a block_id to blocks that have none; the console uses the position. */
export function blockIdOf(block: unknown, index: number): string {
  return isObject(block) && typeof block.block_id === 'string' && block.block_id
    ? block.block_id
    : `b${index}`;
}

export function blockToHtml(block: unknown, index: number, ctx: RenderContext = {}): string {
  if (!isObject(block)) return '';
  const where = { blockIndex: index, blockId: blockIdOf(block, index) };
  switch (block.type) {
    case 'header':
      return `<div class="bk-header">${textObjectToHtml(block.text, ctx)}</div>`;
    case 'divider':
      return '<hr class="bk-divider">';
    case 'section': {
      const text = block.text ? `<div class="bk-text">${textObjectToHtml(block.text, ctx)}</div>` : '';
      const fields = Array.isArray(block.fields)
        ? `<div class="bk-fields">${block.fields.map((f) => `<div class="bk-field">${textObjectToHtml(f, ctx)}</div>`).join('')}</div>`
        : '';
      const acc = isObject(block.accessory)
        ? `<div class="bk-accessory">${
            block.accessory.type === 'image'
              ? imageToHtml(str(block.accessory.image_url), str(block.accessory.alt_text), 'bk-thumb')
              : elementToHtml(block.accessory, where, ctx)
          }</div>`
        : '';
      return `<div class="bk-section"><div class="bk-main">${text}${fields}</div>${acc}</div>`;
    }
    case 'context': {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      return `<div class="bk-context">${elements.map((e) => elementToHtml(e, where, ctx)).join('')}</div>`;
    }
    case 'actions': {
      const elements = Array.isArray(block.elements) ? block.elements : [];
      return `<div class="bk-actions">${elements.map((e) => elementToHtml(e, where, ctx)).join('')}</div>`;
    }
    case 'image': {
      const title = isObject(block.title)
        ? `<div class="bk-image-title">${textObjectToHtml(block.title)}</div>`
        : '';
      return `<figure class="bk-image">${title}${imageToHtml(str(block.image_url), str(block.alt_text), 'bk-img')}</figure>`;
    }
    case 'markdown':
      return `<div class="bk-text">${mrkdwnToHtml(str(block.text), ctx)}</div>`;
    default:
      return `<div class="unsupported">[${escapeHtml(str(block.type) || 'block')} block is not shown in the console]</div>`;
  }
}

export function blocksToHtml(blocks: readonly unknown[], ctx: RenderContext = {}): string {
  return blocks.map((b, i) => blockToHtml(b, i, ctx)).join('');
}

export interface FileView {
  readonly id: string;
  readonly name: string;
  readonly title: string;
  readonly size: number;
  /** Where the console serves it. */
  readonly url: string;
}

const IMAGE_FILE = /\.(png|jpe?g|gif|webp)$/i;

export function fileToHtml(f: FileView): string {
  const title = escapeHtml(f.title || f.name);
  const url = escapeHtml(f.url);
  if (IMAGE_FILE.test(f.name)) {
    return `<figure class="file image"><figcaption>${title}</figcaption><a href="${url}" target="_blank" rel="noopener"><img src="${url}" alt="${title}" loading="lazy"></a></figure>`;
  }
  return `<div class="file"><span class="file-icon">📄</span><a href="${url}" download="${escapeHtml(f.name)}">${title}</a> <span class="size">${escapeHtml(formatBytes(f.size, 'listing'))}</span></div>`;
}

export interface MessageView {
  readonly text: string;
  readonly blocks?: readonly unknown[];
  readonly files?: readonly FileView[];
}

/**
 * A message's body: its blocks, or (as Slack does when there are none) its text as mrkdwn; then its
 * files, images inline and others as download links.
 */
export function messageBodyToHtml(m: MessageView, ctx: RenderContext = {}): string {
  const body =
    m.blocks && m.blocks.length > 0
      ? blocksToHtml(m.blocks, ctx)
      : m.text
        ? `<div class="bk-text">${mrkdwnToHtml(m.text, ctx)}</div>`
        : '';
  const files = m.files?.length ? `<div class="files">${m.files.map(fileToHtml).join('')}</div>` : '';
  return body + files;
}
