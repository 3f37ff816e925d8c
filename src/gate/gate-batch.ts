import type { CreditLot } from '../domain/credit-ledger.ts';
import { isPhoneOnlyEmail, limitWindows, type GatePolicy } from '../domain/gate-policy.ts';
import type { Period } from '../domain/calendar-period.ts';
import { batchRead, BatchRunsIsolated, type BatchEvent, type BatchHooks } from '../jobs/handle-event.ts';
import { bookingAttendees } from '../store/bookings.ts';
import { getHolds, lockMembersCredits, membersLots, type CreditHold } from '../store/credits.ts';
import { allSent, type Queryable } from '../store/db.ts';
import { countMembersBookings, getGateRecords, type GateRecord, type MemberBookingsCount } from '../store/gate-decisions.ts';
import { getMembers, normaliseEmail, type Member } from '../store/members.ts';
import type { GateSettings } from './gate-config.ts';

/** The events followBookingLifecycle handles (gate-handler.ts sends them there). */
export const LIFECYCLE_TRIGGERS: ReadonlySet<string> = new Set([
  'BOOKING_CREATED',
  'BOOKING_RESCHEDULED',
  'BOOKING_REJECTED',
  'BOOKING_CANCELLED',
]);

/** A booking's credit hold and gate record, read for the whole batch (each handed to its event once). */
export const HOLDS = batchRead<CreditHold | undefined>('credit_holds');
export const GATE_RECORDS = batchRead<GateRecord | undefined>('gate_decisions');

/** What a request's decision reads under its member's lock (decide-request.ts), read for the batch. */
export interface MemberReads {
  email: string;
  member: Member | undefined;
  lots: CreditLot[];
  /** The counts asked (limitCounts), and their answers in the same order. */
  asked: readonly MemberBookingsCount[];
  counts: readonly number[];
}
export const MEMBER_READS = batchRead<MemberReads>('gate_member_reads');

/** The member's e-mail a booking's decision judges (normalised), or none: no e-mail, or a phone-only one. */
export function memberEmail(attendeeEmail: string | undefined): string | undefined {
  return attendeeEmail && !isPhoneOnlyEmail(attendeeEmail) ? normaliseEmail(attendeeEmail) : undefined;
}

/**
 * The counts a request's limits ask for: the member's bookings in each limited period around its
 * start, of its event type when the policy limits by type, itself and the booking it replaces left out.
 */
export function limitCounts(
  policy: GatePolicy,
  booking: { uid: string; start: Date; eventTypeId?: number | undefined },
  email: string,
  rescheduleUid: string | undefined,
  timeZone: string,
): { period: Period; count: MemberBookingsCount }[] {
  const scope = policy.limitScope === 'eventType' && booking.eventTypeId !== undefined ? { eventTypeId: booking.eventTypeId } : {};
  const excludeUids = [booking.uid, ...(rescheduleUid ? [rescheduleUid] : [])];
  return limitWindows(policy, booking.start, timeZone).map((w) => ({
    period: w.period,
    count: { email, from: w.from, to: w.to, ...scope, excludeUids },
  }));
}

/** Whether two lists of counts ask the same (a batch's read stands for the request's own only then). */
export function sameCounts(a: readonly MemberBookingsCount[], b: readonly MemberBookingsCount[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i]!;
      return (
        x.email === y.email &&
        x.from.getTime() === y.from.getTime() &&
        x.to.getTime() === y.to.getTime() &&
        x.eventTypeId === y.eventTypeId &&
        x.excludeUids.join('\n') === y.excludeUids.join('\n')
      );
    })
  );
}

interface FirstRequest {
  uid: string;
  email: string;
  asked: MemberBookingsCount[];
  /** The bookings of the batch's events before it. */
  earlier: string[];
}

/**
 * The batch's requests whose member no event before them touches: the batch's leading run of
 * BOOKING_REQUESTED (no reschedule: a transfer moves a hold), each the first of its member's. Only
 * their own bookings and their own members' credits are written before such a request's decision,
 * unless a booking before it was stored with this member's e-mail (checked when read).
 */
