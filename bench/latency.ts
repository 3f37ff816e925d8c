/**
 * npm run bench:latency — from a signed BOOKING_REQUESTED webhook to the /confirm Usher sends
 * Cal.com for it (docs/benchmarks.md): `usher serve` in its own process on the embedded store, a
 * gate that approves, and a local stand-in for Cal.com that notes when each call arrives. 200
 * requests one at a time, then 20 at once (10 rounds); then two `usher serve` processes on one
 * PostgreSQL server, webhooks into the first, so the call may be made by either. All of it with
 * the stand-in answering at once, then again answering each call after 100 ms (answerTimes).
 *
 * BENCH_BASELINE=<dir of another Usher checkout, npm-installed> runs the same against that code in
 * the same run (docs/benchmarks.md: the PGlite version before the embedded server).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signBody } from '../src/cal/verify-signature.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { FakeCal, okResponder } from '../test/fake-cal.ts';
import { benchServer } from './bench-store.ts';
import { BENCH_SECRET, postWebhook, serveUsher, stopUsher } from './usher-process.ts';

const SECRET = BENCH_SECRET;
const here = fileURLToPath(new URL('..', import.meta.url));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const cal = await new FakeCal().start();
/**
 * How long the stand-in takes to answer each call. At once, the figures are Usher's own time; a
 * remote Cal.com takes longer, and while one call waits for its answer the calls behind it wait
 * too unless the outbox runs several at once (worker.jobsAtOnce). 100 ms is a guess at a nearby
 * server, not a measurement of Cal.com's. BENCH_CAL_ANSWER_MS=0,100 by default.
 */
const answerTimes = (process.env.BENCH_CAL_ANSWER_MS ?? '0,100').split(',').map(Number);
let answerMs = 0;
const arrived = new Map<string, (at: number) => void>();
cal.responder = (req) => {
  const m = /^\/v2\/bookings\/([^/]+)\/confirm$/.exec(req.path);
  if (m) arrived.get(decodeURIComponent(m[1]!))?.(performance.now());
  return { ...okResponder(req), delayMs: answerMs };
};

const serve = (root: string, env: Record<string, string>) => serveUsher(root, cal.url, env);
const stop = stopUsher;

let n = 0;
/** A webhook as Cal.com would send it, built and signed before it is timed. */
function webhook(): { uid: string; body: string; signature: string } {
  const start = new Date(Date.now() + 7 * 86_400_000 + n * 3_600_000);
  const b = sampleBooking({
    id: 50_000 + n++,
    eventTypeId: 9,
    requiresConfirmation: true,
    status: 'PENDING',
    start,
    end: new Date(start.getTime() + 1_800_000),
  });
  const body = envelopeBody('BOOKING_REQUESTED', bookingPayload(b, 'BOOKING_REQUESTED'), new Date());
  return { uid: b.uid, body, signature: signBody(body, SECRET) };
}

/**
 * Sends a webhook and waits for its /confirm at the stand-in: the time from sending to arrival.
 * Twenty at once are built first and then sent: built one after another as they are sent, the
 * first would be timed while the load generator builds the other nineteen before its request
 * leaves (~10 ms on this machine, measured with timestamps on both sides, docs/benchmarks.md).
 */
async function one(url: string, { uid, body, signature } = webhook()): Promise<number> {
  const seen = new Promise<number>((resolve) => arrived.set(uid, resolve));
  const t0 = performance.now();
  const status = await postWebhook(url, body, signature);
  if (status >= 300) throw new Error(`webhook answered ${status}`);
  const at = await Promise.race([
    seen,
    new Promise<number>((_, reject) =>
      setTimeout(
        () =>
          reject(
            new Error(
              `no confirm for ${uid} in 8 s; Cal.com saw ${JSON.stringify(cal.requests.slice(-3).map((r) => `${r.method} ${r.path}`))}`,
            ),
          ),
        8_000,
      ),
    ),
  ]);
  arrived.delete(uid);
  return at - t0;
}

async function measure(label: string, url: string): Promise<string> {
  for (let i = 0; i < 10; i++) await one(url); // warm-up
  const single: number[] = [];
  for (let i = 0; i < 200; i++) single.push(await one(url));
  const together: number[] = [];
  for (let round = 0; round < 10; round++) {
    const webhooks = Array.from({ length: 20 }, webhook);
    together.push(...(await Promise.all(webhooks.map((w) => one(url, w)))));
  }
  const f = (x: number) => x.toFixed(0);
  return `| ${label} | ${f(pct(single, 50))} | ${f(pct(single, 99))} | ${f(pct(together, 50))} | ${f(pct(together, 99))} |`;
}

const lines: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'usher-latency-'));
chmodSync(dir, 0o755);
// The stand-in Cal.com has no rate limit; Usher's own budget (120 calls a minute) would otherwise
// hold the 400 calls of this run, which is latency of another kind.
writeFileSync(
  join(dir, 'usher.config.yaml'),
  'eventTypes:\n  "9": { title: Physio, gate: { creditCost: 0, requireMembership: false } }\nreconciler: { intervalSeconds: 0 }\ncal: { rateLimit: { requestsPerWindow: 100000 } }\n',
);
const common = { USHER_CONFIG: join(dir, 'usher.config.yaml') };
const targets: [string, string][] = [['this Usher', here]];
if (process.env.BENCH_BASELINE) targets.push([`baseline (${process.env.BENCH_BASELINE})`, process.env.BENCH_BASELINE]);
try {
  for (const [name, root, ms] of answerTimes.flatMap((ms) =>
    targets.map(([name, root]) => [`${name}, Cal.com answers in ${ms} ms`, root, ms] as const),
  )) {
    answerMs = ms;
    const single = await serve(root, { ...common, USHER_DATA_DIR: join(dir, `data-${lines.length}`) });
    try {
      lines.push(await measure(`${name}, embedded store, one process`, single.url));
    } finally {
      await stop(single.child);
    }
    const pgServer = await benchServer();
    try {
      const db = await pgServer.fresh();
      await db.close();
      const url = pgServer.url.replace(/\/usher$/, `/bench_${process.pid}_0`);
      const a = await serve(root, { ...common, DATABASE_URL: url, USHER_DATA_DIR: join(dir, 'unused-a') });
      const b = await serve(root, { ...common, DATABASE_URL: url, USHER_DATA_DIR: join(dir, 'unused-b') });
      try {
        lines.push(await measure(`${name}, two processes on one PostgreSQL`, a.url));
      } finally {
        await stop(a.child);
        await stop(b.child);
      }
    } finally {
      await pgServer.stop();
    }
  }
} finally {
  await cal.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log('webhook → /confirm at Cal.com, ms (200 one at a time; 10 rounds of 20 at once):');
console.log('| target | p50 one at a time | p99 one at a time | p50 20 at once | p99 20 at once |');
console.log('|---|---|---|---|---|');
for (const l of lines) console.log(l);
