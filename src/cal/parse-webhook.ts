import { z } from 'zod';
import {
  bookingTriggers,
  isKnownTrigger,
  passiveTriggers,
  type BookingSnapshot,
  type BookingStatus,
  type CalEvent,
} from '../domain/booking-event.ts';

// CONTRACT §3.2: three ISO-8601 forms arrive (`Z`, `.000Z`, `+00:00`); parse them, never compare strings.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const isoTime = z
  .string()
  .regex(ISO_DATE_TIME, 'expected an ISO-8601 date-time with an offset')
  .transform((value, ctx) => {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: `not a real date-time: ${value}` });
      return z.NEVER;
    }
    return date;
  });

const idNumber = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const person = z.looseObject({
  id: idNumber.optional().catch(undefined),
  name: z.string().nullish(),
  email: z.string().nullish(),
});
const metadata = z.record(z.string(), z.unknown()).nullish().catch({});
// Booking payloads carry status in uppercase, unlike API v2 (CONTRACT §3.2).
const payloadStatus = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['pending', 'accepted', 'cancelled', 'rejected', 'awaiting_host']))
  .optional()
  .catch(undefined);

const responses = z.record(z.string(), z.unknown()).nullish().catch(undefined);

/**
 * A booking must end after it starts: the store keeps its time as a range, which refuses an end
 * before the start (and the rooms refuse an empty one), so the worker would fail on it at every
 * attempt. Caught at the door instead, and kept as unprocessable with the reason.
 */
// zod runs an object's refinement even when a field failed: only compare two real dates.
const endsAfterStart = (p: { startTime: unknown; endTime: unknown }) =>
  !(p.startTime instanceof Date && p.endTime instanceof Date) || p.endTime.getTime() > p.startTime.getTime();
const endsAfterStartIssue = { message: 'endTime must be after startTime', path: ['endTime'] };

const bookingPayload = z
  .looseObject({
    uid: z.string().min(1),
    bookingId: idNumber.nullish(),
    eventTypeId: idNumber.nullish(),
    type: z.string().nullish(),
    title: z.string().nullish(),
    startTime: isoTime,
    endTime: isoTime,
    status: payloadStatus,
    organizer: person.nullish(),
    attendees: z.array(person).nullish(),
    responses,
    location: z.string().nullish(),
    metadata,
    rescheduleUid: z.string().nullish(),
    cancellationReason: z.string().nullish(),
    // CONTRACT §1.2: the canceller's e-mail, or absent (API v2 cancels never set it).
    cancelledBy: z.string().nullish().catch(undefined),
    rejectionReason: z.string().nullish(),
    requestReschedule: z.boolean().nullish(),
    // CONTRACT §3.2: null unless the event type is seated.
    seatsPerTimeSlot: z.number().int().positive().nullish().catch(undefined),
    // CONTRACT §3.2: the event type's rule ({freq, count, interval}) on an occurrence of a series.
    recurringEvent: z.looseObject({ freq: z.number(), count: z.number() }).nullish().catch(undefined),
    // CONTRACT §3.2: team events; a collective one's other hosts come in `team.members`.
    schedulingType: z.string().nullish().catch(undefined),
    team: z
      .looseObject({ members: z.array(person).catch([]) })
      .nullish()
      .catch(undefined),
  })
  .refine(endsAfterStart, endsAfterStartIssue);

const envelope = z.looseObject({
  triggerEvent: z.string(),
  createdAt: isoTime.optional().catch(undefined),
  payload: z.unknown(),
});

// CONTRACT §3.4: MEETING_* bodies are the raw booking row with the trigger at the root, no envelope.
const meetingBody = z
  .looseObject({
    triggerEvent: z.enum(['MEETING_STARTED', 'MEETING_ENDED']),
    id: idNumber.nullish(),
    uid: z.string().min(1),
    eventTypeId: idNumber.nullish(),
    userId: idNumber.nullish(),
    title: z.string().nullish(),
    startTime: isoTime,
    endTime: isoTime,
    status: payloadStatus,
    location: z.string().nullish(),
    metadata,
    responses,
    user: person.nullish(),
    attendees: z.array(person).nullish(),
  })
  .refine(endsAfterStart, endsAfterStartIssue);

const noShowPayload = z.looseObject({
  bookingUid: z.string().min(1),
  attendees: z.array(z.looseObject({ email: z.string(), noShow: z.boolean() })).default([]),
});

export type ParsedWebhook =
  | { outcome: 'event'; event: CalEvent }
  | { outcome: 'unknown-trigger'; trigger: string }
  | { outcome: 'invalid'; trigger: string | undefined; bookingUid: string | undefined; problems: string[] };

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

function responseEmail(value: Record<string, unknown> | null | undefined): string | undefined {
  const entry = value?.email;
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object' && typeof (entry as { value?: unknown }).value === 'string') {
    return (entry as { value: string }).value;
  }
  return undefined;
}

function cleanPerson(p: z.infer<typeof person> | null | undefined) {
  if (!p) return {};
  return {
    ...(p.id !== undefined ? { id: p.id } : {}),
    ...(p.name ? { name: p.name } : {}),
    ...(p.email ? { email: p.email } : {}),
  };
}

/** CONTRACT §3.2: a collective team event's other hosts (`team.members`), each in the room too. */
function collectiveHosts(p: z.infer<typeof bookingPayload> | z.infer<typeof meetingBody>): { coHosts?: string[] } {
  if (!('schedulingType' in p) || String(p.schedulingType).toUpperCase() !== 'COLLECTIVE' || !('team' in p) || !p.team) return {};
  const members = (p.team as { members: { id?: number; email?: string | null }[] }).members;
  // Each as "id|email" (either may be missing): the config names doctors by either.
  return { coHosts: members.map((m) => `${m.id ?? ''}|${m.email?.toLowerCase() ?? ''}`).filter((k) => k !== '|') };
}

