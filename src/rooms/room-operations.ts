import { locationText } from '../domain/location-text.ts';
import type { ReplanResult } from '../domain/replan-rooms.ts';
import { occupancy, staticRuleFailure, type Room } from '../domain/room-model.ts';
import { UsherError } from '../errors.ts';
import { getBooking } from '../store/bookings.ts';
import type { Db, Queryable } from '../store/db.ts';
import { recordDecision } from '../store/decisions.ts';
import {
  deactivateConfigRoomsExcept,
  getAssignment,
  getRoom,
  insertBlock,
  liftBlock,
  listAssignments,
  listBlocks,
  lockRoomPlanning,
  saveAssignment,
  setAssignmentSpan,
  setRoomActive,
  upsertRoom,
  unsettledSpan,
} from '../store/rooms.ts';
import { openMinutes, type RoomConfig } from './room-config.ts';
import { enqueueLocation, needOf, placeWaiting, replanWindow, type RoomDeps } from './room-planning.ts';

/**
 * What operators do to rooms (admin API, board, CLI): each runs the same planner and outbox code
 * as the webhooks, in one transaction, and returns what the planner changed.
 */

export function roomFromConfig(r: RoomConfig): Room {
  const open = openMinutes(r.openHours);
  return {
    name: r.name,
    floor: r.floor,
    building: r.building,
    equipment: r.equipment,
    cleaningMinutes: r.cleaningMinutes,
    ...(open ? { open } : {}),
    ...(r.capacity !== undefined ? { capacity: r.capacity } : {}),
    active: true,
  };
}

/** Bookings waiting for a room, or sitting in a room that can no longer be used, from now on. */
export async function replanUpcoming(db: Db, deps: RoomDeps, now: Date, trigger: string): Promise<ReplanResult | undefined> {
  return db.transaction(async (trx) => {
    // All that is upcoming may move: the whole plan, before reading what is unsettled.
    await lockRoomPlanning(trx);
    const span = await unsettledSpan(trx, now);
    if (!span) return undefined;
    return replanWindow(trx, deps, span, now, trigger);
  });
}

/** The config's rooms into the store (config wins for the rooms it lists); then re-plan what changed. */
export async function syncConfigRooms(
  db: Db,
  rooms: readonly RoomConfig[],
  deps: RoomDeps,
  now: Date,
): Promise<{ upserted: number; deactivated: string[]; replan?: ReplanResult }> {
  const deactivated = await db.transaction(async (trx) => {
    await lockRoomPlanning(trx);
    for (const r of rooms) await upsertRoom(trx, roomFromConfig(r), 'config', now);
    return deactivateConfigRoomsExcept(
      trx,
      rooms.map((r) => r.name),
      now,
    );
  });
  const replan = await replanUpcoming(db, deps, now, 'config_changed');
  return { upserted: rooms.length, deactivated, ...(replan ? { replan } : {}) };
}

export async function putRoom(db: Db, deps: RoomDeps, room: Room, now: Date): Promise<{ created: boolean; replan?: ReplanResult }> {
  const existing = await getRoom(db, room.name);
  if (existing?.source === 'config') throw new UsherError('CONFLICT', `room ${room.name} is declared in the config file; change it there`);
  const { created } = await db.transaction(async (trx) => {
    await lockRoomPlanning(trx);
    return upsertRoom(trx, room, 'api', now);
  });
  // A changed room (equipment, hours, cleaning) may no longer suit its bookings; a new one may take waiting ones.
  const replan = await replanUpcoming(db, deps, now, created ? 'room_added' : 'room_changed');
  return { created, ...(replan ? { replan } : {}) };
}

export async function retireRoom(db: Db, deps: RoomDeps, name: string, now: Date): Promise<{ replan?: ReplanResult }> {
  const existing = await getRoom(db, name);
  if (!existing) throw new UsherError('NOT_FOUND', `no room ${name}`);
  if (existing.source === 'config') throw new UsherError('CONFLICT', `room ${name} is declared in the config file; remove it there`);
  await db.transaction((trx) => setRoomActive(trx, name, false, now));
  const replan = await replanUpcoming(db, deps, now, 'room_retired');
  return replan ? { replan } : {};
}

/**
 * Blocks a room from `from` (now, or later: planned maintenance) to `to`, and re-plans the bookings
 * it displaces with the fewest moves. With `preview`, the same block and re-plan run and are rolled
 * back: exactly what saving it would do, and nothing saved (no job, no decision, no NOTIFY leaves a
 * rolled-back transaction).
 */
