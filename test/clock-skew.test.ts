import { afterEach, describe, expect, it } from 'vitest';
import type { Usher } from '../src/main.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { FakeCal } from './fake-cal.ts';
import { openTestStore, type TestStore } from './stores.ts';
import { postWebhook, startTestUsher, until } from './usher.ts';

const TEN_MINUTES = 10 * 60_000;

// src/clock.ts: Usher's clock is the only one a query compares with. Here the application's clock
// runs ten minutes ahead of, then behind, the database server's — as with several Usher hosts
// beside one PostgreSQL server — and a webhook must still be decided and its Cal.com call made at
// once. With the database's now() as a column default, the event waited out the whole drift.
describe.each([
  ['ahead of', TEN_MINUTES],
  ['behind', -TEN_MINUTES],
])('Usher whose clock runs ten minutes %s the database', (_label, offsetMs) => {
  let store: TestStore;
  let usher: Usher;
  let cal: FakeCal;
  afterEach(async () => {
    await usher?.close();
    await cal?.stop();
    await store?.close();
  });

  it('decides a webhook and calls Cal.com at once', async () => {
    store = await openTestStore('postgres');
    cal = await new FakeCal().start();
    const clock = { now: () => new Date(Date.now() + offsetMs) };
    usher = await startTestUsher(store, {
      clock,
      runWorker: true,
      env: { CAL_API_URL: cal.url },
      yaml: 'eventTypes:\n  "9": { title: Physio, gate: { creditCost: 1 } }\nreconciler: { intervalSeconds: 0 }\n',
    });
    const start = new Date(clock.now().getTime() + 3 * 86_400_000);
    const booking = sampleBooking({
      eventTypeId: 9,
      requiresConfirmation: true,
      status: 'PENDING',
      start,
      end: new Date(start.getTime() + 1_800_000),
    });
    const res = await postWebhook(usher.url, envelopeBody('BOOKING_REQUESTED', bookingPayload(booking, 'BOOKING_REQUESTED'), clock.now()));
    expect(res.status).toBe(200);
    // Twenty seconds of real time: far less than the drift, so a wait for the database's clock to catch up fails.
    const call = await until('the decline reaches Cal.com', async () =>
      cal.requests.find((r) => r.path === `/v2/bookings/${booking.uid}/decline`),
    );
    expect(call.method).toBe('POST');
  });
});
