import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { subscribeSandbox } from '../src/cli/demo.ts';
import { calJobKinds } from '../src/jobs/cal-jobs.ts';
import type { Usher } from '../src/main.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { getBooking, listBookings } from '../src/store/bookings.ts';
import { enqueueJob } from '../src/store/jobs.ts';
import { TEST_SECRET } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { postWebhook, startTestUsher, until } from './usher.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';

const KEY = 'cal_sandbox_demo_key';
const GRACE_KEY = 'cal_sandbox_grace_key';

/** The start of the n-th free half hour from tomorrow, within the sandbox's 09:00–17:00 UTC. */
function slot(n: number, lengthMinutes = 30): string {
  const perDay = (8 * 60) / lengthMinutes;
  const day = new Date();
  day.setUTCHours(0, 0, 0, 0);
  const start = day.getTime() + (1 + Math.floor(n / perDay)) * 86_400_000 + 9 * 3_600_000 + (n % perDay) * lengthMinutes * 60_000;
  return new Date(start).toISOString();
}

async function sandboxCall(sandbox: Sandbox, method: 'GET' | 'POST', path: string, body?: unknown, key?: string) {
  const response = await request(sandbox.url + path, {
    method,
    headers: {
      'cal-api-version': '2024-08-13',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await response.body.json()) as { data: { uid: string; status: string; location?: string } };
}

describe.each(storeKinds)('Usher with the sandbox Cal.com on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;

  beforeEach(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, {
      runWorker: true,
      env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY },
      yaml: 'worker: { pollIntervalMs: 20 }\nreconciler: { intervalSeconds: 0 }\n',
    });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  });
  afterEach(async () => {
    await sandbox.close();
    await usher.close();
    await store.close();
  });

  it('receives a booking made in Cal.com by signed webhook, and its calls change Cal.com’s state', async () => {
    const made = await sandboxCall(sandbox, 'POST', '/v2/bookings', {
      start: slot(0),
      eventTypeId: 7,
      attendee: { name: 'Pat Doe', email: 'pat@example.com', timeZone: 'Europe/London' },
    });
    const mine = await until('the booking in Usher', () => getBooking(store.db, made.data.uid));
    expect(mine).toMatchObject({ status: 'accepted', attendeeEmail: 'pat@example.com', eventTypeId: 7, organizerId: 5 });

    await store.db.transaction((trx) =>
      enqueueJob(
        trx,
        {
          kind: calJobKinds.location,
          payload: { uid: made.data.uid, address: 'Room 3B — Floor 2, North wing' },
          bookingUid: made.data.uid,
          coalesceKey: `location:${made.data.uid}`,
          maxAttempts: 3,
        },
        new Date(),
      ),
    );
    usher.worker.wake();
    await until(
      'the location in Cal.com',
      async () => (await sandboxCall(sandbox, 'GET', `/v2/bookings/${made.data.uid}`)).data.location === 'Room 3B — Floor 2, North wing',
    );
  });

  it('confirms a pending booking through the outbox; Cal.com then sends BOOKING_CREATED and Usher sees it accepted', async () => {
    // Event type 9 belongs to Dr Murray: her key confirms it.
    await usher.close();
    usher = await startTestUsher(store, {
      runWorker: true,
      env: { CAL_API_URL: sandbox.url, CAL_API_KEY: GRACE_KEY },
      yaml: 'worker: { pollIntervalMs: 20 }\nreconciler: { intervalSeconds: 0 }\n',
    });
    sandbox.state.webhooks.clear();
    await subscribeSandbox(sandbox.url, GRACE_KEY, usher.url, TEST_SECRET);
    const made = await sandboxCall(sandbox, 'POST', '/v2/bookings', {
      start: slot(1, 45),
      eventTypeId: 9,
      attendee: { name: 'Sam Roe', email: 'sam@example.com', timeZone: 'Europe/London' },
    });
    expect(made.data.status).toBe('pending');
    await until('the pending booking in Usher', async () => (await getBooking(store.db, made.data.uid))?.status === 'pending');
    await store.db.transaction((trx) =>
      enqueueJob(
        trx,
        { kind: calJobKinds.confirm, payload: { uid: made.data.uid }, bookingUid: made.data.uid, maxAttempts: 3 },
        new Date(),
      ),
    );
    usher.worker.wake();
    await until(
      'Cal.com accepted',
      async () => (await sandboxCall(sandbox, 'GET', `/v2/bookings/${made.data.uid}`)).data.status === 'accepted',
    );
    await until('Usher accepted', async () => (await getBooking(store.db, made.data.uid))?.status === 'accepted');
  });

  it('reconciles: with 20 % of webhooks dropped over 300 bookings, ends in the same state as Cal.com, within the rate budget', async () => {
    sandbox.sender.faults = { dropRate: 0.2, duplicateRate: 0.1, delayMs: 0 };
    const uids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const made = await sandboxCall(sandbox, 'POST', '/v2/bookings', {
        start: slot(i),
        eventTypeId: 7,
        attendee: { name: `P ${i}`, email: `p${i}@example.com`, timeZone: 'Europe/London' },
      });
      uids.push(made.data.uid);
    }
    for (let i = 0; i < 300; i += 10)
      await sandboxCall(sandbox, 'POST', `/v2/bookings/${uids[i]}/cancel`, { cancellationReason: 'Feeling better' });
    for (let i = 5; i < 300; i += 20) await sandboxCall(sandbox, 'POST', `/v2/bookings/${uids[i]}/reschedule`, { start: slot(400 + i) });
    await sandbox.sender.settle();
    expect(sandbox.sender.deliveries.filter((d) => d.status === 'dropped').length).toBeGreaterThan(30);

    const result = await usher.reconcile();
    expect(result.pages).toBe(2);
    await until(
      'the inbox drained',
      async () => (await store.db.query(`select 1 from inbox_events where state = 'pending' limit 1`)).rows.length === 0,
    );

    const truth = new Map([...sandbox.state.bookings.values()].map((b) => [b.uid, b]));
    const mine = await listBookings(store.db, { limit: 10_000 });
    expect(mine).toHaveLength(truth.size);
    for (const b of mine) {
      const t = truth.get(b.uid)!;
      expect([b.uid, b.status, b.start.getTime()]).toEqual([t.uid, t.status, t.start.getTime()]);
    }
    // What it fed is claimed by the booking's day, as a webhook is (migration 0021).
    const fed = await store.db.query<{ uid: string; day: number | null }>(
      `select booking_uid as uid, plan_day as day from inbox_events where source = 'reconciler'`,
    );
    expect(fed.rows).toHaveLength(result.fed);
    expect(fed.rows.filter((r) => r.day !== Math.floor(truth.get(r.uid)!.start.getTime() / 86_400_000))).toEqual([]);
    // A second pass finds nothing new, and no call was refused for rate.
    expect((await usher.reconcile()).fed).toBe(0);
    const metrics = await usher.metrics.registry.getSingleMetricAsString('usher_cal_api_calls_total');
    expect(metrics).toContain('status="200"');
    expect(metrics).not.toContain('status="429"');
  });
});

