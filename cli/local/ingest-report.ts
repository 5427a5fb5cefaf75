/** How a batch of ingests reads on screen: one row per source, totals, and the reasons rows were quarantined. */
import { FileReason, type Manifest } from '../../engine/contract/index.ts';
import { formatCount, formatDuration, formatPercent, plural } from '../ui/format.ts';
import type { Io } from '../io.ts';
import type { Style } from '../ui/style.ts';
import { displayPath } from './lake-dir.ts';
import type { Skipped } from './input-files.ts';
import { renderTable } from '../ui/table.ts';

export interface IngestTotals {
  sources: number;
  rejectedFiles: number;
  rowsIn: number;
  rowsValid: number;
  rowsQuarantined: number;
  /** Quarantined rows per reason (a row with two reasons counts under both). */
  reasons: Record<string, number>;
  /** Files rejected whole, per reason. */
  fileReasons: Record<string, number>;
}

const FILE_REASONS: ReadonlySet<string> = new Set(Object.values(FileReason));

export function totals(manifests: readonly Manifest[]): IngestTotals {
  const t: IngestTotals = {
    sources: manifests.length,
    rejectedFiles: 0,
    rowsIn: 0,
    rowsValid: 0,
    rowsQuarantined: 0,
    reasons: {},
    fileReasons: {},
  };
  for (const m of manifests) {
    if (m.status === 'rejected') t.rejectedFiles++;
    t.rowsIn += m.rows_in;
    t.rowsValid += m.rows_valid;
    t.rowsQuarantined += m.rows_quarantined;
    for (const [reason, n] of Object.entries(m.reasons)) {
      const bucket = m.status === 'rejected' && FILE_REASONS.has(reason) ? t.fileReasons : t.reasons;
      bucket[reason] = (bucket[reason] ?? 0) + n;
    }
  }
  return t;
}

/** One line per source, as it finishes. */
export function manifestLine(m: Manifest, style: Style): string {
  if (m.status === 'rejected') {
    return `${style.red('✗')} ${m.source.key}  ${style.red(`rejected: ${m.quarantine.file_reason ?? 'unknown'}`)} — ${m.quarantine.file_detail ?? ''}\n`;
  }
  const rate = m.rows_in ? m.rows_quarantined / m.rows_in : 0;
  const quarantined = m.rows_quarantined
    ? style.yellow(`${formatCount(m.rows_quarantined)} quarantined (${formatPercent(rate)})`)
    : '0 quarantined';
  return (
    `${style.green('✓')} ${m.source.key}  ${formatCount(m.rows_in)} rows: ${formatCount(m.rows_valid)} valid, ${quarantined}` +
    `  → ${plural(m.partitions.length, 'partition')}  ${style.dim(formatDuration(m.duration_ms))}\n`
  );
}

export function manifestTable(manifests: readonly Manifest[], style: Style): string {
  return renderTable(
    [
      { header: 'source' },
      { header: 'status' },
      { header: 'rows' },
      { header: 'valid' },
      { header: 'quarantined' },
      { header: 'rate' },
      { header: 'partitions' },
      { header: 'time' },
    ],
    manifests.map((m) => [
      m.source.key,
      m.status === 'rejected' ? `rejected: ${m.quarantine.file_reason}` : m.status,
      formatCount(m.rows_in),
      formatCount(m.rows_valid),
      formatCount(m.rows_quarantined),
      formatPercent(m.rows_in ? m.rows_quarantined / m.rows_in : 0),
      String(m.partitions.length),
      formatDuration(m.duration_ms),
    ]),
    { style, indent: '  ' },
  );
}

/** `80,000 rows in 5 files: 79,210 valid, 790 quarantined (0.99%); 1 file rejected`. */
export function totalsLine(t: IngestTotals, style: Style): string {
  const rate = t.rowsIn ? t.rowsQuarantined / t.rowsIn : 0;
  const rejected = t.rejectedFiles ? `; ${style.red(plural(t.rejectedFiles, 'file') + ' rejected whole')}` : '';
  const rateText =
    rate > 0.01 ? style.yellow(`${formatPercent(rate)}, above the 1% alert threshold`) : formatPercent(rate);
  return `${formatCount(t.rowsIn)} rows from ${plural(t.sources, 'source')}: ${formatCount(t.rowsValid)} valid, ${formatCount(t.rowsQuarantined)} quarantined (${rateText})${rejected}\n`;
}

/** Reasons, most frequent first: rows per row reason (a row with two reasons counts under both), then whole files. */
export function reasonsTable(
  t: Pick<IngestTotals, 'reasons' | 'fileReasons' | 'rowsIn'>,
  style: Style,
  indent = '  ',
): string {
  const byCount = (a: [string, number], b: [string, number]) => b[1] - a[1] || a[0].localeCompare(b[0]);
  const rows = Object.entries(t.reasons)
    .sort(byCount)
    .map(([reason, n]) => [reason, plural(n, 'row'), t.rowsIn ? formatPercent(n / t.rowsIn) : '']);
  const files = Object.entries(t.fileReasons)
    .sort(byCount)
    .map(([reason, n]) => [reason, plural(n, 'file'), 'whole file']);
  if (rows.length + files.length === 0) return `${indent}${style.green('nothing quarantined')}\n`;
  return renderTable(
    [{ header: 'reason' }, { header: 'quarantined', align: 'right' }, { header: 'share of rows', align: 'right' }],
    [...rows, ...files],
    {
      style,
      indent,
    },
  );
}

/** Names every input that was not ingested because of what it is (a symbolic link, a device…), on stderr. */
export function reportSkipped(skipped: readonly Skipped[], io: Io): void {
  for (const k of skipped) io.note(io.errStyle.yellow(`- skipped ${displayPath(k.path)}: ${k.reason}\n`));
}