function firstRequests(events: readonly BatchEvent[], deps: { settings: GateSettings; timeZone: string }, once: (uid: string) => boolean) {
  const firsts: FirstRequest[] = [];
  const seen = new Set<string>();
  const earlier: string[] = [];
  for (const { parsed } of events) {
    if (parsed.outcome !== 'event' || parsed.event.kind !== 'booking') break;
    const event = parsed.event;
    if (event.trigger !== 'BOOKING_REQUESTED' || event.rescheduleUid) break;
    const b = event.booking;
    const email = memberEmail(b.attendee?.email);
    const policy = deps.settings.policies[String(b.eventTypeId)];
    if (email && policy && once(b.uid) && !seen.has(email))
      firsts.push({
        uid: b.uid,
        email,
        asked: limitCounts(policy, b, email, undefined, deps.timeZone).map((c) => c.count),
        earlier: [...earlier],
      });
    if (email) seen.add(email);
    earlier.push(b.uid);
  }
  return { firsts, earlier };
}

/**
 * The gate's part of a worker's batch: the hold and gate record of each booking a request or a
 * lifecycle event names, read for all at once instead of a round trip each per event. Read behind
 * the batch's booking locks (bookingBatchHooks, sent first on the same connection), so no other
 * transaction changes them meanwhile; BatchReads hands them only for a booking one event names.
 *
 * And for the requests no event before them in the batch touches the member of (firstRequests), the
 * members' locks, taken for all in one statement in one order (two batches never wait for each other
 * in a circle), then everything their decisions read under them — the member, the lots, the limits'
 * counts — in the same round trip: a burst of requests from different members costs one round trip
 * for all their reads instead of one each. A request takes them only if it would ask the same
 * (decide-request.ts); any other asks the store itself, as before. Not when the batch runs again
 * isolated: then a read that fails fails only its own event.
 */
export function gateBatchHooks(deps: { settings: GateSettings; timeZone: string }): BatchHooks {
  return {
    async prepare(trx, events, reads, mode) {
      const uids = events.flatMap(({ parsed }) =>
        parsed.outcome === 'event' &&
        parsed.event.kind === 'booking' &&
        (parsed.event.trigger === 'BOOKING_REQUESTED' || LIFECYCLE_TRIGGERS.has(parsed.event.trigger)) &&
        reads.has(parsed.event.booking.uid)
          ? [parsed.event.booking.uid]
          : [],
      );
      if (uids.length === 0) return;
      // Isolated (the batch failed whole), each request reads its member itself: a read that fails is its own event's failure.
      const { firsts, earlier } = mode.isolated ? { firsts: [], earlier: [] } : firstRequests(events, deps, (uid) => reads.has(uid));
      const emails = [...new Set(firsts.map((f) => f.email))];
      const [holds, gates, kept] = await allSent([
        getHolds(trx, uids),
        getGateRecords(trx, uids),
        emails.length > 0 ? readMembers(trx, emails, firsts, earlier) : undefined,
      ]);
      reads.keep(HOLDS, new Map(uids.map((uid) => [uid, holds.get(uid)])));
      reads.keep(GATE_RECORDS, new Map(uids.map((uid) => [uid, gates.get(uid)])));
      if (kept) reads.keep(MEMBER_READS, kept);
    },
  };
}

/**
 * The members' locks and reads for the batch's first requests (gateBatchHooks). When the store
 * refuses one (not a statement before them: then the transaction was lost already), the batch runs
 * again isolated, where each request reads for itself: the failure is each event's own — counted,
 * retried and dead-lettered as the event's — not the batch's. (A savepoint around these reads
 * instead took the gated backlog from ~660 to ~470 decisions/s: bench:gate.)
 */
async function readMembers(
  trx: Queryable,
  emails: readonly string[],
  firsts: readonly FirstRequest[],
  earlier: readonly string[],
): Promise<Map<string, MemberReads>> {
  const read = await allSent([
    lockMembersCredits(trx, emails),
    getMembers(trx, emails),
    membersLots(trx, emails),
    countMembersBookings(
      trx,
      firsts.flatMap((f) => f.asked),
    ),
    earlier.length > 0 ? bookingAttendees(trx, earlier) : undefined,
  ] as const).catch((error: unknown) => {
    throw (error as { code?: unknown }).code === '25P02' ? error : new BatchRunsIsolated(error);
  });
  const [, members, lots, counts, stored] = read;
  const kept = new Map<string, MemberReads>();
  let at = 0;
  for (const f of firsts) {
    const answers = counts.slice(at, at + f.asked.length);
    at += f.asked.length;
    // A booking before it in the batch stored as this member's: its event's write may change the member's counts.
    if (f.earlier.some((uid) => stored?.get(uid) === f.email)) continue;
    kept.set(f.uid, { email: f.email, member: members.get(f.email), lots: lots.get(f.email) ?? [], asked: f.asked, counts: answers });
  }
  return kept;
}
