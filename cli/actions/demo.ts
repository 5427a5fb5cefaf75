/** `lake demo`: what it does (the options and help live in commands/demo.ts). */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderQuery } from '../../engine/gold/index.ts';
import { CommandFailed, UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { writeDemoFeed } from '../demo/feed.ts';
import { tryNext, whereThingsAre } from '../demo/guide.ts';
import { balanceDifferences } from '../demo/verify.ts';
import { cleanUpAbandoned, refreshGoldAfterIngest, runLocalIngest } from '../local/ingest-batch.ts';
import { planLocalIngest } from '../local/ingest-plan.ts';
import { reasonsTable, totals, totalsLine } from '../local/ingest-report.ts';
import { LocalLake } from '../local/lake.ts';
import { displayPath, isLake, locateLake, openOrCreateLake } from '../local/lake-dir.ts';
import type { JsonOptions, LakeOptions, ThreadsOptions } from '../options.ts';
import { findQueryFile } from '../query-files.ts';
import { formatCount, formatDuration, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';

export interface DemoOptions extends LakeOptions, JsonOptions, ThreadsOptions {
  fresh?: boolean;
  rows: number;
  accounts: number;
}

const Q1 = ['2024-01', '2024-02', '2024-03'];

export async function demoAction(options: DemoOptions, io: Io): Promise<void> {
  const started = performance.now();
  const s = io.style;
  const target = locateLake(options.lake).dir;
  if (options.fresh && existsSync(target)) {
    if (!isLake(target))
      throw new UserError(`${target} is not a lake; --fresh deletes only lakes`, 'pick another directory with --lake');
    await rm(target, { recursive: true, force: true });
  }
  const lake = LocalLake.open(await openOrCreateLake(options.lake), { threads: options.threads });
  const say = (text: string) => {
    if (!options.json) io.print(text);
  };
  say(
    `${s.bold('Medallion Lake demo')} — a local lake in ${displayPath(lake.dir)}, ingested by the same engine as the AWS Lambda, queried with DuckDB\n\n`,
  );

  const scratch = await mkdtemp(join(tmpdir(), 'lake-demo-'));
  try {
    const progress = io.progress();
    progress.phase('generating transactions');
    const t0 = performance.now();
    const files = await writeDemoFeed(scratch, { rowsPerMonth: options.rows, accounts: options.accounts });
    progress.stop();
    const generated = files.reduce((n, f) => n + f.rows, 0);
    say(
      `${s.bold('1. Generated')} ${plural(files.length, 'source file')} for January–April 2024: ${formatCount(generated)} transactions of ${plural(options.accounts, 'account')}, about 1% of them bad ${s.dim(`(${formatDuration(performance.now() - t0)})`)}\n\n`,
    );

    say(`${s.bold('2. Ingested')} bronze → silver Parquet + quarantine → gold\n`);
    await cleanUpAbandoned(lake, io);
    const { files: planned } = await planLocalIngest(lake, [scratch], { dataset: 'transactions' }).catch(
      (e: unknown) => {
        if (e instanceof UserError && /bronze already holds/.test(e.message)) {
          throw new UserError(
            `${e.message}: this lake holds other data under the demo's file names`,
            'give the demo its own lake (--lake ./demo-lake) or start over with --fresh',
          );
        }
        throw e;
      },
    );
    // The answer is checked against the generator only when the lake holds nothing but the demo's files.
    const demoKeys = new Set(planned.map((f) => f.key));
    const othersData = (await lake.manifests()).some((m) => !demoKeys.has(m.source.key));
    const { manifests, failures } = await runLocalIngest(lake, planned, { ...io, print: (text) => say(`   ${text}`) });
    if (failures.length)
      throw new CommandFailed(`${plural(failures.length, 'file')} could not be ingested`, 'see the errors above');
    const refreshed = await refreshGoldAfterIngest(lake, io);
    if (refreshed.kind !== 'refreshed')
      throw new CommandFailed(refreshed.line, 'run the demo again when no other command is refreshing gold');
    const gold = refreshed.line;
    const t = totals(manifests);
    say(`   ${totalsLine(t, s)}   ${s.dim(gold)}\n\n`);

    say(
      `${s.bold('3. Quarantine summary')}, by reason ${s.dim('(rows are kept with their reasons; nothing is silently dropped)')}\n`,
    );
    say(reasonsTable(t, s, '   '));

    const engine = await lake.openQueryEngine();
    let balances;
    try {
      const file = findQueryFile('month_end_balances');
      balances = await engine.query(renderQuery(file, { from_month: '2024-01', to_month: '2024-03' }));
    } finally {
      await engine.close();
    }
    say(
      `\n${s.bold('4. Month-end balances, Q1 2024')} ${s.dim('(queries/month_end_balances.sql over gold.account_monthly_balance)')}\n`,
    );
    say(
      renderTable(
        balances.columns.map((header) => ({ header })),
        balances.rows.map((r) => balances.columns.map((c) => r[c])),
        { style: s, indent: '   ' },
      ),
    );
    const differences = othersData
      ? []
      : balanceDifferences(
          balances.rows,
          files.flatMap((f) => (f.report ? [f.report] : [])),
          Q1,
        );
    if (othersData)
      say(`   ${s.dim('(the lake holds other data too, so these are not compared with what the generator wrote)')}\n`);
    else if (differences.length === 0)
      say(
        `   ${s.green('✓')} ${s.dim('matches the balances the generator knows it wrote (duplicates resolved, bad rows excluded)')}\n`,
      );

    say(`\n${s.bold('Where things are')}\n${whereThingsAre(lake, s, '   ')}`);
    say(`\n${s.bold('Try next')}\n${tryNext(lake, s, '   ')}`);
    say(`\n${s.dim(`Done in ${formatDuration(performance.now() - started)}.`)}\n`);

    if (options.json) {
      io.print(
        renderJson({
          lake: lake.dir,
          totals: t,
          gold,
          balances: balances.rows,
          balances_verified: !othersData && differences.length === 0,
          manifests,
        }),
      );
    }
    if (differences.length) {
      throw new CommandFailed(
        `the balances differ from what the generator wrote:\n  ${differences.slice(0, 10).join('\n  ')}`,
        'this is a bug in the engine or the gold layer',
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
