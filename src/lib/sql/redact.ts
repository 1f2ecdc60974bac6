/**
 * SQL literal redaction for anything the bot posts: pg_stat_activity holds the text the application
 * sent, literals and all, so a query shown in Slack has its strings and numbers replaced by `?`,
 * comments removed, IN lists collapsed, whitespace squeezed and the result truncated.
 *
 * The tokenizer follows PostgreSQL's lexer closely enough to know where a literal ends:
 * standard strings ('' escapes), E'' strings (backslash escapes), B'', X'', N'', U&'', dollar quotes
 * ($$...$$, $tag$...$tag$), quoted identifiers ("a'b"), nested block comments. Anything left open at
 * the end (text cut by track_activity_query_size) is redacted to the end, never shown.
 *
 * Where a plain '...' (or N'...') literal ends depends on the session's standard_conforming_strings,
 * which the text in pg_stat_activity does not carry: on, a backslash is an ordinary character; off,
 * it escapes the next one, so 'it\'s secret' is one literal. redactSql lexes the text both ways and
 * shows only what both readings call code: where the two disagree, the whole stretch up to the
 * next place they agree again is redacted (over-redacting under one setting, never leaking under
 * either).
 */

export type SqlTokenKind =
  | 'ident' // table, column, keyword (unquoted)
  | 'qident' // "quoted identifier"
  | 'string' // any string literal, incl. dollar-quoted
  | 'number'
  | 'param' // $1
  | 'op' // operators, incl. :: and ;
  | 'punct' // ( ) [ ] , .
  | 'space'
  | 'comment';

export interface SqlToken {
  readonly kind: SqlTokenKind;
  readonly text: string;
  /** A literal or quoted name that runs to the end of the input without its closing quote. */
  readonly unterminated?: boolean;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
const OP_CHARS = '+-*/<>=~!@#%^&|`?:;';
const STRING_PREFIXES = new Set(['e', 'b', 'x', 'n']);

export interface TokenizeOptions {
  /**
   * Lex plain '...' and N'...' literals as with standard_conforming_strings = off (a backslash
   * escapes the next character). Default false: PostgreSQL's default, on.
   */
  readonly backslashEscapes?: boolean;
}

/** Splits SQL into tokens. Never throws: malformed input ends in an unterminated token. */
export function tokenizeSql(sql: string, options: TokenizeOptions = {}): SqlToken[] {
  const plainEscapes = options.backslashEscapes === true;
  const out: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(sql[j] as string)) j++;
      out.push({ kind: 'space', text: sql.slice(i, j) });
      i = j;
    } else if (c === '-' && next === '-') {
      let j = i + 2;
      while (j < n && sql[j] !== '\n' && sql[j] !== '\r') j++;
      out.push({ kind: 'comment', text: sql.slice(i, j) });
      i = j;
    } else if (c === '/' && next === '*') {
      const j = blockCommentEnd(sql, i);
      out.push({ kind: 'comment', text: sql.slice(i, j < 0 ? n : j), unterminated: j < 0 });
      i = j < 0 ? n : j;
    } else if (c === "'") {
      const j = quotedEnd(sql, i, plainEscapes);
      out.push({ kind: 'string', text: sql.slice(i, j < 0 ? n : j), unterminated: j < 0 });
      i = j < 0 ? n : j;
    } else if (c === '"') {
      const j = quotedEnd(sql, i, false, '"');
      out.push({ kind: 'qident', text: sql.slice(i, j < 0 ? n : j), unterminated: j < 0 });
      i = j < 0 ? n : j;
    } else if (c === '$' && next !== undefined && DIGIT.test(next)) {
      let j = i + 1;
      while (j < n && DIGIT.test(sql[j] as string)) j++;
      out.push({ kind: 'param', text: sql.slice(i, j) });
      i = j;
    } else if (c === '$') {
      const tag = dollarTag(sql, i);
      if (tag === undefined) {
        out.push({ kind: 'op', text: c });
        i++;
      } else {
        const close = sql.indexOf(tag, i + tag.length);
        const j = close < 0 ? n : close + tag.length;
        out.push({ kind: 'string', text: sql.slice(i, j), unterminated: close < 0 });
        i = j;
      }
    } else if (DIGIT.test(c) || (c === '.' && next !== undefined && DIGIT.test(next))) {
      const j = numberEnd(sql, i);
      out.push({ kind: 'number', text: sql.slice(i, j) });
      i = j;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_PART.test(sql[j] as string)) j++;
      const word = sql.slice(i, j);
      const lower = word.toLowerCase();
      if (sql[j] === "'" && STRING_PREFIXES.has(lower)) {
        // E'..' B'..' X'..' N'..': the prefix belongs to the literal. N'' lexes as a plain
        // literal; B'' and X'' never take backslash escapes.
        const end = quotedEnd(sql, j, lower === 'e' || (lower === 'n' && plainEscapes));
        out.push({ kind: 'string', text: sql.slice(i, end < 0 ? n : end), unterminated: end < 0 });
        i = end < 0 ? n : end;
      } else if (lower === 'u' && sql[j] === '&' && (sql[j + 1] === "'" || sql[j + 1] === '"')) {
        const quote = sql[j + 1] as "'" | '"';
        const end = quotedEnd(sql, j + 1, false, quote);
        out.push({
          kind: quote === "'" ? 'string' : 'qident',
          text: sql.slice(i, end < 0 ? n : end),
          unterminated: end < 0,
        });
        i = end < 0 ? n : end;
      } else {
        out.push({ kind: 'ident', text: word });
        i = j;
      }
    } else if ('()[],.'.includes(c)) {
      out.push({ kind: 'punct', text: c });
      i++;
    } else if (OP_CHARS.includes(c)) {
      let j = i + 1;
      while (j < n && OP_CHARS.includes(sql[j] as string) && !startsComment(sql, j)) j++;
      // As in PostgreSQL's lexer: "=-5" is "=" then "-", an operator ends in + or - only when it
      // also holds one of ~ ! @ # % ^ & | ` ?.
      if (j - i > 1 && !/[~!@#%^&|`?]/.test(sql.slice(i, j))) {
        while (j - i > 1 && (sql[j - 1] === '+' || sql[j - 1] === '-')) j--;
      }
      out.push({ kind: 'op', text: sql.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: 'op', text: c });
      i++;
    }
  }
  return out;
}

