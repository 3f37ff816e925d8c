import type { Booking } from '../domain/booking.ts';
import type { BookingSnapshot, CalEvent } from '../domain/booking-event.ts';
import type { UsherEvent } from '../domain/usher-events.ts';
import type { EventHandler } from '../jobs/handle-event.ts';
import { waitingText } from '../operations/reason-text.ts';
import { getBookings } from '../store/bookings.ts';
import type { Db, Queryable } from '../store/db.ts';
import { takeUsherEvents } from '../store/decisions.ts';
import { getGateRecord } from '../store/gate-decisions.ts';
import { addJob } from '../store/jobs.ts';
import { getAssignment } from '../store/rooms.ts';
import type { Automation } from './automation-config.ts';

export const AUTOMATION_JOB = 'automation.deliver';

/** What templates read: the booking, its people, and the event's own fields. */
export type TemplateContext = Record<string, unknown>;

function fromSnapshot(b: BookingSnapshot): TemplateContext {
  return {
    booking: {
      uid: b.uid,
      title: b.title ?? null,
      start: b.start.toISOString(),
      end: b.end.toISOString(),
      status: b.status ?? null,
      eventTypeId: b.eventTypeId ?? null,
      eventTypeSlug: b.eventTypeSlug ?? null,
      location: b.location ?? null,
      metadata: b.metadata,
    },
    attendee: { name: b.attendee?.name ?? null, email: b.attendee?.email ?? null },
    organizer: { id: b.organizer.id ?? null, name: b.organizer.name ?? null, email: b.organizer.email ?? null },
  };
}

function fromBooking(b: Booking | undefined): TemplateContext {
  if (!b) return { booking: null, attendee: null, organizer: null };
  return {
    booking: {
      uid: b.uid,
      title: b.title ?? null,
      start: b.start.toISOString(),
      end: b.end.toISOString(),
      status: b.status,
      eventTypeId: b.eventTypeId ?? null,
      eventTypeSlug: b.eventTypeSlug ?? null,
      location: b.location ?? null,
      metadata: b.metadata,
    },
    attendee: { name: b.attendeeName ?? null, email: b.attendeeEmail ?? null },
    organizer: { id: b.organizerId ?? null, name: null, email: b.organizerEmail ?? null },
  };
}

const oneOf = <T>(want: T | readonly T[] | undefined, have: T | null | undefined) =>
  want === undefined || (Array.isArray(want) ? want.includes(have as T) : want === have);

/** The `when` filters: every one given must hold for the booking. */
export function matches(a: Automation, trigger: string, ctx: TemplateContext): boolean {
  if (!a.on.includes(trigger)) return false;
  const booking = (ctx.booking ?? {}) as { eventTypeId?: number | null; metadata?: Record<string, unknown> };
  const organizer = (ctx.organizer ?? {}) as { id?: number | null };
  if (!oneOf(a.when.eventTypeId, booking.eventTypeId)) return false;
  if (!oneOf(a.when.organizerId, organizer.id)) return false;
  for (const [k, v] of Object.entries(a.when.metadata ?? {})) if (String(booking.metadata?.[k]) !== String(v)) return false;
  return true;
}

async function enqueueDeliveries(
  trx: Queryable,
  automations: readonly Automation[],
  d: { trigger: string; source: string; bookingUid: string | null; context: TemplateContext; inboxEventId?: number; maxAttempts: number },
  now: Date,
): Promise<number> {
  let n = 0;
  for (const a of automations) {
    if (!matches(a, d.trigger, d.context)) continue;
    // Stable across retries and replays: the target's Idempotency-Key and Standard Webhooks id.
    const deliveryId = `usher-${a.name}-${d.source}`;
    await addJob(
      trx,
      {
        kind: AUTOMATION_JOB,
        payload: {
          automation: a.name,
          event: d.trigger,
          deliveryId,
          context: d.context,
          ...(d.inboxEventId ? { inboxEventId: d.inboxEventId } : {}),
        },
        ...(d.bookingUid ? { bookingUid: d.bookingUid } : {}),
        maxAttempts: d.maxAttempts,
      },
      now,
    );
    n += 1;
  }
  return n;
}

