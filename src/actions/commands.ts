import type { Config } from '../config/load.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import { humanDuration } from '../lib/format.ts';
import { parseMemoryBytes } from '../lib/quantity.ts';
import { handlerFor } from './execute.ts';
import { pageProposal } from './page.ts';
import type { BackendState, ClusterActions, DatabaseActions } from './ports.ts';
import {
  cancelQueryProposal,
  MAX_POOL_SIZE,
  memoryProposal,
  POOL_SIZE_KEY,
  poolProposal,
  scaleProposal,
  scaleTarget,
  terminateSessionProposal,
  vacuumProposal,
} from './propose.ts';
import type { ActionDeps } from './types.ts';

/**
 * The actions as slash subcommands (`/aegis scale 5`). A command never changes anything itself: it reads
 * the live state and proposes the change, which the user confirms with the button (confirm dialog,
 * authorization, once-only, audit: the same path as a button on a finding).
 */
export interface ActionCommand<A = unknown> {
  readonly name: string;
  /** e.g. "scale [replicas] [service]" (without "/aegis"). */
  readonly usage: string;
  readonly summary: string;
  /** The words after the subcommand; throws AppError('usage'). */
  parse(words: readonly string[], ctx: { config: Config }): A & { service?: string };
  /** Reads the live state and builds the proposal; throws AppError (out_of_range, not_found, …). */
  propose(args: A, service: ServiceConfig, deps: ActionDeps): Promise<Proposal>;
  /**
   * The offer goes into the channel's most recent incident thread (or a new one), not the channel:
   * `/aegis page` pages for an incident thread.
   */
  readonly inThread?: boolean;
}

const INTEGER = /^\d{1,9}$/;

function cluster(deps: ActionDeps): ClusterActions {
  if (!deps.cluster) throw new AppError('config', 'the Kubernetes API is not configured for actions');
  return deps.cluster;
}

function database(service: ServiceConfig, deps: ActionDeps): DatabaseActions {
  if (!deps.databaseFor || !service.database?.action_url_env) {
    throw new AppError(
      'config',
      `service ${service.name} has no database action role: set services[].database.action_url_env`,
    );
  }
  return deps.databaseFor(service);
}

/** Words left after the arguments: at most one, the service. */
function serviceWord(rest: readonly string[], usage: string): { service?: string } {
  if (rest.length > 1) throw new AppError('usage', `too many words: ${rest.join(' ')} (usage: ${usage})`);
  return rest[0] ? { service: rest[0] } : {};
}

function checked(p: Proposal, service: ServiceConfig, deps: ActionDeps): Proposal {
  handlerFor(p.action, deps).check(p, service, deps);
  return p;
}

type ScaleArgs = { replicas?: number; service?: string };
const scaleCommand: ActionCommand<ScaleArgs> = {
  name: 'scale',
  usage: 'scale [replicas] [service]',
  summary: 'Scale the deployment (runbook: High CPU Usage); without a number, the configured step up',
  parse(words) {
    const [first, ...rest] = words;
    if (first !== undefined && INTEGER.test(first))
      return { replicas: Number(first), ...serviceWord(rest, 'scale [replicas] [service]') };
    return serviceWord(words, 'scale [replicas] [service]');
  },
  async propose(args, service, deps) {
    const live = await cluster(deps).readScale(service.namespace, service.deployment);
    const to = args.replicas ?? scaleTarget(live.replicas, deps.config.actions);
    if (to === live.replicas) {
      throw new AppError('usage', `deployment/${service.deployment} already has ${to} replicas`);
    }
    return checked(scaleProposal(service, live.replicas, to, `/aegis scale ${to}`), service, deps);
  },
};

