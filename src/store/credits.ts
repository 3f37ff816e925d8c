import { allocateCredits, availableCredits, type CreditLot, type HoldState } from '../domain/credit-ledger.ts';
import { UsherError } from '../errors.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { write, type Queryable } from './db.ts';

export interface CreditHold {
  id: number;
  bookingUid: string;
  memberEmail: string;
  amount: number;
  state: HoldState;
}

export interface LedgerEntry {
  id: number;
  kind: string;
  amount: number;
  lotId: number | null;
  bookingUid: string | null;
  reason: string | null;
  actor: string;
  at: Date;
}

export interface CreditBalance {
  /** Credits that can pay for a booking now. */
  available: number;
  /** Set aside for bookings awaiting confirmation. */
  held: number;
  /** Spent on confirmed bookings (captured, not refunded). */
  captured: number;
  /** Kept after late cancellations. */
  forfeited: number;
  /** Left unspent in lots whose expiry has passed. */
  expired: number;
  lots: { id: number; granted: number; remaining: number; expiresAt: Date | null; reason: string | null }[];
}

const holdFromRow = rowMapper(
  'credit_holds',
  z.object({
    id: col.int,
    booking_uid: col.text,
    member_email: col.text,
    amount: col.int,
    state: col.oneOf(['held', 'captured', 'released', 'forfeited', 'refunded']),
  }),
  (r): CreditHold => ({ id: r.id, bookingUid: r.booking_uid, memberEmail: r.member_email, amount: r.amount, state: r.state }),
);

/**
 * Serialises every credit and limit decision for one member across transactions and processes
 * (also for e-mails with no member row yet). Released at commit.
 */
export async function lockMemberCredits(trx: Queryable, email: string): Promise<void> {
  await trx.query(`select pg_advisory_xact_lock(hashtext('usher.member:' || $1))`, [email]);
}

/** The member's lots with credits left; read under `lockMemberCredits`, they stay as read until the transaction writes. */
export async function memberLots(trx: Queryable, email: string): Promise<CreditLot[]> {
  const result = await trx.query(
    'select id, remaining, expires_at, created_at from credit_lots where member_email = $1 and remaining > 0',
    [email],
  );
  return result.rows.map((r) => ({
    id: Number(r.id),
    remaining: Number(r.remaining),
    ...(r.expires_at ? { expiresAt: new Date(r.expires_at as Date) } : {}),
    createdAt: new Date(r.created_at as Date),
  }));
}

export async function spendableCredits(trx: Queryable, email: string, now: Date): Promise<number> {
  return availableCredits(await memberLots(trx, email), now);
}

interface Entry {
  email: string;
  kind: string;
  amount: number;
  lotId?: number;
  holdId?: number;
  bookingUid?: string;
  reason?: string;
  actor: string;
}

/**
 * Inside a transaction the entry goes out without waiting (db.ts write): its trigger draws on or
 * gives back to the lot, and an overdraft the lots' CHECK refuses fails the transaction there.
 */
