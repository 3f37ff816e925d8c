import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkout, checkoutSchema } from '../bookings/checkout.ts';
import type { CalClient } from '../cal/api-client.ts';
import { UsherError } from '../errors.ts';
import { slotsQuery, type Operations } from '../operations/operations.ts';
import type { Db } from '../store/db.ts';
import type { AdminGuard } from './admin-auth.ts';
import { adminSecurity } from './admin-routes.ts';
import { data, errorAnswer, slots } from './api-schemas.ts';

export interface BookingRouteOptions {
  ops: Operations;
  db: Db;
  cal: CalClient;
  adminGuard: AdminGuard;
  now: () => Date;
}

const refused = { 400: errorAnswer, 401: errorAnswer, 409: errorAnswer, 422: errorAnswer, 502: errorAnswer };

/** Custom booking flows over the admin API: free slots, and a checkout that never books twice. */
export async function bookingRoutes(fastify: FastifyInstance, o: BookingRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.addHook('onRequest', o.adminGuard);
  const tags = ['custom booking flows'];
  const security = adminSecurity;

  app.get(
    '/api/slots',
    {
      schema: {
        tags,
        security,
        summary: 'Free slots of an event type, from Cal.com',
        querystring: slotsQuery,
        response: { 200: data(slots), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.slots(req.query) }),
  );
  app.post(
    '/api/bookings',
    {
      schema: {
        tags,
        security,
        summary: 'Book in Cal.com once per Idempotency-Key (same key and body → the same answer)',
        headers: z.object({ 'idempotency-key': z.string().optional() }).loose(),
        body: checkoutSchema,
        response: { 201: data(z.object({ uid: z.string() }).loose()), 200: data(z.object({ uid: z.string() }).loose()), ...refused },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.trim().length < 8 || key.length > 200) {
        throw new UsherError(
          'BAD_REQUEST',
          'Idempotency-Key header: required (8–200 characters, one per checkout) so that a retried request never books twice',
        );
      }
      const answer = await checkout(o.db, o.cal, key.trim(), req.body, o.now);
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(answer.status).send(answer.body as never);
    },
  );
}
