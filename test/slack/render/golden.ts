import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Attachment } from '../../../src/domain/finding.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));
const FULL_CONTENT_LINES = 120;

/** Whether this run rewrites the golden files (`UPDATE_GOLDEN=1 npx vitest run test/slack/render`). */
export const updatingGolden = process.env.UPDATE_GOLDEN === '1';

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A file as the golden JSON shows it: short text in full (one line per entry), the rest by digest. */
export function describeFile(file: Attachment): Record<string, unknown> {
  const meta = {
    filename: file.filename,
    title: file.title,
    mimeType: file.mimeType,
    image: file.image ?? false,
  };
  if (typeof file.content !== 'string') {
    return { ...meta, bytes: file.content.byteLength, sha256: sha256(file.content) };
  }
  const lines = file.content.split('\n');
  if (lines.length <= FULL_CONTENT_LINES) return { ...meta, lines };
  return {
    ...meta,
    lineCount: lines.length,
    chars: file.content.length,
    sha256: sha256(file.content),
    head: lines.slice(0, 12),
  };
}

/** A rendered message in golden form: files described, everything else as produced. */
export function goldenForm(rendered: {
  text: string;
  blocks: unknown[];
  files?: readonly Attachment[];
}): unknown {
  const { files, ...rest } = rendered;
  return files === undefined ? rest : { ...rest, files: files.map(describeFile) };
}

/**
 * Compares `actual` with test/fixtures/golden/<name>.json (pretty-printed). With UPDATE_GOLDEN=1
 * the file is (re)written instead; a missing file fails the test and says how to create it.
 */
export function expectGolden(name: string, actual: unknown): void {
  const path = `${GOLDEN_DIR}${name}.json`;
  const json = `${JSON.stringify(actual, null, 2)}\n`;
  if (updatingGolden) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, json);
    return;
  }
  if (!existsSync(path)) {
    throw new Error(`golden file ${path} is missing: run UPDATE_GOLDEN=1 npx vitest run test/slack/render`);
  }
  expect(JSON.parse(json), `rendered output differs from ${name}.json (UPDATE_GOLDEN=1 rewrites it)`).toEqual(
    JSON.parse(readFileSync(path, 'utf8')),
  );
}
