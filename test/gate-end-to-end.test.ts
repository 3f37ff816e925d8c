import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Usher } from '../src/main.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { getBooking } from '../src/store/bookings.ts';
import { creditBalance, getHold } from '../src/store/credits.ts';
import { listJobs } from '../src/store/jobs.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { adminGet, postWebhook, startTestUsher, until } from './usher.ts';

// Event type 9 (physio, requires confirmation) belongs to Dr Murray: her key confirms and declines it.
const GRACE_KEY = 'cal_sandbox_grace_key';
const GATE_YAML = `
worker: { pollIntervalMs: 20 }
reconciler: { intervalSeconds: 0 }
eventTypes:
  "9": { title: Physio, gate: { creditCost: 1 } }
gate:
  messages:
    credits.insufficient: "Not enough credits: {{available}} of {{needed}} needed"
`;

function slot(n: number): string {
  const day = new Date();
  day.setUTCHours(0, 0, 0, 0);
  return new Date(day.getTime() + (1 + Math.floor(n / 10)) * 86_400_000 + 9 * 3_600_000 + (n % 10) * 45 * 60_000).toISOString();
}

async function call(
  url: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  options: { body?: string; type?: string; token?: string | null; calVersion?: boolean } = {},
) {
  const token = options.token === undefined ? TEST_ADMIN_TOKEN : options.token;
  const response = await request(url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': options.type ?? 'application/json' } : {}),
      ...(options.calVersion ? { 'cal-api-version': '2024-08-13' } : {}),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

describe.each(storeKinds)('the gate end to end with the sandbox Cal.com on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;

  beforeEach(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: GRACE_KEY }, yaml: GATE_YAML });
    await subscribeSandbox(sandbox.url, GRACE_KEY, usher.url, TEST_SECRET);
  });
  afterEach(async () => {
    await sandbox.close();
    await usher.close();
    await store.close();
  });

  const book = async (n: number, email: string) => {
    const made = await call(sandbox.url, 'POST', '/v2/bookings', {
      token: null,
      calVersion: true,
      body: JSON.stringify({ start: slot(n), eventTypeId: 9, attendee: { name: 'Member', email, timeZone: 'Europe/London' } }),
    });
    expect(made.body.data.status).toBe('pending');
    return made.body.data.uid as string;
  };
  const inCal = async (uid: string) => (await call(sandbox.url, 'GET', `/v2/bookings/${uid}`, { token: null, calVersion: true })).body.data;

  it('confirms a member with credits and declines one without, with the reason on the Cal.com booking', async () => {
    const imported = await call(usher.url, 'POST', '/api/members/import', {
      body: 'email,name,credits\nann@club.example,Ann,1\nbob@club.example,Bob,0\n',
      type: 'text/csv',
    });
    expect(imported).toMatchObject({ status: 200, body: { data: { created: 2, credited: 1 } } });

    const ann = await book(0, 'Ann@Club.example');
    const bob = await book(1, 'bob@club.example');
    await until('Cal.com confirmed Ann', async () => (await inCal(ann)).status === 'accepted');
    await until('Cal.com declined Bob', async () => (await inCal(bob)).status === 'rejected');
    expect((await inCal(bob)).rejectionReason).toBe('Not enough credits: 0 of 1 needed');

    // Cal.com's BOOKING_CREATED (sent on confirm) captures Ann's credit
    await until('the credit captured', async () => (await getHold(store.db, ann))?.state === 'captured');
    expect(await creditBalance(store.db, 'ann@club.example', new Date())).toMatchObject({ available: 0, captured: 1 });
    await until('Usher saw the rejection', async () => (await getBooking(store.db, bob))?.status === 'rejected');

    const view = await adminGet(usher.url, `/api/bookings/${bob}`);
    expect(view.body.data).toMatchObject({
      booking: { status: 'rejected' },
      gate: { outcome: 'decline', message: 'Not enough credits: 0 of 1 needed', decidedBy: 'policy' },
      credits: null,
      jobs: [{ kind: 'cal.decline', state: 'done' }],
      attention: [],
    });
    expect(view.body.data.gate.reasons).toContainEqual({
      code: 'credits.insufficient',
      ok: false,
      failure: 'decline',
      available: 0,
      needed: 1,
    });
    const annView = await adminGet(usher.url, `/api/bookings/${ann}`);
    expect(annView.body.data).toMatchObject({
      gate: { outcome: 'approve' },
      credits: { amount: 1, state: 'captured', member: 'ann@club.example' },
    });
  });

  it('carries the credit over a reschedule the reconciler alone finds (Cal.com lists the old booking as cancelled), with no refund and no free session', async () => {
    await call(usher.url, 'POST', '/api/members/import', { body: 'email,name,credits\nann@club.example,Ann,2\n', type: 'text/csv' });
    const first = await book(2, 'ann@club.example');
    await until('the credit captured', async () => (await getHold(store.db, first))?.state === 'captured');
    expect(await creditBalance(store.db, 'ann@club.example', new Date())).toMatchObject({ available: 1, captured: 1 });

    // Ann moves her session; Cal.com's webhooks never arrive (CONTRACT §2.3: one attempt, no retry).
    await call(sandbox.url, 'PUT', '/_sandbox/faults', { token: null, body: JSON.stringify({ delivery: { dropRate: 1 } }) });
    const moved = await call(sandbox.url, 'POST', `/v2/bookings/${first}/reschedule`, {
      token: null,
      calVersion: true,
      body: JSON.stringify({ start: slot(5), reschedulingReason: 'Clash' }),
    });
    const second = moved.body.data.uid as string;
    expect((await inCal(first)).status).toBe('cancelled');
    await call(sandbox.url, 'PUT', '/_sandbox/faults', { token: null, body: JSON.stringify({ delivery: { dropRate: 0 } }) });

    await usher.reconcile();
    await until('Cal.com confirmed the new time', async () => (await inCal(second)).status === 'accepted');
    await until('the credit on the new booking, captured', async () => (await getHold(store.db, second))?.state === 'captured');
    // One credit spent in all: moved with the booking, never refunded, never charged twice.
    expect(await creditBalance(store.db, 'ann@club.example', new Date())).toMatchObject({ available: 1, captured: 1 });
    expect((await getHold(store.db, first))?.state).not.toBe('refunded');
    expect(await getBooking(store.db, first)).toMatchObject({ status: 'cancelled', rescheduledToUid: second });
  });

  it('refuses the members and credits API without the admin token, and explains bad input', async () => {
    expect((await call(usher.url, 'GET', '/api/members', { token: null })).status).toBe(401);
    expect(
      (await call(usher.url, 'POST', '/api/members/x%40y.z/credits', { token: 'wrong-token-0123456789', body: '{"amount":1}' })).status,
    ).toBe(401);
    const bad = await call(usher.url, 'POST', '/api/members/import', {
      body: 'email,name,credits\nnot-an-email,A,1\nok@x.example,B,two\n',
      type: 'text/csv',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.faults).toEqual([
      'line 2: "not-an-email" is not an e-mail address',
      'line 3: credits "two" is not a whole number ≥ 0',
    ]);
    expect((await call(usher.url, 'GET', '/api/members')).body.data).toEqual([]);
    const unknown = await call(usher.url, 'POST', '/api/members/nobody%40x.example/credits', { body: '{"amount":2}' });
    expect(unknown).toMatchObject({
      status: 404,
      body: { error: { message: 'no member nobody@x.example: import or add the member first' } },
    });
  });
});

