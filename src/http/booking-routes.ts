import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CalClient } from '../cal/api-client.ts';
import { checkout, checkoutSchema } from '../bookings/checkout.ts';
import { UsherError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { AdminGuard } from './admin-auth.ts';

export interface BookingRouteOptions {
  db: Db;
  cal: CalClient;
  /** The admin API's bearer check (one per app, with its throttle): src/http/admin-auth.ts. */
  adminGuard: AdminGuard;
  now: () => Date;
}

const day = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'a date (YYYY-MM-DD) or ISO time');

/** Custom booking flows over the admin API: free slots, and a checkout that never books twice. */
export async function bookingRoutes(app: FastifyInstance, o: BookingRouteOptions): Promise<void> {
  app.addHook('onRequest', o.adminGuard);

  app.get('/api/slots', async (req) => {
    const q = z
      .object({ eventTypeId: z.coerce.number().int().positive(), from: day, to: day, timeZone: z.string().optional() })
      .strict()
      .parse(req.query);
    if (Date.parse(q.to) < Date.parse(q.from)) throw new UsherError('BAD_REQUEST', 'to: must not be before from');
    return {
      data: await o.cal.listSlots({
        eventTypeId: q.eventTypeId,
        start: q.from,
        end: q.to,
        ...(q.timeZone ? { timeZone: q.timeZone } : {}),
      }),
    };
  });

  app.post('/api/bookings', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.trim().length < 8 || key.length > 200) {
      throw new UsherError(
        'BAD_REQUEST',
        'Idempotency-Key header: required (8–200 characters, one per checkout) so that a retried request never books twice',
      );
    }
    const body = checkoutSchema.parse(req.body);
    const answer = await checkout(o.db, o.cal, key.trim(), body, o.now);
    if (answer.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(answer.status).send(answer.body);
  });
}
