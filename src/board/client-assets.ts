import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface Asset {
  body: string;
  etag: string;
  type: string;
}

const clientDir = fileURLToPath(new URL('./client/', import.meta.url));

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

/**
 * The page's script, bundled in memory the first time it is asked for: the board is written in
 * TypeScript with Preact, and nobody has to run a build by hand (`npm start` serves it). esbuild is
 * already here for tsx; bundling takes ~100 ms once per process.
 */
let bundled: Promise<{ script: Asset; style: Asset }> | undefined;

export function boardAssets(): Promise<{ script: Asset; style: Asset }> {
  bundled ??= (async () => {
    const [result, css] = await Promise.all([
      build({
        entryPoints: [`${clientDir}main.tsx`],
        bundle: true,
        write: false,
        format: 'esm',
        target: 'es2022',
        minify: true,
        jsx: 'automatic',
        jsxImportSource: 'preact',
        legalComments: 'none',
        logLevel: 'silent',
      }),
      readFile(`${clientDir}board.css`, 'utf8'),
    ]);
    return { script: asset(result.outputFiles[0]!.text, 'text/javascript; charset=utf-8'), style: asset(css, 'text/css; charset=utf-8') };
  })();
  bundled.catch(() => {
    bundled = undefined;
  });
  return bundled;
}
