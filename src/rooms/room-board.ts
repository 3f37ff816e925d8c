import { periodBounds } from '../domain/calendar-period.ts';
import type { Booking } from '../domain/booking.ts';
import { getBookings } from '../store/bookings.ts';
import type { Queryable } from '../store/db.ts';
import { listAssignments, listBlocks, listRooms } from '../store/rooms.ts';

export type RoomState =
  | { state: 'blocked'; reason: string; until: string; blockId: number }
  | { state: 'in_use'; until: string; booking: string; started: boolean }
  | { state: 'cleaning'; until: string; after: string }
  | { state: 'free' };

export interface BoardBooking {
  uid: string;
  title: string | null;
  /** The patient, as initials unless the config shows names (the front desk needs no more). */
  who: string | null;
  start: string;
  end: string;
  /** End of the cleaning after it. */
  clearAt: string;
  status: string;
  pinned: boolean;
  /** Cal.com shows the current room already (false while the write-back waits for the budget). */
  written: boolean;
  /** Not written, and never will be: the appointment had ended (Usher does not write to past bookings). */
  writeSkipped: boolean;
  location: string | null;
}

export interface BoardRoom {
  name: string;
  floor: number;
  building: string;
  equipment: readonly string[];
  cleaningMinutes: number;
  /** Daily opening hours as minutes from midnight in the clinic's zone; absent: always open. */
  open?: { fromMinute: number; toMinute: number };
  now: RoomState;
  next: BoardBooking | null;
  /** The day's bookings and blocks in this room, in time order. */
  day: { bookings: BoardBooking[]; blocks: { id: number; reason: string; from: string; until: string }[] };
}

export function initials(name: string | undefined): string | null {
  if (!name) return null;
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts.map((p) => `${p[0]!.toUpperCase()}.`).join(' ') || null;
}

/** How a booking is named on the board and in operator answers. */
export interface BookingPresenter {
  readonly showNames: boolean;
  title(b: Booking): string;
  who(b: Booking): string | null;
  /** "Consultation · P. D.": what the desk reads wherever a booking is named. */
  label(b: Booking | undefined): string;
}

/**
 * Cal.com's booking titles name the attendee ("Physio between Dr Murray and Ada Allen"), so the
 * board titles a booking by its event type (the config's `eventTypes.<id>.title`, else the slug)
 * and shows the person as initials unless `board.showNames` says otherwise.
 */
export function bookingPresenter(o: {
  showNames: boolean;
  eventTypeTitles?: Readonly<Record<string, string | undefined>>;
}): BookingPresenter {
  const presenter: BookingPresenter = {
    showNames: o.showNames,
    label: (b) => {
      if (!b) return 'Booking';
      const who = presenter.who(b);
      return who ? `${presenter.title(b)} · ${who}` : presenter.title(b);
    },
    title: (b) => {
      const configured = b.eventTypeId !== undefined ? o.eventTypeTitles?.[String(b.eventTypeId)] : undefined;
      const slug = b.eventTypeSlug ? b.eventTypeSlug.replace(/[-_]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase()) : undefined;
      return configured ?? slug ?? (o.showNames ? b.title : undefined) ?? 'Booking';
    },
    // A class names no one person: the desk needs how many are coming.
    who: (b) =>
      b.seats && b.seatsPerTimeSlot
        ? `${b.seats.length} of ${b.seatsPerTimeSlot} seats`
        : o.showNames
          ? (b.attendeeName ?? null)
          : initials(b.attendeeName),
  };
  return presenter;
}

/**
 * How far past the end of the day a room's "next" booking is looked for. Late in the evening the
 * desk still needs to know that a room has a patient at 00:30 (a night clinic, a demo started at
 * 23:40): "nothing more today" would be true and useless.
 */
const NEXT_HORIZON_MS = 12 * 3_600_000;

