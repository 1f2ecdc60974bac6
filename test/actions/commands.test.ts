import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeProposal } from '../../src/actions/execute.ts';
import type { BackendState, DatabaseActions } from '../../src/actions/ports.ts';
import { parseProposal } from '../../src/actions/proposal-schema.ts';
import { AppError } from '../../src/domain/errors.ts';
import { ACTION_COMMANDS, type ActionCommandDefinition } from '../../src/slack/interactions.ts';
import { blockProblems } from '../../src/slack/render/limits.ts';
import { buttonsOf } from '../support/block-actions.ts';
import {
  actionConfig,
  BASE_YAML,
  expectGrantedByRbac,
  type Harness,
  harness,
  service,
} from '../support/harness.ts';
import { visibleText } from '../support/slack.ts';

const command = (name: string) => ACTION_COMMANDS.find((c) => c.name === name) as ActionCommandDefinition;

function usageError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('parsing the action subcommands', () => {
  const config = actionConfig();
  const parse = (name: string, text: string) =>
    command(name).parse(text.split(' ').filter(Boolean), { config });

  it('lists scale, memory, pool, cancel, terminate, vacuum and page with usage and summary', () => {
    expect(ACTION_COMMANDS.map((c) => c.usage)).toEqual([
      'scale [replicas] [service]',
      'memory <limit> [service]',
      'pool <size> [service] [--restart]',
      'cancel <pid> [service]',
      'terminate <pid> [service]',
      'vacuum <table> [service]',
      'page [message]',
    ]);
    for (const c of ACTION_COMMANDS) expect(c.summary.length).toBeGreaterThan(10);
  });

  it('reads replicas and an optional service', () => {
    expect(parse('scale', '')).toEqual({});
    expect(parse('scale', '5')).toEqual({ replicas: 5 });
    expect(parse('scale', '5 aegis-api')).toEqual({ replicas: 5, service: 'aegis-api' });
    expect(parse('scale', 'aegis-api')).toEqual({ service: 'aegis-api' });
    expect(usageError(() => parse('scale', '5 aegis-api extra')).message).toMatch(
      /too many words: aegis-api extra/,
    );
  });

  it('reads a memory quantity, a pool size with --restart anywhere, pids and table names', () => {
    expect(parse('memory', '4Gi')).toEqual({ limit: '4Gi' });
    expect(usageError(() => parse('memory', '4GB')).message).toBe(
      '"4GB" is not a memory quantity such as 512Mi or 4Gi',
    );
    expect(usageError(() => parse('memory', '')).message).toMatch(/give the new memory limit/);
    expect(parse('pool', '100 --restart')).toEqual({ size: 100, restart: true });
    expect(parse('pool', '--restart 100 aegis-api')).toEqual({
      size: 100,
      restart: true,
      service: 'aegis-api',
    });
    expect(parse('pool', '100')).toEqual({ size: 100, restart: false });
    expect(usageError(() => parse('pool', '100 --force')).message).toBe(
      'unknown option --force: the only option is --restart',
    );
    expect(usageError(() => parse('pool', '0')).code).toBe('out_of_range');
    expect(parse('cancel', '4711')).toEqual({ pid: 4711 });
    expect(usageError(() => parse('terminate', 'abc')).code).toBe('usage');
    expect(parse('vacuum', 'findings')).toEqual({ schema: 'public', table: 'findings' });
    expect(parse('vacuum', 'reporting.findings aegis-api')).toEqual({
      schema: 'reporting',
      table: 'findings',
      service: 'aegis-api',
    });
    expect(usageError(() => parse('vacuum', 'findings;drop')).code).toBe('usage');
  });
});

