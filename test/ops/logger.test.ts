import { describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import { createLogger, scrubSecrets } from '../../src/ops/logger.ts';

const BOT_TOKEN = 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx';
const APP_TOKEN = 'xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef';
const DB_PASSWORD = 'S3cr3t-db-pw';
const DB_URL = `postgres://aegis_ro:${DB_PASSWORD}@db.internal:5432/aegis`;
const BEARER = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => lines.push(s) } });
  return { logger, lines, text: () => lines.join('') };
}

function expectNoSecret(text: string) {
  for (const secret of [BOT_TOKEN, APP_TOKEN, DB_PASSWORD, BEARER, 'R0UT1NGKEY0123', 'hunter2']) {
    expect(text).not.toContain(secret);
  }
}

describe('scrubSecrets', () => {
  it('hides Slack bot, user and app tokens', () => {
    expect(scrubSecrets(`token ${BOT_TOKEN} and ${APP_TOKEN}`)).toBe('token xox*-*** and xapp-***');
    expect(scrubSecrets('xoxp-1-2-3-abc xoxa-2-x xoxs-9 xoxr-1 xoxo-1')).not.toMatch(/xox.-[0-9a-z]/);
  });

  it('hides the password of a postgres URL but keeps user, host and database', () => {
    expect(scrubSecrets(`connect ${DB_URL} failed`)).toBe(
      'connect postgres://aegis_ro:***@db.internal:5432/aegis failed',
    );
    expect(scrubSecrets('postgresql://u:p%40ss@h/db')).toBe('postgresql://u:***@h/db');
    expect(scrubSecrets('redis://:hunter2@redis:6379/0')).toBe('redis://:***@redis:6379/0');
  });

  it('hides bearer tokens and secrets in query strings and key=value text', () => {
    expect(scrubSecrets(`Authorization: Bearer ${BEARER}`)).toBe('Authorization: Bearer ***');
    expect(scrubSecrets('GET /x?token=abc123&page=2')).toBe('GET /x?token=***&page=2');
    expect(scrubSecrets('password=hunter2 user=bob')).toBe('password=*** user=bob');
    expect(scrubSecrets('routing_key: R0UT1NGKEY0123')).toBe('routing_key: ***');
  });

  it('hides secrets written as JSON inside a string, also JSON escaped inside JSON', () => {
    const json = JSON.stringify({
      routing_key: 'R0UT1NGKEY0123',
      token: 'tok-hunter2',
      password: 'hunter2',
      authorization: 'Basic aHVudGVyMg==',
      secret: 12345678,
      api_key: 'ak-hunter2',
      'x-api-key': 'xak-hunter2',
      routingKey: 'R0UT1NGKEY0123',
      event_action: 'trigger',
      max_tokens: 5,
    });
    const out = scrubSecrets(`PagerDuty answered 400: ${json}`);
    expect(JSON.parse(out.slice(out.indexOf('{')))).toEqual({
      routing_key: '***',
      token: '***',
      password: '***',
      authorization: '***',
      secret: '***',
      api_key: '***',
      'x-api-key': '***',
      routingKey: '***',
      event_action: 'trigger',
      max_tokens: 5,
    });
    expect(out).not.toMatch(/hunter2|R0UT1NGKEY|12345678/);
    const nested = scrubSecrets(JSON.stringify({ body: json }));
    expect(nested).not.toMatch(/hunter2|R0UT1NGKEY|12345678/);
    expect(nested).toContain('\\"event_action\\":\\"trigger\\"');
  });

  it('hides form-style routing_key=... and key names that end in a secret word', () => {
    expect(scrubSecrets('routing_key=R0UT1NGKEY0123&event_action=trigger')).toBe(
      'routing_key=***&event_action=trigger',
    );
    expect(scrubSecrets('sent slack_bot_token=hunter2 ok')).toBe('sent slack_bot_token=*** ok');
    expect(scrubSecrets(`{'token': 'hunter2'}`)).toBe(`{'token': '***'}`);
  });

  it('leaves ordinary text alone', () => {
    const text = 'P99 1.8 s CRITICAL, driven by /api/search (http://prometheus:9090, postgres://db/aegis)';
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with level, time and message', () => {
    const { logger, lines } = capture();
    logger.info({ step: 'latency' }, 'step finished');
    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({ level: 'info', msg: 'step finished', step: 'latency', name: 'aegis-bot' });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('when an object has token, secret, password, authorization or routing_key fields, their values are redacted', () => {
    const { logger, text } = capture();
    logger.info(
      {
        token: BOT_TOKEN,
        slack: { signingSecret: 'hunter2', appToken: APP_TOKEN },
        headers: { authorization: `Bearer ${BEARER}` },
        paging: { routing_key: 'R0UT1NGKEY0123' },
        deep: { a: { b: { c: { password: 'hunter2' } } } },
        db: { password: DB_PASSWORD },
      },
      'config loaded',
    );
    expectNoSecret(text());
    const line = JSON.parse(text());
    expect(line.token).toBe('[redacted]');
    expect(line.deep.a.b.c.password).toBe('[redacted]');
  });

  it('when a token or URL password sits in a message, a field value or an array, it is scrubbed', () => {
    const { logger, text } = capture();
    logger.warn({ url: DB_URL, notes: [`sent ${BOT_TOKEN}`] }, `calling Slack with ${BOT_TOKEN}`);
    logger.info('printf %s and %o', APP_TOKEN, { u: DB_URL });
    expectNoSecret(text());
    expect(text()).toContain('postgres://aegis_ro:***@db.internal:5432/aegis');
  });

  it('when an error carries a secret in its message, stack, cause or fields, none shows', () => {
    const { logger, text } = capture();
    const cause = new Error(`connect ECONNREFUSED ${DB_URL}`);
    const err = new SourceError(
      'postgres',
      'query pg_stat_statements',
      'unreachable',
      `cannot reach ${DB_URL}`,
      {
        cause,
      },
    );
    Object.assign(err, { config: { headers: { Authorization: `Bearer ${BEARER}` } }, token: BOT_TOKEN });
    logger.error(err);
    logger.error({ err, ref: 'abcd1234' }, 'internal error');
    logger.error({ err: new Error(`auth failed for ${APP_TOKEN}`) });
    expectNoSecret(text());
    const [first, second, third] = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first.msg).toBe(
      'postgres: query pg_stat_statements failed: cannot reach postgres://aegis_ro:***@db.internal:5432/aegis',
    );
    expect(first.err).toMatchObject({ type: 'SourceError', source: 'postgres', reason: 'unreachable' });
    expect(first.err.stack).toContain('SourceError');
    expect(first.err.cause.message).toContain('ECONNREFUSED');
    expect(second).toMatchObject({ msg: 'internal error', ref: 'abcd1234' });
    expect(third.msg).toBe('auth failed for xapp-***');
  });

  it('when a child logger is bound to a secret, the binding is scrubbed too', () => {
    const { logger, text } = capture();
    logger.child({ token: BOT_TOKEN, url: DB_URL }).info('child');
    logger
      .child({ step: 'db' })
      .child({ notes: `via ${DB_URL}` })
      .info('grandchild');
    expectNoSecret(text());
  });

  it('honours the level', () => {
    const { logger, lines } = capture('warn');
    logger.info('hidden');
    logger.warn('shown');
    expect(lines).toHaveLength(1);
  });
});
