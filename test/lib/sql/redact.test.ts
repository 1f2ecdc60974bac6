import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactSql, tokenizeSql, truncate } from '../../../src/lib/sql/redact.ts';

/** Every secret in these tests contains this marker, so one check proves nothing leaked. */
const SECRET = 'sekret';

function expectNoLeak(out: string): void {
  expect(out.toLowerCase()).not.toContain(SECRET);
  expect(out).not.toMatch(/4111|1234567/);
}

describe('redactSql', () => {
  it('replaces a plain string literal with ?', () => {
    expect(redactSql("SELECT * FROM users WHERE email = 'sekret@example.com'")).toBe(
      'SELECT * FROM users WHERE email = ?',
    );
  });

  it("treats '' inside a string as an escaped quote, not the end of the literal", () => {
    const out = redactSql("SELECT 1 FROM t WHERE name = 'O''sekret' AND b = 'x'");
    expect(out).toBe('SELECT ? FROM t WHERE name = ? AND b = ?');
    expectNoLeak(out);
  });

  it("redacts E'' strings whose backslash-escaped quote would end a standard string", () => {
    const out = redactSql("SELECT * FROM t WHERE a = E'\\' OR 1=1 sekret' AND b = 2");
    expect(out).toBe('SELECT * FROM t WHERE a = ? AND b = ?');
    expectNoLeak(out);
  });

  it("redacts E'\\'' (an escaped quote then a doubled quote) as one literal", () => {
    expect(redactSql("SELECT E'\\'', 'sekret'")).toBe('SELECT ?, ?');
  });

  it('keeps the text after a plain literal ending in a backslash only when no setting reads it as literal', () => {
    // standard_conforming_strings on: the literal ends at the quote after C:\sekret\. Off: the
    // backslash escapes that quote and the literal runs on; the text does not say which, so the rest goes.
    expect(redactSql("SELECT 'C:\\sekret\\' AS path, id FROM t")).toBe('SELECT ?');
    // An escaped backslash (off) is two literal backslashes (on): both readings agree on the end.
    expect(redactSql("SELECT 'C:\\\\sekret\\\\', id FROM t WHERE a = 'x'")).toBe(
      'SELECT ?, id FROM t WHERE a = ?',
    );
  });

  it("redacts a literal written for standard_conforming_strings = off whole: 'it\\'s ...'", () => {
    const out = redactSql("SELECT pg_sleep(30), 'it\\'s S3CRETX-off'");
    expect(out).toBe('SELECT pg_sleep(?), ?');
    expect(out).not.toContain('S3CRETX');
  });

  it('redacts under both settings: an off-style literal followed by more code and literals', () => {
    const out = redactSql(
      "UPDATE users SET note = 'O\\'Brien sekret', pin = '1234567' WHERE id = 5 AND n = N'x\\' sekret'",
    );
    expectNoLeak(out);
    expect(out).toMatch(/^UPDATE users SET note = \?/);
  });

  it('redacts bit, hex, national and unicode-escaped strings with their prefix', () => {
    const out = redactSql("SELECT B'1010', X'1F', N'sekret', U&'d\\0061sekret' FROM t");
    expect(out).toBe('SELECT ?, ?, ?, ? FROM t');
  });

  it('keeps quoted identifiers even when they contain quotes and digits', () => {
    expect(redactSql(`SELECT "a'b", "col 1", "x""y" FROM "T2" WHERE "a'b" = 'sekret'`)).toBe(
      `SELECT "a'b", "col 1", "x""y" FROM "T2" WHERE "a'b" = ?`,
    );
  });

  it('keeps digits that are part of identifiers and keeps $n placeholders', () => {
    expect(redactSql('SELECT t1.col_2, x$1 FROM t1 WHERE a = $1 AND b = $12')).toBe(
      'SELECT t1.col_2, x$1 FROM t1 WHERE a = $1 AND b = $12',
    );
  });

  it('redacts integers, decimals, leading-dot fractions and scientific notation', () => {
    expect(redactSql('SELECT 42, 3.14, .5, 1e10, 1.5E-3, 6.02e+23 FROM t')).toBe(
      'SELECT ?, ?, ?, ?, ?, ? FROM t',
    );
  });

  it('redacts PostgreSQL 16 hex, octal, binary and underscore-grouped numbers', () => {
    expect(redactSql('SELECT 0x1F, 0o17, 0b101, 1_000_000')).toBe('SELECT ?, ?, ?, ?');
  });

  it('folds the sign into a negative number but keeps subtraction', () => {
    expect(redactSql('SELECT * FROM t WHERE balance = -1234567')).toBe('SELECT * FROM t WHERE balance = ?');
    expect(redactSql('SELECT * FROM t WHERE balance=-1234567')).toBe('SELECT * FROM t WHERE balance=?');
    expect(redactSql('SELECT a - 5, (-7), f(-2.5e3) FROM t')).toBe('SELECT a - ?, (?), f(?) FROM t');
  });

  it('keeps booleans and NULL', () => {
    expect(redactSql('UPDATE t SET active = true, gone = FALSE WHERE x IS NULL')).toBe(
      'UPDATE t SET active = true, gone = FALSE WHERE x IS NULL',
    );
  });

  it('removes line and nested block comments, which can carry data', () => {
    const out = redactSql(
      "SELECT a /* outer /* inner 'sekret' */ still sekret */ FROM t -- card 4111 sekret\nWHERE b = 1",
    );
    expect(out).toBe('SELECT a FROM t WHERE b = ?');
    expectNoLeak(out);
  });

  it('redacts dollar-quoted strings, tagged and untagged', () => {
    expect(redactSql("SELECT $$it's sekret$$, $fn$ body $$ sekret $$ $fn$ FROM t")).toBe(
      'SELECT ?, ? FROM t',
    );
  });

  it('ends a tagged dollar quote only at the same tag, so a nested one does not end it', () => {
    const out = redactSql('DO $outer$ BEGIN PERFORM $inner$ sekret $inner$; RAISE 4111; END $outer$');
    expect(out).toBe('DO ?');
  });

  it('does not take $1$ for a dollar quote: tags cannot start with a digit', () => {
    expect(redactSql('SELECT $1, $2 FROM t')).toBe('SELECT $1, $2 FROM t');
  });

  it.each([
    ["SELECT * FROM t WHERE a = 'sekret never closed", 'SELECT * FROM t WHERE a = ?'],
    ["SELECT * FROM t WHERE a = E'sekret \\' still open", 'SELECT * FROM t WHERE a = ?'],
    ['SELECT $x$ sekret never closed', 'SELECT ?'],
    ['SELECT a /* sekret never closed', 'SELECT a'],
    ['SELECT "sekret never closed', 'SELECT ?'],
  ])('redacts an unterminated literal to the end: %s', (input, expected) => {
    const out = redactSql(input);
    expect(out).toBe(expected);
    expectNoLeak(out);
  });

  it('collapses IN lists, ARRAY lists and repeated VALUES rows', () => {
    expect(redactSql("SELECT * FROM t WHERE id IN (1, 2, 3, 'x') AND k = ANY(ARRAY[4, 5])")).toBe(
      'SELECT * FROM t WHERE id IN (...) AND k = ANY(ARRAY[...])',
    );
    expect(redactSql('SELECT * FROM t WHERE id IN ($1, $2, $3)')).toBe('SELECT * FROM t WHERE id IN (...)');
    expect(redactSql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')")).toBe(
      'INSERT INTO t (a, b) VALUES (?, ?), ...',
    );
  });

  it('leaves an IN subquery alone', () => {
    expect(redactSql('SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE n > 5)')).toBe(
      'SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE n > ?)',
    );
  });

  it('keeps casts readable', () => {
    expect(redactSql("SELECT '2024-01-01'::date, interval '1 day', 5::bigint")).toBe(
      'SELECT ?::date, interval ?, ?::bigint',
    );
  });

  it('squeezes whitespace and newlines to single spaces', () => {
    expect(redactSql('SELECT\n   a,\n\tb\r\nFROM   t  ')).toBe('SELECT a, b FROM t');
  });

  it('truncates after redacting, so a cut never shows part of a literal', () => {
    const out = redactSql(`SELECT * FROM t WHERE a = '${'sekret'.repeat(50)}' AND b = 1`, { maxLength: 30 });
    expect(out.length).toBeLessThanOrEqual(30);
    expect(out.endsWith('…')).toBe(true);
    expectNoLeak(out);
  });

  it('leaves text shorter than the limit untouched', () => {
    expect(redactSql('SELECT 1', { maxLength: 30 })).toBe('SELECT ?');
  });

  it('does not leak anything from a long mixed statement', () => {
    const sql = `/* app=web sekret */ INSERT INTO payments(card, amount, note, meta)
      VALUES ('4111 1111 1111 1111', -1234567.89, E'sekret\\nline', $$ {"sekret": 1} $$)
      ON CONFLICT DO NOTHING -- sekret`;
    const out = redactSql(sql);
    expectNoLeak(out);
    expect(out).toBe(
      'INSERT INTO payments(card, amount, note, meta) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
  });
});

describe('tokenizeSql', () => {
  it('splits "=-5" into an operator, a sign and a number as PostgreSQL does', () => {
    const kinds = tokenizeSql('a=-5').map((t) => `${t.kind}:${t.text}`);
    expect(kinds).toEqual(['ident:a', 'op:=', 'op:-', 'number:5']);
  });

  it('keeps jsonb operators that end in - together when they hold a special character', () => {
    expect(tokenizeSql('a #- b').map((t) => t.text)).toEqual(['a', ' ', '#-', ' ', 'b']);
  });

  it('keeps backslashes literal in plain strings by default (standard_conforming_strings on)', () => {
    expect(tokenizeSql("'C:\\x\\' AS p").map((t) => `${t.kind}:${t.text}`)).toEqual([
      "string:'C:\\x\\'",
      'space: ',
      'ident:AS',
      'space: ',
      'ident:p',
    ]);
  });

  it('lexes backslash escapes in plain and N strings, not in B and X strings, when asked (setting off)', () => {
    const off = (sql: string) => tokenizeSql(sql, { backslashEscapes: true }).map((t) => t.text);
    expect(off("'it\\'s' x")).toEqual(["'it\\'s'", ' ', 'x']);
    expect(off("N'it\\'s' x")).toEqual(["N'it\\'s'", ' ', 'x']);
    expect(off("X'1\\' x")).toEqual(["X'1\\'", ' ', 'x']);
  });

  it('marks an unterminated string', () => {
    const t = tokenizeSql("'abc").at(0);
    expect(t).toEqual({ kind: 'string', text: "'abc", unterminated: true });
  });
});

describe('truncate', () => {
  it('ends a cut text in … within the limit', () => {
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(truncate('abc', 5)).toBe('abc');
  });
});

describe('redactSql under either standard_conforming_strings setting (property)', () => {
  const MARK = 'S3CRETX';
  const chars = fc.constantFrom('a', 'Z', ' ', "'", '\\', '"', '$', '-', '*', '/', '(', ',', '\n', '1', MARK);
  const body = fc.array(chars, { maxLength: 12 }).map((cs) => [...cs, MARK].join(''));
  /** A literal as an application would write it for the given setting (E'' means the same in both). */
  const literal = (setting: 'on' | 'off') =>
    fc.tuple(body, fc.constantFrom('plain', 'E', 'N'), fc.boolean()).map(([b, form, doubled]) => {
      const escaped =
        form === 'E' || setting === 'off'
          ? b.replaceAll('\\', '\\\\').replaceAll("'", doubled ? "''" : "\\'")
          : b.replaceAll("'", "''");
      return `${form === 'plain' ? '' : form}'${escaped}'`;
    });
  const code = fc.constantFrom(
    'SELECT a, ',
    ' FROM t WHERE b = ',
    ' AND c IN (',
    ') OR d = ',
    ' || ',
    '::text, ',
  );
  const statement = fc
    .constantFrom<'on' | 'off'>('on', 'off')
    .chain((setting) =>
      fc
        .array(fc.tuple(code, literal(setting)), { minLength: 1, maxLength: 4 })
        .map((parts) => parts.map(([c, l]) => c + l).join('')),
    );

  it('never shows a character of a literal, whole or cut short by track_activity_query_size', () => {
    fc.assert(
      fc.property(statement, fc.nat(), (sql, cut) => {
        for (const text of [sql, sql.slice(0, cut % (sql.length + 1))]) {
          expect(redactSql(text)).not.toMatch(/S3|CRET|ETX/);
        }
      }),
      { seed: 15, numRuns: 3000 },
    );
  });
});
