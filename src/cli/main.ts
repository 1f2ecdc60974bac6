import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type Config, ConfigError, configPath, findService, loadConfig } from '../config/load.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { StepResult } from '../domain/finding.ts';
import type { CheckResult } from '../domain/ports.ts';
import { createLogger, type Logger, newErrorRef, scrubSecrets } from '../ops/logger.ts';
import { STEPS } from '../steps/registry.ts';
import type { PartUpdate, StepDefinition } from '../steps/step.ts';
import { analyzeFile } from './analyze.ts';
import { formatJsonReport } from './format-json.ts';
import { formatTextReport } from './format-text.ts';
import { type BuildRuntime, type CliRuntime, emptyRuntime } from './runtime.ts';

/**
 * Exit codes of `aegis` (README: "Exit codes").
 *   0 the report's worst finding is normal, info or warning; doctor: every check passed
 *   1 usage or configuration error (unknown step, bad argument, invalid aegis.yml, unknown service)
 *   2 the report has a critical finding
 *   3 internal error (a bug: the message carries a ref, the log the cause)
 *   4 incomplete: a source could not answer and nothing worse was found; doctor: a check failed
 * 130 interrupted (Ctrl-C)
 */
export const EXIT = {
  ok: 0,
  usage: 1,
  critical: 2,
  internal: 3,
  incomplete: 4,
  interrupted: 130,
} as const;

export interface Output {
  write(text: string): unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types
type AnyStep = StepDefinition<any, any>;

export interface CliDeps {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env?: NodeJS.ProcessEnv;
  /** Builds the sources and checks from the configuration; the composition root provides it. */
  readonly buildRuntime: BuildRuntime;
  /** The runbook steps; the registry's by default. */
  readonly steps?: readonly AnyStep[];
  /** Where internal errors are logged with their cause; JSON lines on stderr by default. */
  readonly logger?: Logger;
  /** Aborts a running step (Ctrl-C). */
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  /** Deadline of each doctor check; default 10 s. */
  readonly checkTimeoutMs?: number;
}

interface Options {
  config?: string;
  service?: string;
  format: 'text' | 'json';
  out?: string;
  help: boolean;
  words: string[];
  /** Options of `aegis analyze` (pprof's -nodecount, list, -sample_index, -cum; a flame graph PNG). */
  analyze: {
    top?: number;
    list?: string;
    sampleIndex?: string;
    cum?: boolean;
    flamegraph?: string;
    /** pprof's -diff_base: the older profile the file is compared with. */
    base?: string;
  };
}

const VALUE_OPTIONS = new Set([
  '--config',
  '--service',
  '--format',
  '--out',
  '--top',
  '--list',
  '--sample-index',
  '--flamegraph',
  '--base',
]);
const ANALYZE_ONLY = ['--top', '--list', '--sample-index', '--flamegraph', '--cum', '--base'];

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { format: 'text', help: false, words: [], analyze: {} };
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      o.words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      o.help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '-') {
      o.words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    given.add(name);
    if (name === '--cum' && eq < 0) {
      o.analyze.cum = true;
      continue;
    }
    if (!VALUE_OPTIONS.has(name)) {
      throw new AppError('usage', `unknown option ${name}`);
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '') throw new AppError('usage', `${name} needs a value`);
    if (name === '--config') o.config = value;
    else if (name === '--service') o.service = value;
    else if (name === '--out') o.out = value;
    else if (name === '--list') o.analyze.list = value;
    else if (name === '--sample-index') o.analyze.sampleIndex = value;
    else if (name === '--flamegraph') o.analyze.flamegraph = value;
    else if (name === '--base') o.analyze.base = value;
    else if (name === '--top') {
      if (!/^\d+$/.test(value)) throw new AppError('usage', `--top must be a number of rows, got "${value}"`);
      o.analyze.top = Number(value);
    } else if (name === '--format') {
      if (value !== 'text' && value !== 'json') {
        throw new AppError('usage', `--format must be text or json, got "${value}"`);
      }
      o.format = value;
    }
  }
  const command = o.words[0];
  const misplaced = ANALYZE_ONLY.find((a) => given.has(a));
  if (misplaced && command !== 'analyze' && command !== 'help' && !o.help) {
    throw new AppError('usage', `${misplaced} applies to aegis analyze only`);
  }
  return o;
}

