import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../domain/errors.ts';

export interface Listening {
  /** The page's URL, e.g. http://127.0.0.1:3000/. */
  readonly url: string;
  /** Every "host:port" the console answers as itself (the Host and Origin checks). */
  readonly own: ReadonlySet<string>;
}

/**
 * Listens on host:port. An address that is taken, forbidden or not this machine's is the user's to fix
 * (an AppError naming slack.port); `cleanUp` runs first on any failure.
 */
export async function listenOn(
  server: Server,
  host: string,
  port: number,
  cleanUp: () => Promise<void>,
): Promise<Listening> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await cleanUp();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new AppError(
        'config',
        `the local console cannot listen on ${host}:${port} (${code}): set slack.port in the configuration to a free port`,
        { cause: e },
      );
    }
    throw e;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const own = new Set([
    `${shownHost}:${address.port}`,
    `127.0.0.1:${address.port}`,
    `localhost:${address.port}`,
    `[::1]:${address.port}`,
  ]);
  return { url: `http://${isWildcard(host) ? '127.0.0.1' : shownHost}:${address.port}/`, own };
}

/** Every address of the machine: no Host check is possible. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
