import { createHash, randomBytes } from 'node:crypto';
import ical, { ICalEventBusyStatus, ICalEventStatus } from 'ical-generator';
import { z } from 'zod';
import { didYouMean } from '../config-faults.ts';
import { localDate, middayOfLocalDate, periodBounds } from '../domain/calendar-period.ts';
import { UsherError } from '../errors.ts';
import type { BookingPresenter } from '../rooms/room-board.ts';
import {
  type CalendarFeed,
  doctorFeedBookings,
  type FeedBooking,
  feedByTokenHash,
  insertFeed,
  knownOrganizers,
  listFeeds,
  revokeFeed,
  roomFeedBlocks,
  roomFeedBookings,
} from '../store/calendar-feeds.ts';
import type { Queryable } from '../store/db.ts';
import { listRooms } from '../store/rooms.ts';
import type { CalendarSettings } from './insights-config.ts';

const DAY = 86_400_000;

export const newFeed = z
  .object({
    room: z.string().min(1).max(40).optional(),
    doctor: z.string().email().optional().describe("the doctor's e-mail (the Cal.com organizer)"),
    showNames: z.boolean().optional().describe('full names in the events; default: the config’s calendars.showNames (initials)'),
    by: z.string().max(100).optional(),
  })
  .strict()
  .refine((f) => (f.room ? !f.doctor : !!f.doctor), { message: 'give a room or a doctor, not both', path: ['room'] });
export type NewFeed = z.input<typeof newFeed>;

/** A feed as listed: never its secret (only a hash is kept). */
export type PresentedFeed = Omit<CalendarFeed, 'createdAt' | 'revokedAt'> & { createdAt: string; revokedAt: string | null };

export const presentFeed = (f: CalendarFeed): PresentedFeed => ({
  ...f,
  createdAt: f.createdAt.toISOString(),
  revokedAt: f.revokedAt?.toISOString() ?? null,
});

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * A new feed for a room or a doctor. The answer carries the URL's path with its secret, once: only
 * its hash is stored, so a lost URL is replaced (revoke, create), never looked up.
 */
export async function createFeed(
  db: Queryable,
  settings: CalendarSettings,
  input: NewFeed,
  by: string,
  now: Date,
): Promise<{ feed: PresentedFeed; path: string }> {
  const f = newFeed.parse(input);
  let kind: 'room' | 'doctor';
  let subject: string;
  if (f.room) {
    const names = (await listRooms(db, { includeInactive: true })).map((r) => r.name);
    if (!names.includes(f.room)) {
      const guess = didYouMean(f.room, names);
      throw new UsherError('NOT_FOUND', `no room "${f.room}"${guess ? ` — did you mean "${guess}"?` : ''}`);
    }
    kind = 'room';
    subject = f.room;
  } else {
    subject = f.doctor!.toLowerCase();
    const known = await knownOrganizers(db);
    if (!known.includes(subject)) {
      const guess = didYouMean(subject, known);
      throw new UsherError('NOT_FOUND', `no booking has ${subject} as its organizer${guess ? ` — did you mean "${guess}"?` : ''}`);
    }
    kind = 'doctor';
  }
  const token = randomBytes(24).toString('base64url');
  const feed = await insertFeed(
    db,
    { kind, subject, tokenHash: hashOf(token), showNames: f.showNames ?? settings.showNames, by: f.by ?? by },
    now,
  );
  return { feed: presentFeed(feed), path: `/calendars/${token}.ics` };
}

export async function calendarFeeds(db: Queryable, includeRevoked: boolean): Promise<PresentedFeed[]> {
  return (await listFeeds(db, { includeRevoked })).map(presentFeed);
}

export async function endFeed(db: Queryable, id: number, now: Date): Promise<PresentedFeed> {
  const feed = await revokeFeed(db, id, now);
  if (!feed) throw new UsherError('NOT_FOUND', `no live calendar feed ${id}`);
  return presentFeed(feed);
}

/** The feed a URL's secret opens, if it is live. */
export async function feedForToken(db: Queryable, token: string): Promise<CalendarFeed | undefined> {
  if (!/^[A-Za-z0-9_-]{32}$/.test(token)) return undefined;
  return feedByTokenHash(db, hashOf(token));
}

