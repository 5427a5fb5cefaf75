/** Plain-text tables: aligned columns, numbers right-aligned, NULL shown as such, long cells cut. */
import { makeStyle, visibleLength, type Style } from './style.ts';

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

export interface TableOptions {
  style?: Style;
  /** Longer cells are cut with `…`. @default 60 */
  maxCellWidth?: number;
  /** Left margin. @default '' */
  indent?: string;
}

export type Cell = string | number | boolean | null | undefined;

const NUMERIC = /^[+-]?\d[\d,]*(\.\d+)?%?$/;

/** Text of a value as the table shows it (objects and lists as compact JSON). */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

function cut(text: string, width: number): string {
  const oneLine = text.replace(/\r?\n/g, '⏎');
  return oneLine.length > width ? `${oneLine.slice(0, width - 1)}…` : oneLine;
}

export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly unknown[])[],
  options: TableOptions = {},
): string {
  const style = options.style ?? makeStyle(false);
  const max = options.maxCellWidth ?? 60;
  const indent = options.indent ?? '';
  const texts = rows.map((r) => columns.map((_, i) => cut(cellText(r[i]), max)));
  const nulls = rows.map((r) => columns.map((_, i) => r[i] === null || r[i] === undefined));
  const aligns = columns.map((c, i) => {
    if (c.align) return c.align;
    const values = texts.map((t) => t[i] as string).filter((_, r) => !nulls[r]?.[i]);
    return values.length > 0 && values.every((v) => NUMERIC.test(v)) ? 'right' : 'left';
  });
  const widths = columns.map((c, i) =>
    Math.max(visibleLength(c.header), ...texts.map((t) => visibleLength(t[i] as string))),
  );
  const pad = (text: string, i: number): string => {
    const gap = ' '.repeat(Math.max(0, (widths[i] as number) - visibleLength(text)));
    return aligns[i] === 'right' ? gap + text : text + gap;
  };
  const line = (cells: string[]): string => `${indent}${cells.join('  ')}`.trimEnd();
  const out = [
    line(columns.map((c, i) => style.bold(pad(c.header, i)))),
    line(widths.map((w) => style.dim('─'.repeat(w)))),
    ...texts.map((t, r) => line(t.map((text, i) => (nulls[r]?.[i] ? style.dim(pad(text, i)) : pad(text, i))))),
  ];
  return `${out.join('\n')}\n`;
}

/** Two columns of labels and values, for summaries. */
export function renderPairs(
  pairs: ReadonlyArray<readonly [string, string]>,
  options: { style?: Style; indent?: string } = {},
): string {
  const style = options.style ?? makeStyle(false);
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${options.indent ?? ''}${style.dim(k.padEnd(width))}  ${v}`).join('\n') + '\n';
}
