// Usher runs from its TypeScript sources, with no build step to forget. Compiling them on every start
// (tsx, module by module through its loader thread) cost ~0.4 s of a CLI command's ~1 s
// (docs/benchmarks.md "The CLI compiled once"), so the sources are compiled once with esbuild — which
// tsx already brings — into node_modules/.cache/usher/, and that copy is used while none of the files
// it was built from has changed (size and modification time, checked on every start: ~150 stats).
//
// - One directory per build, named by what it was built from; `current.json` names the newest and
//   lists its inputs, and is replaced by a rename, so processes starting at once never read half a
//   build. Older builds are kept a while: a running `usher serve` may still load a chunk of its own.
// - Chunks are split at the sources' dynamic imports, so a command still loads only what it uses.
// - `import.meta.url` is rewritten to each source file's own address: the sources find files beside
//   them (migrations, the board's client, the demo's seed) and must keep finding them there.
// - Where the cache cannot be written (a read-only install), or USHER_COMPILE=0, the sources run
//   through tsx as before.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'node_modules', '.cache', 'usher');
const currentFile = join(cacheDir, 'current.json');
/** Bump when the way sources are compiled changes: older builds are then not reused. */
const RECIPE = 2;
const KEEP_BUILDS = 4;

/** What a file was when a build read it; a build is reused only while every input still matches. */
function stamp(path) {
  const s = statSync(path);
  return `${s.size}:${s.mtimeMs}`;
}

function reusable() {
  let current;
  try {
    current = JSON.parse(readFileSync(currentFile, 'utf8'));
  } catch {
    return undefined;
  }
  if (current.recipe !== RECIPE) return undefined;
  try {
    for (const [file, was] of Object.entries(current.inputs)) if (stamp(join(root, file)) !== was) return undefined;
  } catch {
    return undefined; // an input was removed
  }
  return join(cacheDir, current.build, current.entry);
}

async function build(entry) {
  const { build: esbuild, version } = await import('esbuild');
  const staging = join(cacheDir, `.staging-${process.pid}-${Date.now()}`);
  // Stamped before each file is read: a file edited while compiling then differs from its stamp at
  // the next start, which compiles again (stamped after, the stale copy would be taken as current).
  const stamped = new Map();
  const result = await esbuild({
    entryPoints: [join(root, entry)],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Packages load natively from node_modules, as they would from the sources.
    packages: 'external',
    outdir: staging,
    // ES modules whatever package.json around the cache says.
    outExtension: { '.js': '.mjs' },
    sourcemap: true,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'own-address',
        setup(b) {
          b.onLoad({ filter: /\.tsx?$/ }, async (args) => {
            stamped.set(resolve(args.path), stamp(args.path));
            return {
              contents: (await readFile(args.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
              loader: args.path.endsWith('.tsx') ? 'tsx' : 'ts',
            };
          });
        },
      },
    ],
  });
  const inputs = Object.fromEntries(
    Object.keys(result.metafile.inputs)
      .map((input) => relative(root, resolve(input)))
      .sort()
      .map((file) => [file, stamped.get(join(root, file)) ?? stamp(join(root, file))]),
  );
  const name = createHash('sha256').update(JSON.stringify({ RECIPE, version, entry, inputs })).digest('hex').slice(0, 16);
  const [output] = Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint && resolve(o.entryPoint) === join(root, entry));
  const entryOut = relative(staging, resolve(output[0]));
  try {
    renameSync(staging, join(cacheDir, name));
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process built the same sources first
  }
  const pointer = join(cacheDir, `.current-${process.pid}.json`);
  writeFileSync(pointer, JSON.stringify({ recipe: RECIPE, build: name, entry: entryOut, inputs }));
  renameSync(pointer, currentFile);
  prune(name);
  return join(cacheDir, name, entryOut);
}

function prune(keep) {
  const entries = readdirSync(cacheDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== keep)
    .map((d) => ({ name: d.name, path: join(cacheDir, d.name), at: statSync(join(cacheDir, d.name)).mtimeMs }));
  const builds = entries.filter((d) => !d.name.startsWith('.')).sort((a, b) => b.at - a.at);
  // A staging directory an hour old was left by a process that died while compiling.
  const abandoned = entries.filter((d) => d.name.startsWith('.staging-') && d.at < Date.now() - 3_600_000);
  for (const old of [...builds.slice(KEEP_BUILDS - 1), ...abandoned]) rmSync(old.path, { recursive: true, force: true });
}

/** The compiled copy this start would use, if the cache holds one that is current. */
export function compiledCopy() {
  return reusable();
}

/** Imports `entry` (a path under the project root) from its compiled copy, compiling it when needed. */
export async function importSources(entry) {
  if (process.env.USHER_COMPILE !== '0') {
    let compiled = reusable();
    if (!compiled) {
      try {
        mkdirSync(cacheDir, { recursive: true });
        compiled = await build(entry);
      } catch {
        compiled = undefined; // cannot write the cache here: run the sources through tsx
      }
    }
    if (compiled) {
      // Stack traces name the source files and lines, not the compiled chunks.
      process.setSourceMapsEnabled(true);
      return import(pathToFileURL(compiled).href);
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(join(root, entry)).href);
}
