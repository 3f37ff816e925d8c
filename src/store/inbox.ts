import { col, rowMapper } from './row-parsers.ts';
import { z } from 'zod';
import { write, type Db, type Queryable } from './db.ts';

export type InboxState = 'pending' | 'running' | 'done' | 'ignored' | 'unprocessable' | 'dead';
export type InboxSource = 'webhook' | 'reconciler' | 'operator';

export interface NewInboxEvent {
  dedupeKey: string;
  trigger: string;
  bookingUid: string | undefined;
  /**
   * The UTC day of the booking's start (planDayOf, store/rooms.ts), by which workers claim events
   * (migration 0021); undefined when the event names no start: it then goes with any batch.
   */
  planDay?: number;
  source: InboxSource;
  rawBody: string;
  state: 'pending' | 'ignored' | 'unprocessable';
  lastError?: string;
  maxAttempts: number;
  /** From the injected clock (src/clock.ts): it is also when a pending event first becomes runnable. */
  receivedAt: Date;
}

export interface InboxEvent {
  id: number;
  dedupeKey: string;
  trigger: string;
  bookingUid: string | null;
  source: InboxSource;
  rawBody: string;
  receivedAt: Date;
  state: InboxState;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lastError: string | null;
  finishedAt: Date | null;
  /** The UTC day of the booking's start (NewInboxEvent.planDay); null when it names none. */
  planDay: number | null;
}

export const inboxEventFromRow = rowMapper(
  'inbox_events',
  z.object({
    id: col.int,
    dedupe_key: col.text,
    trigger: col.text,
    booking_uid: col.nullableText,
    source: col.oneOf(['webhook', 'reconciler', 'operator']),
    raw_body: col.text,
    received_at: col.time,
    state: col.oneOf(['pending', 'running', 'done', 'ignored', 'unprocessable', 'dead']),
    attempts: col.int,
    max_attempts: col.int,
    run_at: col.time,
    last_error: col.nullableText,
    finished_at: col.nullableTime,
    plan_day: col.nullableInt,
  }),
  (r): InboxEvent => ({
    id: r.id,
    dedupeKey: r.dedupe_key,
    trigger: r.trigger,
    bookingUid: r.booking_uid,
    source: r.source,
    rawBody: r.raw_body,
    receivedAt: r.received_at,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    lastError: r.last_error,
    finishedAt: r.finished_at,
    planDay: r.plan_day,
  }),
);

