import { request } from 'undici';
import { beforeEach, describe, expect, it } from 'vitest';
import { signBody } from '../cal/verify-signature.ts';
import { bookingPayload, envelopeBody, meetingBody, noShowBody, pingBody, sampleBooking } from '../sandbox/payloads.ts';
import { getBooking } from '../store/bookings.ts';
import { listDecisions } from '../store/decisions.ts';
import { countInboxByState, listInboxEvents } from '../store/inbox.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET } from '../../test/config.ts';
import { storeKinds } from '../../test/stores.ts';
import { adminGet, postWebhook, usherPerFile } from '../../test/usher.ts';

describe.each(storeKinds)('POST /webhooks/cal on %s', (kind) => {
  const t = usherPerFile(kind);
  beforeEach(() => t.store.reset());

  const created = (b = sampleBooking()) => envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date());

  it('stores a signed event before answering 200, and the worker records the booking', async () => {
    const booking = sampleBooking();
    const res = await postWebhook(t.usher.url, created(booking));
    expect(res).toMatchObject({ status: 200, body: { received: true, status: 'accepted' } });
    const [event] = await listInboxEvents(t.store.db, { limit: 10 });
    expect(event).toMatchObject({ trigger: 'BOOKING_CREATED', bookingUid: booking.uid, state: 'pending' });

    await t.usher.worker.drain();
    expect(await getBooking(t.store.db, booking.uid)).toMatchObject({
      status: 'accepted',
      attendeeEmail: 'grace@example.com',
      organizerId: 5,
    });
  });

  it('stores each body exactly as it arrived, character for character, when many arrive at once', async () => {
    // Quotes, backslashes, escapes, characters outside the BMP, line breaks and tabs, in titles
    // and notes as people type them; stored together in one group commit (store/inbox.ts).
    const bodies = [
      'Dr "Who" \\ said: C:\\temp',
      'Zoë — naïve café 🦷 ✓ 東京',
      'line one\nline two\ttabbed \u00e9 \\"quoted\\"',
      '{"not": "a template"}',
    ].map((title, i) => {
      const b = sampleBooking({ id: 4242 + i, title });
      return created(b)
        .replace('"BOOKING_CREATED"', ' "BOOKING_CREATED" ')
        .concat(i % 2 ? '\n' : '');
    });
    const answers = await Promise.all(bodies.map((body) => postWebhook(t.usher.url, body)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const stored = await listInboxEvents(t.store.db, { limit: 10 });
    expect(stored.map((e) => e.rawBody).sort()).toEqual([...bodies].sort());
  });

  it.each([
    ['a missing signature', null],
    ['a forged signature', 'a'.repeat(64)],
    ['no-secret-provided', 'no-secret-provided'],
    ['a signature made with another secret', signBody(created(), 'not-the-secret')],
  ])('refuses %s with 401 and stores nothing', async (_label, signature) => {
    const res = await postWebhook(t.usher.url, created(), signature);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('SIGNATURE_INVALID');
    expect(await countInboxByState(t.store.db)).toEqual({});
  });

  it('refuses a body whose bytes changed after signing', async () => {
    const body = created();
    const signature = signBody(body, TEST_SECRET);
    const res = await postWebhook(t.usher.url, `${body} `, signature);
    expect(res.status).toBe(401);
  });

  it('keeps a signed body that is not JSON (a custom payload template) as unprocessable, saying what to do, and answers 413 to one over the limit', async () => {
    // CONTRACT §2.5: a template that is not JSON is sent form-encoded; one that renders broken JSON as `false`;
    // a JSON template flattens the booking's fields. Cal.com never resends: each is kept, not refused.
    const form = await request(`${t.usher.url}/webhooks/cal`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-cal-signature-256': signBody('uid=abc&title=Consultation', TEST_SECRET),
      },
      body: 'uid=abc&title=Consultation',
    });
    expect(form.statusCode).toBe(200);
    expect(await form.body.json()).toMatchObject({ received: true, status: 'unprocessable' });
    expect((await postWebhook(t.usher.url, 'false')).body).toMatchObject({ status: 'unprocessable' });
    expect((await postWebhook(t.usher.url, JSON.stringify({ uid: 'abc', title: 'Consultation', attendees: [] }))).body).toMatchObject({
      status: 'unprocessable',
    });
    expect((await postWebhook(t.usher.url, '{"triggerEvent":')).body).toMatchObject({ status: 'unprocessable' });
    const kept = await listInboxEvents(t.store.db, { state: 'unprocessable', limit: 10 });
    expect(kept.map((e) => e.lastError).sort()).toEqual([
      expect.stringMatching(/^a custom payload template's flattened body .*remove the webhook's custom payload template/),
      expect.stringMatching(/^not JSON \(form-encoded: a custom payload template that is not JSON, CONTRACT §2\.5\): remove the webhook's/),
      expect.stringMatching(/^not JSON: remove the webhook's custom payload template/),
      expect.stringMatching(/^the body is `false`/),
    ]);
    // Unsigned, it is still refused: only what Cal.com signed is kept.
    expect((await postWebhook(t.usher.url, 'uid=abc', null)).status).toBe(401);
    await t.store.reset();
    const huge = JSON.stringify({ triggerEvent: 'PING', pad: 'x'.repeat(1_100_000) });
    const res = await postWebhook(t.usher.url, huge);
    expect(res.status).toBe(413);
    expect(await countInboxByState(t.store.db)).toEqual({});
  });

  it('records an unknown trigger as ignored and answers 200', async () => {
    const res = await postWebhook(
      t.usher.url,
      JSON.stringify({ triggerEvent: 'BOOKING_TELEPORTED', createdAt: new Date().toISOString(), payload: { uid: 'x' } }),
    );
    expect(res).toMatchObject({ status: 200, body: { status: 'ignored' } });
    expect(await countInboxByState(t.store.db)).toEqual({ ignored: 1 });
  });

  it('keeps a signed event that fails validation as unprocessable, with the reason, and answers 200', async () => {
    const payload = { ...bookingPayload(sampleBooking(), 'BOOKING_CREATED'), endTime: 'soon' };
    const res = await postWebhook(t.usher.url, envelopeBody('BOOKING_CREATED', payload, new Date()));
    expect(res).toMatchObject({ status: 200, body: { status: 'unprocessable' } });
    const [event] = await listInboxEvents(t.store.db, { limit: 1 });
    expect(event?.state).toBe('unprocessable');
    expect(event?.lastError).toContain('payload.endTime');
    const listed = await adminGet(t.usher.url, '/api/events?state=unprocessable');
    expect(listed.body.data).toHaveLength(1);
  });

  it('accepts MEETING_STARTED/ENDED without envelope, PING without uid, and no-show updates; each stored with its booking’s day where it names a start', async () => {
    const booking = sampleBooking();
    for (const body of [
      created(booking),
      meetingBody(booking, 'MEETING_STARTED'),
      meetingBody(booking, 'MEETING_ENDED'),
      pingBody(new Date()),
      noShowBody(booking, [{ email: 'grace@example.com', noShow: true }], new Date()),
    ]) {
      expect((await postWebhook(t.usher.url, body)).status).toBe(200);
    }
    // Workers claim by it (migration 0021): the UTC day of the booking's start.
    const day = Math.floor(booking.start.getTime() / 86_400_000);
    const stored = await t.store.db.query<{ trigger: string; plan_day: number | null }>(
      'select trigger, plan_day from inbox_events order by id',
    );
    expect(stored.rows).toEqual([
      { trigger: 'BOOKING_CREATED', plan_day: day },
      { trigger: 'MEETING_STARTED', plan_day: day },
      { trigger: 'MEETING_ENDED', plan_day: day },
      { trigger: 'PING', plan_day: null },
      { trigger: 'BOOKING_NO_SHOW_UPDATED', plan_day: null },
    ]);
    await t.usher.worker.drain();
    expect(await countInboxByState(t.store.db)).toEqual({ done: 5 });
    expect((await getBooking(t.store.db, booking.uid))?.meetingState).toBe('ended');
  });

  it('treats the same event delivered by two subscriptions (new createdAt) as one', async () => {
    const booking = sampleBooking();
    const payload = bookingPayload(booking, 'BOOKING_CREATED');
    const first = await postWebhook(t.usher.url, envelopeBody('BOOKING_CREATED', payload, new Date('2026-11-22T10:00:00.001Z')));
    const second = await postWebhook(t.usher.url, envelopeBody('BOOKING_CREATED', payload, new Date('2026-11-22T10:00:00.002Z')));
    expect(first.body).toMatchObject({ status: 'accepted' });
    expect(second.body).toMatchObject({ status: 'duplicate', id: first.body.id });
    await t.usher.worker.drain();
    expect(await listDecisions(t.store.db, { bookingUid: booking.uid, limit: 10 })).toHaveLength(1);
  });

  it('keeps real repeats apart: a no-show marked, unmarked and marked again later', async () => {
    const booking = sampleBooking();
    const absent = [{ email: 'grace@example.com', noShow: true }];
    const bodies = [
      noShowBody(booking, absent, new Date('2026-12-01T09:10:00Z')),
      noShowBody(booking, [{ email: 'grace@example.com', noShow: false }], new Date('2026-12-01T09:20:00Z')),
      noShowBody(booking, absent, new Date('2026-12-01T09:40:00Z')),
      noShowBody(booking, absent, new Date('2026-12-01T09:40:00.200Z')),
    ];
    const statuses = [];
    for (const body of bodies) statuses.push((await postWebhook(t.usher.url, body)).body.status);
    expect(statuses).toEqual(['accepted', 'accepted', 'accepted', 'duplicate']);
  });

  it('stores 50 concurrent identical deliveries once and processes them once', async () => {
    const booking = sampleBooking();
    const body = created(booking);
    const results = await Promise.all(Array.from({ length: 50 }, () => postWebhook(t.usher.url, body)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.status === 'accepted')).toHaveLength(1);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    await t.usher.worker.drain();
    expect(await countInboxByState(t.store.db)).toEqual({ done: 1 });
    expect(await listDecisions(t.store.db, { bookingUid: booking.uid, limit: 100 })).toHaveLength(1);
  });

  it('counts what it received in /metrics', async () => {
    await postWebhook(t.usher.url, created());
    await postWebhook(t.usher.url, created(), null);
    const response = await fetch(`${t.usher.url}/metrics`);
    const text = await response.text();
    expect(text).toMatch(/usher_webhooks_total\{result="accepted"\} \d+/);
    expect(text).toMatch(/usher_webhooks_total\{result="rejected_signature"\} \d+/);
    expect(text).toContain('usher_queue_lag_seconds');
    // The process and the HTTP edge: resident memory, event-loop lag, latency per route pattern.
    expect(text).toMatch(/usher_process_resident_memory_bytes \d+/);
    expect(text).toContain('usher_nodejs_eventloop_lag_seconds');
    expect(text).toMatch(/usher_http_request_duration_seconds_bucket\{le="0.01",method="POST",route="\/webhooks\/cal",status="200"\} \d+/);
  });

  it('answers an unknown path and a refused content type in the one error shape', async () => {
    const root = await fetch(`${t.usher.url}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([303, '/board']);
    const nope = await adminGet(t.usher.url, '/nope');
    expect(nope).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route GET /nope' } } });
    const res = await fetch(`${t.usher.url}/api/members/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/xml' },
      body: '<x/>',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });
});
