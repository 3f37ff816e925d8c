import type { Booking } from '../domain/booking.ts';
import type { Queryable } from './db.ts';

export function bookingFromRow(row: Record<string, unknown>): Booking {
  const opt = <T>(v: unknown, f: (x: unknown) => T): T | undefined => (v === null || v === undefined ? undefined : f(v));
  const b: Booking = {
    uid: row.uid as string,
    status: row.status as Booking['status'],
    start: new Date(row.start_at as Date),
    end: new Date(row.end_at as Date),
    metadata: (row.metadata as Record<string, unknown>) ?? {},
  };
  const fields: Partial<Booking> = {
    calId: opt(row.cal_id, Number),
    eventTypeId: opt(row.event_type_id, Number),
    eventTypeSlug: opt(row.event_type_slug, String),
    title: opt(row.title, String),
    organizerId: opt(row.organizer_id, Number),
    organizerEmail: opt(row.organizer_email, String),
    attendeeEmail: opt(row.attendee_email, String),
    attendeeName: opt(row.attendee_name, String),
    rescheduledFromUid: opt(row.rescheduled_from_uid, String),
    rescheduledToUid: opt(row.rescheduled_to_uid, String),
    location: opt(row.location, String),
    meetingState: opt(row.meeting_state, (v) => v as 'started' | 'ended'),
    lastEventAt: opt(row.last_event_at, (v) => new Date(v as Date)),
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (b as unknown as Record<string, unknown>)[k] = v;
  return b;
}

/** Locks the booking row for the caller's transaction, so two events for one booking take turns. */
export async function lockBooking(trx: Queryable, uid: string): Promise<Booking | undefined> {
  const result = await trx.query('select * from bookings where uid = $1 for update', [uid]);
  return result.rows[0] ? bookingFromRow(result.rows[0]) : undefined;
}

export async function getBooking(db: Queryable, uid: string): Promise<Booking | undefined> {
  const result = await db.query('select * from bookings where uid = $1', [uid]);
  return result.rows[0] ? bookingFromRow(result.rows[0]) : undefined;
}

export async function saveBooking(trx: Queryable, b: Booking, now: Date): Promise<void> {
  await trx.query(
    `insert into bookings (uid, cal_id, event_type_id, event_type_slug, status, title, start_at, end_at, organizer_id,
        organizer_email, attendee_email, attendee_name, rescheduled_from_uid, rescheduled_to_uid, location, metadata,
        meeting_state, last_event_at, created_at, updated_at)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$19)
     on conflict (uid) do update set cal_id = excluded.cal_id, event_type_id = excluded.event_type_id,
        event_type_slug = excluded.event_type_slug, status = excluded.status, title = excluded.title,
        start_at = excluded.start_at, end_at = excluded.end_at, organizer_id = excluded.organizer_id,
        organizer_email = excluded.organizer_email, attendee_email = excluded.attendee_email,
        attendee_name = excluded.attendee_name, rescheduled_from_uid = excluded.rescheduled_from_uid,
        rescheduled_to_uid = excluded.rescheduled_to_uid, location = excluded.location, metadata = excluded.metadata,
        meeting_state = excluded.meeting_state, last_event_at = excluded.last_event_at, updated_at = excluded.updated_at`,
    [
      b.uid,
      b.calId ?? null,
      b.eventTypeId ?? null,
      b.eventTypeSlug ?? null,
      b.status,
      b.title ?? null,
      b.start,
      b.end,
      b.organizerId ?? null,
      b.organizerEmail ?? null,
      b.attendeeEmail ?? null,
      b.attendeeName ?? null,
      b.rescheduledFromUid ?? null,
      b.rescheduledToUid ?? null,
      b.location ?? null,
      JSON.stringify(b.metadata),
      b.meetingState ?? null,
      b.lastEventAt ?? null,
      now,
    ],
  );
}

export async function listBookings(db: Queryable, filter: { from?: Date; to?: Date; limit: number }): Promise<Booking[]> {
  const result = await db.query(
    `select * from bookings where ($1::timestamptz is null or end_at > $1) and ($2::timestamptz is null or start_at < $2)
      order by start_at limit $3`,
    [filter.from ?? null, filter.to ?? null, filter.limit],
  );
  return result.rows.map(bookingFromRow);
}

export async function getBookings(db: Queryable, uids: readonly string[]): Promise<Map<string, Booking>> {
  if (uids.length === 0) return new Map();
  const result = await db.query('select * from bookings where uid = any($1::text[])', [uids]);
  return new Map(result.rows.map((r) => [r.uid as string, bookingFromRow(r)]));
}

/** The booking that says it was rescheduled from `uid`, if one is known (CONTRACT §1.3). */
export async function findSuccessor(db: Queryable, uid: string): Promise<string | undefined> {
  const result = await db.query<{ uid: string }>('select uid from bookings where rescheduled_from_uid = $1 order by created_at limit 1', [
    uid,
  ]);
  return result.rows[0]?.uid;
}
