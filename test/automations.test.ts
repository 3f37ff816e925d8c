import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Usher } from '../src/main.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { checkout } from '../src/bookings/checkout.ts';
import { createCalClient } from '../src/create-cal-client.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET, testConfig } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { Target } from './target.ts';
import { adminGet, startTestUsher, tomorrowAt, until } from './usher.ts';

const KEY = 'cal_sandbox_demo_key';
const CRM_TOKEN = 'crm-secret-token-0123456789';
const SLACK_PATH = '/services/T000/B000/SLACKSECRETPATH';
const MIRROR_KEY = Buffer.from('mirror-signing-key-0123456789abcdef');
const YAML = `
timeZone: Europe/London
worker: { pollIntervalMs: 20, maxAttempts: 40, backoffBaseSeconds: 0.05, backoffMaxSeconds: 0.2 }
reconciler: { intervalSeconds: 0 }
planner: { replanIntervalSeconds: 0 }
rooms:
  - { name: "1A", floor: 1, building: "North wing" }
  - { name: "2B", floor: 2, building: "South wing" }
doctors:
  "5": { preferredRooms: ["1A"] }
automations:
  - name: crm-contact
    on: [BOOKING_CREATED]
    when: { eventTypeId: 7 }
    http:
      method: POST
      url: "\${CRM_URL}/contacts?type={{booking.eventTypeId}}&who={{attendee.name}}"
      headers: { Authorization: "Bearer \${CRM_TOKEN}" }
      body: { name: "{{attendee.name}}", email: "{{attendee.email}}", source: cal, plan: "{{booking.metadata.plan}}", note: "{{booking.metadata.note}}", eventType: "{{booking.eventTypeId}}" }
  - name: front-desk
    on: [room.moved, booking.unassigned]
    slack: { webhookUrl: "\${SLACK_URL}", text: "{{attendee.name}}: {{room.from}} → {{room.to}} ({{why}})" }
  - name: mirror
    on: [BOOKING_CREATED, BOOKING_CANCELLED]
    forward: { url: "\${MIRROR_URL}/in", secret: "\${MIRROR_SECRET}" }
  - name: alerts
    on: [job.dead]
    slack: { webhookUrl: "\${SLACK_URL}", text: "{{job.kind}} for {{booking.uid}} failed: {{job.error}}" }
`;

