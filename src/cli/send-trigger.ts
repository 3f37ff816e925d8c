import { request } from 'undici';
import { signBody } from '../cal/verify-signature.ts';
import { actionableTriggers } from '../domain/booking-event.ts';
import { UsherError } from '../errors.ts';
import { bookingPayload, envelopeBody, meetingBody, noShowBody, pingBody, sampleBooking } from '../sandbox/payloads.ts';

export const TRIGGER_NAMES: readonly string[] = ['PING', ...actionableTriggers];

/** The body Cal.com would send for one trigger, about a fresh sample booking tomorrow. */
export function sampleBody(trigger: string, now = new Date()): { body: string; uid: string | undefined } {
  const start = new Date(Math.ceil((now.getTime() + 86_400_000) / 1_800_000) * 1_800_000);
  const status =
    trigger === 'BOOKING_REQUESTED'
      ? 'PENDING'
      : trigger === 'BOOKING_CANCELLED'
        ? 'CANCELLED'
        : trigger === 'BOOKING_REJECTED'
          ? 'REJECTED'
          : 'ACCEPTED';
  const booking = sampleBooking({
    start,
    status,
    requiresConfirmation: trigger === 'BOOKING_REQUESTED' || trigger === 'BOOKING_REJECTED',
    ...(trigger === 'BOOKING_RESCHEDULED'
      ? {
          reschedule: {
            id: 900,
            uid: 'previous-booking-uid',
            start: new Date(start.getTime() - 86_400_000),
            end: new Date(start.getTime() - 84_600_000),
          },
        }
      : {}),
    ...(trigger === 'BOOKING_CANCELLED' ? { cancellationReason: 'Feeling better' } : {}),
    ...(trigger === 'BOOKING_REJECTED' ? { rejectionReason: 'Not enough credits' } : {}),
  });
  switch (trigger) {
    case 'PING':
      return { body: pingBody(now), uid: undefined };
    case 'MEETING_STARTED':
    case 'MEETING_ENDED':
      return { body: meetingBody(booking, trigger), uid: booking.uid };
    case 'BOOKING_NO_SHOW_UPDATED':
      return { body: noShowBody(booking, [{ email: booking.attendee.email, noShow: true }], now), uid: booking.uid };
    default:
      if (!TRIGGER_NAMES.includes(trigger))
        throw new UsherError('BAD_REQUEST', `unknown trigger ${trigger}; one of ${TRIGGER_NAMES.join(', ')}`);
      return { body: envelopeBody(trigger, bookingPayload(booking, trigger), now), uid: booking.uid };
  }
}

/** `usher trigger`: one signed webhook, as Cal.com would send it, to try a setup. */
export async function sendTrigger(trigger: string, to: string, secret: string | undefined) {
  const { body, uid } = sampleBody(trigger);
  const response = await request(to, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-cal-signature-256': secret ? signBody(body, secret) : 'no-secret-provided',
      'x-cal-webhook-version': '2021-10-20',
    },
    body,
  });
  return { trigger, uid, to, status: response.statusCode, answer: await response.body.text() };
}
