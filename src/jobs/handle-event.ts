import { parseWebhook, type ParsedWebhook } from '../cal/parse-webhook.ts';
import { applyBookingEvent, applyMeetingEvent, markRescheduled, seatsLeftAfterMove } from '../domain/booking.ts';
import type { CalEvent } from '../domain/booking-event.ts';
import type { Booking } from '../domain/booking.ts';
import { lockBooking, lockBookingsAndSuccessors, saveBooking, type BookingAndSuccessor } from '../store/bookings.ts';
import type { Queryable } from '../store/db.ts';
import { recordDecision } from '../store/decisions.ts';
import type { InboxEvent } from '../store/inbox.ts';

/** An inbox event as the worker read it: its stored body parsed once for the whole batch. */
export interface BatchEvent {
  inboxEvent: InboxEvent;
  parsed: ParsedInbox;
}

export type ParsedInbox = ParsedWebhook | { outcome: 'not-json' };

export function parseInboxEvent(inboxEvent: InboxEvent): ParsedInbox {
  let body: unknown;
  try {
    body = JSON.parse(inboxEvent.rawBody);
  } catch {
    return { outcome: 'not-json' };
  }
  return parseWebhook(body);
}

/** The bookings an event names: its own, and the one it replaces. */
function namedBookings(parsed: ParsedInbox): string[] {
  if (parsed.outcome !== 'event') return [];
  const event = parsed.event;
  if (event.kind === 'booking') return [event.booking.uid, ...(event.rescheduleUid ? [event.rescheduleUid] : [])];
  if (event.kind === 'meeting') return [event.booking.uid];
  if ((event.kind === 'no-show' || event.kind === 'passive') && event.bookingUid) return [event.bookingUid];
  return [];
}

/** One kind of read a batch makes for all its events (BatchReads). */
export interface BatchRead<T> {
  readonly name: string;
  /** Only for the type: never set. */
  readonly value?: T;
}

export function batchRead<T>(name: string): BatchRead<T> {
  return { name };
}

/**
 * Reads made once for a whole batch of events (a worker's BatchHooks.prepare, one round trip for
 * all), each handed to the one event that asks first. Only for bookings exactly one event of the
 * batch names (its own or the one it replaces): no other event's write can have made the read
 * stale. And only once: what the event itself writes afterwards, a second read asks the store for.
 */
export class BatchReads {
  /** Bookings exactly one of the batch's events names, in byte order (the order their rows are locked in). */
  readonly uids: readonly string[];
  readonly #once: ReadonlySet<string>;
  readonly #kept = new Map<string, Map<string, unknown>>();
  readonly #noted = new Map<string, unknown>();

  constructor(events: readonly BatchEvent[]) {
    const times = new Map<string, number>();
    for (const e of events) for (const uid of new Set(namedBookings(e.parsed))) times.set(uid, (times.get(uid) ?? 0) + 1);
    this.uids = [...times]
      .filter(([, n]) => n === 1)
      .map(([uid]) => uid)
      .sort();
    this.#once = new Set(this.uids);
  }

  /** Whether exactly one of the batch's events names this booking. */
  has(uid: string): boolean {
    return this.#once.has(uid);
  }

  /** A fact about the whole batch (not one booking's), read once for all its events. */
  note<T>(read: BatchRead<T>, value: T): void {
    this.#noted.set(read.name, value);
  }

  noted<T>(read: BatchRead<T>): T | undefined {
    return this.#noted.get(read.name) as T | undefined;
  }

  /** Keeps a read made for the batch's bookings (those it `has`), by booking. */
  keep<T>(read: BatchRead<T>, values: ReadonlyMap<string, T>): void {
    this.#kept.set(read.name, new Map(values));
  }

  /** The batch's read for one booking, handed once (a second ask gets nothing: the store is asked). */
  take<T>(read: BatchRead<T>, uid: string): { value: T } | undefined {
    const kept = this.#kept.get(read.name);
    if (!kept?.has(uid)) return undefined;
    const value = kept.get(uid) as T;
    kept.delete(uid);
    return { value };
  }
}

/** The batch's read for `uid` if it made one (once), else `read()`: the store asked now. */
export async function fromBatch<T>(ctx: EventContext, kind: BatchRead<T>, uid: string, read: () => Promise<T>): Promise<T> {
  const kept = ctx.batch?.take(kind, uid);
  return kept ? kept.value : read();
}

export interface BatchHooks {
  /**
   * Runs in a batch's transaction before its first event: takes, in one order, locks its events'
   * handlers would otherwise take one by one, and reads for all of them what each would ask alone
   * (kept in `reads`). The worker starts every feature's at once: their statements share a round trip.
   */
  prepare?(trx: Queryable, events: readonly BatchEvent[], reads: BatchReads, mode: { isolated: boolean }): Promise<void>;
  /**
   * Runs after the batch's last event, before it commits. Throwing fails a whole batch, which then
   * runs again isolated (a savepoint per event, `mode.isolated` in prepare).
   */
  finish?(): Promise<void>;
  /** Part or all of a batch's transaction rolled back: anything remembered from it may never have happened. */
  rolledBack?(): void;
}

const BOOKINGS = batchRead<BookingAndSuccessor>('bookings');

/** A booking locked for the event, with its successor: from the batch's read if it made one, else asked now. */
function lockedBooking(ctx: EventContext, uid: string): Promise<BookingAndSuccessor> {
  return fromBatch(ctx, BOOKINGS, uid, async () => (await lockBookingsAndSuccessors(ctx.trx, [uid])).get(uid)!);
}

