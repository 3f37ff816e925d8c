/**
 * npm run bench:decision — one BOOKING_CREATED decided end to end through the store (issue 19):
 * the worker claims the stored event, locks and records the booking, loads the booking's day of
 * placed stays, chooses a room, writes the assignment, the location job and the decisions, marks
 * the event done and commits — timed one event at a time (batch of one) on the embedded PostgreSQL
 * server with Usher's production settings (fsync on). A clinic of 300 rooms holding 5,000 bookings
 * over a working week; baselines in the same run: a 20-room clinic holding 334 (the same bookings
 * per room), the same events with no rooms (what every event costs before a room is chosen), and
 * two floors: the disk alone (an 8-KB write and fdatasync, as a commit's flush) and a transaction
 * of one insert, as often. On this machine a transaction's p99 lies further above its p50 the longer it
 * runs (`npm run bench:machine` shows why: two busy cores lose them for milliseconds at a time), so
 * a decision's p99 is read beside its own p50 as much as beside the floors. BENCH_PROFILE=1 lists the
 * statements with their time; BENCH_CPU_PROFILE=<file> writes a CPU profile of the measured 300-room
 * decisions.
 */
import { loadConfig } from '../src/config.ts';
import { bookingBatchHooks, recordBookingState } from '../src/jobs/handle-event.ts';
import { roomBatchHooks, roomEventHandler } from '../src/rooms/room-events.ts';
import { RoomDayCache } from '../src/rooms/room-day-cache.ts';
import { syncConfigRooms } from '../src/rooms/room-operations.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import type { Db } from '../src/store/db.ts';
import {
  benchServer,
  benchWorker,
  diskFlushes,
  oneInsertTransactions,
  percentile,
  printProfile,
  profiled,
  startCpuProfile,
  storeCreatedEvents,
} from './bench-store.ts';

const DAY = 86_400_000;
const start0 = Date.UTC(2027, 0, 4, 0, 0, 0); // a Monday
const MEASURED = Number(process.env.BENCH_MEASURED ?? 300);

function yamlFor(rooms: number): string {
  const list = Array.from(
    { length: rooms },
    (_, i) =>
      `  - { name: "R${i + 1}", floor: ${i % 6}, building: "B${i % 3}", cleaningMinutes: 10${i % 7 === 0 ? ', equipment: [ecg]' : ''} }`,
  );
  return `timeZone: Europe/London\nworker: { batchSize: 1 }\n${rooms > 0 ? `rooms:\n${list.join('\n')}\n` : ''}`;
}

/** n bookings over the five weekdays, 08:00–18:00, 30 minutes, doctors spread over the rooms' count. */
function bodies(n: number, rooms: number, seed: number): { uid: string; body: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const day = i % 5;
    const slot = Math.floor((i * 7919 + seed) % 20);
    const start = new Date(start0 + day * DAY + (8 * 60 + slot * 30) * 60_000);
    const doctor = i % Math.max(1, Math.floor(rooms / 2));
    const b = sampleBooking({
      id: seed * 100_000 + i,
      start,
      end: new Date(start.getTime() + 30 * 60_000),
      organizer: { id: 100 + doctor, name: 'Dr Bench', email: `dr${doctor}@clinic.example`, username: 'dr', timeZone: 'Europe/London' },
    });
    return { uid: b.uid, body: envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()) };
  });
}

async function run(
  rawDb: Db,
  rooms: number,
  held: number,
  kept: boolean,
): Promise<{ p50: number; p99: number; max: number; assigned: number }> {
  const result = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'bench-admin-token-0123', USHER_CONFIG: '/nonexistent' },
    { yamlText: yamlFor(rooms) },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  const config = result.config;
  const now = new Date(start0 - DAY);
  const deps = {
    settings: config.roomSettings,
    timeZone: config.timeZone,
    maxAttempts: 8,
    dayCache: kept ? new RoomDayCache() : undefined,
  };
  await syncConfigRooms(rawDb, config.rooms, deps, now);
  const worker = (db: Db, batchSize: number) =>
    benchWorker(
      db,
      now,
      { eventHandlers: [recordBookingState, roomEventHandler(deps)], batchHooks: [roomBatchHooks(deps), bookingBatchHooks] },
      batchSize,
    );
  // The clinic's week, decided in batches (not timed).
  await storeCreatedEvents(rawDb, bodies(held, rooms, 1), now);
  const loader = worker(rawDb, 8);
  while (await loader.runInboxOnce()) {
    // drain
  }
  // The measured events: one at a time, as a webhook arriving alone is.
  const db = profiled(rawDb);
  const timed = worker(db, 1);
  await storeCreatedEvents(rawDb, bodies(MEASURED, rooms, 2), now);
  const times: number[] = [];
  const profiler = rooms === 300 && kept && process.env.BENCH_CPU_PROFILE ? await startCpuProfile() : undefined;
  for (;;) {
    const t = performance.now();
    if (!(await timed.runInboxOnce())) break;
    times.push(performance.now() - t);
  }
  await profiler?.(process.env.BENCH_CPU_PROFILE!);
  const assigned = await rawDb.query<{ n: number }>(`select count(*)::int as n from room_assignments where room is not null`);
  times.sort((a, b) => a - b);
  return { ...spread(times), assigned: assigned.rows[0]!.n };
}

function spread(sorted: readonly number[]): { p50: number; p99: number; max: number } {
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}

const server = await benchServer();
try {
  const disk = spread(diskFlushes(MEASURED));
  const floor = spread(await oneInsertTransactions(await server.fresh(), MEASURED));
  const none = await run(await server.fresh(), 0, 334, true);
  const small = await run(await server.fresh(), 20, 334, true);
  if (process.env.BENCH_PROFILE) printProfile('20 rooms');
  const reread = await run(await server.fresh(), 300, 5000, false);
  if (process.env.BENCH_PROFILE) printProfile('300 rooms, the day read again for every decision');
  const large = await run(await server.fresh(), 300, 5000, true);
  if (process.env.BENCH_PROFILE) printProfile('300 rooms');
  const ms = (x: number) => x.toFixed(2);
  console.log(`one BOOKING_CREATED decided through the store, ${MEASURED} one at a time (ms):`);
  console.log('| clinic | p50 | p99 | max | bookings with a room |');
  console.log('|---|---|---|---|---|');
  console.log(`| floor: the disk alone, an 8-KB write and fdatasync | ${ms(disk.p50)} | ${ms(disk.p99)} | ${ms(disk.max)} | — |`);
  console.log(`| floor: a transaction of one insert | ${ms(floor.p50)} | ${ms(floor.p99)} | ${ms(floor.max)} | — |`);
  console.log(`| baseline: no rooms (the booking recorded, nothing to choose) | ${ms(none.p50)} | ${ms(none.p99)} | ${ms(none.max)} | — |`);
  console.log(`| baseline: 20 rooms × 334 | ${ms(small.p50)} | ${ms(small.p99)} | ${ms(small.max)} | ${small.assigned} |`);
  console.log(
    `| before: 300 rooms × 5,000, the day read for every decision | ${ms(reread.p50)} | ${ms(reread.p99)} | ${ms(reread.max)} | ${reread.assigned} |`,
  );
  console.log(`| 300 rooms × 5,000 | ${ms(large.p50)} | ${ms(large.p99)} | ${ms(large.max)} | ${large.assigned} |`);
} finally {
  await server.stop();
}
