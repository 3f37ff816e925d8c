import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import type { Queryable } from './db.ts';
import { hasDecision, listDecisions, recordDecision } from './decisions.ts';
import { insertInboxEvents } from './inbox.ts';
import { addJob, deadLetterJob, enqueueJob, listJobs } from './jobs.ts';

const now = new Date('2026-12-02T09:00:00Z');

const decide = (trx: Queryable, uid: string, outcome = 'accepted') =>
  recordDecision(trx, { bookingUid: uid, kind: 'booking.state', outcome, reasons: [{ code: 'cal.BOOKING_CREATED' }] }, now);

/** A decision that announces an Usher event (a room assigned, domain/usher-events.ts). */
const assign = (trx: Queryable, uid: string) =>
  recordDecision(trx, { bookingUid: uid, kind: 'room', outcome: 'assigned', reasons: [{ code: 'room.assigned', room: '1A' }] }, now);

const location = (trx: Queryable, uid: string, text: string) =>
  addJob(trx, { kind: 'cal.location', payload: { uid, text }, bookingUid: uid, coalesceKey: `location:${uid}`, maxAttempts: 3 }, now);

describe.each(storeKinds)('decisions, Usher events and jobs gathered per transaction on %s', (kind) => {
  let s: TestStore;
  beforeAll(async () => {
    s = await openTestStore(kind);
  });
  afterAll(() => s.close());
  beforeEach(async () => {
    await s.reset();
    // Counts the insert statements each table receives (a statement trigger runs once per statement).
    await s.db.exec(`
      create table if not exists statements_seen (tbl text primary key, n integer not null);
      create or replace function count_statement() returns trigger language plpgsql as $$
      begin
        insert into statements_seen values (tg_table_name, 1) on conflict (tbl) do update set n = statements_seen.n + 1;
        return null;
      end $$;
      create or replace trigger count_decisions after insert on decisions for each statement execute function count_statement();
      create or replace trigger count_usher_events after insert on usher_events for each statement execute function count_statement();
      create or replace trigger count_jobs after insert on jobs for each statement execute function count_statement();`);
  });

  async function statements(): Promise<Record<string, number>> {
    const rows = (await s.db.query<{ tbl: string; n: number }>('select tbl, n from statements_seen')).rows;
    return Object.fromEntries(rows.map((r) => [r.tbl, r.n]));
  }

  it('writes a transaction’s decisions, their events and its jobs as one insert each, in the order they were made', async () => {
    await s.db.transaction(async (trx) => {
      for (const uid of ['b1', 'b2', 'b3', 'b4']) {
        await decide(trx, uid);
        await assign(trx, uid);
        await location(trx, uid, `Room 1A (${uid})`);
      }
    });
    expect(await statements()).toEqual({ decisions: 1, usher_events: 1, jobs: 1 });
    const decisions = (await listDecisions(s.db, { limit: 20 })).reverse();
    expect(decisions.map((d) => `${d.bookingUid} ${d.outcome}`)).toEqual([
      'b1 accepted',
      'b1 assigned',
      'b2 accepted',
      'b2 assigned',
      'b3 accepted',
      'b3 assigned',
      'b4 accepted',
      'b4 assigned',
    ]);
    const events = await s.db.query<{ booking_uid: string; kind: string }>('select booking_uid, kind from usher_events order by id');
    expect(events.rows.map((e) => `${e.booking_uid} ${e.kind}`)).toEqual(['b1', 'b2', 'b3', 'b4'].map((uid) => `${uid} room.assigned`));
    const jobs = await listJobs(s.db, { limit: 20 });
    expect(jobs.map((j) => j.payload.text).sort()).toEqual(['Room 1A (b1)', 'Room 1A (b2)', 'Room 1A (b3)', 'Room 1A (b4)']);
  });

  it('sends what it gathered before a statement of the same transaction that reads the table', async () => {
    const seen = await s.db.transaction(async (trx) => {
      await decide(trx, 'b1', 'pending');
      await location(trx, 'b1', 'Room 1A');
      return {
        decided: await hasDecision(trx, 'b1', 'booking.state', 'pending'),
        jobs: (await listJobs(trx, { bookingUid: 'b1', limit: 5 })).length,
      };
    });
    expect(seen).toEqual({ decided: true, jobs: 1 });
  });

  it('a second job with the same key in one transaction replaces the first, as it would one at a time', async () => {
    await s.db.transaction(async (trx) => {
      await location(trx, 'b1', 'Room 1A');
      await location(trx, 'b2', 'Room 2B');
      await location(trx, 'b1', 'Room 3C');
    });
    const jobs = await listJobs(s.db, { state: 'pending', limit: 5 });
    expect(jobs.map((j) => j.payload.text).sort()).toEqual(['Room 2B', 'Room 3C']);
  });

  it('rows gathered before a savepoint stay when it rolls back; rows gathered after it go with it', async () => {
    await s.db.transaction(async (trx) => {
      await decide(trx, 'kept');
      await trx.query('savepoint one_event');
      await decide(trx, 'rolled-back');
      await location(trx, 'rolled-back', 'Room 1A');
      await trx.query('rollback to savepoint one_event');
      await decide(trx, 'after');
    });
    const decisions = await listDecisions(s.db, { limit: 10 });
    expect(decisions.map((d) => d.bookingUid).sort()).toEqual(['after', 'kept']);
    expect(await listJobs(s.db, { limit: 5 })).toEqual([]);
  });

  it('a gathered row the store refuses fails the transaction: nothing of it is committed', async () => {
    const [event] = await insertInboxEvents(s.db, [
      {
        dedupeKey: 'd1',
        trigger: 'BOOKING_CREATED',
        bookingUid: 'b1',
        source: 'webhook',
        rawBody: '{}',
        state: 'pending',
        maxAttempts: 8,
        receivedAt: now,
      },
    ]);
    const twice = { bookingUid: 'b1', inboxEventId: event!.id, kind: 'room', outcome: 'assigned', reasons: [{ code: 'room.assigned' }] };
    // One decision of a kind per event (decisions_once_per_event): the second is refused.
    await expect(
      s.db.transaction(async (trx) => {
        await location(trx, 'b1', 'Room 1A');
        await recordDecision(trx, twice, now);
        await recordDecision(trx, twice, now);
      }),
    ).rejects.toThrow(/decisions_once_per_event/);
    expect(await listDecisions(s.db, { limit: 5 })).toEqual([]);
    expect(await listJobs(s.db, { limit: 5 })).toEqual([]);
  });

  it('a statement that fails says why, not that the rows gathered before it could not be sent', async () => {
    await expect(
      s.db.transaction(async (trx) => {
        await decide(trx, 'b1');
        await trx.query('select 1 / (select count(*) from rooms)');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await listDecisions(s.db, { limit: 5 })).toEqual([]);
  });

  it('Usher events keep their order with those a dead job announces in the same transaction', async () => {
    const { id } = await enqueueJob(s.db, { kind: 'cal.location', payload: {}, bookingUid: 'b0', maxAttempts: 1 }, now);
    await s.db.transaction(async (trx) => {
      await assign(trx, 'b1');
      await deadLetterJob(trx, id, 'Cal.com refused the location', null, now);
      await assign(trx, 'b2');
    });
    const events = await s.db.query<{ booking_uid: string; kind: string }>('select booking_uid, kind from usher_events order by id');
    expect(events.rows.map((e) => `${e.booking_uid} ${e.kind}`)).toEqual(['b1 room.assigned', 'b0 job.dead', 'b2 room.assigned']);
  });

  it('outside a transaction each is written at once', async () => {
    await decide(s.db, 'b1');
    await location(s.db, 'b1', 'Room 1A');
    expect((await listDecisions(s.db, { limit: 5 })).length).toBe(1);
    expect((await listJobs(s.db, { limit: 5 })).length).toBe(1);
  });
});
