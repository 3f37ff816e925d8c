import type { CalEvent } from '../domain/booking-event.ts';
import { declineMessage } from '../domain/decline-message.ts';
import { availableCredits, type CreditLot } from '../domain/credit-ledger.ts';
import { evaluateGate, isPhoneOnlyEmail, limitWindows, type GateOutcome, type GateReason } from '../domain/gate-policy.ts';
import { UsherError } from '../errors.ts';
import type { Booking } from '../domain/booking.ts';
import { fromBatch, storedBooking, type EventContext } from '../jobs/handle-event.ts';
import { allSent, type Queryable } from '../store/db.ts';
import {
  getHold,
  holdCredits,
  type CreditHold,
  lockMemberCredits,
  memberLots,
  sendHold,
  settleHold,
  transferHold,
} from '../store/credits.ts';
import { recordDecision, recordDecisionWithJob, type Reason } from '../store/decisions.ts';
import { countMemberBookings, getGateRecord, saveGateRecord } from '../store/gate-decisions.ts';
import { getMember, normaliseEmail } from '../store/members.ts';
import type { GateSettings } from './gate-config.ts';
import { GATE_RECORDS, HOLDS } from './gate-batch.ts';
import { gateCall } from './gate-jobs.ts';
import type { NewJob } from '../store/jobs.ts';

export interface GateDeps {
  settings: GateSettings;
  timeZone: string;
  maxAttempts: number;
  /** With gate.requireRoom: holds a room for the booking in `trx`; false when none is free. */
  holdRoom?: (trx: Queryable, booking: Booking, now: Date) => Promise<boolean>;
}

type RequestedEvent = Extract<CalEvent, { kind: 'booking' }>;

/**
 * BOOKING_REQUESTED (CONTRACT §1.2: what a requires-confirmation event type sends instead of
 * BOOKING_CREATED, also for a reschedule by the booker): decide, take the credits and write the
 * confirm or decline call, all in the event's transaction. Anything that throws here rolls the
 * whole event back to be retried: an internal failure leaves the booking pending, never declined
 * (invariant 6).
 */
export async function decideRequest(event: RequestedEvent, ctx: EventContext, deps: GateDeps): Promise<void> {
  const { trx, inboxEvent, now } = ctx;
  const uid = event.booking.uid;
  const log = (outcome: string, reasons: Reason[], detail: Record<string, unknown> = {}) =>
    recordDecision(trx, { bookingUid: uid, inboxEventId: inboxEvent.id, kind: 'gate', outcome, reasons, detail }, now);

  const booking = await storedBooking(ctx, uid);
  if (!booking) throw new UsherError('NOT_FOUND', `booking ${uid} was not recorded before the gate ran`);
  if (booking.status !== 'pending') return log('skip', [{ code: 'booking.not_pending', status: booking.status }]);
  const policy = deps.settings.policies[String(booking.eventTypeId)];
  if (!policy) return log('not_gated', [{ code: 'gate.event_type_not_configured', eventTypeId: booking.eventTypeId ?? null }]);
  // Decided once per booking: a duplicate, replayed or reconciled request changes nothing.
  if (await fromBatch(ctx, GATE_RECORDS, uid, () => getGateRecord(trx, uid))) return;

  const email = booking.attendeeEmail && !isPhoneOnlyEmail(booking.attendeeEmail) ? normaliseEmail(booking.attendeeEmail) : undefined;
  const scope = policy.limitScope === 'eventType' && booking.eventTypeId !== undefined ? { eventTypeId: booking.eventTypeId } : {};
  const excludeUids = [uid, ...(event.rescheduleUid ? [event.rescheduleUid] : [])];
  const windows = email ? limitWindows(policy, booking.start, deps.timeZone) : [];
  // One round trip: the member's lock, then everything read under it, asked at once — pipelined on
  // the transaction's connection in this order (db.ts), so each read runs once the lock is held and
  // sees what the batch's earlier events of this member wrote (a hold, an approval). If one fails,
  // those behind it fail as the transaction is aborted: allSent throws the first one's error.
  const [, member, held, counts, lots] = await allSent([
    email ? lockMemberCredits(trx, email) : undefined,
    email ? getMember(trx, email) : undefined,
    fromBatch(ctx, HOLDS, uid, () => getHold(trx, uid)),
    email ? Promise.all(windows.map((w) => countMemberBookings(trx, { email, from: w.from, to: w.to, ...scope, excludeUids }))) : [],
    email ? memberLots(trx, email) : [],
  ]);

  let carried = held;
  if (!carried && event.rescheduleUid) {
    carried = await transferHold(trx, event.rescheduleUid, uid, 'cal', now);
    if (carried)
      await recordDecision(
        trx,
        {
          bookingUid: uid,
          kind: 'credits',
          outcome: 'transferred',
          reasons: [{ code: 'credits.transferred.rescheduled', from: event.rescheduleUid, amount: carried.amount }],
        },
        now,
      );
  }
  // A booking already paid for (a reschedule carries its credits) is never charged again, even if
  // the price changed in the config since.
  const alreadyHeld =
    carried && (carried.state === 'held' || carried.state === 'captured') ? Math.max(carried.amount, policy.creditCost) : 0;

  const bookingsInPeriod: Record<string, number> = Object.fromEntries(windows.map((w, i) => [w.period, counts[i]!]));

  const decision = evaluateGate({
    booking: { start: booking.start, end: booking.end, email },
    member,
    policy,
    unknownMember: deps.settings.unknownMember,
    credits: { available: member ? availableCredits(lots, now) : 0, alreadyHeld },
    bookingsInPeriod,
    // Notice and booking window are judged at the moment the booker asked, not when a retry ran.
    now: event.createdAt && event.createdAt < now ? event.createdAt : now,
    timeZone: deps.timeZone,
  });
  if (decision.outcome === 'approve' && deps.holdRoom && !(await deps.holdRoom(trx, booking, now))) {
    decision.reasons.push({ code: 'room.unavailable', ok: false, failure: 'decline' });
    decision.outcome = 'decline';
    decision.creditsToHold = 0;
  }
  await applyDecision(trx, {
    booking,
    email,
    decision,
    decidedBy: 'policy',
    carried,
    lots,
    deps,
    now,
    record: { inboxEventId: inboxEvent.id },
  });
}

