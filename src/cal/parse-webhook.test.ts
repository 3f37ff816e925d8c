import { describe, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, meetingBody, noShowBody, pingBody, sampleBooking } from '../sandbox/payloads.ts';
import { parseWebhook } from './parse-webhook.ts';

const booking = sampleBooking({ start: new Date('2026-12-01T09:00:00.000Z'), lengthMinutes: 30 });

function parse(body: string) {
  return parseWebhook(JSON.parse(body));
}

describe('parseWebhook', () => {
  it('reads the envelope of a BOOKING_CREATED with its booker, organizer and times', () => {
    const result = parse(envelopeBody('BOOKING_CREATED', bookingPayload(booking, 'BOOKING_CREATED'), new Date()));
    expect(result.outcome).toBe('event');
    if (result.outcome !== 'event' || result.event.kind !== 'booking') throw new Error('wrong kind');
    expect(result.event.booking).toMatchObject({
      uid: booking.uid,
      calId: booking.id,
      eventTypeId: 7,
      eventTypeSlug: 'consultation',
      status: 'accepted',
      organizer: { id: 5, email: 'ada@clinic.example' },
      attendee: { email: 'grace@example.com', name: 'Grace Hopper' },
    });
    expect(result.event.booking.start.toISOString()).toBe('2026-12-01T09:00:00.000Z');
    expect(result.event.booking.end.toISOString()).toBe('2026-12-01T09:30:00.000Z');
  });

  it.each([
    ['Z', '2026-12-01T09:00:00Z'],
    ['.000Z', '2026-12-01T09:00:00.000Z'],
    ['+00:00', '2026-12-01T09:00:00+00:00'],
    ['+01:00 offset', '2026-12-01T10:00:00+01:00'],
  ])('parses start times written with %s to the same instant', (_label, startTime) => {
    const payload = { ...bookingPayload({ ...booking, status: 'CANCELLED' }, 'BOOKING_CANCELLED'), startTime };
    const result = parse(envelopeBody('BOOKING_CANCELLED', payload, new Date()));
    if (result.outcome !== 'event' || result.event.kind !== 'booking') throw new Error(JSON.stringify(result));
    expect(result.event.booking.start.getTime()).toBe(Date.parse('2026-12-01T09:00:00Z'));
    expect(result.event.booking.status).toBe('cancelled');
  });

  it('reads a reschedule: the new uid, and the old one in rescheduleUid', () => {
    const old = { id: 900, uid: 'old-uid', start: new Date('2026-11-30T09:00:00Z'), end: new Date('2026-11-30T09:30:00Z') };
    const result = parse(
      envelopeBody('BOOKING_RESCHEDULED', bookingPayload({ ...booking, reschedule: old }, 'BOOKING_RESCHEDULED'), new Date()),
    );
    if (result.outcome !== 'event' || result.event.kind !== 'booking') throw new Error('wrong kind');
    expect(result.event.booking.uid).toBe(booking.uid);
    expect(result.event.rescheduleUid).toBe('old-uid');
  });

  it('reads MEETING_STARTED and MEETING_ENDED, which have no envelope', () => {
    for (const trigger of ['MEETING_STARTED', 'MEETING_ENDED'] as const) {
      const result = parse(meetingBody(booking, trigger));
      if (result.outcome !== 'event' || result.event.kind !== 'meeting') throw new Error(JSON.stringify(result));
      expect(result.event.trigger).toBe(trigger);
      expect(result.event.booking.uid).toBe(booking.uid);
      expect(result.event.booking.organizer.email).toBe('ada@clinic.example');
    }
  });

  it('reads PING, which has no uid', () => {
    const result = parse(pingBody(new Date()));
    expect(result).toMatchObject({ outcome: 'event', event: { kind: 'ping', trigger: 'PING' } });
  });

  it('reads BOOKING_NO_SHOW_UPDATED with its attendees', () => {
    const result = parse(noShowBody(booking, [{ email: 'grace@example.com', noShow: true }], new Date()));
    expect(result).toMatchObject({
      outcome: 'event',
      event: { kind: 'no-show', bookingUid: booking.uid, attendees: [{ email: 'grace@example.com', noShow: true }] },
    });
  });

  it('tolerates fields it does not know', () => {
    const payload = { ...bookingPayload(booking, 'BOOKING_CREATED'), brandNewField: { deep: [1, 2] }, assignmentReason: 'rr' };
    expect(parse(envelopeBody('BOOKING_CREATED', payload, new Date())).outcome).toBe('event');
  });

  it('takes the booker from responses.email when attendees are missing', () => {
    const payload = { ...bookingPayload({ ...booking, status: 'PENDING' }, 'BOOKING_REQUESTED'), attendees: [] };
    const result = parse(envelopeBody('BOOKING_REQUESTED', payload, new Date()));
    if (result.outcome !== 'event' || result.event.kind !== 'booking') throw new Error('wrong kind');
    expect(result.event.booking.attendee?.email).toBe('grace@example.com');
    expect(result.event.booking.status).toBe('pending');
  });

  it('reports an unknown trigger as such', () => {
    expect(parse(JSON.stringify({ triggerEvent: 'BOOKING_TELEPORTED', createdAt: '2026-01-01T00:00:00Z', payload: {} }))).toEqual({
      outcome: 'unknown-trigger',
      trigger: 'BOOKING_TELEPORTED',
    });
  });

  it('reports a known trigger with a broken payload as invalid, with the problems', () => {
    const payload = { ...bookingPayload(booking, 'BOOKING_CREATED'), startTime: 'next tuesday' };
    const result = parse(envelopeBody('BOOKING_CREATED', payload, new Date()));
    expect(result.outcome).toBe('invalid');
    if (result.outcome !== 'invalid') return;
    expect(result.trigger).toBe('BOOKING_CREATED');
    expect(result.bookingUid).toBe(booking.uid);
    expect(result.problems.join()).toContain('payload.startTime');
  });

  it('reports a body without triggerEvent as invalid', () => {
    expect(parseWebhook({ hello: 'world' })).toMatchObject({ outcome: 'invalid', problems: ['triggerEvent: missing'] });
    expect(parseWebhook([1, 2])).toMatchObject({ outcome: 'invalid' });
  });
});
