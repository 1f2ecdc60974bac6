/**
 * Text helpers for Slack mrkdwn. Everything that comes from a source, a user or a config file passes
 * through `escapeMrkdwn` before it lands in mrkdwn, so it can never form a mention, a link or a
 * broadcast such as <!channel>.
 */

const BROADCAST = /@(channel|here|everyone)\b/gi;
const ZERO_WIDTH_SPACE = '\u200b';

/** Escapes &, < and > (Slack's control characters) and defuses plain @channel/@here/@everyone. */
export function escapeMrkdwn(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(BROADCAST, `@${ZERO_WIDTH_SPACE}$1`);
}

/** Text for inside a ``` block: escaped, and a ``` in the text cannot close the block early. */
export function escapeCode(text: string): string {
  return escapeMrkdwn(text).replace(/```/g, `\`${ZERO_WIDTH_SPACE}\`${ZERO_WIDTH_SPACE}\``);
}

/** Text for inside `inline code`: one line, escaped, no backticks. */
export function escapeInlineCode(text: string): string {
  return escapeMrkdwn(oneLine(text)).replace(/`/g, "'");
}

/** Collapses whitespace (newlines included) to single spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Cuts at a code-unit index without leaving half a surrogate pair behind. */
function cut(text: string, length: number): string {
  if (length <= 0) return '';
  let end = Math.min(length, text.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** Plain text shortened to `max` characters, ending in "…" when shortened. */
export function truncatePlain(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${cut(text, max - 1)}…`;
}

/** The marker shown where output was cut; the file holds the rest. */
export function truncationMarker(filename: string): string {
  return `… (truncated, full output in the thread as ${escapeMrkdwn(filename)})`;
}

/**
 * Shortens mrkdwn to at most `max` characters, ending with `marker`. Cuts at a line end when one is
 * near, never inside an entity (&amp;) or a <link>, and closes a ``` block the cut left open.
 */
export function truncateMrkdwn(text: string, max: number, marker: string): string {
  if (text.length <= max) return text;
  const room = max - marker.length - 5; // "\n```" + "\n"
  let head = cut(text, room);
  const newline = head.lastIndexOf('\n');
  if (newline > room * 0.6) head = head.slice(0, newline);
  head = head.replace(/&[a-z]{0,4}$/, '');
  if (head.lastIndexOf('<') > head.lastIndexOf('>')) head = head.slice(0, head.lastIndexOf('<'));
  if ((head.match(/```/g) ?? []).length % 2 === 1) head = `${head}\n\`\`\``;
  return `${head}\n${marker}`;
}

/** A Slack link when the URL is http(s) or mailto; otherwise escaped text, so no URL can form a mention. */
export function link(url: string, label: string): string {
  const safeLabel = escapeMrkdwn(oneLine(label)) || escapeMrkdwn(url);
  if (!/^(https?:\/\/|mailto:)[^\s]+$/i.test(url)) return `${safeLabel} (${escapeMrkdwn(url)})`;
  const safeUrl = url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C');
  return `<${safeUrl}|${safeLabel}>`;
}

/** Lowercase a-z0-9 words joined by "-", for file names. */
export function slug(text: string, max = 48): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, max).replace(/-+$/, '') || 'output';
}
