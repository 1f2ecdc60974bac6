import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How much of a too-large body is read and thrown away so that the client, still sending, can read the
 * 413 (closing a socket with unread data in it resets the connection). Beyond this the connection is cut.
 */
export const DRAIN_LIMIT = 32 * 1024 * 1024;

/**
 * The one way the bot's HTTP servers read a request body: at most `limit` bytes are kept; a larger
 * body is read to its end and discarded (up to drainLimit, then the connection is cut) and answered
 * 'too_large', so that answerTooLarge's 413 reaches the client instead of a connection reset.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  drainLimit: number = DRAIN_LIMIT,
): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > drainLimit) {
    // not worth reading: answered, then cut (answerTooLarge)
    req.pause();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: Buffer | 'too_large') => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
      if (size > drainLimit) settle('too_large');
    });
    req.on('end', () => settle(size > limit ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
  });
}

/**
 * 413 with Connection: close. When the body was drained the client reads it; when it was not (over the
 * drain limit) the connection is cut after the answer is written.
 */
export function answerTooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  body = 'request body too large\n',
): void {
  res.writeHead(413, {
    connection: 'close',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body, () => {
    if (!req.complete) req.destroy();
  });
}

/** A JSON answer ending in a newline, never cached: the ops routes and the Alertmanager webhook. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
