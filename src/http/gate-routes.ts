import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { endOfLocalDate } from '../domain/calendar-period.ts';
import { UsherError } from '../errors.ts';
import type { GateDeps } from '../gate/decide-request.ts';
import { adjustCredits, decideByOperator, heldBookings, importMembers, memberAccount } from '../gate/gate-operations.ts';
import { parseMembersCsv } from '../gate/members-csv.ts';
import type { Db } from '../store/db.ts';
import { listMembers, upsertMember } from '../store/members.ts';
import type { AdminGuard } from './admin-auth.ts';
import { bookingView } from './booking-view.ts';

export interface GateRouteOptions {
  db: Db;
  /** The admin API's bearer check (one per app, with its throttle): src/http/admin-auth.ts. */
  adminGuard: AdminGuard;
  now: () => Date;
  gate: GateDeps;
  wakeWorker: () => void;
}

const dateOrTime = z
  .string()
  .refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) || !Number.isNaN(Date.parse(v)), 'a date (YYYY-MM-DD) or an ISO time');
const memberBody = z
  .object({
    name: z.string().min(1).optional(),
    active: z.boolean().optional(),
    membershipUntil: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullable()
      .optional(),
  })
  .strict();
const creditsBody = z.object({ amount: z.number().int(), reason: z.string().max(500).optional(), expires: dateOrTime.optional() }).strict();
const approveBody = z
  .object({ charge: z.boolean().optional(), note: z.string().max(500).optional(), by: z.string().max(100).optional() })
  .strict();
const declineBody = z
  .object({ reason: z.string().min(1).max(500), note: z.string().max(500).optional(), by: z.string().max(100).optional() })
  .strict();
const emailParam = z.object({ email: z.string().email() });
const uidParam = z.object({ uid: z.string().min(1) });

/** Members, credits and held bookings over the admin API (bearer USHER_ADMIN_TOKEN). */
export async function gateRoutes(app: FastifyInstance, o: GateRouteOptions): Promise<void> {
  app.addHook('onRequest', o.adminGuard);
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 10 * 1_048_576 }, (_req, body, done) => done(null, body));
  const tz = o.gate.timeZone;
  const expiry = (v: string | undefined) =>
    v === undefined ? undefined : /^\d{4}-\d{2}-\d{2}$/.test(v) ? endOfLocalDate(v, tz) : new Date(v);
  const gated = new Set(Object.keys(o.gate.settings.policies));

  app.get('/api/members', async (req) => {
    const q = z.object({ search: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }).parse(req.query);
    return { data: await listMembers(o.db, { ...(q.search ? { search: q.search } : {}), limit: q.limit }) };
  });

  app.post('/api/members/import', async (req) => {
    const text = typeof req.body === 'string' ? req.body : z.object({ csv: z.string() }).parse(req.body).csv;
    const rows = parseMembersCsv(text, tz);
    return { data: await importMembers(o.db, rows, 'admin-api', o.now()) };
  });

  app.get('/api/members/:email', async (req) => {
    const { email } = emailParam.parse(req.params);
    return { data: await memberAccount(o.db, email, o.now()) };
  });

  app.put('/api/members/:email', async (req) => {
    const { email } = emailParam.parse(req.params);
    const body = memberBody.parse(req.body ?? {});
    const { member, created } = await o.db.transaction((trx) =>
      upsertMember(trx, { email, ...body } as Parameters<typeof upsertMember>[1], o.now()),
    );
    return { data: { member, created } };
  });

  app.post('/api/members/:email/credits', async (req) => {
    const { email } = emailParam.parse(req.params);
    const body = creditsBody.parse(req.body);
    const expiresAt = expiry(body.expires);
    const balance = await adjustCredits(
      o.db,
      {
        email,
        amount: body.amount,
        ...(body.reason ? { reason: body.reason } : {}),
        ...(expiresAt ? { expiresAt } : {}),
        actor: 'admin-api',
      },
      o.now(),
    );
    return { data: balance };
  });

  app.get('/api/gate/held', async () => ({ data: await heldBookings(o.db) }));

  app.post('/api/bookings/:uid/approve', async (req) => {
    const { uid } = uidParam.parse(req.params);
    const body = approveBody.parse(req.body ?? {});
    const result = await decideByOperator(
      o.db,
      o.gate,
      {
        uid,
        outcome: 'approve',
        actor: body.by ?? 'admin',
        ...(body.charge !== undefined ? { charge: body.charge } : {}),
        ...(body.note ? { note: body.note } : {}),
      },
      o.now(),
    );
    o.wakeWorker();
    return { data: result };
  });

  app.post('/api/bookings/:uid/decline', async (req) => {
    const { uid } = uidParam.parse(req.params);
    const body = declineBody.parse(req.body);
    const result = await decideByOperator(
      o.db,
      o.gate,
      { uid, outcome: 'decline', actor: body.by ?? 'admin', message: body.reason, ...(body.note ? { note: body.note } : {}) },
      o.now(),
    );
    o.wakeWorker();
    return { data: result };
  });

  app.get('/api/bookings/:uid', async (req) => {
    const { uid } = uidParam.parse(req.params);
    const view = await bookingView(o.db, uid, gated);
    if (!view) throw new UsherError('NOT_FOUND', `Usher knows no booking ${uid}`);
    return { data: view };
  });
}
