import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { createCalClient, createRateLimiter } from '../create-cal-client.ts';
import { enqueueJob, getJob, listJobs } from '../store/jobs.ts';
import { FakeClock } from '../../test/clock.ts';
import { specValidator } from '../../test/openapi.ts';
import { testConfig } from '../../test/config.ts';
import { bookingData, FakeCal, okResponder } from '../../test/fake-cal.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { until } from '../../test/usher.ts';
import { calJobBudgets, calJobHandlers, calJobKinds } from './cal-jobs.ts';
import { Worker, type JobHandler } from './worker.ts';

const yaml = `
cal:
  rateLimit: { requestsPerWindow: 10, locationRequestsPerWindow: 5, windowSeconds: 60 }
  requestTimeoutSeconds: 0.3
worker: { maxAttempts: 3, backoffBaseSeconds: 2, backoffMaxSeconds: 60 }
`;

describe.each(storeKinds)('outbox jobs calling Cal.com on %s', (kind) => {
  let store: TestStore;
  let cal: FakeCal;
  let clock: FakeClock;
  let worker: Worker;
  /** What became of each job the worker claimed, in order: `kind state`. */
  let outcomes: string[];

  beforeAll(async () => {
    store = await openTestStore(kind);
    cal = await new FakeCal().start();
  });
  afterAll(async () => {
    await cal.stop();
    await store.close();
  });
  beforeEach(async () => {
    await store.reset();
    cal.requests.length = 0;
    cal.responder = okResponder;
    clock = new FakeClock('2026-12-01T08:00:00.000Z');
    const config = testConfig({ CAL_API_URL: cal.url, CAL_API_KEY: 'cal_live_secretkey' }, yaml);
    const limiter = createRateLimiter(config, store.db, clock);
    const client = createCalClient(config, store.db, clock, undefined, limiter);
    outcomes = [];
    worker = new Worker({
      db: store.db,
      clock,
      log: createLogger('silent'),
      eventHandlers: [],
      jobHandlers: calJobHandlers(client),
      // As main.ts wires them.
      sharedBudgets: calJobBudgets(limiter),
      hooks: { onJob: (jobKind, state) => outcomes.push(`${jobKind} ${state}`) },
      pollIntervalMs: 50,
      backoffBaseSeconds: 2,
      backoffMaxSeconds: 60,
      random: () => 0.5,
    });
  });

  const enqueue = (kindName: string, payload: Record<string, unknown>, extra: { coalesceKey?: string; priorityAt?: Date } = {}) =>
    store.db.transaction((trx) =>
      enqueueJob(trx, { kind: kindName, payload, bookingUid: payload.uid as string, maxAttempts: 3, ...extra }, clock.now()),
    );

  it('sends confirm, decline, cancel and location with the bearer key, the bookings api version and the right bodies', async () => {
    await enqueue(calJobKinds.confirm, { uid: 'u1' });
    await enqueue(calJobKinds.decline, { uid: 'u2', reason: 'Not enough credits: 0 of 1 needed' });
    await enqueue(calJobKinds.cancel, { uid: 'u3', reason: 'Room closed' });
    await enqueue(calJobKinds.location, { uid: 'u4', address: 'Room 3B — Floor 2, North wing' });
    await worker.drain();
    expect(cal.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/v2/bookings/u1/confirm', undefined],
      ['POST', '/v2/bookings/u2/decline', { reason: 'Not enough credits: 0 of 1 needed' }],
      ['POST', '/v2/bookings/u3/cancel', { cancellationReason: 'Room closed' }],
      ['PATCH', '/v2/bookings/u4/location', { location: { type: 'address', address: 'Room 3B — Floor 2, North wing' } }],
    ]);
    for (const r of cal.requests) {
      expect(r.headers.authorization).toBe('Bearer cal_live_secretkey');
      expect(r.headers['cal-api-version']).toBe('2026-02-25'); // the default, as CONTRACT §4.1 recommends
    }
    // What Usher sends fits Cal.com's own spec (the location input's $refs dangle there, SOURCE.md,
    // so that body is checked against update-location.input.ts's shape by the sandbox tests instead).
    for (const [schema, request] of [
      ['DeclineBookingInput_2024_08_13', cal.requests[1]],
      ['CancelBookingInput_2024_08_13', cal.requests[2]],
    ] as const) {
      const validate = specValidator(schema);
      expect(validate(request!.body), JSON.stringify(validate.errors)).toBe(true);
    }
    const jobs = await listJobs(store.db, { limit: 10 });
    expect(jobs.every((j) => j.state === 'done')).toBe(true);
    expect(jobs.find((j) => j.kind === calJobKinds.location)?.lastResponse).toEqual({
      uid: 'u4',
      location: 'Room 3B — Floor 2, North wing',
    });
  });

  it('dead-letters a 4xx at once with Cal.com’s reason, in either error shape', async () => {
    cal.responder = (req) =>
      req.path.includes('u1')
        ? {
            status: 400,
            body: {
              status: 'error',
              timestamp: '2026-12-01T08:00:00Z',
              path: req.path,
              error: { code: 'BadRequestException', message: 'Booking already accepted' },
            },
          }
        : { status: 400, body: { statusCode: 400, message: 'Cancellation reason is required when you are the host' } };
    const a = await enqueue(calJobKinds.confirm, { uid: 'u1' });
    const b = await enqueue(calJobKinds.cancel, { uid: 'u2', reason: 'x' });
    await worker.drain();
    // each refusal is followed by one look at the booking, in case the work was done already (it
    // answers 400 too here, so neither was): then dead at once, with Cal.com's reason
    expect(cal.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v2/bookings/u1/confirm',
      'GET /v2/bookings/u1',
      'POST /v2/bookings/u2/cancel',
      'GET /v2/bookings/u2',
    ]);
    expect(await getJob(store.db, a.id)).toMatchObject({
      state: 'dead',
      attempts: 1,
      lastError: expect.stringContaining('Booking already accepted'),
    });
    expect(await getJob(store.db, b.id)).toMatchObject({
      state: 'dead',
      lastError: expect.stringContaining('Cancellation reason is required'),
    });
  });

  it('never writes a room into a booking that has ended by the time its turn comes: done, with why, and no call', async () => {
    const { id } = await enqueue(calJobKinds.location, { uid: 'u1', address: 'Room 1A', endsAt: '2026-12-01T07:59:00.000Z' });
    const live = await enqueue(calJobKinds.location, { uid: 'u2', address: 'Room 1B', endsAt: '2026-12-01T09:00:00.000Z' });
    await worker.drain();
    expect(await getJob(store.db, id)).toMatchObject({
      state: 'done',
      lastResponse: { uid: 'u1', skipped: expect.stringContaining('had ended') },
    });
    expect(await getJob(store.db, live.id)).toMatchObject({ state: 'done' });
    expect(cal.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['PATCH /v2/bookings/u2/location']);
  });

  it('respects a decision a person made in Cal.com first: a refused decline of an accepted booking is done, not dead', async () => {
    cal.responder = (req) =>
      req.method === 'GET'
        ? { status: 200, body: { status: 'success', data: bookingData('u1', { status: 'accepted' }) } }
        : { status: 400, body: { status: 'error', error: { code: 'BadRequestException', message: 'Booking already accepted' } } };
    const { id } = await enqueue(calJobKinds.decline, { uid: 'u1', reason: 'Not enough credits: 0 of 1 needed' });
    await worker.drain();
    expect(await getJob(store.db, id)).toMatchObject({ state: 'done', lastResponse: { uid: 'u1', status: 'accepted', respected: true } });
  });

  it('backs off after a 5xx and after a timeout, then dead-letters when attempts run out', async () => {
    let calls = 0;
    cal.responder = () => (++calls === 1 ? { status: 502, body: 'Bad Gateway' } : { status: 200, body: {}, delayMs: 1000 });
    const { id } = await enqueue(calJobKinds.confirm, { uid: 'u1' });
    await worker.drain();
    let job = await getJob(store.db, id);
    expect(job).toMatchObject({ state: 'pending', attempts: 1, lastError: expect.stringContaining('HTTP 502') });
    // attempt 1 → 2 s step, equal jitter with random 0.5 → 1.5 s
    expect(job!.runAt.getTime() - clock.now().getTime()).toBe(1500);
    expect(await worker.drain()).toBe(0);

    clock.advance(1500);
    await worker.drain();
    job = await getJob(store.db, id);
    expect(job).toMatchObject({ state: 'pending', attempts: 2, lastError: expect.stringContaining('no answer') });
    expect(job!.runAt.getTime() - clock.now().getTime()).toBe(3000);

    clock.advance(3000);
    await worker.drain();
    expect(await getJob(store.db, id)).toMatchObject({ state: 'dead', attempts: 3 });
    expect(cal.requests).toHaveLength(3);
  });

  it('waits out a 429 as long as X-RateLimit-Reset-Default says, without spending attempts', async () => {
    let calls = 0;
    cal.responder = (req) =>
      ++calls === 1
        ? {
            status: 429,
            headers: { 'x-ratelimit-limit-default': '120', 'x-ratelimit-remaining-default': '0', 'x-ratelimit-reset-default': '60' },
            body: {
              status: 'error',
              error: { code: 'ThrottlerException', message: 'CustomThrottlerGuard - Too many requests. Please try again later.' },
            },
          }
        : okResponder(req);
    const { id } = await enqueue(calJobKinds.confirm, { uid: 'u1' });
    await enqueue(calJobKinds.confirm, { uid: 'u2' });
    await worker.drain();
    expect(cal.requests).toHaveLength(1); // the second job is held back by the block, not sent into it
    clock.advance(30_000);
    await worker.drain();
    expect(cal.requests).toHaveLength(1);
    clock.advance(31_000);
    await worker.drain();
    expect(cal.requests).toHaveLength(3);
    expect(await getJob(store.db, id)).toMatchObject({ state: 'done' });
  });

  it('coalesces three location changes made before the budget allows into one call with the newest value', async () => {
    for (let i = 0; i < 5; i++)
      await enqueue(calJobKinds.location, { uid: `other-${i}`, address: 'Room 1A' }, { coalesceKey: `location:other-${i}` });
    await worker.drain(); // the five location calls this window allows
    for (const address of ['Room 1A', 'Room 2B', 'Room 3C']) {
      await enqueue(calJobKinds.location, { uid: 'u9', address }, { coalesceKey: 'location:u9' });
      await worker.drain();
    }
    expect(cal.requests.filter((r) => r.path.includes('u9'))).toHaveLength(0);
    clock.advance(61_000);
    await worker.drain();
    const sent = cal.requests.filter((r) => r.path.includes('u9'));
    expect(sent.map((r) => r.body)).toEqual([{ location: { type: 'address', address: 'Room 3C' } }]);
    expect((await listJobs(store.db, { bookingUid: 'u9', limit: 10 })).map((j) => j.state)).toEqual(['done']);
  });

  it('sends sooner bookings first and never more calls in a window than the budget', async () => {
    const starts = ['2026-12-03T09:00:00Z', '2026-12-01T09:00:00Z', '2026-12-02T09:00:00Z'];
    for (const [i, start] of starts.entries()) {
      await enqueue(
        calJobKinds.location,
        { uid: `p${i}`, address: 'Room 1A' },
        { coalesceKey: `location:p${i}`, priorityAt: new Date(start) },
      );
    }
    await worker.drain();
    expect(cal.requests.map((r) => r.path)).toEqual(['/v2/bookings/p1/location', '/v2/bookings/p2/location', '/v2/bookings/p0/location']);

    cal.requests.length = 0;
    const sentAt: number[] = [clock.now().getTime(), clock.now().getTime(), clock.now().getTime()];
    cal.responder = (req) => {
      sentAt.push(clock.now().getTime());
      return okResponder(req);
    };
    for (let i = 0; i < 25; i++) await enqueue(calJobKinds.confirm, { uid: `c${i}` });
    for (let step = 0; step < 20; step++) {
      await worker.drain();
      clock.advance(10_000);
    }
    expect(cal.requests).toHaveLength(25);
    // 10 per 60 s with the 3 location calls at t=0: 7 now, 10 after a minute, 8 after two
    for (const t of sentAt) {
      expect(sentAt.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(10);
    }
    const buckets = await store.db.query<{ key: string }>('select key from rate_buckets');
    expect(buckets.rows.map((r) => r.key).join()).not.toContain('secretkey');
  });

  it('holds a backlog of location writes back while their budget is spent, without claiming them one by one, and keeps their order', async () => {
    const t0 = clock.now();
    // Twelve location writes, booking p0 soonest; a confirmation behind them.
    for (let i = 0; i < 12; i++)
      await enqueue(
        calJobKinds.location,
        { uid: `p${i}`, address: 'Room 1A' },
        { coalesceKey: `location:p${i}`, priorityAt: new Date(Date.parse('2026-12-02T08:00:00Z') + i * 60_000) },
      );
    await enqueue(calJobKinds.confirm, { uid: 'c1' });
    await worker.drain();
    // The five this window allows; the sixth refused and put back; the confirmation (another budget) sent.
    expect(outcomes).toEqual([...Array(5).fill('cal.location done'), 'cal.location waiting', 'cal.confirm done']);
    const waiting = (await listJobs(store.db, { state: 'pending', limit: 20 })).sort((a, b) => a.id - b.id);
    expect(waiting.map((j) => j.bookingUid)).toEqual(['p5', 'p6', 'p7', 'p8', 'p9', 'p10', 'p11']);
    // Only the refused one was touched; the others were never claimed.
    expect(waiting.map((j) => j.attempts)).toEqual(Array(7).fill(0));
    expect(waiting.filter((j) => j.runAt.getTime() !== t0.getTime()).map((j) => j.bookingUid)).toEqual(['p5']);

    // Polled meanwhile: nothing claimed while the window is closed.
    clock.advance(30_000);
    await worker.drain();
    expect(outcomes).toHaveLength(7);

    clock.advance(31_000);
    await worker.drain();
    clock.advance(61_000);
    await worker.drain();
    const sent = cal.requests.filter((r) => r.path.endsWith('/location')).map((r) => r.path.split('/')[3]);
    expect(sent).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`));
    // One refusal per window, not one per job waiting in it.
    expect(outcomes.filter((o) => o === 'cal.location waiting')).toHaveLength(2);
  });
  describe('with four jobs at once', () => {
    /** Cal.com's own budgets (120 calls a minute, 5 location writes), wired as main.ts wires them. */
    function runningWorker(more: Record<string, JobHandler> = {}): Worker {
      const config = testConfig({ CAL_API_URL: cal.url, CAL_API_KEY: 'cal_live_secretkey' }, 'worker: { maxAttempts: 3, jobsAtOnce: 4 }');
      const limiter = createRateLimiter(config, store.db, clock);
      const client = createCalClient(config, store.db, clock, undefined, limiter);
      const running = new Worker({
        db: store.db,
        clock,
        log: createLogger('silent'),
        eventHandlers: [],
        jobHandlers: { ...calJobHandlers(client), ...more },
        sharedBudgets: calJobBudgets(limiter),
        jobsAtOnce: config.worker.jobsAtOnce,
        hooks: { onJob: (jobKind, state) => outcomes.push(`${jobKind} ${state}`) },
        pollIntervalMs: 50,
        backoffBaseSeconds: 2,
        backoffMaxSeconds: 60,
      });
      running.start();
      return running;
    }

    /** Every call to Cal.com is held until the test lets it go: what is in `held` is in flight. */
    function holdCalls(): Map<string, () => void> {
      const held = new Map<string, () => void>();
      cal.responder = (req) => {
        const call = `${req.path.split('/')[3]} ${req.path.split('/')[4]}`;
        return { ...okResponder(req), heldUntil: new Promise<void>((go) => held.set(call, go)) };
      };
      return held;
    }
    const letGo = (held: Map<string, () => void>, ...calls: string[]) => {
      for (const call of calls) {
        held.get(call)!();
        held.delete(call);
      }
    };
    const calls = (held: Map<string, () => void>) => [...held.keys()].sort();
    // What the worker has claimed and not finished: a claim beside others takes every job it may
    // start in one statement, so once its calls arrive nothing more is claimed until one ends.
    const claimed = async () => (await listJobs(store.db, { state: 'running', limit: 20 })).map((j) => j.bookingUid).sort();

    it('has four calls in flight at once while the budget has room for all of them, never more', async () => {
      for (let i = 0; i < 6; i++) await enqueue(calJobKinds.confirm, { uid: `c${i}` }, { coalesceKey: `gate:c${i}` });
      const held = holdCalls();
      const running = runningWorker();
      try {
        await until('four calls in flight', async () => held.size === 4, 5_000);
        // The soonest four, each claimed once; the other two wait for a place.
        expect(calls(held)).toEqual(['c0 confirm', 'c1 confirm', 'c2 confirm', 'c3 confirm']);
        expect(await claimed()).toEqual(['c0', 'c1', 'c2', 'c3']);
        letGo(held, 'c0 confirm', 'c1 confirm');
        await until('the other two in flight', async () => held.size === 4, 5_000);
        expect(calls(held)).toEqual(['c2 confirm', 'c3 confirm', 'c4 confirm', 'c5 confirm']);
        letGo(held, ...held.keys());
        await until('all six done', async () => outcomes.length === 6, 5_000);
        expect(outcomes).toEqual(Array(6).fill('cal.confirm done'));
      } finally {
        letGo(held, ...held.keys());
        await running.stop();
      }
    });

    it('writes locations one at a time, soonest booking first, while confirmations go beside them', async () => {
      for (let i = 0; i < 3; i++)
        await enqueue(
          calJobKinds.location,
          { uid: `p${i}`, address: 'Room 1A' },
          { coalesceKey: `location:p${i}`, priorityAt: new Date(Date.parse('2026-12-02T08:00:00Z') + i * 60_000) },
        );
      await enqueue(calJobKinds.confirm, { uid: 'c0' }, { coalesceKey: 'gate:c0' });
      await enqueue(calJobKinds.confirm, { uid: 'c1' }, { coalesceKey: 'gate:c1' });
      const held = holdCalls();
      const running = runningWorker();
      try {
        // Five location writes a minute: the soonest alone, the confirmations (another budget) beside it.
        await until('three calls in flight', async () => held.size === 3, 5_000);
        expect(calls(held)).toEqual(['c0 confirm', 'c1 confirm', 'p0 location']);
        expect(await claimed()).toEqual(['c0', 'c1', 'p0']);
        letGo(held, 'p0 location');
        await until('the next location write', async () => held.has('p1 location'), 5_000);
        expect(calls(held)).toEqual(['c0 confirm', 'c1 confirm', 'p1 location']);
        expect(await claimed()).toEqual(['c0', 'c1', 'p1']);
        letGo(held, ...held.keys());
        await until('the last location write', async () => held.has('p2 location'), 5_000);
        letGo(held, 'p2 location');
        await until('all five done', async () => outcomes.length === 5, 5_000);
      } finally {
        letGo(held, ...held.keys());
        await running.stop();
      }
      const locations = cal.requests.filter((r) => r.path.endsWith('/location')).map((r) => r.path.split('/')[3]);
      expect(locations).toEqual(['p0', 'p1', 'p2']);
    });

    it('delivers jobs of a kind without a shared budget one at a time, in order, with Cal.com calls beside them', async () => {
      const started: string[] = [];
      const finish = new Map<string, () => void>();
      const deliver: JobHandler = (job) => {
        started.push(job.bookingUid!);
        return new Promise((done) => finish.set(job.bookingUid!, () => done({ delivered: true })));
      };
      await enqueue(calJobKinds.confirm, { uid: 'c0' }, { coalesceKey: 'gate:c0' });
      for (const uid of ['d0', 'd1', 'd2']) await enqueue('test.delivery', { uid });
      const held = holdCalls();
      const running = runningWorker({ 'test.delivery': deliver });
      try {
        // The confirmation first; beside it one delivery, not three.
        await until('the first delivery beside the confirmation', async () => held.size === 1 && started.length === 1, 5_000);
        expect(started).toEqual(['d0']);
        expect(await claimed()).toEqual(['c0', 'd0']);
        finish.get('d0')!();
        await until('the second delivery', async () => started.length === 2, 5_000);
        expect(started).toEqual(['d0', 'd1']);
        expect(await claimed()).toEqual(['c0', 'd1']);
        letGo(held, 'c0 confirm');
        finish.get('d1')!();
        await until('the third delivery', async () => started.length === 3, 5_000);
        finish.get('d2')!();
        await until('all four done', async () => outcomes.length === 4, 5_000);
      } finally {
        for (const done of finish.values()) done();
        letGo(held, ...held.keys());
        await running.stop();
      }
      expect(started).toEqual(['d0', 'd1', 'd2']);
    });
  });
});
