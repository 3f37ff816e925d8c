/**
 * npm run bench:scale-out — one, two and four `usher serve` processes on one PostgreSQL server take
 * a burst of signed BOOKING_CREATED webhooks together (issue 19): a 20-room clinic, the webhooks
 * spread over the processes, one in ten delivered twice (to another process, as Cal.com's several
 * subscriptions do). Measured: how fast the burst is acknowledged, and how long until every event
 * is decided (room chosen, location job written) by the processes' workers together. Then checked:
 * each booking stored once, one room decision and at most one location job per booking, no room
 * double-booked. Beside the rates: the CPU the Usher processes and PostgreSQL used per event, and how
 * busy the machine's cores were, from the burst's start until every event was decided — where the
 * limit is. BENCH_EVENTS (default 20,000), BENCH_PROCESSES (default "1,2,4").
 *
 * BENCH_PROCESS_CPU=<cores> (e.g. 0.25; root only) holds each Usher process to that share of a core
 * (bench/cpu-quota.ts), as if each ran on a small machine of its own, and leaves PostgreSQL and the
 * load generator the rest: on a machine with fewer cores than processes, that is what shows whether
 * the processes' work adds up until the database is the limit, rather than only that they take CPU
 * from each other. The table then also says how much of each period the processes were held back at
 * their quota (near 100 %: Usher is the limit) and how many cores PostgreSQL used meanwhile.
 *
 * Before the burst each process handles BENCH_WARMUP (1,000) webhooks of later days alone, and they
 * are decided: processes that have run a while, as in production, whose code V8 has optimised.
 *
 * BENCH_BASELINE=<dir of another Usher checkout, npm-installed> runs each count of processes with that
 * code too, right after this code's, on a database of its own.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signBody } from '../src/cal/verify-signature.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { openPostgres, type Db } from '../src/store/db.ts';
import { FakeCal, okResponder } from '../test/fake-cal.ts';
import { benchServer, machineCpuMs, processCpuMs, serverCpuMs } from './bench-store.ts';
import { CpuQuota } from './cpu-quota.ts';
import { BENCH_SECRET, postWebhook, serveUsher, stopUsher } from './usher-process.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2,4').split(',').map(Number);
const CONNECTIONS = 32;
/** Webhooks each process handles alone before the burst (BENCH_WARMUP), on days after the burst's. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const PROCESS_CPU = process.env.BENCH_PROCESS_CPU ? Number(process.env.BENCH_PROCESS_CPU) : undefined;
const root = fileURLToPath(new URL('..', import.meta.url));
const DAY = 86_400_000;

/** Bookings over 60 days from tomorrow, 08:00–18:00 in 30-minute slots, at most 17 at once for 20 rooms. */
function bodies(n: number, from: { id: number; day: number } = { id: 700_000, day: 1 }): { body: string; signature: string }[] {
  const day0 = Math.ceil(Date.now() / DAY) * DAY + from.day * DAY;
  return Array.from({ length: n }, (_, i) => {
    const start = new Date(day0 + (i % 60) * DAY + (8 * 60 + (Math.floor(i / 60) % 20) * 30) * 60_000);
    // Bookings at the same time have different doctors.
    const doctor = Math.floor(i / 1200) % 40;
    const b = sampleBooking({
      id: from.id + i,
      start,
      end: new Date(start.getTime() + 30 * 60_000),
      organizer: { id: 100 + doctor, name: 'Dr Bench', email: `dr${doctor}@clinic.example`, username: 'dr', timeZone: 'Europe/London' },
    });
    const body = envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date());
    return { body, signature: signBody(body, BENCH_SECRET) };
  });
}

