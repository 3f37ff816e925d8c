import type { Booking } from '../domain/booking.ts';
import { chooseRoom, roomOptions, type RoomOption, type Exclusion } from '../domain/choose-room.ts';
import { locationText } from '../domain/location-text.ts';
import { replanRooms, type ReplanResult } from '../domain/replan-rooms.ts';
import { RoomIndex, type PlanningWorld } from '../domain/room-index.ts';
import { occupancy, staticRuleFailure, type PlannedBooking, type Room, type RoomNeed, type RuleFailure } from '../domain/room-model.ts';
import { calJobKinds } from '../jobs/cal-jobs.ts';
import { periodBounds } from '../domain/calendar-period.ts';
import { locationKind, type LocationKind } from '../domain/location-kind.ts';
import { getBooking, getBookings } from '../store/bookings.ts';
import { UsherError } from '../errors.ts';
import type { Queryable } from '../store/db.ts';
import { hasDecision, recordDecision } from '../store/decisions.ts';
import { addJob } from '../store/jobs.ts';
import {
  clearRooms,
  deleteAssignment,
  getAssignment,
  listAssignments,
  listBlocks,
  hasActiveRooms,
  listPlacedStays,
  listPlanChanges,
  getRoom,
  readRoomPlan,
  dayChanges,
  planDays,
  listRooms,
  lockRoomPlanning,
  saveAssignment,
  type PlacedStay,
  type PlanGenerations,
  type RoomPlan,
  type RoomRecord,
  hasWaitingBetween,
} from '../store/rooms.ts';
import type { RoomSettings } from './room-config.ts';
import type { ChoiceDay, ChoiceStay, RoomDayCache } from './room-day-cache.ts';

export interface RoomDeps {
  settings: RoomSettings;
  timeZone: string;
  maxAttempts: number;
  /** The process's rooms and days as room choices read them, kept between decisions (room-day-cache.ts). */
  dayCache?: RoomDayCache | undefined;
}

const DAY = 86_400_000;
const MINUTE = 60_000;

function metadataEquipment(metadata: Record<string, unknown>): string[] {
  const raw = metadata.equipment;
  if (typeof raw === 'string')
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((s) => s.trim());
  return [];
}

/**
 * Why a booking needs no room, if it does not: its event type says so (`needsRoom: false`), or it
 * does not happen in person — a video call, a link or a phone call keeps its location untouched,
 * since writing a room would overwrite it (issue 14: a patient lost their video link).
 */
export function noRoomReason(
  b: Booking,
  settings: RoomSettings,
): { code: 'room.type_needs_none' | 'room.not_in_person'; kind?: LocationKind } | undefined {
  const type = b.eventTypeId !== undefined ? settings.eventTypes[String(b.eventTypeId)] : undefined;
  if (type && !type.needsRoom) return { code: 'room.type_needs_none' };
  // Usher's own room text, written back earlier, is an address like any other: still in person.
  const kind = locationKind(b.location);
  if (kind !== 'in_person' && kind !== 'unset') return { code: 'room.not_in_person', kind };
  return undefined;
}

/** What a booking needs of a room, from the config (event type, doctor) and its own metadata. */
export function needOf(b: Booking, settings: RoomSettings): RoomNeed | undefined {
  if (noRoomReason(b, settings)) return undefined;
  const type = b.eventTypeId !== undefined ? settings.eventTypes[String(b.eventTypeId)] : undefined;
  const byId = b.organizerId !== undefined ? settings.doctors[String(b.organizerId)] : undefined;
  const email = b.organizerEmail?.toLowerCase();
  const byEmail = email ? settings.doctors[email] : undefined;
  const doctorConfig = byId ?? byEmail;
  const doctor = byId ? String(b.organizerId) : byEmail ? email : b.organizerId !== undefined ? String(b.organizerId) : email;
  const equipment = [...new Set([...(type?.equipment ?? []), ...metadataEquipment(b.metadata)])];
  // A collective team event brings every host into the room: only rooms each of them may use.
  const coHostRooms = (b.coHosts ?? []).map((key) => {
    const [id, email] = key.split('|');
    return (id ? settings.doctors[id] : undefined)?.rooms ?? (email ? settings.doctors[email] : undefined)?.rooms;
  });
  const limits = [doctorConfig?.rooms, ...coHostRooms].filter((rooms): rooms is string[] => rooms !== undefined);
  const allowedRooms = limits.length ? limits.reduce((common, rooms) => common.filter((r) => rooms.includes(r))) : undefined;
  return {
    uid: b.uid,
    start: b.start.getTime(),
    end: b.end.getTime(),
    ...(doctor ? { doctor } : {}),
    equipment,
    ...(allowedRooms ? { allowedRooms } : {}),
    preferredRooms: doctorConfig?.preferredRooms ?? [],
    // A seated class brings everyone who took a seat (CONTRACT §3.2).
    ...(b.seats && b.seats.length > 1 ? { people: b.seats.length } : {}),
  };
}

