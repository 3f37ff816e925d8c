import type { CalEvent } from '../domain/booking-event.ts';
import { settleCancellation } from '../domain/credit-ledger.ts';
import { isPhoneOnlyEmail } from '../domain/gate-policy.ts';
import { fromBatch, storedBooking, type EventContext } from '../jobs/handle-event.ts';
import type { Booking } from '../domain/booking.ts';
import { getHold, holdCredits, lockMemberCredits, settleHold, transferHold, type CreditHold } from '../store/credits.ts';
import { recordDecision, type Reason } from '../store/decisions.ts';
import { getGateRecord } from '../store/gate-decisions.ts';
import { getMember, normaliseEmail } from '../store/members.ts';
import type { GateDeps } from './decide-request.ts';
import { GATE_RECORDS, HOLDS } from './gate-batch.ts';
import { withdrawGateCalls } from './gate-jobs.ts';

type BookingEvent = Extract<CalEvent, { kind: 'booking' }>;

/**
 * What Cal.com's later events mean for a booking's credits. Each step is guarded by the hold's
 * state, so a repeated or late event does nothing twice; Cal.com does not order its deliveries.
 */
export async function followBookingLifecycle(event: BookingEvent, ctx: EventContext, deps: GateDeps): Promise<void> {
  const { trx, now } = ctx;
  const uid = event.booking.uid;
  const log = (kind: string, outcome: string, reasons: Reason[], detail: Record<string, unknown> = {}) =>
    recordDecision(trx, { bookingUid: uid, kind, outcome, reasons, detail }, now);
  const settle = async (hold: CreditHold, action: Parameters<typeof settleHold>[2], reason: string) => {
    if (await settleHold(trx, hold, action, { reason, actor: 'cal' }, now))
      await log('credits', action, [{ code: reason, amount: hold.amount }]);
  };

  // CONTRACT §1.3: the credits follow a reschedule to the new uid (no double charge).
  if (event.rescheduleUid && !(await fromBatch(ctx, HOLDS, uid, () => getHold(trx, uid)))) {
    const moved = await transferHold(trx, event.rescheduleUid, uid, 'cal', now);
    if (moved)
      await log('credits', 'transferred', [{ code: 'credits.transferred.rescheduled', from: event.rescheduleUid, amount: moved.amount }]);
  }
  const booking = await storedBooking(ctx, uid);
  if (!booking) return;
  // Both asked at once: pipelined on the transaction's connection (db.ts).
  const [hold, gate] = await Promise.all([
    fromBatch(ctx, HOLDS, uid, () => getHold(trx, uid)),
    fromBatch(ctx, GATE_RECORDS, uid, () => getGateRecord(trx, uid)),
  ]);

  switch (booking.status) {
    case 'accepted': {
      if (event.trigger !== 'BOOKING_CREATED' && event.trigger !== 'BOOKING_RESCHEDULED') return;
      // Gate calls are only ever written with the gate's record (applyDecision): none without one.
      const withdrawn = gate ? await withdrawGateCalls(trx, uid, now) : 0;
      if (gate && gate.outcome !== 'approve') {
        await log('gate', 'respected', [{ code: 'gate.confirmed_in_cal', usherOutcome: gate.outcome, withdrawnCalls: withdrawn }]);
      }
      if (hold?.state === 'held') return settle(hold, 'capture', 'credits.captured.confirmed');
      // A reschedule moves what the old booking paid; it is never a new charge.
      if (!hold && !event.rescheduleUid) return chargeAfterTheFact(ctx, deps, booking, log);
      return;
    }
    case 'rejected': {
      if (event.trigger !== 'BOOKING_REJECTED') return;
      const withdrawn = await withdrawGateCalls(trx, uid, now);
      if (gate && gate.outcome !== 'decline') {
        await log('gate', 'respected', [{ code: 'gate.declined_in_cal', usherOutcome: gate.outcome, withdrawnCalls: withdrawn }]);
      }
      if (hold) await settle(hold, 'release', 'credits.released.declined');
      return;
    }
    case 'cancelled': {
      if (event.trigger !== 'BOOKING_CANCELLED') return;
      await withdrawGateCalls(trx, uid, now);
      if (!hold) return;
      const organizer = booking.organizerEmail?.toLowerCase();
      const byHost = event.requestReschedule === true || (!!organizer && event.cancelledBy?.toLowerCase() === organizer);
      const settlement = settleCancellation({
        state: hold.state,
        start: booking.start,
        // When the booker cancelled, not when a delayed or retried event got here.
        cancelledAt: event.createdAt && event.createdAt < now ? event.createdAt : now,
        windowHours: deps.settings.cancellationWindowHours,
        byHost,
      });
      if (settlement.action !== 'none') await settle(hold, settlement.action, settlement.reason);
      return;
    }
    case 'pending':
      return;
  }
}

/**
 * A gated booking became accepted without Usher holding credits for it: a person confirmed it in
 * Cal.com before (or instead of) the gate, or the request never reached Usher. The person's decision
 * stands; the member pays if they can, and the booking is flagged when they cannot.
 */
async function chargeAfterTheFact(
  { trx, now }: EventContext,
  deps: GateDeps,
  booking: Booking,
  log: (kind: string, outcome: string, reasons: Reason[]) => Promise<void>,
): Promise<void> {
  const policy = deps.settings.policies[String(booking.eventTypeId)];
  if (!policy || policy.creditCost === 0) return;
  const email = booking.attendeeEmail && !isPhoneOnlyEmail(booking.attendeeEmail) ? normaliseEmail(booking.attendeeEmail) : undefined;
  if (!email || !(await getMember(trx, email))) {
    return log('credits', 'unpaid', [{ code: 'credits.unpaid.unknown_member', needed: policy.creditCost }]);
  }
  await lockMemberCredits(trx, email);
  const hold = await holdCredits(
    trx,
    { email, bookingUid: booking.uid, amount: policy.creditCost, reason: 'credits.charged.confirmed_in_cal', actor: 'cal' },
    now,
  );
  if (!hold) return log('credits', 'unpaid', [{ code: 'credits.unpaid.insufficient', needed: policy.creditCost }]);
  await settleHold(trx, hold, 'capture', { reason: 'credits.captured.confirmed_in_cal', actor: 'cal' }, now);
  await log('credits', 'captured', [{ code: 'credits.captured.confirmed_in_cal', amount: hold.amount }]);
}
