/**
 * npm run bench:worker — how many BOOKING_CREATED events the worker decides per second on the
 * embedded PostgreSQL server (docs/benchmarks.md). A clinic of 20 rooms, 15 bookings per room and
 * working day over a month, every event stored in the inbox first, then drained by one worker with
 * Usher's real handlers (booking state, gate, rooms, automations). Each event ends with its room
 * chosen and its location write-back job written. Baseline in the same run: the same events with
 * no rooms configured (booking state and decision only).
 */
import { loadConfig } from '../src/config.ts';
import { automationEventHandler } from '../src/automations/automation-dispatch.ts';
import { gateBatchHooks } from '../src/gate/gate-batch.ts';
import { gateEventHandler } from '../src/gate/gate-handler.ts';
import { bookingBatchHooks, recordBookingState } from '../src/jobs/handle-event.ts';
import { Worker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { RoomDayCache } from '../src/rooms/room-day-cache.ts';
import { roomBatchHooks, roomEventHandler } from '../src/rooms/room-events.ts';
import { syncConfigRooms } from '../src/rooms/room-operations.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import type { Db } from '../src/store/db.ts';
import { benchServer, printProfile, profile, profiled, serverCpuMs, startCpuProfile, storeCreatedEvents } from './bench-store.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 6000);
const ROOMS = 20;
const DAY = 86_400_000;
const start0 = Date.UTC(2027, 0, 4, 0, 0, 0);

function yamlFor(rooms: number): string {
  if (rooms === 0) return 'timeZone: Europe/London\n';
  const list = Array.from(
    { length: rooms },
    (_, i) => `  - { name: "R${i + 1}", floor: ${i % 4}, building: "Main", cleaningMinutes: 10${i % 5 === 0 ? ', equipment: [ecg]' : ''} }`,
  );
  return `timeZone: Europe/London\nrooms:\n${list.join('\n')}\ndoctors:\n  "5": { preferredRooms: ["R1"] }\n`;
}

/** Bookings as a clinic fills them: working days from 08:00, 30 minutes + 10 of cleaning in 45-minute slots, 12 per room and day. */
function bookings(n: number): string[] {
  const perDay = ROOMS * 12;
  return Array.from({ length: n }, (_, i) => {
    const day = Math.floor(i / perDay);
    const weekday = day + 2 * Math.floor(day / 5);
    const slot = (i * 7) % 13;
    const start = new Date(start0 + weekday * DAY + (8 * 60 + slot * 45) * 60_000);
    const b = sampleBooking({
      id: 10_000 + i,
      start,
      end: new Date(start.getTime() + 30 * 60_000),
      organizer: { id: 5 + (i % 6), name: 'Dr Bench', email: `dr${i % 6}@clinic.example`, username: 'dr', timeZone: 'Europe/London' },
    });
    return JSON.stringify({ uid: b.uid, body: envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()) });
  });
}

async function run(
  rawDb: Db,
  rooms: number,
  items: string[],
): Promise<{ perSecond: number; nodeCpu: number; serverCpu: number; jobs: number; assigned: number; waiting: number }> {
  const result = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'bench-admin-token-0123', USHER_CONFIG: '/nonexistent' },
    { yamlText: yamlFor(rooms) },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  const config = result.config;
  const db = profiled(rawDb);
  profile.clear();
  const now = new Date(start0 - DAY);
  // As `usher serve` has them (operations/local-operations.ts): room choices keep their day between decisions.
  const deps = { settings: config.roomSettings, timeZone: config.timeZone, maxAttempts: 8, dayCache: new RoomDayCache() };
  await syncConfigRooms(db, config.rooms, deps, now);
  const worker = new Worker({
    db,
    clock: { now: () => now },
    log: createLogger('silent'),
    eventHandlers: [
      recordBookingState,
      gateEventHandler({ settings: config.gate, timeZone: config.timeZone, maxAttempts: 8 }),
      roomEventHandler(deps),
      automationEventHandler(config.automations, 8),
    ],
    jobHandlers: {},
    batchHooks: [roomBatchHooks(deps), bookingBatchHooks, gateBatchHooks],
    pollIntervalMs: 50,
    backoffBaseSeconds: 1,
    backoffMaxSeconds: 10,
  });
  await storeCreatedEvents(
    db,
    items.map((s) => JSON.parse(s) as { uid: string; body: string }),
    now,
  );
  const profiler = rooms > 0 && process.env.BENCH_CPU_PROFILE ? await startCpuProfile() : undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuMs(server.dataDir);
  while (await worker.runInboxOnce()) {
    // drain
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await profiler?.(process.env.BENCH_CPU_PROFILE!);
  const serverCpu = (serverCpuMs(server.dataDir) - server0) / items.length;
  if (process.env.BENCH_PROFILE) printProfile(`${rooms} rooms`);
  const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
  return {
    perSecond: items.length / seconds,
    nodeCpu: (cpu.user + cpu.system) / 1000 / items.length,
    serverCpu,
    jobs: await count(`select count(*) as n from jobs where kind = 'cal.location'`),
    assigned: await count('select count(*) as n from room_assignments where room is not null'),
    waiting: await count('select count(*) as n from room_assignments where room is null'),
  };
}

const server = await benchServer();
try {
  const items = bookings(EVENTS);
  const base = await run(await server.fresh(), 0, items);
  const rooms = await run(await server.fresh(), ROOMS, items);
  console.log(`${EVENTS} BOOKING_CREATED events, drained by one worker on the embedded PostgreSQL 18 (fsync on):`);
  console.log(`| run | events/s decided | Node CPU ms/event | PostgreSQL CPU ms/event | location jobs | assigned | waiting |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const [name, r] of [
    ['baseline: no rooms', base],
    [`${ROOMS} rooms`, rooms],
  ] as const)
    console.log(
      `| ${name} | ${r.perSecond.toFixed(0)} | ${r.nodeCpu.toFixed(2)} | ${r.serverCpu.toFixed(2)} | ${r.jobs} | ${r.assigned} | ${r.waiting} |`,
    );
} finally {
  await server.stop();
}
