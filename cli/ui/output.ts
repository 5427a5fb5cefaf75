/** Query results and JSON documents as the user asked for them: a table, CSV or JSON. */
import type { QueryResult } from '../../engine/contract/index.ts';
import type { Style } from './style.ts';
import { renderTable } from './table.ts';

export type ResultFormat = 'table' | 'csv' | 'json';
export const RESULT_FORMATS: readonly ResultFormat[] = ['table', 'csv', 'json'];

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180: header row, CRLF-free `\n` lines, fields quoted when they need it; NULL is an empty field. */
export function renderCsv(result: QueryResult): string {
  const lines = [result.columns.map(csvField).join(',')];
  for (const row of result.rows) lines.push(result.columns.map((c) => csvField(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function renderResult(result: QueryResult, format: ResultFormat, style: Style): string {
  switch (format) {
    case 'csv':
      return renderCsv(result);
    case 'json':
      return renderJson(result.rows);
    case 'table':
      return renderTable(
        result.columns.map((header) => ({ header })),
        result.rows.map((row) => result.columns.map((c) => row[c])),
        { style },
      );
  }
}