export async function blockRoom(
  db: Db,
  deps: RoomDeps,
  b: { room: string; from: Date; to: Date; reason: string; by: string },
  now: Date,
  options: { preview?: boolean } = {},
): Promise<{ blockId: number; replan: ReplanResult; preview?: true }> {
  if (!(b.to > b.from)) throw new UsherError('BAD_REQUEST', 'a block must end after it starts');
  if (b.to <= now) throw new UsherError('BAD_REQUEST', 'a block must end in the future');
  return runOrPreview(db, options.preview === true, (trx) => blockInTransaction(trx, deps, b, now));
}

/**
 * Changes a block (its times or reason): the old one lifted and the new one laid in one
 * transaction, then everything in either span re-planned — bookings the new span displaces move,
 * bookings waiting for the freed time get it. With `preview`, rolled back like blockRoom's.
 */
export async function changeBlock(
  db: Db,
  deps: RoomDeps,
  blockId: number,
  b: { from: Date; to: Date; reason: string; by: string },
  now: Date,
  options: { preview?: boolean } = {},
): Promise<{ blockId: number; replan: ReplanResult; preview?: true }> {
  if (!(b.to > b.from)) throw new UsherError('BAD_REQUEST', 'a block must end after it starts');
  if (b.to <= now) throw new UsherError('BAD_REQUEST', 'a block must end in the future');
  return runOrPreview(db, options.preview === true, async (trx) => {
    await lockRoomPlanning(trx);
    const old = await liftBlock(trx, blockId, now);
    if (!old) throw new UsherError('NOT_FOUND', `no live block ${blockId}`);
    const id = await insertBlock(trx, { ...b, room: old.room }, now);
    await recordDecision(
      trx,
      {
        kind: 'room',
        outcome: 'blocked',
        reasons: [
          {
            code: 'room.block_changed',
            room: old.room,
            reason: b.reason,
            by: b.by,
            from: b.from.toISOString(),
            until: b.to.toISOString(),
            was: blockId,
          },
        ],
      },
      now,
    );
    const span = {
      from: new Date(Math.min(old.from.getTime(), b.from.getTime())),
      to: new Date(Math.max(old.to.getTime(), b.to.getTime())),
    };
    return { blockId: id, replan: await replanWindow(trx, deps, span, now, `block:${id}`) };
  });
}

/** The work in a transaction, or (a preview) the same work rolled back, answering what it would have done. */
async function runOrPreview<T extends object>(
  db: Db,
  preview: boolean,
  work: (trx: Queryable) => Promise<T>,
): Promise<T & { preview?: true }> {
  if (!preview) return db.transaction(work);
  try {
    await db.transaction(async (trx) => {
      throw new PreviewRollback(await work(trx));
    });
  } catch (error) {
    if (error instanceof PreviewRollback) return { ...(error.result as T), preview: true };
    throw error;
  }
  throw new Error('unreachable: a preview always rolls back');
}

async function blockInTransaction(
  trx: Queryable,
  deps: RoomDeps,
  b: { room: string; from: Date; to: Date; reason: string; by: string },
  now: Date,
): Promise<{ blockId: number; replan: ReplanResult }> {
  await lockRoomPlanning(trx);
  if (!(await getRoom(trx, b.room))) throw new UsherError('NOT_FOUND', `no room ${b.room}`);
  const blockId = await insertBlock(trx, b, now);
  await recordDecision(
    trx,
    {
      kind: 'room',
      outcome: 'blocked',
      reasons: [{ code: 'room.blocked', room: b.room, reason: b.reason, by: b.by, from: b.from.toISOString(), until: b.to.toISOString() }],
    },
    now,
  );
  const replan = await replanWindow(trx, deps, b, now, `block:${blockId}`);
  return { blockId, replan };
}

/** Thrown inside a preview's transaction so that it rolls back, carrying what it would have done. */
class PreviewRollback extends Error {
  readonly result: object;
  constructor(result: object) {
    super('preview: rolled back');
    this.result = result;
  }
}

export async function unblockRoom(db: Db, deps: RoomDeps, blockId: number, by: string, now: Date): Promise<{ replan?: ReplanResult }> {
  return db.transaction(async (trx) => {
    await lockRoomPlanning(trx);
    const lifted = await liftBlock(trx, blockId, now);
    if (!lifted) throw new UsherError('NOT_FOUND', `no live block ${blockId}`);
    await recordDecision(
      trx,
      { kind: 'room', outcome: 'unblocked', reasons: [{ code: 'room.unblocked', room: lifted.room, by, block: blockId }] },
      now,
    );
    const replan = await placeWaiting(trx, deps, lifted, now, `unblock:${blockId}`);
    return replan ? { replan } : {};
  });
}

