import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadContracts } from '../../engine/index.ts';
import { renderOperationsGuide } from '../../scripts/docs/operations-guide.ts';
import { synthProdTemplate, type CfnResource } from '../../scripts/docs/synth-template.ts';

const root = resolve(import.meta.dirname, '../..');
let resources: Record<string, CfnResource>;
let expected: string;

beforeAll(() => {
  resources = synthProdTemplate(root);
  expected = renderOperationsGuide({ repoRoot: root, contracts: loadContracts(), resources });
});

describe('docs/operations-guide.md', () => {
  it('is what `npm run docs` generates from the code and the prose source (run it after a change)', () => {
    expect(readFileSync(resolve(root, 'docs/operations-guide.md'), 'utf8')).toBe(expected);
  });

  it('lists every alarm of the synthesized prod template, each with a runbook section', () => {
    const names = Object.values(resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => String(r.Properties?.AlarmName));
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const name of names)
      expect(expected).toMatch(new RegExp(`\\| \`${name}\` \\|[^\\n]*\\]\\(runbook\\.md#[a-z0-9-]+\\) \\|`));
  });

  it('follows the seed template: its numbered sections, mermaid C4 diagrams, an ERD of every dataset', () => {
    for (const section of [
      '1. System Overview',
      '2. System Architecture (C4 Model)',
      '2.3. Technology Stack',
      '3.1. Entity-Relationship Diagram',
      '3.3. Data Dictionary',
      '4. Communication Patterns',
      '5. Data Processing Pipelines',
      '6. Data Storage & Lifecycle',
      '7. Data Governance & Security',
      '8. Observability & Data Quality',
      '9. Deployment & Operations',
      '10. Runbooks & SOPs',
      '11. Glossary',
    ]) {
      expect(expected).toContain(`## ${section}`);
    }
    expect(expected).not.toContain('{{generated:');
    expect(expected.match(/```mermaid/g)?.length).toBeGreaterThanOrEqual(5);
    for (const name of loadContracts().names()) {
      expect(expected).toContain(`SILVER_${name.toUpperCase()} {`);
      expect(expected).toContain(`QUARANTINE_${name.toUpperCase()} {`);
    }
    expect(expected).toContain('string contract_version');
  });
});
