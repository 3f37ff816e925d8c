import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { bookingPayload, envelopeBody, sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { getBooking } from '../store/bookings.ts';
import { openPostgres } from '../store/db.ts';
import { getInboxEvent, InboxWriter, insertInboxEvents } from '../store/inbox.ts';
import { FakeClock } from '../../test/clock.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { recordBookingState, type EventHandler } from './handle-event.ts';
import { replay } from './replay.ts';
import { Worker, type WorkerOptions } from './worker.ts';

describe.each(storeKinds)('the inbox worker on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());
  beforeEach(() => store.reset());

  /** A worker with the booking handler and one of the test's, retrying after half a second. */
  const workerWith = (clock: FakeClock, handler: EventHandler, options: Partial<WorkerOptions> = {}) =>
    new Worker({
      db: store.db,
      clock,
      log: createLogger('silent'),
      eventHandlers: [recordBookingState, handler],
      jobHandlers: {},
      pollIntervalMs: 50,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 10,
      random: () => 0,
      ...options,
    });
  /** BOOKING_CREATED for each booking, pending in the inbox, two attempts each. */
  const storeCreated = (clock: FakeClock, bookings: PayloadBooking[]) =>
    insertInboxEvents(
      store.db,
      bookings.map((b) => ({
        dedupeKey: b.uid,
        trigger: 'BOOKING_CREATED',
        bookingUid: b.uid,
        source: 'webhook' as const,
        rawBody: envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), clock.now()),
        state: 'pending' as const,
        receivedAt: clock.now(),
        maxAttempts: 2,
      })),
    );

  it('retries an event whose handler fails, without undoing its neighbours, and dead-letters it after the last attempt', async () => {
    const clock = new FakeClock();
    const good = sampleBooking();
    const bad = sampleBooking();
    let broken = true;
    const flaky: EventHandler = async (event) => {
      if (broken && event.kind === 'booking' && event.booking.uid === bad.uid) throw new Error('lookup failed');
    };
    const worker = workerWith(clock, flaky);
    const stored = await storeCreated(clock, [bad, good]);
    await worker.drain();
    expect(await getBooking(store.db, good.uid)).toMatchObject({ status: 'accepted' });
    // the failing event's own booking write was rolled back with it
    expect(await getBooking(store.db, bad.uid)).toBeUndefined();
    expect(await getInboxEvent(store.db, stored[0]!.id)).toMatchObject({
      state: 'pending',
      attempts: 1,
      lastError: 'Error: lookup failed',
    });

    clock.advance(500); // equal jitter with random 0: half of the 1 s step
    await worker.drain();
    expect(await getInboxEvent(store.db, stored[0]!.id)).toMatchObject({ state: 'dead', attempts: 2 });

    broken = false;
    await replay(store.db, `evt_${stored[0]!.id}`, clock.now());
    await worker.drain();
    expect(await getInboxEvent(store.db, stored[0]!.id)).toMatchObject({ state: 'done' });
    expect(await getBooking(store.db, bad.uid)).toMatchObject({ status: 'accepted' });
  });

  it('fails only its own event when a write it sent without waiting fails, and says why', async () => {
    const clock = new FakeClock();
    const good = sampleBooking();
    const bad = sampleBooking();
    // A write whose result nobody reads (Queryable.later): the handler goes on before it fails.
    const writesLater: EventHandler = async (event, { trx }) => {
      if (event.kind !== 'booking') return;
      expect(trx.later).toBeDefined();
      trx.later!('select 1 / $1::int', [event.booking.uid === bad.uid ? 0 : 1]);
    };
    const worker = workerWith(clock, writesLater);
    const stored = await storeCreated(clock, [good, bad, sampleBooking()]);
    await worker.drain();
    expect(await getBooking(store.db, good.uid)).toMatchObject({ status: 'accepted' });
    expect(await getInboxEvent(store.db, stored[0]!.id)).toMatchObject({ state: 'done' });
    expect(await getInboxEvent(store.db, stored[2]!.id)).toMatchObject({ state: 'done' });
    expect(await getBooking(store.db, bad.uid)).toBeUndefined();
    expect(await getInboxEvent(store.db, stored[1]!.id)).toMatchObject({ state: 'pending', attempts: 1 });
    expect((await getInboxEvent(store.db, stored[1]!.id))?.lastError).toMatch(/division by zero/);
  });

  it("fails only its own event when the write that fails is the batch's last, found only by the commit", async () => {
    const clock = new FakeClock();
    const [first, second, last] = [sampleBooking(), sampleBooking(), sampleBooking()];
    // The last event's write is the batch's last statement before the events' finish and the commit,
    // which are sent behind it without waiting: nothing reads after it, so the commit is what fails.
    const writesLater: EventHandler = async (event, { trx }) => {
      if (event.kind === 'booking') trx.later!('select 1 / $1::int', [event.booking.uid === last.uid ? 0 : 1]);
    };
    const worker = workerWith(clock, writesLater);
    const stored = await storeCreated(clock, [first, second, last]);
    await worker.drain();
    expect(await getInboxEvent(store.db, stored[0]!.id)).toMatchObject({ state: 'done' });
    expect(await getInboxEvent(store.db, stored[1]!.id)).toMatchObject({ state: 'done' });
    expect(await getBooking(store.db, second.uid)).toMatchObject({ status: 'accepted' });
    expect(await getBooking(store.db, last.uid)).toBeUndefined();
    expect(await getInboxEvent(store.db, stored[2]!.id)).toMatchObject({ state: 'pending', attempts: 1 });
    expect((await getInboxEvent(store.db, stored[2]!.id))?.lastError).toMatch(/division by zero/);
  });

  it('takes a backlog in bigger batches, and goes back to small ones once it is gone', async () => {
    const clock = new FakeClock();
    const batches: number[] = [];
    const worker = workerWith(clock, async () => {}, {
      batchHooks: [{ prepare: async (_trx, events) => void batches.push(events.length) }],
      batchSize: 2,
      backlogBatchSize: 5,
    });
    await storeCreated(
      clock,
      Array.from({ length: 12 }, () => sampleBooking()),
    );
    await worker.drain();
    // A full first batch says more is waiting: the rest go five at a time.
    expect(batches).toEqual([2, 5, 5]);
    await storeCreated(
      clock,
      Array.from({ length: 3 }, () => sampleBooking()),
    );
    await worker.drain();
    // The backlog was gone (a batch came back short): a new arrival starts small again.
    expect(batches).toEqual([2, 5, 5, 2, 1]);
  });

  it('plans the statements of a batch once per connection, batches of one as well', async () => {
    // Left to choose, PostgreSQL planned a lone event's statements that take the batch's uids as an
    // array afresh every time: a custom plan for one element looks cheaper than the generic one.
    const clock = new FakeClock();
    const one = await openPostgres(store.url, { maxConnections: 1 });
    try {
      const worker = workerWith(clock, async () => {}, { db: one, batchSize: 1 });
      for (let i = 0; i < 8; i++) {
        await storeCreated(clock, [sampleBooking()]);
        expect(await worker.runInboxOnce()).toBe(true);
      }
      const plans = await one.query<{ statement: string; generic_plans: string; custom_plans: string }>(
        'select statement, generic_plans, custom_plans from pg_prepared_statements',
      );
      const lock = plans.rows.find((r) => r.statement.includes('successor_uid'));
      expect(Number(lock?.generic_plans)).toBe(8);
      expect(plans.rows.filter((r) => Number(r.custom_plans) > 0).map((r) => r.statement)).toEqual([]);
    } finally {
      await one.close();
    }
  });

  it('lets requests read meanwhile go before each event of its batch', async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const bookings = [sampleBooking(), sampleBooking()];
    const handler: EventHandler = async (event) => {
      if (event.kind !== 'booking') return;
      order.push(event.booking.uid === bookings[0]!.uid ? 'first event' : 'second event');
      // A request read meanwhile: its callback is queued behind the I/O the worker is not waiting for.
      if (event.booking.uid === bookings[0]!.uid) setImmediate(() => order.push('request'));
    };
    // This handler alone: the booking handler's own reads would let the request in anyway.
    const worker = workerWith(clock, handler, { eventHandlers: [handler] });
    await storeCreated(clock, bookings);
    await worker.drain();
    expect(order).toEqual(['first event', 'request', 'second event']);
  });

  /** Waits (up to ten seconds) until `check` holds. */
  const eventually = async (check: () => Promise<boolean>) => {
    const until = Date.now() + 10_000;
    while (!(await check()) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    return check();
  };

  it('starts no batch while webhooks wait for their acknowledgement, and goes on once they are stored', async () => {
    const clock = new FakeClock();
    let pressed = true;
    let asked = 0;
    const worker = workerWith(clock, async () => {}, {
      pressed: () => {
        asked++;
        return pressed;
      },
      yieldAtMostMs: 60_000,
    });
    const [stored] = await storeCreated(clock, [sampleBooking()]);
    worker.start();
    try {
      // The worker has asked a few times (every 2 ms) and left the event alone.
      expect(await eventually(async () => asked > 5)).toBe(true);
      expect(await getInboxEvent(store.db, stored!.id)).toMatchObject({ state: 'pending' });
      pressed = false;
      expect(await eventually(async () => (await getInboxEvent(store.db, stored!.id))?.state === 'done')).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  it('still takes a batch now and then under webhooks that never stop', async () => {
    const clock = new FakeClock();
    const worker = workerWith(clock, async () => {}, { pressed: () => true, yieldAtMostMs: 50 });
    const [stored] = await storeCreated(clock, [sampleBooking()]);
    worker.start();
    try {
      expect(await eventually(async () => (await getInboxEvent(store.db, stored!.id))?.state === 'done')).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  it("wakes another process's worker at once for a webhook stored here", async () => {
    // Another process: its worker polls once a minute, so only a notice can wake it in time.
    const clock = new FakeClock();
    const handled: string[] = [];
    const other = new Worker({
      db: store.db,
      clock,
      log: createLogger('silent'),
      eventHandlers: [recordBookingState, async (event) => void (event.kind === 'booking' && handled.push(event.booking.uid))],
      jobHandlers: {},
      pollIntervalMs: 60_000,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 10,
    });
    other.start();
    try {
      // Its first polls (at start) find nothing; let them settle into waiting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const b = sampleBooking();
      const stored = await new InboxWriter(store.db).add({
        dedupeKey: b.uid,
        trigger: 'BOOKING_CREATED',
        bookingUid: b.uid,
        source: 'webhook',
        rawBody: envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), clock.now()),
        state: 'pending',
        receivedAt: clock.now(),
        maxAttempts: 2,
      });
      // Handled and committed (the handler runs before its transaction commits).
      const until = Date.now() + 10_000;
      while ((await getInboxEvent(store.db, stored.id))?.state !== 'done' && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await getInboxEvent(store.db, stored.id)).toMatchObject({ state: 'done' });
      expect(handled).toEqual([b.uid]);
    } finally {
      await other.stop();
    }
  });
});
