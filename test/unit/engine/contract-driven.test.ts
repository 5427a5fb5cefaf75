import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ContractRegistry, parseContract } from '../../../engine/contract/index.ts';
import { parquetTypes } from '../../support/duckdb-reader.ts';
import { createTestLake } from '../../support/local-lake.ts';

const sensors = parseContract(
  {
    name: 'readings',
    version: '2',
    bronzePrefix: 'readings/',
    source: { format: 'jsonl' },
    columns: [
      { name: 'reading_id', type: 'bigint', required: true, aliases: ['ReadingId'] },
      { name: 'device', type: 'string', required: true, checks: { pattern: 'dev-[0-9]{3}', maxLength: 7 } },
      { name: 'level', type: 'int', checks: { min: 0, max: 10 }, invalidReason: 'LEVEL_OUT_OF_RANGE' },
      { name: 'value', type: 'double' },
      { name: 'ok', type: 'boolean' },
      { name: 'day', type: 'date', required: true, checks: { min: '2024-01-01' } },
      { name: 'owner_email', type: 'string', pii: 'hash' },
      { name: 'owner_phone', type: 'string', pii: 'drop' },
    ],
    partitionBy: [{ name: 'day_of_month', source: 'day', transform: 'day' }],
  },
  'readings.json',
);

const line = (o: Record<string, unknown>) => JSON.stringify(o);

describe('a second dataset, driven only by its contract (JSON Lines, every type, checks, PII)', () => {
  it('types, checks, PII hashing/dropping and JSON key spellings', async () => {
    const lake = await createTestLake(new ContractRegistry([sensors]));
    const input = [
      line({
        ReadingId: 1,
        device: 'dev-001',
        level: 3,
        value: 1.5,
        ok: true,
        day: '2024-03-05',
        owner_email: 'a@x.org',
        owner_phone: '+1',
      }),
      line({ reading_id: '2', DEVICE: 'dev-002', level: '11', day: '2024-03-06' }),
      '',
      line({ reading_id: 3, device: 'device-3', day: '2023-12-31' }),
      '{"reading_id": 4, "device": "dev-004", "day": "2024-03-07", "ok": "maybe", "value": "NaN"}',
      '[1, 2, 3]',
      line({ reading_id: 5.5, device: 'dev-005', day: '2024-02-30' }),
    ].join('\n');
    const m = await lake.ingest('readings/r.jsonl', input);
    expect(m).toMatchObject({ rows_in: 6, rows_valid: 1, rows_quarantined: 5, contract_version: '2' });
    const [row] = await lake.silverRows('readings', 'reading_id');
    expect(row).toMatchObject({
      reading_id: '1',
      device: 'dev-001',
      level: 3,
      value: 1.5,
      ok: true,
      day: '2024-03-05',
      day_of_month: '05',
    });
    expect(row?.owner_email).toBe(createHash('sha256').update('a@x.org').digest('hex'));
    expect(Object.keys(row ?? {})).not.toContain('owner_phone');
    const q = await lake.quarantineRows('readings');
    expect(q.map((r) => [r.record_number, r.reasons])).toEqual([
      [2, ['LEVEL_OUT_OF_RANGE']],
      [4, ['INVALID_DAY', 'INVALID_DEVICE']],
      [5, ['INVALID_OK', 'INVALID_VALUE']],
      [6, ['MALFORMED_ROW']],
      [7, ['INVALID_DAY', 'INVALID_READING_ID']],
    ]);
    expect(q[0]?.details).toEqual(['level: 11 above maximum 10']);
    // PII never reaches quarantine in clear: present keys are replaced, malformed lines are kept as they came.
    const withPii = await lake.ingest(
      'readings/pii.jsonl',
      line({ reading_id: 9, device: 'bad', day: '2024-03-05', owner_email: 'x@y.org', owner_phone: '555' }),
    );
    expect(withPii.rows_quarantined).toBe(1);
    const redacted = (await lake.quarantineRows('readings')).find((r) => r.source_key === 'readings/pii.jsonl');
    expect(JSON.parse(String(redacted?.raw_record))).toMatchObject({
      owner_email: '<hashed PII>',
      owner_phone: '<dropped PII>',
      device: 'bad',
    });
    expect(String(redacted?.raw_record)).not.toContain('x@y.org');
    expect(q[3]?.raw_record).toBe('[1, 2, 3]');
  });

  it('counts malformed lines of both kinds under MALFORMED_ROW: not JSON, and bytes that are not UTF-8', async () => {
    const lake = await createTestLake(new ContractRegistry([sensors]));
    const good = line({ reading_id: 1, device: 'dev-001', day: '2024-03-05' });
    const m = await lake.ingest(
      'readings/mixed.jsonl',
      Buffer.concat([Buffer.from(`${good}\nnot json\n{"device": "`), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]),
    );
    expect(m).toMatchObject({ rows_in: 3, rows_valid: 1, rows_quarantined: 2, reasons: { MALFORMED_ROW: 2 } });
  });

  it('rejects a JSON Lines file whose keys never mention a required column', async () => {
    const lake = await createTestLake(new ContractRegistry([sensors]));
    const m = await lake.ingest('readings/bad.jsonl', line({ reading_id: 1, day: '2024-03-05' }));
    expect(m).toMatchObject({ status: 'rejected', reasons: { MISSING_COLUMNS: 1 } });
    expect(m.quarantine.file_detail).toContain('device');
  });
});

