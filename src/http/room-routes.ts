import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ReplanResult } from '../domain/replan-rooms.ts';
import { UsherError } from '../errors.ts';
import { openMinutes } from '../rooms/room-config.ts';
import { roomBoard, type BookingPresenter } from '../rooms/room-board.ts';
import { blockRoom, markCleaned, moveBooking, putRoom, replanUpcoming, retireRoom, unblockRoom } from '../rooms/room-operations.ts';
import type { RoomDeps } from '../rooms/room-planning.ts';
import type { Db } from '../store/db.ts';
import { listRooms } from '../store/rooms.ts';
import type { AdminGuard } from './admin-auth.ts';

export interface RoomRouteOptions {
  db: Db;
  /** The admin API's bearer check (one per app, with its throttle): src/http/admin-auth.ts. */
  adminGuard: AdminGuard;
  now: () => Date;
  rooms: RoomDeps;
  present: BookingPresenter;
  wakeWorker: () => void;
}

const roomBody = z
  .object({
    floor: z.number().int().default(0),
    building: z.string().default(''),
    equipment: z.array(z.string().trim().min(1)).default([]),
    cleaningMinutes: z.number().int().min(0).max(1440).default(0),
    openHours: z
      .string()
      .regex(/^\d\d:\d\d-\d\d:\d\d$/, 'like "08:00-18:00"')
      .optional(),
  })
  .strict();
const isoTime = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO time')
  .transform((v) => new Date(v));
const blockBody = z
  .object({ reason: z.string().trim().min(1).max(200), from: isoTime.optional(), until: isoTime, by: z.string().max(100).optional() })
  .strict();
const name = z.object({ name: z.string().min(1).max(40) });

/** A plan's changes for an operator: who moved where and why. */
export function presentReplan(r: ReplanResult | undefined) {
  if (!r) return { moves: [], movedCount: 0, unassigned: [], method: 'none' };
  return { moves: r.moves, movedCount: r.movedCount, unassigned: r.unassigned, method: r.method, exact: r.exact };
}

/** Rooms, blocks, moves and the room board over the admin API (bearer USHER_ADMIN_TOKEN). */
export async function roomRoutes(app: FastifyInstance, o: RoomRouteOptions): Promise<void> {
  app.addHook('onRequest', o.adminGuard);
  const done = <T>(value: T) => {
    o.wakeWorker();
    return { data: value };
  };

  app.get('/api/rooms', async (req) => {
    const q = z.object({ all: z.enum(['true', 'false']).optional() }).parse(req.query);
    return { data: await listRooms(o.db, { includeInactive: q.all === 'true' }) };
  });

  app.put('/api/rooms/:name', async (req) => {
    const { name: roomName } = name.parse(req.params);
    const body = roomBody.parse(req.body ?? {});
    const open = openMinutes(body.openHours);
    if (body.openHours && (!open || open.fromMinute >= open.toMinute))
      throw new UsherError('BAD_REQUEST', 'openHours: from must be before to');
    const result = await putRoom(
      o.db,
      o.rooms,
      {
        name: roomName,
        floor: body.floor,
        building: body.building,
        equipment: body.equipment,
        cleaningMinutes: body.cleaningMinutes,
        ...(open ? { open } : {}),
        active: true,
      },
      o.now(),
    );
    return done({ created: result.created, plan: presentReplan(result.replan) });
  });

  app.delete('/api/rooms/:name', async (req) => {
    const { name: roomName } = name.parse(req.params);
    return done({ plan: presentReplan((await retireRoom(o.db, o.rooms, roomName, o.now())).replan) });
  });

  app.post('/api/rooms/:name/blocks', async (req) => {
    const { name: roomName } = name.parse(req.params);
    const body = blockBody.parse(req.body);
    const now = o.now();
    const result = await blockRoom(
      o.db,
      o.rooms,
      { room: roomName, from: body.from ?? now, to: body.until, reason: body.reason, by: body.by ?? 'admin' },
      now,
    );
    return done({ blockId: result.blockId, plan: presentReplan(result.replan) });
  });

  app.delete('/api/rooms/blocks/:id', async (req) => {
    const { id } = z.object({ id: z.coerce.number().int().positive() }).parse(req.params);
    return done({ plan: presentReplan((await unblockRoom(o.db, o.rooms, id, 'admin', o.now())).replan) });
  });

  app.post('/api/rooms/:name/cleaned', async (req) => {
    const { name: roomName } = name.parse(req.params);
    return done(await markCleaned(o.db, o.rooms, roomName, 'admin', o.now()));
  });

  app.post('/api/bookings/:uid/room', async (req) => {
    const { uid } = z.object({ uid: z.string().min(1) }).parse(req.params);
    const body = z
      .object({ room: z.string().min(1), by: z.string().max(100).optional() })
      .strict()
      .parse(req.body);
    return done(await moveBooking(o.db, o.rooms, { uid, room: body.room, by: body.by ?? 'admin' }, o.now()));
  });

  app.post('/api/rooms/replan', async () => done({ plan: presentReplan(await replanUpcoming(o.db, o.rooms, o.now(), 'operator')) }));

  app.get('/api/rooms/board', async (req) => {
    const q = z.object({ at: isoTime.optional() }).parse(req.query);
    return { data: await roomBoard(o.db, { timeZone: o.rooms.timeZone, present: o.present }, q.at ?? o.now()) };
  });
}
