import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { FakeClock } from '../../test/clock.ts';
import { Worker } from '../jobs/worker.ts';
import { createLogger } from '../log.ts';
import { insertInboxEvents, lockInboxEvents, type InboxEvent } from './inbox.ts';

const now = new Date('2026-12-02T09:00:00Z');
const DAY0 = 20_500;

/** Events received one second apart, oldest first, each on the given day (undefined: names none). */
async function store(s: TestStore, days: readonly (number | undefined)[]): Promise<void> {
  await insertInboxEvents(
    s.db,
    days.map((d, i) => ({
      dedupeKey: `k${i}`,
      trigger: d === undefined ? 'BOOKING_NO_SHOW_UPDATED' : 'BOOKING_CREATED',
      bookingUid: `uid-${i}`,
      ...(d === undefined ? {} : { planDay: DAY0 + d }),
      source: 'webhook',
      rawBody: '{}',
      state: 'pending',
      maxAttempts: 8,
      receivedAt: new Date(now.getTime() - 3_600_000 + i * 1000),
    })),
  );
}

/** A first worker's claim held open (its transaction not ended) while `then` runs; its events. */
async function whileHeld<T>(s: TestStore, size: number, then: () => Promise<T>): Promise<{ first: InboxEvent[]; second: T }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let claimed!: (events: InboxEvent[]) => void;
  const firstClaim = new Promise<InboxEvent[]>((resolve) => (claimed = resolve));
  const transaction = s.db.transaction(async (trx) => {
    claimed(await lockInboxEvents(trx, now, size));
    await held;
  });
  const first = await firstClaim;
  try {
    return { first, second: await then() };
  } finally {
    release();
    await transaction;
  }
}

const keys = (events: readonly InboxEvent[]) => events.map((e) => e.dedupeKey);
/** A batch of `size`, from a worker whose recent batches held `prefer` (days after DAY0). */
const claim = (s: TestStore, size: number, prefer: readonly number[] = []) =>
  s.db.transaction((trx) =>
    lockInboxEvents(
      trx,
      now,
      size,
      prefer.map((d) => DAY0 + d),
    ),
  );

