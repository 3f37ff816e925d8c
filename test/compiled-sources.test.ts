import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));

/**
 * bin/compiled-sources.mjs in a project of its own (its cache is under that project's node_modules):
 * a developer who edits a source must get the edit at the next start, never a stale copy.
 */
describe('the sources compiled once and kept while unchanged (bin/compiled-sources.mjs)', () => {
  const project = mkdtempSync(join(tmpdir(), 'usher-compiled-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));
  mkdirSync(join(project, 'bin'));
  mkdirSync(join(project, 'src', 'data'), { recursive: true });
  mkdirSync(join(project, 'node_modules'));
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
  for (const pkg of ['esbuild', '@esbuild', 'tsx', 'get-tsconfig', 'resolve-pkg-maps'])
    symlinkSync(join(repo, 'node_modules', pkg), join(project, 'node_modules', pkg));
  copyFileSync(join(repo, 'bin', 'compiled-sources.mjs'), join(project, 'bin', 'compiled-sources.mjs'));
  writeFileSync(
    join(project, 'bin', 'run.mjs'),
    "import { importSources } from './compiled-sources.mjs';\nawait importSources('src/main.ts');\n",
  );
  // A file beside the sources, found through import.meta.url as migrations and the board's client are.
  writeFileSync(join(project, 'src', 'data', 'greeting.txt'), 'hello from beside the sources');
  writeFileSync(
    join(project, 'src', 'main.ts'),
    [
      "import { readFileSync } from 'node:fs';",
      "import { word } from './word.ts';",
      "const beside: string = readFileSync(new URL('./data/greeting.txt', import.meta.url), 'utf8');",
      "const { later } = await import('./later.ts');",
      'console.log(JSON.stringify({ word, beside, later: later() }));',
    ].join('\n'),
  );
  writeFileSync(join(project, 'src', 'word.ts'), "export const word: string = 'one';\n");
  writeFileSync(join(project, 'src', 'later.ts'), "export const later = (): string => 'loaded when asked';\n");

  const start = async (env: Record<string, string> = {}) =>
    JSON.parse((await run(process.execPath, [join(project, 'bin', 'run.mjs')], { env: { PATH: process.env.PATH ?? '', ...env } })).stdout);
  const current = () => JSON.parse(readFileSync(join(project, 'node_modules', '.cache', 'usher', 'current.json'), 'utf8'));

  it('runs the compiled copy, which finds files beside its sources and loads dynamic imports', async () => {
    const out = await Promise.all([start(), start(), start()]); // three first starts at once
    for (const o of out) expect(o).toEqual({ word: 'one', beside: 'hello from beside the sources', later: 'loaded when asked' });
    expect(Object.keys(current().inputs).sort()).toEqual(['src/later.ts', 'src/main.ts', 'src/word.ts']);
  });

  it('reuses the copy while no source changed, and compiles again after an edit', async () => {
    const build = current().build;
    expect((await start()).word).toBe('one');
    expect(current().build).toBe(build);
    writeFileSync(join(project, 'src', 'word.ts'), "export const word: string = 'two, edited';\n");
    expect((await start()).word).toBe('two, edited');
    expect(current().build).not.toBe(build);
  });

  it('runs the sources through tsx when asked to (USHER_COMPILE=0)', async () => {
    const build = current().build;
    writeFileSync(join(project, 'src', 'word.ts'), "export const word: string = 'three';\n");
    expect((await start({ USHER_COMPILE: '0' })).word).toBe('three');
    expect(current().build).toBe(build);
  });
});
