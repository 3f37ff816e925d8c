import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Usher } from '../src/main.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { TEST_ADMIN_TOKEN, TEST_SECRET } from './config.ts';
import { openTestStore, storeKinds, type TestStore } from './stores.ts';
import { adminGet, inCal, startTestUsher, tomorrowAt, until } from './usher.ts';

const KEY = 'cal_sandbox_demo_key';
const YAML = `
timeZone: Europe/London
worker: { pollIntervalMs: 20 }
reconciler: { intervalSeconds: 0 }
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "2B", floor: 2, building: "South wing", cleaningMinutes: 10 }
doctors:
  "5": { preferredRooms: ["1A"] }
`;

describe.each(storeKinds)('rooms end to end with the sandbox Cal.com on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  beforeEach(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }, yaml: YAML });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  });
  afterEach(async () => {
    await sandbox.close();
    await usher.close();
    await store.close();
  });
  /** A POST to the sandbox's Cal.com API, as a booker (or with a key, as a host). */
  const calPost = (path: string, body: unknown, key?: string) =>
    request(`${sandbox.url}${path}`, {
      method: 'POST',
      headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
  /** The same store and sandbox, Usher started again with another config. */
  const restartWith = async (yaml: string) => {
    await usher.close();
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY }, yaml });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  };

  it('never touches a video consultation’s Cal Video link: no room, no location call, and the booking says why', async () => {
    const make = (eventTypeId: number, hour: number, name: string) =>
      calPost(`/v2/bookings`, {
        start: tomorrowAt(hour).toISOString(),
        eventTypeId,
        attendee: { name, email: `${name.split(' ')[0]!.toLowerCase()}@example.com`, timeZone: 'Europe/London' },
      }).then(async (r) => ((await r.body.json()) as { data: { uid: string } }).data.uid);
    const video = await make(11, 10, 'Vic Video');
    const inPerson = await make(7, 11, 'Ida Person');
    // The in-person booking after it gets its room written: by then the video one was handled too.
    await until('the in-person room in Cal.com', async () => (await inCal(sandbox.url, inPerson)).location?.startsWith('Room '));
    const view = await until('the video booking decided', async () => {
      const v = await adminGet(usher.url, `/api/bookings/${video}`);
      return v.body.data?.decisions?.some((d: { kind: string }) => d.kind === 'room') && v.body.data;
    });
    expect(view.room).toBeNull();
    expect(view.decisions).toContainEqual(
      expect.objectContaining({
        kind: 'room',
        outcome: 'not_needed',
        reasons: [expect.objectContaining({ code: 'room.not_in_person', kind: 'video', location: 'integrations:daily' })],
      }),
    );
    expect(view.jobs.filter((j: { kind: string }) => j.kind === 'cal.location')).toEqual([]);
    expect((await inCal(sandbox.url, video)).location).toBe('integrations:daily');
  });

  it('writes the chosen room into the Cal.com booking, shows it written, and moves it when the room is blocked', async () => {
    const res = await calPost(`/v2/bookings`, {
      start: tomorrowAt(9).toISOString(),
      eventTypeId: 7,
      attendee: { name: 'Pat Doe', email: 'pat@example.com', timeZone: 'Europe/London' },
    });
    const uid = ((await res.body.json()) as { data: { uid: string } }).data.uid;
    await until('the room in Cal.com', async () => (await inCal(sandbox.url, uid)).location === 'Room 1A — Floor 1, North wing');
    const view = await until('written', async () => {
      const v = await adminGet(usher.url, `/api/bookings/${uid}`);
      return v.body.data.room?.written && v.body.data;
    });
    expect(view.room).toMatchObject({ name: '1A', location: 'Room 1A — Floor 1, North wing', written: true, pinned: false });

    const blocked = await request(`${usher.url}/api/rooms/1A/blocks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'Burst pipe', from: tomorrowAt(8).toISOString(), until: tomorrowAt(12).toISOString() }),
    });
    const plan = (
      (await blocked.body.json()) as { data: { plan: { movedCount: number; moves: { uid: string; to: string; why: string }[] } } }
    ).data.plan;
    expect(plan).toMatchObject({ movedCount: 1, moves: [{ uid, to: '2B', why: 'room_unusable' }] });
    await until('the new room in Cal.com', async () => (await inCal(sandbox.url, uid)).location === 'Room 2B — Floor 2, South wing');

    const board = await adminGet(usher.url, `/api/rooms/board?at=${encodeURIComponent(tomorrowAt(9).toISOString())}`);
    const rooms = board.body.data.rooms as { name: string; now: { state: string; reason?: string } }[];
    expect(rooms.find((r) => r.name === '1A')?.now).toMatchObject({ state: 'blocked', reason: 'Burst pipe' });
    expect(rooms.find((r) => r.name === '2B')?.now).toMatchObject({ state: 'in_use' });
  });

  it('a seated class holds a room for everyone who took a seat: it moves when it outgrows it, and one seat’s cancel frees no room', async () => {
    await restartWith(
      YAML.replace(/cleaningMinutes: 10 \}/g, 'cleaningMinutes: 10, capacity: 2 }')
        .replace('doctors:', 'eventTypes:\n  "14": { title: Back-care class }\ndoctors:')
        .replace('rooms:\n', 'rooms:\n  - { name: "G1", floor: 0, building: "South wing", equipment: [plinth], capacity: 8 }\n'),
    );
    const start = tomorrowAt(14).toISOString();
    const seat = async (name: string) => {
      const res = await calPost(`/v2/bookings`, {
        start,
        eventTypeId: 14,
        attendee: { name, email: `${name.toLowerCase()}@example.com`, timeZone: 'Europe/London' },
      });
      expect(res.statusCode).toBe(201);
      return ((await res.body.json()) as { data: { uid: string; seatUid: string } }).data;
    };
    const cancelSeat = (uid: string, seatUid: string) => calPost(`/v2/bookings/${uid}/cancel`, { seatUid });
    const roomOf = async (uid: string) => (await adminGet(usher.url, `/api/bookings/${uid}`)).body.data;

    const ann = await seat('Ann');
    // One person: a small room (G1's plinth would be wasted on a class that fits anywhere).
    const small = await until('the first seat has a room', async () => (await roomOf(ann.uid))?.room?.name);
    expect(['1A', '2B']).toContain(small);
    const ben = await seat('Ben');
    const cat = await seat('Cat');
    expect([ben.uid, cat.uid]).toEqual([ann.uid, ann.uid]); // every seat is the one booking (Cal.com's handleSeats)
    await until('three people move the class to G1, in Cal.com too', async () =>
      (await inCal(sandbox.url, ann.uid)).location?.startsWith('Room G1'),
    );
    expect((await roomOf(ann.uid)).decisions).toContainEqual(
      expect.objectContaining({
        kind: 'room',
        outcome: 'assigned',
        reasons: [expect.objectContaining({ room: 'G1', cause: 'seats_taken' })],
      }),
    );

    expect((await cancelSeat(ann.uid, ben.seatUid)).statusCode).toBe(200);
    await until('Ben’s seat cancel handled', async () =>
      (await roomOf(ann.uid)).decisions.some((d: { reasons: { code: string }[] }) => d.reasons[0]?.code === 'cal.BOOKING_CANCELLED.seat'),
    );
    const afterOne = await roomOf(ann.uid);
    expect(afterOne.booking.status).toBe('accepted');
    expect(afterOne.room).toMatchObject({ name: 'G1' }); // Ann and Cat still come: the room stays theirs
    expect((await inCal(sandbox.url, ann.uid)).status).toBe('accepted');

    await cancelSeat(ann.uid, ann.seatUid);
    expect((await cancelSeat(ann.uid, cat.seatUid)).statusCode).toBe(200); // the last seat cancels the class
    await until('the class cancelled and its room freed', async () => {
      const v = await roomOf(ann.uid);
      return v.booking.status === 'cancelled' && v.room === null;
    });
  });

  it('a round-robin booking reassigned to a doctor who may not use its room is moved to one of theirs', async () => {
    await restartWith(YAML.replace('doctors:', 'doctors:\n  "6": { rooms: ["2B"] }'));
    const made = await calPost(
      '/v2/bookings',
      {
        start: tomorrowAt(15).toISOString(),
        eventTypeId: 7,
        attendee: { name: 'Rae Robin', email: 'rae@example.com', timeZone: 'Europe/London' },
      },
      KEY,
    );
    const uid = ((await made.body.json()) as { data: { uid: string } }).data.uid;
    await until('Dr Byron’s room in Cal.com', async () => (await inCal(sandbox.url, uid)).location?.startsWith('Room 1A'));
    expect((await calPost(`/v2/bookings/${uid}/reassign/6`, {}, KEY)).statusCode).toBe(200);
    await until('Dr Turing’s room in Cal.com', async () => (await inCal(sandbox.url, uid)).location?.startsWith('Room 2B'));
    const view = (await adminGet(usher.url, `/api/bookings/${uid}`)).body.data;
    expect(view.room).toMatchObject({ name: '2B' });
    expect(view.decisions).toContainEqual(
      expect.objectContaining({
        kind: 'room',
        outcome: 'assigned',
        reasons: [expect.objectContaining({ room: '2B', cause: 'reassigned' })],
      }),
    );
  });

  it('cancelling the rest of a weekly series frees every later week’s room, though Cal.com sends one webhook for it', async () => {
    const made = await calPost(`/v2/bookings`, {
      start: tomorrowAt(16).toISOString(),
      eventTypeId: 15,
      recurrenceCount: 4,
      attendee: { name: 'Sam Series', email: 'sam@example.com', timeZone: 'Europe/London' },
    });
    expect(made.statusCode).toBe(201);
    const weeks = ((await made.body.json()) as { data: { uid: string }[] }).data.map((b) => b.uid);
    expect(weeks).toHaveLength(4);
    const view = async (uid: string) => (await adminGet(usher.url, `/api/bookings/${uid}`)).body.data;
    await until('every week has a room', async () => (await Promise.all(weeks.map(view))).every((v) => v?.room?.name));
    const cancelled = await calPost(`/v2/bookings/${weeks[1]}/cancel`, {
      cancellationReason: 'Moving away',
      cancelSubsequentBookings: true,
    });
    expect(cancelled.statusCode).toBe(200);
    // The reconciler is off here: only the series check can learn of weeks 3 and 4.
    await until('weeks 2–4 cancelled and their rooms freed', async () => {
      const v = await Promise.all(weeks.slice(1).map(view));
      return v.every((b) => b.booking.status === 'cancelled' && b.room === null);
    });
    expect((await view(weeks[0]!)).booking.status).toBe('accepted');
    expect((await view(weeks[0]!)).room).toMatchObject({ name: expect.any(String) });
    const deliveries = sandbox.sender.deliveries.filter((d) => d.trigger === 'BOOKING_CANCELLED');
    expect(deliveries.map((d) => d.uid)).toEqual([weeks[1]]);
  });

  it('a collective team event takes a room every one of its doctors may use; round robin books a free doctor', async () => {
    // Dr Somerville (8) would rather 1A; Dr Turing (6), the other host, may use only 2B.
    await restartWith(YAML.replace('doctors:', 'doctors:\n  "6": { rooms: ["2B"] }\n  "8": { preferredRooms: ["1A"] }'));
    const book = async (eventTypeId: number, hour: number, name: string) => {
      const res = await calPost(`/v2/bookings`, {
        start: tomorrowAt(hour).toISOString(),
        eventTypeId,
        attendee: { name, email: 'team@example.com', timeZone: 'Europe/London' },
      });
      const json = (await res.body.json()) as { data: { uid: string; hosts: { id: number }[] } };
      expect(res.statusCode, JSON.stringify(json)).toBe(201);
      return json.data;
    };
    const joint = await book(16, 10, 'Jo Joint');
    expect(joint.hosts.map((h) => h.id)).toEqual([8, 6]);
    await until('the joint assessment in Dr Turing’s room too', async () =>
      (await inCal(sandbox.url, joint.uid)).location?.startsWith('Room 2B'),
    );
    // Round robin: Dr Byron is taken at 11:00 by a consultation, so triage goes to Dr Somerville;
    // at 10:00 both are taken (she is in the joint assessment), and Cal.com refuses.
    await book(7, 11, 'Con Sult');
    const triage = await book(17, 11, 'Tri Age');
    expect(triage.hosts.map((h) => h.id)).toEqual([8]);
    await book(7, 10, 'Early Bird');
    const refused = await calPost(`/v2/bookings`, {
      start: tomorrowAt(10).toISOString(),
      eventTypeId: 17,
      attendee: { name: 'Late', email: 'late@example.com', timeZone: 'Europe/London' },
    });
    expect(refused.statusCode).toBe(400);
  });

  it('refuses room changes without the admin token and explains bad input', async () => {
    const put = (path: string, body: unknown, token: string | null = TEST_ADMIN_TOKEN) =>
      request(`${usher.url}${path}`, {
        method: 'POST',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await put('/api/rooms/1A/blocks', { reason: 'x', until: tomorrowAt(10).toISOString() }, null)).statusCode).toBe(401);
    const bad = await put('/api/rooms/1A/blocks', { reason: 'x', until: 'tomorrow' });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: { message: string } }).error.message).toContain('until');
    const unknown = await put('/api/rooms/9Z/blocks', { reason: 'x', until: tomorrowAt(10).toISOString() });
    expect(unknown.statusCode).toBe(404);
  });
});
