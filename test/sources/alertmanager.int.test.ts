import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, SourceError } from '../../src/domain/errors.ts';
import {
  AlertmanagerSource,
  alertmanagerAuthFromEnv,
  type NewSilence,
  summarizeAlertmanagerError,
} from '../../src/sources/alertmanager.ts';
import { type AlertmanagerServer, startAlertmanager } from '../support/alertmanager.ts';
import { freePort } from '../support/testbed.ts';

// bcrypt (cost 4) of WEB_PASSWORD, for Alertmanager's --web.config.file
const WEB_USER = 'aegis';
const WEB_PASSWORD = 'aegis-test-password';
const WEB_HASH = '$2b$04$QeS3rKzxkLpAMOn.82..7uEZwEywyS2pPYfwnkmCxLM/cI8UO0DCm';

async function failure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

function silenceFor(alertname: string, minutes = 60): NewSilence {
  const now = Date.now();
  return {
    matchers: [
      { name: 'alertname', value: alertname, isRegex: false, isEqual: true },
      { name: 'service', value: 'aegis-api', isRegex: false, isEqual: true },
      { name: 'severity', value: 'warning|critical', isRegex: true, isEqual: true },
      { name: 'pod', value: 'canary-.*', isRegex: true, isEqual: false },
    ],
    startsAt: new Date(now),
    endsAt: new Date(now + minutes * 60_000),
    createdBy: 'Alice Example',
    comment: 'Silenced from Slack: https://example.slack.com/archives/C0123/p1700000000000100',
  };
}

describe('AlertmanagerSource against a real Alertmanager', () => {
  let am: AlertmanagerServer;
  let source: AlertmanagerSource;

  beforeAll(async () => {
    am = await startAlertmanager({
      webBasicAuth: { username: WEB_USER, password: WEB_PASSWORD, bcryptHash: WEB_HASH },
    });
    source = new AlertmanagerSource({
      url: am.url,
      timeoutMs: 5000,
      auth: { kind: 'basic', username: WEB_USER, password: WEB_PASSWORD },
    });
  });
  afterAll(async () => {
    await am?.stop();
  });

  it('creates a silence that Alertmanager then lists with exactly the matchers sent', async () => {
    const wanted = silenceFor('AegisApiP99LatencyCritical');
    const id = await source.createSilence(wanted);

    const listed = (await source.listSilences()).find((s) => s.id === id);
    expect(listed).toMatchObject({
      id,
      state: 'active',
      createdBy: 'Alice Example',
      comment: wanted.comment,
      endsAt: wanted.endsAt,
    });
    expect(listed?.matchers).toEqual(expect.arrayContaining([...wanted.matchers]));
    expect(listed?.matchers).toHaveLength(wanted.matchers.length);
  });

  it('expires a silence: it is then expired, and expiring it again is accepted', async () => {
    const id = await source.createSilence(silenceFor('AegisApiCpuHigh'));
    expect((await source.getSilence(id))?.state).toBe('active');

    await source.expireSilence(id);
    expect((await source.getSilence(id))?.state).toBe('expired');
    const active = (await source.listSilences()).filter((s) => s.state === 'active').map((s) => s.id);
    expect(active).not.toContain(id);

    await expect(source.expireSilence(id)).resolves.toBeUndefined();
  });

  it('says it does not know a silence ID Alertmanager never issued', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await source.getSilence(unknown)).toBeUndefined();
    const e = await failure(source.expireSilence(unknown));
    expect(e.message).toMatch(/^alertmanager: expire silence failed: HTTP 500: silence not found$/);
  });

  it('turns a matcher Alertmanager rejects (400) into a clear SourceError with its reason', async () => {
    const bad = silenceFor('AegisApiErrorRateCritical');
    const e = await failure(
      source.createSilence({
        ...bad,
        matchers: [{ name: 'path', value: '(unclosed', isRegex: true, isEqual: true }],
      }),
    );
    expect(e.reason).toBe('http_error');
    expect(e.message).toBe(
      'alertmanager: create silence failed: HTTP 400: silence invalid: invalid label matcher 0: invalid regular expression "(unclosed": error parsing regexp: missing closing ): `(unclosed`',
    );
  });

  it('refuses bad silences before sending anything', async () => {
    const good = silenceFor('x');
    await expect(source.createSilence({ ...good, matchers: [] })).rejects.toThrow(/at least one matcher/);
    await expect(
      source.createSilence({
        ...good,
        matchers: [{ name: 'not a label', value: 'x', isRegex: false, isEqual: true }],
      }),
    ).rejects.toThrow(/"not a label" is not a label name/);
    await expect(source.createSilence({ ...good, endsAt: good.startsAt })).rejects.toThrow(
      /must end after it starts/,
    );
    await expect(source.expireSilence('../status')).rejects.toThrow(/not an Alertmanager silence ID/);
  });

  it('reports its version and cluster state to aegis doctor', async () => {
    const status = await source.status();
    expect(status.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(status.cluster).toBe('disabled');
    const [check] = await source.check();
    expect(check).toMatchObject({ name: 'alertmanager', ok: true });
    expect(check?.detail).toContain(`Alertmanager ${status.version}, no cluster`);
  });

  it('fails with reason auth, and a hint naming the credentials, when the password is wrong', async () => {
    const wrong = new AlertmanagerSource({
      url: am.url,
      timeoutMs: 5000,
      auth: { kind: 'basic', username: WEB_USER, password: 'not-it' },
    });
    const e = await failure(wrong.listSilences());
    expect(e.reason).toBe('auth');
    expect(e.message).toMatch(/^alertmanager: list silences failed: HTTP 401/);
    expect(e.message).not.toContain('not-it');
    const [check] = await wrong.check();
    expect(check).toMatchObject({ ok: false, hint: expect.stringContaining('credentials') });
  });
});

