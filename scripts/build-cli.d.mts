/** Types of scripts/build-cli.mjs, for the test setup that rebuilds the CLI bundle when stale. */
export declare const CLI_ENTRY: string;
export declare const CLI_BUNDLE: string;
/** Why the bundle must be rebuilt, or undefined when it is up to date. */
export declare function staleReason(): string | undefined;
/** Builds dist/cli/lake.mjs; resolves to the build time in milliseconds. */
export declare function buildCli(): Promise<number>;
