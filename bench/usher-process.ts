import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../test/serve-process.ts';

export const BENCH_SECRET = 'bench-secret-0123456789';

/**
 * `usher serve` of the checkout at `root` in its own process, as a user starts it, on a free port;
 * resolves once /readyz answers. `env` adds to (or overrides) the benchmark's defaults.
 */
export async function serveUsher(root: string, calUrl: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/usher.mjs'), 'serve'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      CAL_WEBHOOK_SECRET: BENCH_SECRET,
      USHER_ADMIN_TOKEN: 'bench-admin-token-0123456789',
      CAL_API_URL: calUrl,
      CAL_API_KEY: 'cal_bench',
      LOG_LEVEL: process.env.BENCH_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error('usher serve exited');
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('usher serve never became ready');
}

export async function stopUsher(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
}
