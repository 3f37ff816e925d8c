import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import type { InboxEvent } from '../store/inbox.ts';
import { getBooking, saveBooking } from '../store/bookings.ts';
import { BatchReads, parseInboxEvent, type EventHandler } from '../jobs/handle-event.ts';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { createLogger } from '../log.ts';
import type { Booking } from '../domain/booking.ts';
import { dayChanges, getAssignment, insertBlock, planDays, pruneRemovedStays } from '../store/rooms.ts';
import { EventPipeline } from '../../test/event-pipeline.ts';
import { recordedDb } from '../../test/recorded-db.ts';
import { roomClinic } from '../../test/room-clinic.ts';
import { seeded } from '../../test/clinic-generator.ts';
import { chooseRoom } from '../domain/choose-room.ts';
import { RoomIndex } from '../domain/room-index.ts';
import { defaultWeights } from '../domain/room-model.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { type ChoiceDay, RoomDayCache } from './room-day-cache.ts';
import { roomBatchHooks, roomEventHandler } from './room-events.ts';
import { blockRoom } from './room-operations.ts';
import { assignBooking, releaseBooking, type RoomDeps } from './room-planning.ts';

// Two rooms; doctor 5 prefers 1A, so a stale picture of 1A shows at once.
const YAML = `
timeZone: Europe/London
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "2A", floor: 2, building: "North wing", cleaningMinutes: 10 }
doctors:
  "5": { rooms: ["1A", "2A"], preferredRooms: ["1A"] }
`;

const at = (hhmm: string) => new Date(`2026-12-02T${hhmm}:00Z`);
const visit = (from: string, to: string, over: Partial<PayloadBooking> = {}) =>
  sampleBooking({ start: at(from), end: at(to), lengthMinutes: 30, ...over });

/**
 * Another Usher process on the clinic's database: the same settings and clock, its own kept days
 * (`kept: false`, none), the room handler; `wired`: with the batch hooks, as main.ts has them.
 */
function anotherProcess(
  store: TestStore,
  clinic: Awaited<ReturnType<typeof roomClinic>>,
  o: { timeZone?: string; kept?: boolean; wired?: boolean } = {},
): { rooms: RoomDeps; cal: EventPipeline } {
  const rooms = { ...clinic.rooms, dayCache: o.kept === false ? undefined : new RoomDayCache() };
  const cal = new EventPipeline(
    store.db,
    { settings: clinic.config.gate, timeZone: o.timeZone ?? 'Europe/London', maxAttempts: 3 },
    clinic.cal.clock,
    [roomEventHandler(rooms)],
    o.wired ? roomBatchHooks(rooms) : undefined,
  );
  return { rooms, cal };
}

/** Rejections nobody handled while it watches: `usher serve` would end on the first (Node's default). */
function watchUnhandledRejections(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  return { seen, stop: () => process.off('unhandledRejection', listener) };
}

/**
 * The rooms and days a process keeps between room choices (room-day-cache.ts) must never stand in
 * for the database once anything else changed it: another process's block or booking, a
 * transaction of its own that rolled back. Each case below gives a wrong room (or a refused write)
 * if the kept day were trusted without the generations of migration 0015.
 */
