import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { AppError } from '../domain/errors.ts';
import type { EscalationRule } from '../domain/escalation.ts';
import { type BaselineTable, RUNBOOK_BASELINES } from '../domain/thresholds.ts';
import { configSchema, type ParsedConfig, type ServiceConfig } from './schema.ts';

/** Secrets come from the environment only, never from the YAML file. */
export interface Secrets {
  readonly slackBotToken?: string;
  readonly slackSigningSecret?: string;
  readonly slackAppToken?: string;
  readonly pagerdutyRoutingKey?: string;
  readonly storeDatabaseUrl?: string;
  readonly redisUrl?: string;
  /** alerts.auth: the bearer token, or the basic-auth password, Alertmanager sends. */
  readonly alertsWebhookSecret?: string;
  /** Database URLs by environment variable name, as the services' url_env / action_url_env name them. */
  readonly databaseUrls: Readonly<Record<string, string>>;
}

export interface Config extends ParsedConfig {
  readonly baselines: BaselineTable;
  readonly escalationRules: readonly EscalationRule[];
  readonly secrets: Secrets;
  readonly source: string;
}

export class ConfigError extends AppError {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super('config', `invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.AEGIS_CONFIG || './aegis.yml';
}

/** Reads, validates and resolves the configuration; throws ConfigError naming every bad key. */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Config {
  const path = file ?? configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      code === 'ENOENT'
        ? `file not found: set AEGIS_CONFIG or create ${path} (copy aegis.example.yml)`
        : `cannot read the file: ${code ?? String(e)}`,
    ]);
  }
  return parseConfig(text, path, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const pos = e instanceof YAMLParseError && e.linePos ? e.linePos[0] : undefined;
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const what = ((e as Error).message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(file, [`not valid YAML${where}: ${what}`]);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(file, [
      `(top level): expected a mapping of settings (see aegis.example.yml), got ${describeValue(raw)}`,
    ]);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(file, formatIssues(parsed.error.issues, raw));
  return resolve(parsed.data, file, env);
}

function resolve(c: ParsedConfig, file: string, env: NodeJS.ProcessEnv): Config {
  const baselines = { ...RUNBOOK_BASELINES };
  for (const [metric, b] of Object.entries(c.thresholds)) {
    if (!b) continue;
    const overrides = Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
    baselines[metric as keyof BaselineTable] = {
      ...RUNBOOK_BASELINES[metric as keyof BaselineTable],
      ...overrides,
    };
  }
  const databaseUrls: Record<string, string> = {};
  for (const s of c.services) {
    for (const name of [s.database?.url_env, s.database?.action_url_env]) {
      const value = name ? env[name] : undefined;
      if (name && value) databaseUrls[name] = value;
    }
  }
  const problems: string[] = [];
  const storeUrl = c.store.database_url_env ? env[c.store.database_url_env] : undefined;
  if (c.store.database_url_env && !storeUrl) {
    problems.push(`store.database_url_env: environment variable ${c.store.database_url_env} is not set`);
  }
  if (storeUrl) {
    for (const [name, url] of Object.entries(databaseUrls)) {
      if (sameDatabase(url, storeUrl)) {
        problems.push(
          `store.database_url_env: ${c.store.database_url_env} points at the database being diagnosed (${name}); the store needs its own database`,
        );
      }
    }
  }
  const alertsSecretEnv = c.alerts?.auth.bearer_token_env ?? c.alerts?.auth.basic?.password_env;
  const alertsSecret = alertsSecretEnv ? env[alertsSecretEnv] || undefined : undefined;
  if (alertsSecretEnv && !alertsSecret) {
    const key = c.alerts?.auth.bearer_token_env
      ? 'alerts.auth.bearer_token_env'
      : 'alerts.auth.basic.password_env';
    problems.push(
      `${key}: environment variable ${alertsSecretEnv} is not set (Alertmanager's webhook would be refused)`,
    );
  }
  if (c.slack.mode === 'socket' && env.SLACK_BOT_TOKEN && !env.SLACK_APP_TOKEN) {
    problems.push('slack.mode: socket needs the app-level token in SLACK_APP_TOKEN');
  }
  if (problems.length) throw new ConfigError(file, problems);
  return {
    ...c,
    baselines,
    escalationRules: c.escalation.map((r) => ({
      id: r.id,
      metric: r.metric,
      above: r.above,
      forMs: r.for,
      action: r.action,
      prompt: r.prompt,
      autoPage: r.auto_page,
    })),
    secrets: {
      slackBotToken: env.SLACK_BOT_TOKEN || undefined,
      slackSigningSecret: env.SLACK_SIGNING_SECRET || undefined,
      slackAppToken: env.SLACK_APP_TOKEN || undefined,
      pagerdutyRoutingKey: env[c.paging.routing_key_env] || undefined,
      storeDatabaseUrl: storeUrl,
      redisUrl: c.redis ? env[c.redis.url_env] || undefined : undefined,
      ...(alertsSecret ? { alertsWebhookSecret: alertsSecret } : {}),
      databaseUrls,
    },
    source: file,
  };
}