/** Cal.com's events: matched in the event's own transaction, so the deliveries commit with it. */
export function automationEventHandler(automations: readonly Automation[], maxAttempts: number): EventHandler {
  return async (event: CalEvent, { trx, inboxEvent, now }) => {
    // The webhook hot path: nothing to parse or build unless some automation wants this trigger.
    if (event.kind === 'ping' || !automations.some((a) => a.on.includes(event.trigger))) return;
    const payload = (JSON.parse(inboxEvent.rawBody) as { payload?: unknown }).payload ?? null;
    const booking =
      event.kind === 'booking' || event.kind === 'meeting'
        ? fromSnapshot(event.booking)
        : { booking: { uid: event.kind === 'no-show' ? event.bookingUid : (event.bookingUid ?? null) }, attendee: null, organizer: null };
    const extra =
      event.kind === 'booking'
        ? {
            cancellationReason: event.cancellationReason ?? null,
            rejectionReason: event.rejectionReason ?? null,
            rescheduleUid: event.rescheduleUid ?? null,
          }
        : {};
    const context = { event: event.trigger, at: now.toISOString(), ...booking, ...extra, payload };
    await enqueueDeliveries(
      trx,
      automations,
      {
        trigger: event.trigger,
        source: `evt_${inboxEvent.id}`,
        bookingUid: inboxEvent.bookingUid,
        context,
        inboxEventId: inboxEvent.id,
        maxAttempts,
      },
      now,
    );
  };
}

const WHY: Record<string, string> = {
  'room.room_unusable': 'its room became unusable',
  'room.made_way': 'it made way for another booking',
  'room.placed': 'a room came free',
  'room.no_room': 'no room is left',
  'room.assigned': 'chosen for the booking',
  'room.kept_after_reschedule': 'kept after a reschedule',
  'room.moved_by_operator': 'moved by staff',
};

async function usherContext(trx: Queryable, e: UsherEvent & { createdAt: Date }, bookings: Map<string, Booking>): Promise<TemplateContext> {
  const base = { event: e.kind, at: e.createdAt.toISOString(), ...fromBooking(e.bookingUid ? bookings.get(e.bookingUid) : undefined) };
  switch (e.kind) {
    case 'booking.approved':
    case 'booking.declined': {
      const gate = e.bookingUid ? await getGateRecord(trx, e.bookingUid) : undefined;
      return { ...base, reasons: e.data.reasons ?? [], reason: e.kind === 'booking.declined' ? (gate?.message ?? '') : '' };
    }
    case 'room.assigned':
    case 'room.moved':
    case 'booking.unassigned': {
      const assignment = e.bookingUid ? await getAssignment(trx, e.bookingUid) : undefined;
      const room = { ...(e.data.room as Record<string, unknown>), location: assignment?.locationText ?? null };
      const why = WHY[String(e.data.why)] ?? String(e.data.why ?? '');
      if (e.kind !== 'booking.unassigned') return { ...base, room, why };
      return { ...base, room, why, reasons: e.data.reasons ?? [], reason: waitingText({ excluded: e.data.reasons }) };
    }
    default:
      return { ...base, ...e.data };
  }
}

/**
 * Usher's own events: each taken, matched and turned into deliveries in one transaction (several
 * processes share the queue with SKIP LOCKED). Returns how many events were taken.
 */
export async function dispatchUsherEvents(
  db: Db,
  automations: readonly Automation[],
  maxAttempts: number,
  now: Date,
  batch = 100,
): Promise<number> {
  return db.transaction(async (trx) => {
    const events = await takeUsherEvents(trx, batch);
    if (events.length === 0 || automations.length === 0) return events.length;
    const wanted = events.filter((e) => automations.some((a) => a.on.includes(e.kind)));
    const bookings = await getBookings(trx, [...new Set(wanted.flatMap((e) => (e.bookingUid ? [e.bookingUid] : [])))]);
    for (const e of wanted) {
      const context = await usherContext(trx, e, bookings);
      await enqueueDeliveries(
        trx,
        automations,
        { trigger: e.kind, source: `ue_${e.id}`, bookingUid: e.bookingUid, context, maxAttempts },
        now,
      );
    }
    return events.length;
  });
}
