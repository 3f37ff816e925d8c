import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { blockChange, isoTime, roomBlocking, roomMove, roomSettingsInput, type Operations } from '../operations/operations.ts';
import { roomBoard, type BookingPresenter } from '../rooms/room-board.ts';
import type { Db } from '../store/db.ts';
import type { AdminGuard } from './admin-auth.ts';
import { adminSecurity } from './admin-routes.ts';
import { data, errorAnswer, replanPlan, room, roomBoard as roomBoardAnswer, roomOption } from './api-schemas.ts';

export interface RoomRouteOptions {
  ops: Operations;
  db: Db;
  adminGuard: AdminGuard;
  now: () => Date;
  timeZone: string;
  present: BookingPresenter;
}

const name = z.object({ name: z.string().min(1).max(40) });
const refused = { 400: errorAnswer, 401: errorAnswer, 404: errorAnswer, 409: errorAnswer };
const planned = <T extends z.ZodRawShape>(shape: T) => data(z.object({ ...shape, plan: replanPlan }));

/** Rooms, blocks, moves and the room board over the admin API (bearer USHER_ADMIN_TOKEN). */
export async function roomRoutes(fastify: FastifyInstance, o: RoomRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.addHook('onRequest', o.adminGuard);
  const tags = ['rooms'];
  const security = adminSecurity;

  app.get(
    '/api/rooms',
    {
      schema: {
        tags,
        security,
        summary: 'The rooms (retired ones too with all=true)',
        querystring: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
        response: { 200: data(z.array(room)), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.listRooms({ all: req.query.all === 'true' }) }),
  );
  app.put(
    '/api/rooms/:name',
    {
      schema: {
        tags,
        security,
        summary: 'Add or change a room; bookings it can no longer take are re-planned',
        params: name,
        body: roomSettingsInput.default({ floor: 0, building: '', equipment: [], cleaningMinutes: 0 }),
        response: { 200: planned({ created: z.boolean() }), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.putRoom(req.params.name, req.body) }),
  );
  app.delete(
    '/api/rooms/:name',
    {
      schema: {
        tags,
        security,
        summary: 'Retire a room; its bookings are re-planned',
        params: name,
        response: { 200: planned({}), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.retireRoom(req.params.name) }),
  );
  app.post(
    '/api/rooms/:name/blocks',
    {
      schema: {
        tags,
        security,
        summary: 'Block a room (from now, or from `from`) until a time; its bookings move with the fewest changes',
        params: name,
        body: roomBlocking,
        response: { 200: planned({ blockId: z.number().int(), preview: z.literal(true).optional() }), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.blockRoom(req.params.name, req.body) }),
  );
  app.delete(
    '/api/rooms/blocks/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Lift a block',
        params: z.object({ id: z.coerce.number().int().positive() }),
        response: { 200: planned({}), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.unblockRoom(req.params.id) }),
  );
  app.put(
    '/api/rooms/blocks/:id',
    {
      schema: {
        tags,
        security,
        summary: "Change a block's times or reason; bookings it now covers move, those waiting for the time it frees get it",
        params: z.object({ id: z.coerce.number().int().positive() }),
        body: blockChange,
        response: {
          200: planned({ blockId: z.number().int().describe('the block as it is now'), preview: z.literal(true).optional() }),
          ...refused,
        },
      },
    },
    async (req) => ({ data: await o.ops.changeBlock(req.params.id, req.body) }),
  );
  app.post(
    '/api/rooms/:name/cleaned',
    {
      schema: {
        tags,
        security,
        summary: 'The room is clean now: its cleaning buffer ends',
        params: name,
        response: { 200: data(z.object({ shortened: z.array(z.string()) })), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.markCleaned(req.params.name) }),
  );
  app.post(
    '/api/bookings/:uid/room',
    {
      schema: {
        tags,
        security,
        summary: 'Move a booking to a room (pinned there); Cal.com is told',
        params: z.object({ uid: z.string().min(1) }),
        body: roomMove,
        response: { 200: data(z.object({ room: z.string(), location: z.string().describe('the text written to Cal.com') })), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.moveBooking(req.params.uid, req.body) }),
  );
  app.get(
    '/api/bookings/:uid/rooms',
    {
      schema: {
        tags,
        security,
        summary: 'Every room for a booking: those that fit first, best first, each with why it fits or not',
        params: z.object({ uid: z.string().min(1) }),
        response: { 200: data(z.array(roomOption)), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.roomOptions(req.params.uid) }),
  );
  app.post(
    '/api/rooms/replan',
    { schema: { tags, security, summary: 'Re-plan every upcoming booking now', response: { 200: planned({}), ...refused } } },
    async () => ({ data: await o.ops.replan() }),
  );
  app.get(
    '/api/rooms/board',
    {
      schema: {
        tags,
        security,
        summary: 'Every room at a time (now by default)',
        querystring: z.object({ at: isoTime.optional() }).strict(),
        response: { 200: data(roomBoardAnswer), ...refused },
      },
    },
    async (req) => ({
      data: await roomBoard(o.db, { timeZone: o.timeZone, present: o.present }, req.query.at ? new Date(req.query.at) : o.now()),
    }),
  );
}
