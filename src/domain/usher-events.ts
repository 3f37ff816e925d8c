import { knownTriggers } from './booking-event.ts';

/**
 * Usher's own events, for automations: what Usher decided, as opposed to what Cal.com sent. Each
 * comes from a decision row (or a dead-lettered job), written in the same transaction as the
 * change it reports, so none is lost and none is invented by a rollback.
 */
export const usherEventKinds = [
  'booking.approved',
  'booking.declined',
  'room.assigned',
  'room.moved',
  'booking.unassigned',
  'room.blocked',
  'job.dead',
] as const;
export type UsherEventKind = (typeof usherEventKinds)[number];

export interface UsherEvent {
  kind: UsherEventKind;
  bookingUid: string | null;
  data: Record<string, unknown>;
}

interface DecisionLike {
  kind: string;
  outcome: string;
  bookingUid?: string | undefined;
  reasons: readonly { code: string; [k: string]: unknown }[];
}

/** The Usher event a decision announces, if any. */
export function usherEventOf(d: DecisionLike): UsherEvent | undefined {
  const uid = d.bookingUid ?? null;
  const first = d.reasons[0] ?? { code: '' };
  if (d.kind === 'gate' && (d.outcome === 'approve' || d.outcome === 'decline')) {
    return {
      kind: d.outcome === 'approve' ? 'booking.approved' : 'booking.declined',
      bookingUid: uid,
      data: { reasons: d.reasons.filter((r) => r.ok === false || r.code.startsWith('operator.')).map((r) => r.code) },
    };
  }
  if (d.kind !== 'room') return undefined;
  const to = (first.to ?? first.room ?? null) as string | null;
  switch (d.outcome) {
    case 'assigned':
      return { kind: 'room.assigned', bookingUid: uid, data: { room: { from: null, to, name: to }, why: first.code } };
    case 'moved':
      return {
        kind: 'room.moved',
        bookingUid: uid,
        data: { room: { from: (first.from as string | null) ?? null, to, name: to }, why: first.code },
      };
    case 'unassigned':
      return {
        kind: 'booking.unassigned',
        bookingUid: uid,
        data: { room: { from: (first.from as string | null) ?? null, to: null, name: null }, why: first.code, reasons: d.reasons },
      };
    case 'blocked':
      return {
        kind: 'room.blocked',
        bookingUid: null,
        data: { block: { room: first.room, reason: first.reason, from: first.from, until: first.until, by: first.by } },
      };
    default:
      return undefined;
  }
}

const BOOKING_FIELDS = [
  'event',
  'at',
  'booking.uid',
  'booking.title',
  'booking.start',
  'booking.end',
  'booking.status',
  'booking.eventTypeId',
  'booking.eventTypeSlug',
  'booking.location',
  'booking.metadata.*',
  'attendee.name',
  'attendee.email',
  'organizer.id',
  'organizer.name',
  'organizer.email',
];
const ROOM_FIELDS = ['room.from', 'room.to', 'room.name', 'room.location', 'why'];

/** What a template may name for each trigger (Cal.com's, or Usher's own). */
export function templateFieldsFor(trigger: string): readonly string[] | undefined {
  switch (trigger) {
    case 'booking.approved':
    case 'booking.declined':
      return [...BOOKING_FIELDS, 'reason', 'reasons'];
    case 'room.assigned':
    case 'room.moved':
      return [...BOOKING_FIELDS, ...ROOM_FIELDS];
    case 'booking.unassigned':
      return [...BOOKING_FIELDS, ...ROOM_FIELDS, 'reason', 'reasons'];
    case 'room.blocked':
      return ['event', 'at', 'block.room', 'block.reason', 'block.from', 'block.until', 'block.by'];
    case 'job.dead':
      return [...BOOKING_FIELDS, 'job.id', 'job.kind', 'job.error', 'job.attempts'];
    default:
      return knownTriggers.includes(trigger)
        ? [...BOOKING_FIELDS, 'cancellationReason', 'rejectionReason', 'rescheduleUid', 'payload.*']
        : undefined;
  }
}