async function writeEntry(trx: Queryable, e: Entry, now: Date): Promise<void> {
  await write(
    trx,
    `insert into credit_ledger (member_email, kind, amount, lot_id, hold_id, booking_uid, reason, actor, at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [e.email, e.kind, e.amount, e.lotId ?? null, e.holdId ?? null, e.bookingUid ?? null, e.reason ?? null, e.actor, now],
  );
}

export async function grantCredits(
  trx: Queryable,
  g: { email: string; amount: number; expiresAt?: Date; reason?: string; actor: string },
  now: Date,
): Promise<number> {
  const lot = await trx.query<{ id: string }>(
    'insert into credit_lots (member_email, granted, expires_at, reason, created_at) values ($1, $2, $3, $4, $5) returning id',
    [g.email, g.amount, g.expiresAt ?? null, g.reason ?? null, now],
  );
  const lotId = Number(lot.rows[0]!.id);
  await writeEntry(
    trx,
    { email: g.email, kind: 'grant', amount: g.amount, lotId, ...(g.reason ? { reason: g.reason } : {}), actor: g.actor },
    now,
  );
  return lotId;
}

/** Takes credits back (an operator's correction), from the lots that would lapse first. */
export async function revokeCredits(
  trx: Queryable,
  r: { email: string; amount: number; reason?: string; actor: string },
  now: Date,
): Promise<void> {
  const draws = allocateCredits(await memberLots(trx, r.email), r.amount, now);
  if (!draws) throw new UsherError('CONFLICT', `${r.email} has fewer than ${r.amount} spendable credits to take back`);
  for (const d of draws)
    await writeEntry(
      trx,
      { email: r.email, kind: 'revoke', amount: -d.amount, lotId: d.lotId, ...(r.reason ? { reason: r.reason } : {}), actor: r.actor },
      now,
    );
}

export async function getHold(db: Queryable, bookingUid: string): Promise<CreditHold | undefined> {
  const result = await db.query('select * from credit_holds where booking_uid = $1', [bookingUid]);
  return result.rows[0] ? holdFromRow(result.rows[0]) : undefined;
}

/** getHold for many bookings in one statement (a worker's batch); a booking without a hold is absent. */
export async function getHolds(db: Queryable, bookingUids: readonly string[]): Promise<Map<string, CreditHold>> {
  const result = await db.query('select * from credit_holds where booking_uid = any($1::text[])', [bookingUids]);
  return new Map(result.rows.map((r) => [r.booking_uid as string, holdFromRow(r)]));
}

/**
 * A hold and the ledger entries drawing it from its lots, in one statement: the hold's row is
 * the statement's answer. $1 booking, $2 member, $3 amount, $4 time, $5 reason, $6 actor, $7 the
 * draws as JSON ([{lot_id, amount}], in order).
 */
const HOLD_WITH_DRAWS = `with hold as (
    insert into credit_holds (booking_uid, member_email, amount, state, created_at, updated_at)
    values ($1, $2, $3, 'held', $4, $4) returning *
  ), entries as (
    insert into credit_ledger (member_email, kind, amount, lot_id, hold_id, booking_uid, reason, actor, at)
    select $2, 'hold', -d.amount, d.lot_id, hold.id, $1, $5, $6, $4
      from hold, rows from (json_to_recordset($7::json) as (lot_id bigint, amount integer)) with ordinality as d
     order by d.ordinality
  )
  select * from hold`;

export interface NewHold {
  email: string;
  bookingUid: string;
  amount: number;
  reason: string;
  actor: string;
}

function holdParams(h: NewHold, draws: readonly { lotId: number; amount: number }[], now: Date): unknown[] {
  return [
    h.bookingUid,
    h.email,
    h.amount,
    now,
    h.reason,
    h.actor,
    JSON.stringify(draws.map((d) => ({ lot_id: d.lotId, amount: d.amount }))),
  ];
}

/**
 * Sets credits aside for a booking. The caller holds `lockMemberCredits`; the lots' CHECK still
 * refuses an overdraft if it did not. Returns nothing when the member cannot cover the amount.
 * `lots`: the member's lots as the caller read them under that lock in this transaction (memberLots).
 */
export async function holdCredits(
  trx: Queryable,
  h: NewHold & { lots?: readonly CreditLot[] },
  now: Date,
): Promise<CreditHold | undefined> {
  const draws = allocateCredits(h.lots ?? (await memberLots(trx, h.email)), h.amount, now);
  if (!draws) return undefined;
  const inserted = await trx.query(HOLD_WITH_DRAWS, holdParams(h, draws, now));
  return holdFromRow(inserted.rows[0]!);
}

/**
 * holdCredits for a caller that needs only whether the lots read (`lots`, under the member's lock
 * in this transaction) cover it: the hold is sent without waiting (db.ts write) — a refusal by the
 * store fails the transaction at its next statement or its commit. False, sending nothing, when
 * the lots cannot cover the amount.
 */
export async function sendHold(trx: Queryable, h: NewHold & { lots: readonly CreditLot[] }, now: Date): Promise<boolean> {
  const draws = allocateCredits(h.lots, h.amount, now);
  if (!draws) return false;
  await write(trx, HOLD_WITH_DRAWS, holdParams(h, draws, now));
  return true;
}

const transitions = {
  capture: { from: ['held'], to: 'captured' },
  release: { from: ['held', 'captured'], to: 'released' },
  refund: { from: ['captured'], to: 'refunded' },
  forfeit: { from: ['captured'], to: 'forfeited' },
} as const satisfies Record<string, { from: readonly HoldState[]; to: HoldState }>;

/**
 * Moves a hold on. Release and refund give each lot back what it gave; capture and forfeit move no
 * credit. The state guard makes a repeated or late event a no-op (returns false).
 */
export async function settleHold(
  trx: Queryable,
  hold: CreditHold,
  action: keyof typeof transitions,
  meta: { reason: string; actor: string },
  now: Date,
): Promise<boolean> {
  const t = transitions[action];
  const updated = await trx.query(
    `update credit_holds set state = $2, updated_at = $3 where id = $1 and state = any($4::text[]) returning id`,
    [hold.id, t.to, now, t.from],
  );
  if (updated.rowCount === 0) return false;
  const base = {
    email: hold.memberEmail,
    kind: action,
    holdId: hold.id,
    bookingUid: hold.bookingUid,
    reason: meta.reason,
    actor: meta.actor,
  };
  if (action === 'release' || action === 'refund') {
    const drawn = await trx.query<{ lot_id: string; amount: number }>(
      `select lot_id, amount from credit_ledger where hold_id = $1 and kind = 'hold' order by id`,
      [hold.id],
    );
    for (const d of drawn.rows) await writeEntry(trx, { ...base, amount: -Number(d.amount), lotId: Number(d.lot_id) }, now);
  } else {
    await writeEntry(trx, { ...base, amount: 0 }, now);
  }
  return true;
}

/**
 * CONTRACT §1.3: a reschedule is a new booking; the credits follow it to the new uid, so the
 * member is never charged twice. Returns the moved hold, or nothing when there was none to move.
 */
export async function transferHold(
  trx: Queryable,
  fromUid: string,
  toUid: string,
  actor: string,
  now: Date,
): Promise<CreditHold | undefined> {
  const moved = await trx.query(
    `update credit_holds set booking_uid = $2, updated_at = $3
      where booking_uid = $1 and state in ('held', 'captured')
        and not exists (select 1 from credit_holds where booking_uid = $2)
      returning *`,
    [fromUid, toUid, now],
  );
  const row = moved.rows[0];
  if (!row) return undefined;
  const hold = holdFromRow(row);
  await writeEntry(
    trx,
    {
      email: hold.memberEmail,
      kind: 'transfer',
      amount: 0,
      holdId: hold.id,
      bookingUid: toUid,
      reason: `rescheduled from ${fromUid}`,
      actor,
    },
    now,
  );
  return hold;
}

export async function creditBalance(db: Queryable, email: string, now: Date): Promise<CreditBalance> {
  const [lotRows, holdRows] = await Promise.all([
    db.query('select id, granted, remaining, expires_at, reason from credit_lots where member_email = $1 order by id', [email]),
    db.query(`select state, coalesce(sum(amount), 0)::int as total from credit_holds where member_email = $1 group by state`, [email]),
  ]);
  const lotList = lotRows.rows.map((r) => ({
    id: Number(r.id),
    granted: Number(r.granted),
    remaining: Number(r.remaining),
    expiresAt: r.expires_at ? new Date(r.expires_at as Date) : null,
    reason: (r.reason as string | null) ?? null,
  }));
  const byState = new Map(holdRows.rows.map((r) => [r.state as string, Number(r.total)]));
  const isExpired = (l: { expiresAt: Date | null }) => l.expiresAt !== null && l.expiresAt <= now;
  return {
    available: lotList.filter((l) => !isExpired(l)).reduce((s, l) => s + l.remaining, 0),
    held: byState.get('held') ?? 0,
    captured: byState.get('captured') ?? 0,
    forfeited: byState.get('forfeited') ?? 0,
    expired: lotList.filter(isExpired).reduce((s, l) => s + l.remaining, 0),
    lots: lotList,
  };
}

export async function ledgerHistory(db: Queryable, email: string, limit: number): Promise<LedgerEntry[]> {
  const result = await db.query('select * from credit_ledger where member_email = $1 order by id desc limit $2', [email, limit]);
  return result.rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind as string,
    amount: Number(r.amount),
    lotId: r.lot_id === null ? null : Number(r.lot_id),
    bookingUid: (r.booking_uid as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    actor: r.actor as string,
    at: new Date(r.at as Date),
  }));
}
