import { RoomDayCache } from '../rooms/room-day-cache.ts';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { roomBatchHooks, roomEventHandler } from '../rooms/room-events.ts';
import { syncConfigRooms } from '../rooms/room-operations.ts';
import type { RoomDeps } from '../rooms/room-planning.ts';
import { sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { listBookings } from '../store/bookings.ts';
import { listAssignments } from '../store/rooms.ts';
import { FakeClock } from '../../test/clock.ts';
import { EventPipeline, gateDeps } from '../../test/event-pipeline.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';

const YAML = `
timeZone: Europe/London
rooms:
  - { name: "1A", floor: 1, cleaningMinutes: 10 }
  - { name: "1B", floor: 1, cleaningMinutes: 10 }
`;

/** One booking's life as Cal.com tells it, in Cal.com's order. */
const stories = [
  'created',
  'created_cancelled',
  'requested_confirmed',
  'requested_rejected',
  'rescheduled',
  'rescheduled_then_cancelled',
] as const;
type Story = (typeof stories)[number];

interface Delivery {
  trigger: string;
  booking: PayloadBooking;
  extra?: Record<string, unknown>;
}

/** Each story on its own day, so rooms are never scarce and every booking that should have one gets one. */
function deliveries(story: Story, n: number): Delivery[] {
  const start = new Date(Date.UTC(2026, 11, 2 + n, 9, 0));
  const b = sampleBooking({ uid: `b${n}`, id: 1000 + n, start, end: new Date(start.getTime() + 1_800_000) });
  const pending = { ...b, requiresConfirmation: true, status: 'PENDING' as const };
  const later = new Date(start.getTime() + 3 * 3_600_000);
  const moved = sampleBooking({ uid: `b${n}-new`, id: 2000 + n, start: later, end: new Date(later.getTime() + 1_800_000) });
  switch (story) {
    case 'created':
      return [{ trigger: 'BOOKING_CREATED', booking: b }];
    case 'created_cancelled':
      return [
        { trigger: 'BOOKING_CREATED', booking: b },
        { trigger: 'BOOKING_CANCELLED', booking: { ...b, status: 'CANCELLED' } },
      ];
    case 'requested_confirmed':
      return [
        { trigger: 'BOOKING_REQUESTED', booking: pending },
        { trigger: 'BOOKING_CREATED', booking: b },
      ];
    case 'requested_rejected':
      return [
        { trigger: 'BOOKING_REQUESTED', booking: pending },
        { trigger: 'BOOKING_REJECTED', booking: { ...pending, status: 'REJECTED' } },
      ];
    case 'rescheduled':
      return [
        { trigger: 'BOOKING_CREATED', booking: b },
        { trigger: 'BOOKING_RESCHEDULED', booking: moved, extra: { rescheduleUid: b.uid } },
      ];
    case 'rescheduled_then_cancelled':
      return [
        { trigger: 'BOOKING_CREATED', booking: b },
        { trigger: 'BOOKING_RESCHEDULED', booking: moved, extra: { rescheduleUid: b.uid } },
        { trigger: 'BOOKING_CANCELLED', booking: { ...moved, status: 'CANCELLED' } },
      ];
  }
}

describe.each(storeKinds)('the order Cal.com delivers events in on %s', (kind) => {
  let store: TestStore;
  let rooms: RoomDeps;
  let config: ReturnType<typeof load>;
  const load = () => {
    const result = loadConfig(
      { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'admin-token-0123456789', USHER_CONFIG: '/nonexistent' },
      { yamlText: YAML },
    );
    if (!result.ok) throw new Error(result.faults.join('\n'));
    return result.config;
  };
  beforeAll(async () => {
    store = await openTestStore(kind);
    config = load();
    rooms = { settings: config.roomSettings, timeZone: config.timeZone, maxAttempts: 3, dayCache: new RoomDayCache() };
  });
  afterAll(() => store.close());

  /** Every booking's final status and whether it holds a room, after these deliveries. */
  async function outcome(list: readonly Delivery[]): Promise<Record<string, string>> {
    await store.reset();
    const clock = new FakeClock('2026-12-01T08:00:00Z');
    await syncConfigRooms(store.db, config.rooms, rooms, clock.now());
    const cal = new EventPipeline(store.db, gateDeps(''), clock, [roomEventHandler(rooms)], roomBatchHooks(rooms));
    for (const d of list) await cal.deliver(d.trigger, d.booking, d.extra ? { extra: d.extra } : {});
    const placed = new Set(
      (await listAssignments(store.db, { from: new Date(0), to: new Date(Date.UTC(2100, 0, 1)) }))
        .filter((a) => a.room)
        .map((a) => a.bookingUid),
    );
    const all = await listBookings(store.db, { limit: 1000 });
    return Object.fromEntries(all.map((b) => [b.uid, `${b.status}${placed.has(b.uid) ? ' with a room' : ''}`]));
  }

  it('ends the same whatever the order and however many copies arrive (reschedule/create, cancel/create, confirm/request, reject/request)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...stories), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
        async (chosen, order, copies) => {
          const inOrder = chosen.flatMap((story, n) => deliveries(story, n));
          // Shuffled by random keys, and about three in ten delivered twice (two subscriptions).
          const shuffled = inOrder
            .flatMap((d, i) => ((copies[i % copies.length] ?? 1) < 0.3 ? [d, d] : [d]))
            .map((d, i) => ({ d, key: order[i % order.length]! * 31 + i }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.d);
          expect(await outcome(shuffled)).toEqual(await outcome(inOrder));
        },
      ),
      // A longer hunt: USHER_PROPERTY_RUNS=500 USHER_PROPERTY_SEED=<n> npm test -- src/jobs/event-order
      { numRuns: Number(process.env.USHER_PROPERTY_RUNS ?? 40), seed: Number(process.env.USHER_PROPERTY_SEED ?? 20261201) },
    );
  }, 3_600_000);

  it('a reschedule delivered before its original booking leaves the original cancelled, without a room', async () => {
    const [created, rescheduled] = deliveries('rescheduled', 0) as [Delivery, Delivery];
    expect(await outcome([rescheduled, created])).toEqual({ b0: 'cancelled', 'b0-new': 'accepted with a room' });
  });
});
