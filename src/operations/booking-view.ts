import { getBooking } from '../store/bookings.ts';
import { getHold } from '../store/credits.ts';
import type { Db } from '../store/db.ts';
import { listDecisions } from '../store/decisions.ts';
import { getGateRecord } from '../store/gate-decisions.ts';
import { listInboxEvents } from '../store/inbox.ts';
import { listJobs } from '../store/jobs.ts';
import { getAssignment } from '../store/rooms.ts';
import { presentEvent, presentJob } from './present-work.ts';

export interface Attention {
  code: string;
  message: string;
  ref?: string;
}

/**
 * Usher's whole view of one booking for operators: Cal.com's status as Usher knows it, the gate's
 * decision with its reasons, the credits, every outbox call and event, and what needs a person.
 */
export async function bookingView(db: Db, uid: string, gatedEventTypes: ReadonlySet<string>) {
  const booking = await getBooking(db, uid);
  if (!booking) return undefined;
  const [assignment, gate, hold, decisions, jobs, events] = await Promise.all([
    getAssignment(db, uid),
    getGateRecord(db, uid),
    getHold(db, uid),
    listDecisions(db, { bookingUid: uid, limit: 100 }),
    listJobs(db, { bookingUid: uid, limit: 100 }),
    listInboxEvents(db, { bookingUid: uid, limit: 100 }),
  ]);
  const attention: Attention[] = [];
  const gated = gatedEventTypes.has(String(booking.eventTypeId));
  if (booking.status === 'pending' && gate?.outcome === 'hold') {
    attention.push({ code: 'gate.held', message: 'held by the gate for a person to approve or decline' });
  }
  if (booking.status === 'pending' && gated && !gate) {
    const failing = events.find((e) => e.state === 'dead' || (e.state === 'pending' && e.lastError));
    if (failing) {
      attention.push({
        code: 'gate.undecided',
        message: `not decided yet: processing ${failing.state === 'dead' ? 'gave up' : 'is retrying'} after an internal error (${failing.lastError ?? 'unknown'}); the booking stays pending and is never declined for this`,
        ref: `evt_${failing.id}`,
      });
    }
  }
  for (const e of events.filter((x) => x.state === 'dead')) {
    if (!attention.some((a) => a.ref === `evt_${e.id}`))
      attention.push({ code: 'event.dead', message: `event ${e.trigger} dead-lettered: ${e.lastError ?? ''}`, ref: `evt_${e.id}` });
  }
  for (const j of jobs.filter((x) => x.state === 'dead')) {
    attention.push({ code: 'job.dead', message: `${j.kind} dead-lettered: ${j.lastError ?? ''}`, ref: `job_${j.id}` });
  }
  const unpaid = decisions.find((d) => d.kind === 'credits' && d.outcome === 'unpaid');
  if (unpaid && booking.status === 'accepted' && !hold) {
    attention.push({ code: 'credits.unpaid', message: `confirmed in Cal.com without credits (${unpaid.reasons[0]?.code ?? ''})` });
  }
  if (assignment && !assignment.room && booking.status !== 'cancelled' && booking.status !== 'rejected') {
    attention.push({ code: 'room.unassigned', message: 'no room is free for this booking; it is retried whenever one frees up' });
  }
  const locationJob = jobs.find((j) => j.kind === 'cal.location' && (j.state === 'pending' || j.state === 'running'));
  return {
    booking,
    room: assignment
      ? {
          name: assignment.room,
          location: assignment.locationText,
          // Whether Cal.com shows the current room yet, and the call that will tell it.
          written: assignment.locationText !== null && assignment.locationText === assignment.locationWritten,
          writeBack: locationJob ? { job: `job_${locationJob.id}`, state: locationJob.state, runAt: locationJob.runAt } : null,
          pinned: assignment.pinned,
          from: assignment.from,
          clearAt: assignment.to,
          reasons: assignment.reasons,
        }
      : null,
    gate: gate
      ? { outcome: gate.outcome, reasons: gate.reasons, message: gate.message, decidedBy: gate.decidedBy, decidedAt: gate.decidedAt }
      : gated
        ? { outcome: 'undecided' as const }
        : null,
    credits: hold ? { amount: hold.amount, state: hold.state, member: hold.memberEmail } : null,
    attention,
    decisions,
    jobs: jobs.map(presentJob),
    events: events.map((e) => presentEvent(e)),
  };
}

export type BookingView = NonNullable<Awaited<ReturnType<typeof bookingView>>>;
