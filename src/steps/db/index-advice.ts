import { type SqlToken, tokenizeSql } from '../../lib/sql/redact.ts';
import type { TableRef } from '../../sources/postgres-types.ts';

/**
 * What a query filters and sorts on, told from its text where that is possible: single-table or
 * joined SELECT, UPDATE and DELETE with a WHERE made of ANDed simple conditions. Anything the parser
 * cannot follow (OR at the top, CTEs, expressions on columns) is left out rather than guessed.
 */
export interface QueryShape {
  readonly tables: readonly ShapeTable[];
  readonly conditions: readonly Condition[];
  /** Empty when there is no ORDER BY or when it sorts on something other than plain columns. */
  readonly orderBy: readonly OrderColumn[];
}

export interface ShapeTable {
  readonly schema?: string;
  readonly name: string;
  readonly alias?: string;
}

export interface ColumnRef {
  /** Table name or alias before the dot, if any. */
  readonly qualifier?: string;
  readonly column: string;
}

export type Condition =
  /** col = constant */
  | { readonly kind: 'eq'; readonly column: ColumnRef }
  /** col IN (...), col = ANY(...) */
  | { readonly kind: 'in'; readonly column: ColumnRef }
  /** col < > <= >= constant, col BETWEEN a AND b */
  | { readonly kind: 'range'; readonly column: ColumnRef }
  | { readonly kind: 'is_null'; readonly column: ColumnRef };

export interface OrderColumn {
  readonly column: ColumnRef;
  readonly desc: boolean;
}

type Tok = SqlToken & { depth: number };

const CLAUSE_END = new Set([
  'where',
  'group',
  'order',
  'limit',
  'offset',
  'having',
  'window',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
  'fetch',
  'set',
  'using',
]);
const JOIN_WORDS = new Set([
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'natural',
  'outer',
  'lateral',
]);
const NOT_ALIAS = new Set([...CLAUSE_END, ...JOIN_WORDS, 'on', 'as', 'tablesample', 'only']);

function significant(sql: string): Tok[] {
  let depth = 0;
  const out: Tok[] = [];
  for (const t of tokenizeSql(sql)) {
    if (t.kind === 'space' || t.kind === 'comment') continue;
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) {
      out.push({ ...t, depth });
      depth++;
      continue;
    }
    if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
      depth = Math.max(0, depth - 1);
      out.push({ ...t, depth });
      continue;
    }
    out.push({ ...t, depth });
  }
  return out;
}

function word(t: Tok | undefined): string | undefined {
  return t?.kind === 'ident' ? t.text.toLowerCase() : undefined;
}

/** Identifier as PostgreSQL stores it: unquoted names fold to lower case. */
function identName(t: Tok | undefined): string | undefined {
  if (!t) return undefined;
  if (t.kind === 'ident') return t.text.toLowerCase();
  if (t.kind === 'qident' && !t.unterminated) return t.text.slice(1, -1).replaceAll('""', '"');
  return undefined;
}

function isName(t: Tok | undefined): boolean {
  return identName(t) !== undefined;
}

