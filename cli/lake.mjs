#!/usr/bin/env node
// The `lake` command (package.json "bin"): runs the CLI's bundle, dist/cli/lake.mjs, which `npm run build` makes
// from cli/main.ts (`npm ci` and `npm install` run it through "prepare"). A bundle older than a source it was
// built from still runs, with a warning: run `npm run build` after changing the TypeScript (the test tiers
// that spawn `lake` rebuild it themselves).
import { existsSync } from 'node:fs';

// Read by libuv when Node's worker pool first starts, so set before any file is read asynchronously: room for
// the spool's writes beside the DuckDB sessions' queries (engine/process-env.ts ENGINE_THREADPOOL_SIZE).
process.env.UV_THREADPOOL_SIZE ??= '16';
import { staleReason } from '../scripts/build-cli.mjs';

const bundle = new URL('../dist/cli/lake.mjs', import.meta.url);
if (existsSync(bundle)) {
  const stale = staleReason();
  if (stale) process.stderr.write(`lake: warning: the CLI bundle is out of date (${stale}); run \`npm run build\`.\n`);
  const { run } = await import(bundle.href);
  await run();
} else {
  process.stderr.write(
    'lake: the CLI is not built (dist/cli/lake.mjs is missing). Run `npm run build` in the repository (npm ci does it).\n',
  );
  process.exitCode = 1;
}
