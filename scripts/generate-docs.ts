/** `npm run docs`: regenerates docs/data-dictionary.md from the dataset contracts. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadContracts, renderDataDictionary } from '../engine/contract/index.ts';

const root = resolve(import.meta.dirname, '..');
writeFileSync(resolve(root, 'docs/data-dictionary.md'), renderDataDictionary(loadContracts(), root));
console.log('wrote docs/data-dictionary.md');
