import type { Queryable } from './db.ts';

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

function decisionFromRow(row: Record<string, unknown>): Decision {
  return {
    id: Number(row.id),
    bookingUid: (row.booking_uid as string | null) ?? null,
    inboxEventId: row.inbox_event_id === null ? null : Number(row.inbox_event_id),
    kind: row.kind as string,
    outcome: row.outcome as string,
    reasons: row.reasons as Reason[],
    detail: row.detail as Record<string, unknown>,
    decidedAt: new Date(row.decided_at as Date),
  };
}

export async function recordDecision(
  trx: Queryable,
  d: { bookingUid?: string; inboxEventId?: number; kind: string; outcome: string; reasons: Reason[]; detail?: Record<string, unknown> },
  now: Date,
): Promise<void> {
  await trx.query(
    `insert into decisions (booking_uid, inbox_event_id, kind, outcome, reasons, detail, decided_at)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [d.bookingUid ?? null, d.inboxEventId ?? null, d.kind, d.outcome, JSON.stringify(d.reasons), JSON.stringify(d.detail ?? {}), now],
  );
}

export async function listDecisions(db: Queryable, filter: { bookingUid?: string; kinds?: readonly string[]; limit: number }): Promise<Decision[]> {
  const result = await db.query(
    `select * from decisions where ($1::text is null or booking_uid = $1) and ($2::text[] is null or kind = any($2::text[]))
      order by id desc limit $3`,
    [filter.bookingUid ?? null, filter.kinds ?? null, filter.limit],
  );
  return result.rows.map(decisionFromRow);
}
