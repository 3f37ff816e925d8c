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
import { BENCH_SECRET, serveUsher, stopUsher } from './usher-process.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2,4').split(',').map(Number);
const CONNECTIONS = 32;
const root = fileURLToPath(new URL('..', import.meta.url));
const DAY = 86_400_000;

/** Bookings over 60 days from tomorrow, 08:00–18:00 in 30-minute slots, at most 17 at once for 20 rooms. */
function bodies(n: number): { body: string; signature: string }[] {
  const day0 = Math.ceil(Date.now() / DAY) * DAY + DAY;
  return Array.from({ length: n }, (_, i) => {
    const start = new Date(day0 + (i % 60) * DAY + (8 * 60 + (Math.floor(i / 60) % 20) * 30) * 60_000);
    // Bookings at the same time have different doctors.
    const doctor = Math.floor(i / 1200) % 40;
    const b = sampleBooking({
      id: 700_000 + i,
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
        const res = await fetch(`${urls[to]}/webhooks/cal`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-cal-signature-256': item.signature },
          body: item.body,
        });
        await res.arrayBuffer();
        if (!res.ok) failed++;
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, failed };
}

async function count(db: Db, sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
}

async function run(processes: number, items: { body: string; signature: string }[], cal: FakeCal, config: string): Promise<string> {
  const server = await benchServer();
  try {
    const fresh = await server.fresh();
    await fresh.close();
    const url = server.url.replace(/\/usher$/, `/bench_${process.pid}_0`);
    const dir = mkdtempSync(join(tmpdir(), 'usher-scale-'));
    const usher = [];
    for (let i = 0; i < processes; i++)
      usher.push(await serveUsher(root, cal.url, { USHER_CONFIG: config, DATABASE_URL: url, USHER_DATA_DIR: join(dir, `unused-${i}`) }));
    const db = await openPostgres(url);
    try {
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
      // Until every stored event is decided, by whichever process's worker.
      let drained = 0;
      const cpu = { usher: 0, server: 0, busy: 0 };
      for (;;) {
        const open = await count(db, `select count(*) as n from inbox_events where state in ('pending', 'retry')`);
        if (open === 0) {
          drained = (performance.now() - t0) / 1000;
          // Read once, while the processes still run (reading `ps` every poll cost a tenth of a core).
          cpu.usher = usher.reduce((sum, u) => sum + processCpuMs(u.child.pid!), 0) - cpu0.usher;
          cpu.server = serverCpuMs(server.dataDir) - cpu0.server;
          const machine = machineCpuMs();
          cpu.busy = (machine.busy - cpu0.machine.busy) / (machine.all - cpu0.machine.all);
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const stored = await count(db, 'select count(*) as n from inbox_events');
      const done = await count(db, `select count(*) as n from inbox_events where state = 'done'`);
      const twiceDecided = await count(
        db,
        `select count(*) as n from (select booking_uid from decisions where kind = 'room' and outcome in ('assigned', 'unassigned')
           group by booking_uid having count(*) > 1) t`,
      );
      const twiceJobs = await count(
        db,
        `select count(*) as n from (select booking_uid from jobs where kind = 'cal.location' group by booking_uid having count(*) > 1) t`,
      );
      const withRoom = await count(db, 'select count(*) as n from room_assignments where room is not null');
      const perSecond = (x: number) => Math.round(EVENTS / x);
      const perEvent = (ms: number) => (ms / EVENTS).toFixed(2);
      return `| ${processes} | ${perSecond(sent.seconds)} | ${sent.failed} | ${drained.toFixed(1)} | ${perSecond(drained)} | ${perEvent(cpu.usher)} | ${perEvent(cpu.server)} | ${Math.round(cpu.busy * 100)} % | ${stored} | ${done} | ${withRoom} | ${twiceDecided} | ${twiceJobs} |`;
    } finally {
      await db.close();
      await Promise.all(usher.map((u) => stopUsher(u.child)));
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
console.log(`${EVENTS} BOOKING_CREATED webhooks (+${Math.ceil(EVENTS / 10)} delivered twice), 20 rooms, ${CONNECTIONS} in flight:`);
console.log(
  '| processes | acknowledged/s | non-2xx | burst decided after (s) | decided/s | Usher CPU ms/event | PostgreSQL CPU ms/event | machine busy | events stored | done | bookings with a room | booked twice | location jobs twice |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
try {
  // Each line as soon as it is measured: a run of four processes takes minutes.
  for (const n of PROCESSES) console.log(await run(n, items, cal, config));
} finally {
  await cal.stop();
  rmSync(dir, { recursive: true, force: true });
}
