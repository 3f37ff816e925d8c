import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Usher } from '../main.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../sandbox/payloads.ts';
import { FakeClock } from '../../test/clock.ts';
import { TEST_ADMIN_TOKEN } from '../../test/config.ts';
import { openTestStore, serverUrl, type TestStore } from '../../test/stores.ts';
import { postWebhook, startTestUsher, until } from '../../test/usher.ts';
import { createLogger } from '../log.ts';
import { openPostgres, type Db } from '../store/db.ts';
import { BoardFeed, type BoardMessage } from './board-feed.ts';
import type { BoardView } from './board-view.ts';
import { applyViewDelta, type ViewPatchMessage, type WholeViewMessage } from './view-patch.ts';

async function boardCookie(url: string): Promise<string> {
  const signIn = await fetch(`${url}/board/sign-in`, {
    method: 'POST',
    body: new URLSearchParams({ token: TEST_ADMIN_TOKEN }),
    redirect: 'manual',
  });
  return signIn.headers.get('set-cookie')!.split(';')[0]!;
}

/** The board's event stream as a viewer reads it: one server-sent event at a time. */
class BoardStream {
  readonly #abort = new AbortController();
  readonly #reader: Promise<ReadableStreamDefaultReader<Uint8Array>>;
  #buffer = '';

  constructor(url: string, cookie: string) {
    this.#reader = fetch(`${url}/board/events`, { headers: { cookie }, signal: this.#abort.signal }).then((res) => res.body!.getReader());
  }

  async next(): Promise<{ event: string; data: string }> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) return { event, data };
        continue;
      }
      const { value, done } = await (await this.#reader).read();
      if (done) throw new Error('the stream ended');
      this.#buffer += new TextDecoder().decode(value);
    }
  }

  close(): void {
    this.#abort.abort();
  }
}

const ROOMS = `
timeZone: Europe/London
reconciler: { intervalSeconds: 0 }
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "1B", floor: 1, building: "North wing", cleaningMinutes: 10 }
`;

describe('board event stream', () => {
  let store: TestStore;
  let usher: Usher;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    usher = await startTestUsher(store, { yaml: ROOMS, clock: new FakeClock(new Date('2026-12-02T09:00:00Z')) });
  });
  afterEach(async () => {
    await usher.close();
    await store.close();
  });

  it('sends the whole view on connect and then only what changed, which patched gives the view a new viewer gets', async () => {
    // A morning already booked: the view holds its bookings and their decisions.
    const booked = (at: string) => sampleBooking({ start: new Date(`2026-12-02T${at}:00Z`), lengthMinutes: 20 });
    for (const at of ['09:30', '10:30', '11:00', '11:30', '12:00', '12:30', '13:00', '13:30', '14:00', '14:30']) {
      const early = booked(at);
      await postWebhook(usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(early, 'BOOKING_CREATED'), new Date()));
    }
    while (await usher.worker.runInboxOnce()) {
      // all decided
    }
    const cookie = await boardCookie(usher.url);
    const a = new BoardStream(usher.url, cookie);
    const first = await a.next();
    expect(first.event).toBe('view');
    let shown = JSON.parse(first.data) as WholeViewMessage<BoardView>;
    const b = sampleBooking({ start: new Date('2026-12-02T10:00:00Z'), end: new Date('2026-12-02T10:30:00Z') });
    expect((await postWebhook(usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()))).status).toBe(
      200,
    );
    await usher.worker.runInboxOnce();
    const patchSizes: number[] = [];
    while (!shown.view.bookings[b.uid]) {
      const message = await a.next();
      expect(message.event).toBe('patch');
      const patch = JSON.parse(message.data) as ViewPatchMessage;
      expect(patch.from).toBe(shown.version);
      patchSizes.push(message.data.length);
      shown = { version: patch.to, view: applyViewDelta(shown.view, patch.delta) };
    }
    expect(shown.view.groups.flatMap((g) => g.rooms).find((r) => r.bookings.includes(b.uid))?.name).toMatch(/^1[AB]$/);
    // The booking, its room and the decision, not the view again.
    expect(Math.max(...patchSizes)).toBeLessThan(JSON.stringify(shown.view).length / 2);
    const fresh = new BoardStream(usher.url, cookie);
    const whole = await fresh.next();
    expect(whole.event).toBe('view');
    expect(JSON.parse(whole.data)).toEqual(shown);
    a.close();
    fresh.close();
    await until('no viewers', async () => usher.board.viewers === 0, 5000);
  });
});

