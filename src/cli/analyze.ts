import { createReadStream, readFileSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { AppError } from '../domain/errors.ts';
import type { Evidence, Finding } from '../domain/finding.ts';
import { buildFlameTree, renderFlameGraphSvg } from '../lib/charts/flamegraph.ts';
import { svgToPng } from '../lib/charts/png.ts';
import { decodeProfile, isGzip, ProfileDecodeError } from '../lib/pprof/decode.ts';
import { diffProfiles } from '../lib/pprof/diff.ts';
import { detectDumpFormat, parseGoroutineDump } from '../lib/pprof/goroutine-dump.ts';
import { formatListText, type ListReport, listFunctions } from '../lib/pprof/list.ts';
import { analyzeProfile, formatTopText, type TopReport, topReport } from '../lib/pprof/top.ts';
import { alignColumns } from '../lib/text-table.ts';
import { compareWithBase } from '../steps/profiling/compare.ts';
import { detectCpuIssues, detectHeapIssues, profileKind } from '../steps/profiling/detectors.ts';
import { detectGoroutineIssues, groupsTable, mutexSites } from '../steps/profiling/goroutine-detectors.ts';

/**
 * `aegis analyze <file>`: a saved profile (gzipped pprof protobuf, as `curl .../debug/pprof/profile`
 * writes it) or a goroutine dump (debug=1 or debug=2 text). For a profile it prints what
 * `go tool pprof -top` prints (same rows, same numbers), then the runbook's known issues found in
 * it, and `list <function>` when asked; for a dump, the groups of identical stacks and the leak
 * and contention suspects. `--json` gives the same as one JSON document.
 */

export interface AnalyzeOptions {
  readonly format?: 'text' | 'json';
  /** Rows of the top table (pprof's -nodecount); 0 = every node pprof -top would show. Default 0. */
  readonly top?: number;
  /** pprof's `list`: a regular expression of function names. */
  readonly list?: string;
  /** pprof's -sample_index, e.g. alloc_space. */
  readonly sampleIndex?: string;
  /** pprof's -cum. */
  readonly cum?: boolean;
  /** Write a flame graph PNG to this path. */
  readonly flamegraph?: string;
  /** pprof's -diff_base: an older profile of the same kind; the report shows NEW minus BASE. */
  readonly base?: string;
}

export interface AnalyzeResult {
  /** What to print: the text report, or the JSON document as text. */
  readonly text: string;
  readonly json?: AnalyzeJson;
}

export type AnalyzeJson =
  | {
      readonly kind: 'profile';
      readonly file: string;
      readonly profileKind: string;
      readonly sampleType: string;
      readonly unit: string;
      readonly total: number;
      readonly labels: readonly string[];
      readonly rows: readonly {
        name: string;
        inline: string;
        flat: number;
        flatPercent: string;
        sumPercent: string;
        cum: number;
        cumPercent: string;
        flatText: string;
        cumText: string;
      }[];
      readonly findings: readonly Finding[];
      readonly list?: ListReport['functions'];
      /** With --base: the base file; rows are then NEW minus BASE, percentages of the base's total. */
      readonly base?: string;
    }
  | {
      readonly kind: 'goroutines';
      readonly file: string;
      readonly format: string;
      readonly total: number;
      readonly groups: readonly unknown[];
      readonly findings: readonly Finding[];
    };

async function head(path: string, n: number): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError(
      code === 'ENOENT' ? 'not_found' : 'usage',
      code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read it (${code ?? String(e)})`,
      { cause: e },
    );
  }
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function analyzeFile(path: string, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const start = await head(path, 256);
  if (start.length === 0) throw new ProfileDecodeError('empty', `${path}: the file is empty`);
  if (isGzip(start)) return analyzeProfileFile(path, options);
  const dumpFormat = detectDumpFormat(start.toString('utf8'));
  if (dumpFormat) return analyzeDumpFile(path, options);
  throw new ProfileDecodeError(
    'not_gzip',
    `${path}: neither a gzip-compressed pprof profile (no gzip magic 1f 8b) nor a goroutine dump ("goroutine profile: total N" or "goroutine N [state]:")`,
  );
}

async function readProfile(path: string) {
  return decodeProfile(createReadStream(path, { highWaterMark: 1024 * 1024 }), { name: path });
}

async function analyzeProfileFile(path: string, options: AnalyzeOptions): Promise<AnalyzeResult> {
  if (options.base) return analyzeProfileDiff(path, options.base, options);
  const profile = await readProfile(path);
  const analysis = analyzeProfile(profile);
  const kind = profileKind(profile.sampleTypes);
  const report = topReport(analysis, {
    nodeCount: options.top ?? 0,
    ...(options.sampleIndex ? { sampleIndex: options.sampleIndex } : {}),
    ...(options.cum ? { sortBy: 'cum' as const } : {}),
  });
  const detected =
    kind === 'cpu'
      ? detectCpuIssues(analysis)
      : kind === 'heap'
        ? detectHeapIssues(analysis)
        : { findings: [] };
  const mutex = kind === 'mutex' ? mutexSites(profile) : [];
  const list = options.list
    ? listFunctions(profile, options.list, { sampleIndex: options.sampleIndex ?? '' })
    : undefined;
  if (options.flamegraph) await writeFlameGraph(options.flamegraph, analysis, report, path);

  if (options.format === 'json') {
    const json: AnalyzeJson = {
      kind: 'profile',
      file: path,
      profileKind: kind,
      sampleType: report.sampleType.type,
      unit: report.sampleType.unit,
      total: report.total,
      labels: report.labels,
      rows: report.rows.map((r) => ({
        name: r.name,
        inline: r.inline,
        flat: r.flat,
        flatPercent: r.flatPercent.trim(),
        sumPercent: r.sumPercent.trim(),
        cum: r.cum,
        cumPercent: r.cumPercent.trim(),
        flatText: r.flatText,
        cumText: r.cumText,
      })),
      findings: detected.findings,
      ...(list ? { list: list.functions } : {}),
    };
    return { text: `${JSON.stringify(json, null, 2)}\n`, json };
  }
  const out: string[] = [formatTopText(report)];
  if (kind === 'mutex' && mutex.length > 0) {
    out.push('Mutex contention by site (where the lock was released):');
    for (const m of mutex.slice(0, 10)) {
      out.push(
        `  ${report.format(m.delayNs).padStart(10)} waited  ${String(m.contentions).padStart(8)} contentions  ${m.site}`,
      );
    }
    out.push('');
  }
  out.push(findingsText(detected.findings, kind === 'cpu' || kind === 'heap'));
  if (list) {
    out.push(formatListText(list, readFileLines));
  }
  return { text: out.join('\n') };
}

/**
 * `aegis analyze NEW --base OLD`: what `go tool pprof -top -diff_base OLD NEW` prints, then the
 * functions whose share grew most (each profile's share of its own total).
 */
async function analyzeProfileDiff(
  path: string,
  basePath: string,
  options: AnalyzeOptions,
): Promise<AnalyzeResult> {
  const start = await head(basePath, 2);
  if (!isGzip(start)) {
    throw new ProfileDecodeError(
      'not_gzip',
      `${basePath}: --base needs a gzip-compressed pprof profile (no gzip magic 1f 8b)`,
    );
  }
  if (options.list || options.flamegraph) {
    throw new AppError(
      'usage',
      '--base compares two profiles: --list and --flamegraph apply to one profile, without --base',
    );
  }
  const [next, base] = await Promise.all([readProfile(path), readProfile(basePath)]);
  const diff = diffProfiles(next, base);
  const report = topReport(analyzeProfile(diff), {
    nodeCount: options.top ?? 0,
    ...(options.sampleIndex ? { sampleIndex: options.sampleIndex } : {}),
    ...(options.cum ? { sortBy: 'cum' as const } : {}),
  });
  const grown = compareWithBase(next, base, {
    baseLabel: basePath.split('/').pop() as string,
    ...(options.sampleIndex ? { sampleIndex: options.sampleIndex } : {}),
  });
  if (options.format === 'json') {
    const json: AnalyzeJson = {
      kind: 'profile',
      file: path,
      base: basePath,
      profileKind: profileKind(next.sampleTypes),
      sampleType: report.sampleType.type,
      unit: report.sampleType.unit,
      total: report.total,
      labels: report.labels,
      rows: report.rows.map((r) => ({
        name: r.name,
        inline: r.inline,
        flat: r.flat,
        flatPercent: r.flatPercent.trim(),
        sumPercent: r.sumPercent.trim(),
        cum: r.cum,
        cumPercent: r.cumPercent.trim(),
        flatText: r.flatText,
        cumText: r.cumText,
      })),
      findings: [grown],
    };
    return { text: `${JSON.stringify(json, null, 2)}\n`, json };
  }
  const table = grown.evidence.find(
    (e) => e.type === 'table' && e.title?.startsWith('Functions whose share'),
  );
  const out = [formatTopText(report), `${grown.title}`];
  if (table) out.push(evidenceText(table));
  return { text: `${out.join('\n')}\n` };
}

const sourceCache = new Map<string, readonly string[] | undefined>();
function readFileLines(file: string): readonly string[] | undefined {
  if (!sourceCache.has(file)) {
    let lines: readonly string[] | undefined;
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch {
      lines = undefined;
    }
    sourceCache.set(file, lines);
  }
  return sourceCache.get(file);
}

async function writeFlameGraph(
  out: string,
  analysis: ReturnType<typeof analyzeProfile>,
  report: TopReport,
  file: string,
) {
  const tree = buildFlameTree(analysis.graph, report.sampleIndex);
  const svg = renderFlameGraphSvg(tree, {
    title: `${report.sampleType.type} flame graph: ${file.split('/').pop()}`,
    subtitle: `total ${report.format(report.total)}`,
    formatValue: report.format,
  });
  await writeFile(out, out.endsWith('.svg') ? svg : await svgToPng(svg));
}

async function analyzeDumpFile(path: string, options: AnalyzeOptions): Promise<AnalyzeResult> {
  const text = await readFile(path, 'utf8');
  const dump = parseGoroutineDump(text);
  const report = detectGoroutineIssues({ first: dump, intervalMs: 1 });
  const findings = report.findings.filter((f) => f.id !== 'goroutines.total');
  if (options.format === 'json') {
    const json: AnalyzeJson = {
      kind: 'goroutines',
      file: path,
      format: dump.format,
      total: dump.total,
      groups: dump.groups.slice(0, options.top || dump.groups.length),
      findings,
    };
    return { text: `${JSON.stringify(json, null, 2)}\n`, json };
  }
  const out: string[] = [
    `File: ${path.split('/').pop()}`,
    `Type: goroutine dump (${dump.format})`,
    `Goroutines: ${dump.total.toLocaleString('en-US')} in ${dump.groups.length} groups of identical stacks`,
    '',
    evidenceText(groupsTable(dump, options.top || 20)),
    findingsText(findings, true),
  ];
  return { text: out.join('\n') };
}

function evidenceText(e: Evidence): string {
  switch (e.type) {
    case 'fields':
      return e.fields.map((f) => `  ${f.label}: ${f.value}`).join('\n');
    case 'text':
      return e.text;
    case 'code':
      return `${e.title ? `${e.title}\n` : ''}${e.text}`;
    case 'table':
      return [...(e.title ? [e.title] : []), ...alignColumns([e.columns, ...e.rows])].join('\n');
  }
}

function findingsText(findings: readonly Finding[], sayNone: boolean): string {
  if (findings.length === 0) return sayNone ? 'Known issues: none found.\n' : '';
  const out = ['Known issues:'];
  for (const f of findings) {
    out.push(`- [${f.severity.toUpperCase()}] ${f.title}`);
    out.push(`  ${f.summary}`);
    for (const e of f.evidence) if (e.type === 'fields') out.push(evidenceText(e).replace(/^ {2}/gm, '    '));
    if (f.advice) {
      for (const q of f.advice.quickFix) out.push(`    quick fix: ${q}`);
      for (const l of f.advice.longTerm.slice(0, 2)) out.push(`    long term: ${l}`);
    }
  }
  return `${out.join('\n')}\n`;
}
