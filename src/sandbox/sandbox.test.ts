import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { verifySignature } from '../cal/verify-signature.ts';
import { Receiver } from '../../test/receiver.ts';
import { specValidator } from '../../test/openapi.ts';
import { FakeClock } from '../../test/clock.ts';
import { loadSeed } from './load-seed.ts';
import { Sandbox } from './sandbox-server.ts';

const KEY = 'cal_sandbox_demo_key'; // host 5, owner of event type 7
const GRACE_KEY = 'cal_sandbox_grace_key'; // host 7, owner of event type 9 (requires confirmation)
const SECRET = 'sandbox-test-secret';

describe('the Cal.com sandbox', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock('2026-12-01T08:00:00.000Z');
    sandbox = new Sandbox({ seed: loadSeed(), now: () => clock.now() });
    await sandbox.listen(0, '127.0.0.1', 0);
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.stop();
  });

  async function call(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const response = await request(sandbox.url + path, {
      method,
      headers: {
        'cal-api-version': '2024-08-13',
        authorization: `Bearer ${KEY}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
  // The organisation's subscription (the demo key is its admin's): it hears every doctor's bookings.
  const subscribe = (url = receiver.url, secret: string | null = SECRET, scope = '/v2/organizations/1') =>
    call('POST', `${scope}/webhooks`, {
      subscriberUrl: url,
      triggers: [
        'BOOKING_CREATED',
        'BOOKING_REQUESTED',
        'BOOKING_RESCHEDULED',
        'BOOKING_CANCELLED',
        'BOOKING_REJECTED',
        'MEETING_STARTED',
        'MEETING_ENDED',
      ],
      active: true,
      ...(secret ? { secret } : {}),
    });
  const book = (eventTypeId: number, start: string, email = 'pat@example.com') =>
    call(
      'POST',
      '/v2/bookings',
      { start, eventTypeId, attendee: { name: 'Pat Doe', email, timeZone: 'Europe/London' }, metadata: { source: 'test' } },
      { authorization: '' },
    );

  it('sends BOOKING_REQUESTED (PENDING) for an event type that needs confirmation, BOOKING_CREATED on confirm, signed over the exact body', async () => {
    await subscribe();
    const created = await book(9, '2026-12-02T10:00:00Z');
    expect(created.status).toBe(201);
    expect(created.body.data.status).toBe('pending');
    const uid = created.body.data.uid;
    expect((await call('POST', `/v2/bookings/${uid}/confirm`, undefined, { authorization: `Bearer ${GRACE_KEY}` })).body.data.status).toBe(
      'accepted',
    );
    await sandbox.sender.settle();
    expect(receiver.triggers()).toEqual(['BOOKING_REQUESTED', 'BOOKING_CREATED']);
    const [requested, confirmed] = receiver.received;
    for (const r of receiver.received) {
      expect(verifySignature(Buffer.from(r.raw), r.headers['x-cal-signature-256'] as string, SECRET)).toEqual({ ok: true });
      expect(Object.keys(r.body)).toEqual(['triggerEvent', 'createdAt', 'payload']);
    }
    expect(requested!.body.payload).toMatchObject({
      uid,
      status: 'PENDING',
      startTime: '2026-12-02T10:00:00Z',
      metadata: { source: 'test' },
    });
    // the confirm path: millisecond times, no booking metadata (CONTRACT §1.2, §3.2)
    expect(confirmed!.body.payload).toMatchObject({ uid, status: 'ACCEPTED', startTime: '2026-12-02T10:00:00.000Z' });
    expect(confirmed!.body.payload).not.toHaveProperty('metadata');
    // confirming again: a generic 400
    expect((await call('POST', `/v2/bookings/${uid}/confirm`, undefined, { authorization: `Bearer ${GRACE_KEY}` })).status).toBe(400);
  });

  it('declines with the reason visible on the booking, and sends BOOKING_REJECTED', async () => {
    await subscribe();
    const uid = (await book(9, '2026-12-02T11:00:00Z')).body.data.uid;
    const declined = await call(
      'POST',
      `/v2/bookings/${uid}/decline`,
      { reason: 'Not enough credits: 0 of 1 needed' },
      { authorization: `Bearer ${GRACE_KEY}` },
    );
    expect(declined.body.data).toMatchObject({ status: 'rejected', rejectionReason: 'Not enough credits: 0 of 1 needed' });
    await sandbox.sender.settle();
    expect(receiver.received.at(-1)!.body).toMatchObject({
      triggerEvent: 'BOOKING_REJECTED',
      payload: { rejectionReason: 'Not enough credits: 0 of 1 needed', status: 'REJECTED' },
    });
  });

  it('reschedules into a new booking with a new uid; the old one is cancelled without BOOKING_CANCELLED', async () => {
    await subscribe();
    const old = (await book(7, '2026-12-02T09:00:00Z')).body.data;
    const moved = await call('POST', `/v2/bookings/${old.uid}/reschedule`, { start: '2026-12-03T09:00:00Z' }, { authorization: '' });
    expect(moved.status).toBe(201);
    expect(moved.body.data.uid).not.toBe(old.uid);
    expect(moved.body.data.rescheduledFromUid).toBe(old.uid);
    expect((await call('GET', `/v2/bookings/${old.uid}`)).body.data).toMatchObject({
      status: 'cancelled',
      rescheduledToUid: moved.body.data.uid,
    });
    await sandbox.sender.settle();
    expect(receiver.triggers()).toEqual(['BOOKING_CREATED', 'BOOKING_RESCHEDULED']);
    expect(receiver.received[1]!.body.payload).toMatchObject({
      uid: moved.body.data.uid,
      rescheduleUid: old.uid,
      rescheduleId: old.id,
      rescheduleStartTime: '2026-12-02T09:00:00Z',
    });
  });

  it('refuses a host cancel without reason in the bare error shape, and a second cancel', async () => {
    await subscribe();
    const uid = (await book(7, '2026-12-02T09:00:00Z')).body.data.uid;
    const noReason = await call('POST', `/v2/bookings/${uid}/cancel`, {});
    expect(noReason).toMatchObject({
      status: 400,
      body: { statusCode: 400, message: 'Cancellation reason is required when you are the host' },
    });
    expect((await call('POST', `/v2/bookings/${uid}/cancel`, { cancellationReason: 'Doctor ill' })).body.data.status).toBe('cancelled');
    const again = await call('POST', `/v2/bookings/${uid}/cancel`, { cancellationReason: 'x' });
    expect(again).toMatchObject({ status: 400, body: { status: 'error', error: { code: 'BadRequestException' } } });
    await sandbox.sender.settle();
    expect(receiver.received.at(-1)!.body).toMatchObject({
      triggerEvent: 'BOOKING_CANCELLED',
      payload: { startTime: '2026-12-02T09:00:00+00:00', cancellationReason: 'Doctor ill' },
    });
    expect(receiver.received.at(-1)!.body.payload).not.toHaveProperty('cancelledBy');
  });

  it('answers a bad create with the fields in details.errors and an X-Request-Id, as Cal.com’s ValidationPipe does', async () => {
    const bad = await call('POST', '/v2/bookings', {
      start: '2026-12-02T09:00:00Z',
      eventTypeId: 7,
      attendee: { name: 'Ann', email: 'not-an-email', timeZone: 'Europe/London' },
    });
    expect(bad).toMatchObject({
      status: 400,
      body: { status: 'error', error: { code: 'BadRequestException', details: { errors: [{ property: 'attendee.email' }] } } },
    });
    expect(bad.headers['x-request-id']).toEqual(expect.any(String));
    const nobody = await call('POST', '/v2/bookings', {
      start: '2026-12-02T09:00:00Z',
      eventTypeId: 7,
      attendee: { name: 'Ann', timeZone: 'Europe/London' },
    });
    expect(nobody).toMatchObject({ status: 400, body: { error: { details: { errors: [{ property: 'attendee.email' }] } } } });
    // A phone-only booker: Cal.com makes an address of the number (contructEmailFromPhoneNumber).
    const byPhone = await call('POST', '/v2/bookings', {
      start: '2026-12-02T10:00:00Z',
      eventTypeId: 7,
      attendee: { name: 'Ann', phoneNumber: '+447700900123', timeZone: 'Europe/London' },
    });
    expect(byPhone.status).toBe(201);
    expect(byPhone.body.data.attendees[0]).toMatchObject({ email: '447700900123@sms.cal.com', phoneNumber: '+447700900123' });
    expect((await call('GET', '/v2/me')).headers['x-request-id']).toEqual(expect.any(String));
  });

  it('updates a location only with cal-api-version, sends no webhook, and throttles it to 5 a minute', async () => {
    await subscribe();
    const uid = (await book(7, '2026-12-02T09:00:00Z')).body.data.uid;
    const address = { location: { type: 'address', address: 'Room 3B — Floor 2, North wing' } };
    expect((await call('PATCH', `/v2/bookings/${uid}/location`, address, { 'cal-api-version': '' })).status).toBe(404);
    expect((await call('PATCH', `/v2/bookings/${uid}/location`, { location: { type: 'integration', integration: 'zoom' } })).status).toBe(
      400,
    );
    for (let i = 0; i < 4; i++)
      expect((await call('PATCH', `/v2/bookings/${uid}/location`, address)).body.data.location).toBe(address.location.address);
    const throttled = await call('PATCH', `/v2/bookings/${uid}/location`, address);
    expect(throttled.status).toBe(429);
    await sandbox.sender.settle();
    expect(receiver.triggers()).toEqual(['BOOKING_CREATED']);
  });

  it('limits an API key to 120 requests a minute with -Default headers, then blocks it for 60 s', async () => {
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 120; i++) last = await call('GET', '/v2/bookings?take=1');
    expect(last!.status).toBe(200);
    expect(last!.headers['x-ratelimit-remaining-default']).toBe('0');
    const refused = await call('GET', '/v2/bookings?take=1');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('ThrottlerException');
    expect(refused.headers['x-ratelimit-reset-default']).toBe('60');
    expect(refused.headers['retry-after']).toBeUndefined();
    clock.advance(59_000);
    expect((await call('GET', '/v2/bookings?take=1')).status).toBe(429);
    clock.advance(2_000);
    expect((await call('GET', '/v2/bookings?take=1')).status).toBe(200);
  });

  it('manages webhooks: 201 with the secret in clear, 409 for a second one to the same URL, 400 for invented triggers', async () => {
    const created = await subscribe(receiver.url, SECRET, '/v2');
    expect(created).toMatchObject({ status: 201, body: { data: { subscriberUrl: receiver.url, secret: SECRET, active: true } } });
    expect(typeof created.body.data.id).toBe('string');
    expect((await subscribe(receiver.url, SECRET, '/v2')).status).toBe(409);
    expect(
      (await call('POST', '/v2/webhooks', { subscriberUrl: 'http://127.0.0.1:1/x', triggers: ['BOOKING_CONFIRMED'], active: true })).status,
    ).toBe(400);
    expect((await call('PATCH', `/v2/webhooks/${created.body.data.id}`, { active: false })).body.data.active).toBe(false);
    expect((await call('DELETE', `/v2/webhooks/${created.body.data.id}`)).status).toBe(200);
    expect((await call('GET', '/v2/webhooks')).body.data).toEqual([]);
  });

  it('a user’s webhook hears only its owner’s bookings, the organisation’s every member’s; only its admins manage it', async () => {
    await subscribe(`${receiver.url}?user`, SECRET, '/v2');
    await subscribe(`${receiver.url}?org`, SECRET);
    await book(7, '2026-12-02T09:00:00Z'); // Dr Byron's, the key owner's
    await book(8, '2026-12-02T09:00:00Z'); // Dr Turing's
    await sandbox.sender.settle();
    const heard = receiver.received.map((r) => `${r.url.split('?')[1]}:${(r.body.payload as { eventTypeId: number }).eventTypeId}`).sort();
    expect(heard).toEqual(['org:7', 'org:8', 'user:7']);
    const alan = { authorization: 'Bearer cal_sandbox_alan_key' };
    expect((await call('GET', '/v2/organizations/1/webhooks', undefined, alan)).status).toBe(403);
    expect((await call('GET', '/v2/organizations/1/bookings', undefined, alan)).status).toBe(403);
    expect((await call('GET', '/v2/organizations/1/bookings')).body.data).toHaveLength(2);
    expect((await call('GET', '/v2/webhooks', undefined, alan)).body.data, 'another user’s subscriptions are not his').toEqual([]);
  });

  it('renders a subscription’s payloadTemplate as Cal.com’s sendPayload does: JSON re-serialised, `false` when not JSON, form data otherwise', async () => {
    const templated = (url: string, payloadTemplate: string) =>
      call('POST', '/v2/organizations/1/webhooks', {
        subscriberUrl: url,
        triggers: ['BOOKING_CREATED'],
        active: true,
        secret: SECRET,
        payloadTemplate,
      });
    await templated(`${receiver.url}?json`, '{"event": "{{triggerEvent}}", "type": "{{type}}", "host": "{{organizer.name}}"}');
    await templated(`${receiver.url}?broken`, '{"who": "{{attendees.0.name}}"}');
    await templated(`${receiver.url}?form`, 'event={{triggerEvent}}&uid={{uid}}');
    const made = await call(
      'POST',
      '/v2/bookings',
      {
        start: '2026-12-02T09:00:00Z',
        eventTypeId: 7,
        attendee: { name: 'Pat "PD" Doe', email: 'pat@example.com', timeZone: 'Europe/London' },
      },
      { authorization: '' },
    );
    expect(made.status).toBe(201);
    await sandbox.sender.settle();
    const got = Object.fromEntries(receiver.received.map((r) => [r.url.split('?')[1], r]));
    expect(got.json!.raw).toBe('{"event":"BOOKING_CREATED","type":"consultation","host":"Dr Ada Byron"}');
    expect(got.json!.headers['content-type']).toBe('application/json');
    expect(verifySignature(Buffer.from(got.json!.raw), String(got.json!.headers['x-cal-signature-256']), SECRET)).toEqual({ ok: true });
    // The quote in the name breaks the rendered JSON: Cal.com sends the string false.
    expect(got.broken!.raw).toBe('false');
    expect(got.form!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(got.form!.raw).toBe(`event=BOOKING_CREATED&uid=${made.body.data.uid}`);
  });

  it('offers a class’s slot while it has a seat left (with attendeesCount), and team slots by their hosts', async () => {
    const slots = async (eventTypeId: number) =>
      (
        await call('GET', `/v2/slots?eventTypeId=${eventTypeId}&start=2026-12-02&end=2026-12-02`, undefined, {
          'cal-api-version': '2024-09-04',
        })
      ).body.data['2026-12-02'] as { start: string; attendeesCount?: number; bookingUid?: string }[];
    const at = (list: { start: string }[], hhmm: string) => list.find((s) => s.start === `2026-12-02T${hhmm}:00.000Z`);
    const klass = await book(14, '2026-12-02T10:00:00Z', 'cy@example.com');
    expect(at(await slots(14), '10:00')).toEqual({ start: '2026-12-02T10:00:00.000Z', attendeesCount: 1, bookingUid: klass.body.data.uid });
    for (const n of ['b', 'c', 'd', 'e', 'f']) await book(14, '2026-12-02T10:00:00Z', `${n}@example.com`);
    expect(at(await slots(14), '10:00'), 'six of six seats: full').toBeUndefined();
    // Joint assessment (collective: Dr Somerville and Dr Turing): not while Dr Turing has an X-ray.
    await book(10, '2026-12-02T13:00:00Z');
    expect(at(await slots(16), '13:00')).toBeUndefined();
    // Triage (round robin: Dr Byron or Dr Somerville): still offered while only Dr Byron is busy.
    await book(7, '2026-12-02T14:00:00Z');
    expect(at(await slots(17), '14:00')).toBeDefined();
  });

  it('delivers once per matching subscription, and no-secret-provided without a secret', async () => {
    await subscribe();
    await subscribe(`${receiver.url}?second`, null);
    await book(7, '2026-12-02T09:00:00Z');
    await sandbox.sender.settle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received.map((r) => r.headers['x-cal-signature-256']).sort()[1]).toBe('no-secret-provided');
  });

  it('sends MEETING_STARTED and MEETING_ENDED without envelope when the times come', async () => {
    await subscribe();
    const uid = (await book(7, '2026-12-01T09:00:00Z')).body.data.uid;
    clock.set('2026-12-01T09:00:00Z');
    sandbox.tick();
    clock.set('2026-12-01T09:30:00Z');
    sandbox.tick();
    sandbox.tick();
    await sandbox.sender.settle();
    expect(receiver.triggers()).toEqual(['BOOKING_CREATED', 'MEETING_STARTED', 'MEETING_ENDED']);
    expect(receiver.received[1]!.body).toMatchObject({ triggerEvent: 'MEETING_STARTED', uid });
    expect(receiver.received[1]!.body).not.toHaveProperty('payload');
  });

  it('answers with bodies that validate against Cal.com’s openapi-v2.json', async () => {
    const uid = (await book(7, '2026-12-02T09:00:00Z')).body.data.uid;
    const one = specValidator('GetBookingOutput_2024_08_13');
    const got = await call('GET', `/v2/bookings/${uid}`);
    expect(one(got.body), JSON.stringify(one.errors)).toBe(true);
    const many = specValidator('GetBookingsOutput_2024_08_13');
    const listed = await call('GET', '/v2/bookings?status=upcoming');
    expect(many(listed.body), JSON.stringify(many.errors)).toBe(true);
    expect(listed.body.pagination).toMatchObject({ totalItems: 1, returnedItems: 1, hasNextPage: false });
    const me = specValidator('GetMeOutput');
    const who = await call('GET', '/v2/me');
    expect(me(who.body), JSON.stringify(me.errors)).toBe(true);
    expect(who.body.data).toMatchObject({ username: 'ada', organizationId: 1 });
  });

  it('drops a share of deliveries when told to', async () => {
    await subscribe();
    await call('PUT', '/_sandbox/faults', { delivery: { dropRate: 1 } });
    await book(7, '2026-12-02T09:00:00Z');
    await sandbox.sender.settle();
    expect(receiver.received).toHaveLength(0);
    expect(sandbox.sender.deliveries.at(-1)).toMatchObject({ trigger: 'BOOKING_CREATED', status: 'dropped' });
  });
});
