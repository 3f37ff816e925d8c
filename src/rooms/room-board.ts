import { periodBounds } from '../domain/calendar-period.ts';
import type { Booking } from '../domain/booking.ts';
import type { RoomBlock } from '../domain/room-model.ts';
import { readBoardDay, type BoardMark, type BoardStay } from '../store/board-reads.ts';
import type { Db } from '../store/db.ts';
import type { RoomRecord } from '../store/rooms.ts';

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

/**
 * The room board of one viewer-facing process, kept between views: the window's rooms, blocks and
 * bookings are read whole once, and after that only the bookings written since the last read
 * (store/board-reads.ts) — a change at 300 rooms reads a few rows instead of ~3,000. What the board
 * shows is then worked out in memory at `at` (rooms go from in use to cleaning to free by the clock
 * alone), and a booking shown as before is the same object as before, so that a view can be
 * compared with the last one by identity first (board-view.ts boardViewDelta).
 *
 * The window is the business's day and NEXT_HORIZON_MS past its end; a new day reads whole again.
 */
export class LiveRoomBoard {
  readonly #o: { timeZone: string; present: BookingPresenter };
  #day: { from: number; to: number } | undefined;
  #mark: BoardMark | undefined;
  #rooms: RoomRecord[] = [];
  #blocks = new Map<string, RoomBlock[]>();
  readonly #stays = new Map<string, BoardStay>();
  /** The day's stays by room (null: waiting for one), in the planner's order. */
  readonly #inDay = new Map<string | null, BoardStay[]>();
  /** The stays after the day (the rest of the window), by room, by start. */
  readonly #afterDay = new Map<string, BoardStay[]>();
  /** Each booking as last shown, kept while its stay is the same and its "write skipped" too. */
  readonly #shown = new Map<string, { stay: BoardStay; skipped: boolean; value: BoardBooking }>();

  constructor(o: { timeZone: string; present: BookingPresenter }) {
    this.#o = o;
  }

  /** Every room's state at `at`, with its day (in the business's time zone): the board's data. */
  async read(db: Db, at: Date): Promise<RoomBoardData> {
    const bounds = periodBounds(at, 'day', this.#o.timeZone);
    const day = { from: bounds.from.getTime(), to: bounds.to.getTime() };
    const window = { from: bounds.from, to: new Date(day.to + NEXT_HORIZON_MS) };
    const read = await readBoardDay(db, window, this.#day?.from === day.from ? this.#mark : undefined);
    this.#day = day;
    this.#mark = read.mark;
    this.#blocks = new Map();
    for (const b of read.blocks) if (b.from < day.to && b.to > day.from) this.#blocks.set(b.room, [...(this.#blocks.get(b.room) ?? []), b]);
    const touched = new Set<BoardStay[]>();
    if (read.whole) {
      this.#rooms = read.rooms;
      this.#stays.clear();
      this.#inDay.clear();
      this.#afterDay.clear();
      this.#shown.clear();
    } else for (const uid of read.changed) this.#forget(uid, touched);
    for (const stay of read.stays) {
      this.#forget(stay.bookingUid, touched);
      this.#stays.set(stay.bookingUid, stay);
      const list = this.#listOf(stay, true);
      list?.push(stay);
      if (list) touched.add(list);
    }
    for (const list of touched) list.sort(planOrder);
    return this.#compute(at);
  }

  #forget(uid: string, touched: Set<BoardStay[]>): void {
    const old = this.#stays.get(uid);
    if (!old) return;
    this.#stays.delete(uid);
    this.#shown.delete(uid);
    const list = this.#listOf(old, false);
    if (list) {
      list.splice(list.indexOf(old), 1);
      touched.add(list);
    }
  }

  /** The list a stay belongs in: the day's of its room, or after the day's (the next booking); waiting after the day: none. */
  #listOf(s: BoardStay, create: boolean): BoardStay[] | undefined {
    const day = this.#day!;
    const inDay = s.from.getTime() < day.to && s.to.getTime() > day.from;
    if (!inDay && s.room === null) return undefined;
    const lists: Map<string | null, BoardStay[]> = inDay ? this.#inDay : this.#afterDay;
    let list = lists.get(s.room);
    if (!list && create) {
      list = [];
      lists.set(s.room, list);
    }
    return list;
  }