describe('contract features that need care', () => {
  const base = {
    version: '1',
    source: { format: 'csv' },
    columns: [
      { name: 'id', type: 'string', required: true },
      { name: 'region', type: 'string', required: true },
      { name: 'email', type: 'string', pii: 'hash', checks: { pattern: '[^@]+@[^@]+' } },
    ],
  };

  it('an identity partition only takes values that are safe as a directory name; others are quarantined', async () => {
    const contract = parseContract(
      {
        ...base,
        name: 'accounts',
        bronzePrefix: 'accounts/',
        partitionBy: [{ name: 'part', source: 'region', transform: 'identity' }],
      },
      'accounts.json',
    );
    const lake = await createTestLake(new ContractRegistry([contract]));
    const m = await lake.ingest('accounts/a.csv', 'id,region,email\n1,EU-west,a@b.c\n2,EU/R,a@b.c\n3,../x,a@b.c\n');
    expect(m).toMatchObject({ rows_valid: 1, rows_quarantined: 2, reasons: { INVALID_REGION: 2 } });
    expect(m.partitions.map((p) => p.prefix)).toEqual(['accounts/part=EU-west/']);
  });

  it('columns may bear the names the engine uses inside its SQL (is_valid, rejected, ordinal): the engine keeps its own apart', async () => {
    const contract = parseContract(
      {
        ...base,
        name: 'flags',
        bronzePrefix: 'flags/',
        columns: [
          { name: 'ordinal', type: 'bigint', required: true },
          { name: 'rejected', type: 'boolean', required: true },
          { name: 'is_valid', type: 'string' },
        ],
        partitionBy: [{ name: 'rejected_flag', source: 'rejected', transform: 'identity' }],
      },
      'flags.json',
    );
    const lake = await createTestLake(new ContractRegistry([contract]));
    const m = await lake.ingest(
      'flags/f.csv',
      'ordinal,rejected,is_valid\n7,true,x\nnine,false,y\n8,maybe,z\n9,false\n',
    );
    expect(m).toMatchObject({
      status: 'succeeded',
      rows_in: 4,
      rows_valid: 1,
      rows_quarantined: 3,
      reasons: { INVALID_ORDINAL: 1, INVALID_REJECTED: 1, MALFORMED_ROW: 1 },
    });
    expect((await lake.silverRows('flags', 'ordinal')).map((r) => [r.ordinal, r.rejected, r.is_valid])).toEqual([
      ['7', true, 'x'],
    ]);
    const quarantine = await lake.quarantineRows('flags');
    expect(quarantine.map((q) => [q.record_number, q.reasons])).toEqual([
      [2, ['INVALID_ORDINAL']],
      [3, ['INVALID_REJECTED']],
      [4, ['MALFORMED_ROW']],
    ]);
  });

  // A rejected row's payload rides in the first string column silver keeps (its files are scratch), or, for a
  // dataset without one, in a scratch column dropped from the silver footers: either way silver files hold exactly
  // the contract's columns and the lineage, and the quarantine is the same.
  it.each([
    ['in its first string column silver keeps (a hashed one)', { name: 'tag', type: 'string', pii: 'hash' }],
    ['in a scratch column when the dataset has no string column', { name: 'tag', type: 'int' }],
  ])('a rejected row carries its payload %s: silver has only the contract columns and lineage', async (_, tag) => {
    const contract = parseContract(
      {
        ...base,
        name: 'meters',
        bronzePrefix: 'meters/',
        columns: [
          { name: 'meter', type: 'bigint', required: true },
          { name: 'dropped', type: 'string', pii: 'drop' },
          tag,
          { name: 'reading', type: 'decimal(6,1)', required: true, checks: { min: 0 } },
        ],
        partitionBy: [{ name: 'meter_id', source: 'meter', transform: 'identity' }],
      },
      'meters.json',
    );
    const lake = await createTestLake(new ContractRegistry([contract]));
    const m = await lake.ingest(
      'meters/m.csv',
      'meter,dropped,tag,reading\n1,x,7,2.5\n2,y,8,-1\nthree,z,9,1\n1,w,10\n',
    );
    expect(m).toMatchObject({
      rows_in: 4,
      rows_valid: 1,
      rows_quarantined: 3,
      reasons: { INVALID_READING: 1, INVALID_METER: 1, MALFORMED_ROW: 1 },
    });
    const silver = await lake.silverRows('meters', 'meter');
    // The carrier keeps its own value in silver: the payload only ever rides in rejected rows' scratch files.
    const tagValue = tag.type === 'int' ? 7 : createHash('sha256').update('7').digest('hex');
    expect(silver.map((r) => [r.meter, r.reading, r.tag])).toEqual([['1', '2.5', tagValue]]);
    const columns = Object.keys(await parquetTypes(`${lake.root}/silver/meters/**/*.parquet`)).sort();
    expect(columns).toEqual(
      [
        'contract_version',
        'ingest_run_id',
        'ingested_at',
        'meter',
        'reading',
        'source_key',
        'source_version',
        'tag',
      ].sort(),
    );
    const quarantine = await lake.quarantineRows('meters');
    expect(quarantine.map((q) => [q.record_number, q.reasons, q.details])).toEqual([
      [2, ['INVALID_READING'], ['reading: -1 below minimum 0']],
      [3, ['INVALID_METER'], ['meter: three is not a valid bigint']],
      [4, ['MALFORMED_ROW'], expect.any(Array)],
    ]);
    expect(JSON.parse(String(quarantine[0]?.raw_record))).toMatchObject({ meter: '2', reading: '-1' });
  });

  it('PII values are redacted in quarantine details and original values (CSV)', async () => {
    const contract = parseContract({ ...base, name: 'people', bronzePrefix: 'people/' }, 'people.json');
    const lake = await createTestLake(new ContractRegistry([contract]));
    await lake.ingest('people/p.csv', 'id,region,email\n1,EU,not-an-email\n');
    const [q] = await lake.quarantineRows('people');
    expect(q?.details).toEqual(['email: <hashed PII> does not match [^@]+@[^@]+']);
    expect(JSON.parse(String(q?.raw_record))).toEqual({ id: '1', region: 'EU', email: '<hashed PII>' });
  });
});
