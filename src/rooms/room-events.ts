import { batchRead, storedBooking, type BatchEvent, type BatchHooks, type BatchReads, type EventHandler } from '../jobs/handle-event.ts';
import { allSent, type Queryable } from '../store/db.ts';
import { getAssignment, hasActiveRooms, lockRoomPlanning, planDays, readBatchPlan, setAssignmentSpan } from '../store/rooms.ts';
import { hasDecision, recordDecision } from '../store/decisions.ts';
import {
  assignBooking,
  choiceWindow,
  followReschedule,
  noRoomReason,
  placeWaiting,
  REPLAN_READS_DAYS,
  releaseBooking,
  replanReads,
  type RoomDeps,
} from './room-planning.ts';

/**
 * The rooms' part around a worker's batch. A batch holds every lock its events take until it
 * commits; taken event by event, two batches in two processes could each hold a day the other waits
 * for (PostgreSQL breaks such a deadlock only after a second, failing one batch). So the batch
 * takes, before its first event and in one ascending order, the days its events will read: each
 * booking's choice window, and around every stay its bookings hold now the days a release or a move
 * re-plans. A day an event needs beyond these (a stay moved meanwhile) it still takes itself.
 */
export function roomBatchHooks(deps: RoomDeps): BatchHooks {
  return {
    prepare: (trx, events, reads, mode) => lockBatchDays(deps, trx, events, reads, mode),
    async finish() {
      // Every quick choice's check has arrived (room-day-cache.ts beginBatch); one that found the
      // store otherwise means a choice was made on a day that was not so: the batch must not commit.
      await deps.dayCache?.checksArrived();
      if (deps.dayCache?.endBatch()) throw new Error('a room choice found its day changed in its own batch; the batch runs again');
    },
    rolledBack: () => {
      deps.dayCache?.endBatch();
      // Days kept from a rolled-back savepoint may hold stays that never were (room-day-cache.ts).
      deps.dayCache?.forgetAll();
    },
  };
}

/** Whether any room was in service when the batch began (asked once for its events; see lockBatchDays). */
const ANY_ACTIVE_ROOMS = batchRead<boolean>('any_active_rooms');

async function lockBatchDays(
  deps: RoomDeps,
  trx: Queryable,
  events: readonly BatchEvent[],
  reads: BatchReads,
  mode: { isolated: boolean },
): Promise<void> {
  // Only once this process has seen rooms in service: a business without rooms takes no lock, and
  // asks once for the batch whether it has rooms now, instead of once per event (a first choice
  // takes its own days, as it would without the batch).
  if (!deps.dayCache?.hadActiveRooms) {
    reads.note(ANY_ACTIVE_ROOMS, await hasActiveRooms(trx));
    return;
  }
  const spans: { from: Date; to: Date }[] = [];
  const uids: string[] = [];
  // The bookings whose choices may take their kept day as the batch knows it: new ones (checked
  // below: no assignment yet) named by one event, up to the first event that may change a day in
  // another way than a choice the day cache follows — a reschedule, a release, a no-show, a
  // booking already in a room saved again (its row's change moves its days, migration 0015).
  const quick: string[] = [];
  let plain = !mode.isolated;
  for (const { parsed } of events) {
    if (parsed.outcome !== 'event') continue;
    const event = parsed.event;
    if (event.kind === 'booking') {
      spans.push(choiceWindow(deps, event.booking, deps.dayCache?.rooms));
      uids.push(event.booking.uid, ...(event.rescheduleUid ? [event.rescheduleUid] : []));
      if (plain && !event.rescheduleUid && reads.has(event.booking.uid)) quick.push(event.booking.uid);
      else plain = false;
    } else if (event.kind === 'no-show') {
      uids.push(event.bookingUid);
      plain = false;
    } else if (event.kind !== 'ping') plain = false;
  }
  if (spans.length === 0 && uids.length === 0) return;
  const locking = lockRoomPlanning(trx, spans, { uids, padDays: REPLAN_READS_DAYS });
  // Sent right behind the locks, answered in the same round trip; when the locks fail (a deadlock
  // broken by PostgreSQL, a timeout) the read fails behind them (db.ts allSent).
  const reading = quick.length > 0 ? readBatchPlan(trx, [...new Set(spans.flatMap(planDays))], quick) : undefined;
  const [, plan] = await allSent([locking, reading] as const);
  if (!plan || !deps.dayCache) return;
  if (!plan.anyActive) {
    deps.dayCache.hadActiveRooms = false;
    return;
  }
  const firstAssigned = quick.findIndex((uid) => plan.assigned.has(uid));
  deps.dayCache.beginBatch(trx, plan.generations, firstAssigned < 0 ? quick : quick.slice(0, firstAssigned));
}

