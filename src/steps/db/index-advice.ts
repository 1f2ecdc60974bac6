import { quoteIdent } from '../../lib/sql/identifier.ts';
import type { ColumnStatsRow, IndexDefRow, TableRef } from '../../sources/postgres-types.ts';
import type { ConstantValue, KeyExpr, OrderKey, Predicate, TableAccess } from './query-shape.ts';

/**
 * An index for one table a slow statement reads, built from the statement's parse tree (query-shape.ts):
 * identifiers from the tree only, never its constants, except the partial-index predicate's value
 * when it is a plain word (plainWord). Equality columns come first, the most selective first when
 * pg_stats knows them all, then IN-list columns, then the sort columns or one range / LIKE-prefix
 * column; an equality on a low-cardinality column (at most LOW_CARDINALITY_MAX_DISTINCT values) with
 * a constant becomes the partial index's WHERE, the runbook's `WHERE status = 'open'` form. jsonb
 * containment and key tests get a GIN index when nothing else can be a btree key.
 */

/** A column with at most this many distinct values (pg_stats) is "low-cardinality": see README. */
export const LOW_CARDINALITY_MAX_DISTINCT = 10;

/** The runbook's placeholder for a literal the bot will not post. */
export const VALUE_PLACEHOLDER = "'<value>'";

export interface IndexSuggestion {
  readonly table: TableRef;
  readonly method: 'btree' | 'gin';
  /** The statement to run, in the runbook's form (CREATE INDEX CONCURRENTLY ...). */
  readonly sql: string;
  /** Key columns as written in the index, e.g. ["created_at DESC"]. */
  readonly columns: readonly string[];
  /** The partial-index predicate as shown, e.g. "status = 'open'" or "status = '<value>'". */
  readonly predicate?: string;
  /** When the predicate needs a value the bot does not post: what to put there. */
  readonly note?: string;
  /** The plain (non-partial) index, when the suggestion is partial on a value the bot does not know. */
  readonly alternative?: string;
  /** How the equality columns were ordered: by pg_stats selectivity, or as the query wrote them. */
  readonly order: 'selectivity' | 'query';
  /**
   * What HypoPG is asked to simulate: the suggestion without CONCURRENTLY, with the predicate's real
   * literal (sent to the database only), or the alternative when the value is a $n placeholder
   * (a generic plan cannot match a partial index to a parameter). Never shown.
   */
  readonly check: string;
  readonly checkedAs: 'suggestion' | 'alternative';
}

export type AdviceResult =
  | { readonly kind: 'suggestion'; readonly suggestion: IndexSuggestion }
  /** An existing index already starts with the suggested key. */
  | { readonly kind: 'covered'; readonly index: string; readonly columns: readonly string[] };

/** The column statistics of one table, by column name. */
export type TableColumnStats = ReadonlyMap<string, ColumnStatsRow>;

/** Distinct values pg_stats estimates (n_distinct < 0 is a fraction of the rows); undefined when unknown. */
export function distinctValues(s: ColumnStatsRow): number | undefined {
  if (s.nDistinct > 0) return s.nDistinct;
  if (s.nDistinct < 0 && s.reltuples > 0) return Math.max(1, -s.nDistinct * s.reltuples);
  return undefined;
}

/**
 * The fraction of rows `col = value` matches on average, when the values asked for are distributed
 * like the data: the most common values' frequencies squared, plus the rest spread evenly over the
 * other distinct values. Smaller is more selective.
 */
export function equalitySelectivity(s: ColumnStatsRow): number | undefined {
  const distinct = distinctValues(s);
  if (distinct === undefined) return undefined;
  const freqs = s.mostCommonFreqs ?? [];
  const common = freqs.reduce((a: number, f: number) => a + f, 0);
  const rest = Math.max(0, 1 - s.nullFrac - common);
  const others = Math.max(distinct - freqs.length, 1);
  return freqs.reduce((a: number, f: number) => a + f * f, 0) + (rest * rest) / others;
}

interface Key {
  readonly expr: KeyExpr;
  readonly desc?: boolean;
  readonly opclass?: string;
}

/** The key as pg_get_indexdef writes one index column: `owner`, `lower(email)`. */
function keyDef(k: KeyExpr): string {
  return k.kind === 'column' ? quoteIdent(k.column) : `${k.func}(${quoteIdent(k.column)})`;
}

function keyText(k: Key): string {
  return `${keyDef(k.expr)}${k.opclass ? ` ${k.opclass}` : ''}${k.desc ? ' DESC' : ''}`;
}

function keyName(k: KeyExpr): string {
  return k.kind === 'column' ? k.column : `${k.func}_${k.column}`;
}

function sameKey(a: KeyExpr, b: KeyExpr): boolean {
  return keyDef(a) === keyDef(b);
}

