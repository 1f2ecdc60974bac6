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
export function loadConfig(path: string = configPath(), env: NodeJS.ProcessEnv = process.env): Config {
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
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new ConfigError(file, [`not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`]);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(file, formatIssues(parsed.error.issues, raw));
  return resolve(parsed.data, file, env);
}

function resolve(c: ParsedConfig, file: string, env: NodeJS.ProcessEnv): Config {
  const baselines = { ...RUNBOOK_BASELINES };
  for (const [metric, b] of Object.entries(c.thresholds)) {
    if (b)
      baselines[metric as keyof BaselineTable] = {
        ...RUNBOOK_BASELINES[metric as keyof BaselineTable],
        ...b,
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
    const path = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    const found = valueAt(raw, issue.path);
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      return `${path === '(top level)' ? '' : `${path}: `}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    if (issue.code === 'invalid_type' && found === undefined)
      message = `required: expected ${issue.expected}`;
    else if (message.startsWith('Invalid') || issue.code === 'invalid_format')
      message = `expected ${message.replace(/^Invalid (input: )?/, '')}`;
    const shown = found === undefined || typeof found === 'object' ? '' : `, got ${JSON.stringify(found)}`;
    return `${path}: ${message}${shown}`;
  });
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
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
