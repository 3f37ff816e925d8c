/**
 * npm run bench:memory — what Usher costs a small server (docs/benchmarks.md): start to /readyz on
 * a fresh data dir and on a warm one; memory of `usher serve` and its PostgreSQL together (sum of
 * PSS, so pages the server's processes share are counted once) idle and after 10,000 webhooks; and
 * one CLI command beside the running server. With BENCH_BASELINE=<dir of another Usher checkout>,
 * the same for that code in the same run (its store may be in-process: then it is one process).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signBody } from '../src/cal/verify-signature.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { serverPids } from './bench-store.ts';
import { BENCH_SECRET, BENCH_TOKEN, postWebhook, serveUsher, stopUsher } from './usher-process.ts';

const SECRET = BENCH_SECRET;
const TOKEN = BENCH_TOKEN;
const here = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function memoryMb(usher: ChildProcess, dataDir: string): { usher: number; postgres: number; total: number } {
  const u = pssKb(usher.pid!) / 1024;
  const pg = serverPids(dataDir).reduce((s, p) => s + pssKb(p), 0) / 1024;
  return { usher: u, postgres: pg, total: u + pg };
}

const serve = (root: string, env: Record<string, string>) => serveUsher(root, undefined, env);
const stop = stopUsher;

async function pending(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return (
    Number(/usher_inbox_events\{state="pending"\} (\d+)/.exec(text)?.[1] ?? 0) +
    Number(/usher_inbox_events\{state="running"\} (\d+)/.exec(text)?.[1] ?? 0)
  );
}

async function send(url: string, n: number): Promise<void> {
  let i = 0;
  const base = Date.now() + 86_400_000;
  const worker = async () => {
    while (i < n) {
      const k = i++;
      const b = sampleBooking({ id: 200_000 + k, start: new Date(base + (k % 400) * 1_800_000) });
      const body = envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date());
      const status = await postWebhook(url, body, signBody(body, SECRET));
      if (status >= 300) throw new Error(`webhook answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  while ((await pending(url)) > 0) await new Promise((r) => setTimeout(r, 200));
}

function cliMs(root: string, env: Record<string, string>, args: string[]): number {
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/usher.mjs'), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`usher ${args.join(' ')}: ${r.stderr}`);
    times.push(performance.now() - t);
  }
  return median(times);
}

const dir = mkdtempSync(join(tmpdir(), 'usher-memory-'));
chmodSync(dir, 0o755);
writeFileSync(join(dir, 'usher.config.yaml'), 'reconciler: { intervalSeconds: 0 }\n');
const targets: [string, string][] = [['this Usher (embedded PostgreSQL 18)', here]];
if (process.env.BENCH_BASELINE) targets.push([`baseline ${process.env.BENCH_BASELINE}`, process.env.BENCH_BASELINE]);
const rows: string[] = [];
try {
  for (const [i, [name, root]] of targets.entries()) {
    const dataDir = join(dir, `data-${i}`);
    const env = { USHER_CONFIG: join(dir, 'usher.config.yaml'), USHER_DATA_DIR: dataDir };
    const fresh = await serve(root, env);
    await stop(fresh.child);
    const warm = await serve(root, env);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const idle = memoryMb(warm.child, dataDir);
      await send(warm.url, 10_000);
      await new Promise((r) => setTimeout(r, 2000));
      const busy = memoryMb(warm.child, dataDir);
      // The baseline's CLI went through the admin API while serve held its store: it needs the token.
      const cli = cliMs(root, { ...env, USHER_ADMIN_TOKEN: TOKEN }, ['members', 'list']);
      const f = (x: number) => x.toFixed(0);
      rows.push(
        `| ${name} | ${f(fresh.readyMs)} | ${f(warm.readyMs)} | ${f(idle.usher)} + ${f(idle.postgres)} = **${f(idle.total)}** | ${f(busy.usher)} + ${f(busy.postgres)} = **${f(busy.total)}** | ${f(cli)} |`,
      );
    } finally {
      await stop(warm.child);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  '| target | start → /readyz, fresh data dir (ms) | warm (ms) | PSS idle, Usher + PostgreSQL (MB) | PSS after 10,000 webhooks (MB) | `members list` beside serve (ms, median of 5) |',
);
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
