import { parseWebhook } from '../cal/parse-webhook.ts';
import { applyBookingEvent, applyMeetingEvent, markRescheduled, seatsLeftAfterMove } from '../domain/booking.ts';
import type { CalEvent } from '../domain/booking-event.ts';
import type { Booking } from '../domain/booking.ts';
import { lockBooking, lockBookingAndSuccessor, saveBooking } from '../store/bookings.ts';
import type { Queryable } from '../store/db.ts';
import { recordDecision } from '../store/decisions.ts';
import type { InboxEvent } from '../store/inbox.ts';

export interface EventContext {
  trx: Queryable;
  inboxEvent: InboxEvent;
  now: Date;
  /**
   * Bookings as this event left them in its transaction, by uid (recordBookingState, the only
   * writer of booking rows, fills it): later handlers read them here instead of asking again.
   */
  stored?: Map<string, Booking>;
}

/**
 * A booking as the event's transaction holds it now, locked: from what this event stored (locked
 * when it was), else locked and read from the store.
 */
export async function storedBooking(ctx: EventContext, uid: string): Promise<Booking | undefined> {
  return ctx.stored?.get(uid) ?? (await lockBooking(ctx.trx, uid));
}

/** A feature's reaction to an event (gate, rooms, automations add theirs); runs in the event's transaction. */
export type EventHandler = (event: CalEvent, ctx: EventContext) => Promise<void>;

export type EventOutcome = { state: 'done' } | { state: 'ignored' | 'unprocessable'; note: string };

/** Keeps Usher's booking records in step with Cal.com; every change is logged as a decision. */
export const recordBookingState: EventHandler = async (event, { trx, inboxEvent, now, stored }) => {
  const log = (bookingUid: string, outcome: string, reason: string, detail: Record<string, unknown> = {}) =>
    recordDecision(
      trx,
      { bookingUid, inboxEventId: inboxEvent.id, kind: 'booking.state', outcome, reasons: [{ code: reason }], detail },
      now,
    );

  switch (event.kind) {
    case 'booking': {
      const { booking: previous, successor } = await lockBookingAndSuccessor(trx, event.booking.uid);
      let change = applyBookingEvent(previous, event);
      // CONTRACT §1.3: a reschedule cancels the old booking silently, and Cal.com does not order its
      // deliveries: when the newer booking arrived first, this one's late events find it replaced and
      // leave it cancelled, exactly as if they had come in order (no ghost holding a room).
      if (
        !event.rescheduleUid &&
        (change.booking.status === 'accepted' || change.booking.status === 'pending') &&
        !change.booking.rescheduledToUid
      ) {
        if (successor)
          change = {
            booking: markRescheduled(change.booking, successor),
            previous,
            reason: `cal.${event.trigger}.already_rescheduled`,
            changed: true,
          };
      }
      if (change.changed || !previous) stored?.set(event.booking.uid, await saveBooking(trx, change.booking, now));
      else if (previous) stored?.set(event.booking.uid, previous);
      if (event.rescheduleUid) {
        const old = await lockBooking(trx, event.rescheduleUid);
        // One seat of a class moving to another slot leaves the class standing for the others.
        const staying = old?.status === 'accepted' ? seatsLeftAfterMove(old, event) : undefined;
        if (old && staying) stored?.set(old.uid, await saveBooking(trx, { ...old, seats: staying }, now));
        else if (old && old.rescheduledToUid !== event.booking.uid)
          stored?.set(old.uid, await saveBooking(trx, markRescheduled(old, event.booking.uid), now));
        else if (old) stored?.set(old.uid, old);
      }
      await log(
        event.booking.uid,
        change.booking.status,
        change.reason,
        event.rescheduleUid ? { rescheduledFrom: event.rescheduleUid } : {},
      );
      return;
    }
    case 'meeting': {
      const previous = await lockBooking(trx, event.booking.uid);
      const change = applyMeetingEvent(previous, event);
      if (change.changed || !previous) stored?.set(event.booking.uid, await saveBooking(trx, change.booking, now));
      else if (previous) stored?.set(event.booking.uid, previous);
      await log(event.booking.uid, change.booking.meetingState ?? change.booking.status, change.reason);
      return;
    }
    case 'no-show':
      await log(event.bookingUid, 'no_show_updated', 'cal.BOOKING_NO_SHOW_UPDATED', {
        absent: event.attendees.filter((a) => a.noShow).length,
        present: event.attendees.filter((a) => !a.noShow).length,
      });
      return;
    case 'ping':
    case 'passive':
      return;
  }
};

/**
 * Parses the stored raw body again (the inbox is an edge too: a replay must see what arrived) and
 * runs every handler in the caller's transaction, which also marks the event done.
 */
export async function handleInboxEvent(handlers: readonly EventHandler[], ctx: EventContext): Promise<EventOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(ctx.inboxEvent.rawBody);
  } catch {
    return { state: 'unprocessable', note: 'stored body is not JSON' };
  }
  const parsed = parseWebhook(body);
  switch (parsed.outcome) {
    case 'unknown-trigger':
      return { state: 'ignored', note: `unknown trigger ${parsed.trigger}` };
    case 'invalid':
      return { state: 'unprocessable', note: parsed.problems.join('; ').slice(0, 2000) };
    case 'event':
      for (const handler of handlers) await handler(parsed.event, ctx);
      return { state: 'done' };
  }
}