function startsComment(sql: string, i: number): boolean {
  const two = sql.slice(i, i + 2);
  return two === '--' || two === '/*';
}

/** Index just past the closing quote, or -1 when the literal never closes. */
function quotedEnd(sql: string, start: number, backslashEscapes: boolean, quote = "'"): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}

/** PostgreSQL block comments nest. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    const two = sql.slice(i, i + 2);
    if (two === '/*') {
      depth++;
      i += 2;
    } else if (two === '*/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return -1;
}

/** `$tag$` opening at i (tag: identifier characters, not starting with a digit), or undefined. */
function dollarTag(sql: string, i: number): string | undefined {
  let j = i + 1;
  if (sql[j] === '$') return '$$';
  if (!IDENT_START.test(sql[j] ?? '')) return undefined;
  while (j < sql.length && /[A-Za-z0-9_\u0080-\uffff]/.test(sql[j] as string)) j++;
  return sql[j] === '$' ? sql.slice(i, j + 1) : undefined;
}

/** Decimal, fraction, exponent, PostgreSQL 16's 0x/0o/0b and 1_000 forms. */
function numberEnd(sql: string, start: number): number {
  let i = start;
  const radix = /^0[xXoObB]/.test(sql.slice(i, i + 2));
  if (radix) {
    i += 2;
    while (i < sql.length && /[0-9A-Fa-f_]/.test(sql[i] as string)) i++;
    return i;
  }
  while (i < sql.length && /[0-9_]/.test(sql[i] as string)) i++;
  if (sql[i] === '.' && sql[i + 1] !== '.') {
    i++;
    while (i < sql.length && /[0-9_]/.test(sql[i] as string)) i++;
  }
  if (/[eE]/.test(sql[i] ?? '')) {
    let j = i + 1;
    if (sql[j] === '+' || sql[j] === '-') j++;
    if (DIGIT.test(sql[j] ?? '')) {
      while (j < sql.length && DIGIT.test(sql[j] as string)) j++;
      i = j;
    }
  }
  // "123abc" is one malformed token to the server; swallow the tail so no digits show.
  while (i < sql.length && IDENT_PART.test(sql[i] as string)) i++;
  return i;
}

export interface RedactOptions {
  /** Longest output in characters, "…" included. Default 1000. */
  readonly maxLength?: number;
}

/**
 * Redacts literals and comments, collapses IN lists, squeezes whitespace, truncates.
 * `$1` placeholders, identifiers, keywords and TRUE/FALSE/NULL stay.
 */
