import type { Booking } from '../domain/booking.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { write, type Queryable } from './db.ts';

export const bookingFromRow = rowMapper(
  'bookings',
  z.object({
    uid: col.text,
    status: col.oneOf(['pending', 'accepted', 'cancelled', 'rejected']),
    start_at: col.time,
    end_at: col.time,
    metadata: col.object.nullable(),
    cal_id: col.nullableInt.optional(),
    event_type_id: col.nullableInt.optional(),
    event_type_slug: col.nullableText.optional(),
    title: col.nullableText.optional(),
    organizer_id: col.nullableInt.optional(),
    organizer_email: col.nullableText.optional(),
    attendee_email: col.nullableText.optional(),
    attendee_name: col.nullableText.optional(),
    rescheduled_from_uid: col.nullableText.optional(),
    rescheduled_to_uid: col.nullableText.optional(),
    location: col.nullableText.optional(),
    meeting_state: col.oneOf(['started', 'ended']).nullable().optional(),
    last_event_at: col.nullableTime.optional(),
    seats_per_slot: col.nullableInt.optional(),
    seats: col.textList.nullable().optional(),
    in_series: col.bool.optional(),
    co_hosts: col.textList.nullable().optional(),
  }),
  (r): Booking => {
    const b: Booking = { uid: r.uid, status: r.status, start: r.start_at, end: r.end_at, metadata: r.metadata ?? {} };
    // Absent stays absent (the domain's optional fields), never a null.
    if (r.cal_id != null) b.calId = r.cal_id;
    if (r.event_type_id != null) b.eventTypeId = r.event_type_id;
    if (r.event_type_slug != null) b.eventTypeSlug = r.event_type_slug;
    if (r.title != null) b.title = r.title;
    if (r.organizer_id != null) b.organizerId = r.organizer_id;
    if (r.organizer_email != null) b.organizerEmail = r.organizer_email;
    if (r.attendee_email != null) b.attendeeEmail = r.attendee_email;
    if (r.attendee_name != null) b.attendeeName = r.attendee_name;
    if (r.rescheduled_from_uid != null) b.rescheduledFromUid = r.rescheduled_from_uid;
    if (r.rescheduled_to_uid != null) b.rescheduledToUid = r.rescheduled_to_uid;
    if (r.location != null) b.location = r.location;
    if (r.meeting_state != null) b.meetingState = r.meeting_state;
    if (r.last_event_at != null) b.lastEventAt = r.last_event_at;
    if (r.seats_per_slot != null) b.seatsPerTimeSlot = r.seats_per_slot;
    if (r.seats != null) b.seats = r.seats;
    if (r.in_series) b.inSeries = true;
    if (r.co_hosts?.length) b.coHosts = r.co_hosts;
    return b;
  },
);

/** Locks the booking row for the caller's transaction, so two events for one booking take turns. */
export async function lockBooking(trx: Queryable, uid: string): Promise<Booking | undefined> {
  const result = await trx.query('select * from bookings where uid = $1 for update', [uid]);
  return result.rows[0] ? bookingFromRow(result.rows[0]) : undefined;
}

export interface BookingAndSuccessor {
  booking: Booking | undefined;
  successor: string | undefined;
}

/**
 * lockBooking and findSuccessor in one round trip (every booking event asks both), for one booking
 * or a worker's batch: each booking locked for this transaction, in the order given (callers give
 * byte order, so two batches lock in one order), with the uid of the booking that replaced it.
 */
export async function lockBookingsAndSuccessors(trx: Queryable, uids: readonly string[]): Promise<Map<string, BookingAndSuccessor>> {
  const result = await trx.query(
    `select k.wanted, b.*, s.successor_uid from unnest($1::text[]) with ordinality as k(wanted, n)
       left join lateral (select * from bookings where uid = k.wanted for update) b on true
       left join lateral (select uid as successor_uid from bookings where rescheduled_from_uid = k.wanted order by created_at limit 1) s on true
      order by k.n`,
    [uids],
  );
  return new Map(
    result.rows.map((row) => [
      row.wanted as string,
      { booking: row.uid ? bookingFromRow(row) : undefined, successor: (row.successor_uid as string | null) ?? undefined },
    ]),
  );
}