export interface Stored {
  id: number;
  duplicate: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what this escapes
const NUL = /\u0000/g;

/**
 * PostgreSQL's text cannot hold U+0000, and JSON can carry it (`"\u0000"` in a uid or a trigger
 * name). Such an event is kept, never dropped: its fields with the character written as the six
 * characters `\u0000`, marked unprocessable with the reason (the raw body keeps its escapes as sent).
 */
export function storableInboxEvent(e: NewInboxEvent): NewInboxEvent {
  const fields = [e.dedupeKey, e.trigger, e.bookingUid ?? '', e.rawBody, e.lastError ?? ''];
  if (!fields.some((f) => f.includes('\u0000'))) return e;
  const escapeNul = (s: string) => s.replace(NUL, '\\u0000');
  return {
    ...e,
    dedupeKey: escapeNul(e.dedupeKey),
    trigger: escapeNul(e.trigger),
    bookingUid: e.bookingUid === undefined ? undefined : escapeNul(e.bookingUid),
    rawBody: escapeNul(e.rawBody),
    state: 'unprocessable',
    lastError: `a field holds the character U+0000, which Usher's store cannot keep as text; stored with it written as \\u0000${e.lastError ? ` (${escapeNul(e.lastError)})` : ''}`,
  };
}

/** Inserts events; a dedupe key already present is a duplicate and keeps the first row. */
export async function insertInboxEvents(db: Queryable, given: readonly NewInboxEvent[]): Promise<Stored[]> {
  if (given.length === 0) return [];
  const events = given.map(storableInboxEvent);
  const inserted = await db.query<{ id: string | number; dedupe_key: string }>(
    // The raw bodies travel as one JSON array, not a text[] literal: pg escapes an array's strings
    // with two regular expressions each (~20 µs for a 1.9 KB body, the webhook route's largest
    // single cost), JSON.stringify in native code (~4 µs).
    `insert into inbox_events (dedupe_key, trigger, booking_uid, source, raw_body, state, last_error, max_attempts,
                               received_at, run_at, finished_at, plan_day)
     select k, t, u, s, b.body, st, e, m, r, r, case when st = 'pending' then null else r end, d
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::text[], $7::text[], $8::int[], $9::timestamptz[], $10::int[])
              with ordinality as x(k, t, u, s, st, e, m, r, d, n)
       join json_array_elements_text($5::json) with ordinality as b(body, n) using (n)
     on conflict (dedupe_key) do nothing
     returning id, dedupe_key`,
    [
      events.map((e) => e.dedupeKey),
      events.map((e) => e.trigger),
      events.map((e) => e.bookingUid ?? null),
      events.map((e) => e.source),
      JSON.stringify(events.map((e) => e.rawBody)),
      events.map((e) => e.state),
      events.map((e) => e.lastError ?? null),
      events.map((e) => e.maxAttempts),
      events.map((e) => e.receivedAt),
      events.map((e) => e.planDay ?? null),
    ],
  );
  const fresh = new Map(inserted.rows.map((r) => [r.dedupe_key, Number(r.id)]));
  const missing = events.map((e) => e.dedupeKey).filter((k) => !fresh.has(k));
  const existing = new Map<string, number>();
  if (missing.length > 0) {
    const found = await db.query<{ id: string | number; dedupe_key: string }>(
      'select id, dedupe_key from inbox_events where dedupe_key = any($1::text[])',
      [missing],
    );
    for (const r of found.rows) existing.set(r.dedupe_key, Number(r.id));
  }
  const claimed = new Set<string>();
  return events.map((e) => {
    const id = fresh.get(e.dedupeKey);
    if (id !== undefined && !claimed.has(e.dedupeKey)) {
      claimed.add(e.dedupeKey);
      return { id, duplicate: false };
    }
    return { id: id ?? existing.get(e.dedupeKey) ?? 0, duplicate: true };
  });
}

/**
 * Group commit for the webhook route: events that arrive in one turn of the event loop, and while
 * the inserts in flight commit, go in one multi-row insert, so one fsync'd commit acknowledges many
 * webhooks. Starting the flush on setImmediate (after pending I/O callbacks) lets the requests read
 * in the same turn join, instead of a batch of one per query. At low load that costs well under a
 * millisecond; under load hundreds of events share one statement.
 */
export class InboxWriter {
  #queue: { event: NewInboxEvent; resolve: (s: Stored) => void; reject: (e: unknown) => void }[] = [];
  /** Inserts in flight, each on its own connection. */
  #flushing = 0;
  #starting = false;
  readonly #db: Db;
  readonly #maxBatch: number;
  readonly #maxFlushes: number;
  #waiting = 0;

  /**
   * `maxFlushes`: inserts in flight at once. With one, a webhook read while an insert commits
   * waited for that commit and then its own; with two it goes out at once on a second connection.
   */
  constructor(db: Db, maxBatch = 500, maxFlushes = 2) {
    this.#db = db;
    this.#maxBatch = maxBatch;
    this.#maxFlushes = maxFlushes;
  }

  add(event: NewInboxEvent): Promise<Stored> {
    this.#waiting++;
    return new Promise<Stored>((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      this.#start();
    }).finally(() => {
      this.#waiting--;
    });
  }