describe.each(storeKinds)('workers claiming inbox events by day on %s', (kind) => {
  let s: TestStore;
  beforeAll(async () => {
    s = await openTestStore(kind);
  });
  afterAll(() => s.close());
  beforeEach(() => s.reset());

  it('gives one worker alone the oldest events in order, even when a later day has more of them', async () => {
    // Day 0 has most of the oldest events; the second oldest is day 1's.
    await store(s, [0, 1, ...Array.from({ length: 30 }, () => 0)]);
    expect(keys(await claim(s, 8))).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
  });

  it('gives a second worker other days than the first one holds, and events that name no day', async () => {
    // The oldest 16 on days 0 and 1; then days 2 and 3, with a no-show (no day) among them.
    const days: (number | undefined)[] = [
      ...Array.from({ length: 16 }, (_, i) => i % 2),
      ...Array.from({ length: 16 }, (_, i) => 2 + (i % 2)),
    ];
    days[17] = undefined;
    await store(s, days);
    const { first, second } = await whileHeld(s, 8, () => claim(s, 8));
    expect(keys(first)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    // Not days 0 and 1's next events (k8…), which would wait for the first worker's room locks.
    expect(keys(second)).toEqual(['k16', 'k17', 'k18', 'k20', 'k22', 'k24', 'k26', 'k28']);
    // Once the first worker's batch ends, the oldest events left come first again.
    expect(keys(await claim(s, 4))).toEqual(['k0', 'k1', 'k2', 'k3']);
  });

  it('gives a third worker days neither of the first two holds', async () => {
    // The oldest 16 on days 0 and 1, then 16 on day 2, then 16 on day 3.
    await store(s, [...Array.from({ length: 16 }, (_, i) => i % 2), ...Array.from({ length: 32 }, (_, i) => (i < 16 ? 2 : 3))]);
    const { first, second } = await whileHeld(s, 8, () => whileHeld(s, 8, () => claim(s, 8)));
    expect(keys(first)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    expect(keys(second.first)).toEqual(['k16', 'k17', 'k18', 'k19', 'k20', 'k21', 'k22', 'k23']);
    // Not day 2's next events (k24…), which the second worker's day holds.
    expect(keys(second.second)).toEqual(['k32', 'k33', 'k34', 'k35', 'k36', 'k37', 'k38', 'k39']);
  });

  it('holds only the days of the events it took: the next worker gets the oldest events left', async () => {
    // Six events that name no day, one each of days 0 and 1, then eight of day 2 and eight of day 3.
    await store(s, [
      ...Array.from({ length: 6 }, () => undefined),
      0,
      1,
      ...Array.from({ length: 8 }, () => 2),
      ...Array.from({ length: 8 }, () => 3),
    ]);
    const { first, second } = await whileHeld(s, 8, () => claim(s, 8));
    expect(keys(first)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    // Day 2, not day 3: the first worker holds no day beyond its batch's.
    expect(keys(second)).toEqual(['k8', 'k9', 'k10', 'k11', 'k12', 'k13', 'k14', 'k15']);
  });

  it('gives a second worker the oldest events anyway when every day is held, so nothing waits for a claim', async () => {
    await store(s, [0, 0, 0, 0, 0]);
    const { first, second } = await whileHeld(s, 2, () => claim(s, 8));
    expect(keys(first)).toEqual(['k0', 'k1']);
    expect(keys(second)).toEqual(['k2', 'k3', 'k4']);
  });

  it("gives a worker the oldest event's day, then the days its recent batches held, before older events of other days", async () => {
    // Day 0 has only the oldest event; day 1, which the worker held, four more; day 2's come first.
    await store(s, [0, 2, 1, 2, 1, 3, 1, 1, 2]);
    expect(keys(await claim(s, 4, [1]))).toEqual(['k0', 'k2', 'k4', 'k6']);
  });

  it('leaves a preferred day another worker holds to it, and adds other days only until the batch is full', async () => {
    await store(s, [0, 1, 2, 2, 1, 3, 1, 4, 2]);
    const { first, second } = await whileHeld(s, 2, () => claim(s, 4, [1]));
    expect(keys(first)).toEqual(['k0', 'k1']);
    // Days 0 and 1 held: day 2 (three events) and day 3 (one) fill the batch; day 4 is not taken.
    expect(keys(second)).toEqual(['k2', 'k3', 'k5', 'k8']);
    const { second: third } = await whileHeld(s, 4, () => claim(s, 4, [2]));
    // Day 2 is preferred, but the first batch (k0–k3) holds it: days 3 and 4.
    expect(keys(third)).toEqual(['k5', 'k7']);
  });

  it('gives a worker with preferred days the oldest events anyway when every day is held', async () => {
    await store(s, [0, 0, 0, 0, 0]);
    const { second } = await whileHeld(s, 2, () => claim(s, 8, [0]));
    expect(keys(second)).toEqual(['k2', 'k3', 'k4']);
  });

  it("makes a worker's next batch keep to the days its last batches held", async () => {
    await store(s, [0, 1, 2, 3, 1, 1, 3, 1]);
    const worker = new Worker({
      db: s.db,
      clock: new FakeClock(now),
      log: createLogger('silent'),
      eventHandlers: [],
      jobHandlers: {},
      batchSize: 2,
      backlogBatchSize: 2,
      pollIntervalMs: 50,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 10,
    });
    await worker.runInboxOnce();
    await worker.runInboxOnce();
    const left = await s.db.query<{ dedupe_key: string }>(`select dedupe_key from inbox_events where state = 'pending' order by id`);
    // The first batch held days 0 and 1: the second took the oldest event left (k2, day 2), then day 1's k4 before day 3's k3.
    expect(left.rows.map((r) => r.dedupe_key)).toEqual(['k3', 'k5', 'k6', 'k7']);
  });
});
