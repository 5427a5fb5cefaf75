/** `lake status --aws`: the deployed lake's unfinished maintenance (interrupted erasures and compactions, leases). */
import { unfinishedMaintenance } from '../../engine/index.ts';
import type { Io } from '../io.ts';
import { loadLakeContracts } from '../local/lake.ts';
import { maintenanceAttention, renderMaintenanceAttention } from '../maintenance-status.ts';
import type { AwsMode, JsonOptions } from '../options.ts';
import { renderJson } from '../ui/output.ts';
import { stackFlags } from './maintenance.ts';
import { openAwsSession } from './session.ts';

export async function statusOnAws(mode: AwsMode, options: JsonOptions, io: Io): Promise<void> {
  const contracts = loadLakeContracts();
  const session = await openAwsSession(mode);
  try {
    const found = await unfinishedMaintenance(session.store, contracts.names());
    const items = maintenanceAttention(found, stackFlags(mode));
    if (options.json) {
      io.print(renderJson({ stack: mode.stack, unfinished_maintenance: items }));
      return;
    }
    const s = io.style;
    io.print(`${s.bold('Lake')} AWS stack ${mode.stack}\n`);
    if (items.length) io.print(renderMaintenanceAttention(items, s).join(''));
    else io.print(`\nNo unfinished maintenance: no erasure or compaction stopped part-way, no lease is held.\n`);
    io.print(
      s.dim(
        '\nIngests, alarms and freshness: the stack\'s CloudWatch dashboard; a producer\'s files: docs/runbook.md, "A producer asks what happened to its files".\n',
      ),
    );
  } finally {
    session.clients.destroy();
  }
}
