import { usherEventOf, type UsherEvent } from '../domain/usher-events.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { gather, write, type Gathering, type Queryable } from './db.ts';
import { JOBS, jobRow, type NewJob } from './jobs.ts';

export interface Reason {
  code: string;
  [detail: string]: unknown;
}

export interface Decision {
  id: number;
  bookingUid: string | null;
  inboxEventId: number | null;
  kind: string;
  outcome: string;
  reasons: Reason[];
  detail: Record<string, unknown>;
  decidedAt: Date;
}

const decisionFromRow = rowMapper(
  'decisions',
  z.object({
    id: col.int,
    booking_uid: col.nullableText,
    inbox_event_id: col.nullableInt,
    kind: col.text,
    outcome: col.text,
    reasons: z.array(z.object({ code: z.string() }).loose()),
    detail: col.object,
    decided_at: col.time,
  }),
  (r): Decision => ({
    id: r.id,
    bookingUid: r.booking_uid,
    inboxEventId: r.inbox_event_id,
    kind: r.kind,
    outcome: r.outcome,
    reasons: r.reasons,
    detail: r.detail,
    decidedAt: r.decided_at,
  }),
);

/** Decisions, gathered into one insert per transaction (db.ts Gathering). */
const DECISIONS: Gathering = {
  sql: `insert into decisions (booking_uid, inbox_event_id, kind, outcome, reasons, detail, decided_at)
     select booking_uid, inbox_event_id, kind, outcome, reasons, detail, decided_at
       from rows from (json_to_recordset($1::json) as (booking_uid text, inbox_event_id bigint, kind text, outcome text,
                                                        reasons jsonb, detail jsonb, decided_at timestamptz)) with ordinality
      order by ordinality`,
  tables: ['decisions'],
};

/**
 * The Usher events decisions announce (domain/usher-events.ts), gathered likewise. A job's
 * dead-letter trigger adds Usher events too (migration 0006): a statement naming jobs sends these
 * first, so events keep the order they were made in.
 */
const USHER_EVENTS: Gathering = {
  sql: `insert into usher_events (kind, booking_uid, data, created_at)
     select kind, booking_uid, data, created_at
       from rows from (json_to_recordset($1::json) as (kind text, booking_uid text, data jsonb, created_at timestamptz)) with ordinality
      order by ordinality`,
  tables: ['usher_events', 'jobs'],
};

type NewDecision = {
  bookingUid?: string;
  inboxEventId?: number;
  kind: string;
  outcome: string;
  reasons: Reason[];
  detail?: Record<string, unknown>;
};

function decisionRow(d: NewDecision, now: Date) {
  return {
    booking_uid: d.bookingUid ?? null,
    inbox_event_id: d.inboxEventId ?? null,
    kind: d.kind,
    outcome: d.outcome,
    reasons: d.reasons,
    detail: d.detail ?? {},
    decided_at: now,
  };
}

async function announce(trx: Queryable, d: NewDecision, now: Date): Promise<void> {
  const event = usherEventOf(d);
  if (event) await gather(trx, USHER_EVENTS, { kind: event.kind, booking_uid: event.bookingUid, data: event.data, created_at: now });
}

/**
 * Records a decision and the Usher event it announces, if any. Nothing reads what the inserts
 * return: inside a transaction they go out with the transaction's other decisions and events, one
 * insert each (db.ts gather) — a worker's batch makes a decision or two for every event.
 */
export async function recordDecision(trx: Queryable, d: NewDecision, now: Date): Promise<void> {
  await gather(trx, DECISIONS, decisionRow(d, now));
  await announce(trx, d, now);
}

/**
 * Records a decision with the outbox job it asks for, the job named in its detail (`job`:
 * `job_<id>`, the id the job's insert gives — an unsent job of the same coalescing key replaced
 * keeps its own), in one statement sent without waiting (db.ts write): a gate decision costs no
 * round trip for its call's id.
 */
export async function recordDecisionWithJob(trx: Queryable, d: NewDecision, job: NewJob, now: Date): Promise<void> {
  const row = decisionRow(d, now);
  await write(
    trx,
    `with job as (${JOBS.sql} returning id)
     insert into decisions (booking_uid, inbox_event_id, kind, outcome, reasons, detail, decided_at)
     select $2, $3, $4, $5, $6::jsonb, $7::jsonb || jsonb_build_object('job', 'job_' || job.id), $8 from job`,
    [
      JSON.stringify([jobRow(job, now)]),
      row.booking_uid,
      row.inbox_event_id,
      row.kind,
      row.outcome,
      JSON.stringify(row.reasons),
      JSON.stringify(row.detail),
      now,
    ],
  );
  await announce(trx, d, now);
}

/** Takes up to `limit` undispatched Usher events; the caller's transaction deletes them on commit. */
export async function takeUsherEvents(trx: Queryable, limit: number): Promise<(UsherEvent & { id: number; createdAt: Date })[]> {
  const result = await trx.query(
    `delete from usher_events where id in (select id from usher_events order by id limit $1 for update skip locked) returning *`,
    [limit],
  );
  return result.rows
    .map((r) => ({
      id: Number(r.id),
      kind: r.kind as UsherEvent['kind'],
      bookingUid: (r.booking_uid as string | null) ?? null,
      data: r.data as Record<string, unknown>,
      createdAt: new Date(r.created_at as Date),
    }))
    .sort((a, b) => a.id - b.id);
}

export async function listDecisions(
  db: Queryable,
  filter: { bookingUid?: string; kinds?: readonly string[]; limit: number },
): Promise<Decision[]> {
  const result = await db.query(
    `select * from decisions where ($1::text is null or booking_uid = $1) and ($2::text[] is null or kind = any($2::text[]))
      order by id desc limit $3`,
    [filter.bookingUid ?? null, filter.kinds ?? null, filter.limit],
  );
  return result.rows.map(decisionFromRow);
}

/** Has this booking a decision of this kind and outcome already (to say a thing once, not per copy)? */
export async function hasDecision(db: Queryable, bookingUid: string, kind: string, outcome: string): Promise<boolean> {
  const result = await db.query('select 1 from decisions where booking_uid = $1 and kind = $2 and outcome = $3 limit 1', [
    bookingUid,
    kind,
    outcome,
  ]);
  return result.rows.length > 0;
}
