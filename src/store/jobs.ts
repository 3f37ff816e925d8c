import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { GatheredCalls } from './gathered-calls.ts';
import { gather, withGenericPlans, type Db, type GatheredRow, type Gathering, type Queryable } from './db.ts';

export type JobState = 'pending' | 'running' | 'done' | 'dead' | 'superseded';

export interface Job {
  id: number;
  kind: string;
  payload: Record<string, unknown>;
  bookingUid: string | null;
  coalesceKey: string | null;
  priorityAt: Date | null;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lastError: string | null;
  lastResponse: unknown;
  createdAt: Date;
  finishedAt: Date | null;
}

export const jobFromRow = rowMapper(
  'jobs',
  z.object({
    id: col.int,
    kind: col.text,
    payload: col.object,
    booking_uid: col.nullableText,
    coalesce_key: col.nullableText,
    priority_at: col.nullableTime,
    state: col.oneOf(['pending', 'running', 'done', 'dead', 'superseded']),
    attempts: col.int,
    max_attempts: col.int,
    run_at: col.time,
    last_error: col.nullableText,
    last_response: col.json,
    created_at: col.time,
    finished_at: col.nullableTime,
  }),
  (r): Job => ({
    id: r.id,
    kind: r.kind,
    payload: r.payload,
    bookingUid: r.booking_uid,
    coalesceKey: r.coalesce_key,
    priorityAt: r.priority_at,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    lastError: r.last_error,
    lastResponse: r.last_response ?? null,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  }),
);

export interface NewJob {
  kind: string;
  payload: Record<string, unknown>;
  bookingUid?: string;
  /** A newer job with the same key replaces an unsent one: only the newest value is ever sent. */
  coalesceKey?: string;
  /** Sooner first (a booking's start); jobs without one go after. */
  priorityAt?: Date;
  maxAttempts: number;
  runAt?: Date;
}

/**
 * Jobs, as rows of one JSON parameter (db.ts Gathering): those nobody waits for are gathered into one
 * insert per transaction (addJob); enqueueJob inserts one and reads back its id.
 */
export const JOBS: Gathering = {
  sql: `insert into jobs (kind, payload, booking_uid, coalesce_key, priority_at, max_attempts, run_at, created_at, updated_at)
     select kind, payload, booking_uid, coalesce_key, priority_at, max_attempts, run_at, created_at, created_at
       from rows from (json_to_recordset($1::json) as (kind text, payload jsonb, booking_uid text, coalesce_key text,
                                                        priority_at timestamptz, max_attempts integer, run_at timestamptz,
                                                        created_at timestamptz)) with ordinality
      order by ordinality
     on conflict (coalesce_key) where state = 'pending'
     do update set payload = excluded.payload, kind = excluded.kind, priority_at = excluded.priority_at,
                   attempts = 0, last_error = null, run_at = least(jobs.run_at, excluded.run_at),
                   updated_at = excluded.updated_at`,
  // A job a dead job's trigger announces is an Usher event, not a job: jobs alone.
  tables: ['jobs'],
};

/** A job's row as JOBS takes it. */
export function jobRow(job: NewJob, now: Date): GatheredRow {
  return {
    kind: job.kind,
    payload: job.payload,
    booking_uid: job.bookingUid ?? null,
    coalesce_key: job.coalesceKey ?? null,
    priority_at: job.priorityAt ?? null,
    max_attempts: job.maxAttempts,
    run_at: job.runAt ?? now,
    created_at: now,
  };
}

/**
 * Writes a job in the caller's transaction (STYLE §8: the decision and its side effect commit
 * together). With a coalescing key, an unsent job with that key takes the new payload instead.
 */
export async function enqueueJob(trx: Queryable, job: NewJob, now: Date): Promise<{ id: number; coalesced: boolean }> {
  const result = await trx.query<{ id: string | number; coalesced: boolean }>(`${JOBS.sql} returning id, (xmax <> 0) as coalesced`, [
    JSON.stringify([jobRow(job, now)]),
  ]);
  const row = result.rows[0]!;
  return { id: Number(row.id), coalesced: Boolean(row.coalesced) };
}

/**
 * enqueueJob for a caller that needs nothing back: inside a transaction it goes out with the
 * transaction's other such jobs in one insert (db.ts gather). Two jobs with one coalescing key are
 * never in one insert (the second would replace the first within a statement, which PostgreSQL
 * refuses): the second sends the first ahead.
 */
export async function addJob(trx: Queryable, job: NewJob, now: Date): Promise<void> {
  await gather(trx, JOBS, jobRow(job, now), job.coalesceKey);
}

/**
 * Claims the most urgent runnable job. A job whose coalescing key is already running elsewhere is
 * passed over: the unique index on running keys would refuse it anyway, and if two claims race
 * past this check the loser's unique violation is reported as "nothing to claim" (CLAIM_RACE).
 *
 * With `kinds`, only a job of those kinds, the most urgent of each found in its own range of
 * jobs_runnable_by_kind (migration 0024). The worker passes them while some kinds wait for their
 * budget (jobs/worker.ts): the claim over every kind walks the queue in order of urgency and would
 * read past every held job first — with 3,000 location writes waiting, 0.6–0.8 ms of the server's
 * time per claim, and a worker claims each time new work is announced (docs/benchmarks.md, scale-out).
 */
