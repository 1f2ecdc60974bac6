import { z } from 'zod';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import { ConflictError } from './errors.ts';
import { checkedParams } from './params.ts';
import type { BackendState, DatabaseActions } from './ports.ts';
import type { ActionDeps, ActionHandler, PreparedChange } from './types.ts';

function databaseOf(service: ServiceConfig, deps: ActionDeps): DatabaseActions {
  if (!deps.databaseFor || !service.database?.action_url_env) {
    throw new AppError(
      'config',
      `service ${service.name} has no database action role: set services[].database.action_url_env to the variable holding its URL`,
    );
  }
  return deps.databaseFor(service);
}

/** Exact timestamps as the diagnosis recorded them: 2026-01-05T10:00:00.123456Z. */
const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
const backendParams = z.strictObject({
  pid: z
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1),
  backendStart: timestamp,
  queryStart: timestamp,
  database: z.string().min(1).max(63),
});

/**
 * The pid must still be the same backend (backend_start) running the same query (query_start) in the
 * service's database: a recycled pid or a new query is never signalled.
 */
async function sameBackend(p: Proposal, service: ServiceConfig, deps: ActionDeps, needActive: boolean) {
  const params = checkedParams(p, backendParams);
  const db = databaseOf(service, deps);
  if (params.database !== db.database) {
    throw new AppError(
      'usage',
      `the button names database ${params.database}, but the action role of ${service.name} is connected to ${db.database}`,
    );
  }
  const s: BackendState | undefined = await db.session(params.pid);
  if (!s) throw new ConflictError(`pid ${params.pid} is gone: the session ended meanwhile, nothing to do`);
  if (s.backendStart === null) {
    throw new AppError(
      'config',
      `the action role of ${service.name} cannot see the details of pid ${params.pid}: grant it pg_read_all_stats (and pg_signal_backend)`,
    );
  }
  if (s.backendStart !== params.backendStart) {
    throw new ConflictError(
      `pid ${params.pid} is another session now (started ${s.backendStart ?? 'at an unknown time'}): run /aegis db again`,
    );
  }
  if (s.database !== db.database) {
    throw new AppError(
      'usage',
      `pid ${params.pid} is connected to database ${s.database ?? '(none)'}, not ${db.database}`,
    );
  }
  if (s.queryStart !== params.queryStart) {
    throw new ConflictError(
      `pid ${params.pid} runs another query now (started ${s.queryStart ?? 'at an unknown time'}): the one shown has finished; run /aegis db again`,
    );
  }
  if (needActive && s.state !== 'active') {
    throw new ConflictError(
      `the query on pid ${params.pid} has finished (the session is ${s.state ?? 'not active'}): nothing to cancel`,
    );
  }
  return { params, db, session: s };
}

export const cancelQueryHandler: ActionHandler = {
  verb: 'cancel queries',
  check(p) {
    checkedParams(p, backendParams);
  },
  async prepare(p, service, deps): Promise<PreparedChange> {
    const { params, db, session } = await sameBackend(p, service, deps, true);
    return {
      what: `query on pid ${params.pid} (database ${db.database})`,
      from: `${session.state ?? 'unknown'} since ${params.queryStart}`,
      to: 'cancelled',
      async apply() {
        const { matched } = await db.cancel(params);
        if (!matched)
          throw new ConflictError(`the query on pid ${params.pid} finished just now: nothing was cancelled`);
        return { summary: `cancelled the query on pid ${params.pid} (running since ${params.queryStart})` };
      },
    };
  },
};

export const terminateSessionHandler: ActionHandler = {
  verb: 'terminate sessions',
  check(p) {
    checkedParams(p, backendParams);
  },
  async prepare(p, service, deps): Promise<PreparedChange> {
    const { params, db, session } = await sameBackend(p, service, deps, false);
    return {
      what: `session of pid ${params.pid} (database ${db.database})`,
      from: `${session.state ?? 'unknown'}, query since ${params.queryStart}`,
      to: 'terminated',
      async apply() {
        const { matched } = await db.terminate(params);
        if (!matched)
          throw new ConflictError(
            `the session of pid ${params.pid} changed just now: nothing was terminated`,
          );
        return { summary: `terminated the session of pid ${params.pid}; its open transaction rolled back` };
      },
    };
  },
};

const identifier = z
  .string()
  .min(1)
  .max(63)
  .refine((s) => !s.includes('\u0000'), 'no NUL');
const vacuumParams = z.strictObject({
  schema: identifier.default('public'),
  table: identifier,
  database: z.string().optional(),
});

/** The runbook's `VACUUM ANALYZE findings;`, on a table that the catalog knows. */
export const vacuumHandler: ActionHandler = {
  verb: 'run VACUUM ANALYZE',
  check(p) {
    checkedParams(p, vacuumParams);
  },
  async prepare(p, service, deps): Promise<PreparedChange> {
    const { schema, table, database } = checkedParams(p, vacuumParams);
    const db = databaseOf(service, deps);
    if (database !== undefined && database !== db.database) {
      throw new AppError(
        'usage',
        `the button names database ${database}, but the action role of ${service.name} is connected to ${db.database}`,
      );
    }
    if (!(await db.tableExists(schema, table))) {
      throw new AppError('not_found', `there is no table ${schema}.${table} in database ${db.database}`);
    }
    return {
      what: `table ${schema}.${table} (database ${db.database})`,
      from: 'as it is',
      to: 'vacuumed and analyzed',
      async apply() {
        await db.vacuumAnalyze(schema, table);
        return { summary: `ran VACUUM ANALYZE on ${schema}.${table} in database ${db.database}` };
      },
    };
  },
};