describe('board event stream across processes', () => {
  let store: TestStore;
  let second: Db;
  const ushers: Usher[] = [];
  beforeEach(async () => {
    store = await openTestStore('postgres');
    // Another process: its own connections to the same database.
    second = await openPostgres(store.url);
    const clock = new FakeClock(new Date('2026-12-02T09:00:00Z'));
    ushers.push(await startTestUsher(store, { yaml: ROOMS, clock }));
    ushers.push(await startTestUsher({ ...store, db: second }, { yaml: ROOMS, clock }));
  });
  afterEach(async () => {
    for (const usher of ushers.splice(0)) await usher.close();
    await second.close();
    await store.close();
  });

  /** A booking made through Cal.com, handled by `usher`'s worker; returns its uid. */
  async function book(usher: Usher, at: string): Promise<string> {
    const b = sampleBooking({ start: new Date(`2026-12-02T${at}:00Z`), lengthMinutes: 20 });
    expect((await postWebhook(usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()))).status).toBe(
      200,
    );
    await usher.worker.runInboxOnce();
    return b.uid;
  }

  /** Reads a stream, patching its view, until `done`; returns the messages' data. */
  async function follow(stream: BoardStream, shown: { current: WholeViewMessage<BoardView> }, done: (v: BoardView) => boolean) {
    const seen: string[] = [];
    while (!done(shown.current.view)) {
      const message = await stream.next();
      expect(message.event).toBe('patch');
      const patch = JSON.parse(message.data) as ViewPatchMessage;
      expect(patch.from).toBe(shown.current.version);
      shown.current = { version: patch.to, view: applyViewDelta(shown.current.view, patch.delta) };
      seen.push(message.data);
    }
    return seen;
  }

  it('computes each change once, in one process, for the viewers of every process, and another carries on when it stops', async () => {
    const [a, b] = ushers as [Usher, Usher];
    await book(a, '09:30');
    const streams = [new BoardStream(a.url, await boardCookie(a.url)), new BoardStream(b.url, await boardCookie(b.url))];
    const firsts = await Promise.all(streams.map((s) => s.next()));
    expect(firsts.map((m) => m.event)).toEqual(['view', 'view']);
    // The same view at the same version in both processes.
    expect(firsts[1]!.data).toBe(firsts[0]!.data);
    const shown = firsts.map((m) => ({ current: JSON.parse(m.data) as WholeViewMessage<BoardView> }));

    for (const at of ['10:00', '10:30', '11:00']) {
      const uid = await book(a, at);
      const [seenA, seenB] = await Promise.all(streams.map((s, i) => follow(s, shown[i]!, (v) => v.bookings[uid] !== undefined)));
      // Both processes' viewers got the very same patches.
      expect(seenB).toEqual(seenA);
    }
    expect(shown[1]!.current).toEqual(shown[0]!.current);
    const [computing, following] = a.board.computing ? [a, b] : [b, a];
    expect(following.board.computing).toBe(false);
    expect(following.board.computed).toBe(0);
    expect(computing.board.computed).toBeGreaterThanOrEqual(4);

    // A third process whose first viewer comes now starts from the feed: that viewer gets the view as
    // it is, once, not the feed's history from its last whole view on.
    const thirdDb = await openPostgres(store.url);
    const third = await startTestUsher({ ...store, db: thirdDb }, { yaml: ROOMS, clock: new FakeClock(new Date('2026-12-02T09:00:00Z')) });
    const late = new BoardStream(third.url, await boardCookie(third.url));
    expect(await late.next()).toEqual({ event: 'view', data: JSON.stringify(shown[0]!.current) });
    expect(third.board.computed).toBe(0);
    late.close();
    await third.close();
    await thirdDb.close();

    // The computing process stops; the other takes over where it left off: its viewer needs no reconnect.
    const left = following === a ? 0 : 1;
    streams[1 - left]!.close();
    await computing.close();
    ushers.splice(ushers.indexOf(computing), 1);
    const uid = await book(following, '11:30');
    await follow(streams[left]!, shown[left]!, (v) => v.bookings[uid] !== undefined);
    expect(following.board.computing).toBe(true);
    const fresh = new BoardStream(following.url, await boardCookie(following.url));
    expect(JSON.parse((await fresh.next()).data)).toEqual(shown[left]!.current);
    fresh.close();
    streams[left]!.close();
  });
});