describe.each(storeKinds)('room choices kept between decisions on %s', (kind) => {
  let store: TestStore;
  let one: Awaited<ReturnType<typeof roomClinic>>;
  // A second Usher process on the same database, with its own kept days.
  let other: { rooms: RoomDeps; cal: EventPipeline };
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    const clinic = await roomClinic(store, YAML, '2026-12-02T07:00:00Z');
    one = clinic;
    other = anotherProcess(store, clinic);
  });
  const roomOf = async (uid: string) => (await getAssignment(store.db, uid))?.room;

  it('sees a block another process put on the preferred room after this one read the day', async () => {
    const first = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', first);
    expect(await roomOf(first.uid)).toBe('1A');
    await blockRoom(store.db, other.rooms, { room: '1A', from: at('10:00'), to: at('12:00'), reason: 'leak', by: 'desk' }, at('07:00'));
    const second = visit('10:00', '10:30');
    await one.cal.deliver('BOOKING_CREATED', second);
    expect(await roomOf(second.uid)).toBe('2A');
  });

  it('sees a booking another process put into the preferred room', async () => {
    const first = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', first);
    const theirs = visit('10:00', '10:30');
    await other.cal.deliver('BOOKING_CREATED', theirs);
    expect(await roomOf(theirs.uid)).toBe('1A');
    const mine = visit('10:00', '10:30');
    await one.cal.deliver('BOOKING_CREATED', mine);
    expect(await roomOf(mine.uid)).toBe('2A');
  });

  it.each([
    ['read as a change', false],
    ['read whole once the log of removed stays was pruned past it', true],
  ])('sees a room another process freed, %s', async (_, pruned) => {
    const first = visit('09:00', '09:30');
    await other.cal.deliver('BOOKING_CREATED', first);
    expect(await roomOf(first.uid)).toBe('1A');
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // reads the day, the first booking in 1A
    await other.cal.deliver('BOOKING_CANCELLED', { ...first, status: 'CANCELLED' });
    if (pruned) expect(await pruneRemovedStays(store.db, 0)).toBeGreaterThan(0);
    const next = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', next);
    expect(await roomOf(next.uid)).toBe('1A');
  });

  it('sees a room another process freed by moving the stay to another day', async () => {
    const first = visit('09:00', '09:30');
    await other.cal.deliver('BOOKING_CREATED', first);
    expect(await roomOf(first.uid)).toBe('1A');
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // reads the day, the first booking in 1A
    // The same booking a day later (as the reconciler feeds a start Cal.com changed): its row moves
    // off the day this process keeps, so only the log of removed stays tells it.
    const later = { ...first, start: new Date('2026-12-03T09:00:00Z'), end: new Date('2026-12-03T09:30:00Z') };
    await other.cal.deliver('BOOKING_CREATED', later);
    expect((await getAssignment(store.db, first.uid))?.from).toEqual(later.start);
    const next = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', next);
    expect(await roomOf(next.uid)).toBe('1A');
  });

  /** Five half-hour visits, two at a time: with 10 minutes of cleaning the rooms take turns. */
  const morning = () =>
    ['09:00', '09:00', '09:40', '09:40', '10:20'].map((from) => {
      const [h, m] = from.split(':').map(Number);
      const end = `${String(h! + (m! + 30 >= 60 ? 1 : 0)).padStart(2, '0')}:${String((m! + 30) % 60).padStart(2, '0')}`;
      return visit(from, end);
    });

  it('follows its own decisions: a day of bookings in turn fills both rooms without a clash', async () => {
    const day = morning();
    for (const b of day) await one.cal.deliver('BOOKING_CREATED', b);
    expect(await Promise.all(day.map((b) => roomOf(b.uid)))).toEqual(['1A', '2A', '1A', '2A', '1A']);
  });

  // Four rooms, two doctors with their own preferred rooms; a morning booked in a seeded order,
  // some bookings moved to other times (decided again, their old slot freed), then more.
  const fourRooms = `
timeZone: Europe/London
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "1B", floor: 1, building: "North wing", cleaningMinutes: 5 }
  - { name: "2A", floor: 2, building: "North wing", cleaningMinutes: 10 }
  - { name: "2B", floor: 2, building: "North wing", cleaningMinutes: 0 }
doctors:
  "5": { preferredRooms: ["1A"] }
  "6": { preferredRooms: ["2B", "2A"] }
`;
  const busyMorning = (seed: number) => {
    const random = seeded(seed);
    const slot = () => {
      const start = at('08:00').getTime() + Math.floor(random() * 12) * 20 * 60_000;
      return { start: new Date(start), end: new Date(start + 30 * 60_000) };
    };
    const doctor = (i: number) => ({
      id: 5 + (i % 2),
      name: `Dr ${i % 2}`,
      email: `dr${i % 2}@clinic.example`,
      username: `dr${i % 2}`,
      timeZone: 'Europe/London',
    });
    const first = Array.from({ length: 18 }, (_, i) => sampleBooking({ ...slot(), lengthMinutes: 30, organizer: doctor(i) }));
    const moved = [first[2]!, first[7]!, first[11]!].map((b) => ({ ...b, ...slot() }));
    const then = Array.from({ length: 10 }, (_, i) => sampleBooking({ ...slot(), lengthMinutes: 30, organizer: doctor(i) }));
    return { deliveries: [...first, ...moved, ...then], decided: [...first, ...then] };
  };
  const noneRefused = async () => {
    const refused = await store.db.query(`select id from inbox_events where state <> 'done' or attempts <> 1`);
    expect(refused.rows).toEqual([]);
  };
  /**
   * The kept index of 2 December must choose as one built afresh from the kept day's stays, for any
   * booking of the morning. `forgotten`: the day may have been left to be read whole (undefined then).
   */
  const expectIndexAsFresh = async (cache: RoomDayCache, forgotten: 'may be forgotten' | 'kept' = 'kept') => {
    const window = { from: at('00:00'), to: new Date(at('00:00').getTime() + 86_400_000) };
    const generations = new Map((await dayChanges(store.db, planDays(window))).map((c) => [c.day, c.generation]));
    const state = cache.day(window.from, generations);
    if (!state && forgotten === 'may be forgotten') return undefined;
    expect(state?.current).toBe(true);
    const kept = state!.day.index!;
    expect(kept).toBeDefined();
    const afresh = new RoomIndex({
      rooms: cache.rooms!,
      blocks: state!.day.blocks,
      bookings: [...state!.day.stays.values()].flatMap((s) => (s.planned ? [s.planned] : [])),
      timeZone: 'Europe/London',
      weights: one.config.roomSettings.weights,
    });
    for (let minute = 0; minute < 240; minute += 10)
      for (const doctor of ['5', '6']) {
        const start = at('08:00').getTime() + minute * 60_000;
        const need = { uid: `probe-${doctor}-${minute}`, start, end: start + 30 * 60_000, doctor, equipment: [], preferredRooms: [] };
        expect(chooseRoom(kept, need)).toEqual(chooseRoom(afresh, need));
      }
    return kept;
  };

  it("keeps a kept day's room index in step with its own decisions: every room a fresh read would give, and no write refused", async () => {
    const morning = busyMorning(19);
    const decide = async (kept: boolean) => {
      one = await roomClinic(store, fourRooms, '2026-12-02T07:00:00Z');
      if (!kept) one.rooms.dayCache = undefined;
      for (const b of morning.deliveries) await one.cal.deliver('BOOKING_CREATED', b);
      await noneRefused();
      return Promise.all(morning.decided.map((b) => roomOf(b.uid)));
    };
    const fresh = await decide(false);
    expect(fresh.filter((r) => r !== undefined && r !== null).length).toBeGreaterThan(15);
    expect(await decide(true)).toEqual(fresh);
    // A write the kept index missed would be refused by the database and the batch run again with
    // every kept day forgotten — the same rooms in the end, so look at the index itself.
    await expectIndexAsFresh(one.rooms.dayCache!);
  });

  it("keeps a kept day's room index in step with another process's decisions, without building it again", async () => {
    const morning = busyMorning(23);
    one = await roomClinic(store, fourRooms, '2026-12-02T07:00:00Z');
    const single = anotherProcess(store, one, { kept: false }).cal;
    for (const b of morning.deliveries) await single.deliver('BOOKING_CREATED', b);
    const fresh = await Promise.all(morning.decided.map((b) => roomOf(b.uid)));
    expect(fresh.filter((r) => r !== undefined && r !== null).length).toBeGreaterThan(15);

    // The same morning taken in turns by two processes, each keeping its days, wired as main.ts.
    one = await roomClinic(store, fourRooms, '2026-12-02T07:00:00Z');
    const second = anotherProcess(store, one, { wired: true }).cal;
    // Each of this process's choices brings its kept day up to date with the other's writes; its
    // index takes them and stays the one it built (a booking this process decides again leaves the
    // day to be read whole: its assignment's update moves the day twice, migration 0023).
    let built: RoomIndex | undefined;
    let carried = 0;
    for (const [i, b] of morning.deliveries.entries()) {
      const mine = i % 2 === 0;
      await (mine ? one.cal : second).deliver('BOOKING_CREATED', b);
      if (!mine) continue;
      const again = morning.deliveries.slice(0, i).some((earlier) => earlier.uid === b.uid);
      const index = await expectIndexAsFresh(one.rooms.dayCache!, again ? 'may be forgotten' : 'kept');
      if (index && built === index) carried++;
      built = index;
    }
    expect(carried).toBeGreaterThanOrEqual(12);
    await noneRefused();
    expect(await Promise.all(morning.decided.map((b) => roomOf(b.uid)))).toEqual(fresh);
  });

  it('forgets a room choice whose transaction rolled back', async () => {
    const early = visit('08:00', '08:30');
    await one.cal.deliver('BOOKING_CREATED', early); // the day is read and kept
    // A choice made in a transaction that then rolls back (say the event's next handler failed).
    await expect(
      store.db.transaction(async (trx) => {
        const lost = { ...(await getBooking(trx, early.uid))!, uid: 'rolled-back', start: at('09:00'), end: at('09:30') };
        await saveBooking(trx, lost, at('07:00'));
        expect(await assignBooking(trx, one.rooms, lost, at('07:00'))).toEqual({ outcome: 'assigned', room: '1A' });
        throw new Error('the next handler failed');
      }),
    ).rejects.toThrow('the next handler failed');
    const next = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', next);
    expect(await roomOf(next.uid)).toBe('1A');
  });

  it('reads a day whole again when the transaction that brought it up to date rolled back', async () => {
    const first = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', first);
    expect(await roomOf(first.uid)).toBe('1A');
    // In a transaction that rolls back: the first booking's room given up, then the day read (without
    // it) for another booking's choice.
    await expect(
      store.db.transaction(async (trx) => {
        await releaseBooking(trx, one.rooms, first.uid, at('07:00'), 'room.released.cancelled');
        const lost = { ...(await getBooking(trx, first.uid))!, uid: 'lost', start: at('11:00'), end: at('11:30') };
        await saveBooking(trx, lost, at('07:00'));
        await assignBooking(trx, one.rooms, lost, at('07:00'));
        throw new Error('the next handler failed');
      }),
    ).rejects.toThrow('the next handler failed');
    // The first booking still holds 1A (straight through the planner: a worker would also recover
    // from the refused write by running the event again without the kept days).
    const next = await savedLike(first, 'next', at('09:00'), at('09:30'));
    expect(await store.db.transaction((trx) => assignBooking(trx, one.rooms, next, at('07:00')))).toEqual({
      outcome: 'assigned',
      room: '2A',
    });
  });

  it("forgets what an event whose savepoint rolled back read, though the worker's transaction commits", async () => {
    const first = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', first);
    for (const holder of [visit('11:00', '11:30'), visit('11:00', '11:30')]) await one.cal.deliver('BOOKING_CREATED', holder);
    // Moved to 11:00, where both rooms are taken: its room is given up and the day read for it again,
    // then a later handler of the same event fails (an automation, say), and only its savepoint rolls back.
    const moved = visit('11:00', '11:30', { reschedule: { id: first.id, uid: first.uid, start: first.start, end: first.end } });
    const failing = new EventPipeline(
      store.db,
      { settings: one.config.gate, timeZone: 'Europe/London', maxAttempts: 3 },
      one.cal.clock,
      [
        roomEventHandler(one.rooms),
        async (event) => {
          if (event.kind === 'booking' && event.booking.uid === moved.uid) throw new Error('the automation failed');
        },
      ],
      roomBatchHooks(one.rooms),
    );
    await failing.deliver('BOOKING_RESCHEDULED', moved);
    const [attempt] = (await store.db.query('select state from inbox_events where booking_uid = $1', [moved.uid])).rows;
    expect(attempt?.state).toBe('pending'); // to be tried again
    expect(await roomOf(first.uid)).toBe('1A');
    const next = await savedLike(first, 'next', at('09:00'), at('09:30'));
    expect(await store.db.transaction((trx) => assignBooking(trx, one.rooms, next, at('07:00')))).toEqual({
      outcome: 'assigned',
      room: '2A',
    });
  });

  it("a worker's batch takes its events' days first, in one order: a booking's day, and two days around a stay it holds", async () => {
    const placed = visit('09:00', '09:30'); // 2 December
    await one.cal.deliver('BOOKING_CREATED', placed);
    const later = sampleBooking({ start: new Date('2026-12-10T09:00:00Z'), end: new Date('2026-12-10T09:30:00Z'), lengthMinutes: 30 });
    const inbox = (trigger: string, b: PayloadBooking) =>
      ({ rawBody: envelopeBody(trigger, bookingPayload(b, trigger), at('07:00')) }) as InboxEvent;
    const events = [inbox('BOOKING_CREATED', later), inbox('BOOKING_CANCELLED', { ...placed, status: 'CANCELLED' })];
    const days = await store.db.transaction(async (trx) => {
      const batch = events.map((inboxEvent) => ({ inboxEvent, parsed: parseInboxEvent(inboxEvent) }));
      await roomBatchHooks(one.rooms).prepare!(trx, batch, new BatchReads(batch), { isolated: true });
      const locks = await trx.query<{ day: number }>(
        `select objid::integer as day from pg_locks
          where locktype = 'advisory' and objsubid = 2 and mode = 'ExclusiveLock' and pid = pg_backend_pid() order by 1`,
      );
      return locks.rows.map((r) => Number(r.day));
    });
    const day = (iso: string) => Math.floor(Date.parse(iso) / 86_400_000);
    // 30 November to 4 December around the placed stay; 10 December, the new booking's day.
    expect(days).toEqual([
      ...[30, 1, 2, 3, 4].map((d, i) => day(`2026-${i === 0 ? '11' : '12'}-${String(d).padStart(2, '0')}T00:00:00Z`)),
      day('2026-12-10T00:00:00Z'),
    ]);
  });

  /** A booking like `like` (delivered before), saved under another uid at another time. */
  const savedLike = async (like: PayloadBooking, uid: string, start: Date, end: Date): Promise<Booking> => {
    const b = { ...(await getBooking(store.db, like.uid))!, uid, start, end };
    await saveBooking(store.db, b, at('07:00'));
    return b;
  };

  it('lets choices on different days go on at once, and makes one on the same day wait for the first', async () => {
    const seed = visit('08:00', '08:30');
    await one.cal.deliver('BOOKING_CREATED', seed);
    const monday = await savedLike(seed, 'monday', at('09:00'), at('09:30'));
    const sameTime = await savedLike(seed, 'same-time', at('09:00'), at('09:30'));
    const tuesday = await savedLike(seed, 'tuesday', new Date('2026-12-03T09:00:00Z'), new Date('2026-12-03T09:30:00Z'));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let chose!: () => void;
    const chosen = new Promise<void>((resolve) => {
      chose = resolve;
    });
    const first = store.db.transaction(async (trx) => {
      const outcome = await assignBooking(trx, one.rooms, monday, at('07:00'));
      chose();
      await committing;
      return outcome;
    });
    await chosen;
    const settled = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);
    try {
      // Another process, another day: decided while the first transaction is still open.
      const otherDay = store.db.transaction((trx) => assignBooking(trx, other.rooms, tuesday, at('07:00')));
      expect(await settled(otherDay, 5_000)).toEqual({ outcome: 'assigned', room: '1A' });
      // The same day: it waits, and then sees the first choice.
      const sameDay = store.db.transaction((trx) => assignBooking(trx, other.rooms, sameTime, at('07:00')));
      expect(await settled(sameDay, 300)).toBe('still waiting');
      commit();
      expect(await first).toEqual({ outcome: 'assigned', room: '1A' });
      expect(await sameDay).toEqual({ outcome: 'assigned', room: '2A' });
    } finally {
      commit();
      await first.catch(() => {});
    }
  });

  const planReads = (sent: readonly { how: string; sql: string }[], how: string) =>
    sent.filter((s) => s.how === how && s.sql.includes('left join room_assignments on booking_uid = $1')).length;
  const pipeline = (db: Db, handlers: EventHandler[], log?: Logger) =>
    new EventPipeline(
      db,
      { settings: one.config.gate, timeZone: 'Europe/London', maxAttempts: 3 },
      one.cal.clock,
      handlers,
      roomBatchHooks(one.rooms),
      log,
    );

  it("decides a batch's new bookings of one day without asking the store before each: the rooms one at a time gives, in one pass", async () => {
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // the day is read and kept
    const { sent, db } = recordedDb(store.db);
    const cal = pipeline(db, [roomEventHandler(one.rooms)]);
    const day = morning();
    for (const b of day) await cal.store('BOOKING_CREATED', b);
    await cal.run();
    // As the same bookings delivered one at a time (the test above): each choice saw the ones before it.
    expect(await Promise.all(day.map((b) => roomOf(b.uid)))).toEqual(['1A', '2A', '1A', '2A', '1A']);
    // Each took the kept day and only checked it behind its writes.
    expect([planReads(sent, 'query'), planReads(sent, 'soon')]).toEqual([0, 5]);
    expect(sent.filter((s) => s.sql.startsWith('savepoint'))).toEqual([]);
  });

  it.each(['a cancellation', 'a reschedule'])(
    'asks the store before each choice after %s in the same batch: the freed room is seen, nothing runs twice',
    async (what) => {
      const placed = visit('09:00', '09:30');
      await one.cal.deliver('BOOKING_CREATED', placed);
      expect(await roomOf(placed.uid)).toBe('1A');
      const { sent, db } = recordedDb(store.db);
      const cal = pipeline(db, [roomEventHandler(one.rooms)]);
      const next = visit('09:00', '09:30');
      if (what === 'a cancellation') await cal.store('BOOKING_CANCELLED', { ...placed, status: 'CANCELLED' });
      else
        await cal.store(
          'BOOKING_RESCHEDULED',
          visit('12:00', '12:30', { reschedule: { id: placed.id, uid: placed.uid, start: placed.start, end: placed.end } }),
        );
      await cal.store('BOOKING_CREATED', next);
      await cal.run();
      expect(await roomOf(next.uid)).toBe('1A');
      expect([planReads(sent, 'query'), planReads(sent, 'soon')]).toEqual([1, 0]);
      expect(sent.filter((s) => s.sql.startsWith('savepoint'))).toEqual([]);
    },
  );

  it('runs a batch again, one event at a time, when something in it changed a day a choice took as kept', async () => {
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // the day is read and kept
    const { sent, db } = recordedDb(store.db);
    const [second, third] = [visit('11:00', '11:30'), visit('10:00', '10:30')];
    // A handler the day cache knows nothing of blocks 1A at 10:00 in the batch's transaction, before the second choice.
    const blocker: EventHandler = async (event, ctx) => {
      if (event.kind === 'booking' && event.booking.uid === second.uid)
        await insertBlock(ctx.trx, { room: '1A', from: at('10:00'), to: at('10:30'), reason: 'leak', by: 'test' }, at('07:00'));
    };
    const cal = pipeline(db, [blocker, roomEventHandler(one.rooms)]);
    await cal.store('BOOKING_CREATED', second);
    await cal.store('BOOKING_CREATED', third);
    await cal.run();
    expect(await roomOf(second.uid)).toBe('1A');
    expect(await roomOf(third.uid)).toBe('2A');
    expect(sent.filter((s) => s.sql.startsWith('savepoint')).length).toBe(2);
  });

  it("tells a room's write that failed as why its batch runs again, not the check the failure aborted behind it", async () => {
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // the day is read and kept
    const [refused, next] = [visit('09:00', '09:30'), visit('10:00', '10:30')];
    // The store refuses the first choice's row (as it would a stay clashing with another's); the
    // second choice's check, read behind that write, then fails only because the transaction did.
    await store.db.exec(
      `alter table room_assignments add constraint test_refuses_nine check (room is null or lower(during) <> '2026-12-02T09:00:00Z')`,
    );
    const lines: { msg: string; reason?: string }[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
    try {
      const cal = pipeline(store.db, [roomEventHandler(one.rooms)], log);
      await cal.store('BOOKING_CREATED', refused);
      await cal.store('BOOKING_CREATED', next);
      await cal.run();
    } finally {
      await store.db.exec('alter table room_assignments drop constraint test_refuses_nine');
    }
    const again = lines.filter((l) => l.msg === 'batch runs again, one event at a time');
    expect(again).toHaveLength(1);
    expect(again[0]!.reason).toMatch(/test_refuses_nine/);
    // Isolated, the refused event waits for its retry; the other is decided.
    expect(await roomOf(next.uid)).toBe('1A');
    expect(await roomOf(refused.uid)).toBeUndefined();
  });

  it("lives through its batch's day locks failing: the read sent behind them fails with them, the locks' error is the one told, and the event waits for the next run", async () => {
    await one.cal.deliver('BOOKING_CREATED', visit('08:00', '08:30')); // rooms in service, the day kept
    const next = visit('09:00', '09:30');
    // Another session holds the day's planning lock; once the batch waits for it, PostgreSQL is told
    // to cancel the batch's statement, as it cancels one of two batches in a deadlock. (Not a
    // lock_timeout: PostgreSQL's timers do not run under the suite's faketime at a far date.)
    const holder = await store.db.session();
    const unhandled = watchUnhandledRejections();
    try {
      await holder.query(`select pg_advisory_lock(hashtext('usher.rooms.day'), $1)`, [planDays({ from: at('09:00'), to: at('09:30') })[0]]);
      const cal = pipeline(store.db, [roomEventHandler(one.rooms)]);
      await cal.store('BOOKING_CREATED', next);
      const running = cal.worker.runInboxOnce();
      running.catch(() => {});
      let waiting: number | undefined;
      for (let i = 0; i < 500 && waiting === undefined; i++) {
        const found = await holder.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`,
        );
        waiting = found.rows[0]?.pid;
        if (waiting === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(waiting, 'the batch waits for the day').toBeDefined();
      await holder.query('select pg_cancel_backend($1)', [waiting]);
      await expect(running).rejects.toThrow(/canceling statement due to user request/);
      // Node reports a rejection nobody handled once the current turn is over.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled.seen).toEqual([]);
    } finally {
      unhandled.stop();
      holder.end();
    }
    await one.cal.run();
    expect(await roomOf(next.uid)).toBe('1A');
  });

  it('counts a change to a booking that holds a room, and none to one that does not', async () => {
    const placed = visit('09:00', '09:30');
    await one.cal.deliver('BOOKING_CREATED', placed);
    const generation = async () => (await dayChanges(store.db, planDays({ from: at('09:00'), to: at('09:40') })))[0]?.generation;
    const before = await generation();
    await store.db.query(`update bookings set title = 'renamed' where uid = $1`, [placed.uid]);
    expect(await generation()).toBe(before);
    await store.db.query(`update bookings set organizer_email = 'grace@clinic.example' where uid = $1`, [placed.uid]);
    const after = await generation();
    expect(after).not.toBe(before);
    const video = visit('11:00', '11:30', { location: 'https://zoom.us/j/123456789' });
    await one.cal.deliver('BOOKING_CREATED', video);
    const withVideo = await generation();
    await store.db.query(`update bookings set organizer_email = 'grace@clinic.example' where uid = $1`, [video.uid]);
    expect(await generation()).toBe(withVideo);
  });
});

// New York's day runs over two UTC days (05:00Z to 05:00Z): a change on either must outdate it.
describe.each(storeKinds)('a kept day of a clinic west of UTC on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());

  it('is read again when another process books the evening, which is the next UTC day', async () => {
    const clinic = await roomClinic(store, YAML.replace('Europe/London', 'America/New_York'), '2026-12-02T12:00:00Z');
    const other = anotherProcess(store, clinic, { timeZone: 'America/New_York' }).cal;
    const ny = (iso: string) => new Date(iso);
    const morning = sampleBooking({ start: ny('2026-12-02T14:00:00Z'), end: ny('2026-12-02T14:30:00Z'), lengthMinutes: 30 });
    await clinic.cal.deliver('BOOKING_CREATED', morning); // 09:00 in New York: the day is read and kept
    const evening = () => sampleBooking({ start: ny('2026-12-03T00:00:00Z'), end: ny('2026-12-03T00:30:00Z'), lengthMinutes: 30 });
    const theirs = evening(); // 19:00 in New York, 00:00 UTC the next day
    await other.deliver('BOOKING_CREATED', theirs);
    expect((await getAssignment(store.db, theirs.uid))?.room).toBe('1A');
    const mine = evening();
    await clinic.cal.deliver('BOOKING_CREATED', mine);
    expect((await getAssignment(store.db, mine.uid))?.room).toBe('2A');
  });
});

describe('the days a process keeps', () => {
  const dayOf = (n: number, stays: number): ChoiceDay => {
    const from = new Date(Date.UTC(2026, 11, n));
    return {
      window: { from, to: new Date(from.getTime() + 86_400_000) },
      blocks: [],
      stays: new Map(
        Array.from({ length: stays }, (_, i) => {
          const stay = { bookingUid: `d${n}-${i}`, room: '1A', from, to: from, pinned: false };
          return [stay.bookingUid, { stay, booking: undefined, planned: undefined }] as const;
        }),
      ),
    };
  };

  const generations = (n: number, generation: string) => new Map([[Math.floor(Date.UTC(2026, 11, n) / 86_400_000), generation]]);
  const utcDay = (n: number) => Math.floor(Date.UTC(2026, 11, n) / 86_400_000);
  const keep = (cache: RoomDayCache, n: number, stays: number, generation = '1') =>
    cache.keepDay(dayOf(n, stays), generations(n, generation), [utcDay(n)], '900');
  /** The kept day n if it is current at this generation. */
  const dayAt = (cache: RoomDayCache, n: number, generation = '1') => {
    const found = cache.day(dayOf(n, 0).window.from, generations(n, generation));
    return found?.current ? found.day : undefined;
  };

  it("carry their room index along with this process's own write: a booking that moved leaves its old room", () => {
    const cache = new RoomDayCache();
    cache.at('7');
    const from = new Date(Date.UTC(2026, 11, 1, 9));
    const rooms = [
      { name: '1A', floor: 1, building: 'North', equipment: [], cleaningMinutes: 0, active: true },
      { name: '2A', floor: 2, building: 'North', equipment: [], cleaningMinutes: 0, active: true },
    ];
    const placed = (room: string, at: Date) => {
      const stay = { bookingUid: 'moving', room, from: at, to: new Date(at.getTime() + 1_800_000), pinned: false };
      const need = { uid: 'moving', start: at.getTime(), end: stay.to.getTime(), doctor: '5', equipment: [], preferredRooms: [] };
      return { stay, booking: undefined, planned: { need, room, frozen: false, pinned: false } };
    };
    const day = dayOf(1, 0);
    day.stays.set('moving', placed('1A', from));
    cache.keepDay(day, generations(1, '1'), [utcDay(1)], '900');
    day.index = new RoomIndex({
      rooms,
      blocks: [],
      bookings: [day.stays.get('moving')!.planned!],
      timeZone: 'UTC',
      weights: defaultWeights,
    });
    const later = new Date(from.getTime() + 3_600_000);
    cache.wrote('moving', placed('2A', later), [{ day: utcDay(1), generation: '2', previous: '1' }]);
    const index = dayAt(cache, 1, '2')!.index!;
    expect(index.occupants('1A', { from: from.getTime(), to: from.getTime() + 1_800_000 })).toEqual([]);
    expect(index.occupants('2A', { from: later.getTime(), to: later.getTime() + 1_800_000 })).toEqual(['moving']);
    expect([...index.placement]).toEqual([['moving', '2A']]);
  });

  /** A stay at 09:00 on 1 December in 1A. */
  const stay = (uid: string) => {
    const from = new Date(Date.UTC(2026, 11, 1, 9));
    return {
      stay: { bookingUid: uid, room: '1A', from, to: new Date(from.getTime() + 1_800_000), pinned: false },
      booking: undefined,
      planned: undefined,
    };
  };
  /** A write's day changes, read without waiting: they arrive (day 1, generation 1 → 2) when answered. */
  const later = () => {
    let answer: (changes: { day: number; generation: string; previous: string }[]) => void = () => {};
    const changes = new Promise<{ day: number; generation: string; previous: string }[]>((resolve) => {
      answer = resolve;
    });
    return { changes, answer: () => answer([{ day: utcDay(1), generation: '2', previous: '1' }]) };
  };

  it("follow a write whose day changes are read without waiting — unless the write's transaction rolled back first", async () => {
    const cache = new RoomDayCache();
    cache.at('7');
    keep(cache, 1, 0);
    const read = later();
    cache.follow('mine', stay('mine'), read.changes);
    read.answer();
    await cache.caughtUp();
    expect([...dayAt(cache, 1, '2')!.stays.keys()]).toEqual(['mine']);

    // Rolled back before its read came: the day kept again since must not take the write.
    const undone = later();
    cache.follow('undone', stay('undone'), undone.changes);
    cache.forgetAll();
    keep(cache, 1, 0);
    undone.answer();
    await cache.caughtUp();
    expect(dayAt(cache, 1, '1')?.stays.size).toBe(0);
  });

  it('are all forgotten when a read fails while one sent before it is still awaited, and the failure reaches nothing else', async () => {
    const unhandled = watchUnhandledRejections();
    try {
      const cache = new RoomDayCache();
      const batch = {};
      cache.at('7');
      cache.keepRooms([]);
      keep(cache, 1, 0);
      cache.beginBatch(batch, { epoch: '7', days: generations(1, '1'), xact: '900' }, ['a']);
      const a = cache.quick(batch, 'a', { ...dayOf(1, 0).window, day: dayOf(1, 0).window })!;
      const first = later();
      cache.follow('first', stay('first'), first.changes);
      // The transaction was aborted behind the first write: the reads sent after it fail first.
      a.check(Promise.reject(new Error('current transaction is aborted')));
      cache.follow('second', stay('second'), Promise.reject(new Error('current transaction is aborted')));
      // A turn of the event loop: Node reports a rejection nobody handled by then.
      await new Promise((resolve) => setImmediate(resolve));
      first.answer();
      await cache.caughtUp();
      expect(unhandled.seen).toEqual([]);
      expect(cache.endBatch()).toBe(true);
      expect(cache.rooms).toBeUndefined();
      expect(dayAt(cache, 1, '2')).toBeUndefined();
    } finally {
      unhandled.stop();
    }
  });

  it("in a worker's batch, are taken as they are by its new bookings' choices only while nothing but its own writes changed them", async () => {
    const cache = new RoomDayCache();
    const batch = {}; // the batch's transaction
    const plan = (generation: string) => ({
      generations: { epoch: '7', days: generations(1, generation), xact: '900' },
      assignment: undefined,
      anyActive: true,
    });
    const window = (n: number) => ({ ...dayOf(n, 0).window, day: dayOf(n, 0).window });
    cache.at('7');
    cache.keepRooms([]);
    keep(cache, 1, 0);
    cache.beginBatch(batch, plan('1').generations, ['a', 'b', 'c']);
    expect(cache.quick({}, 'a', window(1))).toBeUndefined(); // another transaction
    const a = cache.quick(batch, 'a', window(1))!;
    expect(a.day.stays.size).toBe(0);
    expect(cache.quick(batch, 'a', window(1))).toBeUndefined(); // once per booking
    a.check(Promise.resolve(plan('1')));
    // Its own write is in the day at once, before the store says which generation it made.
    const write = later();
    cache.follow('a', stay('a'), write.changes, { trx: batch, days: [utcDay(1)] });
    const b = cache.quick(batch, 'b', window(1))!;
    expect([...b.day.stays.keys()]).toEqual(['a']);
    write.answer();
    b.check(Promise.resolve(plan('3'))); // something else changed the day before b's choice
    await cache.caughtUp();
    expect(cache.endBatch()).toBe(true);

    // A day the batch's own write touched before any choice took it waits for the store.
    cache.forgetAll();
    cache.keepRooms([]);
    keep(cache, 1, 0);
    cache.beginBatch(batch, plan('1').generations, ['c', 'd']);
    const early = later();
    cache.follow('w', stay('w'), early.changes, { trx: batch, days: [utcDay(1)] });
    expect(cache.quick(batch, 'c', window(1))).toBeUndefined();
    early.answer();
    await cache.caughtUp();
    expect(cache.quick(batch, 'd', window(1))).toBeUndefined(); // at generation 2 now, not the batch's 1
    expect(cache.endBatch()).toBe(false);
  });

  it('are bounded by stays, forgetting the least recently used day first', () => {
    const cache = new RoomDayCache();
    cache.at('7');
    for (const n of [1, 2, 3, 4]) keep(cache, n, 5_000);
    expect(dayAt(cache, 1)).toBeDefined(); // used: now the most recent
    keep(cache, 5, 5_000); // 25,000 stays: one day must go
    expect(dayAt(cache, 2)).toBeUndefined();
    for (const n of [1, 3, 4, 5]) expect(dayAt(cache, n), `day ${n}`).toBeDefined();
  });

  it('are kept only at a known epoch, and all forgotten at another', () => {
    const cache = new RoomDayCache();
    cache.at(undefined);
    keep(cache, 1, 3);
    expect(dayAt(cache, 1)).toBeUndefined();
    expect(cache.at('8')).toBe(false);
    keep(cache, 1, 3);
    expect(cache.at('8')).toBe(true);
    expect(dayAt(cache, 1)?.stays.size).toBe(3);
    expect(cache.at('9')).toBe(false);
    expect(dayAt(cache, 1)).toBeUndefined();
  });

  it('are used as they are only while their day has the generation they were read at, else brought up to date', () => {
    const cache = new RoomDayCache();
    cache.at('7');
    keep(cache, 1, 3, '40');
    keep(cache, 2, 3, '41');
    expect(dayAt(cache, 2, '41')?.stays.size).toBe(3); // day 2 did not change
    const stale = cache.day(dayOf(1, 0).window.from, generations(1, '52'));
    // Day 1 did: what changed after 40 is read, if the transaction that read it committed.
    expect(stale).toMatchObject({ current: false, since: '40', xact: '900', followed: [] });
    const from = dayOf(1, 0).window.from;
    const moved = { bookingUid: 'd1-2', room: '2A', from, to: new Date(from.getTime() + 1_800_000), pinned: false };
    const day = cache.changed(
      from,
      generations(1, '52'),
      '901',
      ['d1-0'],
      [
        { uid: 'd1-1', stay: undefined }, // now waiting, or cancelled
        { uid: 'd1-2', stay: { stay: moved, booking: undefined, planned: undefined } },
      ],
    );
    expect([...day!.stays.keys()]).toEqual(['d1-2']);
    expect(day!.stays.get('d1-2')?.stay.room).toBe('2A');
    expect(dayAt(cache, 1, '52')?.stays.size).toBe(1);
  });

  it("follow this process's own write only where it replaced the generation they were read at", () => {
    const cache = new RoomDayCache();
    cache.at('7');
    keep(cache, 1, 3, '40');
    keep(cache, 2, 3, '41');
    const from = dayOf(1, 0).window.from;
    // Day 1 went 40 → 60 by this write alone; day 2 went 41 → 61 but from 55 (someone else came between).
    cache.wrote('new', stay('new'), [
      { day: utcDay(1), generation: '60', previous: '40' },
      { day: utcDay(2), generation: '61', previous: '55' },
    ]);
    expect(dayAt(cache, 1, '60')?.stays.has('new')).toBe(true);
    expect(dayAt(cache, 2, '41')).toBeUndefined();
    // The stay it took from its own write is read again with the next changes (the write may have rolled back).
    expect(cache.day(from, generations(1, '70'))).toMatchObject({ current: false, since: '40', followed: ['new'] });
  });

  it('leave a write on other days alone: nothing of theirs to read again', () => {
    const cache = new RoomDayCache();
    cache.at('7');
    keep(cache, 1, 3, '40');
    keep(cache, 3, 3, '42');
    for (const [i, uid] of ['a', 'b', 'c'].entries()) {
      const previous = i === 0 ? '40' : `5${i - 1}`;
      cache.wrote(uid, stay(uid), [{ day: utcDay(1), generation: `5${i}`, previous }]);
    }
    expect(dayAt(cache, 1, '52')?.stays.size).toBe(6);
    // Day 3, changed since by someone else, reads what changed after 42 — and no booking of day 1 with it.
    expect(cache.day(dayOf(3, 0).window.from, generations(3, '90'))).toMatchObject({ current: false, since: '42', followed: [] });
    expect(dayAt(cache, 3, '42')?.stays.size).toBe(3);
  });
});
