/**
 * `npm run docs`: regenerates docs/data-dictionary.md from the dataset contracts, and docs/operations-guide.md
 * from scripts/docs/operations-guide.src.md and the code (contracts, stages, the synthesized prod template).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadContracts, renderDataDictionary } from '../engine/contract/index.ts';
import { renderOperationsGuide } from './docs/operations-guide.ts';
import { synthProdTemplate } from './docs/synth-template.ts';

const root = resolve(import.meta.dirname, '..');
const contracts = loadContracts();
writeFileSync(resolve(root, 'docs/data-dictionary.md'), renderDataDictionary(contracts, root));
console.log('wrote docs/data-dictionary.md');
writeFileSync(
  resolve(root, 'docs/operations-guide.md'),
  renderOperationsGuide({ repoRoot: root, contracts, resources: synthProdTemplate(root) }),
);
console.log('wrote docs/operations-guide.md');
