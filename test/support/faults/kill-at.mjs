// Fault injection preload for the faults tier: `node --import ./test/support/faults/kill-at.mjs …` (the tests
// pass it in NODE_OPTIONS, so it also reaches the `lake` CLI). Plain JavaScript on purpose: it must load before
// any TypeScript loader. With no FAULT_* variable set it changes nothing.
//
// It wraps file-system operations and, when the Nth operation of a listed kind targets a path matching a
// regular expression, acts. Each action is configured by its own variables (ACTION = KILL, ENOSPC or BARRIER):
//
//   FAULT_<ACTION>_AT    regular expression tested against the target path (`/`-separated); required
//   FAULT_<ACTION>_NTH   which matching operation (1-based). @default 1
//   FAULT_<ACTION>_OPS   comma-separated operation kinds (below). @default per action
//   FAULT_<ACTION>_WHEN  `before` or `after` the operation itself, after = whether it succeeded or failed.
//                        @default after (ENOSPC: always before)
//
//   KILL     process.kill(process.pid, 'SIGKILL') at the Nth match: a crash with no cleanup of any kind.
//   ENOSPC   the Nth and every later match fail with an Error whose code is ENOSPC (a disk that stays full) —
//            until the file FAULT_ENOSPC_UNTIL names exists, when given (space freed again).
//   BARRIER  at the Nth match, write FAULT_BARRIER_DIR/<pid> and wait (other I/O continues) until the
//            directory holds FAULT_BARRIER_PARTIES entries: a rendezvous that makes several processes be in
//            the same phase at once without any timing. After FAULT_BARRIER_TIMEOUT_MS (default 60000) the
//            process exits with code 86 and says so on stderr.
//
// Operation kinds and the path each is matched on:
//   rename (destination), link (destination: a create-only put, or a handed-over scratch file linked aside),
//   writeFile, copyFile (destination), rm, unlink,
//   open (fs/promises, and fs.openSync — which readFileSync and writeFileSync call too, so they count toward an
//   `open` rule's nth), mkdtemp (the prefix) —
//   fs/promises, as imported by the engine and adapters; `write`: a chunk written through a callback-API
//   file descriptor (fs.write/writev, which fs.createWriteStream uses), matched on the path it was opened with.
// Writes DuckDB makes itself (native code) cannot be reached from here.
//
// FAULT_NO_HARD_LINKS=1 makes every fs/promises link() fail with EPERM (a file system without hard links).
//
// Every action taken is announced on stderr as `[fault] <action> <when> <op> <path>`.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const DEFAULT_OPS = {
  KILL: 'rename,writeFile,copyFile,rm,unlink',
  ENOSPC: 'writeFile,copyFile,write',
  BARRIER: 'rename,writeFile,copyFile,rm,unlink,open',
};