type MemoryArgs = { limit: string; service?: string };
const memoryCommand: ActionCommand<MemoryArgs> = {
  name: 'memory',
  usage: 'memory <limit> [service]',
  summary: "Set the container's memory limit, e.g. 4Gi (runbook: Memory Exhaustion, temporary)",
  parse(words) {
    const [limit, ...rest] = words;
    if (!limit) throw new AppError('usage', 'give the new memory limit, e.g. /aegis memory 4Gi');
    if (parseMemoryBytes(limit) === undefined) {
      throw new AppError('usage', `"${limit}" is not a memory quantity such as 512Mi or 4Gi`);
    }
    return { limit, ...serviceWord(rest, 'memory <limit> [service]') };
  },
  async propose(args, service, deps) {
    const live = await cluster(deps).readMemoryLimit(
      service.namespace,
      service.deployment,
      service.container,
    );
    const toBytes = parseMemoryBytes(args.limit) as number;
    if (live.limitBytes === toBytes) {
      throw new AppError('usage', `the memory limit of ${live.container} is already ${live.limit}`);
    }
    const p = memoryProposal(service, live.container, live.limit, args.limit, `/aegis memory ${args.limit}`, {
      toBytes,
      ...(live.limitBytes !== undefined ? { fromBytes: live.limitBytes } : {}),
    });
    return checked(p, service, deps);
  },
};

type PoolArgs = { size: number; restart: boolean; service?: string };
const poolCommand: ActionCommand<PoolArgs> = {
  name: 'pool',
  usage: 'pool <size> [service] [--restart]',
  summary: `Set ${POOL_SIZE_KEY} in the service's ConfigMap (runbook: Connection Pool Exhaustion); --restart restarts the pods`,
  parse(words) {
    const restart = words.includes('--restart');
    const [size, ...rest] = words.filter((w) => w !== '--restart');
    const unknown = rest.find((w) => w.startsWith('--'));
    if (unknown) throw new AppError('usage', `unknown option ${unknown}: the only option is --restart`);
    if (!size || !INTEGER.test(size))
      throw new AppError('usage', `give the pool size as a number, e.g. /aegis pool 100`);
    const n = Number(size);
    if (n < 1 || n > MAX_POOL_SIZE)
      throw new AppError('out_of_range', `a pool size of ${n} is outside 1..${MAX_POOL_SIZE}`);
    return { size: n, restart, ...serviceWord(rest, 'pool <size> [service] [--restart]') };
  },
  async propose(args, service, deps) {
    const live = await cluster(deps).readConfigValue(service.namespace, service.configmap, POOL_SIZE_KEY);
    if (live.value === String(args.size) && !args.restart) {
      throw new AppError(
        'usage',
        `${POOL_SIZE_KEY} in ConfigMap ${service.configmap} is already ${args.size}`,
      );
    }
    return checked(
      poolProposal(
        service,
        live.value,
        args.size,
        args.restart,
        `/aegis pool ${args.size}${args.restart ? ' --restart' : ''}`,
      ),
      service,
      deps,
    );
  },
};

type PidArgs = { pid: number; service?: string };
function parsePid(words: readonly string[], usage: string, verb: string): PidArgs {
  const [pid, ...rest] = words;
  if (!pid || !INTEGER.test(pid) || Number(pid) === 0) {
    throw new AppError(
      'usage',
      `give the pid of the backend to ${verb} (see /aegis db), e.g. /aegis ${usage.split(' ')[0]} 4711`,
    );
  }
  return { pid: Number(pid), ...serviceWord(rest, usage) };
}

async function backend(args: PidArgs, service: ServiceConfig, deps: ActionDeps, needActive: boolean) {
  const db = database(service, deps);
  const s: BackendState | undefined = await db.session(args.pid);
  if (!s) throw new AppError('not_found', `no backend with pid ${args.pid}`);
  if (s.database !== db.database) {
    throw new AppError(
      'not_found',
      `pid ${args.pid} is not connected to ${service.name}'s database ${db.database}`,
    );
  }
  if (!s.backendStart || !s.queryStart)
    throw new AppError('not_found', `pid ${args.pid} has run no query yet`);
  if (needActive && s.state !== 'active') {
    throw new AppError('usage', `pid ${args.pid} is ${s.state ?? 'not active'}: no query to cancel`);
  }
  const now = (deps.now ?? (() => new Date()))();
  const since = humanDuration(Math.max(0, now.getTime() - Date.parse(s.queryStart)));
  return {
    pid: args.pid,
    backendStart: s.backendStart,
    queryStart: s.queryStart,
    database: db.database,
    running: `${s.state ?? 'unknown'}, query started ${since} ago`,
  };
}