/** What one room choice works with: the rooms by name and the index of its window's stays (not to be changed). */
interface ChoiceWorld {
  rooms: Map<string, Room>;
  index: RoomIndex;
}

interface LoadedWorld {
  world: PlanningWorld;
  rooms: Map<string, Room>;
  bookings: Map<string, Booking>;
  assignments: Map<string, PlacedStay>;
}

/**
 * The planner's view of a window: every room (inactive ones too, so their bookings show as
 * displaced), live blocks, and the bookings holding or waiting for a room. Bookings starting within
 * the freeze, and those outside `movable`, are fixed.
 */
async function loadWorld(trx: Queryable, deps: RoomDeps, view: WorldView & { window: { from: Date; to: Date } }): Promise<LoadedWorld> {
  // One after another: a transaction is one connection, and pg 9 refuses queries queued on one.
  const rooms = await listRooms(trx, { includeInactive: true });
  const blocks = await listBlocks(trx, view.window);
  const stays = await listAssignments(trx, view.window);
  const bookings = await getBookings(
    trx,
    stays.filter((a) => a.bookingUid !== view.exclude).map((a) => a.bookingUid),
  );
  return buildWorld(deps, { rooms, blocks, stays, bookings }, view);
}

/**
 * The window one room choice reads: the booking's local day (the day's balance and the doctor's
 * neighbours are the soft costs; anything overlapping the booking's stay is on that day too), and
 * further when its stay with the longest cleaning runs past the day. Rooms not known yet (a
 * process's first choice): a day of cleaning is assumed, more than any room has.
 */
export function choiceWindow(
  deps: RoomDeps,
  booking: { start: Date; end: Date },
  rooms: readonly Room[] | undefined,
): { from: Date; to: Date; day: { from: Date; to: Date } } {
  const day = periodBounds(booking.start, 'day', deps.timeZone);
  const longestCleaning = rooms ? Math.max(0, ...rooms.map((r) => r.cleaningMinutes)) * MINUTE : DAY;
  return {
    from: new Date(Math.min(day.from.getTime(), booking.start.getTime())),
    to: new Date(Math.max(day.to.getTime(), booking.end.getTime() + longestCleaning)),
    day,
  };
}

/**
 * What a choice has in hand from the day cache: the generations read under the planning locks, or
 * the day itself when the worker's batch lets the choice take it without asking (RoomDayCache.quick).
 */
type KeptPlan = { cache: RoomDayCache; rooms: RoomRecord[] } & (
  | { generations: PlanGenerations; quick?: undefined }
  | { quick: ChoiceDay; generations?: undefined }
);

/**
 * The world one room choice needs, and no more: the rooms, their blocks, and the bookings holding a
 * room in the choice's window (choiceWindow). Waiting bookings and the days around do not change one
 * choice, and loading them made each decision cost as much as the three days' bookings
 * (docs/benchmarks.md, worker). With the day cache, a whole day comes from memory when none of its
 * UTC days changed since it was read, and from memory and what changed since when some did.
 */
