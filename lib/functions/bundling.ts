import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { join } from 'node:path';
import { ESBUILD_TARGET } from './runtime.ts';

/**
 * Packages copied as-is into the asset's node_modules: DuckDB loads a native library, which esbuild cannot
 * bundle. The binding is the linux-x64 glibc build, so the function must run on X86_64.
 */
export const NATIVE_PACKAGES = [
  '@duckdb/node-api',
  '@duckdb/node-bindings',
  '@duckdb/node-bindings-linux-x64',
  'detect-libc',
] as const;

const NATIVE_LIBRARY = 'node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so';

// esbuild's ESM output has no `require`; the bundled CommonJS dependencies (AWS SDK, DuckDB's loader) need one.
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface IngestBundlingProps {
  /** Directory whose node_modules hold the native packages. */
  readonly projectRoot: string;
  /** Directory of the dataset contracts; its `*.json` files are copied to the asset's `contracts/`. */
  readonly contractsDir: string;
}

/**
 * esbuild (local, no Docker) to one ESM file for the functions' Node.js major (`ESBUILD_TARGET`, derived from
 * their runtime), with the AWS SDK bundled at the version the code was tested with. No network access. What
 * every function of the lake is built with.
 */
export function esmBundling(): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: ESBUILD_TARGET,
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    keepNames: true,
    sourceMap: true,
    sourcesContent: false,
    bundleAwsSDK: true,
  };
}

/** `esmBundling` with DuckDB left external and copied in after bundling, together with the contracts. */
export function ingestBundling(props: IngestBundlingProps): nodejs.BundlingOptions {
  return {
    ...esmBundling(),
    externalModules: NATIVE_PACKAGES.filter((p) => p.startsWith('@duckdb/')),
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir, outputDir) => copyCommands(props, outputDir),
    },
  };
}

function copyCommands(props: IngestBundlingProps, outputDir: string): string[] {
  const modules = (p: string) => join(props.projectRoot, 'node_modules', p);
  const nativeLibrary = join(props.projectRoot, NATIVE_LIBRARY);
  return [
    `test -f ${sh(nativeLibrary)} || { echo ${sh(`missing ${nativeLibrary}: install the linux-x64 DuckDB binding (npm install --os=linux --cpu=x64)`)} >&2; exit 1; }`,
    `mkdir -p ${sh(join(outputDir, 'node_modules', '@duckdb'))} ${sh(join(outputDir, 'contracts'))}`,
    ...NATIVE_PACKAGES.map((p) => `cp -R ${sh(modules(p))} ${sh(join(outputDir, 'node_modules', p))}`),
    `find ${sh(props.contractsDir)} -maxdepth 1 -name '*.json' -exec cp {} ${sh(join(outputDir, 'contracts'))} ';'`,
  ];
}

/** Quotes a value for a POSIX shell. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
