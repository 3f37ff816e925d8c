import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import type { Queryable } from './db.ts';

/** A custom checkout's key (bookings/checkout.ts): who holds it, and the answer once there is one. */
export interface BookingRequest {
  requestHash: string;
  state: 'in_progress' | 'done';
  status: number | null;
  response: unknown;
  updatedAt: Date;
}

const requestFromRow = rowMapper(
  'booking_requests',
  z.object({
    request_hash: col.text,
    state: col.oneOf(['in_progress', 'done']),
    status: col.nullableInt,
    response: col.json,
    updated_at: col.time,
  }),
  (r): BookingRequest => ({ requestHash: r.request_hash, state: r.state, status: r.status, response: r.response, updatedAt: r.updated_at }),
);

/** Keys older than `before` go: their answers hold personal data. */
export async function forgetBookingRequests(db: Queryable, before: Date): Promise<void> {
  await db.query('delete from booking_requests where created_at < $1', [before]);
}

/** Claims a key for this request; false when someone holds it already. */
export async function claimBookingRequest(db: Queryable, key: string, requestHash: string, now: Date): Promise<boolean> {
  const claimed = await db.query(
    `insert into booking_requests (idempotency_key, request_hash, state, created_at, updated_at) values ($1, $2, 'in_progress', $3, $3)
     on conflict (idempotency_key) do nothing returning idempotency_key`,
    [key, requestHash, now],
  );
  return claimed.rows.length > 0;
}

export async function getBookingRequest(db: Queryable, key: string): Promise<BookingRequest | undefined> {
  const row = (await db.query('select * from booking_requests where idempotency_key = $1', [key])).rows[0];
  return row ? requestFromRow(row) : undefined;
}

/** Takes over a stale in-progress key: only one retry can, the update being conditional on the time it saw. */
export async function takeOverBookingRequest(db: Queryable, key: string, seenUpdatedAt: Date, now: Date): Promise<boolean> {
  const taken = await db.query(
    `update booking_requests set updated_at = $2 where idempotency_key = $1 and state = 'in_progress' and updated_at = $3 returning 1`,
    [key, now, seenUpdatedAt],
  );
  return taken.rows.length > 0;
}

export async function finishBookingRequest(db: Queryable, key: string, status: number, response: unknown, now: Date): Promise<void> {
  await db.query(`update booking_requests set state = 'done', status = $2, response = $3, updated_at = $4 where idempotency_key = $1`, [
    key,
    status,
    JSON.stringify(response),
    now,
  ]);
}

/** Nothing reached Cal.com: the key is free again for a clean retry. */
export async function releaseBookingRequest(db: Queryable, key: string): Promise<void> {
  await db.query(`delete from booking_requests where idempotency_key = $1 and state = 'in_progress'`, [key]);
}