async function loadChoiceWorld(trx: Queryable, deps: RoomDeps, need: RoomNeed, exclude: string, kept?: KeptPlan): Promise<ChoiceWorld> {
  const rooms = kept?.rooms ?? (await listRooms(trx, { includeInactive: true }));
  const { day, ...window } = choiceWindow(deps, { start: new Date(need.start), end: new Date(need.end) }, rooms);
  const roomByName = new Map(rooms.map((r) => [r.name, r]));
  // Only a booking whose stay ends within its own day reads a whole day, the one kept.
  const wholeDay = window.from.getTime() === day.from.getTime() && window.to.getTime() === day.to.getTime();
  let read: ChoiceDay | undefined;
  const found = kept?.quick
    ? { current: true as const, day: kept.quick }
    : wholeDay && kept?.generations
      ? kept.cache.day(day.from, kept.generations.days)
      : undefined;
  if (found?.current) read = found.day;
  else if (kept?.generations && found) {
    // Changed since it was read (another process, another path): only what changed is read (migration 0016).
    const changes = await listPlanChanges(trx, window, found);
    if (changes.complete && !changes.blocksChanged) {
      const stays = changes.changed.map((c) => ({ uid: c.uid, stay: c.stay && choiceStay(deps, roomByName, c.stay, c.booking) }));
      read = kept.cache.changed(day.from, kept.generations.days, kept.generations.xact, changes.removed, stays);
    } else kept.cache.forget(day.from);
  }
  let keptDay = read !== undefined;
  if (!read) {
    const blocks = await listBlocks(trx, window);
    const stays = await listPlacedStays(trx, window);
    read = { window, blocks, stays: new Map(stays.map((s) => [s.stay.bookingUid, choiceStay(deps, roomByName, s.stay, s.booking)])) };
    if (wholeDay && kept?.generations) keptDay = kept.cache.keepDay(read, kept.generations.days, planDays(window), kept.generations.xact);
  }
  const { blocks, stays } = read;
  const indexOf = (leaveOut: string | undefined) =>
    new RoomIndex({
      rooms,
      blocks,
      bookings: [...stays].flatMap(([uid, s]) => (uid !== leaveOut && s.planned ? [s.planned] : [])),
      timeZone: deps.timeZone,
      weights: deps.settings.weights,
    });
  // A kept day's index is built once and then follows this process's writes (room-day-cache.ts);
  // a booking decided again (already in the day) gets an index without itself, built for it alone.
  let index: RoomIndex;
  if (keptDay && !read.stays.has(exclude)) {
    read.index ??= indexOf(undefined);
    index = read.index;
  } else index = indexOf(exclude);
  return { rooms: roomByName, index };
}

/** How the planner sees what was loaded: now (the freeze), which bookings may move, and one to leave out. */
interface WorldView {
  now: Date;
  movable: { from: number; to: number };
  /** The booking being decided: it is placed, not planned around. */
  exclude?: string | undefined;
}

/** What the store gave for a window. */
interface WorldRows {
  rooms: readonly Room[];
  blocks: PlanningWorld['blocks'];
  stays: readonly PlacedStay[];
  bookings: Map<string, Booking>;
}

function buildWorld(deps: RoomDeps, { rooms, blocks, stays, bookings }: WorldRows, { now, movable, exclude }: WorldView): LoadedWorld {
  const live = stays.filter((a) => a.bookingUid !== exclude);
  const freezeUntil = now.getTime() + deps.settings.freezeMinutes * MINUTE;
  const roomByName = new Map(rooms.map((r) => [r.name, r]));
  const planned = live.flatMap((a) => plannedStay(deps, a, bookings.get(a.bookingUid), roomByName, freezeUntil, movable) ?? []);
  return {
    world: { rooms, blocks, bookings: planned, timeZone: deps.timeZone, weights: deps.settings.weights },
    rooms: roomByName,
    bookings,
    assignments: new Map(live.map((a) => [a.bookingUid, a])),
  };
}

/** How the planner sees one stored stay, or undefined when it holds nothing and is not planned here. */
function plannedStay(
  deps: RoomDeps,
  a: PlacedStay,
  b: Booking | undefined,
  roomByName: ReadonlyMap<string, Room>,
  freezeUntil: number,
  movable: { from: number; to: number },
): PlannedBooking | undefined {
  const need = b && needOf(b, deps.settings);
  if (!need) {
    if (!a.room) return undefined;
    // Holds a room the config no longer gives it (its event type stopped needing one): it keeps
    // occupying it as stored until released, so nothing is planned on top of it.
    const cleaning = (roomByName.get(a.room)?.cleaningMinutes ?? 0) * MINUTE;
    return {
      need: { uid: a.bookingUid, start: a.from.getTime(), end: a.to.getTime() - cleaning, equipment: [], preferredRooms: [] },
      room: a.room,
      frozen: true,
      pinned: true,
    };
  }
  const outside = need.end <= movable.from || need.start >= movable.to;
  // A booking waiting beyond the movable window holds nothing, and the bookings around it were not
  // all read (the window's edge cuts through its neighbours): planned here it could be put into a
  // room that is taken. It is left to a re-plan around its own time.
  if (!a.room && outside) return undefined;
  return { need, ...(a.room ? { room: a.room } : {}), frozen: need.start < freezeUntil || outside, pinned: a.pinned };
}

