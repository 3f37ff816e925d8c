import type { EventHandler } from '../jobs/handle-event.ts';
import { followBookingLifecycle } from './credit-lifecycle.ts';
import { decideRequest, type GateDeps } from './decide-request.ts';

/** The gate's part of handling an event; runs after the booking record is up to date. */
export function gateEventHandler(deps: GateDeps): EventHandler {
  return async (event, ctx) => {
    if (event.kind !== 'booking') return;
    switch (event.trigger) {
      case 'BOOKING_REQUESTED':
        return decideRequest(event, ctx, deps);
      case 'BOOKING_CREATED':
      case 'BOOKING_RESCHEDULED':
      case 'BOOKING_REJECTED':
      case 'BOOKING_CANCELLED':
        return followBookingLifecycle(event, ctx, deps);
      // CONTRACT §1.2: a paid booking that needs confirmation reaches the gate as BOOKING_REQUESTED
      // after BOOKING_PAID; the payment events themselves decide nothing.
      case 'BOOKING_PAID':
      case 'BOOKING_PAYMENT_INITIATED':
        return;
    }
  };
}
