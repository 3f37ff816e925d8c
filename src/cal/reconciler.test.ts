import { describe, expect, it } from 'vitest';
import { calBookingSchema } from './api-client.ts';
import { syntheticEvent } from './reconciler.ts';

describe('a booking the reconciler found, as an event', () => {
  it("carries who cancelled it (a host's cancellation refunds the member's credit)", () => {
    const b = calBookingSchema.parse({
      id: 1,
      uid: 'bk-1',
      status: 'cancelled',
      start: '2026-12-02T10:00:00Z',
      end: '2026-12-02T10:30:00Z',
      cancellationReason: 'Doctor ill',
      cancelledByEmail: 'grace.m@clinic.example',
      hosts: [{ id: 7, email: 'grace.m@clinic.example' }],
    });
    const event = syntheticEvent(b, new Date('2026-12-01T12:00:00Z'));
    expect(event.trigger).toBe('BOOKING_CANCELLED');
    expect(JSON.parse(event.rawBody).payload).toMatchObject({
      status: 'CANCELLED',
      cancelledBy: 'grace.m@clinic.example',
      cancellationReason: 'Doctor ill',
    });
  });
});