/** idx_<table>_<columns>, within PostgreSQL's 63-byte identifier limit. */
export function indexName(table: string, columns: readonly string[]): string {
  const raw = `idx_${table}_${columns.join('_')}`.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
  return raw.length <= 63 ? raw : raw.slice(0, 63);
}

export interface AdviceContext {
  /** pg_stats of the table; empty when not analyzed or not readable by the diagnosis role. */
  readonly stats: TableColumnStats;
  /** The table's existing indexes. */
  readonly indexes: readonly IndexDefRow[];
}

/** Builds the index for `access` (one table of a parsed statement); undefined when nothing is indexable. */
export function suggestIndex(
  access: TableAccess,
  table: TableRef,
  ctx: AdviceContext,
): AdviceResult | undefined {
  const preds = access.predicates;
  const btree = btreeKeys(preds, access.orderBy, ctx.stats);
  if (btree) return finish(table, 'btree', btree, ctx.indexes);
  const jsonb = preds.find((p): p is Extract<Predicate, { kind: 'jsonb' }> => p.kind === 'jsonb');
  if (!jsonb) return undefined;
  return finish(
    table,
    'gin',
    {
      keys: [{ expr: { kind: 'column', column: jsonb.column } }],
      partial: [],
      plainKeys: [],
      plainWhere: [],
      order: 'query',
    },
    ctx.indexes,
  );
}

interface PartialTerm {
  readonly column: string;
  /** As shown: `status = 'open'`, `status = '<value>'`, `deleted_at IS NULL`. */
  readonly shown: string;
  /** As sent to HypoPG, with the real literal. */
  readonly check: string;
  /** The value is a $n: the bot cannot write this predicate, so it checks the plain index instead. */
  readonly unknownValue: boolean;
}

interface Plan {
  readonly keys: readonly Key[];
  readonly partial: readonly PartialTerm[];
  /** The plain index: every equality column a key, only IS NULL terms as its predicate. */
  readonly plainKeys: readonly Key[];
  readonly plainWhere: readonly string[];
  readonly order: 'selectivity' | 'query';
}

function uniqueKeys(keys: readonly KeyExpr[]): KeyExpr[] {
  const out: KeyExpr[] = [];
  for (const k of keys) if (!out.some((o) => sameKey(o, k))) out.push(k);
  return out;
}

function btreeKeys(
  preds: readonly Predicate[],
  orderBy: readonly OrderKey[],
  stats: TableColumnStats,
): Plan | undefined {
  const of = <K extends Predicate['kind']>(kind: K) =>
    preds.filter((p): p is Extract<Predicate, { kind: K }> => p.kind === kind);
  const eqPreds = of('eq');
  let eq = uniqueKeys(eqPreds.map((p) => p.key));
  const inList = uniqueKeys(of('in').map((p) => p.key)).filter((k) => !eq.some((e) => sameKey(e, k)));
  const ranges = uniqueKeys(of('range').map((p) => p.key));
  const prefixes = uniqueKeys(of('prefix').map((p) => p.key));
  const nulls = [...new Set(of('is_null').map((p) => p.column))];
  const hasOwnFilter = eq.length + inList.length + ranges.length + prefixes.length > 0 || orderBy.length > 0;
  // A table reached only through a join (or EXISTS / IN subquery) is looked up by its join column.
  if (!hasOwnFilter) eq = uniqueKeys(of('join').map((p) => p.key));

  // Equality columns, most selective first when pg_stats knows every one of them.
  const selectivity = eq.map((k) => {
    const s = k.kind === 'column' ? stats.get(k.column) : undefined;
    return s ? equalitySelectivity(s) : undefined;
  });
  const bySelectivity = eq.length > 1 && selectivity.every((s) => s !== undefined);
  if (bySelectivity) {
    eq = eq
      .map((k, i) => ({ k, s: selectivity[i] as number, i }))
      .sort((a, b) => a.s - b.s || a.i - b.i)
      .map((x) => x.k);
  }

  // Sort columns (unless equality already fixes them), else one range or LIKE-prefix column.
  const orderKeys: Key[] = orderBy
    .filter((o) => !eq.some((e) => sameKey(e, o.key)))
    .map((o) => ({ expr: o.key, ...(o.desc ? { desc: true } : {}) }));
  const fixed = (k: KeyExpr) => eq.some((e) => sameKey(e, k)) || inList.some((e) => sameKey(e, k));
  let tail: Key[] = orderKeys;
  if (tail.length === 0) {
    const range = ranges.find((k) => !fixed(k));
    const prefix = prefixes.find((k) => !fixed(k));
    if (range) tail = [{ expr: range }];
    else if (prefix) tail = [{ expr: prefix, opclass: 'text_pattern_ops' }];
  }

  // Low-cardinality equality columns with a constant become the partial predicate, when other keys remain.
  const lowCard = (k: KeyExpr): boolean => {
    if (k.kind !== 'column') return false;
    const s = stats.get(k.column);
    const d = s ? distinctValues(s) : undefined;
    return d !== undefined && d <= LOW_CARDINALITY_MAX_DISTINCT;
  };
  const constantFor = (k: KeyExpr): ConstantValue | undefined =>
    eqPreds.find((p) => sameKey(p.key, k))?.value;
  const movable = eq.filter((k) => {
    const v = constantFor(k);
    return lowCard(k) && (v?.kind === 'param' || v?.kind === 'literal');
  });
  const remaining = [...eq.filter((k) => !movable.includes(k)), ...inList];
  const partial: PartialTerm[] = [];
  let keyExprs = [...eq, ...inList];
  if (movable.length > 0 && remaining.length + tail.length > 0) {
    for (const k of movable) {
      const v = constantFor(k) as Extract<ConstantValue, { kind: 'param' | 'literal' }>;
      const col = quoteIdent(k.kind === 'column' ? k.column : '');
      const shown = v.kind === 'literal' && v.shown ? v.shown : VALUE_PLACEHOLDER;
      partial.push({
        column: keyName(k),
        shown: `${col} = ${shown}`,
        check: `${col} = ${v.kind === 'literal' ? v.sql : VALUE_PLACEHOLDER}`,
        unknownValue: v.kind === 'param',
      });
    }
    keyExprs = remaining;
  }
  const nullTerms = nulls.map((c) => `${quoteIdent(c)} IS NULL`);
  for (const [i, c] of nulls.entries()) {
    const term = nullTerms[i] as string;
    partial.push({ column: c, shown: term, check: term, unknownValue: false });
  }
  const keys: Key[] = [...keyExprs.map((expr) => ({ expr })), ...tail];
  if (keys.length === 0) return undefined;
  return {
    keys,
    partial,
    plainKeys: [...[...eq, ...inList].map((expr) => ({ expr })), ...tail],
    plainWhere: nullTerms,
    order: bySelectivity ? 'selectivity' : 'query',
  };
}

