import type { BookingSnapshot, BookingStatus, CalEvent } from './booking-event.ts';

/** Usher's record of one Cal.com booking. */
export interface Booking {
  uid: string;
  calId?: number;
  eventTypeId?: number;
  eventTypeSlug?: string;
  status: BookingStatus;
  title?: string;
  start: Date;
  end: Date;
  organizerId?: number;
  organizerEmail?: string;
  attendeeEmail?: string;
  attendeeName?: string;
  rescheduledFromUid?: string;
  rescheduledToUid?: string;
  location?: string;
  metadata: Record<string, unknown>;
  meetingState?: 'started' | 'ended';
  lastEventAt?: Date;
  /** A seated event's seats per slot (CONTRACT §3.2). */
  seatsPerTimeSlot?: number;
  /** A seated booking's seats taken: its attendees' e-mails, lower-cased. */
  seats?: string[];
  /** One occurrence of a recurring series: cancelling it may have cancelled the later ones silently. */
  inSeries?: boolean;
  /** A collective team event's other hosts ("id|email"): the room must be one each of them may use. */
  coHosts?: string[];
}

export interface BookingChange {
  booking: Booking;
  previous: Booking | undefined;
  /** What the event meant for this booking, as a machine-readable reason. */
  reason: string;
  changed: boolean;
}

const TERMINAL: ReadonlySet<BookingStatus> = new Set(['cancelled', 'rejected']);

function fromSnapshot(s: BookingSnapshot, status: BookingStatus, previous: Booking | undefined): Booking {
  return {
    ...previous,
    uid: s.uid,
    ...(s.calId !== undefined ? { calId: s.calId } : {}),
    ...(s.eventTypeId !== undefined ? { eventTypeId: s.eventTypeId } : {}),
    ...(s.eventTypeSlug ? { eventTypeSlug: s.eventTypeSlug } : {}),
    status,
    ...(s.title ? { title: s.title } : {}),
    start: s.start,
    end: s.end,
    ...(s.organizer.id !== undefined ? { organizerId: s.organizer.id } : {}),
    ...(s.organizer.email ? { organizerEmail: s.organizer.email } : {}),
    ...(s.attendee?.email ? { attendeeEmail: s.attendee.email } : {}),
    ...(s.attendee?.name ? { attendeeName: s.attendee.name } : {}),
    ...(s.location ? { location: s.location } : {}),
    // CONTRACT §1.2: confirm and paid payloads carry a smaller or different metadata; keep what we had.
    metadata: { ...(previous?.metadata ?? {}), ...s.metadata },
    ...(s.seatsPerTimeSlot !== undefined ? { seatsPerTimeSlot: s.seatsPerTimeSlot } : {}),
    ...(s.inSeries ? { inSeries: true } : {}),
    ...(s.coHosts?.length ? { coHosts: s.coHosts } : {}),
    // A new seat's BOOKING_CREATED lists every seat taken (Cal.com's createNewSeat); deliveries come in
    // any order, so the seats known are kept and the payload's added.
    ...(s.seatsPerTimeSlot !== undefined ? { seats: [...new Set([...(previous?.seats ?? []), ...(s.attendeeEmails ?? [])])] } : {}),
  };
}

/**
 * CONTRACT §1.2 "Seat cancelled": on a seated event, one attendee's cancel sends BOOKING_CANCELLED
 * for the whole booking's uid, listing only that attendee, and the booking stands for the others
 * (Cal.com's cancelAttendeeSeat). The last seat's cancel, or the host's, cancels the booking and lists
 * everyone. So a cancel that leaves seats Usher knows to be taken is a seat's; anything else
 * (nothing known about the seats, every one listed) is the booking's.
 */
function seatCancelled(previous: Booking | undefined, event: Extract<CalEvent, { kind: 'booking' }>): string[] | undefined {
  if (event.trigger !== 'BOOKING_CANCELLED' || event.booking.seatsPerTimeSlot === undefined) return undefined;
  if (previous?.status !== 'accepted' || !previous.seats?.length) return undefined;
  const leaving = new Set(event.booking.attendeeEmails ?? []);
  if (leaving.size === 0) return undefined;
  const staying = previous.seats.filter((e) => !leaving.has(e));
  return staying.length > 0 ? staying : undefined;
}

/**
 * The status a booking moves to for a trigger. Cancelled and rejected are final: an event that
 * arrives late (Cal.com does not order deliveries) never brings a finished booking back.
 */
