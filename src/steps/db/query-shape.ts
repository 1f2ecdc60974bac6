import { type PgNode, parseOneStatement } from '../../lib/sql/pg-parser.ts';

/**
 * What a statement asks of each table it reads, told from PostgreSQL's own parse tree: the ANDed
 * conditions on that table's columns (with a constant, or with another table's column in a join,
 * a correlated EXISTS or an IN subquery) and its sort order. CTE bodies, subqueries in FROM, EXISTS
 * and IN subqueries and UNION branches are followed, each with its own tables; a CTE's name is not a
 * table. A condition under OR or NOT, an unqualified column when several tables are in scope, and
 * an expression other than lower()/upper() of one column are left out rather than guessed.
 */
export interface QueryShape {
  /** SelectStmt, UpdateStmt or DeleteStmt. */
  readonly kind: 'select' | 'update' | 'delete';
  /** Row locks (SELECT ... FOR UPDATE/SHARE) need UPDATE privilege to plan. */
  readonly locks: boolean;
  /** Highest $n in the text: EXECUTE needs as many arguments. */
  readonly params: number;
  readonly tables: readonly TableAccess[];
}

export interface TableAccess {
  readonly schema?: string;
  readonly name: string;
  readonly alias?: string;
  readonly predicates: readonly Predicate[];
  /** The ORDER BY, when every sort key is a column (or indexed expression) of this table. */
  readonly orderBy: readonly OrderKey[];
}

/** An index key: a column, or lower()/upper() of one. */
export type KeyExpr =
  | { readonly kind: 'column'; readonly column: string }
  | { readonly kind: 'function'; readonly func: 'lower' | 'upper'; readonly column: string };

/** The constant a column is compared with: a $n placeholder, or a literal as the text wrote it. */
export type ConstantValue =
  | { readonly kind: 'param' }
  | {
      readonly kind: 'literal';
      /** The literal as SQL ('open', 42, true): only ever sent to the database, never posted. */
      readonly sql: string;
      /** The literal when it is a short plain word that may be shown (see plainWord). */
      readonly shown?: string;
    }
  /** now(), CURRENT_DATE, $1::interval arithmetic and the like. */
  | { readonly kind: 'expression' };

export type Predicate =
  | { readonly kind: 'eq'; readonly key: KeyExpr; readonly value: ConstantValue }
  | { readonly kind: 'in'; readonly key: KeyExpr }
  | { readonly kind: 'range'; readonly key: KeyExpr }
  /** col = other.col: a join, a correlated EXISTS, an IN subquery. */
  | { readonly kind: 'join'; readonly key: KeyExpr }
  /** col LIKE 'abc%': a left-anchored pattern literal. */
  | { readonly kind: 'prefix'; readonly key: KeyExpr }
  /** jsonb containment (@>) and key existence (?, ?|, ?&). */
  | { readonly kind: 'jsonb'; readonly column: string; readonly op: string }
  | { readonly kind: 'is_null'; readonly column: string };

export interface OrderKey {
  readonly key: KeyExpr;
  readonly desc: boolean;
}

/** Parses `sql` and returns its shape; undefined when it does not parse or is not SELECT/UPDATE/DELETE. */
export function queryShape(sql: string): QueryShape | undefined {
  const parsed = parseOneStatement(sql);
  if (!parsed) return undefined;
  const kind = (
    { SelectStmt: 'select', UpdateStmt: 'update', DeleteStmt: 'delete' } as Record<string, QueryShape['kind']>
  )[parsed.type];
  if (!kind) return undefined;
  const walker = new Walker();
  walker.statement(parsed.type, parsed.node, undefined);
  return {
    kind,
    locks: walker.locks,
    params: maxParam(parsed.node),
    tables: walker.tables.map((t) => ({
      ...(t.schema ? { schema: t.schema } : {}),
      name: t.name,
      ...(t.alias ? { alias: t.alias } : {}),
      predicates: t.predicates,
      orderBy: t.orderBy,
    })),
  };
}

/** A literal short and plain enough to show (an enum-like status word); anything else is not shown. */
export function plainWord(value: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(value);
}

