/** What Usher understands of a Cal.com event, after parsing at the edge (cal/parse-webhook.ts). */

export type BookingStatus = 'pending' | 'accepted' | 'cancelled' | 'rejected';

export interface Person {
  id?: number;
  name?: string;
  email?: string;
}

export interface BookingSnapshot {
  uid: string;
  calId?: number;
  eventTypeId?: number;
  eventTypeSlug?: string;
  title?: string;
  start: Date;
  end: Date;
  status?: BookingStatus;
  organizer: Person;
  /** attendees[0]: the booker. */
  attendee?: Person;
  location?: string;
  metadata: Record<string, unknown>;
  /**
   * CONTRACT §3.2 `seatsPerTimeSlot`: set for a seated event, whose one booking holds one attendee
   * per seat. `attendeeEmails` are then the seats taken (a new seat's BOOKING_CREATED lists them all)
   * or, on a seat's BOOKING_CANCELLED, only the seat given up (§1.2).
   */
  seatsPerTimeSlot?: number;
  /** Every attendee's e-mail, lower-cased, in the payload's order. */
  attendeeEmails?: string[];
  /** One occurrence of a recurring series (the payload carries the event type's `recurringEvent` rule). */
  inSeries?: boolean;
  /** A collective team event's other hosts, each "id|email" (either may be empty): every one is in the room. */
  coHosts?: string[];
}

export const bookingTriggers = [
  'BOOKING_CREATED',
  'BOOKING_REQUESTED',
  'BOOKING_RESCHEDULED',
  'BOOKING_CANCELLED',
  'BOOKING_REJECTED',
  'BOOKING_PAID',
  'BOOKING_PAYMENT_INITIATED',
  // Round robin: the same booking, another host (`organizer` is the new one); its room is checked again.
  'BOOKING_REASSIGNED',
] as const;
export type BookingTrigger = (typeof bookingTriggers)[number];

/** Triggers Cal.com may send that Usher receives and records but takes no action on. */
export const passiveTriggers = [
  'BOOKING_LOCATION_UPDATED',
  'FORM_SUBMITTED',
  'FORM_SUBMITTED_NO_EVENT',
  'RECORDING_READY',
  'RECORDING_TRANSCRIPTION_GENERATED',
  'INSTANT_MEETING',
  'INSTANT_MEETING_ACCEPTED',
  'OOO_CREATED',
  'AFTER_HOSTS_CAL_VIDEO_NO_SHOW',
  'AFTER_GUESTS_CAL_VIDEO_NO_SHOW',
  'DELEGATION_CREDENTIAL_ERROR',
  'DELEGATION_CREDENTIAL_SECRET_ROTATION_FAILED',
  'DELEGATION_CREDENTIAL_ROTATION_REQUIRED',
  'DELEGATION_CREDENTIAL_SECRET_ROTATED',
  'CALENDAR_ENTRY_REJECTED',
  'ROUTING_FORM_FALLBACK_HIT',
  'WRONG_ASSIGNMENT_REPORT',
] as const;
export type PassiveTrigger = (typeof passiveTriggers)[number];

export type CalEvent =
  | {
      kind: 'booking';
      trigger: BookingTrigger;
      createdAt?: Date;
      booking: BookingSnapshot;
      /** CONTRACT §1.3: a reschedule is a new booking; the old uid comes here. */
      rescheduleUid?: string;
      cancellationReason?: string;
      cancelledBy?: string;
      rejectionReason?: string;
      requestReschedule?: boolean;
    }
  | { kind: 'meeting'; trigger: 'MEETING_STARTED' | 'MEETING_ENDED'; booking: BookingSnapshot }
  | {
      kind: 'no-show';
      trigger: 'BOOKING_NO_SHOW_UPDATED';
      createdAt?: Date;
      bookingUid: string;
      attendees: { email: string; noShow: boolean }[];
    }
  | { kind: 'ping'; trigger: 'PING'; createdAt?: Date }
  | { kind: 'passive'; trigger: PassiveTrigger; createdAt?: Date; bookingUid?: string };

export type CalTrigger = CalEvent['trigger'];

/** The triggers Usher acts on: what a Cal.com webhook subscription for Usher ticks. */
export const actionableTriggers: readonly string[] = [...bookingTriggers, 'BOOKING_NO_SHOW_UPDATED', 'MEETING_STARTED', 'MEETING_ENDED'];

export const knownTriggers: readonly string[] = [
  ...bookingTriggers,
  ...passiveTriggers,
  'MEETING_STARTED',
  'MEETING_ENDED',
  'BOOKING_NO_SHOW_UPDATED',
  'PING',
];

export function isKnownTrigger(value: string): value is CalTrigger {
  return knownTriggers.includes(value);
}

export function eventBookingUid(event: CalEvent): string | undefined {
  switch (event.kind) {
    case 'booking':
    case 'meeting':
      return event.booking.uid;
    case 'no-show':
      return event.bookingUid;
    case 'passive':
      return event.bookingUid;
    case 'ping':
      return undefined;
  }
}
