import { UsherError } from '../errors.ts';
import { lockBooking } from '../store/bookings.ts';
import {
  creditBalance,
  getHold,
  grantCredits,
  ledgerHistory,
  lockMemberCredits,
  revokeCredits,
  spendableCredits,
  type CreditBalance,
  type LedgerEntry,
} from '../store/credits.ts';
import type { Db } from '../store/db.ts';
import type { Reason } from '../store/decisions.ts';
import { getGateRecord, listHeldBookings } from '../store/gate-decisions.ts';
import { getMember, normaliseEmail, upsertMember, type Member } from '../store/members.ts';
import { applyDecision, type GateDeps } from './decide-request.ts';
import type { MemberRow } from './members-csv.ts';

/**
 * What operators do to members, credits and held bookings: one implementation behind the CLI,
 * the admin API and the board, so every path writes the same ledger rows and outbox jobs.
 */

export interface ImportResult {
  created: number;
  updated: number;
  /** Credits granted (positive) or taken back (negative) to reach each row's balance. */
  credited: number;
}

/**
 * The CSV's `credits` is the balance each member should have: the import grants (or takes back)
 * the difference, so importing the same file twice changes nothing. All rows or none.
 */
export async function importMembers(db: Db, rows: readonly MemberRow[], actor: string, now: Date): Promise<ImportResult> {
  return db.transaction(async (trx) => {
    const result: ImportResult = { created: 0, updated: 0, credited: 0 };
    for (const row of rows) {
      const { created } = await upsertMember(
        trx,
        {
          email: row.email,
          ...(row.name ? { name: row.name } : {}),
          ...(row.active !== undefined ? { active: row.active } : {}),
          ...(row.membershipUntil ? { membershipUntil: row.membershipUntil } : {}),
        },
        now,
      );
      if (created) result.created++;
      else result.updated++;
      await lockMemberCredits(trx, row.email);
      const difference = row.credits - (await spendableCredits(trx, row.email, now));
      const reason = `import line ${row.line}`;
      if (difference > 0) {
        await grantCredits(
          trx,
          { email: row.email, amount: difference, ...(row.creditsExpireAt ? { expiresAt: row.creditsExpireAt } : {}), reason, actor },
          now,
        );
      } else if (difference < 0) {
        await revokeCredits(trx, { email: row.email, amount: -difference, reason, actor }, now);
      }
      result.credited += difference;
    }
    return result;
  });
}

async function requireMember(db: Db | Parameters<Parameters<Db['transaction']>[0]>[0], email: string): Promise<Member> {
  const member = await getMember(db, email);
  if (!member) throw new UsherError('NOT_FOUND', `no member ${normaliseEmail(email)}: import or add the member first`);
  return member;
}

/** Grants credits (a negative amount takes spendable credits back, soonest-expiring first). */
export async function adjustCredits(
  db: Db,
  a: { email: string; amount: number; reason?: string; expiresAt?: Date; actor: string },
  now: Date,
): Promise<CreditBalance> {
  if (!Number.isInteger(a.amount) || a.amount === 0) throw new UsherError('BAD_REQUEST', 'amount must be a whole number other than 0');
  const email = normaliseEmail(a.email);
  await db.transaction(async (trx) => {
    await requireMember(trx, email);
    await lockMemberCredits(trx, email);
    const base = { email, ...(a.reason ? { reason: a.reason } : {}), actor: a.actor };
    if (a.amount > 0) await grantCredits(trx, { ...base, amount: a.amount, ...(a.expiresAt ? { expiresAt: a.expiresAt } : {}) }, now);
    else await revokeCredits(trx, { ...base, amount: -a.amount }, now);
  });
  return creditBalance(db, email, now);
}

export async function memberAccount(
  db: Db,
  email: string,
  now: Date,
  historyLimit = 50,
): Promise<{ member: Member; balance: CreditBalance; history: LedgerEntry[] }> {
  const member = await requireMember(db, email);
  const [balance, history] = await Promise.all([creditBalance(db, member.email, now), ledgerHistory(db, member.email, historyLimit)]);
  return { member, balance, history };
}

export function heldBookings(db: Db, limit = 100) {
  return listHeldBookings(db, limit);
}

export interface OperatorDecision {
  uid: string;
  outcome: 'approve' | 'decline';
  actor: string;
  /** Decline: the text the booker sees. */
  message?: string;
  /** Approve: take the event type's credit cost (default); false approves without charging. */
  charge?: boolean;
  note?: string;
}

/**
 * A person decides a pending booking (usually one the gate held). Goes through the same credit
 * and outbox code as the policy; an unsent earlier call is replaced (same coalescing key).
 */
export async function decideByOperator(
  db: Db,
  deps: GateDeps,
  d: OperatorDecision,
  now: Date,
): Promise<{ outcome: string; creditsHeld: number }> {
  return db.transaction(async (trx) => {
    const booking = await lockBooking(trx, d.uid);
    if (!booking) throw new UsherError('NOT_FOUND', `Usher knows no booking ${d.uid}`);
    if (booking.status !== 'pending')
      throw new UsherError('CONFLICT', `booking ${d.uid} is ${booking.status} already; only pending bookings can be decided`);
    const previous = await getGateRecord(trx, d.uid);
    const email = booking.attendeeEmail ? normaliseEmail(booking.attendeeEmail) : undefined;
    if (email) await lockMemberCredits(trx, email);
    const carried = await getHold(trx, d.uid);
    const live = carried && (carried.state === 'held' || carried.state === 'captured') ? carried : undefined;
    const cost = deps.settings.policies[String(booking.eventTypeId)]?.creditCost ?? 0;
    let creditsToHold = 0;
    if (d.outcome === 'approve' && (d.charge ?? true) && cost > 0 && !live) {
      const available = email && (await getMember(trx, email)) ? await spendableCredits(trx, email, now) : 0;
      if (available < cost) {
        throw new UsherError(
          'CONFLICT',
          `${email ?? 'the booker'} has ${available} of ${cost} credits: grant credits first, or approve without charging`,
        );
      }
      creditsToHold = cost;
    }
    if (d.outcome === 'approve' && deps.holdRoom && !(await deps.holdRoom(trx, booking, now))) {
      throw new UsherError('CONFLICT', `no room is free for booking ${d.uid} (gate.requireRoom): free or unblock one first`);
    }
    const reasons: Reason[] = [
      {
        code: d.outcome === 'approve' ? 'operator.approved' : 'operator.declined',
        by: d.actor,
        ...(d.note ? { note: d.note } : {}),
        charged: creditsToHold,
      },
      ...(previous ? [{ code: 'operator.overrode', previousOutcome: previous.outcome, previousBy: previous.decidedBy }] : []),
    ];
    const message = d.outcome === 'decline' ? (d.message?.trim() || 'Declined by the organiser').slice(0, 500) : undefined;
    await applyDecision(trx, {
      booking,
      email,
      decision: { outcome: d.outcome, reasons, creditsToHold, ...(message ? { message } : {}) },
      decidedBy: `operator:${d.actor}`,
      carried: live,
      deps,
      now,
      record: { detail: { by: d.actor } },
    });
    return { outcome: d.outcome, creditsHeld: creditsToHold };
  });
}
