import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calJobHandlers, calJobKinds } from '../src/jobs/cal-jobs.ts';
import { Worker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { createCalClient } from '../src/create-cal-client.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { enqueueJob, listJobs } from '../src/store/jobs.ts';
import { testConfig } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { inCal, tomorrowAt } from './usher.ts';

const KEY = 'cal_sandbox_demo_key';

async function book(sandboxUrl: string, start: Date, eventTypeId: number, name: string): Promise<string> {
  const res = await request(`${sandboxUrl}/v2/bookings`, {
    method: 'POST',
    headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json' },
    body: JSON.stringify({
      start: start.toISOString(),
      eventTypeId,
      attendee: { name, email: `${name.split(' ')[0]!.toLowerCase()}@example.com`, timeZone: 'Europe/London' },
    }),
  });
  return ((await res.body.json()) as { data: { uid: string } }).data.uid;
}

// A kill -9 between Cal.com's answer and the job's "done" sends the same call again after the
// restart (issue 16: one repeated call per kill). Each of Usher's calls must leave Cal.com as one
// call would, and a repeat Cal.com refuses because it is already done must end the job as done.
describe.each(storeKinds)('every Cal.com call sent twice, as after a crash, on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  beforeAll(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000 });
    await sandbox.listen(0, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await sandbox.close();
    await store.close();
  });

  it('confirm, decline, cancel and location each end done, and Cal.com holds what one call would have made', async () => {
    const toConfirm = await book(sandbox.url, tomorrowAt(9), 9, 'Cora Confirm');
    const toDecline = await book(sandbox.url, tomorrowAt(11), 9, 'Dora Decline');
    const toCancel = await book(sandbox.url, tomorrowAt(13), 7, 'Cole Cancel');
    const toLocate = await book(sandbox.url, tomorrowAt(15), 7, 'Lola Locate');
    const now = new Date();
    const worker = new Worker({
      db: store.db,
      clock: { now: () => new Date() },
      log: createLogger('silent'),
      eventHandlers: [],
      jobHandlers: calJobHandlers(
        createCalClient(testConfig({ CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }), store.db, { now: () => new Date() }),
      ),
      pollIntervalMs: 50,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 10,
    });
    const calls = [
      { kind: calJobKinds.confirm, payload: { uid: toConfirm } },
      { kind: calJobKinds.decline, payload: { uid: toDecline, reason: 'Not enough credits: 0 of 1 needed' } },
      { kind: calJobKinds.cancel, payload: { uid: toCancel, reason: 'Room closed for repairs' } },
      { kind: calJobKinds.location, payload: { uid: toLocate, address: 'Room 1A — Floor 1, North wing' } },
    ];
    for (const round of [1, 2]) {
      for (const c of calls) await store.db.transaction((trx) => enqueueJob(trx, { ...c, bookingUid: c.payload.uid, maxAttempts: 3 }, now));
      await worker.drain();
      const jobs = await listJobs(store.db, { limit: 100 });
      expect(jobs.map((j) => `${j.kind} ${j.state}`).sort(), `round ${round}`).toEqual(
        calls.flatMap((c) => Array.from({ length: round }, () => `${c.kind} done`)).sort(),
      );
    }
    expect((await inCal(sandbox.url, toConfirm)).status).toBe('accepted');
    expect((await inCal(sandbox.url, toDecline)).status).toBe('rejected');
    expect((await inCal(sandbox.url, toCancel)).status).toBe('cancelled');
    expect((await inCal(sandbox.url, toLocate)).location).toBe('Room 1A — Floor 1, North wing');
  });
});
