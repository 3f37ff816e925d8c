import type { Booking } from '../domain/booking.ts';
import { calJobKinds } from '../jobs/cal-jobs.ts';
import type { Queryable } from '../store/db.ts';
import { supersedePendingJobs, type NewJob } from '../store/jobs.ts';

export const gateJobKinds = [calJobKinds.confirm, calJobKinds.decline] as const;

/**
 * The confirm or decline call for a decision, written in the decision's transaction (STYLE §8)
 * with the decision that names it (decide-request.ts applyDecision). One coalescing key per
 * booking: a person's later decision replaces an unsent one, so Cal.com only ever hears the newest.
 */
export function gateCall(
  booking: Booking,
  call: { outcome: 'approve' } | { outcome: 'decline'; message: string },
  maxAttempts: number,
): NewJob {
  return {
    kind: call.outcome === 'approve' ? calJobKinds.confirm : calJobKinds.decline,
    payload: call.outcome === 'approve' ? { uid: booking.uid } : { uid: booking.uid, reason: call.message },
    bookingUid: booking.uid,
    coalesceKey: `gate:${booking.uid}`,
    priorityAt: booking.start,
    maxAttempts,
  };
}

/** A person decided in Cal.com first: Usher's unsent confirm/decline must not overrule them. */
export function withdrawGateCalls(trx: Queryable, bookingUid: string, now: Date): Promise<number> {
  return supersedePendingJobs(trx, bookingUid, gateJobKinds, now);
}
