import { randomBytes } from 'node:crypto';

/** The fields of a booking the sandbox (and `usher trigger`) build Cal.com payloads from. */
export interface PayloadBooking {
  id: number;
  uid: string;
  eventTypeId: number;
  eventTypeSlug: string;
  eventTitle: string;
  title: string;
  lengthMinutes: number;
  requiresConfirmation: boolean;
  start: Date;
  end: Date;
  status: 'ACCEPTED' | 'PENDING' | 'CANCELLED' | 'REJECTED';
  organizer: { id: number; name: string; email: string; username: string; timeZone: string };
  attendee: { name: string; email: string; timeZone: string };
  /** Every attendee, when there are more than `attendee` (a seated event's seats taken). */
  attendees?: { name: string; email: string; timeZone: string }[];
  /** A seated event type's seats per slot (CONTRACT §3.2); null otherwise. */
  seatsPerTimeSlot?: number;
  /** An occurrence of a recurring series: the event type's rule. */
  recurringEvent?: { freq: number; count: number; interval: number };
  /** A team event (CONTRACT §3.2): its scheduling type and team, whose members are a collective event's other hosts. */
  schedulingType?: 'ROUND_ROBIN' | 'COLLECTIVE';
  team?: { id: number; name: string; members: { id?: number; name: string; email: string; timeZone: string }[] };
  location: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  cancellationReason?: string;
  rejectionReason?: string;
  reschedule?: { id: number; uid: string; start: Date; end: Date; by?: string };
}

/** CONTRACT §3.2: the time format differs by trigger. */
export type TimeStyle = 'plain' | 'offset' | 'millis';

export function formatTime(date: Date, style: TimeStyle): string {
  const iso = date.toISOString();
  switch (style) {
    case 'plain': // dayjs.utc().format(): BOOKING_CREATED, RESCHEDULED, REQUESTED
      return `${iso.slice(0, 19)}Z`;
    case 'offset': // dayjs(x).format(): BOOKING_CANCELLED, request-reschedule
      return `${iso.slice(0, 19)}+00:00`;
    case 'millis': // toISOString(): confirm, MEETING_*, no-show
      return iso;
  }
}

export function timeStyleFor(trigger: string, viaConfirm = false): TimeStyle {
  if (viaConfirm) return 'millis';
  if (trigger === 'BOOKING_CANCELLED') return 'offset';
  if (trigger.startsWith('MEETING_') || trigger === 'BOOKING_NO_SHOW_UPDATED') return 'millis';
  return 'plain';
}

function utcOffsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(at);
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

function person(p: { name: string; email: string; timeZone: string }, at: Date, extra: Record<string, unknown> = {}) {
  return {
    ...extra,
    name: p.name,
    email: p.email,
    timeZone: p.timeZone,
    language: { locale: 'en' },
    utcOffset: utcOffsetMinutes(p.timeZone, at),
  };
}

/**
 * A BOOKING_* payload shaped as Cal.com's `EventPayloadType` (CONTRACT §3.2), about 3 KB with the
 * fields real deliveries carry. `viaConfirm` builds the smaller confirm-path payload (§1.2): metadata
 * only `{videoCallUrl}` or absent, millisecond times, no reschedule fields.
 */
export function bookingPayload(b: PayloadBooking, trigger: string, options: { viaConfirm?: boolean; uppercaseStatus?: string } = {}) {
  const style = timeStyleFor(trigger, options.viaConfirm);
  const responses = {
    name: { label: 'your_name', value: b.attendee.name, isHidden: false },
    email: { label: 'email_address', value: b.attendee.email, isHidden: false },
    location: { label: 'location', value: { optionValue: '', value: 'inPerson' }, isHidden: false },
    notes: { label: 'additional_notes', value: 'First visit', isHidden: false },
    guests: { label: 'additional_guests', value: [], isHidden: false },
    rescheduleReason: { label: 'reason_for_reschedule', isHidden: false },
  };
  const payload: Record<string, unknown> = {
    bookerUrl: 'https://cal.com',
    type: b.eventTypeSlug,
    title: b.title,
    description: 'First visit',
    additionalNotes: 'First visit',
    customInputs: {},
    startTime: formatTime(b.start, style),
    endTime: formatTime(b.end, style),
    organizer: person(b.organizer, b.start, { id: b.organizer.id, username: b.organizer.username, timeFormat: 'h:mma' }),
    responses,
    userFieldsResponses: {},
    attendees: (b.attendees ?? [b.attendee]).map((a) => person(a, b.start)),
    location: b.location,
    destinationCalendar: null,
    hideCalendarNotes: false,
    hideCalendarEventDetails: false,
    requiresConfirmation: b.requiresConfirmation,
    eventTypeId: b.eventTypeId,
    seatsShowAttendees: true,
    seatsPerTimeSlot: b.seatsPerTimeSlot ?? null,
    seatsShowAvailabilityCount: true,
    schedulingType: b.schedulingType ?? null,
    iCalUID: `${b.uid}@Cal.com`,
    iCalSequence: 0,
    uid: b.uid,
    conferenceData: null,
    videoCallData: null,
    appsStatus: [{ appName: 'Google Calendar', type: 'google_calendar', success: 1, failures: 0, errors: [], warnings: [] }],
    eventTitle: b.eventTitle,
    eventDescription: 'An appointment at the clinic.',
    price: 0,
    currency: 'usd',
    length: b.lengthMinutes,
    bookingId: b.id,
    metadata: options.viaConfirm ? undefined : b.metadata,
    status: options.uppercaseStatus ?? b.status,
  };
  if (!options.viaConfirm && b.reschedule) {
    payload.rescheduleId = b.reschedule.id;
    payload.rescheduleUid = b.reschedule.uid;
    payload.rescheduleStartTime = formatTime(b.reschedule.start, 'plain');
    payload.rescheduleEndTime = formatTime(b.reschedule.end, 'plain');
    if (b.reschedule.by) payload.rescheduledBy = b.reschedule.by;
  }
  if (b.recurringEvent) payload.recurringEvent = b.recurringEvent;
  if (b.team) payload.team = { ...b.team, members: b.team.members.map((m) => person(m, b.start, 'id' in m ? { id: m.id } : {})) };
  if (b.cancellationReason !== undefined) payload.cancellationReason = b.cancellationReason;
  if (trigger === 'BOOKING_CANCELLED') payload.requestReschedule = false;
  if (b.rejectionReason !== undefined) payload.rejectionReason = b.rejectionReason;
  return payload;
}