interface TableEntry {
  schema?: string;
  name: string;
  alias?: string;
  predicates: Predicate[];
  orderBy: OrderKey[];
}

interface Scope {
  readonly parent?: Scope;
  /** Relations of this FROM list: tables, and opaque items (subqueries, functions, CTE references). */
  readonly items: { readonly ref: string; readonly table?: TableEntry }[];
  readonly ctes: ReadonlySet<string>;
}

const RANGE_OPS = new Set(['<', '>', '<=', '>=']);
const JSONB_OPS = new Set(['@>', '?', '?|', '?&']);
const INDEXABLE_FUNCTIONS = new Set(['lower', 'upper']);

function field(node: unknown, key: string): unknown {
  return node && typeof node === 'object' ? (node as PgNode)[key] : undefined;
}

/** The node type and its fields: { A_Expr: {...} } -> ['A_Expr', {...}]. */
function unwrap(node: unknown): [string, PgNode] | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const entry = Object.entries(node as PgNode)[0];
  if (!entry?.[1] || typeof entry[1] !== 'object') return undefined;
  return [entry[0], entry[1] as PgNode];
}

function list(node: unknown): unknown[] {
  return Array.isArray(node) ? node : [];
}

/** ["pg_catalog", "lower"] from a name list of String nodes. */
function names(nodes: unknown): string[] {
  return list(nodes).map((n) => String(field(field(n, 'String'), 'sval') ?? ''));
}

class Walker {
  readonly tables: TableEntry[] = [];
  locks = false;

  statement(type: string, node: PgNode, parent: Scope | undefined): void {
    if (type === 'SelectStmt') this.select(node, parent);
    else if (type === 'UpdateStmt') this.modify(node, 'fromClause', parent);
    else if (type === 'DeleteStmt') this.modify(node, 'usingClause', parent);
  }

  private withCtes(node: PgNode, parent: Scope | undefined): Scope | undefined {
    const ctes = list(field(node.withClause, 'ctes'));
    if (ctes.length === 0) return parent;
    const cteNames = new Set(ctes.map((c) => String(field(field(c, 'CommonTableExpr'), 'ctename'))));
    const scope: Scope = { ...(parent ? { parent } : {}), items: [], ctes: cteNames };
    for (const c of ctes) {
      const inner = unwrap(field(field(c, 'CommonTableExpr'), 'ctequery'));
      if (inner) this.statement(inner[0], inner[1], scope);
    }
    return scope;
  }

  private select(node: PgNode, parent: Scope | undefined): void {
    const outer = this.withCtes(node, parent);
    if (node.op && node.op !== 'SETOP_NONE') {
      for (const side of ['larg', 'rarg']) {
        const s = node[side];
        if (s && typeof s === 'object') this.select(s as PgNode, outer);
      }
      return;
    }
    if (list(node.lockingClause).length > 0) this.locks = true;
    const scope: Scope = { ...(outer ? { parent: outer } : {}), items: [], ctes: new Set() };
    const conditions: unknown[] = [];
    for (const item of list(node.fromClause)) this.fromItem(item, scope, conditions);
    this.conditions([...conditions, node.whereClause], scope);
    for (const t of list(node.targetList)) this.subqueries(t, scope);
    this.subqueries(node.havingClause, scope);
    this.orderBy(list(node.sortClause), scope);
  }

  private modify(node: PgNode, fromKey: string, parent: Scope | undefined): void {
    const outer = this.withCtes(node, parent);
    const scope: Scope = { ...(outer ? { parent: outer } : {}), items: [], ctes: new Set() };
    const conditions: unknown[] = [];
    this.fromItem({ RangeVar: node.relation }, scope, conditions);
    for (const item of list(node[fromKey])) this.fromItem(item, scope, conditions);
    this.conditions([...conditions, node.whereClause], scope);
    for (const t of list(node.targetList)) this.subqueries(t, scope);
  }

