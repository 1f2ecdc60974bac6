import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import { DatabaseSource, toPostgresError } from '../../src/sources/postgres.ts';

const target = 'db.example:5432/aegis';

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('toPostgresError', () => {
  it.each([
    [
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      'unreachable',
      `cannot connect to ${target} (ECONNREFUSED)`,
    ],
    [
      Object.assign(new Error('getaddrinfo ENOTFOUND db'), { code: 'ENOTFOUND' }),
      'unreachable',
      `cannot connect to ${target} (ENOTFOUND)`,
    ],
    [new Error('timeout exceeded when trying to connect'), 'timeout', `no connection to ${target} in time`],
    [
      new Error('Connection terminated due to connection timeout'),
      'timeout',
      `no connection to ${target} in time`,
    ],
    [new Error('Query read timeout'), 'timeout', `${target} stopped answering`],
    [
      pgError('28P01', 'password authentication failed for user "r"'),
      'auth',
      `wrong password for ${target}: password authentication failed for user "r"`,
    ],
    [
      pgError('28000', 'role "r" does not exist'),
      'auth',
      `not allowed to connect to ${target}: role "r" does not exist`,
    ],
    [
      pgError('57014', 'canceling statement due to statement timeout'),
      'timeout',
      `statement timeout on ${target}: canceling statement due to statement timeout`,
    ],
    [
      pgError('55P03', 'canceling statement due to lock timeout'),
      'timeout',
      `lock timeout on ${target}: canceling statement due to lock timeout`,
    ],
    [
      pgError('53300', 'sorry, too many clients already'),
      'refused',
      `${target} has no free connection slots: sorry, too many clients already`,
    ],
    [
      pgError('3D000', 'database "aegis" does not exist'),
      'refused',
      'database "aegis" does not exist on db.example:5432',
    ],
    [
      pgError('57P03', 'the database system is starting up'),
      'unreachable',
      `${target} is not accepting connections: the database system is starting up`,
    ],
    [
      pgError('42501', 'permission denied for table x'),
      'refused',
      `permission denied on ${target}: permission denied for table x`,
    ],
  ])('maps %s', (error, reason, detail) => {
    const e = toPostgresError('postgres', 'read locks', target, error);
    expect(e).toBeInstanceOf(SourceError);
    expect(e.reason).toBe(reason);
    expect(e.message).toBe(`postgres: read locks failed: ${detail}`);
    expect(e.cause).toBe(error);
  });

  it('passes a SourceError through unchanged', () => {
    const e = new SourceError('postgres', 'x', 'auth', 'y');
    expect(toPostgresError('postgres', 'z', target, e)).toBe(e);
  });
});

describe('DatabaseSource.forService', () => {
  const yaml = `
services:
  - name: aegis-api
    default: true
    deployment: aegis-api
    database: { url_env: AEGIS_DB_URL }
  - name: billing
    deployment: billing
`;

  it('says which environment variable is missing', () => {
    const config = parseConfig(yaml, 't.yml', {});
    expect(() => DatabaseSource.forService(config, config.services[0] as never)).toThrowError(
      /environment variable AEGIS_DB_URL is not set/,
    );
  });

  it('says when a service has no database', () => {
    const config = parseConfig(yaml, 't.yml', { AEGIS_DB_URL: 'postgres://r@h/d' });
    expect(() => DatabaseSource.forService(config, config.services[1] as never)).toThrowError(AppError);
  });

  it('names its target without the password, and takes the timeouts from the configuration', async () => {
    const config = parseConfig(yaml, 't.yml', {
      AEGIS_DB_URL: 'postgres://reader:s3cret@db.internal:6432/aegis?application_name=not-the-bot',
    });
    const source = DatabaseSource.forService(config, config.services[0] as never);
    try {
      expect(source.target).toBe('db.internal:6432/aegis');
      expect(source.database).toBe('aegis');
      expect(JSON.stringify(source)).not.toContain('s3cret');
      expect(source.timeouts).toEqual({
        connectMs: 5000,
        statementMs: 10_000,
        lockMs: 2000,
        idleInTransactionMs: 10_000,
      });
    } finally {
      await source.close();
    }
  });
});