/** A placed stay as one room choice plans around it: fixed where it is (no choice moves anyone). */
function choiceStay(deps: RoomDeps, rooms: ReadonlyMap<string, Room>, stay: PlacedStay, booking: Booking | undefined): ChoiceStay {
  return { stay, booking, planned: plannedStay(deps, stay, booking, rooms, 0, { from: 0, to: 0 }) };
}

/**
 * The location write-back: coalesced per booking (only the newest room is sent), soonest first.
 * Never for a booking that has ended (a late webhook, a first reconcile over an account's history):
 * its room is kept in Usher's records, but Cal.com's past booking is left as it was, said once.
 */
export async function enqueueLocation(trx: Queryable, b: Booking, address: string, deps: RoomDeps, now: Date): Promise<void> {
  if (b.end <= now) {
    if (!(await hasDecision(trx, b.uid, 'room', 'write_skipped'))) {
      await recordDecision(
        trx,
        {
          bookingUid: b.uid,
          kind: 'room',
          outcome: 'write_skipped',
          reasons: [{ code: 'room.write_skipped_ended', end: b.end.toISOString() }],
        },
        now,
      );
    }
    return;
  }
  await addJob(
    trx,
    {
      kind: calJobKinds.location,
      payload: { uid: b.uid, address, endsAt: b.end.toISOString() },
      bookingUid: b.uid,
      coalesceKey: `location:${b.uid}`,
      priorityAt: b.start,
      maxAttempts: deps.maxAttempts,
    },
    now,
  );
}

/** One booking's room (or none), as decided: the assignment, and the write-back when Cal.com should hear. */
interface Placement {
  booking: Booking;
  room: Room | undefined;
  reasons: Record<string, unknown>;
  pinned?: boolean | undefined;
  /** False while the gate holds a room for a booking Cal.com has not confirmed yet. */
  write?: boolean | undefined;
}

/** Writes a placement; returns the stay when the booking now holds a room. */
async function place(
  trx: Queryable,
  deps: RoomDeps,
  { booking: b, room, reasons, ...options }: Placement,
  now: Date,
): Promise<PlacedStay | undefined> {
  const text = room ? locationText(deps.settings.locationTemplate, room) : null;
  const stay = {
    bookingUid: b.uid,
    room: room?.name ?? null,
    from: b.start,
    to: room ? new Date(b.end.getTime() + room.cleaningMinutes * MINUTE) : b.end,
    pinned: options.pinned ?? false,
  };
  await saveAssignment(trx, { ...stay, reasons, locationText: text }, now);
  // Only an accepted booking's location is worth one of Cal.com's five location calls a minute.
  if (text && (options.write ?? true) && b.status === 'accepted') await enqueueLocation(trx, b, text, deps, now);
  return stay.room ? stay : undefined;
}

/**
 * Whether the room a booking holds still suits it by the rules of the room itself (capacity, the
 * doctor's rooms, equipment, in service): a class that gained seats, a booking reassigned to a
 * doctor who may not use the room (round robin). Blocks and neighbours are the re-planner's.
 */
async function unfitRoom(trx: Queryable, deps: RoomDeps, name: string, need: RoomNeed): Promise<RuleFailure | undefined> {
  const room = await getRoom(trx, name);
  if (!room) return undefined;
  return staticRuleFailure(need, room, [], deps.timeZone);
}

export type AssignOutcome =
  | { outcome: 'assigned'; room: string }
  | { outcome: 'unassigned'; excluded: Exclusion[] }
  | { outcome: 'not_needed' }
  | { outcome: 'kept'; room: string };

/**
 * Gives a booking a room (or records that none is free, with the reasons). Idempotent: a booking
 * that already holds a room for its current times keeps it, and its write-back is made sure of.
 */
