/** `lake quarantine`: what it does (the options and help live in commands/quarantine.ts). */
import { quarantineFileKey, type QueryEngine, type Row, sourceId } from '../../engine/contract/index.ts';
import type { Io } from '../io.ts';
import { resultFormat, type AwsOptions, type LakeOptions } from '../options.ts';
import {
  countSql,
  normalizeReason,
  quarantineRelation,
  reasonSummarySql,
  recordsSql,
  rejectedFilesSql,
  sourceSummarySql,
  type QuarantineFilter,
} from '../quarantine-queries.ts';
import { formatCount, formatTime, plural } from '../ui/format.ts';
import { renderJson, renderResult } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';
import { lakeTarget } from '../target.ts';

export interface QuarantineOptions extends LakeOptions, AwsOptions {
  dataset?: string;
  reason?: string;
  source?: string;
  rows?: boolean;
  limit: number;
  format?: string;
  json?: boolean;
}

/** The original record as its fields, comma-separated: shorter than the JSON, and what the producer sent. */
function rawFields(raw: unknown): unknown {
  if (typeof raw !== 'string' || !raw.startsWith('{')) return raw;
  try {
    return Object.values(JSON.parse(raw) as Record<string, unknown>)
      .map((v) => (v === null ? '' : String(v)))
      .join(',');
  } catch {
    return raw;
  }
}

const list = (value: unknown): string =>
  Array.isArray(value) ? value.join(', ') : value === null || value === undefined ? '' : String(value);

/** Where the copy of a whole rejected file is kept. */
function rejectedFileLocation(row: Row, where: (key: string) => string): string {
  const dataset = String(row.dataset);
  const key = String(row.source_key);
  const id = sourceId({
    bucket: String(row.source_bucket),
    key,
    versionId: row.source_version ? String(row.source_version) : undefined,
  });
  return where(quarantineFileKey(dataset, id, key));
}

async function summary(
  engine: QueryEngine,
  relation: string,
  filter: QuarantineFilter,
  options: QuarantineOptions,
  io: Io,
  where: (key: string) => string,
  hintFlags: string,
) {
  const [reasons, sources, files] = await Promise.all([
    engine.query(reasonSummarySql(relation, filter)),
    engine.query(sourceSummarySql(relation, filter)),
    engine.query(rejectedFilesSql(relation, filter)),
  ]);
  const rejected = files.rows.map((r) => ({
    dataset: r.dataset,
    source_key: r.source_key,
    source_version: r.source_version,
    reasons: list(r.reasons),
    details: list(r.details),
    ingested_at: r.ingested_at,
    quarantined_copy: rejectedFileLocation(r, where),
  }));
  if (resultFormat(options) === 'json') {
    io.print(renderJson({ by_reason: reasons.rows, by_source: sources.rows, rejected_files: rejected }));
    return;
  }
  const s = io.style;
  if (reasons.rows.length + rejected.length === 0) {
    io.print(`${s.green('Nothing is quarantined')}${filter.source ? ` for ${filter.source}` : ''}.\n`);
    return;
  }
  if (reasons.rows.length) {
    io.print(`${s.bold('Rejected rows by reason')} ${s.dim('(a row with several reasons counts under each)')}\n`);
    io.print(
      renderTable(
        [{ header: 'reason' }, { header: 'rows' }, { header: 'sources' }],
        reasons.rows.map((r) => [r.reason, formatCount(Number(r.quarantined_rows)), r.sources]),
        { style: s, indent: '  ' },
      ),
    );
    io.print(`\n${s.bold('Rejected rows by source')}\n`);
    io.print(
      renderTable(
        [{ header: 'source' }, { header: 'rows' }, { header: 'landed' }],
        sources.rows.map((r) => [
          r.source_key,
          formatCount(Number(r.quarantined_rows)),
          formatTime(String(r.ingested_at)),
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  if (rejected.length) {
    io.print(`\n${s.bold('Files rejected whole')}\n`);
    io.print(
      renderTable(
        [{ header: 'source' }, { header: 'reason' }, { header: 'detail' }, { header: 'copy kept at' }],
        rejected.map((r) => [r.source_key, r.reasons, r.details, r.quarantined_copy]),
        { style: s, indent: '  ', maxCellWidth: 90 },
      ),
    );
  }
  const example = String(reasons.rows[0]?.reason ?? 'INVALID_AMOUNT');
  io.print(
    `\nSee the rows: npx lake quarantine${hintFlags} --reason ${example}   or   --source ${String(sources.rows[0]?.source_key ?? 'KEY')}\n`,
  );
}

async function records(
  engine: QueryEngine,
  relation: string,
  filter: QuarantineFilter,
  options: QuarantineOptions,
  io: Io,
) {
  const [result, count] = await Promise.all([
    engine.query(recordsSql(relation, filter, options.limit)),
    engine.query(countSql(relation, filter)),
  ]);
  const total = Number(count.rows[0]?.n ?? 0);
  const format = resultFormat(options);
  if (format !== 'table') {
    io.print(renderResult(result, format, io.style));
    return;
  }
  if (total === 0) {
    io.print(
      `No rejected rows${filter.reason ? ` with reason ${filter.reason}` : ''}${filter.source ? ` from ${filter.source}` : ''}.\n`,
    );
    return;
  }
  io.print(
    renderTable(
      [
        { header: 'source' },
        { header: 'record' },
        { header: 'reasons' },
        { header: 'details' },
        { header: 'fields as received' },
      ],
      result.rows.map((r) => [
        r.source_key,
        r.record_number,
        list(r.reasons),
        list(r.details),
        rawFields(r.raw_record),
      ]),
      { style: io.style, maxCellWidth: 70 },
    ),
  );
  if (total > result.rows.length)
    io.note(
      io.errStyle.dim(
        `(showing ${formatCount(result.rows.length)} of ${plural(total, 'row')}: --limit N for more, --format csv for all columns untruncated)\n`,
      ),
    );
}

export async function quarantineAction(options: QuarantineOptions, io: Io): Promise<void> {
  const target = lakeTarget(options);
  const dataset = options.dataset ? target.dataset(options.dataset) : undefined;
  const filter: QuarantineFilter = {
    reason: options.reason ? normalizeReason(options.reason, target.contracts()) : undefined,
    source: options.source,
  };
  const relation = quarantineRelation(target.quarantineTables(dataset));
  // Reading quarantine needs the platform workgroup on AWS.
  const engine = await target.openQueryEngine('platform', io);
  try {
    if (options.reason || options.source || options.rows) await records(engine, relation, filter, options, io);
    else await summary(engine, relation, filter, options, io, (key) => target.quarantineLocation(key), target.flag());
  } finally {
    await engine.close();
  }
}