/** Every room's state at `at`, with its day (in the business's time zone): the board's data. */
export async function roomBoard(
  db: Queryable,
  o: { timeZone: string; present: BookingPresenter },
  at: Date,
): Promise<{ at: string; timeZone: string; rooms: BoardRoom[]; waiting: BoardBooking[] }> {
  const day = periodBounds(at, 'day', o.timeZone);
  const ahead = new Date(at.getTime() + NEXT_HORIZON_MS);
  const [rooms, blocks, assignments, later] = await Promise.all([
    listRooms(db),
    listBlocks(db, day),
    listAssignments(db, day),
    ahead > day.to ? listAssignments(db, { from: day.to, to: ahead }) : [],
  ]);
  const tomorrow = later.filter((a) => a.room !== null && a.from >= day.to);
  const bookings = await getBookings(
    db,
    [...assignments, ...tomorrow].map((a) => a.bookingUid),
  );
  const byUid = new Map([...assignments, ...tomorrow].map((a) => [a.bookingUid, a]));
  const byRoom = new Map<string, typeof assignments>();
  for (const a of assignments) if (a.room) byRoom.set(a.room, [...(byRoom.get(a.room) ?? []), a]);
  const nextDayFirst = new Map<string, (typeof assignments)[number]>();
  for (const a of tomorrow) {
    const seen = nextDayFirst.get(a.room!);
    if (!seen || a.from < seen.from) nextDayFirst.set(a.room!, a);
  }
  const present = (uid: string): BoardBooking | undefined => {
    const a = byUid.get(uid)!;
    const b = bookings.get(uid);
    if (!b) return undefined;
    return {
      uid,
      title: o.present.title(b),
      who: o.present.who(b),
      start: b.start.toISOString(),
      end: b.end.toISOString(),
      clearAt: a.to.toISOString(),
      status: b.status,
      pinned: a.pinned,
      written: a.locationText !== null && a.locationText === a.locationWritten,
      writeSkipped: !(a.locationText !== null && a.locationText === a.locationWritten) && b.end.getTime() <= at.getTime(),
      location: a.locationText,
    };
  };
  const t = at.getTime();
  const result: BoardRoom[] = rooms.map((room) => {
    const mine = (byRoom.get(room.name) ?? []).sort((x, y) => x.from.getTime() - y.from.getTime());
    const myBlocks = blocks.filter((b) => b.room === room.name);
    let now: RoomState = { state: 'free' };
    const block = myBlocks.find((b) => b.from <= t && t < b.to);
    const current = mine.find((a) => a.from.getTime() <= t && t < a.to.getTime());
    if (block) now = { state: 'blocked', reason: block.reason, until: new Date(block.to).toISOString(), blockId: block.id };
    else if (current) {
      const b = bookings.get(current.bookingUid);
      const end = b?.end ?? current.to;
      now =
        t < end.getTime() && b?.meetingState !== 'ended'
          ? { state: 'in_use', until: end.toISOString(), booking: current.bookingUid, started: b?.meetingState === 'started' }
          : { state: 'cleaning', until: current.to.toISOString(), after: current.bookingUid };
    }
    const upcoming = mine.find((a) => a.from.getTime() > t) ?? nextDayFirst.get(room.name);
    return {
      name: room.name,
      floor: room.floor,
      building: room.building,
      equipment: room.equipment,
      cleaningMinutes: room.cleaningMinutes,
      ...(room.open ? { open: room.open } : {}),
      now,
      next: upcoming ? (present(upcoming.bookingUid) ?? null) : null,
      day: {
        bookings: mine.map((a) => present(a.bookingUid)).filter((x): x is BoardBooking => x !== undefined),
        blocks: myBlocks.map((b) => ({
          id: b.id,
          reason: b.reason,
          from: new Date(b.from).toISOString(),
          until: new Date(b.to).toISOString(),
        })),
      },
    };
  });
  const waiting = assignments
    .filter((a) => a.room === null)
    .map((a) => present(a.bookingUid))
    .filter((x): x is BoardBooking => x !== undefined);
  return { at: at.toISOString(), timeZone: o.timeZone, rooms: result, waiting };
}
