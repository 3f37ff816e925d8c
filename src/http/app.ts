import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { describeError, UsherError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { InboxWriter } from '../store/inbox.ts';
import { pendingMigrations } from '../store/migrate.ts';
import { bearerGuard } from './admin-auth.ts';
import { adminRoutes } from './admin-routes.ts';
import { AuthThrottle } from './auth-throttle.ts';
import type { CalClient } from '../cal/api-client.ts';
import { bookingRoutes } from './booking-routes.ts';
import { boardRoutes, type BoardRouteOptions } from './board-routes.ts';
import { gateRoutes } from './gate-routes.ts';
import { roomRoutes } from './room-routes.ts';
import type { RoomDeps } from '../rooms/room-planning.ts';
import type { GateDeps } from '../gate/decide-request.ts';
import type { Metrics } from './metrics.ts';
import { webhookRoute } from './webhook-route.ts';

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
  wakeWorker: () => void;
  reconcile: () => Promise<unknown>;
  gate: GateDeps;
  rooms: RoomDeps;
  cal: CalClient;
  board: Pick<BoardRouteOptions, 'auth' | 'feed' | 'title' | 'present'>;
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

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (error instanceof UsherError) {
      // A list of faults (a bad CSV row, a config key) is for the operator; nothing else in `detail` leaves.
      const faults = error.httpStatus < 500 && Array.isArray(error.detail) ? { faults: error.detail.map(String) } : {};
      return reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message, ...faults } });
    }
    if (error instanceof ZodError) {
      return reply.code(400).send({
        error: { code: 'BAD_REQUEST', message: error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') },
      });
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own refusals (a body too large, a content type no route takes) keep their status
      // and get a code that names it, in the one error shape.
      const code =
        error.statusCode === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : error.statusCode === 413
            ? 'PAYLOAD_TOO_LARGE'
            : error.statusCode === 404
              ? 'NOT_FOUND'
              : 'BAD_REQUEST';
      return reply.code(error.statusCode).send({ error: { code, message: error.message } });
    }
    req.log.error({ err: error, url: req.url }, 'request failed');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  // An unknown path answers in the same shape as every other error.
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
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
    onStored: o.wakeWorker,
  });

  const adminGuard = bearerGuard(o.adminToken, new AuthThrottle(), () => o.now().getTime());
  await app.register(adminRoutes, { db: o.db, adminGuard, now: o.now, onReplay: o.wakeWorker, reconcile: o.reconcile });

  await app.register(gateRoutes, { db: o.db, adminGuard, now: o.now, gate: o.gate, wakeWorker: o.wakeWorker });
  await app.register(roomRoutes, { db: o.db, adminGuard, now: o.now, rooms: o.rooms, present: o.board.present, wakeWorker: o.wakeWorker });
  await app.register(bookingRoutes, { db: o.db, cal: o.cal, adminGuard, now: o.now });
  await app.register(boardRoutes, { ...o.board, db: o.db, now: o.now, rooms: o.rooms, gate: o.gate, wakeWorker: o.wakeWorker });

  for (const routes of o.extraRoutes ?? []) await app.register(routes);
  return app;
}
