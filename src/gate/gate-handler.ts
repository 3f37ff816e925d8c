import type { EventHandler } from '../jobs/handle-event.ts';
import { followBookingLifecycle } from './credit-lifecycle.ts';
import { LIFECYCLE_TRIGGERS } from './gate-batch.ts';
import { decideRequest, type GateDeps } from './decide-request.ts';

/** The gate's part of handling an event; runs after the booking record is up to date. */
export function gateEventHandler(deps: GateDeps): EventHandler {
  return async (event, ctx) => {
    if (event.kind !== 'booking') return;
    if (event.trigger === 'BOOKING_REQUESTED') return decideRequest(event, ctx, deps);
    if (LIFECYCLE_TRIGGERS.has(event.trigger)) return followBookingLifecycle(event, ctx, deps);
    // CONTRACT §1.2: a paid booking that needs confirmation reaches the gate as BOOKING_REQUESTED
    // after BOOKING_PAID; the payment events (and a reassignment) decide nothing here.
  };
}