describe.each(storeKinds)('the worker woken by webhooks on %s', (kind) => {
  it('wakes only the inbox loop for a stored webhook: the jobs loop does not ask for jobs a webhook cannot have made', async () => {
    const store = await openTestStore(kind);
    // Every claim of a job goes through a transaction's query (store/jobs.ts claimJobs); counted on the store's too.
    let jobClaims = 0;
    const counted = <Q extends (sql: string, ...rest: never[]) => unknown>(query: Q): Q =>
      ((sql: string, ...rest: never[]) => {
        if (sql.includes("set state = 'running'")) jobClaims++;
        return query(sql, ...rest);
      }) as Q;
    store.db.query = counted(store.db.query.bind(store.db));
    const transaction = store.db.transaction.bind(store.db);
    store.db.transaction = ((fn: Parameters<typeof transaction>[0]) =>
      transaction((trx) => fn({ ...trx, query: counted(trx.query.bind(trx)) }))) as typeof store.db.transaction;
    // Polling a minute apart: only wake-ups run the loops during the test.
    const usher = await startTestUsher(store, {
      runWorker: true,
      yaml: 'worker: { pollIntervalMs: 60000 }\nreconciler: { intervalSeconds: 0 }\n',
    });
    try {
      await until('the first poll of both loops', async () => jobClaims > 0);
      const before = jobClaims;
      for (let i = 0; i < 12; i++) {
        const start = new Date(Date.parse(slot(i)));
        const b = sampleBooking({ start, end: new Date(start.getTime() + 30 * 60_000) });
        expect(
          (await postWebhook(usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()))).status,
        ).toBe(200);
        // Each decided before the next arrives, so no wake-up is folded into another.
        await until(`webhook ${i} decided`, async () => (await getBooking(store.db, b.uid)) !== undefined);
      }
      // No rooms, no gate: the bookings are recorded and no job is written, so nothing woke the jobs loop.
      expect(jobClaims - before).toBe(0);
    } finally {
      await usher.close();
      await store.close();
    }
  });
});
