// Counts relative imports between the top-level rooms of the repository (tests left out unless --tests), and the
// deep engine imports from outside engine/ (anything but its three faces). Usage: node scripts/import-graph.mjs [--tests]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
const root = resolve(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? '.');
const withTests = process.argv.includes('--tests');
const skip = new Set(['node_modules', 'cdk.out', '.venv', '.cache', '.lake', '.scratch', 'dist', '.git', 'docs']);
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    if (skip.has(n)) continue;
    const p = join(d, n);
    const s = statSync(p);
    if (s.isDirectory()) walk(p);
    else if (/\.(ts|mts|mjs)$/.test(n) && !n.endsWith('.d.ts')) files.push(p);
  }
};
walk(root);
const room = (p) => {
  const r = relative(root, p).split('/');
  return r.length === 1 ? '(root)' : r[0];
};
const arrows = new Map();
let deepEngine = 0;
const deepFiles = new Set();
for (const f of files) {
  const from = room(f);
  if (!withTests && from === 'test') continue;
  const src = readFileSync(f, 'utf8');
  for (const m of src.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  )) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(f), spec);
    const to = room(target);
    if (to !== from) {
      const k = `${from} -> ${to}`;
      arrows.set(k, (arrows.get(k) ?? 0) + 1);
    }
    const rel = relative(root, target);
    if (from !== 'engine' && to === 'engine' && !/^engine\/(index|[a-z-]+\/index)\.ts$/.test(rel)) {
      deepEngine++;
      deepFiles.add(rel);
    }
  }
}
const rooms = new Set();
for (const k of arrows.keys()) for (const r of k.split(' -> ')) rooms.add(r);
console.log(`rooms: ${rooms.size} (${[...rooms].sort().join(', ')})`);
console.log(
  `arrows (room pairs): ${arrows.size}, imports across rooms: ${[...arrows.values()].reduce((a, b) => a + b, 0)}`,
);
for (const [k, v] of [...arrows].sort()) console.log(`  ${k}: ${v}`);
console.log(`deep engine imports from outside engine/: ${deepEngine} statements into ${deepFiles.size} files`);
