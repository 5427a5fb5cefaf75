#!/usr/bin/env node
// The `lake` command (package.json "bin"): runs the CLI's bundle, dist/cli/lake.mjs, which `npm run build` makes
// from cli/main.ts (`npm ci` and `npm install` run it through "prepare"). After changing the CLI's TypeScript,
// `npm run build` again (the test tiers that spawn `lake` rebuild it themselves when it is stale).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cli/lake.mjs', import.meta.url);
if (existsSync(bundle)) {
  const { run } = await import(bundle.href);
  await run();
} else {
  process.stderr.write('lake: the CLI is not built (dist/cli/lake.mjs is missing). Run `npm run build` in the repository (npm ci does it).\n');
  process.exitCode = 1;
}
