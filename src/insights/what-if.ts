import { z } from 'zod';
import { didYouMean } from '../config-faults.ts';
import { middayOfLocalDate, periodBounds } from '../domain/calendar-period.ts';
import { replayRooms, type ReplayStep } from '../domain/replay-rooms.ts';
import type { Room, RoomNeed } from '../domain/room-model.ts';
import { UsherError } from '../errors.ts';
import { openMinutes } from '../rooms/room-config.ts';
import { needOf, type RoomDeps } from '../rooms/room-planning.ts';
import type { Queryable } from '../store/db.ts';
import { countPlannerMoves, listBlockHistory, listBookingHistory, listOperatorMoves } from '../store/room-history.ts';
import { listRooms } from '../store/rooms.ts';
import type { InsightsSettings } from './insights-config.ts';
import { addDays } from './insights-report.ts';

const MAX_DAYS = 92;
const localDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD')
  .refine((d) => new Date(`${d}T12:00:00Z`).toISOString().startsWith(d), 'a real date');
const openHours = z
  .string()
  .regex(/^\d\d:\d\d-\d\d:\d\d$/, 'like "08:00-18:00"')
  .refine((v) => v.slice(0, 5) < v.slice(6), 'from must be before to');

export const whatIfQuery = z
  .object({
    from: localDay,
    to: localDay.describe('last day, included'),
    without: z.array(z.string().min(1)).default([]).describe('rooms taken away for the whole period'),
    add: z
      .array(
        z
          .object({
            name: z.string().trim().min(1).max(40),
            equipment: z.array(z.string().trim().min(1)).default([]),
            floor: z.number().int().default(0),
            cleaningMinutes: z.number().int().min(0).max(1440).optional().describe('default: the clinic’s most common'),
            openHours: openHours.optional(),
            capacity: z.number().int().positive().optional(),
          })
          .strict(),
      )
      .default([]),
    change: z
      .array(
        z
          .object({
            room: z.string().min(1).describe('a room, or * for every room'),
            cleaningMinutes: z.number().int().min(0).max(1440).optional(),
            openHours: openHours.nullable().optional().describe('null: always open'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .refine((q) => q.from <= q.to, { message: 'must not be after to', path: ['from'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) < MAX_DAYS * 86_400_000, {
    message: `at most ${MAX_DAYS} days at once`,
    path: ['to'],
  });
export type WhatIfQuery = z.input<typeof whatIfQuery>;

export interface RoomUse {
  room: string;
  bookings: number;
  bookedMinutes: number;
  openMinutes: number;
  utilisation: number | null;
}

export interface Scenario {
  withRoom: number;
  withoutRoom: number;
  moves: number;
  waited: number;
  perRoom: RoomUse[];
}

export interface WhatIfResult {
  from: string;
  to: string;
  rooms: { removed: string[]; added: string[]; changed: string[] };
  /** Bookings of the period that needed a room and were still booked at its end. */
  bookings: number;
  recorded: Scenario;
  whatIf: Scenario & { inexactPlans: number };
  differences: {
    otherRoom: number;
    lostRoom: number;
    gainedRoom: number;
    /** The first 50, soonest first. */
    sample: { uid: string; start: string; title: string | null; recorded: string | null; whatIf: string | null }[];
  };
  seconds: number;
}

/** The store's rooms with the asked-for changes; every unknown room named with what was probably meant. */
function changedRooms(current: readonly Room[], q: z.output<typeof whatIfQuery>): { rooms: Room[]; changed: string[] } {
  const names = current.map((r) => r.name);
  const faults: string[] = [];
  const unknown = (name: string, field: string) => {
    const guess = didYouMean(name, names);
    faults.push(`${field}: no room "${name}"${guess ? ` — did you mean "${guess}"?` : ` (rooms: ${names.join(', ')})`}`);
  };
  for (const name of q.without) if (!names.includes(name)) unknown(name, 'without');
  for (const c of q.change) if (c.room !== '*' && !names.includes(c.room)) unknown(c.room, 'change');
  for (const a of q.add) if (names.includes(a.name)) faults.push(`add: room "${a.name}" exists already (use change)`);
  if (faults.length) throw new UsherError('BAD_REQUEST', faults.join('; '));
  const changed = new Set<string>();
  const rooms = current
    .filter((r) => !q.without.includes(r.name))
    .map((r) => {
      let room = r;
      for (const c of q.change.filter((x) => x.room === '*' || x.room === r.name)) {
        changed.add(r.name);
        const open = c.openHours === null ? undefined : c.openHours !== undefined ? openMinutes(c.openHours) : room.open;
        const { open: _, ...rest } = room;
        room = { ...rest, ...(c.cleaningMinutes !== undefined ? { cleaningMinutes: c.cleaningMinutes } : {}), ...(open ? { open } : {}) };
      }
      return room;
    });
  const cleaning = mostCommon(current.map((r) => r.cleaningMinutes)) ?? 0;
  for (const a of q.add) {
    const open = openMinutes(a.openHours);
    rooms.push({
      name: a.name,
      floor: a.floor,
      building: '',
      equipment: a.equipment,
      cleaningMinutes: a.cleaningMinutes ?? cleaning,
      ...(open ? { open } : {}),
      ...(a.capacity ? { capacity: a.capacity } : {}),
      active: true,
    });
  }
  return { rooms, changed: [...changed] };
}

function mostCommon(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
}

/** Minutes each room is open over the period's open days (the same rule as the insights). */
function openMinutesOver(room: Room, days: readonly string[], settings: InsightsSettings): number {
  const open = room.open ?? settings.open;
  return days.length * (open.toMinute - open.fromMinute);
}

function openDays(from: string, to: string, settings: InsightsSettings): string[] {
  const out: string[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const weekday = new Date(`${day}T12:00:00Z`).getUTCDay() || 7;
    if (!settings.holidays.includes(day) && !settings.closedWeekdays.includes(weekday)) out.push(day);
  }
  return out;
}

function scenario(
  rooms: readonly Room[],
  placed: Map<string, string | null>,
  needs: Map<string, RoomNeed>,
  days: string[],
  settings: InsightsSettings,
) {
  const perRoom = new Map(rooms.map((r) => [r.name, { bookings: 0, minutes: 0 }]));
  let withRoom = 0;
  let withoutRoom = 0;
  for (const [uid, room] of placed) {
    if (!room) {
      withoutRoom++;
      continue;
    }
    withRoom++;
    const use = perRoom.get(room) ?? { bookings: 0, minutes: 0 };
    const need = needs.get(uid)!;
    use.bookings++;
    use.minutes += (need.end - need.start) / 60_000;
    perRoom.set(room, use);
  }
  const byName = new Map(rooms.map((r) => [r.name, r]));
  return {
    withRoom,
    withoutRoom,
    perRoom: [...perRoom]
      .map(([room, use]): RoomUse => {
        const r = byName.get(room);
        const open = r ? openMinutesOver(r, days, settings) : 0;
        return {
          room,
          bookings: use.bookings,
          bookedMinutes: Math.round(use.minutes),
          openMinutes: open,
          utilisation: open > 0 ? Math.round((use.minutes / open) * 1000) / 1000 : null,
        };
      })
      .sort((a, b) => a.room.localeCompare(b.room, 'en', { numeric: true })),
  };
}

/**
 * Replays [from, to] (the clinic's days) through the room planner with the rooms changed as asked,
 * beside what really happened. The period's bookings, blocks and a person's placements are read from
 * the store; the replay itself is pure (domain/replay-rooms.ts) and changes nothing.
 */
export async function whatIf(
  db: Queryable,
  deps: RoomDeps,
  settings: InsightsSettings,
  query: WhatIfQuery,
  onProgress?: (done: number, total: number) => void,
): Promise<WhatIfResult> {
  const started = performance.now();
  const q = whatIfQuery.parse(query);
  const window = {
    from: periodBounds(middayOfLocalDate(q.from, deps.timeZone), 'day', deps.timeZone).from,
    to: periodBounds(middayOfLocalDate(q.to, deps.timeZone), 'day', deps.timeZone).to,
  };
  const [stored, history, placements, blocks, plannerMoves] = [
    await listRooms(db, { includeInactive: true }),
    await listBookingHistory(db, window),
    await listOperatorMoves(db, window),
    await listBlockHistory(db, { from: new Date(window.from.getTime() - 86_400_000), to: new Date(window.to.getTime() + 86_400_000) }),
    await countPlannerMoves(db, window),
  ];
  // Rooms as they were for the period: today's active ones, and retired ones that held its bookings.
  const held = new Set(history.flatMap((h) => (h.room ? [h.room] : [])));
  const current = stored.filter((r) => r.active || held.has(r.name)).map(({ source: _, ...r }): Room => ({ ...r, active: true }));
  const { rooms, changed } = changedRooms(current, q);

  const needs = new Map<string, RoomNeed>();
  for (const h of history) {
    const need = needOf(h.booking, deps.settings);
    if (need) needs.set(h.booking.uid, need);
  }
  const arrivedAt = new Map(history.map((h) => [h.booking.uid, h.arrived]));
  const steps: ReplayStep[] = [];
  for (const h of history) {
    const uid = h.booking.uid;
    if (!needs.has(uid)) continue;
    const from = h.booking.rescheduledFromUid && needs.has(h.booking.rescheduledFromUid) ? h.booking.rescheduledFromUid : undefined;
    steps.push({ kind: 'arrive', at: h.arrived.at.getTime(), seq: h.arrived.seq, uid, ...(from ? { from } : {}) });
    if (h.left) steps.push({ kind: 'leave', at: h.left.at.getTime(), seq: h.left.seq, uid });
    else if (h.room === undefined && !h.booking.rescheduledToUid) {
      // Holds no room and said nothing of why (an old record): it left when last seen.
      steps.push({ kind: 'leave', at: h.arrived.at.getTime(), seq: h.arrived.seq + 0.5, uid });
    } else if (h.room === undefined && h.booking.rescheduledToUid && !arrivedAt.has(h.booking.rescheduledToUid)) {
      steps.push({ kind: 'leave', at: h.booking.end.getTime(), seq: 0, uid });
    }
  }
  for (const p of placements) steps.push({ kind: 'place', at: p.at.getTime(), seq: p.seq, uid: p.uid, room: p.room });
  for (const b of blocks) {
    steps.push({ kind: 'block', at: b.created.at.getTime(), seq: b.created.seq, block: b.block });
    if (b.lifted) steps.push({ kind: 'lift', at: b.lifted.at.getTime(), seq: b.lifted.seq, blockId: b.block.id });
  }
  const outcome = replayRooms(
    {
      rooms,
      needs: [...needs.values()],
      steps,
      timeZone: deps.timeZone,
      weights: deps.settings.weights,
      freezeMinutes: deps.settings.freezeMinutes,
    },
    onProgress,
  );

  const recordedRooms = new Map<string, string | null>();
  for (const h of history) if (needs.has(h.booking.uid) && h.room !== undefined) recordedRooms.set(h.booking.uid, h.room);
  const days = openDays(q.from, q.to, settings);
  const recorded = scenario(current, recordedRooms, needs, days, settings);
  const replayed = scenario(rooms, outcome.rooms, needs, days, settings);
  const differing = [...recordedRooms]
    .filter(([uid, room]) => (outcome.rooms.get(uid) ?? null) !== room)
    .map(([uid, room]) => ({ uid, recorded: room, whatIf: outcome.rooms.get(uid) ?? null }));
  const booking = new Map(history.map((h) => [h.booking.uid, h.booking]));
  return {
    from: q.from,
    to: q.to,
    rooms: { removed: q.without, added: q.add.map((a) => a.name), changed },
    bookings: recordedRooms.size,
    recorded: { ...recorded, moves: plannerMoves, waited: history.filter((h) => h.waited && recordedRooms.has(h.booking.uid)).length },
    whatIf: {
      ...replayed,
      moves: outcome.moves,
      waited: [...recordedRooms.keys()].filter((uid) => outcome.waited.has(uid)).length,
      inexactPlans: outcome.inexact,
    },
    differences: {
      otherRoom: differing.filter((d) => d.recorded && d.whatIf).length,
      lostRoom: differing.filter((d) => d.recorded && !d.whatIf).length,
      gainedRoom: differing.filter((d) => !d.recorded && d.whatIf).length,
      sample: differing
        .sort((a, b) => needs.get(a.uid)!.start - needs.get(b.uid)!.start)
        .slice(0, 50)
        .map((d) => ({ ...d, start: booking.get(d.uid)!.start.toISOString(), title: booking.get(d.uid)!.title ?? null })),
    },
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}