describe('running an action subcommand proposes, and changes nothing', () => {
  let h: Harness;
  const sessions = new Map<number, BackendState>();
  const db: DatabaseActions = {
    database: 'aegis',
    session: async (pid) => sessions.get(pid),
    cancel: async () => ({ matched: true }),
    terminate: async () => ({ matched: true }),
    tableExists: async (schema, table) => schema === 'public' && table === 'findings',
    vacuumAnalyze: async () => {},
  };
  beforeEach(() => {
    nock.disableNetConnect();
    h = harness({
      config: actionConfig(
        BASE_YAML.replace(
          '    configmap: aegis-config',
          '    configmap: aegis-config\n    database: { url_env: DB_URL, action_url_env: DB_ACTION_URL }',
        ),
      ),
      deps: { databaseFor: () => db, now: () => new Date('2026-01-05T10:00:45Z') },
    });
    sessions.set(4711, {
      pid: 4711,
      database: 'aegis',
      user: 'aegis_app',
      state: 'active',
      backendStart: '2026-01-05T09:00:00.000000Z',
      queryStart: '2026-01-05T10:00:00.000000Z',
      query: 'SELECT * FROM findings',
    });
  });
  afterEach(() => {
    h.cluster.uninstall();
    nock.enableNetConnect();
    expectGrantedByRbac(h.cluster);
  });

  const run = (name: string, args: object) =>
    command(name).execute(args, { service: service(h.config), deps: h.deps });

  it('/aegis scale offers the configured step up from the live replicas, in a button whose dialog states 3 → 5', async () => {
    const m = await run('scale', {});
    expect(blockProblems(m.blocks)).toEqual([]);
    const [button] = buttonsOf(m as { blocks: unknown[] });
    expect(button?.action_id).toBe('aegis_action:scale');
    expect(JSON.stringify(m.blocks)).toContain(
      '"text":"replicas of deployment/aegis-api: 3 → 5\\n/aegis scale 5"',
    );
    expect(h.cluster.patches).toHaveLength(0);
    // the button it offers is one the action accepts
    const o = await executeProposal(parseProposal(button?.value), { userId: 'U0ALICE' }, h.deps, {
      key: 'k',
    });
    expect(o.status).toBe('done');
    expect(h.cluster.replicas).toBe(5);
  });

  it('/aegis scale N refuses N outside the configured bounds, and the current count', async () => {
    await expect(run('scale', { replicas: 12 })).rejects.toThrow(
      '12 replicas is outside the configured bounds 2..10',
    );
    await expect(run('scale', { replicas: 3 })).rejects.toThrow(
      'deployment/aegis-api already has 3 replicas',
    );
  });

  it('/aegis memory 4Gi offers raising the named container from its live limit', async () => {
    const m = await run('memory', { limit: '4Gi' });
    expect(m.text).toBe(
      'Raise memory limit to 4Gi: memory limit of container aegis-api in deployment/aegis-api: 2Gi → 4Gi',
    );
    await expect(run('memory', { limit: '9Gi' })).rejects.toThrow(
      'a memory limit of 9Gi is above the configured maximum 8Gi',
    );
  });

  it('/aegis pool 100 --restart offers the ConfigMap change and the restart', async () => {
    const m = await run('pool', { size: 100, restart: true });
    expect(m.text).toBe(
      'Set pool size to 100 and restart: database.max_connections in ConfigMap aegis-config, then restart deployment/aegis-api: 50 → 100',
    );
  });

  it('/aegis cancel and terminate read the backend so the click can check it is still the same query', async () => {
    const m = await run('cancel', { pid: 4711 });
    const p = parseProposal(buttonsOf(m as { blocks: unknown[] })[0]?.value);
    expect(p.params).toEqual({
      pid: 4711,
      backendStart: '2026-01-05T09:00:00.000000Z',
      queryStart: '2026-01-05T10:00:00.000000Z',
      database: 'aegis',
    });
    expect(p.change.from).toBe('active, query started 45 s ago');
    await expect(run('cancel', { pid: 9 })).rejects.toThrow('no backend with pid 9');
    sessions.set(4711, { ...(sessions.get(4711) as BackendState), state: 'idle' });
    await expect(run('cancel', { pid: 4711 })).rejects.toThrow('pid 4711 is idle: no query to cancel');
    const t = await run('terminate', { pid: 4711 });
    expect(visibleText(t)).toContain('Terminate session (pid 4711)');
  });

  it('/aegis vacuum checks the table against the catalog', async () => {
    const m = await run('vacuum', { schema: 'public', table: 'findings' });
    expect(m.text).toBe('VACUUM ANALYZE findings: table findings: as it is → vacuumed and analyzed');
    await expect(run('vacuum', { schema: 'public', table: 'nope' })).rejects.toThrow(
      'there is no table public.nope in database aegis',
    );
  });
});
