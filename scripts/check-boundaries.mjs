#!/usr/bin/env node
// The house's layering, checked on every CI run (docs/architecture.md "Rules the checks keep"):
//
//  1. domain/ is pure: it imports only domain/ and pure libraries (dates, schemas) — no node: module,
//     no database, no HTTP, no logging.
//  2. SQL lives in store/ (and migrations): no query text anywhere else in src/.
//  3. The edges stay edges: nothing imports from cli/ or http/ but themselves and the composition
//     files at the root of src/ (main.ts, config.ts, …); board/ only by http/ and the root.
//  4. No import circles, type-only imports included (a circle is a knot a reader must untie).
//  5. No error answer written by hand: its code must come from the catalogue (src/errors.ts).
//
// Exit 1 with every violation listed; 0 and a one-line summary otherwise.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'src');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : walk(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

const files = walk(src);
const rel = (f) => relative(src, f);
const area = (f) => (rel(f).includes('/') ? rel(f).split('/')[0] : '(root)');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
// Query text: a string that starts like a SQL statement.
const SQL =
  /[`'"]\s*(select\s[\s\S]{0,200}?\sfrom\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|with\s+\w+\s+as\s*\(|create\s+(?:table|index)\s)/i;

const PURE_PACKAGES = ['date-fns', '@date-fns/tz', 'zod'];

const graph = new Map();
const faults = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('.')) deps.push(resolve(dirname(file), spec));
    else if (area(file) === 'domain' && !PURE_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`)))
      faults.push(`${rel(file)}: domain/ imports "${spec}" (it must stay pure)`);
  }
  graph.set(
    file,
    deps.filter((d) => files.includes(d)),
  );
  for (const dep of graph.get(file)) {
    const from = area(file);
    const to = area(dep);
    if (from === 'domain' && to !== 'domain') faults.push(`${rel(file)}: domain/ imports ${rel(dep)} (it must stay pure)`);
    if ((to === 'cli' || to === 'http') && from !== to && from !== '(root)')
      faults.push(`${rel(file)}: imports ${rel(dep)} (an edge; only main.ts wires it)`);
    if (to === 'board' && !['board', 'http', '(root)'].includes(from))
      faults.push(`${rel(file)}: imports ${rel(dep)} (the board is an edge)`);
  }
  // Every refusal's code is in the catalogue (src/errors.ts): written through errorBody or UsherError.
  const literal = /error:\s*\{\s*code:\s*'([A-Z_]+)'/.exec(text);
  if (literal && rel(file) !== 'errors.ts')
    faults.push(`${rel(file)}: error code ${literal[1]} written by hand (use errorBody from errors.ts)`);
  if (area(file) !== 'store' && SQL.test(text)) {
    const line = text.slice(0, text.search(SQL)).split('\n').length;
    faults.push(`${rel(file)}:${line}: SQL outside store/ (move the query into a store/ function)`);
  }
}

// Tarjan's strongly connected components: any component of more than one file is a circle.
let index = 0;
const stack = [];
const meta = new Map();
function connect(v) {
  meta.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v)) {
    if (!meta.has(w)) {
      connect(w);
      meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
    } else if (meta.get(w).onStack) meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
  }
  if (meta.get(v).low === meta.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      meta.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) faults.push(`import circle: ${component.map(rel).sort().join(' → ')}`);
  }
}
for (const file of files) if (!meta.has(file)) connect(file);

if (faults.length) {
  process.stderr.write(`import boundaries: ${faults.length} fault(s)\n${faults.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`import boundaries: ${files.length} files, domain pure, SQL only in store/, edges kept, no circles\n`);
