import type { Booking } from '../domain/booking.ts';
import type { RoomBlock } from '../domain/room-model.ts';
import { bookingFromRow } from './bookings.ts';
import type { Db, Queryable, Row } from './db.ts';
import { listBlocks, listRooms, type RoomRecord } from './rooms.ts';

/** A booking as the room board shows it: where it is (or that it waits) and what Cal.com was told. */
export interface BoardStay {
  bookingUid: string;
  room: string | null;
  from: Date;
  /** End of the cleaning after it. */
  to: Date;
  pinned: boolean;
  locationText: string | null;
  locationWritten: string | null;
  booking: Booking | undefined;
}

/**
 * Where a board's last read stood: the snapshot it read under (`pg_current_snapshot()` as text),
 * and the room plan's epoch and removal-log horizon it saw (migrations 0015, 0016).
 */
export interface BoardMark {
  snapshot: string;
  epoch: string;
  removedFrom: string;
}

export type BoardRead =
  | { whole: true; mark: BoardMark; rooms: RoomRecord[]; blocks: RoomBlock[]; stays: BoardStay[] }
  /** `changed`: every booking written since the mark; those not in `stays` are no longer in the window. */
  | { whole: false; mark: BoardMark; blocks: RoomBlock[]; stays: BoardStay[]; changed: string[] };

// Only what the board shows of an assignment (a) and its booking (b).
const STAY_COLUMNS = `a.booking_uid as a_uid, a.room as a_room, lower(a.during) as a_from, upper(a.during) as a_to,
  a.pinned as a_pinned, a.location_text as a_location_text, a.location_written as a_location_written,
  b.uid, b.status, b.start_at, b.end_at, b.metadata, b.event_type_id, b.event_type_slug, b.title, b.attendee_name,
  b.meeting_state, b.seats_per_slot, b.seats`;

function stayFromRow(r: Row): BoardStay {
  return {
    bookingUid: r.a_uid as string,
    room: (r.a_room as string | null) ?? null,
    from: new Date(r.a_from as Date),
    to: new Date(r.a_to as Date),
    pinned: Boolean(r.a_pinned),
    locationText: (r.a_location_text as string | null) ?? null,
    locationWritten: (r.a_location_written as string | null) ?? null,
    booking: r.uid ? bookingFromRow(r) : undefined,
  };
}

/**
 * The rooms, blocks and bookings a room board shows for a window, in one REPEATABLE READ
 * transaction: everything, or — given the mark of the last read — only the bookings written since
 * (migration 0017: the rows whose writing transaction that snapshot did not see, and the stays
 * logged as removed by such a transaction). Everything is read again when the rooms changed, the
 * plan's epoch moved (a truncate, a restore) or the removal log was pruned past what the mark saw.
 * Blocks are few and read whole each time.
 */
export async function readBoardDay(db: Db, window: { from: Date; to: Date }, since?: BoardMark): Promise<BoardRead> {
  return db.transaction(async (trx) => {
    await trx.exec('set transaction isolation level repeatable read, read only');
    const head = await trx.query(
      `select pg_current_snapshot()::text as snapshot, generation::text as epoch, removed_from::text as removed_from from room_plan_epoch`,
    );
    const mark: BoardMark = {
      snapshot: head.rows[0]!.snapshot as string,
      epoch: head.rows[0]!.epoch as string,
      removedFrom: head.rows[0]!.removed_from as string,
    };
    const blocks = await listBlocks(trx, window);
    if (!since || since.epoch !== mark.epoch || since.removedFrom !== mark.removedFrom) {
      const [rooms, stays] = await Promise.all([listRooms(trx), staysIn(trx, window)]);
      return { whole: true, mark, rooms, blocks, stays };
    }
    // Every transaction id the old snapshot did not see is at least its xmin (the indexes' range).
    const xmin = since.snapshot.split(':')[0]!;
    const result = await trx.query(
      `with changed as (
         select booking_uid as uid from room_assignments
          where board_xact >= $1::xid8 and not pg_visible_in_snapshot(board_xact, $2::pg_snapshot)
         union
         select uid from bookings where board_xact >= $1::xid8 and not pg_visible_in_snapshot(board_xact, $2::pg_snapshot)
         union
         select booking_uid from room_plan_removed where xact >= $1::xid8 and not pg_visible_in_snapshot(xact, $2::pg_snapshot))
       -- Each changed booking looked up by its key (a lateral query the planner may not flatten: offset 0),
       -- never the window's ~3,000 rows scanned for a few.
       select c.uid as changed_uid, s.*
         from changed c
         left join lateral (
           select ${STAY_COLUMNS} from room_assignments a left join bookings b on b.uid = a.booking_uid
            where a.booking_uid = c.uid and a.during && tstzrange($3, $4) offset 0) s on true`,
      [xmin, since.snapshot, window.from, window.to],
    );
    return {
      whole: false,
      mark,
      blocks,
      stays: result.rows.filter((r) => r.a_uid).map(stayFromRow),
      changed: result.rows.map((r) => r.changed_uid as string),
    };
  });
}

async function staysIn(db: Queryable, window: { from: Date; to: Date }): Promise<BoardStay[]> {
  const result = await db.query(
    `select ${STAY_COLUMNS} from room_assignments a left join bookings b on b.uid = a.booking_uid
      where a.during && tstzrange($1, $2)`,
    [window.from, window.to],
  );
  return result.rows.map(stayFromRow);
}
