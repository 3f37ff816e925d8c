import { UsherError } from '../errors.ts';
import type { Queryable } from '../store/db.ts';
import { getInboxEvent, replayInboxEvent, type InboxEvent } from '../store/inbox.ts';
import { getJob, replayJob, type Job } from '../store/jobs.ts';

/** `evt_12` or `job_34`: the ids operators see, and `usher replay` takes. */
export function parseRef(ref: string): { table: 'event' | 'job'; id: number } {
  const match = /^(evt|job)_(\d+)$/.exec(ref.trim());
  if (!match) throw new UsherError('BAD_REQUEST', `"${ref}" is not an event (evt_N) or job (job_N) id`);
  return { table: match[1] === 'evt' ? 'event' : 'job', id: Number(match[2]) };
}

/** Puts a dead-lettered event or job back in line with fresh attempts. */
export async function replay(db: Queryable, ref: string, now: Date): Promise<{ event: InboxEvent } | { job: Job }> {
  const { table, id } = parseRef(ref);
  if (table === 'event') {
    const event = await replayInboxEvent(db, id, now);
    if (event) return { event };
    const exists = await getInboxEvent(db, id);
    if (!exists) throw new UsherError('NOT_FOUND', `no event ${ref}`);
    throw new UsherError('CONFLICT', `event ${ref} is ${exists.state}; only dead or unprocessable events are replayed`);
  }
  const job = await replayJob(db, id, now);
  if (job) return { job };
  const exists = await getJob(db, id);
  if (!exists) throw new UsherError('NOT_FOUND', `no job ${ref}`);
  throw new UsherError('CONFLICT', `job ${ref} is ${exists.state}; only dead jobs are replayed`);
}