export async function claimNextJob(db: Db, workerId: string, now: Date, kinds?: readonly string[]): Promise<Job | undefined> {
  return (await claimJobs(db, workerId, now, kinds, 1))[0];
}

/**
 * claimNextJob for up to `limit` jobs at once, most urgent first: a worker running several jobs at
 * once claims the ones beside its first in one statement, and one commit. `oneOf`: kinds of which
 * at most one job in all is claimed, besides `kinds` (jobs/worker.ts: those whose budget is too
 * scarce for several at once). Two of one coalescing key are never among them: only one is pending
 * at a time (jobs_coalesce_pending, migration 0001).
 */
export async function claimJobs(
  db: Db,
  workerId: string,
  now: Date,
  kinds: readonly string[] | undefined,
  limit: number,
  oneOf: readonly string[] = [],
): Promise<Job[]> {
  const claimable = `j.state = 'pending' and j.run_at <= $2
       and (j.coalesce_key is null or not exists (
             select 1 from jobs r where r.coalesce_key = j.coalesce_key and r.state = 'running'))`;
  const ofKinds = (list: string, most: string) => `(select c.id, c.priority_at from unnest(${list}::text[]) as k(kind)
          cross join lateral (
            select j.id, j.priority_at from jobs j
             where j.kind = k.kind and ${claimable}
             order by j.priority_at nulls last, j.id
             limit ${most}
             for update skip locked) as c
          order by c.priority_at nulls last, c.id
          limit ${most})`;
  const chosen =
    kinds === undefined
      ? `select j.id from jobs j
          where ${claimable}
          order by j.priority_at nulls last, j.id
          limit $3
          for update skip locked`
      : `select u.id from (${ofKinds('$4', '$3')} union all ${ofKinds('$5', '1')}) as u
          order by u.priority_at nulls last, u.id
          limit $3`;
  try {
    // ~0.7 ms of planning a claim otherwise, against ~0.3 of running it (pg_stat_statements, bench:latency).
    const claimed = await withGenericPlans(db, async (trx) => {
      // Materialized: the choice, with its row locks, is made once, whatever plan the update gets.
      const result = await trx.query(
        `with chosen as materialized (${chosen})
       update jobs set state = 'running', locked_by = $1, locked_at = $2, attempts = attempts + 1, updated_at = $2
         from chosen where jobs.id = chosen.id
        returning jobs.*`,
        kinds === undefined ? [workerId, now, limit] : [workerId, now, limit, kinds, oneOf],
      );
      return result.rows;
    });
    const jobs = claimed.map(jobFromRow);
    const urgency = (j: Job) => j.priorityAt?.getTime() ?? Number.POSITIVE_INFINITY;
    return jobs.sort((x, y) => urgency(x) - urgency(y) || x.id - y.id);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') return [];
    throw error;
  }
}

/**
 * JSON text holding Cal.com's answer, for a jsonb column. JSON can carry what jsonb refuses: U+0000
 * (`\u0000`) and a lone half of a surrogate pair. The answer is a record of what Cal.com said, and
 * refusing it would fail a job whose call went through (dead-lettered, its call made again on a
 * replay): U+0000 is kept as the six characters \u0000 (as the inbox keeps it, store/inbox.ts), a
 * lone surrogate as U+FFFD. JSON.stringify writes both as escapes, and only inside strings; an
 * escape is one when an even run of backslashes (escaped backslashes) stands before it.
 */
export function answerJson(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  if (!text.includes('\\u')) return text;
  return text.replace(/(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/g, (_, run: string, code: string) =>
    code === '0000' ? `${run}\\\\u0000` : `${run}\\ufffd`,
  );
}

/** Marks jobs done with Cal.com's answers, in one statement and one commit. */
export async function completeJobs(db: Queryable, done: readonly { id: number; response: unknown; now: Date }[]): Promise<void> {
  await db.query(
    `update jobs j set state = 'done', finished_at = d.at, updated_at = d.at, last_response = coalesce(d.response, 'null'::jsonb),
            last_error = null, locked_by = null, locked_at = null
       from json_to_recordset($1) as d(id bigint, at timestamptz, response jsonb)
      where j.id = d.id`,
    [answerJson(done.map((d) => ({ id: d.id, at: d.now.toISOString(), response: d.response ?? null })))],
  );
}

/**
 * One process's job completions: the jobs that finish while one completion's statement runs wait
 * and go together in the next (GatheredCalls) — the outbox's jobs finish in bursts (a batch's
 * confirmations, calls answered together), each otherwise one commit of its own.
 */
export class JobCompletions {
  readonly #done: GatheredCalls<{ id: number; response: unknown; now: Date }, undefined>;

  constructor(db: Queryable) {
    this.#done = new GatheredCalls(async (done) => {
      await completeJobs(db, done);
      return done.map(() => undefined);
    });
  }

  complete(id: number, response: unknown, now: Date): Promise<void> {
    return this.#done.ask({ id, response, now });
  }
}

