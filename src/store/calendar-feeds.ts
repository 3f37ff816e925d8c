import { z } from 'zod';
import type { Booking } from '../domain/booking.ts';
import { bookingFromRow } from './bookings.ts';
import type { Queryable } from './db.ts';
import { col, rowMapper } from './row-parsers.ts';

export type FeedKind = 'room' | 'doctor';

export interface CalendarFeed {
  id: number;
  kind: FeedKind;
  /** The room's name, or the doctor's e-mail (lower-cased). */
  subject: string;
  showNames: boolean;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const feedFromRow = rowMapper(
  'calendar_feeds',
  z.object({
    id: col.int,
    kind: col.oneOf(['room', 'doctor']),
    subject: col.text,
    show_names: col.bool,
    created_by: col.text,
    created_at: col.time,
    revoked_at: col.nullableTime,
  }),
  (r): CalendarFeed => ({
    id: r.id,
    kind: r.kind,
    subject: r.subject,
    showNames: r.show_names,
    createdBy: r.created_by,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }),
);

export async function insertFeed(
  db: Queryable,
  f: { kind: FeedKind; subject: string; tokenHash: string; showNames: boolean; by: string },
  now: Date,
): Promise<CalendarFeed> {
  const result = await db.query(
    `insert into calendar_feeds (kind, subject, token_hash, show_names, created_by, created_at) values ($1, $2, $3, $4, $5, $6) returning *`,
    [f.kind, f.subject, f.tokenHash, f.showNames, f.by, now],
  );
  return feedFromRow(result.rows[0]!);
}

export async function listFeeds(db: Queryable, options: { includeRevoked?: boolean } = {}): Promise<CalendarFeed[]> {
  const result = await db.query(`select * from calendar_feeds ${options.includeRevoked ? '' : 'where revoked_at is null'} order by id`);
  return result.rows.map(feedFromRow);
}

/** The live feed a URL's secret opens (looked up by its hash; the secret itself is never stored). */
export async function feedByTokenHash(db: Queryable, tokenHash: string): Promise<CalendarFeed | undefined> {
  const result = await db.query('select * from calendar_feeds where token_hash = $1 and revoked_at is null', [tokenHash]);
  return result.rows[0] ? feedFromRow(result.rows[0]) : undefined;
}

export async function revokeFeed(db: Queryable, id: number, now: Date): Promise<CalendarFeed | undefined> {
  const result = await db.query('update calendar_feeds set revoked_at = $2 where id = $1 and revoked_at is null returning *', [id, now]);
  return result.rows[0] ? feedFromRow(result.rows[0]) : undefined;
}

/** A booking as a calendar shows it: where it is, how often it changed (SEQUENCE), and when last. */
export interface FeedBooking {
  booking: Booking;
  room: string | null;
  location: string | null;
  /** Room decisions so far: grows with every move, so a calendar replaces its copy. */
  revision: number;
  changedAt: Date;
}

function feedBookingFromRow(r: Record<string, unknown>): FeedBooking {
  return {
    booking: bookingFromRow(r),
    room: (r.feed_room as string | null) ?? null,
    location: (r.feed_location as string | null) ?? null,
    revision: Number(r.feed_revision),
    changedAt: r.feed_changed_at as Date,
  };
}

const REVISION = `(select count(*) from decisions d where d.booking_uid = b.uid and d.kind in ('room', 'booking.state'))`;

/**
 * A room's bookings in a window: those holding it, and those cancelled or rejected whose room it
 * was when they were released (a calendar must be told they are off, not just stop seeing them).
 */
export async function roomFeedBookings(db: Queryable, room: string, window: { from: Date; to: Date }): Promise<FeedBooking[]> {
  const result = await db.query(
    `select b.*, a.room as feed_room, a.location_text as feed_location, ${REVISION} as feed_revision,
            greatest(a.updated_at, b.updated_at) as feed_changed_at
       from room_assignments a join bookings b on b.uid = a.booking_uid
      where a.room = $1 and a.during && tstzrange($2, $3) and b.status in ('accepted', 'pending')
     union all
     select b.*, r.room as feed_room, null as feed_location, ${REVISION} as feed_revision, r.decided_at as feed_changed_at
       from bookings b
       join lateral (
         select d.reasons->0->>'room' as room, d.decided_at from decisions d
          where d.booking_uid = b.uid and d.kind = 'room' and d.outcome = 'released' order by d.id desc limit 1
       ) r on true
      where b.status in ('cancelled', 'rejected') and r.room = $1 and b.start_at < $3 and b.end_at > $2
     order by start_at`,
    [room, window.from, window.to],
  );
  return result.rows.map(feedBookingFromRow);
}

/** A doctor's bookings in a window (as organizer or a collective event's co-host), with their rooms. */
export async function doctorFeedBookings(db: Queryable, email: string, window: { from: Date; to: Date }): Promise<FeedBooking[]> {
  const result = await db.query(
    `select b.*, a.room as feed_room, a.location_text as feed_location, ${REVISION} as feed_revision,
            greatest(a.updated_at, b.updated_at) as feed_changed_at
       from bookings b left join room_assignments a on a.booking_uid = b.uid
      where (lower(b.organizer_email) = $1 or exists (select 1 from unnest(b.co_hosts) h where lower(split_part(h, '|', 2)) = $1))
        and b.start_at < $3 and b.end_at > $2 and b.rescheduled_to_uid is null
      order by b.start_at`,
    [email, window.from, window.to],
  );
  return result.rows.map(feedBookingFromRow);
}

/** Blocks on a room in a window, lifted ones too (a calendar must be told they are off). */
export async function roomFeedBlocks(
  db: Queryable,
  room: string,
  window: { from: Date; to: Date },
): Promise<{ id: number; from: Date; to: Date; reason: string; createdAt: Date; liftedAt: Date | null }[]> {
  const result = await db.query(
    `select id, lower(during) as from_at, upper(during) as to_at, reason, created_at, lifted_at
       from room_blocks where room = $1 and during && tstzrange($2, $3) order by id`,
    [room, window.from, window.to],
  );
  return result.rows.map((r) => ({
    id: Number(r.id),
    from: r.from_at as Date,
    to: r.to_at as Date,
    reason: r.reason as string,
    createdAt: r.created_at as Date,
    liftedAt: (r.lifted_at as Date | null) ?? null,
  }));
}

/** Doctors Usher has seen organise bookings (for "did you mean" when a feed names one). */
export async function knownOrganizers(db: Queryable): Promise<string[]> {
  const result = await db.query<{ email: string }>(
    `select distinct lower(organizer_email) as email from bookings where organizer_email is not null order by 1 limit 2000`,
  );
  return result.rows.map((r) => r.email);
}