function usage(steps: readonly AnyStep[]): string {
  const stepLines = steps.length
    ? steps.map((s) => `  ${s.usage.padEnd(34)} ${s.summary}`).join('\n')
    : '  (no steps registered)';
  return `aegis: run the Cloud Aegis performance runbook from the command line

Usage:
  aegis run <step> [step args...] [--service S] [--format text|json] [--out DIR]
  aegis analyze <file> [--format text|json] [--top N] [--list REGEX] [--sample-index NAME] [--cum]
                [--flamegraph PNG] [--base OLD]
                               a saved pprof profile (as go tool pprof -top prints it, plus the
                               runbook's known issues) or a goroutine dump (groups, leak suspects);
                               with --base, what changed since OLD (go tool pprof -top -diff_base OLD)
  aegis doctor                 check the configuration and every source it names
  aegis help                   this text

Options:
  --config FILE     configuration file (default: $AEGIS_CONFIG, else ./aegis.yml)
  --service S       the service to diagnose (default: the one with default: true)
  --format F        text (a readable report; progress on stderr) or json (the report as JSON)
  --out DIR         save the report's attachments (charts, profiles) into DIR

Steps:
${stepLines}

Actions (scale, cancel a query, page) are offered as "would offer: ..." only: they need Slack or the
console, where the person acting is known.

Exit codes:
  0 normal, info or warning   2 critical finding   4 incomplete (a source did not answer; doctor: a check failed)
  1 usage or configuration error                    3 internal error (see the ref in the log)
`;
}

/** Runs the `aegis` command line; answers the exit code. Never throws. */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  const steps = deps.steps ?? STEPS;
  const env = deps.env ?? process.env;
  let logger = deps.logger;
  const log = () => {
    logger ??= createLogger({
      level: env.AEGIS_LOG_LEVEL || 'warn',
      destination: deps.stderr,
      base: { component: 'cli' },
    });
    return logger;
  };
  const err = (text: string) => deps.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  let command: string | undefined;
  try {
    const opts = parseOptions(argv);
    command = opts.words.shift();
    if (command === 'help' || (command === undefined && opts.help)) {
      deps.stdout.write(usage(steps));
      return EXIT.ok;
    }
    if (command === undefined) {
      err(usage(steps));
      return EXIT.usage;
    }
    if (opts.help) {
      deps.stdout.write(usage(steps));
      return EXIT.ok;
    }
    switch (command) {
      case 'run':
        return await runStep(opts, steps, deps, env, log, err);
      case 'doctor':
        return await doctor(opts, deps, env, log);
      case 'analyze':
        return await analyze(opts, deps);
      default:
        throw new AppError('usage', `unknown command "${command}"`);
    }
  } catch (e) {
    return reportError(e, command, deps, err, log);
  }
}

function reportError(
  e: unknown,
  command: string | undefined,
  deps: CliDeps,
  err: (text: string) => void,
  log: () => Logger,
): number {
  if (e instanceof ConfigError) {
    err(`aegis: ${e.message}`);
    return EXIT.usage;
  }
  if (deps.signal?.aborted) {
    err('aegis: interrupted');
    return EXIT.interrupted;
  }
  if (isAppError(e)) {
    err(`aegis: ${scrubSecrets(e.message)}`);
    if (e.code === 'usage')
      err(`Try "aegis help"${command === 'run' ? ' for the steps and their arguments' : ''}.`);
    return e.code === 'source' ? EXIT.incomplete : EXIT.usage;
  }
  const ref = newErrorRef();
  log().error({ err: e, ref, command }, 'internal error');
  err(`aegis: internal error (ref ${ref}); the log line with this ref has the cause`);
  return EXIT.internal;
}

function findStepIn(steps: readonly AnyStep[], name: string | undefined): AnyStep {
  if (!name) {
    throw new AppError(
      'usage',
      `which step? aegis run <step>: one of ${steps.map((s) => s.name).join(', ') || '(none yet)'}`,
    );
  }
  const step = steps.find((s) => s.name === name);
  if (!step) {
    throw new AppError(
      'usage',
      `unknown step "${name}": known steps are ${steps.map((s) => s.name).join(', ') || '(none yet)'}`,
    );
  }
  return step;
}

async function runStep(
  opts: Options,
  steps: readonly AnyStep[],
  deps: CliDeps,
  env: NodeJS.ProcessEnv,
  log: () => Logger,
  err: (text: string) => void,
): Promise<number> {
  const config = loadConfig(opts.config ?? configPath(env), env);
  const step = findStepIn(steps, opts.words.shift());
  let args: { service?: string };
  try {
    args = step.parse(opts.words, { config });
  } catch (e) {
    if (isAppError(e) && e.code === 'usage') {
      throw new AppError('usage', `${e.message}\nusage: aegis run ${step.usage}`, { cause: e });
    }
    throw e;
  }
  if (opts.service && args.service && opts.service !== args.service) {
    throw new AppError('usage', `service given twice: "${args.service}" and --service "${opts.service}"`);
  }
  const service = findService(config, opts.service ?? args.service);
  const text = opts.format === 'text';
  const progress = (u: PartUpdate) => {
    if (!text) return;
    const reason = u.reason ? `: ${scrubSecrets(u.reason)}` : '';
    err(`  ${u.status.padEnd(11)} ${u.name}${reason}`);
  };
  if (text) err(`aegis ${step.name} for ${service.name}...`);
  const runtime = await deps.buildRuntime(config, { logger: log() });
  let result: StepResult;
  try {
    result = await step.run(
      {
        config,
        service,
        sources: runtime.sources,
        signal: deps.signal ?? new AbortController().signal,
        progress,
        now: deps.now ?? (() => new Date()),
      },
      args,
    );
  } finally {
    await closeQuietly(runtime, log);
  }
  const saved = opts.out ? await saveAttachments(result, opts.out) : {};
  deps.stdout.write(
    text ? formatTextReport(result, { savedAttachments: saved }) : formatJsonReport(result, saved),
  );
  return exitCodeFor(result);
}

