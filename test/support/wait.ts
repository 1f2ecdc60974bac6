/**
 * Small helpers for tests that wait on something: a free loopback port, polling until a condition
 * holds. They start no outside program, so unit tests may use them (test/support/testbed.ts, which
 * starts Go, Prometheus and PostgreSQL, is for *.int.test.ts files only).
 */
import net from 'node:net';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free loopback TCP port, asked of the OS (listen on 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Thrown by a waitFor probe to give up at once (e.g. the process being waited for has exited). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Poll `probe` until it returns a value other than undefined/false, or fail after timeoutMs with
 * the last error or value seen. A probe that throws StopWaiting ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = `last answer: ${JSON.stringify(value)}`;
    } catch (error) {
      if (error instanceof StopWaiting) throw new Error(`gave up waiting for ${what}: ${error.message}`);
      last = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
    await sleep(intervalMs);
  }
}