export interface DecisionToApply {
  booking: Booking;
  email: string | undefined;
  decision: { outcome: GateOutcome; reasons: Reason[]; creditsToHold: number; message?: string };
  /** `policy`, or `operator:<who>`. */
  decidedBy: string;
  /** Credits already held for this booking (carried over by a reschedule, or an earlier decision). */
  carried: CreditHold | undefined;
  /** The member's lots, read under their lock in this transaction; read again when absent. */
  lots?: readonly CreditLot[];
  deps: GateDeps;
  now: Date;
  /** What the decision's log row carries besides the decision: the event it answers, more detail. */
  record: { inboxEventId?: number; detail?: Record<string, unknown> };
}

/**
 * Makes a decision real: credits, the Cal.com call, the current gate record and the log, in `trx`.
 * With the member's lots read under their lock (`lots`), nothing here waits for the store: the
 * hold, the record and the call's job with the decision naming it are sent without waiting (db.ts
 * write), and a refusal fails the transaction at its next statement or its commit.
 */
export async function applyDecision(trx: Queryable, a: DecisionToApply): Promise<void> {
  const { booking, email, decision, now } = a;
  let message: string | null = null;
  let call: NewJob | undefined;
  let creditsHeld = 0;
  switch (decision.outcome) {
    case 'approve': {
      if (decision.creditsToHold > 0 && email) {
        const hold = { email, bookingUid: booking.uid, amount: decision.creditsToHold, reason: 'gate.approved', actor: a.decidedBy };
        const held = a.lots ? await sendHold(trx, { ...hold, lots: a.lots }, now) : (await holdCredits(trx, hold, now)) !== undefined;
        // Under the member lock the balance cannot have moved since it was read.
        if (!held) throw new UsherError('CONFLICT', `credits for ${booking.uid} changed while deciding`);
        creditsHeld = decision.creditsToHold;
      }
      call = gateCall(booking, { outcome: 'approve' }, a.deps.maxAttempts);
      break;
    }
    case 'decline': {
      message = decision.message ?? declineMessage(decision.reasons as GateReason[], a.deps.settings.messages);
      if (a.carried) await settleHold(trx, a.carried, 'release', { reason: 'gate.declined', actor: a.decidedBy }, now);
      call = gateCall(booking, { outcome: 'decline', message }, a.deps.maxAttempts);
      break;
    }
    case 'hold':
      break;
  }
  await saveGateRecord(trx, {
    bookingUid: booking.uid,
    memberEmail: email ?? null,
    eventTypeId: booking.eventTypeId ?? null,
    outcome: decision.outcome,
    reasons: decision.reasons,
    message,
    decidedBy: a.decidedBy,
    decidedAt: now,
  });
  const logged = {
    bookingUid: booking.uid,
    ...(a.record.inboxEventId !== undefined ? { inboxEventId: a.record.inboxEventId } : {}),
    kind: 'gate',
    outcome: decision.outcome,
    reasons: decision.reasons,
    detail: { ...(message ? { message } : {}), ...(creditsHeld ? { creditsHeld } : {}), ...a.record.detail },
  };
  if (call) await recordDecisionWithJob(trx, logged, call, now);
  else await recordDecision(trx, logged, now);
}