/** Posts every body (and a tenth of them again, to the next process) with a fixed number in flight. */
async function burst(urls: string[], items: { body: string; signature: string }[]): Promise<{ seconds: number; failed: number }> {
  const sends = [...items.map((item, i) => ({ item, to: i % urls.length }))];
  for (let i = 0; i < items.length; i += 10) sends.push({ item: items[i]!, to: (i + 1) % urls.length });
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < sends.length) {
        const { item, to } = sends[next++]!;
        if ((await postWebhook(urls[to]!, item.body, item.signature)) >= 300) failed++;
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, failed };
}

async function count(db: Db, sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
}

/** Waits until every stored event is decided, by whichever process's worker. */
async function untilDecided(db: Db): Promise<void> {
  while ((await count(db, `select count(*) as n from inbox_events where state in ('pending', 'retry')`)) > 0)
    await new Promise((r) => setTimeout(r, 250));
}

async function run(
  code: { name: string; root: string },
  processes: number,
  items: { body: string; signature: string }[],
  warmups: { body: string; signature: string }[],
  cal: FakeCal,
  config: string,
): Promise<string> {
  const server = await benchServer();
  try {
    const fresh = await server.fresh();
    await fresh.close();
    const url = server.url.replace(/\/usher$/, `/bench_${process.pid}_0`);
    const dir = mkdtempSync(join(tmpdir(), 'usher-scale-'));
    const usher = [];
    const quotas: CpuQuota[] = [];
    const db = await openPostgres(url);
    try {
      for (let i = 0; i < processes; i++) {
        const u = await serveUsher(code.root, cal.url, {
          USHER_CONFIG: config,
          DATABASE_URL: url,
          USHER_DATA_DIR: join(dir, `unused-${i}`),
        });
        usher.push(u);
      }
      // Each process warmed up alone with webhooks of other days, as a process that has run a while
      // is: a short burst split over four processes otherwise ran a larger share of each process's
      // events before V8 had optimised the code, and measured that as a cost of scale-out.
      for (const [i, u] of usher.entries()) await burst([u.url], warmups.slice(i * WARMUP, (i + 1) * WARMUP));
      await untilDecided(db);
      const before = {
        stored: await count(db, 'select count(*) as n from inbox_events'),
        withRoom: await count(db, 'select count(*) as n from room_assignments where room is not null'),
      };
      for (const [i, u] of usher.entries()) {
        if (PROCESS_CPU === undefined) continue;
        // Warmed up at full speed, then held to the quota for the burst.
        const quota = CpuQuota.create(`usher-bench-${process.pid}-${i}`, PROCESS_CPU);
        if (quota instanceof Error) throw quota;
        quotas.push(quota);
        quota.add(u.child.pid!);
      }
      const throttled0 = quotas.map((q) => q.throttled());
      const cpu0 = {
        usher: usher.reduce((sum, u) => sum + processCpuMs(u.child.pid!), 0),
        server: serverCpuMs(server.dataDir),
        machine: machineCpuMs(),
      };
      const t0 = performance.now();
      const sent = await burst(
        usher.map((u) => u.url),
        items,
      );
      await untilDecided(db);
      const drained = (performance.now() - t0) / 1000;
      // Read once, while the processes still run (reading `ps` every poll cost a tenth of a core).
      const machine = machineCpuMs();
      // Of the 100-ms periods each process ran in, the share that ended with it held back at its quota.
      const held = quotas.map((q, i) => {
        const now = q.throttled();
        return { periods: now.periods - throttled0[i]!.periods, throttled: now.throttledPeriods - throttled0[i]!.throttledPeriods };
      });
      const cpu = {
        usher: usher.reduce((sum, u) => sum + processCpuMs(u.child.pid!), 0) - cpu0.usher,
        server: serverCpuMs(server.dataDir) - cpu0.server,
        busy: (machine.busy - cpu0.machine.busy) / (machine.all - cpu0.machine.all),
        heldBack:
          held.reduce((sum, h) => sum + h.throttled, 0) /
          Math.max(
            1,
            held.reduce((sum, h) => sum + h.periods, 0),
          ),
      };
      const stored = (await count(db, 'select count(*) as n from inbox_events')) - before.stored;
      const done = (await count(db, `select count(*) as n from inbox_events where state = 'done'`)) - before.stored;
      const twiceDecided = await count(
        db,
        `select count(*) as n from (select booking_uid from decisions where kind = 'room' and outcome in ('assigned', 'unassigned')
           group by booking_uid having count(*) > 1) t`,
      );
      const twiceJobs = await count(
        db,
        `select count(*) as n from (select booking_uid from jobs where kind = 'cal.location' group by booking_uid having count(*) > 1) t`,
      );
      const withRoom = (await count(db, 'select count(*) as n from room_assignments where room is not null')) - before.withRoom;
      const perSecond = (x: number) => Math.round(EVENTS / x);
      const perEvent = (ms: number) => (ms / EVENTS).toFixed(2);
      const cores = (ms: number) => (ms / 1000 / drained).toFixed(2);
      const quotaColumns =
        PROCESS_CPU === undefined ? '' : ` ${Math.round(cpu.heldBack * 100)} % | ${cores(cpu.usher)} | ${cores(cpu.server)} |`;
      return `| ${code.name} | ${processes} | ${perSecond(sent.seconds)} | ${sent.failed} | ${drained.toFixed(1)} | ${perSecond(drained)} | ${perEvent(cpu.usher)} | ${perEvent(cpu.server)} | ${Math.round(cpu.busy * 100)} % |${quotaColumns} ${stored} | ${done} | ${withRoom} | ${twiceDecided} | ${twiceJobs} |`;
    } finally {
      await db.close();
      await Promise.all(usher.map((u) => stopUsher(u.child)));
      for (const quota of quotas) quota.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await server.stop();
  }
}

const cal = await new FakeCal().start();
cal.responder = okResponder;
const dir = mkdtempSync(join(tmpdir(), 'usher-scale-config-'));
chmodSync(dir, 0o755);
const rooms = Array.from({ length: 20 }, (_, i) => `  - { name: "R${i + 1}", floor: ${i % 4}, building: "Main", cleaningMinutes: 0 }`);
const config = join(dir, 'usher.config.yaml');
writeFileSync(config, `timeZone: Europe/London\nreconciler: { intervalSeconds: 0 }\nrooms:\n${rooms.join('\n')}\n`);
const items = bodies(EVENTS);
const warmups = bodies(WARMUP * Math.max(...PROCESSES), { id: 500_000, day: 70 });
const quotaSaid = PROCESS_CPU === undefined ? '' : `, each Usher process held to ${PROCESS_CPU} of a core`;
console.log(
  `${EVENTS} BOOKING_CREATED webhooks (+${Math.ceil(EVENTS / 10)} delivered twice), 20 rooms, ${CONNECTIONS} in flight, each process warmed up with ${WARMUP} of its own first${quotaSaid}:`,
);
const quotaHeads = PROCESS_CPU === undefined ? [] : ['periods held back at the quota', 'Usher cores used', 'PostgreSQL cores used'];
const heads = [
  'code',
  'processes',
  'acknowledged/s',
  'non-2xx',
  'burst decided after (s)',
  'decided/s',
  'Usher CPU ms/event',
  'PostgreSQL CPU ms/event',
  'machine busy',
  ...quotaHeads,
  'events stored',
  'done',
  'bookings with a room',
  'booked twice',
  'location jobs twice',
];
console.log(`| ${heads.join(' | ')} |`);
console.log(`|${heads.map(() => '---|').join('')}`);
try {
  // Each line as soon as it is measured: a run of four processes takes minutes.
  const codes = [{ name: 'this code', root }];
  if (process.env.BENCH_BASELINE) codes.push({ name: `baseline ${process.env.BENCH_BASELINE}`, root: process.env.BENCH_BASELINE });
  for (const n of PROCESSES) for (const code of codes) console.log(await run(code, n, items, warmups, cal, config));
} finally {
  await cal.stop();
  rmSync(dir, { recursive: true, force: true });
}