const STATUS = {
  accepted: ICalEventStatus.CONFIRMED,
  pending: ICalEventStatus.TENTATIVE,
  cancelled: ICalEventStatus.CANCELLED,
  rejected: ICalEventStatus.CANCELLED,
} as const;

/**
 * The feed as iCalendar (RFC 5545). Times are UTC (every client converts them to its own zone; no
 * VTIMEZONE to get wrong); a block over whole local days is an all-day event on those dates. Each
 * booking keeps its UID; SEQUENCE grows with every room decision or state change, so a subscribed
 * calendar replaces its copy; a cancelled booking or a lifted block stays, STATUS:CANCELLED, until
 * it leaves the window, so the change shows on the next refresh rather than as a silent gap.
 * Initials and the appointment type only, unless the feed was made with names; never an e-mail.
 */
export async function renderFeed(
  db: Queryable,
  feed: CalendarFeed,
  o: { settings: CalendarSettings; timeZone: string; title: string; present: (showNames: boolean) => BookingPresenter },
  now: Date,
): Promise<string> {
  const window = { from: new Date(now.getTime() - o.settings.pastDays * DAY), to: new Date(now.getTime() + o.settings.aheadDays * DAY) };
  const name = feed.kind === 'room' ? `Room ${feed.subject}` : feed.subject;
  const calendar = ical({
    name: `${name} · ${o.title}`,
    prodId: { company: 'Usher', product: 'Usher room calendars', language: 'EN' },
    // Subscribed calendars refresh on their own schedule; this asks for every 15 minutes.
    ttl: 15 * 60,
    x: [['X-WR-TIMEZONE', o.timeZone]],
  });
  const present = o.present(feed.showNames);
  const bookings =
    feed.kind === 'room' ? await roomFeedBookings(db, feed.subject, window) : await doctorFeedBookings(db, feed.subject, window);
  for (const f of bookings) calendar.createEvent(bookingEvent(f, feed, present));
  if (feed.kind === 'room') {
    for (const b of await roomFeedBlocks(db, feed.subject, window)) {
      const allDay = wholeLocalDays(b.from, b.to, o.timeZone);
      calendar.createEvent({
        id: `block-${b.id}@usher`,
        ...(allDay
          ? { allDay: true, start: new Date(`${allDay.first}T00:00:00Z`), end: new Date(`${allDay.afterLast}T00:00:00Z`) }
          : { start: b.from, end: b.to }),
        summary: `Blocked: ${b.reason}`,
        sequence: b.liftedAt ? 1 : 0,
        stamp: b.liftedAt ?? b.createdAt,
        status: b.liftedAt ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
        // A block is the room being unavailable: shown busy, as a meeting room's calendar would.
        ...(b.liftedAt ? {} : { busystatus: ICalEventBusyStatus.BUSY }),
      });
    }
  }
  return calendar.toString();
}

function bookingEvent(
  f: FeedBooking,
  feed: CalendarFeed,
  present: BookingPresenter,
): Parameters<ReturnType<typeof ical>['createEvent']>[0] {
  const b = f.booking;
  const where = f.room ? (f.location ?? `Room ${f.room}`) : feed.kind === 'doctor' ? 'Room to be given' : undefined;
  return {
    id: `${b.uid}@usher`,
    start: b.start,
    end: b.end,
    summary: present.label(b).replace(' · ', ' — '),
    ...(where && b.status !== 'cancelled' && b.status !== 'rejected' ? { location: where } : {}),
    description: feed.kind === 'doctor' && f.room ? `Room ${f.room}` : null,
    sequence: f.revision,
    stamp: f.changedAt,
    status: STATUS[b.status],
  };
}

/** A block that starts and ends on local midnights covers whole days: its first and the day after its last. */
function wholeLocalDays(from: Date, to: Date, timeZone: string): { first: string; afterLast: string } | undefined {
  const first = localDate(from, timeZone);
  const afterLast = localDate(to, timeZone);
  const midnight = (day: string) => periodBounds(middayOfLocalDate(day, timeZone), 'day', timeZone).from.getTime();
  return from.getTime() === midnight(first) && to.getTime() === midnight(afterLast) && first < afterLast ? { first, afterLast } : undefined;
}
