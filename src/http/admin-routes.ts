import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { UsherError } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { getInboxEvent, listInboxEvents, type InboxEvent } from '../store/inbox.ts';
import { getJob, listJobs, type Job } from '../store/jobs.ts';
import { parseRef, replay } from '../jobs/replay.ts';
import type { AdminGuard } from './admin-auth.ts';

export interface AdminRouteOptions {
  db: Db;
  /** The admin API's bearer check (one per app, with its throttle): src/http/admin-auth.ts. */
  adminGuard: AdminGuard;
  now: () => Date;
  onReplay: () => void;
  reconcile: () => Promise<unknown>;
}

const listQuery = z.object({
  state: z.string().optional(),
  bookingUid: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Operators see what arrived, not the raw personal data in it: the body is left out of lists. */
export function presentEvent(e: InboxEvent, withBody = false) {
  return {
    id: `evt_${e.id}`,
    trigger: e.trigger,
    bookingUid: e.bookingUid,
    source: e.source,
    state: e.state,
    attempts: e.attempts,
    maxAttempts: e.maxAttempts,
    receivedAt: e.receivedAt,
    runAt: e.runAt,
    lastError: e.lastError,
    finishedAt: e.finishedAt,
    ...(withBody ? { body: safeJson(e.rawBody) } : {}),
  };
}

export function presentJob(j: Job) {
  return {
    id: `job_${j.id}`,
    kind: j.kind,
    bookingUid: j.bookingUid,
    coalesceKey: j.coalesceKey,
    priorityAt: j.priorityAt,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    runAt: j.runAt,
    lastError: j.lastError,
    lastResponse: j.lastResponse,
    payload: j.payload,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function adminRoutes(app: FastifyInstance, o: AdminRouteOptions): Promise<void> {
  app.addHook('onRequest', o.adminGuard);

  app.get('/api/events', async (req) => {
    const q = listQuery.parse(req.query);
    const events = await listInboxEvents(o.db, {
      ...(q.state ? { state: q.state as InboxEvent['state'] } : {}),
      ...(q.bookingUid ? { bookingUid: q.bookingUid } : {}),
      limit: q.limit,
    });
    return { data: events.map((e) => presentEvent(e)) };
  });

  app.get('/api/events/:ref', async (req) => {
    const { id, table } = parseRef((req.params as { ref: string }).ref);
    const event = table === 'event' ? await getInboxEvent(o.db, id) : undefined;
    if (!event) throw new UsherError('NOT_FOUND', 'no such event');
    return { data: presentEvent(event, true) };
  });

  app.get('/api/jobs', async (req) => {
    const q = listQuery.parse(req.query);
    const jobs = await listJobs(o.db, {
      ...(q.state ? { state: q.state as Job['state'] } : {}),
      ...(q.bookingUid ? { bookingUid: q.bookingUid } : {}),
      limit: q.limit,
    });
    return { data: jobs.map(presentJob) };
  });

  app.get('/api/jobs/:ref', async (req) => {
    const { id, table } = parseRef((req.params as { ref: string }).ref);
    const job = table === 'job' ? await getJob(o.db, id) : undefined;
    if (!job) throw new UsherError('NOT_FOUND', 'no such job');
    return { data: presentJob(job) };
  });

  app.post('/api/replay/:ref', async (req) => {
    const replayed = await replay(o.db, (req.params as { ref: string }).ref, o.now());
    o.onReplay();
    return { data: 'event' in replayed ? presentEvent(replayed.event) : presentJob(replayed.job) };
  });

  app.post('/api/reconcile', async () => ({ data: await o.reconcile() }));
}
