import type { Attachment } from '../../../src/domain/finding.ts';

/** Every text object in a message (blocks, fields, context elements, buttons, confirm dialogs). */
export function textObjects(value: unknown): { type: string; text: string }[] {
  const out: { type: string; text: string }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') {
      out.push({ type: o.type, text: o.text });
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(value);
  return out;
}

export function mrkdwnTexts(value: unknown): string[] {
  return textObjects(value)
    .filter((t) => t.type === 'mrkdwn')
    .map((t) => t.text);
}

/** All buttons of all actions blocks, in order. */
export function buttons(blocks: readonly unknown[]): Record<string, unknown>[] {
  return blocks.flatMap((b) => {
    const block = b as { type: string; elements?: Record<string, unknown>[] };
    return block.type === 'actions' ? (block.elements ?? []) : [];
  });
}

export function fileText(files: readonly Attachment[], filename: string): string {
  const file = files.find((f) => f.filename === filename);
  if (!file) throw new Error(`no file ${filename} among ${files.map((f) => f.filename).join(', ')}`);
  if (typeof file.content !== 'string') throw new Error(`${filename} is binary`);
  return file.content;
}

/** A small deterministic PRNG (mulberry32) for generated inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
