import type { Booking } from '../domain/booking.ts';
import type { RoomBlock } from '../domain/room-model.ts';
import { bookingFromRow } from './bookings.ts';
import type { Queryable } from './db.ts';

/** A booking of the period as the room planner met it (what-if's input, issue 18). */
export interface BookingHistory {
  booking: Booking;
  /** Its first room decision: when it reached the planner. */
  arrived: { at: Date; seq: number };
  /** When its room was released (cancelled, rejected), if it was and holds none now. */
  left?: { at: Date; seq: number };
  /** The room it holds now (null: waiting), absent when it holds none. */
  room?: string | null;
  pinned: boolean;
  /** It was without a room at some point. */
  waited: boolean;
}

export interface BlockHistory {
  block: RoomBlock;
  created: { at: Date; seq: number };
  lifted?: { at: Date; seq: number };
}

/**
 * Every booking starting in [from, to) that reached the room planner, with when it arrived and
 * left and the room it ended in. `seq` is the decision's id: it orders steps of one instant as they
 * happened.
 */
export async function listBookingHistory(db: Queryable, window: { from: Date; to: Date }): Promise<BookingHistory[]> {
  const result = await db.query(
    `with firsts as (
       select distinct on (d.booking_uid) d.booking_uid, d.id, d.decided_at
       from bookings b join decisions d on d.booking_uid = b.uid and d.kind = 'room'
       where b.start_at >= $1 and b.start_at < $2
       order by d.booking_uid, d.id
     )
     select b.*, f.id as arrived_seq, f.decided_at as arrived_at, a.room as held_room, a.booking_uid is not null as holds,
            coalesce(a.pinned, false) as held_pinned, r.id as left_seq, r.decided_at as left_at,
            exists (select 1 from decisions w where w.booking_uid = b.uid and w.kind = 'room' and w.outcome = 'unassigned') as waited
     from firsts f join bookings b on b.uid = f.booking_uid
     left join room_assignments a on a.booking_uid = b.uid
     left join lateral (
       select id, decided_at from decisions d
       where d.booking_uid = b.uid and d.kind = 'room' and d.outcome = 'released' order by id desc limit 1
     ) r on a.booking_uid is null
     order by f.id`,
    [window.from, window.to],
  );
  return result.rows.map((r) => ({
    booking: bookingFromRow(r),
    arrived: { at: r.arrived_at as Date, seq: Number(r.arrived_seq) },
    ...(r.left_seq != null ? { left: { at: r.left_at as Date, seq: Number(r.left_seq) } } : {}),
    ...(r.holds ? { room: (r.held_room as string | null) ?? null } : {}),
    pinned: r.held_pinned === true,
    waited: r.waited === true,
  }));
}

/** A person's placements of the period's bookings (the board's or the API's move), in order. */
export async function listOperatorMoves(
  db: Queryable,
  window: { from: Date; to: Date },
): Promise<{ uid: string; room: string; at: Date; seq: number }[]> {
  const result = await db.query(
    `select d.booking_uid, d.reasons->0->>'to' as room, d.decided_at, d.id
     from bookings b join decisions d on d.booking_uid = b.uid and d.kind = 'room' and d.outcome = 'moved'
     where b.start_at >= $1 and b.start_at < $2 and d.reasons->0->>'code' = 'room.moved_by_operator'
     order by d.id`,
    [window.from, window.to],
  );
  return result.rows.map((r) => ({ uid: r.booking_uid as string, room: r.room as string, at: r.decided_at as Date, seq: Number(r.id) }));
}

/** How many planner moves (not a person's) the period's bookings had. */
export async function countPlannerMoves(db: Queryable, window: { from: Date; to: Date }): Promise<number> {
  const result = await db.query<{ n: string }>(
    `select count(*) as n from bookings b join decisions d on d.booking_uid = b.uid and d.kind = 'room' and d.outcome = 'moved'
     where b.start_at >= $1 and b.start_at < $2 and d.reasons->0->>'code' <> 'room.moved_by_operator' and d.reasons->0->>'from' is not null`,
    [window.from, window.to],
  );
  return Number(result.rows[0]!.n);
}

/**
 * Blocks that touched the period (lifted ones too), with when they were put on and lifted. The
 * sequence of a block is its "blocked" decision's id (written in the same transaction).
 */
export async function listBlockHistory(db: Queryable, window: { from: Date; to: Date }): Promise<BlockHistory[]> {
  const result = await db.query(
    `select k.id, k.room, lower(k.during) as from_at, upper(k.during) as to_at, k.reason, k.created_at, k.lifted_at,
            (select min(d.id) from decisions d
              where d.kind = 'room' and d.outcome = 'blocked' and d.decided_at = k.created_at and d.reasons->0->>'room' = k.room) as seq,
            (select min(d.id) from decisions d
              where d.kind = 'room' and d.outcome = 'unblocked' and d.reasons->0->>'block' = k.id::text) as lifted_seq
     from room_blocks k where k.during && tstzrange($1, $2) order by k.id`,
    [window.from, window.to],
  );
  return result.rows.map((r) => ({
    block: {
      id: Number(r.id),
      room: r.room as string,
      from: (r.from_at as Date).getTime(),
      to: (r.to_at as Date).getTime(),
      reason: r.reason as string,
    },
    created: { at: r.created_at as Date, seq: r.seq == null ? 0 : Number(r.seq) },
    ...(r.lifted_at ? { lifted: { at: r.lifted_at as Date, seq: r.lifted_seq == null ? 0 : Number(r.lifted_seq) } } : {}),
  }));
}