function targetStatus(event: Extract<CalEvent, { kind: 'booking' }>, previousStatus: BookingStatus | undefined): BookingStatus {
  switch (event.trigger) {
    case 'BOOKING_REQUESTED':
      return 'pending';
    case 'BOOKING_CREATED':
      return 'accepted';
    case 'BOOKING_RESCHEDULED':
      return event.booking.status ?? 'accepted';
    case 'BOOKING_CANCELLED':
      return 'cancelled';
    case 'BOOKING_REJECTED':
      return 'rejected';
    // CONTRACT §1.2: BOOKING_PAYMENT_INITIATED says ACCEPTED while the booking is really PENDING.
    case 'BOOKING_PAYMENT_INITIATED':
      return 'pending';
    case 'BOOKING_PAID':
      return event.booking.status ?? 'accepted';
    // The host changes, not the state: a payload without a status keeps the booking's.
    case 'BOOKING_REASSIGNED':
      return event.booking.status ?? previousStatus ?? 'accepted';
  }
}

export function applyBookingEvent(previous: Booking | undefined, event: Extract<CalEvent, { kind: 'booking' }>): BookingChange {
  const staying = seatCancelled(previous, event);
  if (previous && staying) {
    const booking: Booking = { ...previous, seats: staying, ...(event.createdAt ? { lastEventAt: event.createdAt } : {}) };
    return { booking, previous, reason: 'cal.BOOKING_CANCELLED.seat', changed: staying.length !== previous.seats?.length };
  }
  const wanted = targetStatus(event, previous?.status);
  if (previous && TERMINAL.has(previous.status) && previous.status !== wanted) {
    // The status stays final, but which booking this one replaced is a fact whatever the order of
    // delivery (CONTRACT §1.3): kept, so the replaced booking's late events find it cancelled.
    const linked =
      event.rescheduleUid && !previous.rescheduledFromUid ? { ...previous, rescheduledFromUid: event.rescheduleUid } : previous;
    return { booking: linked, previous, reason: `ignored.${event.trigger}.after_${previous.status}`, changed: linked !== previous };
  }
  // A late BOOKING_REQUESTED must not take an accepted booking back to pending.
  if (previous?.status === 'accepted' && wanted === 'pending') {
    return { booking: previous, previous, reason: `ignored.${event.trigger}.after_accepted`, changed: false };
  }
  const booking = fromSnapshot(event.booking, wanted, previous);
  if (event.rescheduleUid) booking.rescheduledFromUid = event.rescheduleUid;
  if (event.createdAt) booking.lastEventAt = event.createdAt;
  const changed =
    !previous ||
    previous.status !== booking.status ||
    +previous.start !== +booking.start ||
    +previous.end !== +booking.end ||
    previous.seats?.length !== booking.seats?.length ||
    previous.organizerId !== booking.organizerId ||
    previous.organizerEmail !== booking.organizerEmail;
  return { booking, previous, reason: `cal.${event.trigger}`, changed };
}

/**
 * A seat rescheduled to another slot: Cal.com moves that attendee to the other slot's booking and
 * the class they left goes on for the others (handleSeats' attendee reschedule), yet the webhook
 * names the old uid as `rescheduleUid` like any reschedule. The seats left on the old booking, or
 * nothing when the whole booking moved (everyone in it is listed, or it was not seated).
 */
export function seatsLeftAfterMove(old: Booking, event: Extract<CalEvent, { kind: 'booking' }>): string[] | undefined {
  if (event.booking.seatsPerTimeSlot === undefined || !old.seats || old.seats.length < 2) return undefined;
  const moving = new Set(event.booking.attendeeEmails ?? []);
  const staying = old.seats.filter((e) => !moving.has(e));
  return staying.length > 0 ? staying : undefined;
}

/** CONTRACT §1.3: the old booking of a reschedule is cancelled silently; no BOOKING_CANCELLED comes. */
export function markRescheduled(old: Booking, newUid: string): Booking {
  return { ...old, status: 'cancelled', rescheduledToUid: newUid };
}

export function applyMeetingEvent(previous: Booking | undefined, event: Extract<CalEvent, { kind: 'meeting' }>): BookingChange {
  const base = previous ?? fromSnapshot(event.booking, event.booking.status ?? 'accepted', undefined);
  const meetingState = event.trigger === 'MEETING_STARTED' ? 'started' : 'ended';
  // An ended meeting stays ended even if MEETING_STARTED arrives after it.
  if (base.meetingState === 'ended' && meetingState === 'started') {
    return { booking: base, previous, reason: 'ignored.MEETING_STARTED.after_ended', changed: false };
  }
  const booking = { ...base, meetingState } as Booking;
  return { booking, previous, reason: `cal.${event.trigger}`, changed: base.meetingState !== meetingState };
}