describe('board feed beside a working worker', () => {
  let store: TestStore;
  let usher: Usher;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    usher = await startTestUsher(store, {
      yaml: `${ROOMS}worker: { pollIntervalMs: 50 }\n`,
      runWorker: true,
      clock: new FakeClock(new Date('2026-12-02T09:00:00Z')),
    });
  });
  afterEach(async () => {
    await usher.close();
    await store.close();
  });

  it('is not computed again by the worker polling for work that is not there, and is by work that is', async () => {
    const stream = new BoardStream(usher.url, await boardCookie(usher.url));
    expect((await stream.next()).event).toBe('view');
    const computed = usher.board.computed;
    // Twenty polls of the job and event loops find nothing (their claims are updates of no row).
    await new Promise((r) => setTimeout(r, 1000));
    expect(usher.board.computed).toBe(computed);
    const b = sampleBooking({ start: new Date('2026-12-02T10:00:00Z'), lengthMinutes: 20 });
    await postWebhook(usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()));
    await until('the booking decided and shown', async () => usher.board.computed > computed, 5000);
    stream.close();
  });
});

describe('board feed that finds its version taken', () => {
  let store: TestStore;
  beforeEach(async () => {
    store = await openTestStore('postgres');
  });
  afterEach(async () => {
    await store.close();
  });

  it('follows the process that published it instead of sending its own view under the same number', async () => {
    let n = 0;
    const feed = new BoardFeed({ db: store.db, log: createLogger('silent'), compute: async () => ({ n: n++ }), settleMs: 10 });
    await feed.start();
    const got: BoardMessage[] = [];
    const stop = await feed.subscribe((m) => got.push(m));
    expect(feed.computing).toBe(true);
    expect(got).toEqual([{ event: 'view', data: '{"version":1,"view":{"n":0}}' }]);
    // Another process published version 2 (it took the lock while this one, unknowing, had lost it).
    await store.db.query(`insert into board_feed (version, patch, whole) values (2, null, '{"n":100}')`);
    feed.changed();
    await until('the other view shown', async () => got.length === 2, 5000);
    expect(got[1]).toEqual({ event: 'view', data: '{"version":2,"view":{"n":100}}' });
    // And it carries on from there.
    feed.changed();
    await until('a patch from version 2', async () => got.length === 3, 5000);
    expect(JSON.parse(got[2]!.data)).toMatchObject({ from: 2, to: 3 });
    stop();
    await feed.close();
  });
});

// A lock on a table the view reads holds the first view back while the stream is already open:
// that needs a second connection, so the PostgreSQL server lane.
describe.runIf(serverUrl)('board event stream on PostgreSQL', () => {
  let store: TestStore;
  let usher: Usher;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    usher = await startTestUsher(store);
  });
  afterEach(async () => {
    await usher.close();
    await store.close();
  });

  it('forgets viewers that leave while their first view is still being computed', async () => {
    const signIn = await fetch(`${usher.url}/board/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ token: TEST_ADMIN_TOKEN }),
      redirect: 'manual',
    });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const locker = new pg.Client({ connectionString: store.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table rooms in access exclusive mode');
      for (let i = 0; i < 5; i++) {
        const abort = new AbortController();
        const res = await fetch(`${usher.url}/board/events`, { headers: { cookie }, signal: abort.signal });
        expect(res.status).toBe(200);
        abort.abort();
      }
      await new Promise((r) => setTimeout(r, 200)); // the hang-ups reach the server while the view waits
      await locker.query('commit');
    } finally {
      await locker.end();
    }
    const stay = new AbortController();
    const res = await fetch(`${usher.url}/board/events`, { headers: { cookie }, signal: stay.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: view')) text += new TextDecoder().decode((await reader.read()).value);

    await until('only the staying viewer left', async () => usher.board.viewers === 1, 5000);
    stay.abort();
    await until('no viewers', async () => usher.board.viewers === 0, 5000);
  });
});