export async function getBooking(db: Queryable, uid: string): Promise<Booking | undefined> {
  const result = await db.query('select * from bookings where uid = $1', [uid]);
  return result.rows[0] ? bookingFromRow(result.rows[0]) : undefined;
}

/**
 * A JSON value as PostgreSQL's jsonb gives it back: what JSON keeps of it, with every object's keys
 * shortest first (in UTF-8 bytes), then by their bytes — jsonb's own order. JavaScript then puts
 * integer-like keys first, exactly as JSON.parse does with what the server sends.
 */
function asJsonb(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asJsonb);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [Buffer.from(k), k, v] as const);
  entries.sort(([a], [b]) => a.length - b.length || Buffer.compare(a, b));
  // fromEntries, not assignment: a key "__proto__" stays a key, as JSON.parse makes it.
  return Object.fromEntries(entries.map(([, k, v]) => [k, asJsonb(v)]));
}

/** The columns a booking sets, in the order saveBooking sends them. */
const COLUMNS = [
  'uid',
  'cal_id',
  'event_type_id',
  'event_type_slug',
  'status',
  'title',
  'start_at',
  'end_at',
  'organizer_id',
  'organizer_email',
  'attendee_email',
  'attendee_name',
  'rescheduled_from_uid',
  'rescheduled_to_uid',
  'location',
  'metadata',
  'meeting_state',
  'last_event_at',
  'seats_per_slot',
  'seats',
  'in_series',
  'co_hosts',
] as const;

/** The row saveBooking writes, as the server gives it back (bookingFromRow reads it). */
function bookingRow(b: Booking): Record<(typeof COLUMNS)[number], unknown> {
  return {
    uid: b.uid,
    cal_id: b.calId ?? null,
    event_type_id: b.eventTypeId ?? null,
    event_type_slug: b.eventTypeSlug ?? null,
    status: b.status,
    title: b.title ?? null,
    start_at: new Date(b.start.getTime()),
    end_at: new Date(b.end.getTime()),
    organizer_id: b.organizerId ?? null,
    organizer_email: b.organizerEmail ?? null,
    attendee_email: b.attendeeEmail ?? null,
    attendee_name: b.attendeeName ?? null,
    rescheduled_from_uid: b.rescheduledFromUid ?? null,
    rescheduled_to_uid: b.rescheduledToUid ?? null,
    location: b.location ?? null,
    metadata: asJsonb(JSON.parse(JSON.stringify(b.metadata))),
    meeting_state: b.meetingState ?? null,
    last_event_at: b.lastEventAt ? new Date(b.lastEventAt.getTime()) : null,
    seats_per_slot: b.seatsPerTimeSlot ?? null,
    seats: b.seats ? [...b.seats] : null,
    in_series: b.inSeries ?? false,
    co_hosts: b.coHosts ? [...b.coHosts] : null,
  };
}

const SAVE_BOOKING = `insert into bookings (${COLUMNS.join(', ')}, created_at, updated_at)
  values (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, $${COLUMNS.length + 1}, $${COLUMNS.length + 1})
  on conflict (uid) do update set ${COLUMNS.filter((c) => c !== 'uid')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}, updated_at = excluded.updated_at`;

/**
 * Stores a booking; returns it as stored (as getBooking would read it back in this transaction),
 * worked out here rather than read back: in a transaction the write goes without waiting
 * (Queryable.later) — a worker's event no longer waits a round trip for its own booking. The upsert
 * sets every column of the row it returns, so the row is what was given (the test compares the two).
 */
export async function saveBooking(trx: Queryable, b: Booking, now: Date): Promise<Booking> {
  const row = bookingRow(b);
  await write(trx, SAVE_BOOKING, [...COLUMNS.map((c) => (c === 'metadata' ? JSON.stringify(row.metadata) : row[c])), now]);
  return bookingFromRow(row);
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