/** Parses the shape of a statement; undefined when it is not a SELECT, UPDATE or DELETE we can follow. */
export function parseQueryShape(sql: string): QueryShape | undefined {
  const toks = significant(sql);
  const first = word(toks[0]);
  let tables: ShapeTable[] = [];
  let whereAt = -1;
  if (first === 'select') {
    const from = toks.findIndex((t) => t.depth === 0 && word(t) === 'from');
    if (from < 0) return undefined;
    tables = parseFromList(toks, from + 1);
  } else if (first === 'update') {
    let i = 1;
    if (word(toks[i]) === 'only') i++;
    const ref = parseTableRef(toks, i);
    if (!ref) return undefined;
    tables.push(ref.table);
    const from = toks.findIndex((t, k) => k > i && t.depth === 0 && word(t) === 'from');
    if (from >= 0) tables = tables.concat(parseFromList(toks, from + 1));
  } else if (first === 'delete') {
    if (word(toks[1]) !== 'from') return undefined;
    let i = 2;
    if (word(toks[i]) === 'only') i++;
    const ref = parseTableRef(toks, i);
    if (!ref) return undefined;
    tables.push(ref.table);
    const using = toks.findIndex((t, k) => k > i && t.depth === 0 && word(t) === 'using');
    if (using >= 0) tables = tables.concat(parseFromList(toks, using + 1));
  } else {
    return undefined;
  }
  if (tables.length === 0) return undefined;
  whereAt = toks.findIndex((t) => t.depth === 0 && word(t) === 'where');
  const conditions = whereAt >= 0 ? parseWhere(toks, whereAt + 1) : [];
  const orderAt = toks.findIndex(
    (t, k) => t.depth === 0 && word(t) === 'order' && word(toks[k + 1]) === 'by',
  );
  const orderBy = orderAt >= 0 ? parseOrderBy(toks, orderAt + 2) : [];
  return { tables, conditions, orderBy };
}

function parseTableRef(toks: Tok[], start: number): { table: ShapeTable; next: number } | undefined {
  let i = start;
  const a = toks[i];
  if (!isName(a) || NOT_ALIAS.has(word(a) ?? '')) return undefined;
  let schema: string | undefined;
  let name = identName(a) as string;
  i++;
  if (toks[i]?.text === '.' && isName(toks[i + 1])) {
    schema = name;
    name = identName(toks[i + 1]) as string;
    i += 2;
  }
  if (toks[i]?.text === '(') return undefined; // a function in FROM
  let alias: string | undefined;
  if (word(toks[i]) === 'as') i++;
  const b = toks[i];
  if (isName(b) && !NOT_ALIAS.has(word(b) ?? '')) {
    alias = identName(b);
    i++;
  }
  const table: ShapeTable = { name, ...(schema ? { schema } : {}), ...(alias ? { alias } : {}) };
  return { table, next: i };
}

/** FROM a x, b JOIN c ON ... : the plain tables, with aliases; subqueries and functions are skipped. */
function parseFromList(toks: Tok[], start: number): ShapeTable[] {
  const tables: ShapeTable[] = [];
  let i = start;
  let expectRef = true;
  while (i < toks.length) {
    const t = toks[i] as Tok;
    if (t.depth === 0 && (CLAUSE_END.has(word(t) ?? '') || t.text === ';')) break;
    if (t.depth > 0 || (t.kind === 'punct' && t.text === ')')) {
      i++;
      continue;
    }
    const w = word(t);
    if (t.text === ',' || (w && JOIN_WORDS.has(w))) {
      expectRef = true;
      i++;
      continue;
    }
    if (w === 'on') {
      expectRef = false;
      i++;
      continue;
    }
    if (expectRef) {
      expectRef = false;
      if (w === 'only') {
        expectRef = true;
        i++;
        continue;
      }
      const ref = parseTableRef(toks, i);
      if (ref) {
        tables.push(ref.table);
        i = ref.next;
        continue;
      }
    }
    i++;
  }
  return tables;
}

/** What ends a WHERE clause: any clause keyword but those that may stand inside or before one. */
const WHERE_END = new Set([...CLAUSE_END].filter((k) => k !== 'where' && k !== 'set' && k !== 'using'));

function parseWhere(toks: Tok[], start: number): Condition[] {
  let end = start;
  while (end < toks.length) {
    const t = toks[end] as Tok;
    if (t.depth === 0 && (WHERE_END.has(word(t) ?? '') || t.text === ';')) break;
    end++;
  }
  const clause = toks.slice(start, end);
  // AND binds tighter than OR: with an OR at the top the conjuncts are not what they seem.
  const base = 0;
  if (clause.some((t) => t.depth === base && word(t) === 'or')) return [];
  const conjuncts: Tok[][] = [];
  let current: Tok[] = [];
  let inBetween = false;
  for (const t of clause) {
    const w = t.depth === base ? word(t) : undefined;
    if (w === 'between') inBetween = true;
    if (w === 'and' && !inBetween) {
      conjuncts.push(current);
      current = [];
      continue;
    }
    if (w === 'and' && inBetween) inBetween = false;
    current.push(t);
  }
  conjuncts.push(current);
  const out: Condition[] = [];
  for (const c of conjuncts) {
    const cond = parseCondition(unwrap(c));
    if (cond) out.push(cond);
  }
  return out;
}

