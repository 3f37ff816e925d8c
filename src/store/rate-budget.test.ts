import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { until } from '../../test/usher.ts';
import { acquireRateBudgets, RateBudgetQueue, WINDOW_MARGIN_MS, type BucketLimit } from './rate-budget.ts';

describe.each(storeKinds)('the shared rate budget on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());
  beforeEach(() => store.reset());
  const now = new Date('2026-12-01T08:00:00Z');
  const key: BucketLimit = { key: 'cal:key:test', limit: 3, windowSeconds: 60 };
  const location: BucketLimit = { key: 'cal:location:test', limit: 1, windowSeconds: 60 };
  const callsAt = async (bucket: string, ...at: Date[]) => {
    await store.db.query('insert into rate_buckets (key) values ($1) on conflict do nothing', [bucket]);
    await store.db.query('insert into rate_calls (bucket, called_at) select $1, unnest($2::timestamptz[])', [bucket, at]);
  };
  const calls = async (bucket: string) =>
    (await store.db.query<{ n: number }>('select count(*)::int as n from rate_calls where bucket = $1', [bucket])).rows[0]!.n;

  it('admits calls asked for together in their order, each from every bucket or from none', async () => {
    const earlier = new Date(now.getTime() - 10_000);
    await callsAt(key.key, earlier);
    await callsAt(location.key, new Date(now.getTime() - 20_000));
    const admissions = await acquireRateBudgets(store.db, [
      { buckets: [key], now },
      // Its location budget is spent: refused, and it takes nothing from the key's.
      { buckets: [key, location], now },
      { buckets: [key], now },
      { buckets: [key], now },
    ]);
    expect(admissions.map((a) => a.ok)).toEqual([true, false, true, false]);
    // The location call frees its slot when the call 20 s ago leaves the window.
    expect(admissions[1]).toEqual({
      ok: false,
      bucket: location.key,
      retryAt: new Date(now.getTime() - 20_000 + 60_000 + WINDOW_MARGIN_MS + 1),
    });
    // Three in the key's window: the one 10 s ago is the third newest, and the first to leave.
    expect(admissions[3]).toEqual({ ok: false, bucket: key.key, retryAt: new Date(earlier.getTime() + 60_000 + WINDOW_MARGIN_MS + 1) });
    expect(await calls(key.key)).toBe(3);
    expect(await calls(location.key)).toBe(1);
    // With the window full of calls taken together, the first of them frees the next slot.
    const after = await acquireRateBudgets(store.db, [
      { buckets: [{ ...key, limit: 5 }], now },
      { buckets: [{ ...key, limit: 5 }], now },
      { buckets: [{ ...key, limit: 5 }], now },
    ]);
    expect(after.map((a) => a.ok)).toEqual([true, true, false]);
    expect(after[2]).toEqual({ ok: false, bucket: key.key, retryAt: new Date(earlier.getTime() + 60_000 + WINDOW_MARGIN_MS + 1) });
  });

  it('counts the calls of an admission that held the bucket before it, once it has the bucket', async () => {
    await acquireRateBudgets(store.db, [{ buckets: [key], now }]);
    let waiting: Promise<{ ok: boolean }[]> | undefined;
    await store.db.transaction(async (trx) => {
      // Another process holds the bucket and spends what is left of it.
      await trx.query('select key from rate_buckets where key = $1 for update', [key.key]);
      waiting = acquireRateBudgets(store.db, [{ buckets: [key], now }]);
      await until('the admission waiting for the bucket', async () => {
        const blocked = await store.db.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        return blocked.rows[0]!.n > 0;
      });
      await trx.query('insert into rate_calls (bucket, called_at) values ($1, $2), ($1, $2)', [key.key, now]);
    });
    expect((await waiting!).map((a) => a.ok)).toEqual([false]);
    expect(await calls(key.key)).toBe(3);
  });

  it("takes one process's admissions asked for meanwhile together, first asked first admitted", async () => {
    const budget = new RateBudgetQueue(store.db);
    const asked = await Promise.all(Array.from({ length: 10 }, () => budget.acquire([{ ...key, limit: 4 }], now)));
    expect(asked.map((a) => a.ok)).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(await calls(key.key)).toBe(4);
  });

  it('refuses only the call that fails by itself when the transaction of a group fails, and goes on with the next', async () => {
    const budget = new RateBudgetQueue(store.db);
    // A window the server cannot compute (an invalid time) fails the transaction it is in.
    const broken = { key: 'cal:key:broken', limit: 3, windowSeconds: Number.NaN };
    // The first goes alone; the two asked while it runs go together, and their transaction fails.
    const asked = [budget.acquire([key], now), budget.acquire([broken], now), budget.acquire([key], now)];
    const settled = await Promise.allSettled(asked);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: { ok: true } });
    expect(await budget.acquire([key], now)).toEqual({ ok: true });
    expect(await calls(key.key)).toBe(3);
  });
});
