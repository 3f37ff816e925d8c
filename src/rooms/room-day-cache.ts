import type { Booking } from '../domain/booking.ts';
import type { PlannedBooking, RoomBlock } from '../domain/room-model.ts';
import type { PlacedStay, RoomRecord } from '../store/rooms.ts';

/** A placed stay with its booking, and how a room choice plans around it (worked out once). */
export interface ChoiceStay {
  stay: PlacedStay;
  booking: Booking | undefined;
  planned: PlannedBooking | undefined;
}

/** One local day as a room choice reads it: the blocks and the placed stays. */
export interface ChoiceDay {
  window: { from: Date; to: Date };
  blocks: RoomBlock[];
  stays: Map<string, ChoiceStay>;
}

/**
 * Stays kept at most, over all days (~1.5 KB each with its booking): bookings arriving for two
 * months of a 20-room clinic keep every day in hand; a 300-room hospital keeps its busiest weeks.
 * Counted in stays, not days: webhooks come for days in any order, and cycling through more days
 * than are kept would read every one again.
 */
const MAX_STAYS = 20_000;

/**
 * What one room choice reads — the rooms and a local day's blocks and placed stays — kept in
 * memory between decisions of one process, so that a decision no longer re-reads and re-parses its
 * whole day (at 300 rooms that was a third of a decision, docs/benchmarks.md).
 *
 * It is only used while the database says nothing changed: the generation of migration 0014 is
 * read under the room-planning lock, and every change anyone makes to what a choice reads takes a
 * new, never-repeated one. A different generation forgets everything. This process's own room
 * choice is the one change it follows — it applies the stay it wrote, and reads the generation its
 * write took and the one it replaced (which proves nothing came between) — so a worker deciding
 * bookings one after another reads each day once. Every other path (a release, a re-plan, a block,
 * a reassigned doctor, another process) simply makes the next choice read again.
 */
export class RoomDayCache {
  #generation: string | undefined;
  #rooms: RoomRecord[] | undefined;
  readonly #days = new Map<number, ChoiceDay>();
  #stays = 0;
  /** Whether rooms were in service when last read: only a hint, for skipping a question before the lock. */
  hadActiveRooms = false;

  /** True when what is held is the database's state at `generation`; otherwise forgets it all and starts at it. */
  at(generation: string | undefined): boolean {
    if (generation !== undefined && generation === this.#generation) return true;
    this.#generation = generation;
    this.#rooms = undefined;
    this.#days.clear();
    this.#stays = 0;
    return false;
  }

  /** Whether anything read now may be kept (an unknown generation keeps nothing). */
  get keeping(): boolean {
    return this.#generation !== undefined;
  }

  get rooms(): RoomRecord[] | undefined {
    return this.#rooms;
  }

  keepRooms(rooms: RoomRecord[]): void {
    if (!this.keeping) return;
    this.#rooms = rooms;
    this.hadActiveRooms = rooms.some((r) => r.active);
  }

  day(from: Date): ChoiceDay | undefined {
    const day = this.#days.get(from.getTime());
    if (day) {
      // Most recently used last: the oldest is the one forgotten.
      this.#days.delete(from.getTime());
      this.#days.set(from.getTime(), day);
    }
    return day;
  }

  keepDay(day: ChoiceDay): void {
    if (!this.keeping) return;
    this.#days.set(day.window.from.getTime(), day);
    this.#stays += day.stays.size;
    // The least recently used days go first (never the one just kept).
    for (const [from, oldest] of this.#days) {
      if (this.#stays <= MAX_STAYS || oldest === day) break;
      this.#days.delete(from);
      this.#stays -= oldest.stays.size;
    }
  }

  /**
   * This process wrote one booking's assignment (a room, or waiting without one) after reading
   * `heldAt` under the planning lock, and its write took `after`. When the write replaced exactly
   * `heldAt` — nobody else's change came between — the held days follow it; otherwise all is forgotten.
   */
  wrote(
    uid: string,
    placed: ChoiceStay | undefined,
    heldAt: string | undefined,
    after: { generation: string; previous: string | undefined } | undefined,
  ): void {
    if (heldAt === undefined || heldAt !== this.#generation || !after || after.previous !== heldAt) {
      this.at(undefined);
      return;
    }
    this.#generation = after.generation;
    for (const day of this.#days.values()) {
      if (day.stays.delete(uid)) this.#stays -= 1;
      if (placed && placed.stay.from < day.window.to && placed.stay.to > day.window.from) {
        day.stays.set(uid, placed);
        this.#stays += 1;
      }
    }
  }
}