/** Strips parentheses around a whole conjunct: "(a = 1)" -> "a = 1". */
function unwrap(toks: Tok[]): Tok[] {
  let t = toks;
  while (t.length >= 2 && t[0]?.text === '(' && t.at(-1)?.text === ')' && t.at(-1)?.depth === t[0]?.depth) {
    const depth = t[0].depth;
    const inner = t.slice(1, -1);
    if (inner.some((x) => x.depth === depth && (x.text === ')' || x.text === '('))) break;
    if (inner.some((x) => x.depth === depth + 1 && word(x) === 'or')) return [];
    t = inner;
  }
  return t;
}

/** Column reference at toks[i]: col, t.col or s.t.col. */
function columnAt(toks: Tok[], i: number): { ref: ColumnRef; next: number } | undefined {
  const names: string[] = [];
  let k = i;
  if (!isName(toks[k])) return undefined;
  names.push(identName(toks[k]) as string);
  k++;
  while (toks[k]?.text === '.' && isName(toks[k + 1])) {
    names.push(identName(toks[k + 1]) as string);
    k += 2;
  }
  if (toks[k]?.text === '(' || toks[k]?.text === '.') return undefined; // function call or t.*
  const column = names.at(-1) as string;
  if (['true', 'false', 'null', 'not', 'exists', 'case', 'array', 'current_date', 'now'].includes(column)) {
    return undefined;
  }
  const qualifier = names.length >= 2 ? names.at(-2) : undefined;
  return { ref: qualifier ? { qualifier, column } : { column }, next: k };
}

/** A constant: $n, a literal, a redacted "?", optionally signed or cast. Returns the index after it. */
function constantAt(toks: Tok[], i: number): number | undefined {
  let k = i;
  if (toks[k]?.text === '-' || toks[k]?.text === '+') k++;
  const t = toks[k];
  if (!t) return undefined;
  if (
    t.kind === 'param' ||
    t.kind === 'string' ||
    t.kind === 'number' ||
    (t.kind === 'op' && t.text === '?')
  ) {
    k++;
  } else if (
    t.kind === 'ident' &&
    ['true', 'false', 'current_date', 'current_timestamp', 'now'].includes(t.text.toLowerCase())
  ) {
    k++;
    if (toks[k]?.text === '(' && toks[k + 1]?.text === ')') k += 2;
  } else if (
    t.kind === 'ident' &&
    ['interval', 'date', 'timestamp', 'timestamptz'].includes(t.text.toLowerCase()) &&
    toks[k + 1]?.kind === 'string'
  ) {
    k += 2;
  } else {
    return undefined;
  }
  while (toks[k]?.text === '::' && isName(toks[k + 1])) {
    k += 2;
    if (toks[k]?.text === '[' && toks[k + 1]?.text === ']') k += 2;
  }
  // now() - interval '1 day', $1 + 1: still a constant
  while ((toks[k]?.text === '-' || toks[k]?.text === '+') && toks[k + 1]) {
    const after = constantAt(toks, k + 1);
    if (after === undefined) return undefined;
    k = after;
  }
  return k;
}

const RANGE_OPS = new Set(['<', '>', '<=', '>=']);
const FLIP: Record<string, string> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

