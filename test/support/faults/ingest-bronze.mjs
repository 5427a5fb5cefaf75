// Entry of the Lambda-like runner (ingest-bronze.ts): registers the TypeScript loader, as cli/lake.mjs does,
// so the runner needs no build and resolves nothing from the working directory.
import { register } from 'tsx/esm/api';

register();
await import('./ingest-bronze.ts');
