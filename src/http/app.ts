import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { ZodError, type ZodType } from 'zod';
import { describeError, type ErrorCode, errorBody, httpStatusOf, UsherError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { InboxWriter } from '../store/inbox.ts';
import { pendingMigrations } from '../store/migrate.ts';
import { bearerGuard } from './admin-auth.ts';
import { adminRoutes } from './admin-routes.ts';
import { AuthThrottle } from '../domain/auth-throttle.ts';
import type { CalClient } from '../cal/api-client.ts';
import { bookingRoutes } from './booking-routes.ts';
import { boardRoutes, type BoardRouteOptions } from './board-routes.ts';
import { gateRoutes } from './gate-routes.ts';
import { insightsRoutes, type InsightsRouteOptions } from './insights-routes.ts';
import { roomRoutes } from './room-routes.ts';
import type { Operations } from '../operations/operations.ts';
import type { Metrics } from './metrics.ts';
import { webhookRoute } from './webhook-route.ts';

const USHER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const ADMIN_API_DESCRIPTION =
  'Operate Usher: what arrived from Cal.com and what was done with it, members and credits, held bookings, rooms. ' +
  'Every route takes `Authorization: Bearer <USHER_ADMIN_TOKEN>`; every refusal has the shape {error: {code, message}}.';

/** Production: answers go out as built; a schema never turns a good answer into a 500. */
const plainSerializer = () => (value: unknown) => JSON.stringify(value);
/** Tests: the answer, as JSON, must match the route's documented schema. */
const checkedSerializer = ({ schema, url, method }: { schema: unknown; url: string; method: string }) => {
  return (value: unknown) => {
    const json = JSON.stringify(value);
    const checked = (schema as ZodType).safeParse(JSON.parse(json));
    if (!checked.success) throw new Error(`${method} ${url} answered outside its documented schema: ${checked.error.message}`);
    return json;
  };
};

export interface AppOptions {
  db: Db;
  log: Logger;
  metrics: Metrics;
  inbox: InboxWriter;
  now: () => Date;
  webhookSecret: string | undefined;
  adminToken: string | undefined;
  /** Whose X-Forwarded-For names the client (Config.trustProxy). */
  trustProxy?: false | string[];
  webhooks: { maxBodyBytes: number; repeatWindowSeconds: number };
  maxAttempts: number;
  /**
   * Wakes the worker's loops at once (both unless one is named): a stored webhook is work for the
   * inbox loop only, and waking the jobs loop for each one made it ask the store for jobs that were
   * not there, in every process (docs/benchmarks.md, scale-out).
   */
  wakeWorker: (loop?: 'inbox' | 'jobs') => void;
  /** The operations on this store, as the admin API's and the board's signed-in person. */
  ops: (actor: string) => Operations;
  timeZone: string;
  cal: CalClient;
  board: Pick<BoardRouteOptions, 'auth' | 'feed' | 'title' | 'present' | 'dayView'>;
  calendars: Pick<InsightsRouteOptions, 'renderFeed' | 'publicUrl'>;
  /** Run every answer of a documented route through its schema (tests): a drift fails loudly. */
  validateResponses?: boolean;
  /** Later features add their routes here. */
  extraRoutes?: ((app: FastifyInstance) => Promise<void>)[];
}

/**
 * The HTTP edge. One error boundary: Usher's errors become their status with code and message,
 * a schema failure a 400 with its problems, anything else a 500 that says nothing of the cause.
 */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: o.log as FastifyBaseLogger,
    // Per-request lines at thousands of webhooks a second cost more than they tell; errors still log.
    logController: new LogController({ disableRequestLogging: true }),
    // SSE connections stay open otherwise and close() never returns (DESIGN §4).
    forceCloseConnections: true,
    trustProxy: o.trustProxy ?? false,
    bodyLimit: 1_048_576,
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(o.validateResponses ? checkedSerializer : plainSerializer);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Usher admin API', version: USHER_VERSION, description: ADMIN_API_DESCRIPTION },
      components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'USHER_ADMIN_TOKEN' } } },
    },
    hideUntagged: true,
    transform: jsonSchemaTransform,
  });

  // Every admin route is documented, or Usher does not start (so no test run can miss one).
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/api/') && route.url !== '/api/openapi.json' && !route.schema?.tags) {
      throw new Error(`${route.method} ${route.url} has no schema with tags: it would be missing from /api/openapi.json`);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (error instanceof UsherError) {
      // A list of faults (a bad CSV row, a config key) is for the operator; nothing else in `detail` leaves.
      const faults = error.httpStatus < 500 && Array.isArray(error.detail) ? { faults: error.detail.map(String) } : {};
      return reply.code(error.httpStatus).send(errorBody(error.code, error.message, faults));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      // Body fields are named as fields ("attendee.language: …"); elsewhere the part says where ("query limit: …").
      const part = { body: '', querystring: 'query ', params: 'path ', headers: 'header ' }[error.validationContext ?? 'body'] ?? '';
      const message = error.validation
        .map((v) => `${part}${v.instancePath.slice(1).replaceAll('/', '.') || '(root)'}: ${v.message}`)
        .join('; ');
      return reply.code(400).send(errorBody('BAD_REQUEST', message));
    }
    if (error instanceof ZodError) {
      return reply
        .code(400)
        .send(errorBody('BAD_REQUEST', error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')));
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own refusals (a body too large, a content type no route takes) keep their status
      // and get a code that names it, in the one error shape.
      const code: ErrorCode =
        error.statusCode === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : error.statusCode === 413
            ? 'PAYLOAD_TOO_LARGE'
            : error.statusCode === 404
              ? 'NOT_FOUND'
              : 'BAD_REQUEST';
      return reply.code(error.statusCode).send(errorBody(code, error.message));
    }
    req.log.error({ err: error, url: req.url }, 'request failed');
    return reply.code(httpStatusOf('INTERNAL')).send(errorBody('INTERNAL', 'internal error'));
  });
  // An unknown path answers in the same shape as every other error.
  app.setNotFoundHandler((req, reply) =>
    reply.code(httpStatusOf('NOT_FOUND')).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );
  // Request latency by route pattern (never the raw URL: booking uids would make a series each).
  app.addHook('onResponse', async (req, reply) => {
    o.metrics.httpSeconds.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Whoever opens Usher's address in a browser is looking for the room board.
  app.get('/', async (_req, reply) => reply.code(303).header('location', '/board').send());
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    try {
      const pending = await pendingMigrations(o.db);
      if (pending.length > 0) return reply.code(503).send({ status: 'not ready', reason: `migrations not applied: ${pending.join(', ')}` });
      return { status: 'ready', store: o.db.kind };
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', reason: `store unreachable (${describeError(error).slice(0, 200)})` });
    }
  });

  // The admin API's own description, generated from the schemas its routes validate with.
  app.get('/api/openapi.json', async () => app.swagger());

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });

  await app.register(webhookRoute, {
    secret: o.webhookSecret,
    maxBodyBytes: o.webhooks.maxBodyBytes,
    repeatWindowSeconds: o.webhooks.repeatWindowSeconds,
    maxAttempts: o.maxAttempts,
    inbox: o.inbox,
    metrics: o.metrics,
    now: o.now,
    onStored: () => o.wakeWorker('inbox'),
  });

  const adminGuard = bearerGuard(o.adminToken, new AuthThrottle(), () => o.now().getTime());
  const ops = o.ops('admin');
  await app.register(adminRoutes, { ops, adminGuard });
  await app.register(gateRoutes, { ops, adminGuard });
  await app.register(roomRoutes, { ops, db: o.db, adminGuard, now: o.now, timeZone: o.timeZone, present: o.board.present });
  await app.register(insightsRoutes, { ...o.calendars, ops, db: o.db, adminGuard });
  await app.register(bookingRoutes, { ops, db: o.db, cal: o.cal, adminGuard, now: o.now });
  await app.register(boardRoutes, {
    ...o.board,
    db: o.db,
    now: o.now,
    timeZone: o.timeZone,
    ops: o.ops('board'),
    wakeWorker: o.wakeWorker,
  });

  for (const routes of o.extraRoutes ?? []) await app.register(routes);
  return app;
}
