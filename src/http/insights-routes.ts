import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { feedForToken, newFeed } from '../insights/calendar-feed.ts';
import { INSIGHTS_TABLES, insightsCsv, insightsQuery } from '../insights/insights-report.ts';
import { whatIfQuery } from '../insights/what-if.ts';
import type { Operations } from '../operations/operations.ts';
import type { CalendarFeed } from '../store/calendar-feeds.ts';
import type { Db } from '../store/db.ts';
import type { AdminGuard } from './admin-auth.ts';
import { adminSecurity } from './admin-routes.ts';
import { data, errorAnswer } from './api-schemas.ts';

export interface InsightsRouteOptions {
  ops: Operations;
  db: Db;
  adminGuard: AdminGuard;
  /** The feed's iCalendar text, as of now. */
  renderFeed: (feed: CalendarFeed) => Promise<string>;
  /** Where calendars reach this Usher (USHER_PUBLIC_URL); absent: the address the request came to. */
  publicUrl: string | undefined;
}

const refused = { 400: errorAnswer, 401: errorAnswer, 404: errorAnswer };
const n = z.number();
const roomFigures = {
  openMinutes: n,
  bookedMinutes: n,
  bookings: n,
  cleaningMinutes: n,
  idleGaps: n,
  idleGapMinutes: n.describe('idle time between bookings long enough to book (insights.minimumGapMinutes)'),
  noShows: n,
  waited: n.describe('bookings that were without a room for a while'),
  waitMinutesTotal: n,
  waitMinutesMax: n,
  movesOut: n.describe('bookings moved out of the room by re-planning'),
  utilisation: n.nullable().describe('booked minutes / open minutes; null: never open'),
};
const report = z.object({
  from: z.string(),
  to: z.string(),
  grain: z.enum(['day', 'week', 'month']),
  timeZone: z.string(),
  minimumGapMinutes: n,
  rooms: z.array(z.object({ room: z.string(), period: z.string(), ...roomFigures })),
  clinic: z.array(z.object({ period: z.string(), ...roomFigures })),
  roomTotals: z.array(z.object({ room: z.string(), ...roomFigures })),
  doctors: z.array(z.object({ doctor: z.string(), period: z.string(), bookings: n, bookedMinutes: n, rooms: n, noShows: n, waited: n })),
  writeBack: z.array(
    z
      .object({ period: z.string(), writes: n, retried: n, p50Seconds: n, p95Seconds: n, maxSeconds: n })
      .describe('room locations written to Cal.com: seconds from the decision to Cal.com’s answer'),
  ),
  withoutRoom: z.array(z.object({ period: z.string(), bookings: n }).describe('bookings that needed a room and still have none')),
});
const roomUse = z.object({ room: z.string(), bookings: n, bookedMinutes: n, openMinutes: n, utilisation: n.nullable() });
const scenario = { withRoom: n, withoutRoom: n, moves: n, waited: n, perRoom: z.array(roomUse) };
const whatIfAnswer = z.object({
  from: z.string(),
  to: z.string(),
  rooms: z.object({ removed: z.array(z.string()), added: z.array(z.string()), changed: z.array(z.string()) }),
  bookings: n,
  recorded: z.object(scenario),
  whatIf: z.object({ ...scenario, inexactPlans: n }),
  differences: z.object({
    otherRoom: n,
    lostRoom: n,
    gainedRoom: n,
    sample: z.array(
      z.object({
        uid: z.string(),
        start: z.string(),
        title: z.string().nullable(),
        recorded: z.string().nullable(),
        whatIf: z.string().nullable(),
      }),
    ),
  }),
  seconds: n,
});
const feed = z.object({
  id: n,
  kind: z.enum(['room', 'doctor']),
  subject: z.string(),
  showNames: z.boolean(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

/** Insights, what-if and calendar feeds over the admin API; the feeds themselves at /calendars/<secret>.ics. */
export async function insightsRoutes(fastify: FastifyInstance, o: InsightsRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const security = adminSecurity;
  const urlOf = (req: FastifyRequest, path: string) => `${o.publicUrl ?? `${req.protocol}://${req.host}`}${path}`;

  // A subscribed calendar cannot send a token header: the URL's secret is the credential. Only its
  // hash is stored, and a revoked feed answers 404 like one that never was.
  app.get('/calendars/:file', async (req, reply) => {
    const { file } = z.object({ file: z.string().max(64) }).parse(req.params);
    const live = file.endsWith('.ics') ? await feedForToken(o.db, file.slice(0, -4)) : undefined;
    if (!live) return reply.code(404).header('cache-control', 'no-store').type('text/plain').send('no such calendar\n');
    return reply
      .header('content-type', 'text/calendar; charset=utf-8')
      .header('cache-control', 'private, max-age=60')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(await o.renderFeed(live));
  });

  await app.register(async (api) => {
    const admin = api.withTypeProvider<ZodTypeProvider>();
    admin.addHook('onRequest', o.adminGuard);
    const tags = ['insights'];
    admin.get(
      '/api/insights',
      {
        schema: {
          tags,
          security,
          summary:
            'Per room, doctor and day/week/month: utilisation against opening hours, gaps, no-shows, waits, moves, write-back delays',
          querystring: insightsQuery,
          response: { 200: data(report), ...refused },
        },
      },
      async (req) => ({ data: await o.ops.insights(req.query) }),
    );
    admin.get(
      '/api/insights.csv',
      {
        schema: {
          tags,
          security,
          summary: 'One table of the insights as CSV (rooms, clinic, doctors, write-back)',
          querystring: z
            .object({
              table: z.enum(INSIGHTS_TABLES).default('rooms'),
              from: z.string().optional(),
              to: z.string().optional(),
              grain: z.string().optional(),
            })
            .strict(),
          response: { 200: z.string().describe('text/csv'), ...refused },
        },
      },
      async (req, reply) => {
        const { table, ...q } = req.query;
        const r = await o.ops.insights(insightsQuery.parse(q));
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="usher-${table}-${r.from}-${r.to}.csv"`)
          .send(insightsCsv(r, table));
      },
    );
    admin.post(
      '/api/what-if',
      {
        schema: {
          tags,
          security,
          summary: 'Replay a past period with rooms taken away, added or changed, beside what happened (changes nothing)',
          body: whatIfQuery,
          response: { 200: data(whatIfAnswer), ...refused },
        },
      },
      async (req) => ({ data: await o.ops.whatIf(req.body) }),
    );
    admin.get(
      '/api/calendar-feeds',
      {
        schema: {
          tags,
          security,
          summary: 'The calendar feeds (revoked ones too with all=true); never their secrets',
          querystring: z.object({ all: z.enum(['true', 'false']).optional() }).strict(),
          response: { 200: data(z.array(feed)), ...refused },
        },
      },
      async (req) => ({ data: await o.ops.listCalendarFeeds({ all: req.query.all === 'true' }) }),
    );
    admin.post(
      '/api/calendar-feeds',
      {
        schema: {
          tags,
          security,
          summary: 'A new iCalendar feed for a room or a doctor; its URL is in this answer only',
          body: newFeed,
          response: { 200: data(z.object({ feed, path: z.string(), url: z.string() })), ...refused },
        },
      },
      async (req) => {
        const made = await o.ops.createCalendarFeed(req.body);
        return { data: { ...made, url: urlOf(req, made.path) } };
      },
    );
    admin.delete(
      '/api/calendar-feeds/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Revoke a feed: its URL stops working at once',
          params: z.object({ id: z.coerce.number().int().positive() }),
          response: { 200: data(feed), ...refused },
        },
      },
      async (req) => ({ data: await o.ops.revokeCalendarFeed(req.params.id) }),
    );
  });
}