const cancelCommand: ActionCommand<PidArgs> = {
  name: 'cancel',
  usage: 'cancel <pid> [service]',
  summary: 'Cancel the query a backend runs (pg_cancel_backend; runbook escalation: DB query > 30s)',
  parse(words) {
    return parsePid(words, 'cancel <pid> [service]', 'cancel');
  },
  async propose(args, service, deps) {
    const b = await backend(args, service, deps, true);
    return checked(cancelQueryProposal(service, b, `/aegis cancel ${args.pid}`), service, deps);
  },
};

const terminateCommand: ActionCommand<PidArgs> = {
  name: 'terminate',
  usage: 'terminate <pid> [service]',
  summary: 'Terminate a backend session; its open transaction rolls back (pg_terminate_backend)',
  parse(words) {
    return parsePid(words, 'terminate <pid> [service]', 'terminate');
  },
  async propose(args, service, deps) {
    const b = await backend(args, service, deps, false);
    return checked(terminateSessionProposal(service, b, `/aegis terminate ${args.pid}`), service, deps);
  },
};

type VacuumArgs = { schema: string; table: string; service?: string };
const TABLE = /^(?:([A-Za-z_][A-Za-z0-9_$]{0,62})\.)?([A-Za-z_][A-Za-z0-9_$]{0,62})$/;
const vacuumCommand: ActionCommand<VacuumArgs> = {
  name: 'vacuum',
  usage: 'vacuum <table> [service]',
  summary: 'VACUUM ANALYZE a table, e.g. findings or public.findings (runbook: Slow Database Queries)',
  parse(words) {
    const [name, ...rest] = words;
    const m = name ? TABLE.exec(name) : null;
    if (!m)
      throw new AppError(
        'usage',
        `give a table name such as findings or public.findings${name ? `, not "${name}"` : ''}`,
      );
    return {
      schema: m[1] ?? 'public',
      table: m[2] as string,
      ...serviceWord(rest, 'vacuum <table> [service]'),
    };
  },
  async propose(args, service, deps) {
    const db = database(service, deps);
    if (!(await db.tableExists(args.schema, args.table))) {
      throw new AppError(
        'not_found',
        `there is no table ${args.schema}.${args.table} in database ${db.database}`,
      );
    }
    return checked(
      vacuumProposal(
        service,
        args.schema,
        args.table,
        db.database,
        `/aegis vacuum ${args.schema}.${args.table}`,
      ),
      service,
      deps,
    );
  },
};

type PageArgs = { message?: string };
const pageCommand: ActionCommand<PageArgs> = {
  name: 'page',
  usage: 'page [message]',
  summary:
    "Page on-call (PagerDuty) for the channel's latest incident thread, or a new one; the message goes into the page",
  inThread: true,
  parse(words) {
    const message = words.join(' ').trim();
    if (message.length > 500) throw new AppError('usage', 'keep the page message under 500 characters');
    return message ? { message } : {};
  },
  async propose(args, service, deps) {
    if (!deps.handlers?.page) {
      throw new AppError(
        'config',
        `paging is not configured: set the PagerDuty routing key in ${deps.config.paging.routing_key_env}`,
      );
    }
    return checked(
      pageProposal(service, {
        summary: `${service.name}: ${args.message ?? 'on-call paged from Slack'}`,
        ...(args.message ? { message: args.message } : {}),
        reason: `/aegis page${args.message ? ` ${args.message}` : ''}`,
      }),
      service,
      deps,
    );
  },
};

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type
export const ACTION_COMMAND_DEFINITIONS: readonly ActionCommand<any>[] = [
  scaleCommand,
  memoryCommand,
  poolCommand,
  cancelCommand,
  terminateCommand,
  vacuumCommand,
  pageCommand,
];
