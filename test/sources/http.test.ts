import { describe, expect, it } from 'vitest';
import { errorSummary } from '../../src/sources/http.ts';

const KEY = 'R0UTINGKEYSECRET0123456789abcdef';

describe('errorSummary: what an upstream error answer said, summarised, never copied', () => {
  it('takes the short code and message fields of the usual JSON error shapes', () => {
    expect(errorSummary({ status: 'error', errorType: 'bad_data', error: 'parse error at 1:5' })).toBe(
      'bad_data: parse error at 1:5',
    );
    expect(
      errorSummary({
        kind: 'Status',
        status: 'Failure',
        reason: 'Forbidden',
        message: 'pods is forbidden',
        code: 403,
      }),
    ).toBe('Forbidden: pods is forbidden');
    expect(errorSummary({ ok: false, error: 'invalid_auth' })).toBe('invalid_auth');
    expect(
      errorSummary({ status: 'invalid event', message: 'Event object is invalid', errors: ['a', 'b'] }),
    ).toBe('invalid event: Event object is invalid: a: b');
  });

  it('leaves out every other field, so an echoed request is not repeated', () => {
    const echo = {
      status: 'invalid event',
      message: 'bad',
      request: { routing_key: KEY, payload: { x: 1 } },
    };
    const out = errorSummary(echo);
    expect(out).toBe('invalid event: bad');
    expect(errorSummary(JSON.stringify(echo))).toBe('invalid event: bad');
  });

  it('replaces the secrets it is given and secret-looking text inside the fields it keeps', () => {
    const out = errorSummary(
      {
        status: 'invalid event',
        message: `routing key ${KEY} unknown`,
        errors: [`{"routing_key":"other-${KEY.slice(0, 10)}x","token":"hunter2"}`],
      },
      [KEY],
    );
    expect(out).toBe('invalid event: routing key *** unknown: {"routing_key":"***","token":"***"}');
  });

  it('keeps the first line of a plain-text body, cut short, and nothing of an HTML page', () => {
    expect(errorSummary(Buffer.from('could not enable CPU profiling: already in use\nmore\n'))).toBe(
      'could not enable CPU profiling: already in use',
    );
    const long = errorSummary('x'.repeat(5000));
    expect(long).toHaveLength(160);
    expect(long.endsWith('…')).toBe(true);
    expect(errorSummary('<html><body>password=hunter2</body></html>')).toBe('');
    expect(errorSummary('"silence invalid: start time must be before end time"\n')).toBe(
      'silence invalid: start time must be before end time',
    );
    expect(errorSummary(undefined)).toBe('');
    expect(errorSummary([1, 2])).toBe('');
  });
});
