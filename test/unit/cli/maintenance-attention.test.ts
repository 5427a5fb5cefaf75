/** `lake status`'s unfinished maintenance: a local lease whose process is gone reads as interrupted, with the command that takes it over. */
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { maintenanceAttention } from '../../../cli/maintenance-status.ts';
import type { MaintenanceLease, UnfinishedMaintenance } from '../../../engine/index.ts';

const lease = (id: string, pid: number): MaintenanceLease => ({
  lease_version: 1,
  lease_id: id,
  dataset: 'transactions',
  operation: 'compact',
  holder: 'me@here (lake compact)',
  acquired_at: '2026-12-01T10:00:00.000Z',
  expires_at: '2999-01-01T00:00:00.000Z',
  owner: { pid, host: 'here', process_started_at: '2026-12-01T09:59:00.000Z' },
});

describe('maintenanceAttention', () => {
  const found = (l: MaintenanceLease): UnfinishedMaintenance[] => [
    { kind: 'lease', dataset: 'transactions', lease: l, stale: false },
    {
      kind: 'compaction',
      dataset: 'transactions',
      compaction_id: 'c1',
      partition: 'transactions/year=2024/month=01/',
      started_at: '2026-12-01T10:00:01.000Z',
      inputs: 3,
      record_key: '_maintenance/compactions/transactions/c1.json',
    },
  ];

  it('a lease of a live holder is running, and so is the compaction under it', () => {
    const items = maintenanceAttention(
      found(lease('L1', 11)),
      ' --lake x',
      () => false,
      () => false,
    );
    expect(items.map((i) => [i.state, i.resume])).toEqual([
      ['running', ''],
      ['running', ''],
    ]);
  });

  it('a lease whose holder process is gone is interrupted: the next compact takes it over and finishes the compaction', () => {
    const items = maintenanceAttention(
      found(lease('L2', 22)),
      ' --lake x',
      () => false,
      (l) => l.owner?.pid === 22,
    );
    expect(items.map((i) => [i.state, i.resume])).toEqual([
      ['interrupted', 'npx lake compact --dataset transactions --lake x'],
      ['interrupted', 'npx lake compact --dataset transactions --lake x'],
    ]);
    expect(items[0]?.what).toContain('whose process 22 is gone');
  });
});