describe('AlertmanagerSource when Alertmanager is not there', () => {
  it('fails with reason unreachable and a check that names the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const source = new AlertmanagerSource({ url, timeoutMs: 2000 });
    const e = await failure(source.createSilence(silenceFor('AegisApiMemoryHigh')));
    expect(e.reason).toBe('unreachable');
    expect(e.message).toBe('alertmanager: create silence failed: cannot connect (ECONNREFUSED)');
    const [check] = await source.check();
    expect(check).toMatchObject({ ok: false, hint: expect.stringContaining(url) });
  });

  it('gives up at its deadline when Alertmanager accepts the connection but never answers', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const source = new AlertmanagerSource({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 });
      const e = await failure(source.listSilences());
      expect(e.reason).toBe('timeout');
      expect(e.message).toBe('alertmanager: list silences failed: no answer within 300 ms');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('AlertmanagerSource behind a proxy that fails', () => {
  it('summarises an error page instead of copying it into the error', async () => {
    const page = `<html>\n<body>${'Bad Gateway '.repeat(400)}</body></html>`;
    const server = createServer((_req, res) => {
      res.statusCode = 502;
      res.setHeader('content-type', 'text/html');
      res.end(page);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const source = new AlertmanagerSource({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
      const e = await failure(source.listSilences());
      expect(e.reason).toBe('http_error');
      expect(e.message).toBe(
        `alertmanager: list silences failed: HTTP 502: an HTML page (${page.length} characters), not an Alertmanager answer`,
      );
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('AlertmanagerSource credentials', () => {
  it('sends a bearer token in the Authorization header', async () => {
    let seen: IncomingHttpHeaders | undefined;
    const server = createServer((req, res) => {
      seen = req.headers;
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const source = new AlertmanagerSource({
        url: `http://127.0.0.1:${port}/`,
        timeoutMs: 2000,
        auth: { kind: 'bearer', token: 's3cr3t-token' },
      });
      expect(await source.listSilences()).toEqual([]);
      expect(seen?.authorization).toBe('Bearer s3cr3t-token');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('reads them from the environment variables the config names, and says which one is unset', () => {
    expect(alertmanagerAuthFromEnv({ bearer_token_env: 'AM_TOKEN' }, { AM_TOKEN: 't' })).toEqual({
      kind: 'bearer',
      token: 't',
    });
    expect(
      alertmanagerAuthFromEnv(
        { basic_auth: { username_env: 'AM_USER', password_env: 'AM_PASS' } },
        { AM_USER: 'u', AM_PASS: 'p' },
      ),
    ).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    expect(alertmanagerAuthFromEnv({}, {})).toBeUndefined();
    expect(() => alertmanagerAuthFromEnv({ bearer_token_env: 'AM_TOKEN' }, {})).toThrow(
      new AppError(
        'config',
        'environment variable AM_TOKEN is not set: it holds the Alertmanager bearer token',
      ),
    );
  });
});

describe('summarizeAlertmanagerError', () => {
  it('keeps the message on one line, without control characters, and short', () => {
    expect(summarizeAlertmanagerError(400, 'bad\n\t\u001bthing\u0007')).toBe('bad thing');
    expect(summarizeAlertmanagerError(422, { code: 601, message: 'id must be uuid' })).toBe(
      'id must be uuid',
    );
    expect(summarizeAlertmanagerError(400, 'x'.repeat(5000))).toHaveLength(200);
    expect(summarizeAlertmanagerError(502, '<html><body>Bad Gateway</body></html>')).toBe(
      'an HTML page (37 characters), not an Alertmanager answer',
    );
    expect(summarizeAlertmanagerError(500, { unexpected: true })).toBe('no message in the answer');
  });
});
