import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface Asset {
  body: string;
  etag: string;
  type: string;
}

const clientDir = fileURLToPath(new URL('./client/', import.meta.url));
const require = createRequire(import.meta.url);

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

/**
 * The page's script, bundled in memory the first time it is asked for: the board is written in
 * TypeScript with Preact, and nobody has to run a build by hand (`npm start` serves it). esbuild is
 * already here for tsx; bundling takes ~100 ms once per process.
 */
let bundled: Promise<{ script: Asset; insights: Asset; style: Asset }> | undefined;

export function boardAssets(): Promise<{ script: Asset; insights: Asset; style: Asset }> {
  bundled ??= (async () => {
    const [result, css, chartCss, insightsCss] = await Promise.all([
      build({
        // The board, and the insights page with its charts (uPlot) in a script of its own, so the
        // board a wall screen loads all day carries none of it.
        entryPoints: { board: `${clientDir}main.tsx`, insights: `${clientDir}insights.tsx` },
        outdir: 'out',
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
      readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
      readFile(`${clientDir}insights.css`, 'utf8'),
    ]);
    const output = (name: string) => result.outputFiles.find((f) => f.path.endsWith(`/${name}.js`))!.text;
    return {
      script: asset(output('board'), 'text/javascript; charset=utf-8'),
      insights: asset(output('insights'), 'text/javascript; charset=utf-8'),
      style: asset(`${css}\n${chartCss}\n${insightsCss}`, 'text/css; charset=utf-8'),
    };
  })();
  bundled.catch(() => {
    bundled = undefined;
  });
  return bundled;
}