export async function assignBooking(
  trx: Queryable,
  deps: RoomDeps,
  b: Booking,
  now: Date,
  options: { write?: boolean; cause?: string; anyActive?: boolean | undefined } = {},
): Promise<AssignOutcome> {
  const need = needOf(b, deps.settings);
  if (!need) return { outcome: 'not_needed' };
  const cache = deps.dayCache;
  // A business without rooms (only the gate, say) has nothing to assign, and takes no lock: asked
  // first (or told by the worker's batch, `anyActive`) unless rooms were in service last time (then
  // the answer comes with the plan below).
  if (!cache?.hadActiveRooms && !(options.anyActive ?? (await hasActiveRooms(trx)))) return { outcome: 'not_needed' };
  // The choice's days (with the rooms as last known), then what they hold (migration 0015) — or,
  // in a worker's batch that holds them, the day as the batch knows it, checked behind its back.
  let locked = choiceWindow(deps, b, cache?.rooms);
  const quick = cache?.quick(trx, b.uid, locked);
  // Quick: a new booking (no assignment) of a clinic with rooms in service, as the batch read.
  let plan: Omit<RoomPlan, 'generations'> & { generations?: PlanGenerations } = { assignment: undefined, anyActive: true };
  if (quick) quick.check(readRoomPlan(trx, b.uid, planDays(locked), { soon: true }));
  else {
    await lockRoomPlanning(trx, [locked]);
    plan = await readRoomPlan(trx, b.uid, planDays(locked));
    await cache?.caughtUp();
  }
  if (!plan.anyActive) {
    if (cache) cache.hadActiveRooms = false;
    return { outcome: 'not_needed' };
  }
  if (plan.generations) cache?.at(plan.generations.epoch);
  let rooms = cache?.rooms;
  if (cache && !rooms) {
    rooms = await listRooms(trx, { includeInactive: true });
    cache.keepRooms(rooms);
    // Rooms whose cleaning runs further than the rooms known before: the later days too.
    const window = choiceWindow(deps, b, rooms);
    if (window.to > locked.to) {
      locked = window;
      await lockRoomPlanning(trx, [locked]);
      plan = await readRoomPlan(trx, b.uid, planDays(locked));
    }
  }
  const existing = plan.assignment;
  // A seated class that gained seats (CONTRACT §1.2), or a booking now another doctor's (or
  // doctors'), may no longer suit its room: chosen again. Only those are checked — a repeated event
  // for an ordinary booking costs no extra query; rooms that change are the re-planner's.
  const mayNotFit = need.people !== undefined || !!b.coHosts?.length || options.cause === 'reassigned';
  const outgrown = existing?.room && mayNotFit ? await unfitRoom(trx, deps, existing.room, need) : undefined;
  if (existing?.room && existing.from.getTime() === b.start.getTime() && !outgrown) {
    if ((options.write ?? true) && b.status === 'accepted' && existing.locationText && existing.locationText !== existing.locationWritten) {
      await enqueueLocation(trx, b, existing.locationText, deps, now);
    }
    return { outcome: 'kept', room: existing.room };
  }
  const kept: KeptPlan | undefined =
    cache && rooms
      ? quick
        ? { cache, rooms, quick: quick.day }
        : plan.generations && { cache, rooms, generations: plan.generations }
      : undefined;
  const loaded = await loadChoiceWorld(trx, deps, need, b.uid, kept);
  const index = loaded.index;
  const choice = chooseRoom(index, need);
  // The kept days follow this decision's own write, if nothing else came between (room-day-cache.ts):
  // the days its stay left and the days it took.
  const follow = async (stay: PlacedStay | undefined) => {
    if (!cache) return;
    const touched = [...new Set([...(existing ? planDays(existing) : []), ...planDays({ from: b.start, to: stay?.to ?? b.end })])];
    // Read behind the write without waiting (the next choice waits for it: caughtUp above, unless quick).
    cache.follow(b.uid, stay && choiceStay(deps, loaded.rooms, stay, b), dayChanges(trx, touched), { trx, days: touched });
  };
  const cause = options.cause ?? (outgrown?.code === 'room.too_small' ? 'seats_taken' : outgrown ? 'room_unfit' : 'booking');
  if (choice.outcome === 'assigned') {
    const room = loaded.rooms.get(choice.room)!;
    const reasons = { cause, preferences: choice.preferences, candidates: choice.candidates, excluded: choice.excluded };
    await follow(await place(trx, deps, { booking: b, room, reasons, write: options.write }, now));
    await recordDecision(
      trx,
      {
        bookingUid: b.uid,
        kind: 'room',
        outcome: 'assigned',
        reasons: [{ code: 'room.assigned', room: room.name, cause, preferences: choice.preferences }],
        detail: { candidates: choice.candidates, excluded: choice.excluded },
      },
      now,
    );
    return { outcome: 'assigned', room: room.name };
  }
  if (outgrown && existing?.room && existing.from.getTime() === b.start.getTime()) {
    // No room that suits it is free: it stays where its attendees were told to go, and the desk is
    // told why the room does not suit it (giving the room up would let another booking into it).
    await recordDecision(
      trx,
      {
        bookingUid: b.uid,
        kind: 'room',
        outcome: 'kept',
        reasons: [{ code: outgrown.code, room: existing.room, ...outgrown.detail }],
        detail: { cause, excluded: choice.excluded },
      },
      now,
    );
    return { outcome: 'kept', room: existing.room };
  }
  await follow(
    await place(trx, deps, { booking: b, room: undefined, reasons: { cause, excluded: choice.excluded }, write: options.write }, now),
  );
  await recordDecision(
    trx,
    { bookingUid: b.uid, kind: 'room', outcome: 'unassigned', reasons: choice.excluded.map((e) => ({ ...e })), detail: { cause } },
    now,
  );
  return { outcome: 'unassigned', excluded: choice.excluded };
}