function qualified(table: TableRef): string {
  return `${table.schema && table.schema !== 'public' ? `${quoteIdent(table.schema)}.` : ''}${quoteIdent(table.name)}`;
}

function ddl(
  table: TableRef,
  method: 'btree' | 'gin',
  keys: readonly Key[],
  where: readonly string[],
  concurrently: boolean,
): string {
  const name = indexName(
    table.name,
    keys.map((k) => keyName(k.expr)),
  );
  const using = method === 'gin' ? ' USING gin' : '';
  const predicate = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  return `CREATE INDEX${concurrently ? ' CONCURRENTLY' : ''} ${quoteIdent(name)} ON ${qualified(table)}${using} (${keys.map(keyText).join(', ')})${predicate}${concurrently ? ';' : ''}`;
}

function finish(
  table: TableRef,
  method: 'btree' | 'gin',
  plan: Plan,
  existing: readonly IndexDefRow[],
): AdviceResult {
  const cover = existing.find(
    (ix) =>
      ix.method === method &&
      !ix.partial &&
      plan.keys.length <= ix.columns.length &&
      plan.keys.every((k, i) => ix.columns[i] === keyDef(k.expr)),
  );
  if (cover) return { kind: 'covered', index: cover.index, columns: plan.keys.map((k) => keyDef(k.expr)) };

  const shownWhere = plan.partial.map((p) => p.shown);
  const unknown = plan.partial.filter((p) => p.unknownValue);
  // An unknown value: the plain index (the moved columns back among the keys) is the alternative.
  const alternative =
    unknown.length > 0 ? ddl(table, method, plan.plainKeys, plan.plainWhere, true) : undefined;
  const suggestion: IndexSuggestion = {
    table,
    method,
    sql: ddl(table, method, plan.keys, shownWhere, true),
    columns: plan.keys.map(keyText),
    ...(shownWhere.length ? { predicate: shownWhere.join(' AND ') } : {}),
    ...(unknown.length
      ? {
          note: `Replace ${VALUE_PLACEHOLDER} with the ${unknown.map((u) => u.column).join(', ')} value the slow query asks for (the bot does not post literals). A partial index serves only that value; if the query runs with many different values, use the plain index instead.`,
        }
      : {}),
    ...(alternative ? { alternative } : {}),
    order: plan.order,
    check:
      unknown.length > 0
        ? ddl(table, method, plan.plainKeys, plan.plainWhere, false)
        : ddl(
            table,
            method,
            plan.keys,
            plan.partial.map((p) => p.check),
            false,
          ),
    checkedAs: unknown.length > 0 ? 'alternative' : 'suggestion',
  };
  return { kind: 'suggestion', suggestion };
}
