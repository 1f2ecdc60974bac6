/** Plain-text tables in aligned columns, for monospace output (a ``` block, a text file, a terminal). */

const NUMERIC = /^[-+]?(\d[\d,]*)(\.\d+)?\s*[%a-zA-Zµ/]*$/;

export interface AlignOptions {
  /** Cells longer than this end in "…" (no limit when absent). */
  readonly maxCellWidth?: number;
  /** Characters between columns. */
  readonly gap?: number;
}

function cell(text: string | undefined, max: number | undefined): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  if (max === undefined || flat.length <= max) return flat;
  return `${flat.slice(0, Math.max(0, max - 1))}…`;
}

/** True when some cell would be shortened by `maxCellWidth`. */
export function tableHasLongCells(
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  maxCellWidth: number,
): boolean {
  return [columns, ...rows].some((r) => r.some((c) => c.replace(/\s+/g, ' ').trim().length > maxCellWidth));
}

/**
 * Rows as they are, each column padded to its widest cell (right-aligned where `right` says so),
 * `gap` between columns, no trailing blanks.
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  options: { readonly right?: readonly boolean[]; readonly gap?: string } = {},
): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((r) =>
    r
      .map((c, i) => (options.right?.[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join(options.gap ?? '  ')
      .trimEnd(),
  );
}

/**
 * The header line, a rule, then one line per row; numeric columns align right. Rows shorter than
 * the header get empty cells; extra cells get unnamed columns; white space in a cell becomes one space.
 */
export function alignTable(
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  options: AlignOptions = {},
): string[] {
  const width = Math.max(columns.length, ...rows.map((r) => r.length));
  const head = Array.from({ length: width }, (_, i) => cell(columns[i], options.maxCellWidth));
  const body = rows.map((r) => Array.from({ length: width }, (_, i) => cell(r[i], options.maxCellWidth)));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const right = head.map(
    (_, i) => body.length > 0 && body.every((r) => r[i] === '' || NUMERIC.test(r[i] as string)),
  );
  const rule = widths.map((w) => '-'.repeat(w));
  return alignColumns([head, rule, ...body], { right, gap: ' '.repeat(options.gap ?? 2) });
}
