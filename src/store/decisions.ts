import { usherEventOf, type UsherEvent } from '../domain/usher-events.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { write, type Queryable } from './db.ts';

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

export async function recordDecision(
  trx: Queryable,
  d: { bookingUid?: string; inboxEventId?: number; kind: string; outcome: string; reasons: Reason[]; detail?: Record<string, unknown> },
  now: Date,
): Promise<void> {
  const insertDecision = `insert into decisions (booking_uid, inbox_event_id, kind, outcome, reasons, detail, decided_at)
     values ($1, $2, $3, $4, $5, $6, $7)`;
  const values = [
    d.bookingUid ?? null,
    d.inboxEventId ?? null,
    d.kind,
    d.outcome,
    JSON.stringify(d.reasons),
    JSON.stringify(d.detail ?? {}),
    now,
  ];
  // What the decision announces to automations, in the same statement (domain/usher-events.ts): one
  // round trip where a decision is made for every event.
  // Nothing reads what the insert returns: inside a transaction it is sent without waiting (db.ts write).
  const event = usherEventOf(d);
  if (!event) await write(trx, insertDecision, values);
  else
    await write(
      trx,
      `with decision as (${insertDecision})
       insert into usher_events (kind, booking_uid, data, created_at) values ($8, $9, $10, $7)`,
      [...values, event.kind, event.bookingUid, JSON.stringify(event.data)],
    );
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