/** recordBookingState's part of a batch: its bookings, locked, with their successors (what it asks first of each). */
export const bookingBatchHooks: BatchHooks = {
  async prepare(trx, _events, reads) {
    if (reads.uids.length > 0) reads.keep(BOOKINGS, await lockBookingsAndSuccessors(trx, reads.uids));
  },
};

export interface EventContext {
  trx: Queryable;
  inboxEvent: InboxEvent;
  now: Date;
  /** What the batch read for all its events (BatchReads); absent outside a worker's batch. */
  batch?: BatchReads;
  /**
   * Bookings as this event left them in its transaction, by uid (recordBookingState, the only
   * writer of booking rows, fills it): later handlers read them here instead of asking again.
   */
  stored?: Map<string, Booking>;
}

/**
 * A booking as the event's transaction holds it now, locked: from what this event stored (locked
 * when it was), else locked and read from the store.
 */
export async function storedBooking(ctx: EventContext, uid: string): Promise<Booking | undefined> {
  return ctx.stored?.get(uid) ?? (await lockBooking(ctx.trx, uid));
}

/** A feature's reaction to an event (gate, rooms, automations add theirs); runs in the event's transaction. */
export type EventHandler = (event: CalEvent, ctx: EventContext) => Promise<void>;

export type EventOutcome = { state: 'done' } | { state: 'ignored' | 'unprocessable'; note: string };

/** Keeps Usher's booking records in step with Cal.com; every change is logged as a decision. */
export const recordBookingState: EventHandler = async (event, ctx) => {
  const { trx, inboxEvent, now, stored } = ctx;
  const log = (bookingUid: string, outcome: string, reason: string, detail: Record<string, unknown> = {}) =>
    recordDecision(
      trx,
      { bookingUid, inboxEventId: inboxEvent.id, kind: 'booking.state', outcome, reasons: [{ code: reason }], detail },
      now,
    );

  switch (event.kind) {
    case 'booking': {
      const { booking: previous, successor } = await lockedBooking(ctx, event.booking.uid);
      let change = applyBookingEvent(previous, event);
      // CONTRACT §1.3: a reschedule cancels the old booking silently, and Cal.com does not order its
      // deliveries: when the newer booking arrived first, this one's late events find it replaced and
      // leave it cancelled, exactly as if they had come in order (no ghost holding a room).
      if (
        !event.rescheduleUid &&
        (change.booking.status === 'accepted' || change.booking.status === 'pending') &&
        !change.booking.rescheduledToUid
      ) {
        if (successor)
          change = {
            booking: markRescheduled(change.booking, successor),
            previous,
            reason: `cal.${event.trigger}.already_rescheduled`,
            changed: true,
          };
      }
      if (change.changed || !previous) stored?.set(event.booking.uid, await saveBooking(trx, change.booking, now));
      else if (previous) stored?.set(event.booking.uid, previous);
      if (event.rescheduleUid) {
        const { booking: old } = await lockedBooking(ctx, event.rescheduleUid);
        // One seat of a class moving to another slot leaves the class standing for the others.
        const staying = old?.status === 'accepted' ? seatsLeftAfterMove(old, event) : undefined;
        if (old && staying) stored?.set(old.uid, await saveBooking(trx, { ...old, seats: staying }, now));
        else if (old && old.rescheduledToUid !== event.booking.uid)
          stored?.set(old.uid, await saveBooking(trx, markRescheduled(old, event.booking.uid), now));
        else if (old) stored?.set(old.uid, old);
      }
      await log(
        event.booking.uid,
        change.booking.status,
        change.reason,
        event.rescheduleUid ? { rescheduledFrom: event.rescheduleUid } : {},
      );
      return;
    }
    case 'meeting': {
      const { booking: previous } = await lockedBooking(ctx, event.booking.uid);
      const change = applyMeetingEvent(previous, event);
      if (change.changed || !previous) stored?.set(event.booking.uid, await saveBooking(trx, change.booking, now));
      else if (previous) stored?.set(event.booking.uid, previous);
      await log(event.booking.uid, change.booking.meetingState ?? change.booking.status, change.reason);
      return;
    }
    case 'no-show':
      await log(event.bookingUid, 'no_show_updated', 'cal.BOOKING_NO_SHOW_UPDATED', {
        absent: event.attendees.filter((a) => a.noShow).length,
        present: event.attendees.filter((a) => !a.noShow).length,
      });
      return;
    case 'ping':
    case 'passive':
      return;
  }
};

/**
 * Parses the stored raw body again (the inbox is an edge too: a replay must see what arrived) and
 * runs every handler in the caller's transaction, which also marks the event done.
 */
export async function handleInboxEvent(
  handlers: readonly EventHandler[],
  ctx: EventContext,
  parsed: ParsedInbox = parseInboxEvent(ctx.inboxEvent),
): Promise<EventOutcome> {
  switch (parsed.outcome) {
    case 'not-json':
      return { state: 'unprocessable', note: 'stored body is not JSON' };
    case 'unknown-trigger':
      return { state: 'ignored', note: `unknown trigger ${parsed.trigger}` };
    case 'invalid':
      return { state: 'unprocessable', note: parsed.problems.join('; ').slice(0, 2000) };
    case 'event':
      for (const handler of handlers) await handler(parsed.event, ctx);
      return { state: 'done' };
  }
}