function readRule(action) {
  const at = process.env[`FAULT_${action}_AT`];
  if (!at) return undefined;
  const when = action === 'ENOSPC' ? 'before' : (process.env[`FAULT_${action}_WHEN`] ?? 'after');
  if (when !== 'before' && when !== 'after')
    throw new Error(`FAULT_${action}_WHEN must be before or after, got ${when}`);
  const nth = Number(process.env[`FAULT_${action}_NTH`] ?? 1);
  if (!Number.isInteger(nth) || nth < 1) throw new Error(`FAULT_${action}_NTH must be a whole number ≥ 1`);
  const ops = new Set(
    (process.env[`FAULT_${action}_OPS`] ?? DEFAULT_OPS[action])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return { action, pattern: new RegExp(at), nth, ops, when, seen: 0 };
}

const rules = ['KILL', 'ENOSPC', 'BARRIER'].map(readRule).filter((r) => r !== undefined);

function announce(text) {
  fs.writeSync(2, `[fault] ${text}\n`);
}

function toPath(p) {
  if (typeof p === 'string') return p.split('\\').join('/');
  if (p instanceof URL) return p.pathname;
  if (Buffer.isBuffer(p)) return p.toString('utf8');
  return undefined;
}

function killNow(op, when, path) {
  announce(`SIGKILL ${when} ${op} ${path}`);
  process.kill(process.pid, 'SIGKILL');
  // The signal is delivered at once; never let another line of the program run meanwhile.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

function enospc(op, path) {
  announce(`ENOSPC before ${op} ${path}`);
  const error = new Error(`ENOSPC: no space left on device, ${op} '${path}'`);
  return Object.assign(error, { code: 'ENOSPC', errno: -28, syscall: op, path });
}

/** Joins the barrier: answers a check that is true while parties are missing (the process exits on the timeout). */
function joinBarrier(op, when, path) {
  const dir = process.env.FAULT_BARRIER_DIR;
  const parties = Number(process.env.FAULT_BARRIER_PARTIES ?? 2);
  const timeoutMs = Number(process.env.FAULT_BARRIER_TIMEOUT_MS ?? 60_000);
  if (!dir) throw new Error('FAULT_BARRIER_AT needs FAULT_BARRIER_DIR');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/${process.pid}`, `${op} ${path}\n`);
  announce(`BARRIER ${when} ${op} ${path}: waiting for ${parties} parties`);
  const deadline = Date.now() + timeoutMs;
  return () => {
    const arrived = fs.readdirSync(dir).length;
    if (arrived >= parties) return false;
    if (Date.now() > deadline) {
      announce(`BARRIER timed out after ${timeoutMs} ms with ${arrived} of ${parties} parties`);
      process.exit(86);
    }
    return true;
  };
}

async function barrier(op, when, path) {
  const waiting = joinBarrier(op, when, path);
  while (waiting()) await sleep(10);
}

/** `barrier`, waiting by blocking (for a blocking call). */
function barrierSync(op, when, path) {
  const waiting = joinBarrier(op, when, path);
  while (waiting()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
}

/** A rule's action: the process killed, ENOSPC thrown, or the barrier joined (`wait`, as the call can wait). */
function fire(rule, op, moment, path, wait) {
  if (rule.action === 'KILL') killNow(op, moment, path);
  else if (rule.action === 'ENOSPC') throw enospc(op, path);
  else return wait(op, moment, path);
}

/** Counts a matching operation for every rule and returns the rules whose moment it is. */
function due(op, path) {
  if (path === undefined) return [];
  const hits = [];
  for (const rule of rules) {
    if (!rule.ops.has(op) || !rule.pattern.test(path)) continue;
    rule.seen++;
    const freed =
      rule.action === 'ENOSPC' &&
      process.env.FAULT_ENOSPC_UNTIL !== undefined &&
      fs.existsSync(process.env.FAULT_ENOSPC_UNTIL);
    if (rule.action === 'ENOSPC' ? rule.seen >= rule.nth && !freed : rule.seen === rule.nth) hits.push(rule);
  }
  return hits;
}

async function act(hits, moment, op, path) {
  for (const rule of hits) if (rule.when === moment) await fire(rule, op, moment, path, barrier);
}

/** Runs one operation with the actions due before and after it. */
async function guarded(op, path, invoke) {
  const hits = due(op, path);
  if (hits.length === 0) return invoke();
  await act(hits, 'before', op, path);
  let result;
  try {
    result = await invoke();
  } catch (error) {
    await act(hits, 'after', op, path); // `after` means whatever the outcome: a failed open of a held lock too
    throw error;
  }
  await act(hits, 'after', op, path);
  return result;
}

/** `guarded` for a blocking call: a barrier waits by blocking too. */
function guardedSync(op, path, invoke) {
  const hits = due(op, path);
  const actSync = (moment) => {
    for (const rule of hits) if (rule.when === moment) fire(rule, op, moment, path, barrierSync);
  };
  if (hits.length === 0) return invoke();
  actSync('before');
  let result;
  try {
    result = invoke();
  } catch (error) {
    actSync('after');
    throw error;
  }
  actSync('after');
  return result;
}

/** The engine's blocking opens (a silver footer rewritten in place: engine/parquet/rewrite-columns.ts) are `open` too. */
function wrapSyncOpen() {
  const openSync = fs.openSync;
  fs.openSync = function faultOpenSync(path, ...rest) {
    return guardedSync('open', toPath(path), () => openSync.call(fs, path, ...rest));
  };
}

const PROMISE_OPS = {
  rename: (args) => args[1],
  link: (args) => args[1],
  writeFile: (args) => args[0],
  copyFile: (args) => args[1],
  rm: (args) => args[0],
  unlink: (args) => args[0],
  open: (args) => args[0],
  mkdtemp: (args) => args[0],
};

function wrapPromiseApi() {
  const api = fs.promises;
  for (const [op, target] of Object.entries(PROMISE_OPS)) {
    const original = api[op];
    api[op] = function faultWrapped(...args) {
      return guarded(op, toPath(target(args)), () => original.apply(api, args));
    };
  }
}

/** fs.createWriteStream writes through the callback API on a file descriptor: remember each fd's path. */
function wrapCallbackWrites() {
  const paths = new Map();
  const open = fs.open;
  fs.open = function faultOpen(path, ...rest) {
    const callback = rest.pop();
    return open.call(fs, path, ...rest, (err, fd) => {
      if (!err) paths.set(fd, toPath(path));
      callback(err, fd);
    });
  };
  const close = fs.close;
  fs.close = function faultClose(fd, ...rest) {
    paths.delete(fd);
    return close.call(fs, fd, ...rest);
  };
  for (const name of ['write', 'writev']) {
    const original = fs[name];
    fs[name] = function faultWrite(fd, ...rest) {
      const callback = rest.pop();
      const path = paths.get(fd);
      const invoke = () =>
        new Promise((resolve, reject) =>
          original.call(fs, fd, ...rest, (err, ...results) => (err ? reject(err) : resolve(results))),
        );
      guarded('write', path, invoke).then(
        (results) => callback(null, ...results),
        (err) => callback(err),
      );
    };
  }
}

/** FAULT_NO_HARD_LINKS=1: a file system without hard links (exFAT, some SMB and FUSE mounts): link(2) fails with EPERM. */
function refuseHardLinks() {
  fs.promises.link = async function noLink(existing, target) {
    announce(`EPERM link ${toPath(target)}`);
    throw Object.assign(
      new Error(`EPERM: operation not permitted, link '${toPath(existing)}' -> '${toPath(target)}'`),
      { code: 'EPERM', errno: -1, syscall: 'link' },
    );
  };
}

if (rules.length > 0 || process.env.FAULT_NO_HARD_LINKS === '1') {
  wrapPromiseApi();
  if (rules.some((r) => r.ops.has('open'))) wrapSyncOpen();
  if (rules.some((r) => r.ops.has('write'))) wrapCallbackWrites();
  if (process.env.FAULT_NO_HARD_LINKS === '1') refuseHardLinks();
  syncBuiltinESMExports(); // ESM named imports (`import { rename } from 'node:fs/promises'`) now see the wrappers
}
