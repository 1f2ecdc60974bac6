/**
 * The test bed's cluster trusts every local connection, so a wrong password cannot fail there.
 * This file starts its own small PostgreSQL 15 with scram-sha-256 for TCP connections (and,
 * deliberately, without pg_stat_statements in shared_preload_libraries).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTools, freePort, waitFor } from '../../support/testbed.ts';
import { runDbStep } from './support.ts';

const execFileAsync = promisify(execFile);
const SUPERUSER_PASSWORD = 'super-secret-pw';
const READER_PASSWORD = 'right-password';

let dir: string;
let server: ChildProcess | undefined;
let exited: Promise<void> = Promise.resolve();
let port: number;

async function postgresIds(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

beforeAll(async () => {
  const { pgBin } = findTools();
  const ids = await postgresIds();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aegis-db-auth-'));
  const pwfile = path.join(dir, 'pw');
  await fsp.writeFile(pwfile, SUPERUSER_PASSWORD);
  if (ids.uid !== undefined && ids.gid !== undefined) {
    await fsp.chown(dir, ids.uid, ids.gid);
    await fsp.chown(pwfile, ids.uid, ids.gid);
  }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
  await execFileAsync(
    path.join(pgBin, 'initdb'),
    [
      '-D',
      path.join(dir, 'data'),
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      `--pwfile=${pwfile}`,
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ],
    { env, cwd: dir, ...ids },
  );
  port = await freePort();
  const log = fs.openSync(path.join(dir, 'postgres.log'), 'a');
  server = spawn(
    path.join(pgBin, 'postgres'),
    [
      '-D',
      path.join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ],
    { detached: true, stdio: ['ignore', log, log], env, cwd: dir, ...ids },
  );
  fs.closeSync(log);
  const child = server;
  exited = new Promise((resolve) => child.once('exit', () => resolve()));
  const adminUrl = `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`;
  await waitFor('the scram cluster to accept connections', async () => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE ROLE app_reader LOGIN PASSWORD '${READER_PASSWORD}' IN ROLE pg_monitor`);
  // Created, but the server was not started with the library: querying it fails.
  await admin.query('CREATE EXTENSION pg_stat_statements');
  await admin.end();
}, 60_000);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    process.kill(server.pid, 'SIGINT'); // fast shutdown of the cluster this file started
    await exited;
  }
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('credentials', () => {
  it('a wrong password gives a clear authentication finding', async () => {
    const { result } = await runDbStep(
      `postgres://app_reader:wrong-password@127.0.0.1:${port}/postgres`,
      'all',
    );
    const unavailable = result.findings.filter((f) => f.severity === 'unavailable');
    expect(unavailable.map((f) => f.title)).toEqual(["Database refused the bot's credentials"]);
    expect(unavailable[0]?.summary).toContain(
      `wrong password for 127.0.0.1:${port}/postgres: password authentication failed for user "app_reader"`,
    );
    expect(unavailable[0]?.summary).toContain('pg_hba.conf');
    expect(JSON.stringify(result)).not.toContain('wrong-password');
    expect(result.headline).toMatch(/^database unavailable \(auth\): /);
  });

  it('the right password gets in, and an extension that is not preloaded says to add it to shared_preload_libraries', async () => {
    const { result } = await runDbStep(
      `postgres://app_reader:${READER_PASSWORD}@127.0.0.1:${port}/postgres`,
      'slow',
    );
    expect(result.findings.find((f) => f.id === 'db.slow.unavailable')).toMatchObject({
      title: 'pg_stat_statements is not loaded',
      summary: expect.stringContaining('shared_preload_libraries'),
    });
    expect(result.parts).toEqual([
      {
        name: 'slow queries',
        status: 'unavailable',
        reason: expect.stringMatching(/^pg_stat_statements not loaded: /),
      },
      { name: 'running queries', status: 'ok' },
    ]);
    expect(JSON.stringify(result)).not.toContain(READER_PASSWORD);
  });
});
