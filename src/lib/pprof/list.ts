import { AppError } from '../../domain/errors.ts';
import type { Profile } from './decode.ts';
import { sampleIndexByName } from './graph.ts';
import { goPattern } from './pattern.ts';
import { percentage, scaledLabel } from './units.ts';

/**
 * The runbook's `list <function>`: per source line of each function whose name matches, the
 * flat and cum values, computed as `go tool pprof -list` does (granularity "lines": a node per
 * function, file and line; flat to the leaf line, cum once per sample per line).
 */

export interface ListLine {
  readonly line: number;
  readonly flat: number;
  readonly cum: number;
}

export interface ListedFunction {
  readonly name: string;
  readonly file: string;
  readonly flat: number;
  readonly cum: number;
  /** Lines with a value, in line order. */
  readonly lines: readonly ListLine[];
}

export interface ListReport {
  readonly total: number;
  readonly sampleType: string;
  readonly unit: string;
  readonly functions: readonly ListedFunction[];
  /** Functions that matched but carry no file/line information. */
  readonly withoutSource: readonly string[];
  readonly format: (v: number) => string;
}

export function listFunctions(
  profile: Profile,
  pattern: string,
  options: { sampleIndex?: string | number } = {},
): ListReport {
  const rx = goPattern(pattern, 'list pattern');
  const si = sampleIndexByName(profile, options.sampleIndex ?? '');
  const st = profile.sampleTypes[si] as { type: string; unit: string };
  const unit = st.unit.toLowerCase();
  const { functions, lineStart, lineFunction, lineNumber, values, stackStart, stack, sampleCount } = profile;
  const stride = profile.sampleTypes.length;

  // Line nodes, keyed by function name + file + line; only for matching functions.
  const matches = functions.map((f) => rx.test(f.name));
  const nodeOfLine = new Int32Array(lineFunction.length).fill(-1);
  const keys = new Map<string, number>();
  const nodeInfo: { name: string; file: string; line: number }[] = [];
  for (let i = 0; i < lineFunction.length; i++) {
    const f = functions[lineFunction[i] as number];
    if (!f || !matches[lineFunction[i] as number]) continue;
    const line = lineNumber[i] as number;
    const key = `${f.name}\u0000${f.filename}\u0000${line}`;
    let n = keys.get(key);
    if (n === undefined) {
      n = nodeInfo.length;
      nodeInfo.push({ name: f.name, file: f.filename, line });
      keys.set(key, n);
    }
    nodeOfLine[i] = n;
  }
  const flat = new Float64Array(nodeInfo.length);
  const cum = new Float64Array(nodeInfo.length);
  const seen = new Int32Array(nodeInfo.length).fill(-1);
  let total = 0;
  for (let s = 0; s < sampleCount; s++) {
    const w = values[s * stride + si] as number;
    total += Math.abs(w);
    if (w === 0 || nodeInfo.length === 0) continue;
    const a = stackStart[s] as number;
    const b = stackStart[s + 1] as number;
    for (let k = a; k < b; k++) {
      const loc = stack[k] as number;
      for (let i = lineStart[loc] as number, stop = lineStart[loc + 1] as number; i < stop; i++) {
        const n = nodeOfLine[i] as number;
        if (n < 0) continue;
        if (seen[n] !== s) {
          seen[n] = s;
          cum[n] = (cum[n] as number) + w;
        }
        if (k === a && i === (lineStart[loc] as number)) flat[n] = (flat[n] as number) + w;
      }
    }
  }

  // Group by function, then file.
  const byFn = new Map<string, Map<string, number[]>>();
  nodeInfo.forEach((info, n) => {
    if (flat[n] === 0 && cum[n] === 0) return;
    let files = byFn.get(info.name);
    if (!files) {
      files = new Map();
      byFn.set(info.name, files);
    }
    const list = files.get(info.file) ?? [];
    list.push(n);
    files.set(info.file, list);
  });
  if (byFn.size === 0) {
    throw new AppError('not_found', `no function matching "${pattern}" has samples in this profile`);
  }
  const out: ListedFunction[] = [];
  const withoutSource: string[] = [];
  for (const name of [...byFn.keys()].sort()) {
    const files = byFn.get(name) as Map<string, number[]>;
    for (const file of [...files.keys()].sort()) {
      const ns = files.get(file) as number[];
      if (!file) {
        withoutSource.push(name);
        continue;
      }
      const lines = ns
        .map((n) => ({
          line: (nodeInfo[n] as { line: number }).line,
          flat: flat[n] as number,
          cum: cum[n] as number,
        }))
        .sort((x, y) => x.line - y.line);
      out.push({
        name,
        file,
        flat: lines.reduce((t, l) => t + l.flat, 0),
        cum: lines.reduce((t, l) => t + l.cum, 0),
        lines,
      });
    }
  }
  return {
    total,
    sampleType: st.type,
    unit,
    functions: out,
    withoutSource,
    format: (v) => scaledLabel(v, unit, 'minimum'),
  };
}

/**
 * `go tool pprof -list` layout. `source(file)` may return the file's lines so each row shows its
 * code (the CLI reads local files); rows without a value are left out when no source is given.
 */
export function formatListText(
  report: ListReport,
  source?: (file: string) => readonly string[] | undefined,
): string {
  const out: string[] = [`Total: ${report.format(report.total)}`];
  const dot = (v: number) => (v === 0 ? '.' : report.format(v));
  for (const fn of report.functions) {
    out.push(`ROUTINE ======================== ${fn.name} in ${fn.file}`);
    out.push(
      `${report.format(fn.flat).padStart(10)} ${report.format(fn.cum).padStart(10)} (flat, cum) ${percentage(fn.cum, report.total)} of Total`,
    );
    const text = source?.(fn.file);
    for (const l of fn.lines) {
      const code = text?.[l.line - 1] ?? '';
      out.push(
        `${dot(l.flat).padStart(10)} ${dot(l.cum).padStart(10)} ${String(l.line).padStart(6)}:${code}`,
      );
    }
  }
  for (const name of report.withoutSource) out.push(`No source information for ${name}`);
  return `${out.join('\n')}\n`;
}