function parseCondition(toks: Tok[]): Condition | undefined {
  if (toks.length === 0) return undefined;
  const col = columnAt(toks, 0);
  if (col) {
    const rest = toks.slice(col.next);
    const op = rest[0];
    const w = word(op);
    const whole = (k: number | undefined) => k !== undefined && k === rest.length;
    if (op?.kind === 'op' && op.text === '=') {
      if (word(rest[1]) === 'any' && rest[2]?.text === '(') return { kind: 'in', column: col.ref };
      if (whole(constantAt(rest, 1))) return { kind: 'eq', column: col.ref };
      return undefined;
    }
    if (op?.kind === 'op' && RANGE_OPS.has(op.text)) {
      return whole(constantAt(rest, 1)) ? { kind: 'range', column: col.ref } : undefined;
    }
    if (w === 'is' && word(rest[1]) === 'null' && rest.length === 2)
      return { kind: 'is_null', column: col.ref };
    if (w === 'in' && rest[1]?.text === '(' && word(rest[2]) !== 'select')
      return { kind: 'in', column: col.ref };
    if (w === 'between') return { kind: 'range', column: col.ref };
    return undefined;
  }
  // constant op column
  const k = constantAt(toks, 0);
  if (k === undefined) return undefined;
  const op = toks[k];
  const right = columnAt(toks, k + 1);
  if (op?.kind !== 'op' || !right || right.next !== toks.length) return undefined;
  if (op.text === '=') return { kind: 'eq', column: right.ref };
  if (FLIP[op.text]) return { kind: 'range', column: right.ref };
  return undefined;
}

function parseOrderBy(toks: Tok[], start: number): OrderColumn[] {
  const out: OrderColumn[] = [];
  let i = start;
  while (i < toks.length) {
    const col = columnAt(toks, i);
    if (!col) return [];
    i = col.next;
    let desc = false;
    const w = word(toks[i]);
    if (w === 'desc' || w === 'asc') {
      desc = w === 'desc';
      i++;
    }
    if (word(toks[i]) === 'nulls' && ['first', 'last'].includes(word(toks[i + 1]) ?? '')) i += 2;
    out.push({ column: col.ref, desc });
    if (toks[i]?.text === ',') {
      i++;
      continue;
    }
    const end = toks[i];
    if (!end || end.text === ';' || ['limit', 'offset', 'fetch', 'for'].includes(word(end) ?? '')) return out;
    return [];
  }
  return out;
}

export interface IndexSuggestion {
  readonly table: TableRef;
  /** The statement to run, in the runbook's form. */
  readonly sql: string;
  /** Key columns, in order, e.g. ["created_at DESC"]. */
  readonly columns: readonly string[];
  /** The partial-index predicate, e.g. "status = '<value>'", when the query's filter allows one. */
  readonly predicate?: string;
  /** When the predicate needs a value the bot does not post: what to put there, and the plain alternative. */
  readonly note?: string;
  readonly alternative?: string;
}

/** The runbook's placeholder for a literal the bot will not post. */
export const VALUE_PLACEHOLDER = "'<value>'";

/**
 * Builds `CREATE INDEX CONCURRENTLY` for one table the query reads, from the columns it filters on
 * (equality first, then IN, then the ORDER BY columns or one range column), partial where the filter
 * is an equality on a constant and the query also sorts (the runbook's `WHERE status = 'open'` form),
 * or on IS NULL. Undefined when the query's columns on that table cannot be told.
 */
