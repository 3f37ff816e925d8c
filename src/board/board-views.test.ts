import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seeded } from '../../test/clinic-generator.ts';
import { openTestStore, type TestStore } from '../../test/stores.ts';
import { bookingPresenter } from '../rooms/room-board.ts';
import { saveBooking } from '../store/bookings.ts';
import { openPostgres, type Db, type Queryable } from '../store/db.ts';
import { deleteAssignment, insertBlock, liftBlock, saveAssignment, upsertRoom } from '../store/rooms.ts';
import { BoardViews, boardView, boardViewDelta, type BoardView } from './board-view.ts';
import { applyViewDelta } from './view-patch.ts';

const deps = {
  timeZone: 'Europe/London',
  title: 'Clinic',
  present: bookingPresenter({ showNames: false }),
  bucketsFor: () => [],
};
const ROOMS = ['1A', '1B', '2A', '2B'];
const MINUTE = 60_000;
const now = new Date('2026-12-02T07:00:00Z');

async function book(trx: Queryable, uid: string, room: string | null, start: Date, minutes: number): Promise<void> {
  const end = new Date(start.getTime() + minutes * MINUTE);
  await saveBooking(
    trx,
    { uid, status: 'accepted', eventTypeId: 7, eventTypeSlug: 'physio', start, end, attendeeName: 'Ada Allen', metadata: {} },
    now,
  );
  await saveAssignment(
    trx,
    {
      bookingUid: uid,
      room,
      from: start,
      to: new Date(end.getTime() + 10 * MINUTE),
      pinned: false,
      reasons: {},
      locationText: room ? `Room ${room}` : null,
    },
    now,
  );
}

describe('the live board, kept between views', () => {
  let store: TestStore;
  /** Another process writing to the same database. */
  let writer: Db;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    writer = await openPostgres(store.url);
    await writer.transaction(async (trx) => {
      for (const [i, name] of ROOMS.entries())
        await upsertRoom(
          trx,
          { name, floor: 1 + Math.floor(i / 2), building: 'Main', equipment: [], cleaningMinutes: 10, active: true },
          'api',
          now,
        );
    });
  });
  afterEach(async () => {
    await writer.close();
    await store.close();
  });

  it('shows after every change what a board read afresh shows, and its delta turns the last view into it', async () => {
    const next = seeded(19);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const views = new BoardViews(deps);
    // An evening that goes on past midnight: a new day is read whole, then by changes again.
    let at = new Date('2026-12-02T17:00:00Z');
    let last: BoardView | undefined;
    const uids: string[] = [];
    const blocks: number[] = [];
    const kinds = new Map<string, number>();
    let most = 0;
    for (let step = 0; step < 150; step++) {
      // From three hours ago to a day ahead: earlier today, now, the next-booking horizon past midnight, and beyond.
      const when = () => new Date(at.getTime() - 3 * 60 * MINUTE + Math.floor(next() * 48) * 30 * MINUTE);
      const kind = pick([
        'book',
        'book',
        'book',
        'book',
        'move',
        'cancel',
        'release',
        'started',
        'ended',
        'written',
        'block',
        'lift',
        'clock',
      ] as const);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const uid = uids.length > 0 ? pick(uids) : undefined;
      try {
        await writer.transaction(async (trx) => {
          if (kind === 'book') {
            uids.push(`b${step}`);
            await book(trx, `b${step}`, next() < 0.15 ? null : pick(ROOMS), when(), pick([20, 30, 45]));
          } else if (kind === 'move' && uid) await book(trx, uid, pick(ROOMS), when(), 30);
          else if (kind === 'cancel' && uid) {
            await trx.query(`update bookings set status = 'cancelled' where uid = $1`, [uid]);
            await deleteAssignment(trx, uid);
          } else if (kind === 'release' && uid) await deleteAssignment(trx, uid);
          else if ((kind === 'started' || kind === 'ended') && uid)
            await trx.query('update bookings set meeting_state = $2 where uid = $1', [uid, kind]);
          else if (kind === 'written' && uid)
            await trx.query('update room_assignments set location_written = location_text where booking_uid = $1', [uid]);
          else if (kind === 'block') {
            const from = when();
            blocks.push(
              await insertBlock(
                trx,
                { room: pick(ROOMS), from, to: new Date(from.getTime() + 60 * MINUTE), reason: 'Repair', by: 'test' },
                now,
              ),
            );
          } else if (kind === 'lift' && blocks.length > 0) await liftBlock(trx, pick(blocks), now);
          // 'clock': nothing written, the clock alone moves (rooms go from in use to cleaning to free).
        });
      } catch (error) {
        // Two stays in one room at once: the store refuses it (exclusion constraint), and nothing changed.
        if ((error as { code?: string }).code !== '23P01') throw error;
      }
      // Five minutes a step: past midnight (step 84) the day is another.
      at = new Date(at.getTime() + 5 * MINUTE);
      const view = await views.view(store.db, at);
      expect(view, `step ${step} (${kind})`).toEqual(await boardView(store.db, deps, at));
      if (last) {
        const delta = boardViewDelta(last, view);
        expect(delta ? applyViewDelta(last, delta) : last, `step ${step} (${kind})`).toEqual(view);
      }
      last = view;
      most = Math.max(most, Object.keys(view.bookings).length);
    }
    // The walk went through every kind of change, and past midnight.
    expect([...kinds.keys()].sort()).toEqual([
      'block',
      'book',
      'cancel',
      'clock',
      'ended',
      'lift',
      'move',
      'release',
      'started',
      'written',
    ]);
    expect(at.getTime()).toBeGreaterThan(Date.UTC(2026, 11, 3));
    expect(most).toBeGreaterThanOrEqual(10);
  });

  it('shows a booking whose transaction began before the last read and committed after it, behind a later one', async () => {
    await writer.transaction((trx) => book(trx, 'early', '1A', new Date('2026-12-02T09:00:00Z'), 30));
    const views = new BoardViews(deps);
    const at = new Date('2026-12-02T08:00:00Z');
    await views.view(store.db, at);
    const slow = new pg.Client({ connectionString: store.url });
    await slow.connect();
    try {
      // This one takes its transaction id first and commits last.
      await slow.query('begin');
      await book(
        {
          query: async (sql, params) => {
            const r = await slow.query(sql, params as unknown[]);
            return { rows: r.rows, rowCount: r.rowCount ?? 0 };
          },
          exec: async (sql) => void (await slow.query(sql)),
        },
        'late-commit',
        '1B',
        new Date('2026-12-02T11:00:00Z'),
        30,
      );
      // A later transaction commits first; the board reads it (a newer writer than the one still open).
      await writer.query(`update bookings set meeting_state = 'started' where uid = 'early'`);
      const between = await views.view(store.db, at);
      expect(between.groups[0]!.rooms.find((r) => r.name === '1A')!.next).toBe('early');
      expect(between.bookings['late-commit']).toBeUndefined();
      await slow.query('commit');
    } finally {
      await slow.end();
    }
    const after = await views.view(store.db, at);
    expect(after.bookings['late-commit']).toMatchObject({ location: 'Room 1B' });
    expect(after).toEqual(await boardView(store.db, deps, at));
  });
});
