import type { Booking } from '../domain/booking.ts';
import type { RoomIndex } from '../domain/room-index.ts';
import type { PlannedBooking, RoomBlock } from '../domain/room-model.ts';
import { planDays, type DayChange, type PlacedStay, type PlanGenerations, type RoomPlan, type RoomRecord } from '../store/rooms.ts';

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
  /**
   * The room index of these stays, once a choice built it (room-planning.ts loadChoiceWorld):
   * at 300 rooms building it took 1.3 ms of a decision. It follows this process's own writes
   * (wrote) and the changes read from the store (changed); a day read whole builds it again.
   */
  index?: RoomIndex | undefined;
}

/**
 * Stays kept at most, over all days (~1.5 KB each with its booking): bookings arriving for two
 * months of a 20-room clinic keep every day in hand; a 300-room hospital keeps its busiest weeks.
 * Counted in stays, not days: webhooks come for days in any order, and cycling through more days
 * than are kept would read every one again.
 */
const MAX_STAYS = 20_000;

/** A kept day, and what says whether it still is the database's. */
interface KeptDay {
  day: ChoiceDay;
  /** The generation of each UTC day its window touches, as of its content. */
  generations: Map<number, string>;
  /** The newest generation its last read (whole, or of what changed) saw: what changed after it is read next. */
  since: string;
  /** The transaction of that read: only once it committed is `since` a state anyone else sees. */
  xact: string;
  /** Bookings whose stays it took from this process's own writes since that read: read again with what changed. */
  followed: Set<string>;
}

/**
 * What a worker's batch trusts of the kept days (beginBatch). The batch holds the planning locks of
 * every day its choices read, so only its own transaction can change them until it commits.
 */
interface BatchTrust {
  /** The batch's transaction: no other transaction's choice trusts what it does. */
  trx: object;
  /** The generations of the batch's days, read right behind its locks. */
  generations: ReadonlyMap<number, string>;
  /** Bookings whose choice may take its kept day without asking the store (each once). */
  quick: Set<string>;
  /** Kept days found current at the batch's start: they take the batch's own writes as they are made. */
  checked: Set<KeptDay>;
  /** UTC days the batch's own writes touched: a day not checked before is no longer taken as it was. */
  touched: Set<number>;
  /** A choice's check found the store not as it assumed: the batch must not commit. */
  broken: boolean;
}

/** A kept day a choice takes without asking the store, and how its assumption is checked (RoomDayCache.quick). */
export interface QuickDay {
  day: ChoiceDay;
  /** Checks, once the store answers, that the plan read at the choice's place in the transaction is what it assumed. */
  check(read: Promise<RoomPlan>): void;
}

/** Where a kept day stands against the generations read now. */
export type KeptDayState =
  | { current: true; day: ChoiceDay }
  | { current: false; day: ChoiceDay; since: string; xact: string; followed: readonly string[] };

/**
 * What one room choice reads — the rooms and a local day's blocks and placed stays — kept in
 * memory between decisions of one process, so that a decision no longer re-reads and re-parses its
 * whole day (at 300 rooms that was a third of a decision, docs/benchmarks.md).
 *
 * It is only trusted as far as the database says (migrations 0015 and 0016), always read under the
 * planning locks: the rooms while the plan's epoch is the one they were read at; a day as it is
 * while each UTC day its window touches has the generation it was read at. Every change anyone
 * makes to what a choice reads takes a new, never-repeated generation for the days it touches, so
 * another process deciding other days leaves this one's days alone. A day that changed is brought
 * up to date with the rows changed after the newest generation its last read saw — when that read's
 * transaction committed (a rolled-back read may have seen its own writes, which never happened) and
 * the log of removed stays reaches back that far; otherwise it is read whole.
 *
 * This process's own room choice is the one change it follows: it applies the stay it wrote when
 * its write replaced exactly the generations the day was at (nothing came between), so a worker
 * deciding bookings one after another reads each day once. Such a stay is only as good as the
 * write's commit: it is read again with the next changes. The worker forgets everything when an
 * event's savepoint rolls back (forgetAll).
 */
export class RoomDayCache {
  #epoch: string | undefined;
  #rooms: RoomRecord[] | undefined;
  readonly #days = new Map<number, KeptDay>();
  #stays = 0;
  #forgets = 0;
  #following: Promise<void> = Promise.resolve();
  /** #following as it stood once the last quick choice's check joined it: the checks' part of it. */
  #checked: Promise<void> = Promise.resolve();
  #batch: BatchTrust | undefined;
  /** Whether rooms were in service when last read: only a hint, for skipping a question before the lock. */
  hadActiveRooms = false;