describe.each(storeKinds)('fifty requests at once for a member with three credits on %s', (kind) => {
  let store: TestStore;
  const ushers: Usher[] = [];
  afterEach(async () => {
    for (const u of ushers.splice(0)) await u.close();
    await store.close();
  });

  it('confirms exactly three and declines the rest, whichever worker takes which', async () => {
    store = await openTestStore(kind);
    // Two Usher instances on one PostgreSQL server race for the events.
    const instances = 2;
    for (let i = 0; i < instances; i++) {
      ushers.push(
        await startTestUsher(store, {
          runWorker: true,
          env: { CAL_API_URL: 'http://127.0.0.1:9' },
          yaml: GATE_YAML.replace('pollIntervalMs: 20', 'pollIntervalMs: 10, batchSize: 1, backlogBatchSize: 1'),
        }),
      );
    }
    await call(ushers[0]!.url, 'PUT', '/api/members/eve%40club.example', { body: '{"name":"Eve"}' });
    await call(ushers[0]!.url, 'POST', '/api/members/eve%40club.example/credits', { body: '{"amount":3}' });

    const bookings = Array.from({ length: 50 }, (_, i) =>
      sampleBooking({
        id: 5000 + i,
        eventTypeId: 9,
        status: 'PENDING',
        requiresConfirmation: true,
        start: new Date(Date.now() + (2 + i) * 3_600_000),
        attendee: { name: 'Eve', email: 'eve@club.example', timeZone: 'UTC' },
      }),
    );
    const answers = await Promise.all(
      bookings.map((b, i) =>
        postWebhook(ushers[i % instances]!.url, envelopeBody('BOOKING_REQUESTED', bookingPayload(b, 'BOOKING_REQUESTED'), new Date())),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);

    const calls = await until('every request decided', async () => {
      const jobs = await listJobs(store.db, { limit: 500 });
      return jobs.length === 50 && jobs;
    });
    expect(calls.filter((j) => j.kind === 'cal.confirm')).toHaveLength(3);
    expect(calls.filter((j) => j.kind === 'cal.decline')).toHaveLength(47);
    expect(await creditBalance(store.db, 'eve@club.example', new Date())).toMatchObject({ available: 0, held: 3 });
  });
});
