import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { renderDataDictionary } from '../../../engine/contract/dictionary.ts';
import { loadContracts } from '../../../engine/contract/load.ts';

describe('data dictionary', () => {
  it('docs/data-dictionary.md is generated from the contracts and up to date (run `npm run docs`)', () => {
    const root = resolve(import.meta.dirname, '../../..');
    const expected = renderDataDictionary(loadContracts(), root);
    expect(readFileSync(resolve(root, 'docs/data-dictionary.md'), 'utf8')).toBe(expected);
    expect(expected).toContain('| `amount` | decimal(18,2) | yes | `amount`, `TransactionAmount` |');
  });
});
