import type { BookingStatus } from '../domain/booking-event.ts';
import { isUsherError } from '../errors.ts';
import type { CalBooking, CalClient } from './api-client.ts';

/** What the reconciler needs from the store, injected by the composition root. */
export interface ReconcilerPort {
  readWatermark(): Promise<Date | undefined>;
  writeWatermark(at: Date, now: Date): Promise<void>;
  /** Usher's own view of these bookings. */
  known(uids: readonly string[]): Promise<Map<string, { status: BookingStatus; start: Date; end: Date; seats?: number }>>;
  /** Feeds synthetic events into the inbox (deduplicated like webhooks); returns how many were new. */
  enqueue(
    events: readonly { dedupeKey: string; trigger: string; bookingUid: string; start: Date; rawBody: string }[],
    now: Date,
  ): Promise<number>;
}

export interface ReconcileResult {
  pages: number;
  seen: number;
  fed: number;
  watermark: string | undefined;
  stoppedEarly?: string;
}

// Cal.com's updatedAt and our reading of it can straddle a page boundary or a clock step: read a
// little behind the watermark; what is seen twice is deduplicated by its key.
const OVERLAP_MS = 60_000;

function triggerFor(b: CalBooking): string {
  switch (b.status) {
    case 'accepted':
      return b.rescheduledFromUid ? 'BOOKING_RESCHEDULED' : 'BOOKING_CREATED';
    case 'pending':
      return 'BOOKING_REQUESTED';
    case 'cancelled':
      return 'BOOKING_CANCELLED';
    case 'rejected':
      return 'BOOKING_REJECTED';
    default:
      return 'BOOKING_CREATED';
  }
}

/** The seats taken of a seated booking as the API lists it (its attendees carry seatUids), or undefined. */
function seatsOf(b: CalBooking): number | undefined {
  return b.attendees.some((a) => a.seatUid) ? b.attendees.length : undefined;
}

/** A webhook-shaped body for a booking read through the API, so the normal handlers decide. */
export function syntheticEvent(b: CalBooking, now: Date): { trigger: string; rawBody: string } {
  const trigger = triggerFor(b);
  const host = b.hosts[0];
  const attendee = b.attendees[0];
  const seated = seatsOf(b);
  const payload = {
    uid: b.uid,
    bookingId: b.id,
    eventTypeId: b.eventType?.id ?? b.eventTypeId ?? undefined,
    type: b.eventType?.slug,
    title: b.title,
    startTime: new Date(b.start).toISOString(),
    endTime: new Date(b.end).toISOString(),
    // API v2 statuses are lowercase, webhook payloads uppercase (CONTRACT §3.2).
    status: String(b.status).toUpperCase(),
    organizer: host ? { id: host.id, name: host.name, email: host.email } : undefined,
    // A seated booking lists every seat taken, as a new seat's webhook does (CONTRACT §1.2).
    attendees: (seated !== undefined ? b.attendees : attendee ? [attendee] : []).map((a) => ({ name: a.name, email: a.email })),
    ...(seated !== undefined ? { seatsPerTimeSlot: b.seatsPerTimeSlot ?? seated } : {}),
    location: b.location ?? null,
    metadata: b.metadata ?? {},
    ...(b.rescheduledFromUid ? { rescheduleUid: b.rescheduledFromUid } : {}),
    ...(b.cancellationReason ? { cancellationReason: b.cancellationReason } : {}),
    // Who cancelled: a host's cancellation refunds the member's credit (gate/credit-lifecycle.ts).
    ...(b.status === 'cancelled' && b.cancelledByEmail ? { cancelledBy: b.cancelledByEmail } : {}),
    ...(b.rejectionReason ? { rejectionReason: b.rejectionReason } : {}),
  };
  return { trigger, rawBody: JSON.stringify({ triggerEvent: trigger, createdAt: now.toISOString(), payload, usherSource: 'reconciler' }) };
}

/**
 * Feeds into the inbox, as synthetic events, the bookings Cal.com lists differently from what Usher
 * knows (status, times, or a class's seats); returns how many were new. The reconciler's pages and the series check
 * (jobs/cal-jobs.ts) go through here.
 */
export async function feedDifferences(
  port: Pick<ReconcilerPort, 'known' | 'enqueue'>,
  bookings: readonly CalBooking[],
  now: () => Date,
): Promise<number> {
  const known = await port.known(bookings.map((b) => b.uid));
  const feed = [];
  for (const b of bookings) {
    const mine = known.get(b.uid);
    const seats = seatsOf(b);
    const same =
      mine &&
      mine.status === b.status &&
      mine.start.getTime() === Date.parse(b.start) &&
      mine.end.getTime() === Date.parse(b.end) &&
      // A seat's webhook lost: the seats differ while the booking stands.
      (seats === undefined || b.status !== 'accepted' || mine.seats === seats);
    // CONTRACT §1.3: a reschedule is a new booking; Cal.com lists the old one as cancelled with
    // rescheduledToUid. For a booking Usher holds, that is no cancellation (which would refund its
    // credit and free its room for nothing): the new booking, listed with rescheduledFromUid, is
    // fed as the reschedule and carries both. One Usher never saw is still recorded, as cancelled.
    const replaced = b.status === 'cancelled' && !!b.rescheduledToUid && mine !== undefined;
    if (same || replaced) continue;
    const event = syntheticEvent(b, now());
    feed.push({
      dedupeKey: `reconcile:${b.uid}:${b.status}:${b.updatedAt ?? b.start}${seats !== undefined ? `:${seats}` : ''}`,
      trigger: event.trigger,
      bookingUid: b.uid,
      start: new Date(b.start),
      rawBody: event.rawBody,
    });
  }
  return port.enqueue(feed, now());
}

/**
 * Cal.com may never deliver a webhook (CONTRACT §2.3: one attempt, no retry on non-2xx). The
 * reconciler lists bookings changed since its watermark, compares them with what Usher knows, and
 * feeds any difference into the inbox as a synthetic event. Every page spends from the same rate
 * budget as the outbox; when the budget is spent it stops and resumes from where it got to.
 */
export async function reconcile(client: CalClient, port: ReconcilerPort, now: () => Date, pageSize = 250): Promise<ReconcileResult> {
  const start = await port.readWatermark();
  const after = start ? new Date(start.getTime() - OVERLAP_MS) : undefined;
  let watermark = start;
  const result: ReconcileResult = { pages: 0, seen: 0, fed: 0, watermark: start?.toISOString() };
  for (let skip = 0; ; skip += pageSize) {
    let page: Awaited<ReturnType<typeof client.listBookings>>;
    try {
      page = await client.listBookings({ ...(after ? { afterUpdatedAt: after } : {}), sortUpdatedAt: 'asc', take: pageSize, skip });
    } catch (error) {
      if (isUsherError(error, 'RATE_LIMITED') || (isUsherError(error) && error.retryable)) {
        result.stoppedEarly = error.message;
        break;
      }
      throw error;
    }
    result.pages++;
    result.seen += page.bookings.length;
    result.fed += await feedDifferences(port, page.bookings, now);
    for (const b of page.bookings) {
      const updated = b.updatedAt ? new Date(b.updatedAt) : undefined;
      if (updated && (!watermark || updated > watermark)) watermark = updated;
    }
    if (watermark) await port.writeWatermark(watermark, now());
    if (!page.pagination.hasNextPage) break;
  }
  result.watermark = watermark?.toISOString();
  return result;
}