const admin = (usher: Usher, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  request(`${usher.url}${path}`, {
    method: method as 'POST',
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

async function sandboxBook(sandboxUrl: string, at: Date, name: string, email: string): Promise<string> {
  const res = await request(`${sandboxUrl}/v2/bookings`, {
    method: 'POST',
    headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json' },
    body: JSON.stringify({ start: at.toISOString(), eventTypeId: 7, attendee: { name, email, timeZone: 'Europe/London' } }),
  });
  return ((await res.body.json()) as { data: { uid: string } }).data.uid;
}

describe.each(storeKinds)('automations and custom checkout with the sandbox Cal.com on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  let crm: Target;
  let slack: Target;
  let mirror: Target;
  beforeEach(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    [crm, slack, mirror] = await Promise.all([new Target().start(), new Target().start(), new Target().start()]);
    const env = {
      CAL_API_URL: sandbox.url,
      CAL_API_KEY: KEY,
      CRM_URL: crm.url,
      CRM_TOKEN,
      SLACK_URL: `${slack.url}${SLACK_PATH}`,
      MIRROR_URL: mirror.url,
      MIRROR_SECRET: `whsec_${MIRROR_KEY.toString('base64')}`,
    };
    usher = await startTestUsher(store, { runWorker: true, env, yaml: YAML });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  });
  afterEach(async () => {
    await sandbox.close();
    await usher.close();
    await Promise.all([crm.stop(), slack.stop(), mirror.stop()]);
    await store.close();
  });

  it('books through a checkout once per key, and the CRM, the mirror and Slack get exactly the right requests', async () => {
    const name = 'Zoë "Zed" O\'Brien';
    const order = {
      eventTypeId: 7,
      start: tomorrowAt(9).toISOString(),
      attendee: { name, email: 'zoe@example.com', timeZone: 'Europe/London' },
      metadata: { plan: 'gold', note: 'line one\nline "two" — ✓' },
    };
    const first = await admin(usher, 'POST', '/api/bookings', order, { 'idempotency-key': 'checkout-0001' });
    expect(first.statusCode).toBe(201);
    const uid = ((await first.body.json()) as { data: { uid: string } }).data.uid;
    // The shopper's browser retries: the same booking comes back, and Cal.com has one.
    const again = await admin(usher, 'POST', '/api/bookings', order, { 'idempotency-key': 'checkout-0001' });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(((await again.body.json()) as { data: { uid: string } }).data.uid).toBe(uid);
    const other = await admin(
      usher,
      'POST',
      '/api/bookings',
      { ...order, start: tomorrowAt(11).toISOString() },
      { 'idempotency-key': 'checkout-0001' },
    );
    expect(other.statusCode).toBe(422);
    const listed = await request(`${sandbox.url}/v2/bookings?attendeeEmail=zoe%40example.com`, {
      headers: { authorization: `Bearer ${KEY}`, 'cal-api-version': '2024-08-13' },
    });
    expect(((await listed.body.json()) as { data: unknown[] }).data).toHaveLength(1);

    const [contact] = await until('the CRM contact', async () => crm.delivered('/contacts').length > 0 && crm.delivered('/contacts'));
    expect(contact!.method).toBe('POST');
    const url = new URL(contact!.path, crm.url);
    expect([url.pathname, url.searchParams.get('type'), url.searchParams.get('who')]).toEqual(['/contacts', '7', name]);
    expect(contact!.headers.authorization).toBe(`Bearer ${CRM_TOKEN}`);
    expect(contact!.headers['content-type']).toBe('application/json');
    expect(contact!.headers['idempotency-key']).toMatch(/^usher-crm-contact-evt_\d+$/);
    expect(JSON.parse(contact!.raw)).toEqual({
      name,
      email: 'zoe@example.com',
      source: 'cal',
      plan: 'gold',
      note: 'line one\nline "two" — ✓',
      eventType: 7,
    });
    expect(contact!.raw).toContain('\\"Zed\\"');
    expect(contact!.raw).toContain('line one\\nline');

    // The mirror gets Cal.com's event byte for byte, signed with the Standard Webhooks scheme.
    const [forwarded] = await until('the forwarded event', async () => mirror.delivered('/in').length > 0 && mirror.delivered('/in'));
    const id = String(forwarded!.headers['webhook-id']);
    const timestamp = String(forwarded!.headers['webhook-timestamp']);
    const expected = createHmac('sha256', MIRROR_KEY).update(`${id}.${timestamp}.${forwarded!.raw}`).digest('base64');
    expect(forwarded!.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const event = JSON.parse(forwarded!.raw) as { triggerEvent: string; payload: { uid: string; metadata: Record<string, string> } };
    expect(event.triggerEvent).toBe('BOOKING_CREATED');
    // The checkout's metadata went through Cal.com and came back in the webhook Usher got.
    expect(event.payload).toMatchObject({ uid, metadata: { plan: 'gold', note: 'line one\nline "two" — ✓' } });

    await until('room 1A written', async () => (await adminGet(usher.url, `/api/bookings/${uid}`)).body.data.room?.written);
    const blocked = await admin(usher, 'POST', '/api/rooms/1A/blocks', {
      reason: 'Leak',
      from: tomorrowAt(8).toISOString(),
      until: tomorrowAt(12).toISOString(),
    });
    expect(blocked.statusCode).toBe(200);
    const [moved] = await until('the Slack message', async () => slack.delivered(SLACK_PATH).length > 0 && slack.delivered(SLACK_PATH));
    expect(JSON.parse(moved!.raw)).toEqual({ text: `${name}: 1A → 2B (its room became unusable)` });

    // Secrets stay out of the admin API (and so out of anything it shows).
    const jobs = JSON.stringify((await adminGet(usher.url, '/api/jobs?limit=200')).body);
    expect(jobs).toContain('crm-contact');
    for (const secret of [CRM_TOKEN, 'SLACKSECRETPATH', MIRROR_KEY.toString('base64')]) expect(jobs).not.toContain(secret);
    expect(crm.delivered()).toHaveLength(1);
    expect(mirror.delivered()).toHaveLength(1);
  });

  it('delivers everything once after a target comes back from being down, then dead-letters a refusal, announces it, and replays it', async () => {
    await crm.stop();
    const uids = [
      await sandboxBook(sandbox.url, tomorrowAt(9), 'Ann One', 'ann@example.com'),
      await sandboxBook(sandbox.url, tomorrowAt(10), 'Ben Two', 'ben@example.com'),
    ];
    // Connection refused, then 503s: every attempt failed and is retried.
    await until('failed attempts while down', async () => {
      const pending = (await adminGet(usher.url, '/api/jobs?state=pending&limit=50')).body.data as {
        kind: string;
        attempts: number;
        lastError: string | null;
      }[];
      const crmJobs = pending.filter((j) => j.kind === 'automation.deliver' && j.lastError?.includes('crm-contact'));
      return crmJobs.length === 2 && crmJobs.every((j) => j.attempts >= 2) && crmJobs;
    });
    crm.status = 503;
    await crm.start();
    uids.push(await sandboxBook(sandbox.url, tomorrowAt(11), 'Cy Three', 'cy@example.com'));
    await until('503s answered', async () => crm.hits.filter((h) => h.answered === 503).length >= 3);
    crm.status = 200;
    await until('all three delivered', async () => crm.delivered().length >= 3);
    await until('no delivery left', async () =>
      ((await adminGet(usher.url, '/api/jobs?state=pending&limit=50')).body.data as { kind: string }[]).every(
        (j) => j.kind !== 'automation.deliver',
      ),
    );
    const delivered = crm.delivered().map((h) => JSON.parse(h.raw).email as string);
    expect(delivered.sort()).toEqual(['ann@example.com', 'ben@example.com', 'cy@example.com']);
    // Retries reuse the delivery's key, so the CRM can tell a retry from a new contact.
    const keysOf = (email: string) =>
      new Set(crm.hits.filter((h) => JSON.parse(h.raw).email === email).map((h) => h.headers['idempotency-key']));
    for (const email of delivered) expect(keysOf(email).size).toBe(1);

    crm.status = 400;
    await sandboxBook(sandbox.url, tomorrowAt(14), 'Dee Four', 'dee@example.com');
    const dead = await until('the refused delivery dead-lettered', async () => {
      const jobs = (await adminGet(usher.url, '/api/jobs?state=dead&limit=20')).body.data as {
        id: string;
        kind: string;
        lastError: string;
        lastResponse: { status: number; body: string };
      }[];
      return jobs.find((j) => j.kind === 'automation.deliver');
    });
    expect(dead.lastError).toContain(`crm-contact: ${new URL(crm.url).host} refused with 400`);
    expect(dead.lastResponse).toEqual({ status: 400, body: JSON.stringify({ ok: false, note: 'from the test target' }) });
    const [alert] = await until('the job.dead alert', async () => slack.delivered(SLACK_PATH).length > 0 && slack.delivered(SLACK_PATH));
    expect(JSON.parse(alert!.raw).text).toMatch(
      /^automation\.deliver for \S+ failed: TARGET_REFUSED: crm-contact: 127\.0\.0\.1:\d+ refused with 400$/,
    );

    crm.status = 200;
    const replayed = await admin(usher, 'POST', `/api/replay/${dead.id}`);
    expect(replayed.statusCode).toBe(200);
    await until('the replayed delivery', async () => crm.delivered().some((h) => JSON.parse(h.raw).email === 'dee@example.com'));
    expect(crm.delivered().filter((h) => JSON.parse(h.raw).email === 'dee@example.com')).toHaveLength(1);
  });

  it('answers a checkout Cal.com refuses with the reason, and a bad one with every fault', async () => {
    const at = tomorrowAt(13).toISOString();
    const book = (key: string, body: unknown) => admin(usher, 'POST', '/api/bookings', body, { 'idempotency-key': key });
    expect(
      (await book('first-key-1', { eventTypeId: 7, start: at, attendee: { name: 'A', email: 'a@example.com', timeZone: 'Europe/London' } }))
        .statusCode,
    ).toBe(201);
    const taken = await book('second-key-2', {
      eventTypeId: 7,
      start: at,
      attendee: { name: 'B', email: 'b@example.com', timeZone: 'Europe/London' },
    });
    expect(taken.statusCode).toBe(409);
    expect(((await taken.body.json()) as { error: { code: string } }).error.code).toBe('SLOT_TAKEN');
    const past = await book('third-key-3', {
      eventTypeId: 7,
      start: '2020-01-01T10:00:00Z',
      attendee: { name: 'C', email: 'c@example.com', timeZone: 'Europe/London' },
    });
    expect(past.statusCode).toBe(422);
    expect(((await past.body.json()) as { error: { code: string } }).error.code).toBe('IN_THE_PAST');
    const bad = await book('fourth-key-4', {
      eventTypeId: 7,
      start: 'soon',
      attendee: { name: '', timeZone: 'Mars/Base' },
      metadata: { ['k'.repeat(41)]: 'v' },
    });
    expect(bad.statusCode).toBe(400);
    const message = ((await bad.body.json()) as { error: { message: string } }).error.message;
    for (const part of ['start', 'attendee.name', 'attendee.timeZone', 'metadata']) expect(message).toContain(part);
    expect(
      (await admin(usher, 'POST', '/api/bookings', { eventTypeId: 7, start: at, attendee: { name: 'D', timeZone: 'UTC' } })).statusCode,
    ).toBe(400);
    // A language Cal.com does not take is a field error here, with the nearest one, and Cal.com is not asked.
    const calls = sandbox.state.bookings.size;
    const british = await book('fifth-key-5', {
      eventTypeId: 7,
      start: tomorrowAt(14).toISOString(),
      attendee: { name: 'E', email: 'e@example.com', timeZone: 'Europe/London', language: 'en-GB' },
    });
    expect(british.statusCode).toBe(400);
    expect(((await british.body.json()) as { error: { message: string } }).error.message).toBe(
      'attendee.language: "en-GB" is not a language Cal.com takes — did you mean "en"?',
    );
    expect(sandbox.state.bookings.size).toBe(calls);
    const slots = await adminGet(
      usher.url,
      `/api/slots?eventTypeId=7&from=${tomorrowAt(0).toISOString().slice(0, 10)}&to=${tomorrowAt(0).toISOString().slice(0, 10)}`,
    );
    expect(slots.status).toBe(200);
    const times = Object.values(slots.body.data as Record<string, { start: string }[]>)
      .flat()
      .map((s) => s.start);
    expect(times.length).toBeGreaterThan(0);
    expect(times).not.toContain(at);
  });
});

describe('a checkout whose first call timed out', () => {
  it('asks Cal.com before booking again, so the retry finds the booking instead of making a second', async () => {
    const store = await openTestStore();
    const sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    try {
      const cfg = testConfig({ CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }, 'cal: { requestTimeoutSeconds: 1 }\n');
      let now = Date.now();
      const clock = { now: () => new Date(now) };
      const cal = createCalClient(cfg, store.db, clock);
      const order = {
        eventTypeId: 7,
        start: tomorrowAt(15).toISOString(),
        attendee: { name: 'Tim Out', email: 'tim@example.com', timeZone: 'Europe/London' },
      };
      // Cal.com books, but answers after Usher stopped waiting.
      await request(`${sandbox.url}/_sandbox/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api: { answerDelayMs: 1500 } }),
      });
      const first = await checkout(store.db, cal, 'slow-key-01', order, clock.now);
      expect(first).toMatchObject({ status: 502, body: { error: { code: 'CAL_UNCERTAIN' } } });
      await request(`${sandbox.url}/_sandbox/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api: {} }),
      });
      await until('the slow booking made', async () => sandbox.state.bookings.size === 1);
      expect(await checkout(store.db, cal, 'slow-key-01', order, clock.now)).toMatchObject({
        status: 409,
        body: { error: { code: 'IN_PROGRESS' } },
      });
      now += 61_000;
      const retried = await checkout(store.db, cal, 'slow-key-01', order, clock.now);
      expect(retried).toMatchObject({ status: 201, body: { recovered: true, data: { start: order.start } } });
      const listed = await request(`${sandbox.url}/v2/bookings?attendeeEmail=tim%40example.com`, {
        headers: { authorization: `Bearer ${KEY}`, 'cal-api-version': '2024-08-13' },
      });
      expect(((await listed.body.json()) as { data: unknown[] }).data).toHaveLength(1);
      expect(await checkout(store.db, cal, 'slow-key-01', order, clock.now)).toMatchObject({ status: 201, replayed: true });
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});

describe('a rate-limited automation target', () => {
  it('sends no more than the limit per window, holding the rest without spending their attempts', async () => {
    const store = await openTestStore();
    const sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    const crm = await new Target().start();
    const yaml = `
worker: { pollIntervalMs: 20 }
reconciler: { intervalSeconds: 0 }
automations:
  - name: crm
    on: [BOOKING_CREATED]
    rateLimit: { requests: 2, perSeconds: 60 }
    http: { url: "${crm.url}/c", body: { email: "{{attendee.email}}" } }
`;
    const usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }, yaml });
    try {
      await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
      for (const [i, who] of ['a', 'b', 'c'].entries())
        await sandboxBook(sandbox.url, tomorrowAt(9 + i), who.toUpperCase(), `${who}@example.com`);
      await until('two delivered', async () => crm.delivered().length === 2);
      const held = await until('the third held back', async () => {
        const pending = (await adminGet(usher.url, '/api/jobs?state=pending&limit=20')).body.data as {
          kind: string;
          attempts: number;
          runAt: string;
        }[];
        return pending.find((j) => j.kind === 'automation.deliver' && Date.parse(j.runAt) > Date.now() + 30_000);
      });
      expect(held.attempts).toBe(0);
      expect(crm.hits).toHaveLength(2);
    } finally {
      await sandbox.close();
      await usher.close();
      await crm.stop();
      await store.close();
    }
  });
});
