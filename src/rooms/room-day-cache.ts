import type { Booking } from '../domain/booking.ts';
import type { PlannedBooking, RoomBlock } from '../domain/room-model.ts';
import type { DayChange, PlacedStay, RoomRecord } from '../store/rooms.ts';

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

/** A kept day, and the generations of the UTC days its window touches when it was read. */
interface KeptDay {
  day: ChoiceDay;
  generations: Map<number, string>;
}

/**
 * What one room choice reads — the rooms and a local day's blocks and placed stays — kept in
 * memory between decisions of one process, so that a decision no longer re-reads and re-parses its
 * whole day (at 300 rooms that was a third of a decision, docs/benchmarks.md).
 *
 * It is only used while the database says nothing changed (migration 0015): the rooms while the
 * plan's epoch is the one they were read at, a day while each UTC day its window touches has the
 * generation it was read at — both read under the planning locks. Every change anyone makes to
 * what a choice reads takes a new, never-repeated generation for the days it touches (a room
 * change, a new epoch). So another process deciding other days leaves this one's days alone.
 * This process's own room choice is the one change it follows: it applies the stay it wrote when
 * its write replaced exactly the generations the kept days were read at (nothing came between), so
 * a worker deciding bookings one after another reads each day once. Every other path (a release, a
 * re-plan, a block, a reassigned doctor, another process's choice on the same day) simply makes the
 * next choice on that day read it again.
 */
export class RoomDayCache {
  #epoch: string | undefined;
  #rooms: RoomRecord[] | undefined;
  readonly #days = new Map<number, KeptDay>();
  #stays = 0;
  /** Whether rooms were in service when last read: only a hint, for skipping a question before the lock. */
  hadActiveRooms = false;

  /** True when what is held was read at this epoch; otherwise forgets it all and starts at it. */
  at(epoch: string | undefined): boolean {
    if (epoch !== undefined && epoch === this.#epoch) return true;
    this.#epoch = epoch;
    this.#rooms = undefined;
    this.#days.clear();
    this.#stays = 0;
    return false;
  }

  /** Whether anything read now may be kept (an unknown epoch keeps nothing). */
  get keeping(): boolean {
    return this.#epoch !== undefined;
  }

  get rooms(): RoomRecord[] | undefined {
    return this.#rooms;
  }

  keepRooms(rooms: RoomRecord[]): void {
    if (!this.keeping) return;
    this.#rooms = rooms;
    this.hadActiveRooms = rooms.some((r) => r.active);
  }

  /** The day starting at `from`, if kept and its UTC days still have the generations it was read at. */
  day(from: Date, generations: ReadonlyMap<number, string>): ChoiceDay | undefined {
    const kept = this.#days.get(from.getTime());
    if (!kept) return undefined;
    this.#days.delete(from.getTime());
    for (const [d, generation] of kept.generations) {
      if (generations.get(d) !== generation) {
        this.#stays -= kept.day.stays.size;
        return undefined;
      }
    }
    // Most recently used last: the oldest is the one forgotten.
    this.#days.set(from.getTime(), kept);
    return kept.day;
  }

  /** Keeps a day read under the planning locks at these generations (of every UTC day its window touches). */
  keepDay(day: ChoiceDay, generations: ReadonlyMap<number, string>, days: readonly number[]): void {
    if (!this.keeping || days.some((d) => !generations.has(d))) return;
    this.#days.set(day.window.from.getTime(), { day, generations: new Map(days.map((d) => [d, generations.get(d)!])) });
    this.#stays += day.stays.size;
    // The least recently used days go first (never the one just kept).
    for (const [from, oldest] of this.#days) {
      if (this.#stays <= MAX_STAYS || oldest.day === day) break;
      this.#days.delete(from);
      this.#stays -= oldest.day.stays.size;
    }
  }

  /**
   * This process wrote one booking's assignment (a room, or waiting without one), and its write
   * took `changes` for the days it touched. A kept day on those days follows it only where the write
   * replaced exactly the generation the day was read at; otherwise that day is forgotten.
   */
  wrote(uid: string, placed: ChoiceStay | undefined, changes: readonly DayChange[]): void {
    for (const [from, kept] of this.#days) {
      let follows = true;
      for (const change of changes) {
        if (!kept.generations.has(change.day)) continue;
        // No previous row: the write made the day's first generation, and the day was read as never changed ('0').
        if (kept.generations.get(change.day) !== (change.previous ?? '0')) follows = false;
      }
      if (!follows) {
        this.#days.delete(from);
        this.#stays -= kept.day.stays.size;
        continue;
      }
      for (const change of changes) if (kept.generations.has(change.day)) kept.generations.set(change.day, change.generation);
      const day = kept.day;
      if (day.stays.delete(uid)) this.#stays -= 1;
      if (placed && placed.stay.from < day.window.to && placed.stay.to > day.window.from) {
        day.stays.set(uid, placed);
        this.#stays += 1;
      }
    }
  }
}