/**
 * The rooms' part of handling an event; runs after the booking record (and the gate) in the
 * event's transaction, so a room change and the event's "done" commit together.
 */
export function roomEventHandler(deps: RoomDeps): EventHandler {
  return async (event, ctx) => {
    const { trx, now } = ctx;
    switch (event.kind) {
      case 'booking': {
        const booking = await storedBooking(ctx, event.booking.uid);
        if (!booking) return;
        switch (event.trigger) {
          case 'BOOKING_CREATED':
          case 'BOOKING_RESCHEDULED':
          case 'BOOKING_PAID':
          case 'BOOKING_REASSIGNED': {
            // Not accepted (the new booking was cancelled before its reschedule arrived: Cal.com does
            // not order deliveries), or not in person (a video call, a link or a phone call keeps its
            // own location): no room for it, but the booking it replaced is cancelled all the same,
            // so that one's room is freed, as in order.
            const notHere = booking.status === 'accepted' ? noRoomReason(booking, deps.settings) : undefined;
            if (booking.status !== 'accepted' || notHere?.code === 'room.not_in_person') {
              if (
                notHere &&
                (ctx.batch?.noted(ANY_ACTIVE_ROOMS) ?? (await hasActiveRooms(trx))) &&
                !(await hasDecision(trx, booking.uid, 'room', 'not_needed'))
              ) {
                // Said once in the decision log, with what the location is.
                await recordDecision(
                  trx,
                  {
                    bookingUid: booking.uid,
                    kind: 'room',
                    outcome: 'not_needed',
                    reasons: [{ ...notHere, location: booking.location ?? null }],
                  },
                  now,
                );
              }
              const replaced = event.rescheduleUid ? await storedBooking(ctx, event.rescheduleUid) : undefined;
              if (event.rescheduleUid && replaced?.status !== 'accepted' && (await getAssignment(trx, event.rescheduleUid))) {
                await releaseBooking(trx, deps, event.rescheduleUid, now, 'room.released.rescheduled');
              }
              return;
            }
            // A seat that moved leaves its class (still accepted) in its room: only the new booking is placed.
            const left = event.rescheduleUid ? await storedBooking(ctx, event.rescheduleUid) : undefined;
            if (event.rescheduleUid && left?.status !== 'accepted') await followReschedule(trx, deps, booking, event.rescheduleUid, now);
            // A reassigned booking keeps its room if the new doctor may use it (assignBooking checks).
            else
              await assignBooking(trx, deps, booking, now, {
                ...(event.trigger === 'BOOKING_REASSIGNED' ? { cause: 'reassigned' } : {}),
                anyActive: ctx.batch?.noted(ANY_ACTIVE_ROOMS),
              });
            return;
          }
          case 'BOOKING_REQUESTED':
            // A pending reschedule frees the old uid's room at once (Cal.com cancelled it, §1.2); the
            // new booking gets one when accepted, or now if the gate holds rooms for approvals.
            if (event.rescheduleUid && (await getAssignment(trx, event.rescheduleUid))) {
              await releaseBooking(trx, deps, event.rescheduleUid, now, 'room.released.rescheduled');
            }
            return;
          case 'BOOKING_CANCELLED':
          case 'BOOKING_REJECTED':
            if (booking.status === 'cancelled' || booking.status === 'rejected') {
              await releaseBooking(trx, deps, booking.uid, now, `room.released.${booking.status}`);
            }
            return;
          case 'BOOKING_PAYMENT_INITIATED':
            return;
        }
        return;
      }
      case 'no-show': {
        // Nobody came: the rest of the slot is free again (no cleaning after an empty room).
        if (event.attendees.length === 0 || event.attendees.some((a) => !a.noShow)) return;
        const seen = await getAssignment(trx, event.bookingUid);
        if (!seen?.room) return;
        // Its days and the days around (the re-plan's), then read again under them.
        await lockRoomPlanning(trx, [replanReads(seen)]);
        const a = await getAssignment(trx, event.bookingUid);
        if (!a?.room || now >= a.to || now <= a.from) return;
        await setAssignmentSpan(trx, a.bookingUid, a.from, now, now);
        await recordDecision(
          trx,
          {
            bookingUid: a.bookingUid,
            kind: 'room',
            outcome: 'released',
            reasons: [{ code: 'room.released.no_show', room: a.room, freeFrom: now.toISOString() }],
          },
          now,
        );
        await placeWaiting(trx, deps, { from: now, to: a.to }, now, 'no_show');
        return;
      }
      case 'meeting':
      case 'ping':
      case 'passive':
        // MEETING_STARTED/ENDED are kept on the booking (in use, then cleaning until the buffer ends).
        return;
    }
  };
}
