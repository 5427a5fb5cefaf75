#!/usr/bin/env node
/**
 * Moves test files from vitest to jest, in place. Idempotent: a file no longer importing 'vitest' is left
 * alone, so it can be run again after merging branches that still add vitest tests.
 *
 *   node scripts/migrate-vitest-to-jest.mjs            # convert every test/**\/*.{ts,mts} importing 'vitest'
 *   node scripts/migrate-vitest-to-jest.mjs --check    # list what would change, change nothing (exit 1 if any)
 *   node scripts/migrate-vitest-to-jest.mjs --move-support  # also gather the support dirs in test/support/ (below)
 *
 * Rewrites (TypeScript syntax tree, so strings, comments and nesting are respected):
 *   import { … } from 'vitest'         → '@jest/globals'; `vi` → `jest`; `inject` → test/support/provided.ts;
 *                                         `expect` → test/support/expect.ts when the file passes a message
 *                                         (`expect(value, 'why')`) or uses `expect.soft` / `expect.poll`
 *   describe.skipIf(c)(…) / it.skipIf   → (c ? describe.skip : describe)(…)
 *   describe.runIf(c)(…) / it.runIf     → (c ? describe : describe.skip)(…)
 *   describe.concurrent(…)              → describe(…) whose it/test calls become it.concurrent / it.concurrent.each
 *   describe.sequential(…)              → describe(…)
 *   it(name, { timeout, retry }, fn)    → it(name, fn, timeout) and `jest.retryTimes(retry)` before the statement
 *   vi.spyOn / vi.fn / vi.restoreAllMocks … → jest.*
 *   .toThrowError(…) and the other matcher aliases jest 30 dropped → .toThrow(…) …
 * Anything else vitest-only (vi.mock, vi.hoisted, onTestFinished, it.for, vitest-only matchers,
 * a `beforeAll` returning its teardown, imports from 'vitest/…') is reported with file:line and the file is
 * left unconverted; the run exits 1 so nobody mistakes a partial migration for a finished one.
 *
 * --move-support: test/<tier>/support/* and test/integration/harness/* move to test/support/<tier>/ (same
 * depth, so `import.meta.dirname`-relative paths keep working); every relative import in test/ that named a
 * moved file is rewritten, and the old paths are replaced in docs and configs.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const TEST = join(ROOT, 'test');
const args = new Set(process.argv.slice(2));
const CHECK = args.has('--check');
const MOVE_SUPPORT = args.has('--move-support');

const JEST_GLOBALS = new Set(['describe', 'it', 'test', 'expect', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach']);
const VI_TO_JEST = new Set([
  'fn',
  'spyOn',
  'restoreAllMocks',
  'clearAllMocks',
  'resetAllMocks',
  'useFakeTimers',
  'useRealTimers',
  'advanceTimersByTime',
  'advanceTimersByTimeAsync',
  'runAllTimers',
  'setSystemTime',
]);
const VITEST_ONLY_MATCHERS = new Set([
  'toHaveBeenCalledOnce',
  'toHaveBeenCalledExactlyOnceWith',
  'toBeOneOf',
  'toSatisfy',
  'toHaveBeenCalledBefore',
  'toHaveBeenCalledAfter',
  'toHaveResolved',
  'toHaveReturnedOnce',
]);
const TEST_FNS = new Set(['it', 'test']);
/** Aliases vitest keeps and jest 30 removed. */
const RENAMED_MATCHERS = new Map([
  ['toThrowError', 'toThrow'],
  ['toBeCalled', 'toHaveBeenCalled'],
  ['toBeCalledTimes', 'toHaveBeenCalledTimes'],
  ['toBeCalledWith', 'toHaveBeenCalledWith'],
  ['lastCalledWith', 'toHaveBeenLastCalledWith'],
  ['nthCalledWith', 'toHaveBeenNthCalledWith'],
  ['toReturn', 'toHaveReturned'],
  ['toReturnTimes', 'toHaveReturnedTimes'],
  ['toReturnWith', 'toHaveReturnedWith'],
  ['lastReturnedWith', 'toHaveLastReturnedWith'],
  ['nthReturnedWith', 'toHaveNthReturnedWith'],
]);

