// npm run bench:ingest — signed Cal.com webhooks against `usher serve` on the embedded store:
// sustained webhooks/s flat out (autocannon), p50/p99 acknowledgement latency at an evenly paced
// 1,000/s (paced-load.ts) and the worker's backlog during it, and the same 1,000/s as autocannon
// sends it (each second's requests in a burst at its start, for the figures of earlier runs); the
// same against a bare fastify route as the ceiling and that route committing each body to the
// embedded server before its answer (the durable ceiling), and, with BENCH_BASELINE=<dir of another Usher
// checkout, npm-installed>, against that code in the same run.
// Results go in docs/benchmarks.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { type PacedRun, pacedLoadInThread } from './paced-load.ts';
import { benchServer } from './bench-store.ts';
import { cpuProfileArgs } from './usher-process.ts';
import { signBody } from '../src/cal/verify-signature.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';

const SECRET = 'bench-secret-0123456789';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
/** How long the fixed 1,000/s runs: the target asks whether the backlog grows over 60 s. */
const fixedSeconds = Number(process.env.BENCH_FIXED_SECONDS ?? 60);
const root = fileURLToPath(new URL('..', import.meta.url));

function makeBodies(n: number): { body: string; signature: string }[] {
  const base = new Date('2026-12-01T08:00:00Z').getTime();
  return Array.from({ length: n }, (_, i) => {
    const b = sampleBooking({ id: 100_000 + i, start: new Date(base + (i % 500) * 1_800_000) });
    const body = envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date());
    return { body, signature: signBody(body, SECRET) };
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('server exited');
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(
  url: string,
  bodies: { body: string; signature: string }[],
  options: { connections: number; rate?: number; seconds?: number },
): Promise<Run> {
  let i = 0;
  const result = await autocannon({
    url: `${url}/webhooks/cal`,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds ?? seconds,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        setupRequest: (req) => {
          const item = bodies[i++ % bodies.length]!;
          return { ...req, body: item.body, headers: { 'content-type': 'application/json', 'x-cal-signature-256': item.signature } };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

function start(cmd: string[], env: Record<string, string>, cwd = root): ChildProcess {
  return spawn(process.execPath, cmd, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Events not yet handled, read through the admin API. */
async function backlog(url: string): Promise<number> {
  return (await sample(url)).pending;
}

/**
 * From /metrics: events not yet handled, and how long Node's event loop was held up since the last
 * read (prom-client's monitorEventLoopDelay, reset at every read) — a request read meanwhile waited
 * at least that long before its handler ran.
 */
async function sample(url: string): Promise<{ pending: number; lagP99: number; lagMax: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    pending: value(/usher_inbox_events\{state="pending"\} (\d+)/),
    // Less the sampling timer's own 10 ms (prom-client's default resolution): an idle loop reads ~10.2.
    lagP99: Math.max(0, value(/^usher_nodejs_eventloop_lag_p99_seconds (\S+)$/m) * 1000 - 10),
    lagMax: Math.max(0, value(/^usher_nodejs_eventloop_lag_max_seconds (\S+)$/m) * 1000 - 10),
  };
}

/** Waits (up to a minute) until the worker has handled everything stored; what is left pending. */
async function drained(url: string): Promise<number> {
  let pending = await backlog(url);
  for (let i = 0; i < 120 && pending > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    pending = await backlog(url);
  }
  return pending;
}

// Every body distinct within a run (a repeated one would be a cheap duplicate): the warm-up's, the
// paced run's, the bursts', then the flat-out run's.
const BURST_SECONDS = 10;
const bodies = makeBodies(2_000 + fixedSeconds * 1_000 + BURST_SECONDS * 1_000 + 80_000);
const warmUp = bodies.slice(0, 2_000);
const fixedBodies = bodies.slice(2_000, 2_000 + fixedSeconds * 1_000);
const burstBodies = bodies.slice(2_000 + fixedSeconds * 1_000, 2_000 + (fixedSeconds + BURST_SECONDS) * 1_000);
const maxBodies = bodies.slice(2_000 + (fixedSeconds + BURST_SECONDS) * 1_000);
const signed = (b: { body: string; signature: string }) => ({
  body: b.body,
  headers: { 'content-type': 'application/json', 'x-cal-signature-256': b.signature },
});
const size = bodies.reduce((s, b) => s + b.body.length, 0) / bodies.length;
process.stdout.write(`payload: ${bodies.length} distinct BOOKING_CREATED bodies, ${Math.round(size)} bytes on average\n`);

const dir = mkdtempSync(join(tmpdir(), 'usher-bench-'));
chmodSync(dir, 0o755);
writeFileSync(join(dir, 'usher.config.yaml'), 'worker: { pollIntervalMs: 200 }\n');
// The durable ceiling's PostgreSQL: the embedded server with Usher's settings (fsync on).
const ceilingStore = await benchServer();
const ceilingUrl = await ceilingStore.emptyDatabase();
const targets: { name: string; root?: string; databaseUrl?: string }[] = [
  { name: 'bare fastify (ceiling)' },
  { name: 'bare fastify, each body committed first (durable ceiling)', databaseUrl: ceilingUrl },
  { name: 'usher serve, embedded PostgreSQL 18', root },
];
if (process.env.BENCH_BASELINE)
  targets.push({ name: `usher serve, baseline ${process.env.BENCH_BASELINE}`, root: process.env.BENCH_BASELINE });
const results: {
  name: string;
  max: Run;
  fixed: PacedRun;
  bursts: Run;
  backlog: number[] | undefined;
  lag?: { p99: number; max: number } | undefined;
}[] = [];
try {
  for (const [i, target] of targets.entries()) {
    const port = 3911 + i;
    const child = target.root
      ? start(
          // BENCH_CPU_PROFILE=<dir>: each Usher writes a CPU profile of its whole run there on exit.
          [...cpuProfileArgs(), 'bin/usher.mjs', 'serve'],
          {
            PORT: String(port),
            USHER_DATA_DIR: join(dir, `data-${i}`),
            USHER_CONFIG: join(dir, 'usher.config.yaml'),
            CAL_WEBHOOK_SECRET: SECRET,
            USHER_ADMIN_TOKEN: 'bench-admin-token-0123456789',
            LOG_LEVEL: 'warn',
          },
          target.root,
        )
      : start(['--import', 'tsx', 'bench/bare-server.ts'], {
          PORT: String(port),
          ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
        });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/healthz`, child);
      await load(url, warmUp, { connections: 10 }); // warm-up on bodies not used later
      // The fixed rate first, on an idle server (the warm-up's events handled first); the flat-out
      // run then leaves a backlog behind it. Does the worker keep up with 1,000/s? What is pending
      // every 10 s of the fixed run, and right after it.
      const left = target.root ? await drained(url) : 0;
      if (left > 0) process.stdout.write(`${target.name}: the warm-up's events not all handled after a minute (${left} pending)\n`);
      if (target.root) await sample(url); // the event loop's delays from here on
      const samples: Promise<{ pending: number; lagP99: number; lagMax: number }>[] = [];
      const sampler = target.root ? setInterval(() => samples.push(sample(url)), 10_000) : undefined;
      const fixed = await pacedLoadInThread(url, fixedBodies.map(signed), {
        rate: 1000,
        seconds: fixedSeconds,
        connections: 32,
        path: '/webhooks/cal',
      });
      clearInterval(sampler);
      const during = target.root ? [...(await Promise.all(samples)), await sample(url)] : undefined;
      if (target.root) await drained(url);
      const bursts = await load(url, burstBodies, { connections: 32, rate: 1000, seconds: BURST_SECONDS });
      if (target.root) await drained(url);
      const max = await load(url, maxBodies, { connections: 64 });
      results.push({
        name: target.name,
        max,
        fixed,
        bursts,
        backlog: during?.map((s) => s.pending),
        lag: during && { p99: Math.max(...during.map((s) => s.lagP99)), max: Math.max(...during.map((s) => s.lagMax)) },
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await ceilingStore.stop();
}

const line = (r: (typeof results)[number]) =>
  `| ${r.name} | ${Math.round(r.max.rps)} | ${r.max.p99} | ${ms(r.fixed.p50)} / ${ms(r.fixed.p99)} / ${ms(r.fixed.p999)} / ${ms(r.fixed.max)} | ${r.bursts.p50} / ${r.bursts.p99} | ${r.lag ? `${r.lag.p99.toFixed(1)} / ${r.lag.max.toFixed(1)}` : '—'} | ${r.backlog?.join(' → ') ?? '—'} | ${r.max.non2xx + r.fixed.non2xx + r.bursts.non2xx} | ${r.max.errors + r.fixed.errors + r.bursts.errors} |`;
function ms(x: number): string {
  return x.toFixed(1);
}
process.stdout.write(
  [
    '',
    `| target | sustained req/s (64 conns, ${seconds}s) | p99 ms at max | 1,000/s evenly paced: p50 / p99 / p99.9 / max ms | autocannon's 1,000/s (a burst each second, ${BURST_SECONDS} s): p50 / p99 ms | event loop blocked p99 / max ms at 1,000/s | pending every 10 s at 1,000/s (${fixedSeconds} s) | non-2xx | errors |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(line),
    '',
  ].join('\n'),
);
