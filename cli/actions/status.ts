/** `lake status`: what it does (the options and help live in commands/status.ts). */
import type { Io } from '../io.ts';
import { LocalLake } from '../local/lake.ts';
import { displayPath, lakeFlag, requireLake } from '../local/lake-dir.ts';
import { lakeStatus, QUARANTINE_ALERT_TEXT, type LakeStatus } from '../local/status.ts';
import type { JsonOptions, LakeOptions } from '../options.ts';
import { formatAge, formatCount, formatDuration, formatPercent, formatTime } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';

function render(status: LakeStatus, io: Io): string {
  const s = io.style;
  const out: string[] = [`${s.bold('Lake')} ${displayPath(status.lake)}\n`];
  if (status.datasets.every((d) => d.sources === 0)) {
    out.push(`\nNothing ingested yet. Try: npx lake ingest FILE${lakeFlag(status.lake)}   or   npx lake demo\n`);
    return out.join('');
  }
  out.push(`\n${s.bold('Datasets')}\n`);
  out.push(
    renderTable(
      [
        { header: 'dataset' },
        { header: 'partitions' },
        { header: 'rows' },
        { header: 'files' },
        { header: 'sources' },
        { header: 'quarantined' },
        { header: 'rate' },
        { header: 'last ingest' },
        { header: 'newest record' },
      ],
      status.datasets.map((d) => [
        d.name,
        String(d.partitions.length),
        formatCount(d.rows),
        formatCount(d.files),
        d.rejected_files ? `${d.sources} (${d.rejected_files} rejected)` : String(d.sources),
        formatCount(d.rows_quarantined),
        d.above_alert_threshold ? s.yellow(`${formatPercent(d.quarantine_rate)} ⚠`) : formatPercent(d.quarantine_rate),
        d.last_ingest ? formatAge(new Date(d.last_ingest)) : '-',
        d.newest_record ?? '-',
      ]),
      { style: s, indent: '  ' },
    ),
  );
  for (const d of status.datasets.filter((x) => x.partitions.length)) {
    out.push(`\n${s.bold(`Partitions of ${d.name}`)}\n`);
    out.push(
      renderTable(
        [{ header: 'partition' }, { header: 'rows' }, { header: 'files' }, { header: 'in catalog' }],
        d.partitions.map((p) => [
          Object.entries(p.values)
            .map(([k, v]) => `${k}=${v}`)
            .join('/'),
          formatCount(p.rows),
          String(p.files),
          p.registered ? 'yes' : s.yellow('no — Athena would not see these rows'),
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  out.push(`\n${s.bold('Latest ingests')}\n`);
  out.push(
    renderTable(
      [{ header: 'finished' }, { header: 'source' }, { header: 'status' }, { header: 'rows' }, { header: 'valid' }, { header: 'quarantined' }, { header: 'took' }],
      status.latest_ingests.map((m) => [
        formatTime(m.finished_at),
        m.source,
        m.status === 'rejected' ? s.red(m.status) : m.status,
        formatCount(m.rows_in),
        formatCount(m.rows_valid),
        formatCount(m.rows_quarantined),
        formatDuration(m.duration_ms),
      ]),
      { style: s, indent: '  ' },
    ),
  );
  if (status.gold.length) {
    out.push(`\n${s.bold('Gold')}\n`);
    out.push(
      renderTable(
        [{ header: 'table' }, { header: 'months' }, { header: 'state' }],
        status.gold.map((g) => [
          g.table,
          g.first_month ? `${g.first_month} … ${g.last_month}` : '-',
          g.up_to_date ? s.green('up to date') : s.yellow(`stale: ${g.pending_sources} source(s) not reflected — run npx lake replay`),
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  if (status.unfinished_ingests.length) {
    out.push(`\n${s.bold('Unfinished ingests')} ${s.dim('(files in silver without a manifest; ingest the source again to finish or clean up)')}\n`);
    out.push(
      renderTable(
        [{ header: 'started' }, { header: 'source' }, { header: 'silver files' }],
        status.unfinished_ingests.map((u) => [formatTime(u.started_at), s.yellow(u.source), formatCount(u.silver_files)]),
        { style: s, indent: '  ' },
      ),
    );
  }
  const alerts = status.datasets.filter((d) => d.above_alert_threshold);
  out.push('\n');
  if (alerts.length) {
    for (const d of alerts) {
      out.push(s.yellow(`⚠ ${d.name}: ${formatPercent(d.quarantine_rate)} of rows quarantined, above the ${QUARANTINE_ALERT_TEXT} alert threshold. See: npx lake quarantine${lakeFlag(status.lake)}\n`));
    }
  } else {
    out.push(s.dim(`Quarantine rates are within the ${QUARANTINE_ALERT_TEXT} alert threshold.\n`));
  }
  return out.join('');
}

export async function statusAction(options: LakeOptions & JsonOptions, io: Io): Promise<void> {
  const lake = LocalLake.open(requireLake(options.lake));
  const engine = await lake.openQueryEngine();
  try {
    const status = await lakeStatus(lake, engine);
    io.print(options.json ? renderJson(status) : render(status, io));
  } finally {
    await engine.close();
  }
}
