/** The Athena query engine of the deployed lake: its analysts workgroup and Glue databases. */
import type { AthenaQueryEngine } from '../../adapters/aws/athena-query-engine.ts';
import { openAthenaQueryEngine } from '../../adapters/aws/lake-ports.ts';
import type { Io } from '../io.ts';
import type { AwsMode } from '../options.ts';
import type { Workgroup } from '../target.ts';
import { cliClientOptions } from '../../adapters/aws/client-config.ts';
import { openAwsSession } from './session.ts';

export async function openAthenaEngine(
  mode: AwsMode,
  io: Io,
  workgroup: Workgroup = 'analysts',
): Promise<AthenaQueryEngine> {
  const { stack, close } = await openAwsSession(mode);
  close();
  let lastState = '';
  return openAthenaQueryEngine(
    {
      workGroup: workgroup === 'platform' ? stack.platformWorkgroup : stack.analystsWorkgroup,
      databases: { silver: stack.silverDatabase, gold: stack.goldDatabase, quarantine: stack.quarantineDatabase },
      onState: (state, execution) => {
        if (state !== lastState && process.env.LAKE_DEBUG) io.note(`athena ${execution.QueryExecutionId}: ${state}\n`);
        lastState = state;
      },
    },
    cliClientOptions(mode.region),
  );
}
