import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Booking } from '../domain/booking.ts';
import { isUsherError } from '../errors.ts';
import { replay } from '../jobs/replay.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { enqueueJob, claimJobs, claimNextJob, deadLetterJob, getJob, JobCompletions } from './jobs.ts';
import { failInboxEvent, getInboxEvent, insertInboxEvents } from './inbox.ts';
import { migrate, pendingMigrations } from './migrate.ts';
import { openPostgres, type Queryable } from './db.ts';
import { openStore } from './open-store.ts';
import { getBooking, saveBooking } from './bookings.ts';

describe.each(storeKinds)('store on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());
  beforeEach(() => store.reset());
  const now = new Date('2026-12-01T08:00:00Z');

  it('fails a transaction whose write sent without waiting failed: the next read or the commit says why, and nothing of it stays', async () => {
    await store.db.exec('create table later_probe (id int primary key)');
    const insert = (trx: Queryable, id: number) => trx.later!('insert into later_probe values ($1)', [id]);
    const count = async () => (await store.db.query<{ n: number }>('select count(*)::int as n from later_probe')).rows[0]!.n;
    // Found at the commit: the transaction is not reported committed.
    await expect(
      store.db.transaction(async (trx) => {
        insert(trx, 1);
        insert(trx, 1);
      }),
    ).rejects.toThrow(/duplicate key/);
    // Found by the next statement, which tells the write's error, not "the transaction is aborted".
    await expect(
      store.db.transaction(async (trx) => {
        insert(trx, 2);
        insert(trx, 2);
        await trx.query('select count(*) from later_probe where id > $1', [0]);
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await count()).toBe(0);
    // Writes that succeed are seen by the statements behind them, and commit.
    const seen = await store.db.transaction(async (trx) => {
      insert(trx, 3);
      insert(trx, 4);
      return (await trx.query<{ n: number }>('select count(*)::int as n from later_probe where id > $1', [0])).rows[0]!.n;
    });
    expect(seen).toBe(2);
    expect(await count()).toBe(2);
    // A read sent without waiting (soon) is answered in order, and one that fails, never awaited,
    // fails the transaction all the same (a commit would end it as a rollback without saying so).
    const [before, after] = await store.db.transaction(async (trx) => {
      const first = trx.soon!<{ n: number }>('select count(*)::int as n from later_probe where id > $1', [0]);
      insert(trx, 5);
      const second = trx.soon!<{ n: number }>('select count(*)::int as n from later_probe where id > $1', [0]);
      return [(await first).rows[0]!.n, (await second).rows[0]!.n];
    });
    expect([before, after]).toEqual([2, 3]);
    await expect(
      store.db.transaction(async (trx) => {
        void trx.soon!('select 1 / ($1::int - 1)', [1]).catch(() => {});
        insert(trx, 6);
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await count()).toBe(3);
    // A statement that fails tells its own error, not that of a read sent behind it (which only
    // says the transaction is aborted).
    await expect(
      store.db.transaction(async (trx) => {
        const failing = trx.query('select 1 / ($1::int - 1)', [1]);
        const behind = trx.soon!('select count(*) from later_probe where id > $1', [0]);
        behind.catch(() => {});
        await failing;
      }),
    ).rejects.toThrow(/division by zero/);
  });

  it('returns a saved booking exactly as it reads back: every field, and metadata keys in the order jsonb keeps', async () => {
    // Strings as people and Cal.com send them (never U+0000, which Usher refuses at the door).
    const text = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((t) => !t.includes('\0'));
    const key = fc.oneof(text, fc.nat({ max: 5000 }).map(String), fc.constantFrom('__proto__', 'a', 'aa', 'b', 'é', '10', '9'));
    const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    const at = fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2032, 0, 1) }).map((t) => new Date(t));
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const booking = fc.record({
      uid: fc.uuid(),
      status: fc.constantFrom('pending', 'accepted', 'cancelled', 'rejected' as const),
      start: at,
      minutes: fc.integer({ min: 5, max: 240 }),
      metadata: fc.dictionary(key, json, { maxKeys: 6 }),
      calId: maybe(fc.integer({ min: 1, max: 2 ** 31 - 1 })),
      title: maybe(text),
      organizerEmail: maybe(text),
      location: maybe(text),
      lastEventAt: maybe(at),
      seats: maybe(fc.array(text, { maxLength: 3 })),
      inSeries: maybe(fc.boolean()),
      coHosts: maybe(fc.array(text, { maxLength: 2 })),
    });
    await fc.assert(
      fc.asyncProperty(booking, async ({ minutes, ...r }) => {
        const b = Object.fromEntries(
          Object.entries({ ...r, end: new Date(r.start.getTime() + minutes * 60_000) }).filter(([, v]) => v !== undefined),
        ) as unknown as Booking;
        // In a transaction (the write goes without waiting) and outside one.
        const inTransaction = await store.db.transaction((trx) => saveBooking(trx, b, now));
        expect(JSON.stringify(inTransaction)).toBe(JSON.stringify(await getBooking(store.db, b.uid)));
        const changed = { ...b, status: 'cancelled' as const, metadata: { ...b.metadata, later: [1, { z: 1, a: 2 }] } };
        const outside = await saveBooking(store.db, changed, now);
        expect(JSON.stringify(outside)).toBe(JSON.stringify(await getBooking(store.db, b.uid)));
      }),
      { numRuns: 150 },
    );
  });

  it('runs a statement prepared before a migration changed its table after it, on every connection', async () => {
    // One connection, so the statement is surely prepared on the one that runs it again.
    const db = await openPostgres(store.url, { maxConnections: 1 });
    try {
      await db.exec('create table prepared_probe (id int primary key, a text)');
      await db.query('insert into prepared_probe values ($1, $2)', [1, 'x']);
      const read = () => db.query('select * from prepared_probe where id = $1', [1]);
      for (let i = 0; i < 3; i++) expect((await read()).rows).toEqual([{ id: 1, a: 'x' }]);
      // A migration (of this process or another) adds a column to a table read whole.
      await store.db.exec('alter table prepared_probe add column b int');
      expect((await read()).rows).toEqual([{ id: 1, a: 'x', b: null }]);
      // In a transaction the refusal stands once (the transaction is lost); the retry runs.
      await store.db.exec('alter table prepared_probe add column c int');
      await expect(db.transaction((trx) => trx.query('select * from prepared_probe where id = $1', [1]))).rejects.toThrow(/cached plan/);
      expect((await db.transaction((trx) => trx.query('select * from prepared_probe where id = $1', [1]))).rows).toEqual([
        { id: 1, a: 'x', b: null, c: null },
      ]);
    } finally {
      await store.db.exec('drop table if exists prepared_probe');
      await db.close();
    }
  });

  it('locks the days a room change touches: each day of either span once, ascending, as room_plan_days_of counts them', async () => {
    const DAY = 86_400_000_000; // µs
    // Bounds in microseconds since the epoch, near midnights (the edges) or anywhere, 2021 to 2033.
    const instant = fc.oneof(
      fc.tuple(fc.integer({ min: 18_600, max: 23_000 }), fc.constantFrom(-1, 0, 1)).map(([d, e]) => d * DAY + e),
      fc.integer({ min: 18_600 * DAY, max: 23_000 * DAY }),
    );
    // Each under the 400 days beyond which the whole plan's lock is taken instead; empty when from = to.
    const span = fc.option(
      fc
        .tuple(instant, fc.oneof(fc.constantFrom(0, 1, DAY - 1, DAY, DAY + 1), fc.integer({ min: 0, max: 399 * DAY })))
        .map(([from, length]) => [from, from + length]),
    );
    const range = (n: number) =>
      `case when $${n}::bigint is null then null else tstzrange(timestamptz 'epoch' + $${n}::bigint * interval '1 microsecond', timestamptz 'epoch' + $${n + 1}::bigint * interval '1 microsecond') end`;
    const compare = (a: number[] | null, b: number[] | null) =>
      store.db.transaction(async (trx) => {
        const row = (
          await trx.query<{ locked: number[] | null; counted: number[] }>(
            `select room_plan_lock(${range(1)}, ${range(3)}) as locked,
                    (select coalesce(array_agg(d order by d), '{}') from (select room_plan_days_of(${range(1)}) as d union select room_plan_days_of(${range(3)})) days) as counted`,
            [a?.[0] ?? null, a?.[1] ?? null, b?.[0] ?? null, b?.[1] ?? null],
          )
        ).rows[0]!;
        const held = await trx.query<{ day: number }>(
          `select objid::integer as day from pg_locks where locktype = 'advisory' and classid = hashtext('usher.rooms.day')::oid and pid = pg_backend_pid() order by 1`,
        );
        return { ...row, held: held.rows.map((r) => Number(r.day)) };
      });
    await fc.assert(
      fc.asyncProperty(span, span, async (a, b) => {
        const { locked, counted, held } = await compare(a, b);
        expect(locked).toEqual(counted.map(Number));
        expect(held).toEqual(counted.map(Number));
      }),
      { numRuns: 300 },
    );
    // A span longer than 400 days (or open) takes the whole plan's lock and names no days.
    const long = await compare([20_000 * DAY, 20_401 * DAY], [20_000 * DAY, 20_000 * DAY + 1]);
    expect(long.locked).toBeNull();
    expect(long.held).toEqual([]);
  });

  it('applies migrations once; running them again changes nothing', async () => {
    expect(await pendingMigrations(store.db)).toEqual([]);
    expect((await migrate(store.db)).applied).toEqual([]);
  });

  it('dead-letters an event after its last attempt and replays it with fresh attempts', async () => {
    const [stored] = await insertInboxEvents(store.db, [
      {
        dedupeKey: 'k1',
        trigger: 'BOOKING_CREATED',
        bookingUid: 'u1',
        source: 'webhook',
        rawBody: '{}',
        state: 'pending',
        maxAttempts: 2,
        receivedAt: now,
      },
    ]);
    const id = stored!.id;
    expect(await failInboxEvent(store.db, id, 'boom 1', now, now)).toBe('pending');
    expect(await failInboxEvent(store.db, id, 'boom 2', now, now)).toBe('dead');
    expect(await getInboxEvent(store.db, id)).toMatchObject({ state: 'dead', attempts: 2, lastError: 'boom 2' });
    const replayed = await replay(store.db, `evt_${id}`, now);
    expect('event' in replayed && replayed.event).toMatchObject({ state: 'pending', attempts: 0 });
    await expect(replay(store.db, `evt_${id}`, now)).rejects.toSatisfy((e) => isUsherError(e, 'CONFLICT'));
    await expect(replay(store.db, 'evt_999999', now)).rejects.toSatisfy((e) => isUsherError(e, 'NOT_FOUND'));
    await expect(replay(store.db, 'banana', now)).rejects.toSatisfy((e) => isUsherError(e, 'BAD_REQUEST'));
  });

  it('never runs two jobs with one coalescing key at once, and a replay behind a newer value is superseded', async () => {
    const first = await store.db.transaction((trx) =>
      enqueueJob(trx, { kind: 'cal.location', payload: { v: 1 }, coalesceKey: 'loc:u1', maxAttempts: 3 }, now),
    );
    const claimed = await claimNextJob(store.db, 'w1', now);
    expect(claimed?.id).toBe(first.id);
    const second = await store.db.transaction((trx) =>
      enqueueJob(trx, { kind: 'cal.location', payload: { v: 2 }, coalesceKey: 'loc:u1', maxAttempts: 3 }, now),
    );
    expect(second.id).not.toBe(first.id);
    expect(await claimNextJob(store.db, 'w2', now)).toBeUndefined();
    await deadLetterJob(store.db, first.id, 'HTTP 400', null, now);
    expect((await claimNextJob(store.db, 'w2', now))?.id).toBe(second.id);
    const third = await store.db.transaction((trx) =>
      enqueueJob(trx, { kind: 'cal.location', payload: { v: 3 }, coalesceKey: 'loc:u1', maxAttempts: 3 }, now),
    );
    expect(third.coalesced).toBe(false);
    await replay(store.db, `job_${first.id}`, now);
    expect(await getJob(store.db, first.id)).toMatchObject({ state: 'superseded' });
  });

  it('claims only the kinds asked for, the most urgent of them first, and not one whose key is running', async () => {
    const at = (hour: number) => new Date(Date.UTC(2027, 0, 4, hour));
    const add = (kind: string, hour: number, coalesceKey?: string) =>
      store.db.transaction((trx) => enqueueJob(trx, { kind, payload: {}, priorityAt: at(hour), maxAttempts: 3, coalesceKey }, now));
    // The location writes stand for a backlog held back for its budget, which the worker asks around (jobs/worker.ts).
    for (let i = 0; i < 50; i++) await add('cal.location', 1);
    const confirmLate = await add('cal.confirm', 9);
    const declineSoon = await add('cal.decline', 5);
    const cancelKeyed = await add('cal.cancel', 2, 'cancel:u1');
    await store.db.query(`update jobs set state = 'running' where id = (select id from jobs where kind = 'cal.location' limit 1)`);
    await store.db.query(`update jobs set coalesce_key = 'cancel:u1' where state = 'running'`);
    expect(await claimNextJob(store.db, 'w', now, [])).toBeUndefined();
    // The cancel is the most urgent of the three but its key is running: the decline, then the confirm.
    expect((await claimNextJob(store.db, 'w', now, ['cal.confirm', 'cal.decline', 'cal.cancel']))?.id).toBe(declineSoon.id);
    expect((await claimNextJob(store.db, 'w', now, ['cal.confirm', 'cal.cancel']))?.id).toBe(confirmLate.id);
    expect(await claimNextJob(store.db, 'w', now, ['cal.confirm', 'cal.cancel'])).toBeUndefined();
    expect((await getJob(store.db, cancelKeyed.id))?.state).toBe('pending');
    // Without kinds, any kind: the location writes, soonest.
    expect((await claimNextJob(store.db, 'w', now))?.kind).toBe('cal.location');
  });

  it('claims several jobs in one go, the most urgent first, each claimed once, none whose key is running', async () => {
    const at = (hour: number) => new Date(Date.UTC(2027, 0, 4, hour));
    const add = (kind: string, hour: number | null, coalesceKey?: string) =>
      store.db.transaction((trx) =>
        enqueueJob(trx, { kind, payload: {}, priorityAt: hour === null ? undefined : at(hour), maxAttempts: 3, coalesceKey }, now),
      );
    const late = await add('cal.confirm', 9);
    const none = await add('cal.confirm', null);
    const soon = await add('cal.decline', 3);
    const keyed = await add('cal.location', 1, 'location:u1');
    const running = await add('cal.location', 2, 'location:u2');
    const other = await add('automation.deliver', 4);
    const later = await add('cal.location', 5);
    await store.db.query(`update jobs set state = 'running' where id = $1`, [running.id]);
    await add('cal.location', 0, 'location:u2'); // pending behind its running key
    const ids = (jobs: { id: number }[]) => jobs.map((j) => j.id);
    // Of the kinds asked for, three, in urgency order (no urgency last), two of one kind.
    expect(ids(await claimJobs(store.db, 'w1', now, ['cal.confirm', 'cal.decline', 'cal.location'], 3))).toEqual([
      keyed.id,
      soon.id,
      later.id,
    ]);
    expect(ids(await claimJobs(store.db, 'w2', now, ['cal.confirm', 'cal.decline', 'cal.location'], 3))).toEqual([late.id, none.id]);
    expect(ids(await claimJobs(store.db, 'w2', now, undefined, 5))).toEqual([other.id]);
    const states = await store.db.query<{ id: number; state: string; locked_by: string | null; attempts: number }>(
      'select id, state, locked_by, attempts from jobs order by id',
    );
    expect(states.rows.filter((r) => r.state === 'running').map((r) => [Number(r.id), r.locked_by, r.attempts])).toEqual([
      [late.id, 'w2', 1],
      [none.id, 'w2', 1],
      [soon.id, 'w1', 1],
      [keyed.id, 'w1', 1],
      [running.id, null, 0],
      [other.id, 'w2', 1],
      [later.id, 'w1', 1],
    ]);
    expect(states.rows.filter((r) => r.state === 'pending')).toHaveLength(1);
  });

  it('claims at most one job in all of the kinds asked for one at a time, beside the others, within the limit', async () => {
    const at = (hour: number) => new Date(Date.UTC(2027, 0, 4, hour));
    const add = (kind: string, hour: number) =>
      store.db.transaction((trx) => enqueueJob(trx, { kind, payload: {}, priorityAt: at(hour), maxAttempts: 3 }, now));
    const locations = [await add('cal.location', 1), await add('cal.location', 2)];
    const delivery = await add('automation.deliver', 3);
    const confirms = [await add('cal.confirm', 4), await add('cal.confirm', 5), await add('cal.confirm', 6)];
    const ids = (jobs: { id: number }[]) => jobs.map((j) => j.id);
    const oneAtATime = ['cal.location', 'automation.deliver'];
    // The soonest location write, not the second nor the delivery; confirmations up to the limit.
    expect(ids(await claimJobs(store.db, 'w', now, ['cal.confirm'], 3, oneAtATime))).toEqual([
      locations[0]!.id,
      confirms[0]!.id,
      confirms[1]!.id,
    ]);
    expect(ids(await claimJobs(store.db, 'w', now, ['cal.confirm'], 3, oneAtATime))).toEqual([locations[1]!.id, confirms[2]!.id]);
    expect(ids(await claimJobs(store.db, 'w', now, [], 3, oneAtATime))).toEqual([delivery.id]);
  });

  it('marks jobs that finish together done in one commit; one that cannot be written fails alone; an answer jsonb refuses is kept', async () => {
    // One after another: each array in the order of the jobs' ids.
    const add = async (n: number) => {
      const jobs: { id: number }[] = [];
      for (let i = 0; i < n; i++)
        jobs.push(await store.db.transaction((trx) => enqueueJob(trx, { kind: 'cal.confirm', payload: {}, maxAttempts: 3 }, now)));
      return jobs;
    };
    const completions = new JobCompletions(store.db);
    const first = await add(5);
    await claimJobs(store.db, 'w', now, undefined, 5);
    // The first goes alone; the four that finish while it is written go together.
    await Promise.all(first.map((j) => completions.complete(j.id, { status: 'success', data: { id: j.id } }, now)));
    const rows = await store.db.query<{ state: string; last_response: unknown; commits: number }>(
      `select state, last_response, count(*) over (partition by xmin::text)::int as commits from jobs where id = any($1::bigint[]) order by id`,
      [first.map((j) => j.id)],
    );
    expect(rows.rows.map((r) => r.state)).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(rows.rows.map((r) => r.commits)).toEqual([1, 4, 4, 4, 4]);
    expect(rows.rows[2]!.last_response).toEqual({ status: 'success', data: { id: first[2]!.id } });

    // One that cannot be written (here a time that is no time) fails, its neighbours' do not. An
    // answer holding what jsonb refuses (U+0000, half a surrogate pair) is kept, written readably.
    const second = await add(4);
    await claimJobs(store.db, 'w', now, undefined, 4);
    const answers = [{ note: 'ok' }, { note: 'a\u0000b', 'k\u0000': 'half \ud800 pair' }, { note: 'ok' }, { note: 'ok' }];
    const settled = await Promise.allSettled(
      second.map((j, i) => completions.complete(j.id, answers[i], i === 2 ? new Date(Number.NaN) : now)),
    );
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const stored = await Promise.all(second.map((j) => getJob(store.db, j.id)));
    expect(stored.map((j) => j?.state)).toEqual(['done', 'done', 'running', 'done']);
    expect(stored[1]?.lastResponse).toEqual({ note: 'a\\u0000b', 'k\\u0000': 'half \ufffd pair' });
  });
});

