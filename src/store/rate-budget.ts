import { write, type Db, type Queryable } from './db.ts';

export interface BucketLimit {
  key: string;
  limit: number;
  windowSeconds: number;
}

/**
 * Cal.com counts calls when they reach it, Usher when it sends them: a window is counted 500 ms
 * longer than Cal.com's so that network jitter can never squeeze one call too many into one of its windows.
 */
export const WINDOW_MARGIN_MS = 500;

export type Admission = { ok: true } | { ok: false; retryAt: Date; bucket: string };

/**
 * Takes one call from every bucket, or from none. The budget lives in the database so that all
 * Usher processes on one PostgreSQL together stay under Cal.com's limits (invariant 5). A sliding
 * log rather than a token bucket: a bucket refilled at 2/s still lets 240 calls through in some
 * 60 s window after an idle minute, and Cal.com counts per window (CONTRACT §4.1). Hand-written
 * because no library shares a budget through PostgreSQL rows.
 */
export async function acquireRateBudget(db: Db, buckets: readonly BucketLimit[], now: Date): Promise<Admission> {
  const sorted = [...buckets].sort((a, b) => a.key.localeCompare(b.key));
  const keys = sorted.map((b) => b.key);
  return db.transaction(async (trx) => {
    // Writes nobody reads back go out without waiting (db.ts write): every Cal.com call waits for this transaction.
    await write(trx, 'insert into rate_buckets (key) select unnest($1::text[]) on conflict (key) do nothing', [keys]);
    // Row locks in key order: concurrent acquirers queue here instead of both counting the same log.
    const locked = await trx.query<{ key: string; blocked_until: Date | null }>(
      'select key, blocked_until from rate_buckets where key = any($1::text[]) order by key for update',
      [keys],
    );
    let wait: { retryAt: Date; bucket: string } | undefined;
    const later = (retryAt: Date, bucket: string) => {
      if (!wait || retryAt > wait.retryAt) wait = { retryAt, bucket };
    };
    for (const row of locked.rows) {
      if (row.blocked_until && new Date(row.blocked_until) > now) later(new Date(row.blocked_until), row.key);
    }
    // Every bucket's window asked at once (pipelined on the transaction's connection), under the row locks.
    const windows = await Promise.all(
      sorted.map((bucket) =>
        trx.query<{ called_at: Date }>(
          `select called_at from rate_calls where bucket = $1 and called_at > $2 order by called_at desc limit $3`,
          [bucket.key, new Date(now.getTime() - (bucket.windowSeconds * 1000 + WINDOW_MARGIN_MS)), bucket.limit],
        ),
      ),
    );
    for (const [i, bucket] of sorted.entries()) {
      const windowMs = bucket.windowSeconds * 1000 + WINDOW_MARGIN_MS;
      const calls = windows[i]!;
      if (calls.rows.length >= bucket.limit) {
        // The call that frees a slot is the limit-th newest one leaving the window.
        const freeing = new Date(calls.rows[calls.rows.length - 1]!.called_at);
        later(new Date(freeing.getTime() + windowMs + 1), bucket.key);
      }
    }
    if (wait) return { ok: false as const, ...wait };
    await write(trx, 'insert into rate_calls (bucket, called_at) select unnest($1::text[]), $2', [keys, now]);
    // The log only needs the current window: drop what no window can see any more.
    const longest = Math.max(...sorted.map((b) => b.windowSeconds)) * 1000 + WINDOW_MARGIN_MS;
    await write(trx, 'delete from rate_calls where bucket = any($1::text[]) and called_at < $2', [keys, new Date(now.getTime() - longest)]);
    return { ok: true as const };
  });
}

/** Cal.com said stop (a 429, or nothing remaining): nobody calls through this bucket until `until`. */
export async function blockRateBucket(db: Db, key: string, until: Date): Promise<void> {
  await db.query(
    `insert into rate_buckets (key, blocked_until) values ($1, $2)
     on conflict (key) do update set blocked_until = greatest(rate_buckets.blocked_until, excluded.blocked_until)`,
    [key, until],
  );
}

/** The shared log as it stands: calls since `since` and any block, per bucket (the board's estimates). */
export async function readRateLog(
  db: Queryable,
  keys: readonly string[],
  since: Date,
): Promise<Map<string, { calls: Date[]; blockedUntil: Date | null }>> {
  const log = new Map<string, { calls: Date[]; blockedUntil: Date | null }>(keys.map((k) => [k, { calls: [], blockedUntil: null }]));
  const [buckets, calls] = await Promise.all([
    db.query<{ key: string; blocked_until: Date | null }>('select key, blocked_until from rate_buckets where key = any($1::text[])', [
      keys,
    ]),
    db.query<{ bucket: string; called_at: Date }>(
      'select bucket, called_at from rate_calls where bucket = any($1::text[]) and called_at > $2',
      [keys, since],
    ),
  ]);
  for (const b of buckets.rows) log.get(b.key)!.blockedUntil = b.blocked_until ? new Date(b.blocked_until) : null;
  for (const c of calls.rows) log.get(c.bucket)!.calls.push(new Date(c.called_at));
  return log;
}

/**
 * How many more calls each bucket allows now: its limit less the calls in its window, none while
 * it is blocked. One statement; a read, not a reservation: another process may spend some of it
 * meanwhile.
 */
export async function readRateRoom(db: Queryable, buckets: readonly BucketLimit[], now: Date): Promise<Map<string, number>> {
  const since = buckets.map((b) => new Date(now.getTime() - (b.windowSeconds * 1000 + WINDOW_MARGIN_MS)));
  const result = await db.query<{ key: string; blocked: boolean; calls: number }>(
    `select k.key, coalesce(r.blocked_until > $3, false) as blocked,
            (select count(*)::int from rate_calls c where c.bucket = k.key and c.called_at > k.since) as calls
       from unnest($1::text[], $2::timestamptz[]) as k(key, since)
       left join rate_buckets r on r.key = k.key`,
    [buckets.map((b) => b.key), since, now],
  );
  const found = new Map(result.rows.map((row) => [row.key, row]));
  return new Map(
    buckets.map((b) => {
      const row = found.get(b.key)!;
      return [b.key, row.blocked ? 0 : Math.max(0, b.limit - row.calls)];
    }),
  );
}
