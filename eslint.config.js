import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The house rules: who may import whom (docs/architecture.md, "Rooms and doors").
 * - Outside `engine/`, the engine is imported only through its faces: `engine/index.ts` (the whole engine; loads
 *   DuckDB), `engine/contract/index.ts` (contracts, layout, manifests, ports: DuckDB-free) and
 *   `engine/gold/index.ts` (the generic gold machinery: DuckDB-free). Unit tests of engine internals
 *   (`test/unit/{engine,contract,gold}/`) may import the file they test.
 * - `engine/` imports no cloud SDK, CDK or Lambda types, and nothing around it.
 * - `cli/` never imports `lambdas/` (the CLI runs the engine itself; the functions run it on AWS).
 * - The storage, catalog and query SDKs (`@aws-sdk/client-s3`, `client-glue`, `client-athena`, `lib-storage`) are
 *   imported only by the adapters that implement the ports (`adapters/aws/`), the functions that build their
 *   clients (`lambdas/`) and tests: everyone else reaches S3, Glue and Athena through the ports.
 * - `lib/` (the CDK app) runs at synth: it imports no runtime code — no adapters, functions, CLI or generator,
 *   and of the engine only the DuckDB-free faces (a type-only import of `engine/index.ts` is allowed).
 * tsc checks dynamic imports' paths but not these rules, so dynamic `import()` of a deep engine file is refused too.
 */
const ENGINE_FACES = '(index|contract/index|gold/index)\\.ts$';
const deepEngine = {
  regex: `(^|/)engine/(?!${ENGINE_FACES})`,
  message: 'Import the engine through engine/index.ts, engine/contract/index.ts or engine/gold/index.ts.',
};
const cloudInEngine = [
  { regex: '^@aws-sdk/', message: 'The engine is cloud-free: AWS SDK code belongs in adapters/aws.' },
  { regex: '^aws-cdk-lib(/|$)|^constructs$', message: 'The engine is cloud-free: CDK code belongs in lib/.' },
  { regex: '^aws-lambda$', message: 'The engine is cloud-free: Lambda types belong in lambdas/.' },
  {
    regex: '(^|/)(adapters|lambdas|cli|lib|bench|generator|datasets|wiring)/',
    message: 'The engine imports nothing around it.',
  },
];
// The IAM policy simulator is AGPL: a test-only tool, never part of what the lake ships (docs/testing.md,
// "Licence of the policy simulator").
const simulatorOutsideTests = {
  regex: '^@cloud-copilot/',
  message: 'AGPL test tooling: import it only under test/ (docs/testing.md, "Licence of the policy simulator").',
};
const dataPlaneSdk = {
  regex: '^@aws-sdk/(client-s3|client-glue|client-athena|lib-storage)$',
  message:
    'S3, Glue and Athena are reached through the ports (engine/ports.ts; adapters/aws/lake-ports.ts opens them): only adapters/aws/, lambdas/ and tests import their SDK.',
};
const lambdasFromCli = { regex: '(^|/)lambdas/', message: 'The CLI does not import function code (lambdas/).' };
const runtimeFromLib = [
  {
    regex: '(^|/)(adapters|lambdas|cli|bench|generator)/',
    message: 'lib/ runs at synth: it imports no runtime code (adapters, functions, CLI, generator).',
  },
  {
    regex: '(^|/)engine/index\\.ts$',
    allowTypeImports: true,
    message: 'lib/ imports the engine through its DuckDB-free faces: engine/contract/index.ts or engine/gold/index.ts.',
  },
];

/** The rule pair for one room: static imports and dynamic `import()` with a literal path. */
function importRules(patterns) {
  if (patterns.length === 0) {
    return { '@typescript-eslint/no-restricted-imports': 'off', 'no-restricted-syntax': 'off' };
  }
  const dynamic = patterns
    .filter((p) => !p.allowTypeImports)
    .map((p) => ({
      // esquery regexes cannot hold a `/`: \x2F stands for it.
      selector: `ImportExpression[source.value=/${p.regex.replaceAll('/', '\\x2F')}/]`,
      message: p.message,
    }));
  return {
    'no-restricted-imports': 'off',
    '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
    'no-restricted-syntax': ['error', ...dynamic],
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.venv/', '.cache/', '.lake/', '.scratch/', 'dist/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['**/*.{ts,mts,js,mjs}'], rules: importRules([deepEngine, dataPlaneSdk, simulatorOutsideTests]) },
  { files: ['{adapters/aws,lambdas}/**'], rules: importRules([deepEngine, simulatorOutsideTests]) },
  { files: ['test/**'], rules: importRules([deepEngine]) },
  { files: ['engine/**'], rules: importRules([...cloudInEngine, simulatorOutsideTests]) },
  { files: ['cli/**'], rules: importRules([deepEngine, dataPlaneSdk, lambdasFromCli, simulatorOutsideTests]) },
  { files: ['lib/**'], rules: importRules([deepEngine, dataPlaneSdk, ...runtimeFromLib, simulatorOutsideTests]) },
  { files: ['test/unit/{engine,contract,gold}/**'], rules: importRules([]) },
);