describe('the embedded store’s data directory lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second holder while the first lives, and frees the directory on release', () => {
    const lock = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(/already running on .* \(process \d+/);
    lock.release();
    lockDataDir(dir).release();
  });
});

describe('opening the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const settings = (dataDir: string) => ({ databaseUrl: undefined, dataDir, postgresBin: undefined, postgresUser: 'usher' });

  it('recognises a data dir left by Usher 0.1 (PGlite) and says what to do, without touching it', async () => {
    const dataDir = join(dir, 'old');
    mkdirSync(join(dataDir, 'pgdata'), { recursive: true });
    writeFileSync(join(dataDir, 'pgdata', 'PG_VERSION'), '17\n');
    await expect(openStore(settings(dataDir))).rejects.toThrow(/Usher 0\.1's embedded store \(PGlite\)[\s\S]*members list[\s\S]*mv /);
    expect(readdirSync(dataDir).sort()).toEqual(['pgdata']);
  });

  it('a command that only reads finds no store in an empty place and creates nothing', async () => {
    const dataDir = join(dir, 'nothing-here');
    await expect(openStore(settings(dataDir), 'read')).rejects.toThrow(/no Usher data in/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)('as root, refuses a data dir its server user cannot reach, and says why', async () => {
    const privateDir = mkdtempSync(join(tmpdir(), 'usher-private-'));
    try {
      chmodSync(privateDir, 0o700);
      await expect(openStore(settings(join(privateDir, 'data')))).rejects.toThrow(/runs as "usher", which cannot reach .* USHER_DATA_DIR/);
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
  });
});
