import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Usher } from '../main.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../sandbox/payloads.ts';
import { FakeClock } from '../../test/clock.ts';
import { TEST_ADMIN_TOKEN } from '../../test/config.ts';
import { openTestStore, serverUrl, type TestStore } from '../../test/stores.ts';
import { postWebhook, startTestUsher, until } from '../../test/usher.ts';
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
