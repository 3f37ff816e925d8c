import type { Queryable } from './db.ts';

/**
 * What `usher doctor` reads of the store: the database server's clock (only to compare it with
 * Usher's, never to decide anything — src/clock.ts), when Cal.com last reached Usher, and the work
 * waiting or failed.
 */
export async function storeHealth(db: Queryable): Promise<{
  databaseNow: Date;
  lastWebhookAt: Date | null;
  pendingEvents: number;
  deadEvents: number;
  deadJobs: number;
  unprocessable: number;
}> {
  const { rows } = await db.query<{
    db_now: Date;
    last_webhook: Date | null;
    pending: number;
    dead_events: number;
    unprocessable: number;
    dead_jobs: number;
  }>(
    `select now() as db_now,
            (select max(received_at) from inbox_events where source = 'webhook') as last_webhook,
            (select count(*)::int from inbox_events where state = 'pending') as pending,
            (select count(*)::int from inbox_events where state = 'dead') as dead_events,
            (select count(*)::int from inbox_events where state = 'unprocessable') as unprocessable,
            (select count(*)::int from jobs where state = 'dead') as dead_jobs`,
  );
  const r = rows[0]!;
  return {
    databaseNow: new Date(r.db_now),
    lastWebhookAt: r.last_webhook ? new Date(r.last_webhook) : null,
    pendingEvents: r.pending,
    deadEvents: r.dead_events,
    deadJobs: r.dead_jobs,
    unprocessable: r.unprocessable,
  };
}
