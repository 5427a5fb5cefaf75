/**
 * Trino as the stand-in for Athena engine v3 (which is built on Trino): the Hive connector on a Glue
 * metastore and S3, both at the moto endpoint, so it reads the tables the CDK template defines and the
 * files the bundled function wrote. Trino 476 needs Java ≥ 24 (the machine's Temurin 25); the server core
 * and the Hive plugin come from Maven Central into `.cache/trino/` on first use (~450 MB, seconds here).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { freePort, PROJECT_ROOT } from './moto-server.ts';

export const TRINO_VERSION = '476';
/** Athena's name for the Glue Data Catalog. */
export const ATHENA_CATALOG = 'awsdatacatalog';
const CACHE = join(PROJECT_ROOT, '.cache', 'trino');
const MAVEN = 'https://repo1.maven.org/maven2/io/trino';
const JAVA_HOMES = [process.env.TRINO_JAVA_HOME, '/usr/lib/jvm/temurin-25-jdk-amd64'].filter((h): h is string =>
  Boolean(h),
);

/** The JDK Trino can run on, or why there is none. */
export function trinoJavaHome(): { home?: string; reason?: string } {
  for (const home of JAVA_HOMES) {
    const probe = spawnSync(join(home, 'bin', 'java'), ['-version'], { encoding: 'utf8' });
    const major = Number(/version "(\d+)/.exec(probe.stderr ?? '')?.[1] ?? 0);
    if (probe.status === 0 && major >= 24) return { home };
  }
  return {
    reason: `Trino ${TRINO_VERSION} needs Java 24 or newer; none found at ${JAVA_HOMES.join(', ')} (set TRINO_JAVA_HOME)`,
  };
}

async function download(url: string, target: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`download ${url}: HTTP ${response.status}`);
  const partial = `${target}.part`;
  await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(partial));
  renameSync(partial, target);
}

/** The unpacked server with the Hive plugin, downloaded and unpacked once. */
export async function ensureTrino(log: (line: string) => void = () => {}): Promise<string> {
  const server = join(CACHE, TRINO_VERSION, `trino-server-core-${TRINO_VERSION}`);
  const hivePlugin = join(server, 'plugin', 'hive');
  const ready = join(server, '.medallion-ready');
  if (existsSync(ready)) return server;
  mkdirSync(CACHE, { recursive: true });
  const core = join(CACHE, `trino-server-core-${TRINO_VERSION}.tar.gz`);
  const hive = join(CACHE, `trino-hive-${TRINO_VERSION}.zip`);
  const t0 = Date.now();
  if (!existsSync(core))
    await download(`${MAVEN}/trino-server-core/${TRINO_VERSION}/trino-server-core-${TRINO_VERSION}.tar.gz`, core);
  if (!existsSync(hive)) await download(`${MAVEN}/trino-hive/${TRINO_VERSION}/trino-hive-${TRINO_VERSION}.zip`, hive);
  mkdirSync(join(CACHE, TRINO_VERSION), { recursive: true });
  const untar = spawnSync('tar', ['-xzf', core, '-C', join(CACHE, TRINO_VERSION)], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`unpacking ${core}: ${untar.stderr}`);
  const unzipDir = join(CACHE, TRINO_VERSION, 'hive-plugin');
  const unzip = spawnSync('python3', ['-m', 'zipfile', '-e', hive, unzipDir], { encoding: 'utf8' });
  if (unzip.status !== 0) throw new Error(`unpacking ${hive}: ${unzip.stderr}`);
  mkdirSync(hivePlugin, { recursive: true });
  const pluginDir = join(unzipDir, `trino-hive-${TRINO_VERSION}`);
  for (const jar of readdirSync(pluginDir)) await copyFile(join(pluginDir, jar), join(hivePlugin, jar));
  rmSync(unzipDir, { recursive: true, force: true });
  writeFileSync(ready, TRINO_VERSION);
  rmSync(core, { force: true });
  rmSync(hive, { force: true });
  log(
    `Trino ${TRINO_VERSION} (server core + Hive plugin) fetched and unpacked in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return server;
}

export interface RunningTrino {
  url: string;
  stop(): void;
  /** The server's log, for failures. */
  logPath: string;
}

export interface TrinoOptions {
  serverDir: string;
  javaHome: string;
  motoEndpoint: string;
  region: string;
  accountId: string;
}

/** Starts a one-node Trino whose `awsdatacatalog` catalog is the lake's Glue catalog and S3 buckets in moto. */
export async function startTrino(options: TrinoOptions, timeoutMs = 120_000): Promise<RunningTrino> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'trino-'));
  const etc = join(dir, 'etc');
  mkdirSync(join(etc, 'catalog'), { recursive: true });
  const properties = (entries: Record<string, string | number | boolean>): string =>
    `${Object.entries(entries)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`;
  writeFileSync(
    join(etc, 'node.properties'),
    properties({ 'node.environment': 'test', 'node.id': 'medallion-it', 'node.data-dir': join(dir, 'data') }),
  );
  writeFileSync(
    join(etc, 'jvm.config'),
    ['-server', '-Xmx2G', '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError', '-Djdk.attach.allowAttachSelf=true'].join(
      '\n',
    ) + '\n',
  );
  writeFileSync(
    join(etc, 'config.properties'),
    properties({
      coordinator: true,
      'node-scheduler.include-coordinator': true,
      'http-server.http.port': port,
      'discovery.uri': `http://127.0.0.1:${port}`,
      'query.max-memory': '1GB',
      'query.max-memory-per-node': '1GB',
    }),
  );
  writeFileSync(
    // Named as Athena names the Glue catalog, so views written for Athena (`awsdatacatalog.<db>.<table>`) resolve.
    join(etc, 'catalog', `${ATHENA_CATALOG}.properties`),
    properties({
      'connector.name': 'hive',
      'hive.metastore': 'glue',
      'hive.metastore.glue.region': options.region,
      'hive.metastore.glue.endpoint-url': options.motoEndpoint,
      'hive.metastore.glue.aws-access-key': options.accountId,
      'hive.metastore.glue.aws-secret-key': 'moto',
      // moto ignores Glue's partition segments: with several, every partition would come back several times.
      'hive.metastore.glue.partitions-segments': 1,
      'hive.table-statistics-enabled': false,
      // The lake's tables are external (their files are the lake's); the test writes gold through one.
      'hive.non-managed-table-writes-enabled': true,
      'hive.collect-column-statistics-on-write': false,
      'fs.native-s3.enabled': true,
      's3.endpoint': options.motoEndpoint,
      's3.region': options.region,
      's3.path-style-access': true,
      's3.aws-access-key': options.accountId,
      's3.aws-secret-key': 'moto',
    }),
  );
  const logPath = join(dir, 'server.log');
  const out = createWriteStream(logPath);
  const child: ChildProcess = spawn(join(options.serverDir, 'bin', 'launcher'), ['run', `--etc-dir=${etc}`], {
    env: {
      ...process.env,
      JAVA_HOME: options.javaHome,
      PATH: `${join(options.javaHome, 'bin')}:${process.env.PATH ?? ''}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Trino exited with ${child.exitCode}; see ${logPath}`);
    const info = await fetch(`${url}/v1/info`)
      .then((r) => (r.ok ? (r.json() as Promise<{ starting: boolean }>) : undefined))
      .catch(() => undefined);
    // Started is not ready: on a busy machine the node registers as a worker a while later (NO_NODES_AVAILABLE).
    if (
      info &&
      !info.starting &&
      (await runStatement(url, 'SELECT 1', ATHENA_CATALOG).then(
        () => true,
        () => false,
      ))
    )
      return { url, stop, logPath };
    await new Promise((r) => setTimeout(r, 500));
  }
  stop();
  throw new Error(`Trino did not start within ${timeoutMs / 1000} s`);
}

