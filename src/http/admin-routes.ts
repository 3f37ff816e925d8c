import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eventsQuery, jobsQuery, type Operations } from '../operations/operations.ts';
import type { AdminGuard } from './admin-auth.ts';
import { data, errorAnswer, presentedEvent, presentedJob, reconcileResult } from './api-schemas.ts';

export interface AdminRouteOptions {
  ops: Operations;
  /** The admin API's bearer check (one per app, with its throttle): src/http/admin-auth.ts. */
  adminGuard: AdminGuard;
}

const ref = z.object({ ref: z.string().min(1).max(40).describe('evt_N or job_N') });
const refused = { 400: errorAnswer, 401: errorAnswer, 404: errorAnswer, 409: errorAnswer };
export const adminSecurity = [{ adminToken: [] }];

/** What arrived and what Usher did with it: the inbox, the outbox, replay and reconciliation. */
export async function adminRoutes(fastify: FastifyInstance, o: AdminRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.addHook('onRequest', o.adminGuard);
  const tags = ['events and jobs'];
  const security = adminSecurity;

  app.get(
    '/api/events',
    {
      schema: {
        tags,
        security,
        summary: 'Inbox events, newest first',
        querystring: eventsQuery,
        response: { 200: data(z.array(presentedEvent)), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.listEvents(req.query) }),
  );
  app.get(
    '/api/events/:ref',
    {
      schema: {
        tags,
        security,
        summary: 'One inbox event with its body',
        params: ref,
        response: { 200: data(presentedEvent), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.getEvent(req.params.ref) }),
  );
  app.get(
    '/api/jobs',
    {
      schema: {
        tags,
        security,
        summary: 'Outbox jobs (calls to Cal.com, deliveries)',
        querystring: jobsQuery,
        response: { 200: data(z.array(presentedJob)), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.listJobs(req.query) }),
  );
  app.get(
    '/api/jobs/:ref',
    { schema: { tags, security, summary: 'One outbox job', params: ref, response: { 200: data(presentedJob), ...refused } } },
    async (req) => ({ data: await o.ops.getJob(req.params.ref) }),
  );
  app.post(
    '/api/replay/:ref',
    {
      schema: {
        tags,
        security,
        summary: 'Run a dead-lettered or unprocessable event, or a dead job, again',
        params: ref,
        response: { 200: data(z.union([presentedEvent, presentedJob])), ...refused },
      },
    },
    async (req) => ({ data: await o.ops.replay(req.params.ref) }),
  );
  app.post(
    '/api/reconcile',
    {
      schema: { tags, security, summary: 'One reconciliation pass with Cal.com now', response: { 200: data(reconcileResult), ...refused } },
    },
    async () => ({ data: await o.ops.reconcile() }),
  );
}