async function analyze(opts: Options, deps: CliDeps): Promise<number> {
  const [file, ...extra] = opts.words;
  if (!file) throw new AppError('usage', 'which file? aegis analyze <profile or goroutine dump>');
  if (extra.length) throw new AppError('usage', `analyze takes one file, got also "${extra.join(' ')}"`);
  const result = await analyzeFile(file, { format: opts.format, ...opts.analyze });
  deps.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
  return EXIT.ok;
}

/** Exit code of a finished report (see EXIT). */
export function exitCodeFor(result: StepResult): number {
  if (result.severity === 'critical') return EXIT.critical;
  if (result.severity === 'unavailable') return EXIT.incomplete;
  return EXIT.ok;
}

async function saveAttachments(result: StepResult, dir: string): Promise<Record<string, string>> {
  if (!result.attachments.length) return {};
  await mkdir(dir, { recursive: true });
  const saved: Record<string, string> = {};
  const used = new Set<string>();
  for (const a of result.attachments) {
    // a filename from a report never escapes the directory
    let name = basename(a.filename).replace(/[^\w.-]+/g, '_') || 'attachment';
    for (let n = 2; used.has(name); n++) name = name.replace(/(\.[^.]*)?$/, `-${n}$1`);
    used.add(name);
    const path = join(dir, name);
    await writeFile(path, a.content);
    saved[a.filename] = resolve(path);
  }
  return saved;
}

async function closeQuietly(runtime: CliRuntime, log: () => Logger): Promise<void> {
  try {
    await runtime.close();
  } catch (e) {
    log().warn({ err: e }, 'closing the sources failed');
  }
}

async function doctor(
  opts: Options,
  deps: CliDeps,
  env: NodeJS.ProcessEnv,
  log: () => Logger,
): Promise<number> {
  if (opts.words.length)
    throw new AppError('usage', `doctor takes no arguments, got "${opts.words.join(' ')}"`);
  const out = (line: string) => deps.stdout.write(`${line}\n`);
  const path = opts.config ?? configPath(env);
  let config: Config;
  try {
    config = loadConfig(path, env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    out(
      formatCheck({
        name: 'config',
        ok: false,
        detail: `${path} is not valid`,
        hint: 'see aegis.example.yml',
      }),
    );
    for (const p of e.problems) out(`       - ${p}`);
    return EXIT.usage;
  }
  const names = config.services.map((s) => s.name).join(', ');
  out(
    formatCheck({
      name: 'config',
      ok: true,
      detail: `${path}: ${config.services.length} service${config.services.length === 1 ? '' : 's'} (${names})`,
    }),
  );
  const runtime = await deps.buildRuntime(config, { logger: log() });
  try {
    const timeoutMs = deps.checkTimeoutMs ?? 10_000;
    const results = await Promise.all(runtime.checks.map((c, i) => runCheck(c, i, timeoutMs, deps.signal)));
    const all = results.flat();
    for (const r of all) out(formatCheck(r));
    if (!runtime.checks.length) out('note: no source checks are configured in this runtime');
    return all.every((r) => r.ok) ? EXIT.ok : EXIT.incomplete;
  } finally {
    await closeQuietly(runtime, log);
  }
}

async function runCheck(
  check: CliRuntime['checks'][number],
  index: number,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<CheckResult[]> {
  const name = (check as { name?: unknown }).name;
  const label = typeof name === 'string' && name ? name : `check ${index + 1}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
  const late: CheckResult[] = [{ name: label, ok: false, detail: `no answer within ${timeoutMs} ms` }];
  // a check that ignores the signal still ends at the deadline
  const deadline = new Promise<CheckResult[]>((resolve) =>
    timeout.addEventListener('abort', () => resolve(late), { once: true }),
  );
  return Promise.race([
    check.check(signal).then(
      (r) => [...r],
      (e: unknown): CheckResult[] =>
        timeout.aborted
          ? late
          : [{ name: label, ok: false, detail: e instanceof Error ? e.message : String(e) }],
    ),
    deadline,
  ]);
}

/** "ok   name: detail" or "FAIL name: detail (hint)". */
export function formatCheck(r: CheckResult): string {
  const hint = !r.ok && r.hint ? ` (${r.hint})` : '';
  return `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${scrubSecrets(r.detail)}${hint}`;
}

/** The process entry: real stdout/stderr, Ctrl-C aborts the step, exits with main's code. */
export async function runCli(
  argv: readonly string[] = process.argv.slice(2),
  buildRuntime: BuildRuntime = emptyRuntime,
): Promise<void> {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const code = await main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    buildRuntime,
    signal: controller.signal,
  });
  process.exitCode = code;
  // a client that kept a socket open must not keep the command alive
  setTimeout(() => process.exit(code), 2000).unref();
}
