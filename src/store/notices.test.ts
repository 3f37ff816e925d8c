import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import type { Queryable } from './db.ts';
import { insertInboxEvents } from './inbox.ts';
import { enqueueJob } from './jobs.ts';

const now = new Date('2026-12-02T09:00:00Z');
let n = 0;

const job = (trx: Queryable) =>
  enqueueJob(trx, { kind: 'cal.location', payload: { uid: `u${n}` }, bookingUid: `u${n++}`, maxAttempts: 3 }, now);
/** An event Usher could not read: the board lists it, so its insert wakes the board (migration 0010). */
const unreadable = (trx: Queryable) =>
  insertInboxEvents(trx, [
    {
      dedupeKey: `raw:${n++}`,
      trigger: 'UNKNOWN',
      bookingUid: undefined,
      source: 'webhook',
      rawBody: 'not json',
      state: 'unprocessable',
      lastError: 'not JSON',
      maxAttempts: 8,
      receivedAt: now,
    },
  ]);

describe.each(storeKinds)('the board and work notices on %s', (kind) => {
  let s: TestStore;
  const heard: string[] = [];
  let stops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    s = await openTestStore(kind);
    stops = [
      await s.db.listen('usher_board', (payload) => heard.push(`board:${payload}`)),
      await s.db.listen('usher_work', (payload) => heard.push(`work:${payload}`)),
    ];
  });
  afterAll(async () => {
    for (const stop of stops) await stop();
    await s.close();
  });
  beforeEach(() => s.reset());

  /** What both channels heard for what `write` committed (a mark after it: notices arrive in commit order). */
  async function noticesOf(write: () => Promise<unknown>): Promise<string[]> {
    heard.length = 0;
    await write();
    await s.db.query(`select pg_notify('usher_board', 'end'), pg_notify('usher_work', 'end')`);
    for (let i = 0; i < 200 && !(heard.includes('board:end') && heard.includes('work:end')); i++)
      await new Promise((r) => setTimeout(r, 10));
    return heard.filter((h) => !h.endsWith(':end'));
  }

  it('wakes the board once per transaction, whatever it wrote, and the workers once per table of new work', async () => {
    const heardOf = await noticesOf(() =>
      s.db.transaction(async (trx) => {
        await job(trx);
        await unreadable(trx);
        await job(trx);
        await unreadable(trx);
      }),
    );
    // The board: one notice, not one per table; the workers: jobs and events wake different loops.
    expect(heardOf.filter((h) => h.startsWith('board:'))).toHaveLength(1);
    expect(heardOf.filter((h) => h.startsWith('work:')).sort()).toEqual(['work:inbox_events', 'work:jobs']);
  });

  it('skips every notice trigger once its transaction has notified (none left without the mark)', async () => {
    const triggers = await s.db.query<{ name: string; marked: boolean }>(
      `select t.tgname as name, t.tgqual is not null as marked
         from pg_trigger t join pg_proc p on p.oid = t.tgfoid
        where p.proname in ('usher_board_changed', 'usher_board_rows_changed', 'usher_board_inbox_added', 'usher_work_added')
        order by t.tgname`,
    );
    expect(triggers.rows.filter((t) => !t.marked)).toEqual([]);
    expect(triggers.rows.map((t) => t.name)).toEqual([
      'board_bookings',
      'board_decisions',
      'board_gate_decisions',
      'board_inbox_events_added',
      'board_inbox_events_changed',
      'board_jobs_added',
      'board_jobs_changed',
      'board_room_assignments',
      'board_room_blocks',
      'board_rooms',
      'work_inbox_events',
      'work_jobs',
      'work_jobs_updated',
    ]);
  });

  it('notifies again after a savepoint that notified is rolled back, and in the next transaction', async () => {
    const rolledBack = await noticesOf(() =>
      s.db.transaction(async (trx) => {
        await trx.query('savepoint probe');
        await job(trx);
        await trx.query('rollback to savepoint probe');
        await job(trx);
      }),
    );
    expect(rolledBack.sort()).toEqual(['board:jobs', 'work:jobs']);
    // Each write on its own: each its own transaction, each heard.
    const alone = await noticesOf(async () => {
      await job(s.db);
      await job(s.db);
    });
    expect(alone.sort()).toEqual(['board:jobs', 'board:jobs', 'work:jobs', 'work:jobs']);
  });
});
