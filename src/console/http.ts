import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../lib/http-body.ts';

/** The largest JSON body the console takes from its page. */
const JSON_LIMIT = 64 * 1024;

/** A refusal with the HTTP status the page gets, and a message it shows. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The request's JSON object body: JSON only, at most JSON_LIMIT bytes, an object at the top. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'send JSON (content-type: application/json)');
  // read to its end even when too large, so that the page reads the 413 rather than a reset
  const body = await readBody(req, JSON_LIMIT);
  if (body === 'too_large') throw new HttpError(413, 'request too large');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}