/** A person puts a booking in a room: checked against every hard rule, then pinned there. */
export async function moveBooking(
  db: Db,
  deps: RoomDeps,
  m: { uid: string; room: string; by: string },
  now: Date,
): Promise<{ room: string; location: string }> {
  return db.transaction(async (trx) => {
    await lockRoomPlanning(trx);
    const booking = await getBooking(trx, m.uid);
    if (!booking) throw new UsherError('NOT_FOUND', `Usher knows no booking ${m.uid}`);
    if (booking.status === 'cancelled' || booking.status === 'rejected')
      throw new UsherError('CONFLICT', `booking ${m.uid} is ${booking.status}`);
    const need = needOf(booking, deps.settings);
    if (!need)
      throw new UsherError(
        'CONFLICT',
        `bookings of event type ${booking.eventTypeId} need no room (eventTypes.${booking.eventTypeId}.needsRoom: false)`,
      );
    const room = await getRoom(trx, m.room);
    if (!room) throw new UsherError('NOT_FOUND', `no room ${m.room}`);
    const window = { from: new Date(need.start - 86_400_000), to: new Date(need.end + 86_400_000) };
    const blocks = await listBlocks(trx, window);
    const assignments = await listAssignments(trx, { from: new Date(need.start), to: new Date(need.end + room.cleaningMinutes * 60_000) });
    const rule = staticRuleFailure(need, room, blocks, deps.timeZone);
    if (rule)
      throw new UsherError(
        'CONFLICT',
        `room ${m.room} cannot take this booking: ${rule.code}${rule.detail ? ` ${JSON.stringify(rule.detail)}` : ''}`,
      );
    const span = occupancy(need, room);
    const clash = assignments.find(
      (a) => a.room === m.room && a.bookingUid !== m.uid && a.from.getTime() < span.to && span.from < a.to.getTime(),
    );
    if (clash)
      throw new UsherError('CONFLICT', `room ${m.room} is taken by booking ${clash.bookingUid} then; block or move that one first`);
    const before = await getAssignment(trx, m.uid);
    const text = locationText(deps.settings.locationTemplate, room);
    await saveAssignment(
      trx,
      {
        bookingUid: m.uid,
        room: room.name,
        from: booking.start,
        to: new Date(span.to),
        pinned: true,
        reasons: { cause: 'operator', by: m.by },
        locationText: text,
      },
      now,
    );
    if (booking.status === 'accepted') await enqueueLocation(trx, booking, text, deps, now);
    await recordDecision(
      trx,
      {
        bookingUid: m.uid,
        kind: 'room',
        outcome: 'moved',
        reasons: [{ code: 'room.moved_by_operator', from: before?.room ?? null, to: room.name, by: m.by, pinned: true }],
      },
      now,
    );
    if (before?.room && before.room !== room.name)
      await placeWaiting(trx, deps, { from: before.from, to: before.to }, now, 'operator_move');
    return { room: room.name, location: text };
  });
}

/** The front desk cleaned a room early: its cleaning buffer ends now. */
export async function markCleaned(db: Db, deps: RoomDeps, roomName: string, by: string, now: Date): Promise<{ shortened: string[] }> {
  return db.transaction(async (trx) => {
    await lockRoomPlanning(trx);
    const room = await getRoom(trx, roomName);
    if (!room) throw new UsherError('NOT_FOUND', `no room ${roomName}`);
    const here = (await listAssignments(trx, { from: now, to: new Date(now.getTime() + 1) })).filter((a) => a.room === roomName);
    const shortened: string[] = [];
    for (const a of here) {
      const booking = await getBooking(trx, a.bookingUid);
      // Only the buffer after the slot can be cut short, never the appointment itself.
      if (!booking || now < booking.end || now >= a.to) continue;
      await setAssignmentSpan(trx, a.bookingUid, a.from, now, now);
      shortened.push(a.bookingUid);
    }
    await recordDecision(
      trx,
      { kind: 'room', outcome: 'cleaned', reasons: [{ code: 'room.cleaned', room: roomName, by, bookings: shortened }] },
      now,
    );
    if (shortened.length)
      await placeWaiting(trx, deps, { from: now, to: new Date(now.getTime() + room.cleaningMinutes * 60_000) }, now, 'cleaned');
    return { shortened };
  });
}
