import type { GateOutcome } from '../domain/gate-policy.ts';
import type { Reason } from './decisions.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { write, type Queryable } from './db.ts';

export interface GateRecord {
  bookingUid: string;
  memberEmail: string | null;
  eventTypeId: number | null;
  outcome: GateOutcome;
  reasons: Reason[];
  /** The text sent to Cal.com with a decline. */
  message: string | null;
  /** `policy`, or `operator:<who>` for a person's decision. */
  decidedBy: string;
  decidedAt: Date;
}

const gateFromRow = rowMapper(
  'gate_decisions',
  z.object({
    booking_uid: col.text,
    member_email: col.nullableText,
    event_type_id: col.nullableInt,
    outcome: col.oneOf(['approve', 'decline', 'hold']),
    reasons: z.array(z.object({ code: z.string() }).loose()),
    message: col.nullableText,
    decided_by: col.text,
    decided_at: col.time,
  }),
  (r): GateRecord => ({
    bookingUid: r.booking_uid,
    memberEmail: r.member_email,
    eventTypeId: r.event_type_id,
    outcome: r.outcome,
    reasons: r.reasons,
    message: r.message,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
  }),
);

export async function getGateRecord(db: Queryable, bookingUid: string): Promise<GateRecord | undefined> {
  const result = await db.query('select * from gate_decisions where booking_uid = $1', [bookingUid]);
  return result.rows[0] ? gateFromRow(result.rows[0]) : undefined;
}

/** getGateRecord for many bookings in one statement (a worker's batch); a booking without one is absent. */
export async function getGateRecords(db: Queryable, bookingUids: readonly string[]): Promise<Map<string, GateRecord>> {
  const result = await db.query('select * from gate_decisions where booking_uid = any($1::text[])', [bookingUids]);
  return new Map(result.rows.map((r) => [r.booking_uid as string, gateFromRow(r)]));
}

/** Inside a transaction it goes out without waiting (db.ts write): nothing is read back. */
export async function saveGateRecord(trx: Queryable, g: GateRecord): Promise<void> {
  await write(
    trx,
    `insert into gate_decisions (booking_uid, member_email, event_type_id, outcome, reasons, message, decided_by, decided_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (booking_uid) do update set member_email = excluded.member_email, event_type_id = excluded.event_type_id,
       outcome = excluded.outcome, reasons = excluded.reasons, message = excluded.message,
       decided_by = excluded.decided_by, decided_at = excluded.decided_at`,
    [g.bookingUid, g.memberEmail, g.eventTypeId, g.outcome, JSON.stringify(g.reasons), g.message, g.decidedBy, g.decidedAt],
  );
}

/** Held decisions whose booking is still pending: the ones waiting for a person. */
export async function listHeldBookings(db: Queryable, limit: number): Promise<(GateRecord & { start: Date; title: string | null })[]> {
  const result = await db.query(
    `select g.*, b.start_at, b.title from gate_decisions g join bookings b on b.uid = g.booking_uid
      where g.outcome = 'hold' and b.status = 'pending' order by b.start_at limit $1`,
    [limit],
  );
  return result.rows.map((r) => ({ ...gateFromRow(r), start: new Date(r.start_at as Date), title: (r.title as string | null) ?? null }));
}

/**
 * The member's other live bookings starting in [from, to): accepted ones, and pending ones the gate
 * has approved (their confirmation is on its way). Declined, cancelled and undecided ones do not count.
 */
export async function countMemberBookings(
  trx: Queryable,
  q: { email: string; from: Date; to: Date; eventTypeId?: number; excludeUids: readonly string[] },
): Promise<number> {
  const result = await trx.query<{ n: number }>(
    `select count(*)::int as n from bookings b left join gate_decisions g on g.booking_uid = b.uid
      where lower(b.attendee_email) = $1 and b.start_at >= $2 and b.start_at < $3
        and not (b.uid = any($4::text[]))
        and ($5::bigint is null or b.event_type_id = $5)
        and (b.status = 'accepted' or (b.status = 'pending' and g.outcome = 'approve'))`,
    [q.email, q.from, q.to, q.excludeUids, q.eventTypeId ?? null],
  );
  return Number(result.rows[0]!.n);
}
