/** Maintenance edits a manifest only over exactly the one it read: another writer's change is never undone. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import { editSilverRecord, RecordKeptChangingError } from '../../../engine/maintenance/files.ts';
import { withOverrides } from '../../support/store-faults.ts';

interface Counter {
  by: string[];
}

const KEY = '_manifests/transactions/a.json';

describe('editSilverRecord', () => {
  let root: string;
  let store: LocalObjectStore;
  const read = async (): Promise<Counter> =>
    JSON.parse(Buffer.from((await store.getBytes('silver', KEY)) as Uint8Array).toString('utf8')) as Counter;
  const add = (who: string) => (now: Counter | undefined) => ({ by: [...(now?.by ?? []), who] });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'edit-record-'));
    store = new LocalObjectStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('creates a missing record only if it is still missing, and leaves one the edit declines', async () => {
    expect(await editSilverRecord(store, KEY, add('first'))).toEqual({ by: ['first'] });
    expect(await editSilverRecord<Counter>(store, KEY, () => undefined)).toEqual({ by: ['first'] });
    expect(await read()).toEqual({ by: ['first'] });
  });

  it('a change landing between its read and its write is read again and kept, for a missing record too', async () => {
    let interfered = 0;
    // Fault injection: another writer puts the record right before each of this edit's first two writes.
    const racing = withOverrides(store, {
      putBytes: async (...args: Parameters<LocalObjectStore['putBytes']>) => {
        if (interfered < 2) {
          interfered += 1;
          const now = await store.getBytes('silver', KEY);
          const others = now ? (JSON.parse(Buffer.from(now).toString('utf8')) as Counter).by : [];
          await store.putBytes('silver', KEY, JSON.stringify({ by: [...others, `other-${interfered}`] }));
        }
        return store.putBytes(...args);
      },
    });
    expect(await editSilverRecord(racing, KEY, add('mine'))).toEqual({ by: ['other-1', 'other-2', 'mine'] });
    expect(await read()).toEqual({ by: ['other-1', 'other-2', 'mine'] });
  });

  it('gives up with a clear error, writing nothing over the other writer, when the record keeps changing', async () => {
    await store.putBytes('silver', KEY, JSON.stringify({ by: ['start'] }));
    let n = 0;
    const always = withOverrides(store, {
      putBytes: async (...args: Parameters<LocalObjectStore['putBytes']>) => {
        n += 1;
        await store.putBytes('silver', KEY, JSON.stringify({ by: [`other-${n}`] }));
        return store.putBytes(...args);
      },
    });
    const error = await editSilverRecord(always, KEY, add('mine'), 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordKeptChangingError);
    expect((error as Error).message).toMatch(
      /silver\/_manifests\/transactions\/a\.json .*3 times.*run the operation again/,
    );
    expect(await read()).toEqual({ by: ['other-3'] });
  });
});
