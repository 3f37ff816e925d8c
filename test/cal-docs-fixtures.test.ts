import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Usher } from '../src/main.ts';
import { getBooking } from '../src/store/bookings.ts';
import { listDecisions } from '../src/store/decisions.ts';
import { listInboxEvents } from '../src/store/inbox.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { postWebhook, startTestUsher, until } from './usher.ts';

// Cal.com's own published example of every trigger (test/fixtures/cal-docs/README.md says where
// from), sent signed and byte for byte as published: not Usher's picture of Cal.com, Cal.com's.
const DIR = new URL('./fixtures/cal-docs/', import.meta.url);
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ trigger: f.replace(/\.json$/, ''), raw: readFileSync(new URL(f, DIR), 'utf8') }));

const YAML = `
timeZone: UTC
worker: { pollIntervalMs: 20 }
reconciler: { intervalSeconds: 0 }
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
`;

describe.each(storeKinds)('Cal.com’s published webhook examples on %s', (kind) => {
  let store: TestStore;
  let usher: Usher;
  beforeAll(async () => {
    store = await openTestStore(kind);
    // The API is never reached: only what Usher makes of each body is looked at.
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: 'http://127.0.0.1:9', CAL_API_KEY: 'cal_x' }, yaml: YAML });
    for (const f of fixtures) {
      const res = await postWebhook(usher.url, f.raw);
      expect(res.status, `${f.trigger}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    }
    await until('every example handled', async () => {
      const events = await listInboxEvents(store.db, { limit: 100 });
      return events.length === fixtures.length && events.every((e) => e.state !== 'pending' && e.state !== 'running');
    });
  }, 60_000);
  afterAll(async () => {
    await usher?.close();
    await store?.close();
  });

  it('has an example of every trigger Usher acts on, and handles every one: none unreadable, none failed', async () => {
    const triggers = fixtures.map((f) => f.trigger);
    for (const t of ['BOOKING_CREATED', 'BOOKING_REQUESTED', 'BOOKING_RESCHEDULED', 'BOOKING_CANCELLED', 'BOOKING_REJECTED']) {
      expect(triggers).toContain(t);
    }
    for (const t of ['BOOKING_PAID', 'BOOKING_PAYMENT_INITIATED', 'BOOKING_NO_SHOW_UPDATED', 'MEETING_STARTED', 'MEETING_ENDED']) {
      expect(triggers).toContain(t);
    }
    const events = await listInboxEvents(store.db, { limit: 100 });
    // Done: handled (booking triggers) or recorded and let be (the triggers Usher takes no action on).
    expect(events.map((e) => `${e.trigger}:${e.state}`).sort()).toEqual(fixtures.map((f) => `${f.trigger}:done`).sort());
  });

  it('reads each booking as Cal.com meant it', async () => {
    // Video (integrations:video-provider): no room, and the link is left alone.
    expect(await getBooking(store.db, 'unique-booking-id')).toMatchObject({
      // REQUESTED (PENDING) and CREATED (ACCEPTED) share this uid in the docs: created wins.
      status: 'accepted',
      attendeeEmail: 'guest@example.com',
      location: 'integrations:video-provider',
    });
    const roomDecisions = await listDecisions(store.db, { kinds: ['room'], limit: 50 });
    expect(roomDecisions.filter((d) => d.bookingUid === 'unique-booking-id').map((d) => d.outcome)).toEqual(['not_needed']);
    expect(await getBooking(store.db, 'unique-booking-identifier')).toMatchObject({
      // REJECTED, CANCELLED, NO_SHOW and MEETING_* all name this uid; the first final state stays.
      status: expect.stringMatching(/^(rejected|cancelled)$/),
    });
    expect(await getBooking(store.db, 'new-booking-unique-id')).toMatchObject({
      status: 'accepted',
      rescheduledFromUid: 'previous-booking-unique-id',
      start: new Date('2024-01-10T14:30:00Z'),
    });
    // CONTRACT §1.2: PAYMENT_INITIATED says ACCEPTED while the booking is pending; PAID follows.
    expect((await getBooking(store.db, 'unique-booking-uid'))?.status).toMatch(/^(accepted|pending)$/);
  });

  it('reads the same body with its keys in another order the same way', async () => {
    const created = JSON.parse(fixtures.find((f) => f.trigger === 'BOOKING_CREATED')!.raw) as { payload: Record<string, unknown> };
    const reversed = Object.fromEntries(Object.entries({ ...created.payload, uid: 'reordered-uid' }).reverse());
    const body = JSON.stringify({ payload: reversed, createdAt: '2024-01-01T00:00:00.000Z', triggerEvent: 'BOOKING_CREATED' });
    expect((await postWebhook(usher.url, body)).status).toBeLessThan(300);
    const booking = await until('the reordered booking', () => getBooking(store.db, 'reordered-uid'));
    const original = (await getBooking(store.db, 'unique-booking-id'))!;
    expect(booking).toMatchObject({
      status: original.status,
      start: original.start,
      end: original.end,
      attendeeEmail: original.attendeeEmail,
      organizerId: original.organizerId,
      location: original.location,
    });
  });
});
