import { createHash } from 'node:crypto';

/**
 * Cal.com sends no delivery id (CONTRACT §2.1), and the same event arrives once per matching
 * subscription (§2.3): those copies share the trigger, the booking uid and the payload, and differ
 * only in the envelope's `createdAt`, which each send stamps anew. So a duplicate is:
 *
 *   trigger + booking uid + hash of the payload (envelope `createdAt` left out).
 *
 * Hashing the payload (not just trigger + uid) keeps real repeats apart: a second seat cancelled on
 * one booking, or no-show marks that change, are new events with the same trigger and uid.
 *
 * One case needs more: an event whose content can come back identical as a new fact — a no-show
 * marked, unmarked and marked again, a test PING, a routing form submitted twice. For those, the key
 * also carries the time bucket (`repeatWindowSeconds`) of the envelope's `createdAt`, so copies sent
 * together are one event and the same content later is another. The rare copy pair that straddles a
 * bucket boundary is processed twice, which these triggers' handlers tolerate (they set state, they
 * do not add to it). Booking lifecycle triggers never repeat for one uid, so for them a copy replayed
 * any time later is still a duplicate — which also blunts replays of a captured request, as Cal.com's
 * signature carries no timestamp.
 */
const REPEATABLE_TRIGGERS = new Set([
  'BOOKING_NO_SHOW_UPDATED',
  'PING',
  'FORM_SUBMITTED',
  'FORM_SUBMITTED_NO_EVENT',
  'BOOKING_LOCATION_UPDATED',
  'BOOKING_REASSIGNED',
  'AFTER_HOSTS_CAL_VIDEO_NO_SHOW',
  'AFTER_GUESTS_CAL_VIDEO_NO_SHOW',
]);

export function webhookDedupeKey(
  trigger: string,
  bookingUid: string | undefined,
  body: Record<string, unknown>,
  options: { receivedAt: Date; repeatWindowSeconds: number },
): string {
  // MEETING_* have no envelope (§3.4): their root `createdAt` is the booking's, stable across copies.
  const content = 'payload' in body ? body.payload : body;
  const digest = createHash('sha256')
    .update(JSON.stringify(content) ?? '')
    .digest('base64url')
    .slice(0, 32);
  let key = `${trigger}:${bookingUid ?? '-'}:${digest}`;
  if (REPEATABLE_TRIGGERS.has(trigger)) {
    const created = typeof body.createdAt === 'string' ? Date.parse(body.createdAt) : Number.NaN;
    const at = Number.isNaN(created) ? options.receivedAt.getTime() : created;
    key += `:${Math.floor(at / (options.repeatWindowSeconds * 1000))}`;
  }
  return key;
}

/** A body that could not be understood is kept once per exact byte sequence. */
export function rawDedupeKey(rawBody: Buffer): string {
  return `raw:${createHash('sha256').update(rawBody).digest('base64url').slice(0, 43)}`;
}
