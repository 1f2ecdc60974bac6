/**
 * PostgreSQL's own grammar (libpg-query, the server's parser compiled to WebAssembly), loaded on
 * first use: the module costs about 63 MB and 160 ms to load, so a process that never analyses a
 * statement never pays for it. Call loadPgParser() once (it is idempotent and shares one load), then
 * parseOneStatement() synchronously.
 *
 * The parse tree is plain JSON: { SelectStmt: {...} }, { A_Expr: {...} }, ... (libpg-query's
 * "protobuf JSON" form). Parsing is not redaction: the tree still holds the literals.
 */
import type * as PgQuery from 'libpg-query';

/** A parse-tree node: one key naming the node type, its fields as the value. */
export type PgNode = Record<string, unknown>;

export interface ParsedStatement {
  /** The statement node's type: SelectStmt, UpdateStmt, DeleteStmt, InsertStmt, ... */
  readonly type: string;
  /** Its fields. */
  readonly node: PgNode;
}

let module: typeof PgQuery | undefined;
let loading: Promise<typeof PgQuery> | undefined;

/** Loads the parser once; later calls return the same promise. */
export function loadPgParser(): Promise<void> {
  loading ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    module = m;
    return m;
  });
  return loading.then(() => undefined);
}

export function pgParserLoaded(): boolean {
  return module !== undefined;
}

/**
 * The one statement in `sql`, or undefined when the text does not parse (pg_stat_statements text
 * cut at track_activity_query_size, a syntax this grammar does not know) or holds more or fewer than
 * one statement. Throws only when the parser was never loaded: that is a programming error.
 */
export function parseOneStatement(sql: string): ParsedStatement | undefined {
  if (!module) throw new Error('parseOneStatement before loadPgParser()');
  let result: { stmts?: { stmt?: PgNode }[] };
  try {
    result = module.parseSync(sql) as unknown as { stmts?: { stmt?: PgNode }[] };
  } catch {
    return undefined;
  }
  const stmts = result.stmts ?? [];
  if (stmts.length !== 1) return undefined;
  const stmt = stmts[0]?.stmt;
  if (!stmt) return undefined;
  const [type, node] = Object.entries(stmt)[0] ?? [];
  if (!type || !node || typeof node !== 'object') return undefined;
  return { type, node: node as PgNode };
}