export interface TrinoResult {
  columns: string[];
  rows: unknown[][];
}

interface StatementResponse {
  nextUri?: string;
  columns?: Array<{ name: string }>;
  data?: unknown[][];
  error?: { message: string; errorName: string };
}

/**
 * Runs one statement, retrying a read a few times when Trino fails it for reasons outside the SQL: on a
 * loaded 2-core machine the single-threaded emulator behind its Glue and S3 clients can time out. Each retry
 * is logged with its cause. Writes are never retried (`attempts: 1`).
 */
export async function trinoQuery(
  url: string,
  sql: string,
  options: { catalog?: string; attempts?: number } = {},
): Promise<TrinoResult> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await runStatement(url, sql, options.catalog ?? ATHENA_CATALOG);
    } catch (e) {
      const message = (e as Error).message;
      const syntaxOrSemantics =
        /SYNTAX_ERROR|TABLE_NOT_FOUND|COLUMN_NOT_FOUND|TYPE_MISMATCH|FUNCTION_NOT_FOUND|NOT_SUPPORTED|MISSING_/.test(
          message,
        );
      if (attempt >= attempts || syntaxOrSemantics) throw e;
      console.warn(`[trino] attempt ${attempt} failed, retrying: ${message.split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

/** One statement through Trino's client protocol, following `nextUri` to the end. */
async function runStatement(url: string, sql: string, catalog: string): Promise<TrinoResult> {
  const headers = { 'X-Trino-User': 'medallion-it', 'X-Trino-Catalog': catalog };
  let response = (await (
    await fetch(`${url}/v1/statement`, { method: 'POST', headers, body: sql })
  ).json()) as StatementResponse;
  const result: TrinoResult = { columns: [], rows: [] };
  for (;;) {
    if (response.error) throw new Error(`Trino ${response.error.errorName}: ${response.error.message}`);
    if (response.columns) result.columns = response.columns.map((c) => c.name);
    if (response.data) result.rows.push(...response.data);
    if (!response.nextUri) return result;
    response = (await (await fetch(response.nextUri, { headers })).json()) as StatementResponse;
  }
}