/** CONTRACT §2.1: the exact body, compact, keys in this order. */
export function envelopeBody(trigger: string, payload: unknown, createdAt: Date): string {
  return JSON.stringify({ triggerEvent: trigger, createdAt: createdAt.toISOString(), payload });
}

/** CONTRACT §3.4: MEETING_* is the raw booking row with the trigger first, no envelope. */
export function meetingBody(b: PayloadBooking, trigger: 'MEETING_STARTED' | 'MEETING_ENDED'): string {
  return JSON.stringify({
    triggerEvent: trigger,
    id: b.id,
    uid: b.uid,
    userId: b.organizer.id,
    eventTypeId: b.eventTypeId,
    title: b.title,
    description: 'First visit',
    responses: { name: b.attendee.name, email: b.attendee.email },
    startTime: b.start.toISOString(),
    endTime: b.end.toISOString(),
    location: b.location,
    status: 'ACCEPTED',
    metadata: b.metadata,
    createdAt: b.createdAt.toISOString(),
    updatedAt: null,
    user: { email: b.organizer.email, name: b.organizer.name, timeZone: b.organizer.timeZone, username: b.organizer.username },
    attendees: [{ name: b.attendee.name, email: b.attendee.email, timeZone: b.attendee.timeZone, noShow: false }],
  });
}

/** CONTRACT §2.4: the UI's ping test; no uid, no bookingId. */
export function pingBody(now: Date): string {
  const at = formatTime(now, 'millis');
  const organizer = person({ name: 'Cal', email: 'no-reply@cal.com', timeZone: 'Europe/London' }, now);
  const attendee = person({ name: 'John Doe', email: 'jdoe@example.com', timeZone: 'Europe/London' }, now);
  return envelopeBody(
    'PING',
    { type: 'Test', title: 'Test trigger event', startTime: at, endTime: at, organizer, attendees: [attendee] },
    now,
  );
}

export function noShowBody(b: PayloadBooking, attendees: { email: string; noShow: boolean }[], now: Date): string {
  return envelopeBody('BOOKING_NO_SHOW_UPDATED', { message: 'x_marked_as_no_show', attendees, bookingUid: b.uid, bookingId: b.id }, now);
}

/** Cal.com uids are 22-character random strings. */
export function newUid(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

/** A plausible booking for demos, `usher trigger` and tests. */
export function sampleBooking(overrides: Partial<PayloadBooking> = {}): PayloadBooking {
  const start = overrides.start ?? new Date(Date.UTC(2026, 11, 1, 9, 0, 0));
  const length = overrides.lengthMinutes ?? 30;
  return {
    id: 1001,
    uid: newUid(),
    eventTypeId: 7,
    eventTypeSlug: 'consultation',
    eventTitle: 'Consultation',
    title: 'Consultation between Dr Ada Byron and Grace Hopper',
    lengthMinutes: length,
    requiresConfirmation: false,
    start,
    end: new Date(start.getTime() + length * 60_000),
    status: 'ACCEPTED',
    organizer: { id: 5, name: 'Dr Ada Byron', email: 'ada@clinic.example', username: 'ada', timeZone: 'Europe/London' },
    attendee: { name: 'Grace Hopper', email: 'grace@example.com', timeZone: 'Europe/London' },
    // An in-person appointment: Cal.com's "in person (organizer address)" location is the address.
    location: 'Harbour Clinic, 1 Quay Street, Bristol',
    metadata: {},
    createdAt: new Date(start.getTime() - 86_400_000),
    ...overrides,
  };
}
