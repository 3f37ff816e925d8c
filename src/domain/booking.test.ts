import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../cal/parse-webhook.ts';
import { bookingPayload, envelopeBody, sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { applyBookingEvent, seatsLeftAfterMove, type Booking } from './booking.ts';
import type { CalEvent } from './booking-event.ts';

// Seated events as Cal.com sends them (CONTRACT §1.2): createNewSeat sends BOOKING_CREATED for the
// slot's one booking listing every attendee; cancelAttendeeSeat sends BOOKING_CANCELLED for that same
// uid listing only the attendee who gave up the seat; the last seat's cancel is the booking's.
const person = (name: string) => ({ name, email: `${name.toLowerCase()}@example.com`, timeZone: 'Europe/London' });
const [ann, ben] = [person('Ann'), person('Ben')];
const klass = sampleBooking({ eventTypeId: 14, eventTypeSlug: 'back-care-class', seatsPerTimeSlot: 6, attendee: ann });

function event(trigger: string, over: Partial<PayloadBooking>): Extract<CalEvent, { kind: 'booking' }> {
  const parsed = parseWebhook(JSON.parse(envelopeBody(trigger, bookingPayload({ ...klass, ...over }, trigger), new Date())));
  if (parsed.outcome !== 'event' || parsed.event.kind !== 'booking') throw new Error(`not a booking event: ${JSON.stringify(parsed)}`);
  return parsed.event;
}
const apply = (previous: Booking | undefined, trigger: string, over: Partial<PayloadBooking>) =>
  applyBookingEvent(previous, event(trigger, over));

describe('a seated booking', () => {
  it('counts the seats taken from every BOOKING_CREATED, whatever order they come in', () => {
    const first = apply(undefined, 'BOOKING_CREATED', { attendees: [ann] }).booking;
    expect(first).toMatchObject({ status: 'accepted', seatsPerTimeSlot: 6, seats: ['ann@example.com'] });
    const second = apply(first, 'BOOKING_CREATED', { attendees: [ann, ben] });
    expect(second).toMatchObject({ changed: true, booking: { seats: ['ann@example.com', 'ben@example.com'] } });
    // The first seat's copy, late: nobody is forgotten.
    expect(apply(second.booking, 'BOOKING_CREATED', { attendees: [ann] }).booking.seats).toEqual(['ann@example.com', 'ben@example.com']);
  });

  it('stays booked when one seat is cancelled, and is cancelled with its last seat', () => {
    const two = apply(apply(undefined, 'BOOKING_CREATED', { attendees: [ann] }).booking, 'BOOKING_CREATED', {
      attendees: [ann, ben],
    }).booking;
    const oneLeft = apply(two, 'BOOKING_CANCELLED', { attendees: [ben], status: 'CANCELLED' });
    expect(oneLeft).toMatchObject({
      reason: 'cal.BOOKING_CANCELLED.seat',
      changed: true,
      booking: { status: 'accepted', seats: ['ann@example.com'] },
    });
    const none = apply(oneLeft.booking, 'BOOKING_CANCELLED', { attendees: [ann], status: 'CANCELLED' });
    expect(none).toMatchObject({ reason: 'cal.BOOKING_CANCELLED', booking: { status: 'cancelled' } });
  });

  it('is cancelled whole when the host cancels (every attendee listed) or when Usher never knew its seats', () => {
    const two = apply(undefined, 'BOOKING_CREATED', { attendees: [ann, ben] }).booking;
    expect(apply(two, 'BOOKING_CANCELLED', { attendees: [ann, ben], status: 'CANCELLED' }).booking.status).toBe('cancelled');
    expect(apply(undefined, 'BOOKING_CANCELLED', { attendees: [ben], status: 'CANCELLED' }).booking.status).toBe('cancelled');
  });

  it('an ordinary booking listing one attendee of two is still cancelled whole', () => {
    const plain = { seatsPerTimeSlot: undefined };
    const two = apply(undefined, 'BOOKING_CREATED', { ...plain, attendees: [ann, ben] }).booking;
    expect(two.seats).toBeUndefined();
    expect(apply(two, 'BOOKING_CANCELLED', { ...plain, attendees: [ben], status: 'CANCELLED' }).booking.status).toBe('cancelled');
  });
});

describe('a seat rescheduled to another slot', () => {
  const cat = person('Cat');
  it('leaves the class it came from standing for the others; a whole class that moves is replaced', () => {
    const three = apply(undefined, 'BOOKING_CREATED', { attendees: [ann, ben, cat] }).booking;
    const moved = event('BOOKING_RESCHEDULED', {
      uid: 'later-class',
      attendees: [ben],
      reschedule: { id: 1, uid: klass.uid, start: klass.start, end: klass.end },
    });
    expect(seatsLeftAfterMove(three, moved)).toEqual(['ann@example.com', 'cat@example.com']);
    const everyone = event('BOOKING_RESCHEDULED', {
      uid: 'later-class',
      attendees: [ann, ben, cat],
      reschedule: { id: 1, uid: klass.uid, start: klass.start, end: klass.end },
    });
    expect(seatsLeftAfterMove(three, everyone)).toBeUndefined();
    const plain = apply(undefined, 'BOOKING_CREATED', { seatsPerTimeSlot: undefined }).booking;
    expect(seatsLeftAfterMove(plain, event('BOOKING_RESCHEDULED', { seatsPerTimeSlot: undefined, uid: 'x' }))).toBeUndefined();
  });
});
