import { addJob } from '../store/jobs.ts';
import { calJobKinds } from './cal-jobs.ts';
import { storedBooking, type EventHandler } from './handle-event.ts';

/**
 * A cancelled occurrence of a recurring series may have taken the later ones with it, silently
 * (handleCancelBooking's updateMany): a Cal.com job asks which (jobs/cal-jobs.ts). Only for a
 * cancel Cal.com sent: the ones that check feeds in are its answer, not new questions.
 */
export function seriesCheckHandler(maxAttempts: number): EventHandler {
  return async (event, ctx) => {
    const { trx, inboxEvent, now } = ctx;
    if (event.kind !== 'booking' || event.trigger !== 'BOOKING_CANCELLED' || inboxEvent.source !== 'webhook') return;
    const booking = await storedBooking(ctx, event.booking.uid);
    if (!booking?.inSeries || booking.status !== 'cancelled') return;
    await addJob(
      trx,
      {
        kind: calJobKinds.series,
        payload: {
          uid: booking.uid,
          from: booking.start.toISOString(),
          ...(booking.attendeeEmail ? { attendeeEmail: booking.attendeeEmail } : {}),
          ...(booking.eventTypeId !== undefined ? { eventTypeId: booking.eventTypeId } : {}),
        },
        bookingUid: booking.uid,
        coalesceKey: `series:${booking.uid}`,
        maxAttempts,
      },
      now,
    );
  };
}
