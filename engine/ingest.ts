// PLACEHOLDER while the engine is being written (lead engineer is writing it now). Signature is final.
import type { ContractRegistry } from './contract/load.ts';
import type { Manifest, SourceRef } from './manifest.ts';
import type { Catalog, ObjectStore } from './ports.ts';

export interface IngestOptions {
  contracts: ContractRegistry;
  store: ObjectStore;
  catalog: Catalog;
  /** Scratch directory for spooling input and staging output (Lambda: /tmp). @default os.tmpdir() */
  workDir?: string;
  /** DuckDB memory limit. @default '192MB' */
  memoryLimit?: string;
  /** Salt for PII `hash` columns. @default '' */
  piiSalt?: string;
}

/** Ingests one bronze object: silver Parquet + quarantine + manifest, partitions registered. Data problems never throw. */
export async function ingestObject(_source: SourceRef, _body: AsyncIterable<Uint8Array>, _options: IngestOptions): Promise<Manifest> {
  throw new Error('engine not implemented yet');
}
