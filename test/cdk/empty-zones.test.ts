/**
 * Contracts that give a zone no table (no transactions dataset: no gold table) still synthesize valid IAM:
 * `s3:prefix` conditions are never empty lists (IAM refuses them at deploy), and list nothing of the empty zone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { NO_TABLES_PREFIX } from '../../lib/catalog/lake-catalog.ts';
import { removeSynthOutputs, skipBuiltinTemplateValidation, synthLake } from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

describe('a lake whose contracts give a zone no table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medallion-no-gold-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    removeSynthOutputs();
  });

  it('renders every s3:prefix condition with at least one prefix; the empty zone lists only a prefix no table has', () => {
    writeFileSync(
      join(dir, 'customers.json'),
      JSON.stringify({ name: 'customers', version: '1', columns: [{ name: 'id', type: 'string', required: true }] }),
    );
    const { template } = synthLake({
      context: { stage: 'dev', analystPrincipals: 'arn:aws:iam::123456789012:role/Analyst' },
      overrides: { lake: { contractsDir: dir } },
    });
    const prefixes = [...JSON.stringify(template.toJSON()).matchAll(/"s3:prefix":(\[[^\]]*\]|"[^"]*")/g)].map(
      (m) => JSON.parse(m[1] as string) as string[] | string,
    );
    expect(prefixes.length).toBeGreaterThan(0);
    for (const p of prefixes) expect(Array.isArray(p) ? p.length : 1).toBeGreaterThan(0);
    expect(prefixes).toContainEqual([NO_TABLES_PREFIX]);
  });
});