function snapshot(
  p: z.infer<typeof bookingPayload> | z.infer<typeof meetingBody>,
  organizer: z.infer<typeof person> | null | undefined,
): BookingSnapshot {
  const first = p.attendees?.[0];
  const email = first?.email ?? responseEmail(p.responses);
  const status = p.status === 'awaiting_host' ? 'pending' : (p.status as BookingStatus | undefined);
  const calId = ('bookingId' in p ? p.bookingId : 'id' in p ? p.id : undefined) as number | null | undefined;
  const slug = ('type' in p ? p.type : undefined) as string | null | undefined;
  return {
    uid: p.uid,
    ...(calId != null ? { calId } : {}),
    ...(p.eventTypeId != null ? { eventTypeId: p.eventTypeId } : {}),
    ...(slug ? { eventTypeSlug: slug } : {}),
    ...(p.title ? { title: p.title } : {}),
    start: p.startTime,
    end: p.endTime,
    ...(status ? { status } : {}),
    organizer: cleanPerson(organizer),
    ...(first || email ? { attendee: { ...cleanPerson(first), ...(email ? { email } : {}) } } : {}),
    ...(p.location ? { location: p.location } : {}),
    metadata: p.metadata ?? {},
    ...('seatsPerTimeSlot' in p && typeof p.seatsPerTimeSlot === 'number' ? { seatsPerTimeSlot: p.seatsPerTimeSlot } : {}),
    attendeeEmails: (p.attendees ?? []).flatMap((a) => (a.email ? [a.email.toLowerCase()] : [])),
    ...('recurringEvent' in p && p.recurringEvent ? { inSeries: true } : {}),
    ...collectiveHosts(p),
  };
}

/**
 * Turns a webhook body (already JSON-parsed) into a domain event. Never throws: a body that does not
 * fit is reported as invalid with its problems, so the receiver can store it as unprocessable
 * (Cal.com never resends; rejecting it would lose it).
 */
export function parseWebhook(body: unknown): ParsedWebhook {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { outcome: 'invalid', trigger: undefined, bookingUid: undefined, problems: ['body is not a JSON object'] };
  }
  const record = body as Record<string, unknown>;
  const trigger = typeof record.triggerEvent === 'string' ? record.triggerEvent : undefined;
  if (!trigger) {
    return { outcome: 'invalid', trigger: undefined, bookingUid: undefined, problems: ['triggerEvent: missing'] };
  }
  if (!isKnownTrigger(trigger)) return { outcome: 'unknown-trigger', trigger };

  if (trigger === 'MEETING_STARTED' || trigger === 'MEETING_ENDED') {
    const parsed = meetingBody.safeParse(body);
    if (!parsed.success) return invalid(trigger, record.uid, parsed.error);
    return { outcome: 'event', event: { kind: 'meeting', trigger, booking: snapshot(parsed.data, parsed.data.user) } };
  }

  const env = envelope.safeParse(body);
  if (!env.success) return invalid(trigger, undefined, env.error);
  const createdAt = env.data.createdAt;
  const base = createdAt ? { createdAt } : {};
  const payload = env.data.payload;

  if (trigger === 'PING') return { outcome: 'event', event: { kind: 'ping', trigger, ...base } };

  if (trigger === 'BOOKING_NO_SHOW_UPDATED') {
    const parsed = noShowPayload.safeParse(payload);
    if (!parsed.success) return invalid(trigger, (payload as { bookingUid?: unknown })?.bookingUid, parsed.error, 'payload');
    return {
      outcome: 'event',
      event: {
        kind: 'no-show',
        trigger,
        ...base,
        bookingUid: parsed.data.bookingUid,
        attendees: parsed.data.attendees.map((a) => ({ email: a.email, noShow: a.noShow })),
      },
    };
  }

  if ((passiveTriggers as readonly string[]).includes(trigger)) {
    const p = (payload ?? {}) as Record<string, unknown>;
    const uid = typeof p.uid === 'string' ? p.uid : typeof p.bookingUid === 'string' ? p.bookingUid : undefined;
    return {
      outcome: 'event',
      event: { kind: 'passive', trigger: trigger as (typeof passiveTriggers)[number], ...base, ...(uid ? { bookingUid: uid } : {}) },
    };
  }

  if ((bookingTriggers as readonly string[]).includes(trigger)) {
    const parsed = bookingPayload.safeParse(payload);
    if (!parsed.success) return invalid(trigger, (payload as { uid?: unknown })?.uid, parsed.error, 'payload');
    const p = parsed.data;
    return {
      outcome: 'event',
      event: {
        kind: 'booking',
        trigger: trigger as (typeof bookingTriggers)[number],
        ...base,
        booking: snapshot(p, p.organizer),
        ...(p.rescheduleUid ? { rescheduleUid: p.rescheduleUid } : {}),
        ...(p.cancellationReason ? { cancellationReason: p.cancellationReason } : {}),
        ...(p.cancelledBy ? { cancelledBy: p.cancelledBy } : {}),
        ...(p.rejectionReason ? { rejectionReason: p.rejectionReason } : {}),
        ...(p.requestReschedule != null ? { requestReschedule: p.requestReschedule } : {}),
      },
    };
  }
  return { outcome: 'unknown-trigger', trigger };
}

function invalid(trigger: string, uid: unknown, error: z.ZodError, prefix?: string): ParsedWebhook {
  const problems = problemsOf(error).map((p) => (prefix ? `${prefix}.${p}` : p));
  return { outcome: 'invalid', trigger, bookingUid: typeof uid === 'string' ? uid : undefined, problems };
}