export function redactSql(sql: string, options: RedactOptions = {}): string {
  const tokens = tokensUnderEitherSetting(sql);
  const parts: string[] = [];
  let prev: SqlToken | undefined; // previous significant token (after redaction)
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as SqlToken;
    if (t.kind === 'space' || t.kind === 'comment') {
      if (parts.length > 0 && parts[parts.length - 1] !== ' ') parts.push(' ');
      continue;
    }
    if (t.kind === 'qident' && t.unterminated) {
      parts.push('?');
      prev = { kind: 'string', text: '?' };
      continue;
    }
    if (t.kind === 'string' || t.kind === 'number') {
      // A unary minus folds into the literal it signs: "= -5" -> "= ?".
      if (t.kind === 'number' && prev?.kind === 'op' && prev.text === '-') {
        let sign = parts.length - 1;
        while (sign >= 0 && parts[sign] === ' ') sign--;
        if (unaryContext(parts, sign)) parts.length = sign;
      }
      parts.push('?');
      prev = { kind: 'string', text: '?' };
      continue;
    }
    parts.push(t.text);
    prev = t;
  }
  let text = parts.join('').trim();
  text = collapseLists(text);
  return truncate(text, options.maxLength ?? 1000);
}

/**
 * The tokens both settings of standard_conforming_strings agree on; each stretch where they
 * disagree becomes one string token (redacted whole). The lexer carries no state between tokens,
 * so once both readings reach the same token boundary they continue identically.
 */
function tokensUnderEitherSetting(sql: string): SqlToken[] {
  const on = tokenizeSql(sql);
  const off = tokenizeSql(sql, { backslashEscapes: true });
  const out: SqlToken[] = [];
  let a = 0; // index into on
  let b = 0; // index into off
  let pos = 0; // offset where both next tokens start
  while (a < on.length && b < off.length) {
    const x = on[a] as SqlToken;
    const y = off[b] as SqlToken;
    if (x.text === y.text && x.kind === y.kind) {
      out.push(x);
      pos += x.text.length;
      a++;
      b++;
      continue;
    }
    // Disagreement: advance whichever reading is behind until both end a token at the same offset.
    let endOn = pos + x.text.length;
    let endOff = pos + y.text.length;
    let unterminated = x.unterminated === true || y.unterminated === true;
    a++;
    b++;
    while (endOn !== endOff) {
      const onBehind = endOn < endOff;
      const t = onBehind ? on[a++] : off[b++];
      if (!t) break;
      unterminated ||= t.unterminated === true;
      if (onBehind) endOn += t.text.length;
      else endOff += t.text.length;
    }
    const end = Math.max(endOn, endOff);
    out.push({ kind: 'string', text: sql.slice(pos, end), unterminated });
    pos = end;
  }
  return out;
}

/** True when the "-" at parts[sign] is a sign, not a subtraction: what precedes it is not a value. */
function unaryContext(parts: readonly string[], sign: number): boolean {
  let k = sign - 1;
  while (k >= 0 && parts[k] === ' ') k--;
  if (k < 0) return true;
  const before = parts[k] as string;
  if (before === '?' || before === ')' || before === ']') return false;
  if (/^\$\d+$/.test(before)) return false;
  if (/^[A-Za-z_"\u0080-\uffff]/.test(before)) {
    return /^(select|where|and|or|not|when|then|else|return|returning|values|in|between|like|by|limit|offset|set|is|case|array|interval)$/i.test(
      before,
    );
  }
  return true;
}

const LIST_ITEM = String.raw`(?:\?|\$\d+|-?\?)(?:::[A-Za-z_][\w.]*(?:\[\])?)?`;
const IN_LIST = new RegExp(String.raw`\b(IN|in|In|iN)\s*\(\s*${LIST_ITEM}(?:\s*,\s*${LIST_ITEM})+\s*\)`, 'g');
const ARRAY_LIST = new RegExp(
  String.raw`\b(ARRAY|array|Array)\s*\[\s*${LIST_ITEM}(?:\s*,\s*${LIST_ITEM})+\s*\]`,
  'g',
);
const VALUES_ROWS = new RegExp(
  String.raw`(\(\s*${LIST_ITEM}(?:\s*,\s*${LIST_ITEM})*\s*\))(?:\s*,\s*\(\s*${LIST_ITEM}(?:\s*,\s*${LIST_ITEM})*\s*\))+`,
  'g',
);

/** IN (?, ?, ?) -> IN (...); ARRAY[?, ?] -> ARRAY[...]; VALUES (?, ?), (?, ?) -> VALUES (?, ?), ... */
function collapseLists(text: string): string {
  return text
    .replace(IN_LIST, (_m, kw: string) => `${kw} (...)`)
    .replace(ARRAY_LIST, (_m, kw: string) => `${kw}[...]`)
    .replace(VALUES_ROWS, (_m, first: string) => `${first}, ...`);
}

/** Cuts to at most max characters, ending in "…" when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  return `${text.slice(0, max - 1).trimEnd()}…`;
}
