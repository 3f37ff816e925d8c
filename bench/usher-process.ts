import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../test/serve-process.ts';

export const BENCH_SECRET = 'bench-secret-0123456789';
export const BENCH_TOKEN = 'bench-admin-token-0123456789';

/**
 * `usher serve` of the checkout at `root` in its own process, as a user starts it, on a free port;
 * resolves once /readyz answers, with how long that took. `env` adds to (or overrides) the
 * benchmark's defaults; without `calUrl` Usher has no Cal.com to call. BENCH_CPU_PROFILE=<dir>: the
 * process writes a CPU profile of its whole run there when it stops.
 */
export async function serveUsher(
  root: string,
  calUrl: string | undefined,
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess; readyMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...cpuProfileArgs(), join(root, 'bin/usher.mjs'), 'serve'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      CAL_WEBHOOK_SECRET: BENCH_SECRET,
      USHER_ADMIN_TOKEN: BENCH_TOKEN,
      ...(calUrl ? { CAL_API_URL: calUrl, CAL_API_KEY: 'cal_bench' } : {}),
      LOG_LEVEL: process.env.BENCH_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 3000; i++) {
    if (child.exitCode !== null) throw new Error('usher serve exited');
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child, readyMs: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('usher serve never became ready');
}

/** BENCH_CPU_PROFILE=<dir>: Node's flags for a process to write a CPU profile of its whole run there on exit. */
export function cpuProfileArgs(): string[] {
  return process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [];
}

export async function stopUsher(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
}

/** Kept-alive connections to the Usher processes a benchmark posts to. */
const webhookAgent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Posts a signed webhook to Usher as Cal.com would; resolves with the answer's status once it is
 * read. Node's own HTTP client, not fetch: the load generator shares the machine's two cores with
 * Usher and PostgreSQL, and fetch (undici's, Node 20) took 0.45–0.78 ms of CPU per request where
 * http.request takes 0.09–0.19 (20 at once to a bare server, 2,000 requests; docs/benchmarks.md).
 */
export function postWebhook(url: string, body: string, signature: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/webhooks/cal`,
      {
        method: 'POST',
        agent: webhookAgent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-cal-signature-256': signature },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
