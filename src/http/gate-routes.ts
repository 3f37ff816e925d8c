import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { approval, creditChange, declining, memberChanges, membersQuery, type Operations } from '../operations/operations.ts';
import type { AdminGuard } from './admin-auth.ts';
import { adminSecurity } from './admin-routes.ts';
import {
  bookingView,
  creditBalance,
  data,
  errorAnswer,
  heldBooking,
  importResult,
  member,
  memberAccount,
  operatorOutcome,
} from './api-schemas.ts';

export interface GateRouteOptions {
  ops: Operations;
  adminGuard: AdminGuard;
}

const emailParam = z.object({ email: z.email() });
const uidParam = z.object({ uid: z.string().min(1) });
const refused = { 400: errorAnswer, 401: errorAnswer, 404: errorAnswer, 409: errorAnswer };

/** Members, credits and held bookings over the admin API (bearer USHER_ADMIN_TOKEN). */
export async function gateRoutes(fastify: FastifyInstance, o: GateRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.addHook('onRequest', o.adminGuard);
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: 10 * 1_048_576 }, (_req, body, done) => done(null, body));
  const security = adminSecurity;
  const members = ['members and credits'];
  const gate = ['gate'];

  app.get(
    '/api/members',
    {
      schema: {
        tags: members,
        security,
        summary: 'Members by e-mail',
        querystring: membersQuery,
        response: { 200: data(z.array(member)), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.listMembers(req.query) }),
  );
  app.post(
    '/api/members/import',
    {
      schema: {
        tags: members,
        security,
        summary: 'Add or update members from CSV (email,name,credits[,expires]); each row’s credits becomes the balance',
        description: 'The body is the CSV itself (text/csv) or {"csv": "…"}. All rows or none: every faulty row is listed.',
        body: z.union([z.string(), z.object({ csv: z.string() }).strict()]),
        response: { 200: data(importResult), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.importMembers(typeof req.body === 'string' ? req.body : req.body.csv) }),
  );
  app.get(
    '/api/members/:email',
    {
      schema: {
        tags: members,
        security,
        summary: 'A member, their balance and ledger',
        params: emailParam,
        response: { 200: data(memberAccount), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.memberAccount(req.params.email) }),
  );
  app.put(
    '/api/members/:email',
    {
      schema: {
        tags: members,
        security,
        summary: 'Create or change a member',
        params: emailParam,
        body: memberChanges.default({}),
        response: { 200: data(z.object({ member, created: z.boolean() })), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.setMember(req.params.email, req.body) }),
  );
  app.post(
    '/api/members/:email/credits',
    {
      schema: {
        tags: members,
        security,
        summary: 'Grant credits (a negative amount takes spendable credits back)',
        params: emailParam,
        body: creditChange,
        response: { 200: data(creditBalance), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.adjustCredits(req.params.email, req.body) }),
  );
  app.get(
    '/api/gate/held',
    {
      schema: {
        tags: gate,
        security,
        summary: 'Bookings the gate left for a person',
        response: { 200: data(z.array(heldBooking)), ...refused },
      },
    },
    async () => ({ data: await o.ops.heldBookings() }),
  );
  app.post(
    '/api/bookings/:uid/approve',
    {
      schema: {
        tags: gate,
        security,
        summary: 'Confirm a pending booking in Cal.com (with its credits unless charge is false)',
        params: uidParam,
        body: approval.default({}),
        response: { 200: data(operatorOutcome), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.approve(req.params.uid, req.body) }),
  );
  app.post(
    '/api/bookings/:uid/decline',
    {
      schema: {
        tags: gate,
        security,
        summary: 'Decline a pending booking in Cal.com; the reason is what the booker sees',
        params: uidParam,
        body: declining,
        response: { 200: data(operatorOutcome), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.decline(req.params.uid, req.body) }),
  );
  app.get(
    '/api/bookings/:uid',
    {
      schema: {
        tags: gate,
        security,
        summary: 'Usher’s whole view of a booking: gate, room, credits, calls, events, what needs a person',
        params: uidParam,
        response: { 200: data(bookingView), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.booking(req.params.uid) }),
  );
}