  private fromItem(item: unknown, scope: Scope, conditions: unknown[]): void {
    const u = unwrap(item);
    if (!u) return;
    const [type, n] = u;
    const alias = field(n.alias, 'aliasname') as string | undefined;
    if (type === 'RangeVar') {
      const name = String(n.relname ?? '');
      const schema = n.schemaname as string | undefined;
      if (!schema && this.isCte(name, scope)) {
        scope.items.push({ ref: alias ?? name });
        return;
      }
      const table: TableEntry = {
        name,
        ...(schema ? { schema } : {}),
        ...(alias ? { alias } : {}),
        predicates: [],
        orderBy: [],
      };
      this.tables.push(table);
      scope.items.push({ ref: alias ?? name, table });
    } else if (type === 'JoinExpr') {
      this.fromItem(n.larg, scope, conditions);
      this.fromItem(n.rarg, scope, conditions);
      if (n.quals) conditions.push(n.quals);
    } else if (type === 'RangeSubselect') {
      const inner = unwrap(n.subquery);
      if (inner) this.statement(inner[0], inner[1], n.lateral ? scope : this.parentOf(scope));
      scope.items.push({ ref: alias ?? '' });
    } else {
      // functions, VALUES, table samples: not a table we can index, but it is in scope
      this.subqueries(n, scope);
      scope.items.push({ ref: alias ?? '' });
    }
  }

  private parentOf(scope: Scope): Scope | undefined {
    return scope.parent;
  }

  private isCte(name: string, scope: Scope | undefined): boolean {
    for (let s = scope; s; s = s.parent) if (s.ctes.has(name)) return true;
    return false;
  }

  /** Splits ANDs and reads each conjunct; anything else is searched for subqueries only. */
  private conditions(nodes: readonly unknown[], scope: Scope): void {
    const conjuncts: unknown[] = [];
    const split = (node: unknown) => {
      const u = unwrap(node);
      if (!u) return;
      if (u[0] === 'BoolExpr' && u[1].boolop === 'AND_EXPR') list(u[1].args).forEach(split);
      else conjuncts.push(node);
    };
    nodes.forEach(split);
    for (const c of conjuncts) this.conjunct(c, scope);
  }

  private conjunct(node: unknown, scope: Scope): void {
    const u = unwrap(node);
    if (!u) return;
    const [type, n] = u;
    if (type === 'A_Expr') {
      this.expression(n, scope);
      this.subqueries(node, scope);
    } else if (type === 'NullTest') {
      const col = this.column(n.arg, scope);
      if (col && n.nulltesttype === 'IS_NULL' && col.key.kind === 'column') {
        col.table.predicates.push({ kind: 'is_null', column: col.key.column });
      }
    } else if (type === 'SubLink') {
      this.subLink(n, scope);
    } else {
      this.subqueries(node, scope);
    }
  }

  private expression(n: PgNode, scope: Scope): void {
    const kind = n.kind;
    const op = names(n.name).at(-1) ?? '';
    const left = this.column(n.lexpr, scope);
    const right = this.column(n.rexpr, scope);
    if (kind === 'AEXPR_OP' && op === '=') {
      if (left && right) {
        if (left.table !== right.table) {
          left.table.predicates.push({ kind: 'join', key: left.key });
          right.table.predicates.push({ kind: 'join', key: right.key });
        }
        return;
      }
      const col = left ?? right;
      const other = left ? n.rexpr : n.lexpr;
      const value = col ? constant(other) : undefined;
      if (col && value) col.table.predicates.push({ kind: 'eq', key: col.key, value });
      return;
    }
    if (kind === 'AEXPR_OP' && RANGE_OPS.has(op)) {
      const col = left && !right ? left : right && !left ? right : undefined;
      const other = left ? n.rexpr : n.lexpr;
      if (col && constant(other)) col.table.predicates.push({ kind: 'range', key: col.key });
      return;
    }
    if (kind === 'AEXPR_OP' && JSONB_OPS.has(op)) {
      if (left?.key.kind === 'column' && !right && constant(n.rexpr)) {
        left.table.predicates.push({ kind: 'jsonb', column: left.key.column, op });
      }
      return;
    }
    if (kind === 'AEXPR_LIKE' && op === '~~' && left && !right) {
      const pattern = stringConstant(n.rexpr);
      if (pattern !== undefined && likePrefix(pattern))
        left.table.predicates.push({ kind: 'prefix', key: left.key });
      return;
    }
    if (kind === 'AEXPR_IN' && op === '=' && left && list(n.rexpr).every((x) => constant(x))) {
      left.table.predicates.push({ kind: 'in', key: left.key });
      return;
    }
    if (kind === 'AEXPR_OP_ANY' && op === '=' && left && constant(n.rexpr)) {
      left.table.predicates.push({ kind: 'in', key: left.key });
      return;
    }
    if ((kind === 'AEXPR_BETWEEN' || kind === 'AEXPR_BETWEEN_SYM') && left) {
      const bounds = list(field(n.rexpr, 'List') ? field(field(n.rexpr, 'List'), 'items') : n.rexpr);
      if (bounds.length === 2 && bounds.every((b) => constant(b))) {
        left.table.predicates.push({ kind: 'range', key: left.key });
      }
    }
  }

