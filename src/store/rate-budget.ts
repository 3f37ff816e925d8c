import { withGenericPlans, write, type Db, type Queryable } from './db.ts';
import { GatheredCalls } from './gathered-calls.ts';

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
  return (await acquireRateBudgets(db, [{ buckets, now }]))[0]!;
}

export interface RateRequest {
  buckets: readonly BucketLimit[];
  now: Date;
}

/**
 * acquireRateBudget for several calls in one transaction, each in the order given: a call takes one
 * from every bucket or from none, and a call refused takes nothing from the ones after it. The
 * calls are counted at the latest of their times (the transaction's), when they will be sent.
 */
export async function acquireRateBudgets(db: Db, requests: readonly RateRequest[]): Promise<Admission[]> {
  const now = new Date(Math.max(...requests.map((r) => r.now.getTime())));
  const byKey = new Map(requests.flatMap((r) => r.buckets).map((b) => [b.key, b]));
  const keys = [...byKey.keys()].sort();
  const windowMs = (b: BucketLimit) => b.windowSeconds * 1000 + WINDOW_MARGIN_MS;
  const since = (b: BucketLimit) => new Date(now.getTime() - windowMs(b));
  return db.transaction(async (trx) => {
    // Writes nobody reads back go out without waiting (db.ts write): every Cal.com call waits for this transaction.
    await write(trx, 'insert into rate_buckets (key) select unnest($1::text[]) on conflict (key) do nothing', [keys]);
    // Row locks in key order: concurrent acquirers queue here instead of both counting the same log.
    // The count is its own statement, sent at once but run after the locks are held, so its snapshot
    // sees every call the holder before committed (one statement would count before waiting).
    const [locked, counted] = await Promise.all([
      trx.query<{ key: string; blocked_until: Date | null }>(
        'select key, blocked_until from rate_buckets where key = any($1::text[]) order by key for update',
        [keys],
      ),
      trx.query<{ key: string; calls: number }>(
        `select k.key, (select count(*)::int from rate_calls c where c.bucket = k.key and c.called_at > k.since) as calls
           from unnest($1::text[], $2::timestamptz[]) as k(key, since)`,
        [keys, keys.map((key) => since(byKey.get(key)!))],
      ),
    ]);
    const calls = new Map(counted.rows.map((row) => [row.key, row.calls]));
    const state = new Map(locked.rows.map((row) => [row.key, { ...row, calls: calls.get(row.key)!, taken: 0 }]));
    // When the call that frees a slot leaves the window: the limit-th newest, counting the ones
    // taken here (sent at `now`, the newest of all). Asked only for a call refused.
    const freedAt = async (b: BucketLimit, taken: number): Promise<Date> => {
      if (taken >= b.limit) return new Date(now.getTime() + windowMs(b) + 1);
      const row = await trx.query<{ called_at: Date }>(
        'select called_at from rate_calls where bucket = $1 and called_at > $2 order by called_at desc offset $3 limit 1',
        [b.key, since(b), b.limit - taken - 1],
      );
      // Found, since the count was made under the same locks; were it not, a whole window from now.
      const freeing = row.rows[0] ? new Date(row.rows[0].called_at) : now;
      return new Date(freeing.getTime() + windowMs(b) + 1);
    };
    const admissions: Admission[] = [];
    for (const request of requests) {
      let wait: { retryAt: Date; bucket: string } | undefined;
      const later = (retryAt: Date, bucket: string) => {
        if (!wait || retryAt > wait.retryAt) wait = { retryAt, bucket };
      };
      for (const b of request.buckets) {
        const s = state.get(b.key)!;
        if (s.blocked_until && new Date(s.blocked_until) > now) later(new Date(s.blocked_until), b.key);
        if (s.calls + s.taken >= b.limit) later(await freedAt(b, s.taken), b.key);
      }
      if (!wait) for (const b of request.buckets) state.get(b.key)!.taken++;
      admissions.push(wait ? { ok: false as const, ...wait } : { ok: true as const });
    }
    const sent = [...state.values()].flatMap((s) => Array<string>(s.taken).fill(s.key));
    if (sent.length > 0) await write(trx, 'insert into rate_calls (bucket, called_at) select unnest($1::text[]), $2', [sent, now]);
    // The log only needs the current window: drop what no window can see any more.
    const longest = Math.max(...[...byKey.values()].map(windowMs));
    await write(trx, 'delete from rate_calls where bucket = any($1::text[]) and called_at < $2', [keys, new Date(now.getTime() - longest)]);
    return admissions;
  });
}

/**
 * One process's admissions: the calls asked for while one transaction takes its own wait and go
 * together in the next, in the order they were asked (GatheredCalls). Every admission locks the
 * same bucket rows, so they could only ever run one after another; together, twenty confirmations
 * pay for one transaction, not twenty (docs/benchmarks.md, webhook → Cal.com).
 */
export class RateBudgetQueue {
  readonly #admissions: GatheredCalls<RateRequest, Admission>;

  constructor(db: Db) {
    this.#admissions = new GatheredCalls((requests) => acquireRateBudgets(db, requests));
  }

  acquire(buckets: readonly BucketLimit[], now: Date): Promise<Admission> {
    return this.#admissions.ask({ buckets, now });
  }
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
 * it is blocked. One read; not a reservation: another process may spend some of it meanwhile.
 */
export async function readRateRoom(db: Db, buckets: readonly BucketLimit[], now: Date): Promise<Map<string, number>> {
  const since = buckets.map((b) => new Date(now.getTime() - (b.windowSeconds * 1000 + WINDOW_MARGIN_MS)));
  const result = await withGenericPlans(db, (trx) =>
    trx.query<{ key: string; blocked: boolean; calls: number }>(
      `select k.key, coalesce(r.blocked_until > $3, false) as blocked,
            (select count(*)::int from rate_calls c where c.bucket = k.key and c.called_at > k.since) as calls
       from unnest($1::text[], $2::timestamptz[]) as k(key, since)
       left join rate_buckets r on r.key = k.key`,
      [buckets.map((b) => b.key), since, now],
    ),
  );
  const found = new Map(result.rows.map((row) => [row.key, row]));
  return new Map(
    buckets.map((b) => {
      const row = found.get(b.key)!;
      return [b.key, row.blocked ? 0 : Math.max(0, b.limit - row.calls)];
    }),
  );
}
