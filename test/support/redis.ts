/**
 * A real Redis for the checklist's tests: the Debian `redis-server` binary on a free loopback port,
 * no persistence (--save "" --appendonly no), in its own temp dir and process group, stopped (and
 * the dir removed) by stop() or, as a last resort, when the test process exits.
 * A missing binary fails the test naming the package: never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, TestbedSetupError, waitFor } from './testbed.ts';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Send one command and read its reply as text (test setup only: SET, GET, CONFIG SET …). */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function findRedisServer(): string {
  const override = process.env.AEGIS_TESTBED_REDIS;
  const dirs = override ? [] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const candidates = override
    ? [override]
    : [...dirs.map((d) => path.join(d, 'redis-server')), '/usr/bin/redis-server'];
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new TestbedSetupError(
    'The checklist tests need `redis-server`, which is not installed: apt-get install -y redis-server. Tests are never skipped for this.',
  );
}

const live = new Set<ChildProcess>();
let hooked = false;

/** One short connection per command: enough for test setup. */
function rawCommand(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('redis command timed out')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      // a complete simple reply, integer, error, or bulk string
      const first = data[0];
      if ((first === '+' || first === '-' || first === ':') && data.endsWith('\r\n')) socket.end();
      else if (first === '$') {
        const eol = data.indexOf('\r\n');
        const len = Number(data.slice(1, eol));
        if (len < 0 || Buffer.byteLength(data) >= eol + 2 + len + 2) socket.end();
      } else if (first === '*' && data.endsWith('\r\n')) socket.end();
    });
    socket.on('end', () => resolve(data));
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export async function startRedis(): Promise<RedisServer> {
  const binary = findRedisServer();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aegis-redis-'));
  const port = await freePort();
  const logFile = path.join(dir, 'redis.log');
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  fs.closeSync(fd);
  child.unref();
  live.add(child);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) {
        try {
          if (c.pid) process.kill(-c.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
  }
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exit;
    }
    await fsp.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'redis-server to answer PING',
      async () => {
        if (exited)
          throw new Error(`redis-server exited: ${await fsp.readFile(logFile, 'utf8').catch(() => '')}`);
        return (await rawCommand(port, ['PING'])).startsWith('+PONG');
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    command: (...args) => rawCommand(port, args),
    stop,
  };
}