function sameDatabase(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    const port = (u: URL) => u.port || '5432';
    return x.hostname === y.hostname && port(x) === port(y) && x.pathname === y.pathname;
  } catch {
    return a === b;
  }
}

/** One line per problem: the key's path, what was expected, and what was found. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string[] {
  return issues.map((issue) => {
    const path = issue.path.length ? formatPath(issue.path) : '(top level)';
    const found = valueAt(raw, issue.path);
    const got = found === undefined ? '' : `, got ${describeValue(found)}`;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(configSchema, issue.path, raw);
        return `${path}: ${issue.keys.map((k) => `unknown key "${k}"${suggest(k, known)}`).join('; ')}`;
      }
      case 'invalid_type':
        return found === undefined
          ? `${path}: required (expected ${typeName(issue.expected)})`
          : `${path}: expected ${typeName(issue.expected)}${got}`;
      case 'invalid_value':
        return `${path}: expected ${oneOf(issue.values)}${got}`;
      case 'invalid_union':
        if ('options' in issue && Array.isArray(issue.options) && issue.options.length) {
          return found === undefined
            ? `${path}: required (expected ${oneOf(issue.options)})`
            : `${path}: expected ${oneOf(issue.options)}${got}`;
        }
        return `${path}: expected ${issue.message.replace(/^Invalid (input: )?/, '')}${got}`;
      case 'too_small':
      case 'too_big':
        return `${path}: ${withExpected(issue.message.replace(/^Too (small|big): /, ''))}${got}`;
      case 'custom':
        // messages written in schema.ts already say what was expected and what was found
        return `${path}: ${issue.message}${/, (got|found) /.test(issue.message) ? '' : got}`;
      default:
        return `${path}: ${withExpected(issue.message.replace(/^Invalid (input: )?/, ''))}${got}`;
    }
  });
}

/** services.0.prometheus.url -> services[0].prometheus.url, as a YAML reader would point at it. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`))
    .join('');
}

function withExpected(message: string): string {
  return /^(expected|required)\b/.test(message) ? message : `expected ${message}`;
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping (key: value)',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function oneOf(values: readonly unknown[]): string {
  return values.length === 1
    ? JSON.stringify(values[0])
    : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return v.length ? `a list of ${v.length}` : 'an empty list';
  if (v === null) return 'nothing (null)';
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  element?: { _zod: { def: SchemaDef } };
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  options?: { _zod: { def: SchemaDef } }[];
  keyType?: { _zod: { def: SchemaDef } };
  valueType?: { _zod: { def: SchemaDef } };
  entries?: Record<string, unknown>;
}

/** The keys the schema allows at `path`, for "did you mean" hints. Best effort: [] when unknown. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[], raw: unknown): string[] {
  let defs: SchemaDef[] = [(schema as unknown as { _zod: { def: SchemaDef } })._zod.def];
  const unwrap = (d: SchemaDef): SchemaDef[] => {
    const inner = d.innerType ?? d.in;
    if (inner) return unwrap(inner._zod.def);
    if (d.type === 'union' && d.options) return d.options.flatMap((o) => unwrap(o._zod.def));
    return [d];
  };
  for (let i = 0; i <= path.length; i++) {
    defs = defs.flatMap(unwrap);
    if (i === path.length) break;
    const key = path[i];
    defs = defs.flatMap((d) => {
      if (d.type === 'object' && d.shape && typeof key === 'string' && d.shape[key])
        return [d.shape[key]._zod.def];
      if (d.type === 'array' && d.element) return [d.element._zod.def];
      if (d.type === 'record' && d.valueType) return [d.valueType._zod.def];
      return [];
    });
  }
  const here = valueAt(raw, path);
  const keys = new Set<string>();
  for (const d of defs) {
    if (d.type === 'object' && d.shape) {
      // of a discriminated union, only the branch whose discriminator matches what was written
      const mode = d.shape.mode?._zod.def;
      const literal = mode && (mode as { values?: unknown[] }).values;
      const written = here && typeof here === 'object' ? (here as Record<string, unknown>).mode : undefined;
      if (literal && written !== undefined && !literal.includes(written)) continue;
      for (const k of Object.keys(d.shape)) keys.add(k);
    }
    if (d.type === 'record' && d.keyType) {
      for (const kd of unwrap(d.keyType._zod.def))
        if (kd.type === 'enum' && kd.entries) for (const k of Object.keys(kd.entries)) keys.add(k);
    }
  }
  return [...keys];
}

function suggest(key: string, known: readonly string[]): string {
  if (!known.length) return '';
  const scored = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d);
  const best = scored[0];
  if (best && best.d <= Math.max(2, Math.floor(key.length / 3))) return ` (did you mean "${best.k}"?)`;
  return ` (expected one of: ${known.join(', ')})`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}

export function defaultService(config: Config): ServiceConfig {
  return config.services.find((s) => s.default) ?? (config.services[0] as ServiceConfig);
}

export function findService(config: Config, name: string | undefined): ServiceConfig {
  if (!name) return defaultService(config);
  const s = config.services.find((x) => x.name === name);
  if (!s) {
    throw new AppError(
      'not_found',
      `unknown service "${name}": known services are ${config.services.map((x) => x.name).join(', ')}`,
    );
  }
  return s;
}
