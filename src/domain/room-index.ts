import { TZDate } from '@date-fns/tz';
import { overlaps, type PlannedBooking, type Room, type RoomBlock, type RoomNeed, type SoftWeights } from './room-model.ts';

export interface PlanningWorld {
  rooms: readonly Room[];
  blocks: readonly RoomBlock[];
  /** Every booking in the planning window: placed ones are the rooms' occupancy. */
  bookings: readonly PlannedBooking[];
  timeZone: string;
  weights: SoftWeights;
}

interface Stay {
  uid: string;
  from: number;
  to: number;
}

const HOUR = 3_600_000;

/** A doctor's day around one booking, as RoomIndex.softCost weighs it (see #doctorAround). */
interface DoctorAround {
  need: RoomNeed;
  /** RoomIndex's change count when it was read: stale once anything moved. */
  changes: number;
  day: string;
  before: string | undefined;
  after: string | undefined;
  floors: Set<number>;
}

/** Local calendar day of an instant, cached per hour (Intl is slow and days change on hour boundaries). */
export class DayKeys {
  readonly #timeZone: string;
  readonly #cache = new Map<number, string>();
  constructor(timeZone: string) {
    this.#timeZone = timeZone;
  }
  of(at: number): string {
    // Time zones with 30/45-minute offsets change day on a quarter hour: cache by quarter hour.
    const slot = Math.floor(at / (HOUR / 4));
    let key = this.#cache.get(slot);
    if (key === undefined) {
      const d = new TZDate(slot * (HOUR / 4), this.#timeZone);
      key = `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
      this.#cache.set(slot, key);
    }
    return key;
  }
}

/**
 * The rooms' occupancy and the doctors' days, kept up to date as the planner places and removes
 * bookings, so that choosing a room looks only at that room's stays and that doctor's day.
 */
export class RoomIndex {
  readonly rooms: ReadonlyMap<string, Room>;
  readonly roomList: readonly Room[];
  readonly blocksByRoom: ReadonlyMap<string, readonly RoomBlock[]>;
  readonly bookings = new Map<string, PlannedBooking>();
  readonly days: DayKeys;
  readonly weights: SoftWeights;
  readonly timeZone: string;
  /** uid → the room it is in now (changes as the planner works). */
  readonly placement = new Map<string, string>();
  readonly #stays = new Map<string, Stay[]>();
  readonly #doctorDay = new Map<string, Set<string>>();
  readonly #roomDayMinutes = new Map<string, number>();
  /** Changes to each room's stays: what a planner derived from a room stays true while it is the same. */
  readonly #roomVersion = new Map<string, number>();
  /** Any change at all (a booking placed, removed, added or dropped). */
  #changes = 0;
  /** The last booking's doctor's day as softCost read it, kept while nothing changed (one per room otherwise). */
  #doctorMemo: DoctorAround | undefined;

  constructor(world: PlanningWorld) {
    this.rooms = new Map(world.rooms.map((r) => [r.name, r]));
    this.roomList = world.rooms;
    const blocks = new Map<string, RoomBlock[]>();
    for (const b of world.blocks) blocks.set(b.room, [...(blocks.get(b.room) ?? []), b]);
    this.blocksByRoom = blocks;
    this.days = new DayKeys(world.timeZone);
    this.weights = world.weights;
    this.timeZone = world.timeZone;
    for (const r of world.rooms) this.#stays.set(r.name, []);
    for (const b of world.bookings) this.add(b);
  }

  /** A booking joins the world (in its room, if it has one this index knows). */
  add(b: PlannedBooking): void {
    this.#changes++;
    this.bookings.set(b.need.uid, b);
    if (b.need.doctor) {
      const key = `${b.need.doctor}|${this.days.of(b.need.start)}`;
      let set = this.#doctorDay.get(key);
      if (!set) {
        set = new Set();
        this.#doctorDay.set(key, set);
      }
      set.add(b.need.uid);
    }
    if (b.room && this.rooms.has(b.room)) this.place(b.need.uid, b.room);
  }

  /** A booking leaves the world: its room and its doctor's day no longer hold it. */
  drop(uid: string): void {
    const b = this.bookings.get(uid);
    if (!b) return;
    this.#changes++;
    this.remove(uid);
    if (b.need.doctor) this.#doctorDay.get(`${b.need.doctor}|${this.days.of(b.need.start)}`)?.delete(uid);
    this.bookings.delete(uid);
  }

  blocksOf(room: string): readonly RoomBlock[] {
    return this.blocksByRoom.get(room) ?? [];
  }

  place(uid: string, roomName: string): void {
    const booking = this.bookings.get(uid)!;
    const room = this.rooms.get(roomName)!;
    const stay = { uid, from: booking.need.start, to: booking.need.end + room.cleaningMinutes * 60_000 };
    this.#stays.get(roomName)!.push(stay);
    this.placement.set(uid, roomName);
    this.#changed(roomName);
    const dayKey = `${roomName}|${this.days.of(booking.need.start)}`;
    this.#roomDayMinutes.set(dayKey, (this.#roomDayMinutes.get(dayKey) ?? 0) + (booking.need.end - booking.need.start) / 60_000);
  }

  remove(uid: string): void {
    const roomName = this.placement.get(uid);
    if (roomName === undefined) return;
    const stays = this.#stays.get(roomName)!;
    const at = stays.findIndex((s) => s.uid === uid);
    if (at >= 0) stays.splice(at, 1);
    this.placement.delete(uid);
    this.#changed(roomName);
    const booking = this.bookings.get(uid)!;
    const dayKey = `${roomName}|${this.days.of(booking.need.start)}`;
    this.#roomDayMinutes.set(dayKey, (this.#roomDayMinutes.get(dayKey) ?? 0) - (booking.need.end - booking.need.start) / 60_000);
  }

  #changed(roomName: string): void {
    this.#changes++;
    this.#roomVersion.set(roomName, (this.#roomVersion.get(roomName) ?? 0) + 1);
  }

  /** Moves on whenever a booking is placed in or removed from the room. */
  versionOf(roomName: string): number {
    return this.#roomVersion.get(roomName) ?? 0;
  }

  /** Bookings in `room` whose stay overlaps [from, to). */
  occupants(roomName: string, span: { from: number; to: number }, except?: string): string[] {
    const out: string[] = [];
    for (const s of this.#stays.get(roomName) ?? []) if (s.uid !== except && overlaps(s, span)) out.push(s.uid);
    return out;
  }

  /**
   * The soft cost of putting `need` in `room` (lower is better) and the preferences that decided it:
   * the doctor's neighbouring appointments that day in the same room, preferred rooms, the floor the
   * doctor is on that day, equipment the booking does not need (keep special rooms free), balance.
   */
  softCost(need: RoomNeed, room: Room): { cost: number; preferences: string[] } {
    const w = this.weights;
    let cost = 0;
    const preferences: string[] = [];
    const doctor = this.#doctorAround(need);
    const day = doctor.day;
    if (need.doctor) {
      if (doctor.before === room.name) {
        cost -= w.sameRoom;
        preferences.push('doctor.same_room_as_previous');
      }
      if (doctor.after === room.name) {
        cost -= w.sameRoom;
        preferences.push('doctor.same_room_as_next');
      }
      if (doctor.floors.has(room.floor)) {
        cost -= w.sameFloor;
        preferences.push('doctor.same_floor');
      }
    }
    if (need.preferredRooms.includes(room.name)) {
      cost -= w.preferred;
      preferences.push('room.preferred');
    }
    const surplus = room.equipment.filter((e) => !need.equipment.includes(e)).length;
    if (surplus > 0) {
      cost += surplus * w.surplusPerItem;
      preferences.push(`equipment.surplus:${surplus}`);
    }
    cost += ((this.#roomDayMinutes.get(`${room.name}|${day}`) ?? 0) / 60) * w.balancePerHour;
    return { cost, preferences };
  }

  /**
   * The rooms of the doctor's appointments just before and just after `need` that day, and the
   * floors the doctor works on. The same for every room softCost weighs for one booking: a planner
   * weighing 300 rooms asks it once, not 300 times.
   */
  #doctorAround(need: RoomNeed): DoctorAround {
    const memo = this.#doctorMemo;
    if (memo && memo.need === need && memo.changes === this.#changes) return memo;
    const day = this.days.of(need.start);
    let before: { end: number; room: string } | undefined;
    let after: { start: number; room: string } | undefined;
    const floors = new Set<number>();
    for (const uid of need.doctor ? (this.#doctorDay.get(`${need.doctor}|${day}`) ?? []) : []) {
      if (uid === need.uid) continue;
      const where = this.placement.get(uid);
      if (!where) continue;
      const other = this.bookings.get(uid)!.need;
      if (other.end <= need.start && (!before || other.end > before.end)) before = { end: other.end, room: where };
      if (other.start >= need.end && (!after || other.start < after.start)) after = { start: other.start, room: where };
      const floor = this.rooms.get(where)?.floor;
      if (floor !== undefined) floors.add(floor);
    }
    const around = { need, changes: this.#changes, day, before: before?.room, after: after?.room, floors };
    this.#doctorMemo = around;
    return around;
  }
}
