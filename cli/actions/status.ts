/** `lake status`: what it does (the options and help live in commands/status.ts). */
import type { Io } from '../io.ts';
import { renderMaintenanceAttention } from '../maintenance-status.ts';
import { LocalLake } from '../local/lake.ts';
import { displayPath, lakeFlag, requireLake } from '../local/lake-dir.ts';
import { lakeStatus, QUARANTINE_ALERT_TEXT, type GoldStatus, type LakeStatus } from '../local/status.ts';
import { awsMode, type AwsOptions, type JsonOptions, type LakeOptions } from '../options.ts';
import { formatAge, formatBytes, formatCount, formatDuration, formatPercent, formatTime } from '../ui/format.ts';
import type { Style } from '../ui/style.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';

function goldState(g: GoldStatus, s: Style): string {
  if (g.up_to_date) return s.green('up to date');
  const parts = [];
  if (g.pending_sources) parts.push(`${g.pending_sources} finished ingest(s) not reflected`);
  if (g.unfinished_sources) parts.push(`${g.unfinished_sources} unfinished ingest(s) in silver not reflected`);
  return s.yellow(`stale: ${parts.join(', ')} — see below, or run npx lake replay`);
}

/** What needs a look: ingests in flight or abandoned, bronze never ingested, files refused by `lake watch`. */
function attentionSections(status: LakeStatus, s: Style): string[] {
  const out: string[] = [];
  if (status.unfinished_ingests.length) {
    out.push(
      `\n${s.bold('Unfinished ingests')} ${s.dim('(rows in silver, visible to queries, without a manifest; an abandoned one: `lake replay --prefix SOURCE` finishes it)')}\n`,
    );
    out.push(
      renderTable(
        [{ header: 'started' }, { header: 'source' }, { header: 'silver files' }, { header: 'state' }],
        status.unfinished_ingests.map((u) => [
          formatTime(u.started_at),
          s.yellow(u.source),
          formatCount(u.silver_files),
          u.state === 'abandoned' ? s.red(u.state) : u.state,
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  if (status.bronze_not_ingested.length) {
    out.push(
      `\n${s.bold('In bronze, not ingested')} ${s.dim('(no manifest; `lake replay --prefix KEY` ingests one)')}\n`,
    );
    out.push(
      renderTable(
        [{ header: 'landed' }, { header: 'bronze key' }, { header: 'size' }, { header: 'state' }],
        status.bronze_not_ingested.map((b) => [
          formatTime(b.landed),
          s.yellow(b.key),
          formatBytes(b.size),
          b.state === 'not ingested' ? s.red(b.state) : b.state,
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  if (status.refused_files.length) {
    out.push(
      `\n${s.bold('Refused by lake watch')} ${s.dim('(bronze holds a different version of the name: rename the file to ingest it as a new source)')}\n`,
    );
    out.push(
      renderTable(
        [
          { header: 'file' },
          { header: 'size' },
          { header: 'bronze key' },
          { header: 'bronze size' },
          { header: 'bronze landed' },
        ],
        status.refused_files.map((r) => [
          s.red(displayPath(r.path)),
          formatBytes(r.size),
          r.key,
          formatBytes(r.bronze_size),
          formatTime(r.bronze_landed),
        ]),
        { style: s, indent: '  ' },
      ),
    );
  }
  out.push(...renderMaintenanceAttention(status.unfinished_maintenance, s));
  return out;
}

function render(status: LakeStatus, io: Io): string {
  const s = io.style;
  const out: string[] = [`${s.bold('Lake')} ${displayPath(status.lake)}\n`];
  const attention =
    status.unfinished_ingests.length +
    status.bronze_not_ingested.length +
    status.refused_files.length +
    status.unfinished_maintenance.length;
  if (status.datasets.every((d) => d.sources === 0) && attention === 0) {
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
      [
        { header: 'finished' },
        { header: 'source' },
        { header: 'status' },
        { header: 'rows' },
        { header: 'valid' },
        { header: 'quarantined' },
        { header: 'took' },
      ],
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
        status.gold.map((g) => [g.table, g.first_month ? `${g.first_month} … ${g.last_month}` : '-', goldState(g, s)]),
        { style: s, indent: '  ' },
      ),
    );
  }
  out.push(...attentionSections(status, s));
  const alerts = status.datasets.filter((d) => d.above_alert_threshold);
  out.push('\n');
  if (alerts.length) {
    for (const d of alerts) {
      out.push(
        s.yellow(
          `⚠ ${d.name}: ${formatPercent(d.quarantine_rate)} of rows quarantined, above the ${QUARANTINE_ALERT_TEXT} alert threshold. See: npx lake quarantine${lakeFlag(status.lake)}\n`,
        ),
      );
    }
  } else {
    out.push(s.dim(`Quarantine rates are within the ${QUARANTINE_ALERT_TEXT} alert threshold.\n`));
  }
  return out.join('');
}

export async function statusAction(options: LakeOptions & JsonOptions & AwsOptions, io: Io): Promise<void> {
  const aws = awsMode(options);
  if (aws) {
    const { statusOnAws } = await import('../aws/maintenance-status.ts');
    await statusOnAws(aws, options, io);
    return;
  }
  const lake = LocalLake.open(requireLake(options.lake));
  const engine = await lake.openQueryEngine();
  try {
    const status = await lakeStatus(lake, engine);
    io.print(options.json ? renderJson(status) : render(status, io));
  } finally {
    await engine.close();
  }
}