/**
 * CONTRACT §1.3: a reschedule is a new uid. The booking keeps its room if the room is still free
 * at the new time; otherwise it is planned again. The old uid's room is freed either way.
 */
export async function followReschedule(
  trx: Queryable,
  deps: RoomDeps,
  b: Booking,
  oldUid: string,
  now: Date,
  options: { write?: boolean } = {},
): Promise<AssignOutcome> {
  // The new booking's days; the old one's are taken by its delete (migration 0015's trigger) and by the re-plan.
  await lockRoomPlanning(trx, [choiceWindow(deps, b, undefined)]);
  const old = await deleteAssignment(trx, oldUid);
  const need = needOf(b, deps.settings);
  if (!old?.room || !need || (await getAssignment(trx, b.uid))) {
    const outcome = await assignBooking(trx, deps, b, now, { ...options, cause: 'rescheduled' });
    if (old) await placeWaiting(trx, deps, { from: old.from, to: old.to }, now, 'rescheduled_away');
    return outcome;
  }
  const loaded = await loadChoiceWorld(trx, deps, need, b.uid);
  const index = loaded.index;
  const room = loaded.rooms.get(old.room);
  const keeps =
    room &&
    !staticRuleFailure(need, room, index.blocksOf(room.name), deps.timeZone) &&
    index.occupants(room.name, occupancy(need, room), b.uid).length === 0;
  let outcome: AssignOutcome;
  if (keeps) {
    const reasons = { cause: 'rescheduled', keptFrom: oldUid, pinned: old.pinned };
    await place(trx, deps, { booking: b, room, reasons, pinned: old.pinned, write: options.write }, now);
    await recordDecision(
      trx,
      {
        bookingUid: b.uid,
        kind: 'room',
        outcome: 'assigned',
        reasons: [{ code: 'room.kept_after_reschedule', room: room.name, from: oldUid }],
      },
      now,
    );
    outcome = { outcome: 'assigned', room: room.name };
  } else {
    outcome = await assignBooking(trx, deps, b, now, { ...options, cause: 'rescheduled' });
  }
  await placeWaiting(trx, deps, { from: old.from, to: old.to }, now, 'rescheduled_away');
  return outcome;
}

/** Frees a booking's room (cancelled, rejected) and lets waiting bookings have it. */
export async function releaseBooking(trx: Queryable, deps: RoomDeps, uid: string, now: Date, why: string): Promise<boolean> {
  // Its days are taken by the delete (migration 0015's trigger), the days around by the re-plan.
  const old = await deleteAssignment(trx, uid);
  if (!old) return false;
  await recordDecision(trx, { bookingUid: uid, kind: 'room', outcome: 'released', reasons: [{ code: why, room: old.room }] }, now);
  if (old.room) await placeWaiting(trx, deps, { from: old.from, to: old.to }, now, why);
  return true;
}

/**
 * Re-plans a window: bookings in rooms that became unusable move, waiting bookings get rooms, with
 * as few announced bookings moving as possible (domain/replan-rooms.ts). Each change gets its
 * decision and a new location write-back. Runs in the caller's transaction.
 */
