/** Ingests in flight (or abandoned) of a dataset, local or on AWS: the sources with an intent record under `_pending/<dataset>/`. */
import { plural } from './ui/format.ts';
import { PENDING_PREFIX, readSilverRecord, type ObjectStore, type PendingIngest } from '../engine/contract/index.ts';

/** Sources whose ingest has an intent record under `_pending/<dataset>/` (in flight, or abandoned). */
export async function pendingIngests(store: ObjectStore, dataset: string): Promise<string[]> {
  const sources: string[] = [];
  for await (const o of store.list('silver', `${PENDING_PREFIX}${dataset}/`)) {
    const intent = await readSilverRecord<PendingIngest>(store, o.key);
    if (intent?.hold_only) continue; // a removal's hold (engine/intent.ts): it names no keys and writes nothing
    sources.push(intent?.source.key ?? o.key);
  }
  return sources;
}

/** What an erasure says of the ingests in flight when it started: they may still write the value. */
export function inFlightNote(dataset: string, inFlight: readonly string[]): string {
  return `${plural(inFlight.length, 'ingest')} of ${dataset} ${inFlight.length === 1 ? 'was' : 'were'} in flight when the erasure started (silver/${PENDING_PREFIX}${dataset}/: ${inFlight.join(', ')}): run this erasure again once ${inFlight.length === 1 ? 'it has' : 'they have'} finished (docs/runbook.md, "Erasure requests", step 5)\n`;
}
