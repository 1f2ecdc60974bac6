import type { types } from '@slack/bolt';

/** The Block Kit shapes this renderer produces (types only: render/ loads nothing from Slack at run time). */
export type Block = types.KnownBlock;
export type SectionBlock = types.SectionBlock;
export type HeaderBlock = types.HeaderBlock;
export type ContextBlock = types.ContextBlock;
export type ActionsBlock = types.ActionsBlock;
export type DividerBlock = types.DividerBlock;
export type Button = types.Button;
export type MrkdwnElement = types.MrkdwnElement;
export type PlainTextElement = types.PlainTextElement;

/** A message as chat.postMessage / chat.update take it: `text` is the notification fallback. */
export interface RenderedMessage {
  readonly text: string;
  readonly blocks: Block[];
}

export function mrkdwn(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text };
}

export function plain(text: string): PlainTextElement {
  return { type: 'plain_text', text, emoji: true };
}

export function section(text: string, fields?: readonly string[]): SectionBlock {
  const block: SectionBlock = { type: 'section', text: mrkdwn(text) };
  if (fields && fields.length > 0) block.fields = fields.map(mrkdwn);
  return block;
}

export function fieldsSection(fields: readonly string[]): SectionBlock {
  return { type: 'section', fields: fields.map(mrkdwn) };
}

export function header(text: string): HeaderBlock {
  return { type: 'header', text: plain(text) };
}

export function context(texts: readonly string[]): ContextBlock {
  return { type: 'context', elements: texts.map(mrkdwn) };
}

export function divider(): DividerBlock {
  return { type: 'divider' };
}
