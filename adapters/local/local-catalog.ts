import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Catalog, PartitionSpec } from '../../engine/contract/index.ts';
import { withFileLock } from './file-lock.ts';
import { ownerToken } from './process-owner.ts';

export interface LocalCatalogPartition extends PartitionSpec {
  registeredAt: string;
}

interface CatalogFile {
  tables: Record<string, { partitions: Record<string, LocalCatalogPartition> }>;
}

/** The local stand-in for the Glue Data Catalog: registered partitions per dataset, in `<root>/catalog.json`. */
export class LocalCatalog implements Catalog {
  readonly file: string;

  constructor(root: string) {
    this.file = join(root, 'catalog.json');
  }

  async read(): Promise<CatalogFile> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as CatalogFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { tables: {} };
      throw e;
    }
  }

  async addPartitions(dataset: string, partitions: readonly PartitionSpec[]): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    // Read-merge-write under a lock: concurrent ingests (`lake watch` beside `lake ingest`) must not lose partitions.
    await withFileLock(
      `${this.file}.lock`,
      async () => {
        const data = await this.read();
        const table = (data.tables[dataset] ??= { partitions: {} });
        const now = new Date().toISOString();
        for (const p of partitions) {
          const id = p.values.join('/');
          table.partitions[id] ??= { ...p, registeredAt: now }; // already exists = success, as in Glue
        }
        const tmp = `${this.file}.${ownerToken()}.tmp`; // named after its writer: a crash's leftover is swept
        await writeFile(tmp, JSON.stringify(data, null, 2));
        await rename(tmp, this.file);
      },
      { waitMs: 30_000, staleMs: 60_000 },
    );
  }

  async partitions(dataset: string): Promise<LocalCatalogPartition[]> {
    const data = await this.read();
    return Object.values(data.tables[dataset]?.partitions ?? {}).sort((a, b) => a.prefix.localeCompare(b.prefix));
  }
}
