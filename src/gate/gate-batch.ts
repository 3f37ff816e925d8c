import { batchRead, type BatchHooks } from '../jobs/handle-event.ts';
import { getHolds, type CreditHold } from '../store/credits.ts';
import { getGateRecords, type GateRecord } from '../store/gate-decisions.ts';

/** The events followBookingLifecycle handles (gate-handler.ts sends them there). */
export const LIFECYCLE_TRIGGERS: ReadonlySet<string> = new Set([
  'BOOKING_CREATED',
  'BOOKING_RESCHEDULED',
  'BOOKING_REJECTED',
  'BOOKING_CANCELLED',
]);

/** A booking's credit hold and gate record, read for the whole batch (each handed to its event once). */
export const HOLDS = batchRead<CreditHold | undefined>('credit_holds');
export const GATE_RECORDS = batchRead<GateRecord | undefined>('gate_decisions');

/**
 * The gate's part of a worker's batch: the hold and gate record of each booking a request or a
 * lifecycle event names, read for all at once instead of a round trip each per event. Read behind
 * the batch's booking locks (bookingBatchHooks, sent first on the same connection), so no other
 * transaction changes them meanwhile; BatchReads hands them only for a booking one event names.
 */
export const gateBatchHooks: BatchHooks = {
  async prepare(trx, events, reads) {
    const uids = events.flatMap(({ parsed }) =>
      parsed.outcome === 'event' &&
      parsed.event.kind === 'booking' &&
      (parsed.event.trigger === 'BOOKING_REQUESTED' || LIFECYCLE_TRIGGERS.has(parsed.event.trigger)) &&
      reads.has(parsed.event.booking.uid)
        ? [parsed.event.booking.uid]
        : [],
    );
    if (uids.length === 0) return;
    const [holds, gates] = await Promise.all([getHolds(trx, uids), getGateRecords(trx, uids)]);
    reads.keep(HOLDS, new Map(uids.map((uid) => [uid, holds.get(uid)])));
    reads.keep(GATE_RECORDS, new Map(uids.map((uid) => [uid, gates.get(uid)])));
  },
};