function walk(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'fixtures') walk(path, out);
    } else if (/\.(m?ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const rel = (path) => relative(ROOT, path).split(sep).join('/');

/** `./x.ts` from `fromFile` to `toFile`, in the house style (always starting with ./ or ../). */
function specifier(fromFile, toFile) {
  const r = relative(dirname(fromFile), toFile).split(sep).join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

/** Text edits of one file, applied back to front. */
class Edits {
  list = [];
  replace(start, end, text) {
    this.list.push({ start, end, text });
  }
  apply(source) {
    const sorted = [...this.list].sort((a, b) => b.start - a.start || b.end - a.end);
    let out = source;
    let limit = Infinity;
    for (const e of sorted) {
      if (e.end > limit) throw new Error(`overlapping edits at ${e.start}`);
      out = out.slice(0, e.start) + e.text + out.slice(e.end);
      limit = e.start;
    }
    return out;
  }
}

/** `describe.skipIf` → ['describe', 'skipIf'] for a property-access chain of identifiers, else undefined. */
function chain(node) {
  const names = [];
  let n = node;
  while (ts.isPropertyAccessExpression(n)) {
    names.unshift(n.name.text);
    n = n.expression;
  }
  if (!ts.isIdentifier(n)) return undefined;
  names.unshift(n.text);
  return names;
}

function convertFile(path, source) {
  const sf = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits = new Edits();
  const problems = [];
  const where = (node) => `${rel(path)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const problem = (node, what) => problems.push(`${where(node)}: ${what}`);

  const vitestImports = sf.statements.filter(
    (s) =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      /^vitest(\/|$)/.test(s.moduleSpecifier.text),
  );
  if (vitestImports.length === 0) return { changed: false };

  const imported = new Set();
  for (const decl of vitestImports) {
    if (decl.moduleSpecifier.text !== 'vitest')
      problem(decl, `import from '${decl.moduleSpecifier.text}' (convert by hand)`);
    const clause = decl.importClause;
    if (clause?.isTypeOnly || clause?.name || (clause?.namedBindings && !ts.isNamedImports(clause.namedBindings)))
      problem(decl, 'type-only, default or namespace import from vitest (convert by hand)');
    for (const el of clause?.namedBindings && ts.isNamedImports(clause.namedBindings)
      ? clause.namedBindings.elements
      : []) {
      if (el.propertyName || el.isTypeOnly) problem(el, `aliased or type import '${el.getText(sf)}' from vitest`);
      const name = el.name.text;
      if (!JEST_GLOBALS.has(name) && name !== 'vi' && name !== 'inject')
        problem(el, `'${name}' from vitest has no jest equivalent here`);
      imported.add(name);
    }
  }

  let needsJest = false;
  let messageExpect = false;
  let concurrentDepth = 0;

  function visit(node) {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const names = chain(callee);

      // expect(value, 'message') and expect.soft(…)
      if (names?.[0] === 'expect' && imported.has('expect')) {
        if ((names.length === 1 && node.arguments.length > 1) || names[1] === 'soft' || names[1] === 'poll')
          messageExpect = true;
        if (names[1] === 'element') problem(node, `expect.${names[1]} has no jest equivalent`);
      }
      if (ts.isPropertyAccessExpression(callee) && RENAMED_MATCHERS.has(callee.name.text))
        edits.replace(callee.name.getStart(sf), callee.name.getEnd(), RENAMED_MATCHERS.get(callee.name.text));
      if (ts.isPropertyAccessExpression(callee) && VITEST_ONLY_MATCHERS.has(callee.name.text))
        problem(node, `vitest-only matcher ${callee.name.text}`);
      if (
        names &&
        ['onTestFinished', 'onTestFailed', 'expectTypeOf', 'assertType'].includes(names[0]) &&
        names.length === 1
      )
        problem(node, `${names[0]} has no jest equivalent`);

      // vi.*
      if (names?.[0] === 'vi') {
        if (names.length === 2 && VI_TO_JEST.has(names[1])) {
          const viId = callee.expression;
          edits.replace(viId.getStart(sf), viId.getEnd(), 'jest');
          needsJest = true;
          // `afterEach(() => vi.restoreAllMocks())`: jest's hook types refuse a callback returning the jest object.
          if (ts.isArrowFunction(node.parent) && node.parent.body === node) {
            edits.replace(node.getStart(sf), node.getStart(sf), '{\n  ');
            edits.replace(node.getEnd(), node.getEnd(), ';\n}');
          }
        } else
          problem(
            node,
            `vi.${names.slice(1).join('.')} (convert by hand: jest.unstable_mockModule + dynamic import for vi.mock)`,
          );
      }

      // describe.skipIf(c)(…) / runIf
      if (ts.isCallExpression(callee)) {
        const inner = chain(callee.expression);
        if (
          inner &&
          inner.length === 2 &&
          ['describe', 'it', 'test'].includes(inner[0]) &&
          ['skipIf', 'runIf'].includes(inner[1])
        ) {
          const raw = callee.arguments[0].getText(sf);
          const cond = /^[\w.$]+$/.test(raw) ? raw : `(${raw})`;
          const base = inner[0];
          const text =
            inner[1] === 'skipIf' ? `(${cond} ? ${base}.skip : ${base})` : `(${cond} ? ${base} : ${base}.skip)`;
          edits.replace(callee.getStart(sf), callee.getEnd(), text);
          for (const a of node.arguments) visit(a);
          return;
        }
      }

      if (names && names[0] === 'describe' && ['concurrent', 'sequential'].includes(names[1]) && names.length === 2) {
        edits.replace(callee.getStart(sf), callee.getEnd(), 'describe');
        if (names[1] === 'concurrent') {
          concurrentDepth++;
          for (const a of node.arguments) visit(a);
          concurrentDepth--;
          return;
        }
      }
      if (names && names[0] === 'describe' && names[1] === 'concurrent' && names.length > 2)
        problem(node, `describe.${names.slice(1).join('.')}`);

      if (names && TEST_FNS.has(names[0])) {
        const modifiers = names.slice(1);
        if (
          modifiers.includes('for') ||
          modifiers.includes('extend') ||
          modifiers.includes('fails') ||
          modifiers.includes('scoped')
        )
          problem(node, `${names.join('.')} has no jest equivalent`);
        // it(name, { timeout, retry }, fn)
        const opts = node.arguments[1];
        if (opts && ts.isObjectLiteralExpression(opts) && node.arguments.length >= 3) {
          let timeout;
          for (const p of opts.properties) {
            const key = p.name && ts.isIdentifier(p.name) ? p.name.text : undefined;
            if (!ts.isPropertyAssignment(p) || !key) problem(p, 'test options object (convert by hand)');
            else if (key === 'timeout') timeout = p.initializer.getText(sf);
            else if (key === 'retry') {
              const statement = enclosingStatement(node);
              edits.replace(
                statement.getStart(sf),
                statement.getStart(sf),
                `jest.retryTimes(${p.initializer.getText(sf)});\n${indentOf(statement)}`,
              );
              needsJest = true;
            } else problem(p, `test option '${key}' (convert by hand)`);
          }
          const fn = node.arguments[2];
          edits.replace(opts.getStart(sf), fn.getStart(sf), '');
          if (timeout !== undefined && node.arguments.length === 3)
            edits.replace(fn.getEnd(), fn.getEnd(), `, ${timeout}`);
          else if (timeout !== undefined) problem(node, 'options object and a timeout argument');
        }
        if (
          concurrentDepth > 0 &&
          !modifiers.includes('concurrent') &&
          !modifiers.includes('skip') &&
          !modifiers.includes('todo')
        ) {
          const head = ts.isPropertyAccessExpression(callee) ? chainHead(callee) : callee;
          edits.replace(head.getEnd(), head.getEnd(), '.concurrent');
        }
      }

      if (
        names &&
        names.length === 1 &&
        ['beforeAll', 'beforeEach'].includes(names[0]) &&
        returnsFunction(node.arguments[0])
      )
        problem(node, `${names[0]} returning its teardown: move it to afterAll/afterEach`);
    }
    ts.forEachChild(node, visit);
  }

  function chainHead(expr) {
    let n = expr;
    while (ts.isPropertyAccessExpression(n)) n = n.expression;
    return n;
  }
  function enclosingStatement(node) {
    let n = node;
    while (n.parent && !ts.isBlock(n.parent) && !ts.isSourceFile(n.parent)) n = n.parent;
    return n;
  }
  function indentOf(node) {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
    const lineStart = sf.getPositionOfLineAndCharacter(line, 0);
    return source.slice(lineStart, node.getStart(sf)).match(/^\s*/)[0];
  }
  function returnsFunction(fn) {
    if (!fn || !(ts.isArrowFunction(fn) || ts.isFunctionExpression(fn))) return false;
    const isFn = (e) => e && (ts.isArrowFunction(e) || ts.isFunctionExpression(e));
    if (!ts.isBlock(fn.body)) return isFn(fn.body);
    return fn.body.statements.some((s) => ts.isReturnStatement(s) && isFn(s.expression));
  }

  for (const s of sf.statements) if (!vitestImports.includes(s)) visit(s);
  if (problems.length > 0) return { changed: false, problems };

  // The new imports, in place of the first vitest import.
  const globals = [...imported].filter((n) => JEST_GLOBALS.has(n) && !(n === 'expect' && messageExpect));
  if (needsJest || imported.has('vi')) globals.push('jest');
  const lines = [];
  if (globals.length)
    lines.push(
      `import { ${[...new Set(globals)].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })).join(', ')} } from '@jest/globals';`,
    );
  if (messageExpect) lines.push(`import { expect } from '${specifier(path, join(TEST, 'support', 'expect.ts'))}';`);
  if (imported.has('inject'))
    lines.push(`import { inject } from '${specifier(path, join(TEST, 'support', 'provided.ts'))}';`);
  vitestImports.forEach((decl, i) => {
    let end = decl.getEnd();
    if (i > 0 && source[end] === '\n') end++;
    edits.replace(decl.getStart(sf), end, i === 0 ? lines.join('\n') : '');
  });
  return { changed: true, text: edits.apply(source) };
}

// --- support directories ---------------------------------------------------------------------------------

/** Old directory (relative to test/) → new one. */
const SUPPORT_MOVES = [
  ['cdk/support', 'support/cdk'],
  ['e2e/support', 'support/e2e'],
  ['faults/support', 'support/faults'],
  ['integration/harness', 'support/integration'],
];

function moveSupport() {
  /** absolute old file → absolute new file */
  const moved = new Map();
  for (const [from, to] of SUPPORT_MOVES) {
    const src = join(TEST, from);
    if (!existsSync(src)) continue;
    for (const file of walk(src).concat(
      readdirSync(src)
        .map((n) => join(src, n))
        .filter((p) => statSync(p).isFile() && !/\.(m?ts|mjs)$/.test(p)),
    )) {
      moved.set(file, join(TEST, to, relative(src, file)));
    }
  }
  if (moved.size === 0) return [];
  const newOf = (p) => moved.get(p) ?? p;
  const files = walk(TEST);
  const changes = [];
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    const target = newOf(file);
    const text = source.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\2/g, (all, lead, quote, spec) => {
      const resolved = resolve(dirname(file), spec);
      const now = newOf(resolved);
      if (now === resolved && target === file) return all;
      return `${lead}${quote}${specifier(target, now)}${quote}`;
    });
    if (text !== source) changes.push(rel(file));
    if (!CHECK) writeFileSync(file, text);
  }
  if (!CHECK) {
    for (const [from, to] of moved) {
      mkdirSync(dirname(to), { recursive: true });
      execFileSync('git', ['mv', '-k', from, to], { cwd: ROOT });
      if (existsSync(from)) renameSync(from, to);
    }
    for (const [from] of SUPPORT_MOVES) {
      const dir = join(TEST, from);
      if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    }
    // Paths named in docs, configs and comments outside test/ (and test/**/*.md).
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((p) => p && /\.(md|ts|mts|mjs|cjs|js|json|ya?ml)$/.test(p) && existsSync(join(ROOT, p)));
    for (const p of tracked) {
      if (p === 'scripts/migrate-vitest-to-jest.mjs') continue;
      const abs = join(ROOT, p);
      const source = readFileSync(abs, 'utf8');
      let text = source;
      for (const [from, to] of SUPPORT_MOVES) text = text.split(`test/${from}/`).join(`test/${to}/`);
      text = text.replace(/(?<![\w/.-])harness\/(?=[\w-]+\.m?[jt]s\b)/g, 'test/support/integration/'); // short mentions in docs and comments
      if (text !== source) {
        writeFileSync(abs, text);
        changes.push(p);
      }
    }
  }
  changes.push(...[...moved].map(([a, b]) => `${rel(a)} → ${rel(b)}`));
  return changes;
}

// --- main ------------------------------------------------------------------------------------------------

const problems = [];
const converted = [];
for (const file of walk(TEST)) {
  if (file.endsWith('.mjs')) continue;
  const source = readFileSync(file, 'utf8');
  if (!/from\s+['"]vitest['"/]/.test(source)) continue;
  const result = convertFile(file, source);
  if (result.problems) problems.push(...result.problems);
  else if (result.changed) {
    converted.push(rel(file));
    if (!CHECK) writeFileSync(file, result.text);
  }
}
for (const name of ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.workspace.ts']) {
  if (existsSync(join(ROOT, name)))
    problems.push(`${name}: the vitest config is still there (jest.config.mjs replaces it)`);
}
const movedSupport = MOVE_SUPPORT ? moveSupport() : [];

console.log(
  `${CHECK ? 'would convert' : 'converted'} ${converted.length} file(s)${converted.length ? `:\n  ${converted.join('\n  ')}` : ''}`,
);
if (movedSupport.length) console.log(`support move${CHECK ? ' (would change)' : ''}:\n  ${movedSupport.join('\n  ')}`);
if (problems.length) {
  console.error(
    `\n${problems.length} thing(s) to convert by hand (those files were left as they are):\n  ${problems.join('\n  ')}`,
  );
  process.exit(1);
}
if (CHECK && (converted.length || movedSupport.length)) process.exit(1);