  private subLink(n: PgNode, scope: Scope): void {
    const inner = unwrap(n.subselect);
    if (n.subLinkType === 'ANY_SUBLINK' && names(n.operName).every((o) => o === '=')) {
      const col = this.column(n.testexpr, scope);
      if (col) col.table.predicates.push({ kind: 'join', key: col.key });
    }
    if (inner) this.statement(inner[0], inner[1], scope);
  }

  /** Subqueries anywhere below `node` (target list, HAVING, OR branches) are read with their own tables. */
  private subqueries(node: unknown, scope: Scope): void {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const x of node) this.subqueries(x, scope);
      return;
    }
    const u = unwrap(node);
    if (u && u[0] === 'SubLink') {
      const inner = unwrap(u[1].subselect);
      if (inner) this.statement(inner[0], inner[1], scope);
      return;
    }
    for (const v of Object.values(node as PgNode)) this.subqueries(v, scope);
  }

  private orderBy(sorts: readonly unknown[], scope: Scope): void {
    if (sorts.length === 0) return;
    const keys: { table: TableEntry; key: OrderKey }[] = [];
    for (const s of sorts) {
      const sortBy = field(s, 'SortBy') as PgNode | undefined;
      const col = sortBy ? this.column(sortBy.node, scope) : undefined;
      if (!col || !sortBy) return;
      keys.push({ table: col.table, key: { key: col.key, desc: sortBy.sortby_dir === 'SORTBY_DESC' } });
    }
    const table = keys[0]?.table;
    if (!table || keys.some((k) => k.table !== table)) return;
    table.orderBy = keys.map((k) => k.key);
  }

  /** A column of a table in scope, or lower()/upper() of one; undefined for anything else. */
  private column(node: unknown, scope: Scope): { table: TableEntry; key: KeyExpr } | undefined {
    const u = unwrap(node);
    if (!u) return undefined;
    const [type, n] = u;
    if (type === 'FuncCall') {
      const func = names(n.funcname).at(-1) ?? '';
      const args = list(n.args);
      if (!INDEXABLE_FUNCTIONS.has(func) || args.length !== 1 || n.agg_star || n.over) return undefined;
      const inner = this.column(args[0], scope);
      if (inner?.key.kind !== 'column') return undefined;
      return {
        table: inner.table,
        key: { kind: 'function', func: func as 'lower' | 'upper', column: inner.key.column },
      };
    }
    if (type !== 'ColumnRef') return undefined;
    const fields = list(n.fields);
    if (fields.some((f) => !field(f, 'String'))) return undefined; // t.* or a subscript
    const parts = names(fields);
    const column = parts.at(-1) as string;
    const table = this.resolve(parts.slice(0, -1), scope);
    return table ? { table, key: { kind: 'column', column } } : undefined;
  }

  private resolve(qualifier: readonly string[], scope: Scope): TableEntry | undefined {
    if (qualifier.length === 0) {
      // Unqualified: only when the innermost FROM has exactly one item and it is a table.
      const items = scope.items;
      return items.length === 1 ? items[0]?.table : undefined;
    }
    const ref = qualifier.at(-1) as string;
    const schema = qualifier.length >= 2 ? qualifier.at(-2) : undefined;
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const hits = s.items.filter(
        (i) => i.ref === ref && (!schema || (i.table && !i.table.alias && i.table.schema === schema)),
      );
      if (hits.length === 1) return hits[0]?.table;
      if (hits.length > 1) return undefined;
    }
    return undefined;
  }
}

