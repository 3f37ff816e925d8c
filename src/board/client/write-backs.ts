import type { BoardView } from './api.ts';

type WriteBack = BoardView['attention']['writeBacks'][number];

/** A queued write-back counts as overdue this long after the time it was expected. */
const OVERDUE_MS = 60_000;

/**
 * Whether a write-back to Cal.com needs a person, or is only on its way. Cal.com takes five
 * location updates a minute (CONTRACT §4.1), so a morning's new bookings — or the demo's first
 * minutes — queue behind the rate limit as a matter of course; each one counted under "Needs
 * attention" made a red count of what nobody has to act on. A write-back needs a person when an
 * attempt failed, when it is overdue (expected over a minute ago: is Usher's worker running?), or
 * when it will reach Cal.com only after its booking starts (the patient may arrive before Cal.com
 * shows the room).
 */
export function needsPerson(w: WriteBack, bookingStart: string | undefined, now: number): boolean {
  if (w.attempts > 0 && w.lastError) return true;
  if (w.state === 'sending') return false;
  return Date.parse(w.expectedAt) < now - OVERDUE_MS || afterStart(w, bookingStart);
}

/** Whether a queued write-back is expected to reach Cal.com only after its booking starts. */
export function afterStart(w: WriteBack, bookingStart: string | undefined): boolean {
  return w.state === 'queued' && bookingStart !== undefined && Date.parse(w.expectedAt) > Date.parse(bookingStart);
}
