#!/usr/bin/env node
// The `lake` command (package.json "bin"). The CLI is TypeScript run through tsx, so a fresh clone needs no build.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
await run();
