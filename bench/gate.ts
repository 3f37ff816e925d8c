/**
 * npm run bench:gate — BOOKING_REQUESTED decided by the gate through the store: the worker claims the
 * stored event, records the booking, locks the member's credits, reads the member, the booking's
 * hold and gate record, the member's bookings in the limit's week and their spendable credits,
 * holds a credit, writes the gate record, the confirm job and the decision, and commits — on the
 * embedded PostgreSQL server with Usher's production settings (fsync on). A club of 1,000 members
 * (5 credits each, at most 3 sessions a week) with 4,000 requests already decided over four weeks.
 * Timed: 300 requests one at a time (a batch of one, as a webhook arriving alone), then 2,000 in the
 * worker's backlog batches of 32 (events/s). Baselines in the same run: the same requests of an event
 * type the gate does not check (the booking recorded, nothing decided), and a transaction of one
 * insert. `npm run bench:alternate -- gate <other checkout>` compares two versions of the code;
 * BENCH_PROFILE=1 lists the statements of the batches with their time.
 */
import { loadConfig } from '../src/config.ts';
import { importMembers } from '../src/gate/gate-operations.ts';
import { gateEventHandler } from '../src/gate/gate-handler.ts';
import { gateBatchHooks } from '../src/gate/gate-batch.ts';
import { bookingBatchHooks, recordBookingState } from '../src/jobs/handle-event.ts';
import type { Worker } from '../src/jobs/worker.ts';
import { operationDeps } from '../src/operations/local-operations.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import type { Db } from '../src/store/db.ts';
import { benchServer, benchWorker, oneInsertTransactions, percentile, printProfile, profiled, storeCreatedEvents } from './bench-store.ts';

const DAY = 86_400_000;
const start0 = Date.UTC(2027, 0, 4, 0, 0, 0); // a Monday
const MEMBERS = 1000;
const MEASURED = Number(process.env.BENCH_MEASURED ?? 300);
const BACKLOG = Number(process.env.BENCH_EVENTS ?? 2000);

const YAML = `timeZone: Europe/London
eventTypes:
  "9": { title: Physio, gate: { creditCost: 1, maxBookingsPerMember: { week: 3 } } }
  "10": { title: Open gym }
`;

let next = 0;
/** n requests of event type `eventTypeId` by the club's members over four weeks, 08:00–18:00 on weekdays. */
function requests(n: number, eventTypeId: number): { uid: string; body: string }[] {
  return Array.from({ length: n }, () => {
    const i = next++;
    const start = new Date(start0 + ((Math.floor(i / MEMBERS) * 3 + i) % 20) * 1.4 * DAY + (8 * 60 + ((i * 7919) % 20) * 30) * 60_000);
    const b = sampleBooking({
      id: 700_000 + i,
      eventTypeId,
      requiresConfirmation: true,
      status: 'PENDING',
      start,
      end: new Date(start.getTime() + 30 * 60_000),
      attendee: { name: 'Member', email: `member${(i * 31) % MEMBERS}@club.example`, timeZone: 'Europe/London' },
    });
    return { uid: b.uid, body: envelopeBody('BOOKING_REQUESTED', bookingPayload(b, 'BOOKING_REQUESTED'), new Date(start0 - DAY)) };
  });
}

async function run(db: Db, eventTypeId: number) {
  const result = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'bench-admin-token-0123', USHER_CONFIG: '/nonexistent' },
    { yamlText: YAML },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  const { gate } = operationDeps(result.config);
  const now = new Date(start0 - DAY);
  await importMembers(
    db,
    Array.from({ length: MEMBERS }, (_, i) => ({ line: i + 1, email: `member${i}@club.example`, credits: 5 })),
    'bench',
    now,
  );
  const worker = (batchSize: number, on = db) =>
    benchWorker(
      on,
      now,
      { eventHandlers: [recordBookingState, gateEventHandler(gate)], batchHooks: [bookingBatchHooks, gateBatchHooks] },
      batchSize,
    );
  const drain = async (w: Worker) => {
    while (await w.runInboxOnce()) {
      // until nothing is pending
    }
  };
  // The club's month so far, decided in batches (not timed).
  await storeCreatedEvents(db, requests(4000, eventTypeId), now, 'BOOKING_REQUESTED');
  await drain(worker(32));
  // One at a time.
  await storeCreatedEvents(db, requests(MEASURED, eventTypeId), now, 'BOOKING_REQUESTED');
  const alone = worker(1);
  const times: number[] = [];
  for (;;) {
    const t = performance.now();
    if (!(await alone.runInboxOnce())) break;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  // A backlog.
  await storeCreatedEvents(db, requests(BACKLOG, eventTypeId), now, 'BOOKING_REQUESTED');
  const t = performance.now();
  await drain(worker(32, profiled(db)));
  if (process.env.BENCH_PROFILE) printProfile(eventTypeId === 9 ? 'gated, batches of 32' : 'ungated, batches of 32');
  const perSecond = BACKLOG / ((performance.now() - t) / 1000);
  const decided = await db.query<{ outcome: string; n: number }>(
    'select outcome, count(*)::int as n from gate_decisions group by outcome order by outcome',
  );
  return {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    perSecond,
    decided: decided.rows.map((r) => `${r.n} ${r.outcome}`).join(', ') || 'none',
  };
}

const server = await benchServer();
try {
  const times = await oneInsertTransactions(await server.fresh(), MEASURED);
  const floor = { p50: percentile(times, 50), p99: percentile(times, 99) };
  const ungated = await run(await server.fresh(), 10);
  const gated = await run(await server.fresh(), 9);
  const ms = (x: number) => x.toFixed(2);
  console.log(`BOOKING_REQUESTED through the store: ${MEASURED} one at a time (ms), then ${BACKLOG} in batches of 32:`);
  console.log('| requests | p50 one at a time | p99 one at a time | events/s in batches of 32 | gate decisions |');
  console.log('|---|---|---|---|---|');
  console.log(`| floor: a transaction of one insert | ${ms(floor.p50)} | ${ms(floor.p99)} | — | — |`);
  console.log(
    `| baseline: an event type the gate does not check | ${ms(ungated.p50)} | ${ms(ungated.p99)} | ${ungated.perSecond.toFixed(0)} | ${ungated.decided} |`,
  );
  console.log(
    `| decided by the gate: credits, a weekly limit | ${ms(gated.p50)} | ${ms(gated.p99)} | ${gated.perSecond.toFixed(0)} | ${gated.decided} |`,
  );
} finally {
  await server.stop();
}