  #compute(at: Date): RoomBoardData {
    const t = at.getTime();
    const ahead = t + NEXT_HORIZON_MS;
    const present = (s: BoardStay): BoardBooking | undefined => {
      const b = s.booking;
      if (!b) return undefined;
      const written = s.locationText !== null && s.locationText === s.locationWritten;
      const skipped = !written && b.end.getTime() <= t;
      const kept = this.#shown.get(s.bookingUid);
      if (kept && kept.stay === s && kept.skipped === skipped) return kept.value;
      const value: BoardBooking = {
        uid: s.bookingUid,
        title: this.#o.present.title(b),
        who: this.#o.present.who(b),
        start: b.start.toISOString(),
        end: b.end.toISOString(),
        clearAt: s.to.toISOString(),
        status: b.status,
        pinned: s.pinned,
        written,
        writeSkipped: skipped,
        location: s.locationText,
      };
      this.#shown.set(s.bookingUid, { stay: s, skipped, value });
      return value;
    };
    const rooms: BoardRoom[] = this.#rooms.map((room) => {
      const mine = this.#inDay.get(room.name) ?? [];
      const myBlocks = this.#blocks.get(room.name) ?? [];
      let now: RoomState = { state: 'free' };
      const block = myBlocks.find((b) => b.from <= t && t < b.to);
      const current = mine.find((s) => s.from.getTime() <= t && t < s.to.getTime());
      if (block) now = { state: 'blocked', reason: block.reason, until: new Date(block.to).toISOString(), blockId: block.id };
      else if (current) {
        const b = current.booking;
        const end = b?.end ?? current.to;
        now =
          t < end.getTime() && b?.meetingState !== 'ended'
            ? { state: 'in_use', until: end.toISOString(), booking: current.bookingUid, started: b?.meetingState === 'started' }
            : { state: 'cleaning', until: current.to.toISOString(), after: current.bookingUid };
      }
      const later = this.#afterDay.get(room.name)?.[0];
      const upcoming = mine.find((s) => s.from.getTime() > t) ?? (later && later.from.getTime() < ahead ? later : undefined);
      return {
        name: room.name,
        floor: room.floor,
        building: room.building,
        equipment: room.equipment,
        cleaningMinutes: room.cleaningMinutes,
        ...(room.open ? { open: room.open } : {}),
        now,
        next: upcoming ? (present(upcoming) ?? null) : null,
        day: {
          bookings: mine.map(present).filter((x): x is BoardBooking => x !== undefined),
          blocks: myBlocks.map((b) => ({
            id: b.id,
            reason: b.reason,
            from: new Date(b.from).toISOString(),
            until: new Date(b.to).toISOString(),
          })),
        },
      };
    });
    const waiting = (this.#inDay.get(null) ?? []).map(present).filter((x): x is BoardBooking => x !== undefined);
    return { at: at.toISOString(), timeZone: this.#o.timeZone, rooms, waiting };
  }
}

/** The planner's order (store/rooms.ts listAssignments): by start, then uid. */
function planOrder(x: BoardStay, y: BoardStay): number {
  return x.from.getTime() - y.from.getTime() || (x.bookingUid < y.bookingUid ? -1 : x.bookingUid > y.bookingUid ? 1 : 0);
}

// A type, not an interface: the API's answer schema takes it as a plain record.
export type RoomBoardData = {
  at: string;
  timeZone: string;
  rooms: BoardRoom[];
  waiting: BoardBooking[];
};

/** Every room's state at `at`, with its day (in the business's time zone), read once. */
export async function roomBoard(db: Db, o: { timeZone: string; present: BookingPresenter }, at: Date): Promise<RoomBoardData> {
  return new LiveRoomBoard(o).read(db, at);
}