  /** True when what is held was read at this epoch; otherwise forgets it all and starts at it. */
  at(epoch: string | undefined): boolean {
    if (epoch !== undefined && epoch === this.#epoch) return true;
    this.#epoch = epoch;
    this.forgetAll();
    return false;
  }

  /**
   * A worker's batch begins, its days locked: `generations` were read right behind the locks, in
   * transaction `trx`. Until endBatch, the choices of the `quick` bookings (those the batch's events
   * name once, with no assignment, before any event that may change a day some other way:
   * room-events.ts) take their kept day as current without asking the store — when it was current
   * at the batch's start, or has taken every one of the batch's own writes since — so the worker's
   * JavaScript goes on while the store still writes the previous choice. Each such choice sends a
   * read of the plan at its place among the transaction's statements, checked as it arrives (check);
   * endBatch says whether any found the store otherwise, and then the batch must not commit.
   */
  beginBatch(trx: object, generations: PlanGenerations, quick: Iterable<string>): void {
    this.at(generations.epoch);
    this.#batch = this.keeping
      ? { trx, generations: generations.days, quick: new Set(quick), checked: new Set(), touched: new Set(), broken: false }
      : undefined;
  }

  /** The batch ends (its last check has arrived: checksArrived); true when a choice's check failed. */
  endBatch(): boolean {
    const broken = this.#batch?.broken ?? false;
    this.#batch = undefined;
    return broken;
  }

  /**
   * The kept day a `quick` booking's choice in the batch's transaction may take as it is (once per
   * booking), or undefined: ask the store. Only a whole day, all of whose UTC days the batch locked.
   */
  quick(trx: object, uid: string, window: { from: Date; to: Date; day: { from: Date; to: Date } }): QuickDay | undefined {
    const batch = this.#batch;
    if (!batch || batch.trx !== trx || batch.broken || !this.#rooms || !batch.quick.delete(uid)) return undefined;
    if (window.from.getTime() !== window.day.from.getTime() || window.to.getTime() !== window.day.to.getTime()) return undefined;
    if (planDays(window).some((d) => !batch.generations.has(d))) return undefined;
    const kept = this.#days.get(window.from.getTime());
    if (!kept) return undefined;
    if (!batch.checked.has(kept)) {
      for (const [d, generation] of kept.generations) if (batch.touched.has(d) || batch.generations.get(d) !== generation) return undefined;
      batch.checked.add(kept);
    }
    this.#days.delete(window.from.getTime());
    this.#days.set(window.from.getTime(), kept);
    const from = window.from.getTime();
    return { day: kept.day, check: (read) => this.#check(kept, from, read) };
  }

  /** A quick choice's check: the plan at its place was the kept day's generations, with no assignment for it. */
  #check(kept: KeptDay, from: number, read: Promise<RoomPlan>): void {
    const batch = this.#batch;
    // Observed at once (see follow).
    const answer = Promise.allSettled([read]);
    this.#following = this.#following
      .then(() => answer)
      .then(([plan]) => {
        if (plan.status === 'rejected') {
          if (batch) batch.broken = true;
          this.forgetAll();
          return;
        }
        const { generations, anyActive, assignment } = plan.value;
        let holds = this.#days.get(from) === kept && generations.epoch === this.#epoch && anyActive && !assignment;
        for (const [d, generation] of kept.generations) if (generations.days.get(d) !== generation) holds = false;
        if (!holds && batch) batch.broken = true;
      });
    this.#checked = this.#following;
  }

  /**
   * Applies this process's own write (wrote) once the day changes it made are read — a read sent
   * behind the write without waiting for it (Queryable.soon), so a decision costs no round trip for
   * it. caughtUp() waits for every such write to be applied; one whose read fails, or that a
   * forgetAll overtook (its transaction rolled back meanwhile), forgets or is dropped instead.
   * Written in a batch's transaction (beginBatch), the stay goes into the batch's checked days at
   * once: a quick choice after it sees it; their generations follow when the read arrives.
   */
  follow(
    uid: string,
    placed: ChoiceStay | undefined,
    changes: Promise<readonly DayChange[]>,
    write?: { trx: object; days: readonly number[] },
  ): void {
    const at = this.#forgets;
    const batch = this.#batch;
    const applied = new Set<KeptDay>();
    if (batch && write && batch.trx === write.trx) {
      for (const d of write.days) batch.touched.add(d);
      for (const kept of batch.checked) {
        if (this.#days.get(kept.day.window.from.getTime()) !== kept || !write.days.some((d) => kept.generations.has(d))) continue;
        this.#take(kept, uid, placed);
        applied.add(kept);
      }
    }
    // The kept days apply reads in the order they were sent, so this one may fail (its transaction
    // aborted by an earlier statement) while the chain still waits for one before it: observed at
    // once, as a failure with no handler by then ends the process (Node's unhandled rejection).
    const answer = Promise.allSettled([changes]);
    this.#following = this.#following
      .then(() => answer)
      .then(([read]) => {
        if (read.status === 'rejected') this.forgetAll();
        else if (this.#forgets === at) this.wrote(uid, placed, read.value, applied);
      });
  }

  /** Resolves once every write handed to follow() is applied (or dropped): before a choice reads a day. */
  caughtUp(): Promise<void> {
    return this.#following;
  }

  /**
   * Resolves once every quick choice's check has arrived (and what was sent before each): before
   * the batch's commit is sent. The writes followed after the last check may still be on their way:
   * applied when their reads arrive, before the commit's answer; dropped if the batch rolls back.
   */
  checksArrived(): Promise<void> {
    return this.#checked;
  }

  /** Forgets every room and day (a transaction that used them rolled back part of itself). */
  forgetAll(): void {
    this.#forgets++;
    this.#rooms = undefined;
    this.#days.clear();
    this.#stays = 0;
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

  /** The day starting at `from` if kept, and whether it is current at the generations read now. */
  day(from: Date, generations: ReadonlyMap<number, string>): KeptDayState | undefined {
    const kept = this.#days.get(from.getTime());
    if (!kept) return undefined;
    // Most recently used last: the oldest is the one forgotten.
    this.#days.delete(from.getTime());
    this.#days.set(from.getTime(), kept);
    for (const [d, generation] of kept.generations) {
      if (generations.get(d) !== generation)
        return { current: false, day: kept.day, since: kept.since, xact: kept.xact, followed: [...kept.followed] };
    }
    return { current: true, day: kept.day };
  }

  /** Keeps a day read whole under the planning locks, at these generations, in transaction `xact`; false if it cannot. */
  keepDay(day: ChoiceDay, generations: ReadonlyMap<number, string>, days: readonly number[], xact: string): boolean {
    if (!this.keeping || days.some((d) => !generations.has(d))) return false;
    this.forget(day.window.from);
    const at = new Map(days.map((d) => [d, generations.get(d)!]));
    this.#days.set(day.window.from.getTime(), { day, generations: at, since: newest(at), xact, followed: new Set() });
    this.#stays += day.stays.size;
    // The least recently used days go first (never the one just kept).
    for (const [from, oldest] of this.#days) {
      if (this.#stays <= MAX_STAYS || oldest.day === day) break;
      this.#days.delete(from);
      this.#stays -= oldest.day.stays.size;
    }
    return true;
  }

  /**
   * Brings a kept day up to the generations read now, in transaction `xact`, with what changed
   * since its last read: the stays that left it, then the changed ones as they are now (placed, or
   * gone). `removed` and `changed` include every booking it had followed.
   */
  changed(
    from: Date,
    generations: ReadonlyMap<number, string>,
    xact: string,
    removed: readonly string[],
    changed: readonly { uid: string; stay: ChoiceStay | undefined }[],
  ): ChoiceDay | undefined {
    const kept = this.#days.get(from.getTime());
    if (!kept) return undefined;
    // The day's room index takes the changes as this process's own writes do (#take), instead of
    // being built again from every stay: with several processes deciding the same days, nearly
    // every choice finds its day changed by another (docs/benchmarks.md, scale-out).
    for (const uid of [...removed, ...kept.followed]) this.#put(kept.day, uid, undefined);
    for (const { uid, stay } of changed) this.#put(kept.day, uid, stay);
    for (const d of kept.generations.keys()) kept.generations.set(d, generations.get(d) ?? '0');
    kept.since = newest(kept.generations);
    kept.xact = xact;
    kept.followed.clear();
    return kept.day;
  }

  /** Forgets one kept day (what changed on it cannot be read as changes). */
  forget(from: Date): void {
    const kept = this.#days.get(from.getTime());
    if (!kept) return;
    this.#days.delete(from.getTime());
    this.#stays -= kept.day.stays.size;
  }

  /**
   * This process wrote one booking's assignment (a room, or waiting without one), and its write
   * took `changes` for the days it touched. A kept day on those days follows it only where the write
   * replaced exactly the generation the day was at; otherwise that day is forgotten. A kept day on
   * none of them is left as it is: the stay was never in it, nor is now. (Every kept day used to take
   * every write, each remembering the booking as one to read again: a long-running process's kept
   * days each held the uid of every booking it had decided since.)
   */
  wrote(uid: string, placed: ChoiceStay | undefined, changes: readonly DayChange[], applied: ReadonlySet<KeptDay> = new Set()): void {
    for (const [from, kept] of this.#days) {
      if (!changes.some((change) => kept.generations.has(change.day))) continue;
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
      // A batch's checked day took the stay when it was written (follow).
      if (!applied.has(kept)) this.#take(kept, uid, placed);
    }
  }

  /** A kept day takes this process's write of one booking's stay (placed, or gone from it). */
  #take(kept: KeptDay, uid: string, placed: ChoiceStay | undefined): void {
    kept.followed.add(uid);
    this.#put(kept.day, uid, placed);
  }

  /** One booking's stay in a kept day and its room index as it is now: placed (if in the day's window), or gone. */
  #put(day: ChoiceDay, uid: string, placed: ChoiceStay | undefined): void {
    if (day.stays.delete(uid)) this.#stays -= 1;
    day.index?.drop(uid);
    if (placed && placed.stay.from < day.window.to && placed.stay.to > day.window.from) {
      day.stays.set(uid, placed);
      this.#stays += 1;
      if (placed.planned) day.index?.add(placed.planned);
    }
  }
}

function newest(generations: ReadonlyMap<number, string>): string {
  let max = 0n;
  for (const g of generations.values()) if (BigInt(g) > max) max = BigInt(g);
  return String(max);
}
