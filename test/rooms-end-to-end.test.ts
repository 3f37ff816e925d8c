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

  it('never touches a video consultation’s Cal Video link: no room, no location call, and the booking says why', async () => {
    const make = (eventTypeId: number, hour: number, name: string) =>
      request(`${sandbox.url}/v2/bookings`, {
        method: 'POST',
        headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json' },
        body: JSON.stringify({
          start: tomorrowAt(hour).toISOString(),
          eventTypeId,
          attendee: { name, email: `${name.split(' ')[0]!.toLowerCase()}@example.com`, timeZone: 'Europe/London' },
        }),
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
    const res = await request(`${sandbox.url}/v2/bookings`, {
      method: 'POST',
      headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json' },
      body: JSON.stringify({
        start: tomorrowAt(9).toISOString(),
        eventTypeId: 7,
        attendee: { name: 'Pat Doe', email: 'pat@example.com', timeZone: 'Europe/London' },
      }),
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
