/**
 * Preload for a child process (`node --import <this file>`, e.g. the `lake` CLI in AWS mode): records every AWS
 * SDK call the process makes (test/support/integration/iam-recorder.ts) and writes them as JSON to `IAM_RECORD_FILE` on exit.
 * Loaded by Node's own TypeScript type stripping, before the CLI registers tsx: erasable syntax only.
 */
import { writeFileSync } from 'node:fs';
import { Recorder } from './iam-recorder.ts';

const file = process.env.IAM_RECORD_FILE;
if (file) {
  const recorder = new Recorder(process.env.IAM_RECORD_CALLER ?? 'cli').install();
  process.on('exit', () => writeFileSync(file, JSON.stringify(recorder.calls)));
}
