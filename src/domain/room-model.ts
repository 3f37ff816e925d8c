import { TZDate } from '@date-fns/tz';

/** A physical room (config `rooms`, or the admin API). */
export interface Room {
  name: string;
  floor: number;
  building: string;
  equipment: readonly string[];
  cleaningMinutes: number;
  /** Daily opening hours in the business's time zone, as minutes from midnight; absent = always open. */
  open?: { fromMinute: number; toMinute: number };
  /** How many people it holds; absent: not limited (a consulting room's patient and companion). */
  capacity?: number;
  active: boolean;
}

export interface RoomBlock {
  id: number;
  room: string;
  from: number;
  to: number;
  reason: string;
}

/** What a booking needs of a room. Times are epoch milliseconds (the planner's hot loops compare numbers). */
export interface RoomNeed {
  uid: string;
  start: number;
  end: number;
  /** The organizer (Cal.com user id or e-mail): the doctor. */
  doctor?: string;
  equipment: readonly string[];
  /** Rooms this doctor may use; absent = every room. */
  allowedRooms?: readonly string[];
  preferredRooms: readonly string[];
  /** People it brings: the seats taken of a seated event (a class); absent: one party. */
  people?: number;
}

/** A booking as the planner sees it: its needs, the room it has now, and whether it may be moved. */
export interface PlannedBooking {
  need: RoomNeed;
  /** The room it holds now (announced to Cal.com, or about to be); absent = unassigned. */
  room?: string;
  /** Starts within the freeze window or is in progress: moves only if its own room became unusable. */
  frozen: boolean;
  /** Placed by a person: the planner leaves it where it is unless its room became unusable. */
  pinned: boolean;
}

export interface SoftWeights {
  sameRoom: number;
  preferred: number;
  sameFloor: number;
  surplusPerItem: number;
  balancePerHour: number;
}

export const defaultWeights: SoftWeights = { sameRoom: 100, preferred: 50, sameFloor: 20, surplusPerItem: 10, balancePerHour: 1 };

/** Every hard rule a room can fail for a booking (each has a sentence in operations/reason-text.ts). */
export const ruleCodes = [
  'room.inactive',
  'room.missing_equipment',
  'room.not_allowed_for_doctor',
  'room.too_small',
  'room.closed',
  'room.blocked',
  'room.occupied',
] as const;
export type RuleCode = (typeof ruleCodes)[number];

export interface RuleFailure {
  code: RuleCode;
  room: string;
  detail?: Record<string, unknown>;
}

const MINUTE = 60_000;

/** The time a booking holds a room: its slot and the room's cleaning after it. */
export function occupancy(need: RoomNeed, room: Room): { from: number; to: number } {
  return { from: need.start, to: need.end + room.cleaningMinutes * MINUTE };
}

export function overlaps(a: { from: number; to: number }, b: { from: number; to: number }): boolean {
  return a.from < b.to && b.from < a.to;
}

function minuteOfDay(at: number, timeZone: string): { day: string; minute: number } {
  const d = new TZDate(at, timeZone);
  return { day: `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`, minute: d.getHours() * 60 + d.getMinutes() };
}

/** Whether [start, end) lies within one day's opening hours in the time zone. */
export function withinOpeningHours(room: Room, start: number, end: number, timeZone: string): boolean {
  if (!room.open) return true;
  const s = minuteOfDay(start, timeZone);
  const e = minuteOfDay(end - 1, timeZone);
  return s.day === e.day && s.minute >= room.open.fromMinute && e.minute < room.open.toMinute;
}

/**
 * The hard rules that do not depend on other bookings: equipment, the doctor's rooms, opening
 * hours, blocks. Returns the first rule the room breaks, or nothing.
 */
export function staticRuleFailure(need: RoomNeed, room: Room, blocks: readonly RoomBlock[], timeZone: string): RuleFailure | undefined {
  if (!room.active) return { code: 'room.inactive', room: room.name };
  const missing = need.equipment.filter((e) => !room.equipment.includes(e));
  if (missing.length) return { code: 'room.missing_equipment', room: room.name, detail: { missing } };
  if (need.allowedRooms && !need.allowedRooms.includes(room.name))
    return { code: 'room.not_allowed_for_doctor', room: room.name, detail: { doctor: need.doctor } };
  if (room.capacity !== undefined && (need.people ?? 1) > room.capacity)
    return { code: 'room.too_small', room: room.name, detail: { capacity: room.capacity, people: need.people } };
  if (!withinOpeningHours(room, need.start, need.end, timeZone)) return { code: 'room.closed', room: room.name };
  const span = occupancy(need, room);
  const block = blocks.find((b) => b.room === room.name && overlaps(b, span));
  if (block) return { code: 'room.blocked', room: room.name, detail: { reason: block.reason, until: new Date(block.to).toISOString() } };
  return undefined;
}
