/** Silver's lineage columns as constant columns, in silver's order: what every silver file of a run carries. */
import type { RunStamp } from '../stamp.ts';
import type { ConstantColumn } from './constant-chunk.ts';

export function lineageColumns(stamp: RunStamp): ConstantColumn[] {
  return [
    { name: 'source_key', type: 'string', value: stamp.key },
    { name: 'source_version', type: 'string', value: stamp.version },
    { name: 'ingest_run_id', type: 'string', value: stamp.runId },
    { name: 'ingested_at', type: 'timestamp_ms', value: stamp.ingestedAt },
    { name: 'contract_version', type: 'string', value: stamp.contractVersion },
  ];
}