/** The highest $n anywhere in the tree. */
function maxParam(node: unknown): number {
  if (!node || typeof node !== 'object') return 0;
  if (Array.isArray(node)) return node.reduce((m: number, x) => Math.max(m, maxParam(x)), 0);
  const ref = (node as PgNode).ParamRef;
  if (ref && typeof ref === 'object') return Number((ref as PgNode).number ?? 0);
  return Object.values(node as PgNode).reduce((m: number, x) => Math.max(m, maxParam(x)), 0);
}

/** A constant side of a comparison: a literal, a $n, a cast or arithmetic of those, now()/CURRENT_DATE. */
function constant(node: unknown): ConstantValue | undefined {
  const u = unwrap(node);
  if (!u) return undefined;
  const [type, n] = u;
  if (type === 'ParamRef') return { kind: 'param' };
  if (type === 'A_Const') return literal(n);
  if (type === 'TypeCast') {
    return constant(n.arg);
  }
  if (type === 'SQLValueFunction') return { kind: 'expression' };
  if (type === 'FuncCall') {
    const func = names(n.funcname).at(-1) ?? '';
    const args = list(n.args);
    if (
      ['now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp'].includes(func) &&
      args.length === 0
    )
      return { kind: 'expression' };
    if (['make_interval', 'to_timestamp'].includes(func) && args.every((a) => constant(a)))
      return { kind: 'expression' };
    return undefined;
  }
  if (type === 'A_Expr' && n.kind === 'AEXPR_OP') {
    const l = n.lexpr === undefined ? { kind: 'expression' as const } : constant(n.lexpr);
    return l && constant(n.rexpr) ? { kind: 'expression' } : undefined;
  }
  if (type === 'A_ArrayExpr')
    return list(n.elements).every((e) => constant(e)) ? { kind: 'expression' } : undefined;
  return undefined;
}

function literal(n: PgNode): ConstantValue | undefined {
  if (n.isnull) return undefined; // col = NULL is never true: nothing to index
  const sval = field(n.sval, 'sval');
  if (typeof sval === 'string' || n.sval !== undefined) {
    const s = typeof sval === 'string' ? sval : '';
    return {
      kind: 'literal',
      sql: `'${s.replaceAll("'", "''")}'`,
      ...(plainWord(s) ? { shown: `'${s}'` } : {}),
    };
  }
  if (n.ival !== undefined) return { kind: 'literal', sql: String(Number(field(n.ival, 'ival') ?? 0)) };
  if (n.fval !== undefined) {
    const f = String(field(n.fval, 'fval') ?? '');
    return /^[0-9.eE+-]+$/.test(f) ? { kind: 'literal', sql: f } : undefined;
  }
  if (n.boolval !== undefined) {
    const b = field(n.boolval, 'boolval') === true ? 'true' : 'false';
    return { kind: 'literal', sql: b, shown: b };
  }
  return undefined;
}

function stringConstant(node: unknown): string | undefined {
  const u = unwrap(node);
  if (!u) return undefined;
  if (u[0] === 'TypeCast') return stringConstant(u[1].arg);
  if (u[0] !== 'A_Const') return undefined;
  const s = field(u[1].sval, 'sval');
  return typeof s === 'string' ? s : u[1].sval !== undefined ? '' : undefined;
}

/** 'abc%' with no wildcard or escape before the trailing %: a btree range scan can serve it. */
function likePrefix(pattern: string): boolean {
  if (!pattern.endsWith('%')) return false;
  const head = pattern.replace(/%+$/, '');
  return head.length > 0 && !/[%_\\]/.test(head);
}