  /** Events handed to add() and not yet stored (or refused): each a webhook waiting for its acknowledgement. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Starts a flush on setImmediate (once per turn) if fewer than maxFlushes are in flight. */
  #start(): void {
    if (this.#starting || this.#flushing >= this.#maxFlushes) return;
    this.#starting = true;
    setImmediate(() => {
      this.#starting = false;
      if (this.#queue.length > 0 && this.#flushing < this.#maxFlushes) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing++;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          const stored = await insertInboxEvents(
            this.#db,
            batch.map((b) => b.event),
          );
          for (const [i, b] of batch.entries()) b.resolve(stored[i]!);
        } catch (error) {
          // One event never decides another's fate (DESIGN §4): the group failed, so each row goes
          // alone and only a row that fails by itself is refused.
          if (batch.length === 1) batch[0]!.reject(error);
          else {
            for (const b of batch) {
              await insertInboxEvents(this.#db, [b.event]).then(
                (stored) => b.resolve(stored[0]!),
                (alone: unknown) => b.reject(alone),
              );
            }
          }
        }
        // Let requests that arrived meanwhile reach add() before deciding the queue is empty.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      // An insert that finds the queue empty ends; one still in flight takes what comes next.
      this.#flushing--;
    }
  }
}

/**
 * Locks the next runnable events for the caller's transaction; SKIP LOCKED lets workers share. The
 * events come from days no other worker's batch holds (migration 0021: the oldest events' days
 * first, so one worker alone takes the oldest events), and with them any event that names no day.
 * `prefer`, the days the worker's recent batches held, come right after the oldest event's day
 * (migration 0025), so that several workers each keep to days of their own. It also sets the rest
 * of the caller's transaction (the worker's batch) to generic plans.
 */
export async function lockInboxEvents(trx: Queryable, now: Date, limit: number, prefer: readonly number[] = []): Promise<InboxEvent[]> {
  // The batch's prepared statements use their generic plans (planned once per connection). Left to
  // choose, PostgreSQL planned some afresh for every batch of one — those taking the batch's uids
  // or days as an array, whose one element makes a custom plan look cheaper than the generic one's
  // guess of ten: ~150 µs each for the bookings' lock and the rooms' days, against ~25 µs of running
  // them (pg_stat_statements with track_planning, bench:decision; docs/benchmarks.md). The worker's
  // statements are keyed lookups and ranges on their indexes, which a generic plan serves as well.
  await write(trx, 'set local plan_cache_mode = force_generic_plan');
  const result = await trx.query('select * from inbox_claim($1, $2, $3::integer[])', [now, limit, prefer]);
  return result.rows.map(inboxEventFromRow);
}

export async function finishInboxEvents(
  trx: Queryable,
  finished: readonly { id: number; state: 'done' | 'ignored' | 'unprocessable'; note: string | null }[],
  now: Date,
): Promise<void> {
  if (finished.length === 0) return;
  // Sent without waiting: the commit follows it on the connection (db.ts).
  await write(
    trx,
    `update inbox_events e set state = f.state, attempts = e.attempts + 1, finished_at = $4, last_error = f.note,
            locked_by = null, locked_at = null
       from unnest($1::bigint[], $2::text[], $3::text[]) as f(id, state, note)
      where e.id = f.id`,
    [finished.map((f) => f.id), finished.map((f) => f.state), finished.map((f) => f.note), now],
  );
}

/** Records a failed attempt: back to pending at `retryAt`, or dead once attempts are spent. */
export async function failInboxEvent(db: Queryable, id: number, error: string, retryAt: Date, now: Date): Promise<InboxState> {
  const result = await db.query<{ state: InboxState }>(
    `update inbox_events
        set attempts = attempts + 1,
            last_error = $2,
            state = case when attempts + 1 >= max_attempts then 'dead' else 'pending' end,
            run_at = $3,
            finished_at = case when attempts + 1 >= max_attempts then $4::timestamptz else null end
      where id = $1
      returning state`,
    [id, error.slice(0, 4000), retryAt, now],
  );
  return result.rows[0]?.state ?? 'dead';
}

export async function getInboxEvent(db: Queryable, id: number): Promise<InboxEvent | undefined> {
  const result = await db.query('select * from inbox_events where id = $1', [id]);
  return result.rows[0] ? inboxEventFromRow(result.rows[0]) : undefined;
}

export async function listInboxEvents(
  db: Queryable,
  filter: { state?: InboxState; bookingUid?: string; limit: number },
): Promise<InboxEvent[]> {
  const result = await db.query(
    `select * from inbox_events
      where ($1::text is null or state = $1) and ($2::text is null or booking_uid = $2)
      order by id desc limit $3`,
    [filter.state ?? null, filter.bookingUid ?? null, filter.limit],
  );
  return result.rows.map(inboxEventFromRow);
}

/** An operator re-runs a dead (or unprocessable) event: attempts start again. */
export async function replayInboxEvent(db: Queryable, id: number, now: Date): Promise<InboxEvent | undefined> {
  const result = await db.query(
    `update inbox_events set state = 'pending', attempts = 0, run_at = $2, finished_at = null
      where id = $1 and state in ('dead', 'unprocessable')
      returning *`,
    [id, now],
  );
  return result.rows[0] ? inboxEventFromRow(result.rows[0]) : undefined;
}

export async function countInboxByState(db: Queryable): Promise<Record<string, number>> {
  const result = await db.query<{ state: string; n: string | number }>('select state, count(*) as n from inbox_events group by state');
  return Object.fromEntries(result.rows.map((r) => [r.state, Number(r.n)]));
}

export async function oldestPendingInboxAge(db: Queryable, now: Date): Promise<number> {
  const result = await db.query<{ at: Date | null }>(
    `select min(received_at) as at from inbox_events where state in ('pending', 'running')`,
  );
  const at = result.rows[0]?.at;
  return at ? Math.max(0, (now.getTime() - new Date(at).getTime()) / 1000) : 0;
}
