import { chooseRoom } from '../src/domain/choose-room.ts';
import { RoomIndex, type PlanningWorld } from '../src/domain/room-index.ts';
import { defaultWeights, type PlannedBooking, type Room, type RoomBlock, type RoomNeed } from '../src/domain/room-model.ts';

/** A small, fast, seeded PRNG (mulberry32): the same seed always builds the same clinic. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTE = 60_000;
export const DAY0 = Date.UTC(2026, 11, 1);
const EQUIPMENT = ['ecg', 'xray', 'ultrasound'];

export interface ClinicOptions {
  rooms: number;
  bookings: number;
  doctors?: number;
  days?: number;
  frozenShare?: number;
  pinnedShare?: number;
  timeZone?: string;
}

/**
 * A realistic clinic: rooms with some equipment and cleaning times, doctors limited to some rooms,
 * appointments of 15–60 minutes between 08:00 and 18:00, planned one by one as they were booked
 * (the greedy choice the live service makes), some frozen or pinned.
 */
export function generateClinic(seed: number, o: ClinicOptions): PlanningWorld {
  const rnd = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const rooms: Room[] = Array.from({ length: o.rooms }, (_, i) => ({
    name: `R${i + 1}`,
    floor: 1 + (i % 4),
    building: i % 2 ? 'North wing' : 'South wing',
    equipment: EQUIPMENT.filter(() => rnd() < 0.3),
    cleaningMinutes: pick([0, 5, 10, 15]),
    active: true,
  }));
  const names = rooms.map((r) => r.name);
  const doctors = Array.from({ length: o.doctors ?? Math.max(2, Math.ceil(o.rooms / 2)) }, (_, i) => {
    const restricted = rnd() < 0.5;
    const allowed = restricted ? names.filter(() => rnd() < 0.6) : undefined;
    const usable = allowed && allowed.length > 0 ? allowed : undefined;
    return { id: `d${i + 1}`, allowed: usable, preferred: usable ? [pick(usable)] : rnd() < 0.5 ? [pick(names)] : [] };
  });
  const available = EQUIPMENT.filter((e) => rooms.some((r) => r.equipment.includes(e)));
  const needs: RoomNeed[] = Array.from({ length: o.bookings }, (_, i) => {
    const doctor = pick(doctors);
    const day = Math.floor(rnd() * (o.days ?? 1));
    const start = DAY0 + day * 86_400_000 + (8 * 60 + 15 * Math.floor(rnd() * 40)) * MINUTE;
    const length = pick([15, 30, 30, 45, 60]);
    return {
      uid: `b${i + 1}`,
      start,
      end: start + length * MINUTE,
      doctor: doctor.id,
      equipment: available.length && rnd() < 0.2 ? [pick(available)] : [],
      ...(doctor.allowed ? { allowedRooms: doctor.allowed } : {}),
      preferredRooms: doctor.preferred,
    };
  });
  const timeZone = o.timeZone ?? 'UTC';
  const index = new RoomIndex({
    rooms,
    blocks: [],
    bookings: needs.map((need) => ({ need, frozen: false, pinned: false })),
    timeZone,
    weights: defaultWeights,
  });
  const bookings: PlannedBooking[] = needs.map((need) => {
    const choice = chooseRoom(index, need);
    if (choice.outcome === 'assigned') index.place(need.uid, choice.room);
    return {
      need,
      ...(choice.outcome === 'assigned' ? { room: choice.room } : {}),
      frozen: rnd() < (o.frozenShare ?? 0.1),
      pinned: rnd() < (o.pinnedShare ?? 0.05),
    };
  });
  return { rooms, blocks: [], bookings, timeZone, weights: defaultWeights };
}

/** Blocks the room with the most bookings for a stretch of the day. */
export function blockBusiestRoom(world: PlanningWorld, seed: number, hours = 4): { world: PlanningWorld; block: RoomBlock } {
  const rnd = seeded(seed ^ 0x5bd1e995);
  const counts = new Map<string, number>();
  for (const b of world.bookings) if (b.room) counts.set(b.room, (counts.get(b.room) ?? 0) + 1);
  const busiest = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? world.rooms[0]!.name;
  const from = DAY0 + (8 + Math.floor(rnd() * 6)) * 3_600_000;
  const block: RoomBlock = { id: 1, room: busiest, from, to: from + hours * 3_600_000, reason: 'cleaning' };
  return { world: { ...world, blocks: [...world.blocks, block] }, block };
}
