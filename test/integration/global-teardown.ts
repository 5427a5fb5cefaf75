/** Integration tier teardown, once per run: stops what test/integration/global-setup.ts started. */
import { runTeardown } from '../support/integration/teardown.ts';

export default async function teardown(): Promise<void> {
  await runTeardown();
}