export function suggestIndex(sql: string, table: TableRef): IndexSuggestion | undefined {
  const shape = parseQueryShape(sql);
  if (!shape) return undefined;
  const matches = shape.tables.filter(
    (t) => t.name === table.name && (!t.schema || !table.schema || t.schema === table.schema),
  );
  if (matches.length !== 1) return undefined; // absent, or a self-join we cannot tell apart
  const target = matches[0] as ShapeTable;
  const belongs = (c: ColumnRef): boolean => {
    if (!c.qualifier) return shape.tables.length === 1;
    return c.qualifier === (target.alias ?? target.name);
  };
  const cols = (kind: Condition['kind']) =>
    unique(shape.conditions.filter((c) => c.kind === kind && belongs(c.column)).map((c) => c.column.column));
  const eq = cols('eq');
  const inList = cols('in').filter((c) => !eq.includes(c));
  const range = cols('range').filter((c) => !eq.includes(c) && !inList.includes(c));
  const isNull = cols('is_null').filter((c) => !eq.includes(c));
  const order = shape.orderBy.every((o) => belongs(o.column)) ? shape.orderBy : [];
  const orderKeys = order.map((o) => `${quoteIdent(o.column.column)}${o.desc ? ' DESC' : ''}`);
  const orderNames = order.map((o) => o.column.column);

  const qualified = `${table.schema && table.schema !== 'public' ? `${quoteIdent(table.schema)}.` : ''}${quoteIdent(table.name)}`;
  const build = (keyNames: string[], keys: string[], predicate: string[]) => {
    const name = indexName(table.name, keyNames);
    const where = predicate.length ? ` WHERE ${predicate.join(' AND ')}` : '';
    return `CREATE INDEX CONCURRENTLY ${quoteIdent(name)} ON ${qualified} (${keys.join(', ')})${where};`;
  };
  const nullPredicates = isNull.map((c) => `${quoteIdent(c)} IS NULL`);

  // The runbook's form: sort columns as the key, the one equality as the partial predicate.
  if (order.length > 0 && eq.length === 1 && inList.length === 0 && range.length === 0) {
    const eqCol = eq[0] as string;
    if (!orderNames.includes(eqCol)) {
      const predicate = [`${quoteIdent(eqCol)} = ${VALUE_PLACEHOLDER}`, ...nullPredicates];
      const altKeys = [quoteIdent(eqCol), ...orderKeys];
      return {
        table,
        sql: build(orderNames, orderKeys, predicate),
        columns: orderKeys,
        predicate: predicate.join(' AND '),
        note: `Replace ${VALUE_PLACEHOLDER} with the ${eqCol} value the slow query asks for (the bot does not post literals). A partial index serves only that value; if the query runs with many different values, index both columns instead.`,
        alternative: build([eqCol, ...orderNames], altKeys, nullPredicates),
      };
    }
  }
  const keyNames = unique([...eq, ...inList, ...(order.length ? orderNames : range.slice(0, 1))]);
  if (keyNames.length === 0) return undefined;
  const keys = keyNames.map((c) => {
    const o = order.find((x) => x.column.column === c);
    return `${quoteIdent(c)}${o?.desc ? ' DESC' : ''}`;
  });
  const result: IndexSuggestion = { table, sql: build(keyNames, keys, nullPredicates), columns: keys };
  return nullPredicates.length ? { ...result, predicate: nullPredicates.join(' AND ') } : result;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** idx_<table>_<columns>, within PostgreSQL's 63-byte identifier limit. */
export function indexName(table: string, columns: readonly string[]): string {
  const raw = `idx_${table}_${columns.join('_')}`.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
  return raw.length <= 63 ? raw : raw.slice(0, 63);
}

const RESERVED = new Set([
  'all',
  'analyse',
  'analyze',
  'and',
  'any',
  'array',
  'as',
  'asc',
  'asymmetric',
  'both',
  'case',
  'cast',
  'check',
  'collate',
  'column',
  'constraint',
  'create',
  'current_date',
  'current_role',
  'current_time',
  'current_timestamp',
  'current_user',
  'default',
  'deferrable',
  'desc',
  'distinct',
  'do',
  'else',
  'end',
  'except',
  'false',
  'fetch',
  'for',
  'foreign',
  'from',
  'grant',
  'group',
  'having',
  'in',
  'initially',
  'intersect',
  'into',
  'lateral',
  'leading',
  'limit',
  'localtime',
  'localtimestamp',
  'not',
  'null',
  'offset',
  'on',
  'only',
  'or',
  'order',
  'placing',
  'primary',
  'references',
  'returning',
  'select',
  'session_user',
  'some',
  'symmetric',
  'table',
  'then',
  'to',
  'trailing',
  'true',
  'union',
  'unique',
  'user',
  'using',
  'variadic',
  'when',
  'where',
  'window',
  'with',
]);

/** Quotes an identifier when PostgreSQL would not read it back unchanged. */
export function quoteIdent(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}