/** Back to pending at `runAt`; `refund` gives back the attempt (waiting for rate budget is no failure). */
export async function rescheduleJob(
  db: Queryable,
  id: number,
  runAt: Date,
  now: Date,
  options: { error?: string; response?: unknown; refund?: boolean } = {},
): Promise<JobState> {
  const result = await db.query<{ state: JobState }>(
    `update jobs
        set state = case when not $5 and attempts >= max_attempts then 'dead' else 'pending' end,
            attempts = case when $5 then attempts - 1 else attempts end,
            run_at = $2, updated_at = $3, locked_by = null, locked_at = null,
            last_error = coalesce($4, last_error),
            last_response = coalesce($6::jsonb, last_response),
            finished_at = case when not $5 and attempts >= max_attempts then $3::timestamptz else null end
      where id = $1
      returning state`,
    [id, runAt, now, options.error ?? null, options.refund ?? false, options.response === undefined ? null : answerJson(options.response)],
  );
  return result.rows[0]?.state ?? 'dead';
}

export async function deadLetterJob(db: Queryable, id: number, error: string, response: unknown, now: Date): Promise<void> {
  await db.query(
    `update jobs set state = 'dead', last_error = $2, last_response = $3, finished_at = $4, updated_at = $4,
            locked_by = null, locked_at = null
      where id = $1`,
    [id, error.slice(0, 4000), answerJson(response), now],
  );
}

/** Jobs left running by a process that died (or, on the embedded store at start, by the previous `usher serve`). */
export async function releaseStaleJobs(db: Queryable, olderThan: Date, now: Date): Promise<number> {
  const result = await db.query(
    `update jobs set state = 'pending', locked_by = null, locked_at = null, attempts = greatest(attempts - 1, 0),
            updated_at = $2, last_error = coalesce(last_error, 'released: worker stopped while running')
      where state = 'running' and locked_at < $1`,
    [olderThan, now],
  );
  return result.rowCount;
}

/** On graceful stop: hand back what this worker holds, without spending an attempt. */
export async function releaseWorkerJobs(db: Queryable, workerId: string, now: Date): Promise<number> {
  const result = await db.query(
    `update jobs set state = 'pending', locked_by = null, locked_at = null, attempts = greatest(attempts - 1, 0),
            updated_at = $2
      where state = 'running' and locked_by = $1`,
    [workerId, now],
  );
  return result.rowCount;
}

export async function getJob(db: Queryable, id: number): Promise<Job | undefined> {
  const result = await db.query('select * from jobs where id = $1', [id]);
  return result.rows[0] ? jobFromRow(result.rows[0]) : undefined;
}

export async function listJobs(db: Queryable, filter: { state?: JobState; bookingUid?: string; limit: number }): Promise<Job[]> {
  const result = await db.query(
    `select * from jobs where ($1::text is null or state = $1) and ($2::text is null or booking_uid = $2)
      order by id desc limit $3`,
    [filter.state ?? null, filter.bookingUid ?? null, filter.limit],
  );
  return result.rows.map(jobFromRow);
}

export async function replayJob(db: Queryable, id: number, now: Date): Promise<Job | undefined> {
  try {
    const result = await db.query(
      `update jobs set state = 'pending', attempts = 0, run_at = $2, finished_at = null, updated_at = $2
        where id = $1 and state = 'dead'
        returning *`,
      [id, now],
    );
    return result.rows[0] ? jobFromRow(result.rows[0]) : undefined;
  } catch (error) {
    // A newer pending job with the same coalescing key already carries a newer value.
    if ((error as { code?: string }).code === '23505') {
      await db.query(`update jobs set state = 'superseded', updated_at = $2 where id = $1`, [id, now]);
      return getJob(db, id);
    }
    throw error;
  }
}

export async function countJobsByState(db: Queryable): Promise<Record<string, number>> {
  const result = await db.query<{ state: string; n: string | number }>('select state, count(*) as n from jobs group by state');
  return Object.fromEntries(result.rows.map((r) => [r.state, Number(r.n)]));
}

/**
 * Withdraws a booking's unsent jobs of some kinds (a person decided in Cal.com before Usher's call
 * went out). A running job is left to finish; its handler copes with the changed booking.
 */
export async function supersedePendingJobs(trx: Queryable, bookingUid: string, kinds: readonly string[], now: Date): Promise<number> {
  const result = await trx.query(
    `update jobs set state = 'superseded', updated_at = $3, finished_at = $3
      where booking_uid = $1 and kind = any($2::text[]) and state = 'pending'`,
    [bookingUid, kinds, now],
  );
  return result.rowCount;
}

/** Jobs not yet done whose kind starts with a prefix (`cal.`), in the order the worker claims them. */
export async function listQueuedJobs(db: Queryable, kindPrefix: string, limit: number): Promise<Job[]> {
  const result = await db.query(
    `select * from jobs where state in ('pending', 'running') and starts_with(kind, $1)
      order by state = 'running' desc, priority_at nulls last, id limit $2`,
    [kindPrefix, limit],
  );
  return result.rows.map(jobFromRow);
}