export async function replanWindow(
  trx: Queryable,
  deps: RoomDeps,
  window: { from: Date; to: Date },
  now: Date,
  trigger: string,
): Promise<ReplanResult> {
  // Bookings up to a day either side may move to make way; beyond that they only occupy rooms.
  const movable = { from: window.from.getTime() - DAY, to: window.to.getTime() + DAY };
  const read = replanReads(window);
  await lockRoomPlanning(trx, [read]);
  const loaded = await loadWorld(trx, deps, { window: read, now, movable });
  const result = replanRooms(loaded.world);
  await clearRooms(
    trx,
    result.moves.map((m) => m.uid),
    now,
  );
  for (const move of result.moves) {
    const b = loaded.bookings.get(move.uid)!;
    const room = move.to ? loaded.rooms.get(move.to) : undefined;
    const pinned = loaded.assignments.get(move.uid)?.pinned ?? false;
    const excluded = result.unassigned.find((u) => u.uid === move.uid)?.excluded;
    const reasons = { cause: trigger, why: move.why, ...move.detail, ...(excluded ? { excluded } : {}) };
    await place(trx, deps, { booking: b, room, reasons, pinned: pinned && move.why !== 'room_unusable' }, now);
    await recordDecision(
      trx,
      {
        bookingUid: move.uid,
        kind: 'room',
        outcome: move.to ? (move.from ? 'moved' : 'assigned') : 'unassigned',
        reasons: [{ code: `room.${move.why}`, from: move.from ?? null, to: move.to ?? null, ...move.detail }],
        detail: { trigger, method: result.method, movedInPlan: result.movedCount, ...(excluded ? { excluded } : {}) },
      },
      now,
    );
  }
  return result;
}

/** What re-planning a window reads (and so locks): two days either side, the bookings that may move and what they may move around. */
export function replanReads(window: { from: Date; to: Date }): { from: Date; to: Date } {
  return { from: new Date(window.from.getTime() - REPLAN_READS_DAYS * DAY), to: new Date(window.to.getTime() + REPLAN_READS_DAYS * DAY) };
}

/** How far either side of a window a re-plan reads: a day the bookings that may move, a day more what they move around. */
export const REPLAN_READS_DAYS = 2;

/** Waiting bookings in (or near) a window that was freed try again. */
export async function placeWaiting(
  trx: Queryable,
  deps: RoomDeps,
  window: { from: Date; to: Date },
  now: Date,
  trigger: string,
): Promise<ReplanResult | undefined> {
  // Locked before asking: a booking another process leaves waiting nearby meanwhile is then seen.
  await lockRoomPlanning(trx, [replanReads(window)]);
  if (!(await hasWaitingBetween(trx, new Date(window.from.getTime() - DAY), new Date(window.to.getTime() + DAY)))) return undefined;
  return replanWindow(trx, deps, window, now, trigger);
}

/**
 * gate.requireRoom: hold a room for a booking the gate is about to approve (in the gate's
 * transaction; written to Cal.com only once confirmed). The gate runs before the rooms' own event
 * handler, so a booker's reschedule (BOOKING_REQUESTED with rescheduleUid, CONTRACT §1.2) is
 * followed here: the new booking may take its old room rather than compete with it.
 */
export async function holdRoomForApproval(trx: Queryable, deps: RoomDeps, b: Booking, now: Date): Promise<boolean> {
  const old = b.rescheduledFromUid ? await getAssignment(trx, b.rescheduledFromUid) : undefined;
  const outcome = old
    ? await followReschedule(trx, deps, b, old.bookingUid, now, { write: false })
    : await assignBooking(trx, deps, b, now, { write: false, cause: 'gate' });
  return outcome.outcome !== 'unassigned';
}

/** Every room as an option for one booking, fitting ones first (a person moving it chooses from these). */
export async function roomOptionsFor(db: Queryable, deps: RoomDeps, uid: string): Promise<RoomOption[]> {
  const b = await getBooking(db, uid);
  if (!b) throw new UsherError('NOT_FOUND', `Usher knows no booking ${uid}`);
  const need = needOf(b, deps.settings);
  if (!need)
    throw new UsherError(
      'CONFLICT',
      `booking ${uid} needs no room (${noRoomReason(b, deps.settings)?.code === 'room.type_needs_none' ? 'its type takes none' : 'not in person'})`,
    );
  const loaded = await loadChoiceWorld(db, deps, need, uid);
  return roomOptions(loaded.index, need);
}
