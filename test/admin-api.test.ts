import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { TEST_ADMIN_TOKEN } from './config.ts';
import { storeKinds } from './stores.ts';
import { postWebhook, usherPerFile } from './usher.ts';

const ROOMS = `
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "2B", floor: 2, building: "South wing", cleaningMinutes: 10, equipment: [ecg] }
`;

// Every admin route a user can call. A route added without a schema stops Usher at start
// (http/app.ts), and one missing here or there fails below.
const ADMIN_ROUTES = [
  'get /api/events',
  'get /api/events/{ref}',
  'get /api/jobs',
  'get /api/jobs/{ref}',
  'post /api/replay/{ref}',
  'post /api/reconcile',
  'get /api/members',
  'post /api/members/import',
  'get /api/members/{email}',
  'put /api/members/{email}',
  'post /api/members/{email}/credits',
  'get /api/gate/held',
  'post /api/bookings/{uid}/approve',
  'post /api/bookings/{uid}/decline',
  'get /api/bookings/{uid}',
  'get /api/rooms',
  'put /api/rooms/{name}',
  'delete /api/rooms/{name}',
  'post /api/rooms/{name}/blocks',
  'delete /api/rooms/blocks/{id}',
  'put /api/rooms/blocks/{id}',
  'post /api/rooms/{name}/cleaned',
  'post /api/bookings/{uid}/room',
  'get /api/bookings/{uid}/rooms',
  'post /api/rooms/replan',
  'get /api/rooms/board',
  'get /api/slots',
  'post /api/bookings',
  'get /api/insights',
  'get /api/insights.csv',
  'post /api/what-if',
  'get /api/calendar-feeds',
  'post /api/calendar-feeds',
  'delete /api/calendar-feeds/{id}',
];

type Operation = { security?: unknown[]; responses: Record<string, { content?: { 'application/json'?: { schema: object } } }> };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe.each(storeKinds)('the admin API on %s', (kind) => {
  const t = usherPerFile(kind, { yaml: ROOMS });

  async function call(method: string, path: string, body?: unknown) {
    const res = await request(t.usher.url + path, {
      method: method.toUpperCase() as 'GET',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, body: (await res.body.json()) as unknown };
  }

  it('documents every route in OpenAPI 3.1 at /api/openapi.json, and each answer matches the document', async () => {
    const res = await request(`${t.usher.url}/api/openapi.json`);
    expect(res.statusCode).toBe(200);
    const doc = (await res.body.json()) as Document;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(documented.filter((r) => r.includes(' /api/')).sort()).toEqual([...ADMIN_ROUTES].sort());

    // An independent reader of the document (Ajv, not the zod the routes are written with).
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const schemaOf = (method: string, path: string, status: number) => {
      const operation = doc.paths[path]?.[method];
      const schema = operation?.responses[String(status)]?.content?.['application/json']?.schema;
      if (!schema) throw new Error(`${method} ${path}: no documented ${status} answer`);
      return schema;
    };
    for (const route of ADMIN_ROUTES) {
      const [method, path] = route.split(' ') as [string, string];
      const operation = doc.paths[path]![method]!;
      expect(operation.security, route).toEqual([{ adminToken: [] }]);
      expect(Object.keys(operation.responses), route).toEqual(expect.arrayContaining(['400', '401']));
      for (const answer of Object.values(operation.responses)) {
        const schema = answer.content?.['application/json']?.schema;
        if (schema) expect(() => ajv.compile(schema), route).not.toThrow();
      }
    }

    // A tour of the API: every answer checked against what the document says of its status.
    const check = async (method: string, docPath: string, path: string, body?: unknown) => {
      const answer = await call(method, path, body);
      const validate = ajv.compile(schemaOf(method, docPath, answer.status));
      expect(validate(answer.body), `${method} ${path} → ${answer.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      return answer as { status: number; body: { data: Record<string, unknown> & Record<string, unknown>[] } };
    };
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCHours(10, 0, 0, 0);
    const booking = sampleBooking({ uid: 'api-tour-1', start, end: new Date(start.getTime() + 30 * 60_000) });
    expect(
      (await postWebhook(t.usher.url, envelopeBody('BOOKING_CREATED', bookingPayload(booking, 'BOOKING_CREATED'), new Date()))).status,
    ).toBe(200);
    await t.usher.worker.drain();

    const events = await check('get', '/api/events', '/api/events?limit=5');
    expect(events.body.data[0]).toMatchObject({ trigger: 'BOOKING_CREATED', bookingUid: 'api-tour-1', state: 'done' });
    await check('get', '/api/events/{ref}', `/api/events/${events.body.data[0]!.id}`);
    expect((await check('get', '/api/events/{ref}', '/api/events/evt_999999')).status).toBe(404);
    const jobs = await check('get', '/api/jobs', '/api/jobs?bookingUid=api-tour-1');
    expect(jobs.body.data[0]).toMatchObject({ kind: 'cal.location' });
    await check('get', '/api/jobs/{ref}', `/api/jobs/${jobs.body.data[0]!.id}`);
    expect((await check('post', '/api/replay/{ref}', `/api/replay/${jobs.body.data[0]!.id}`)).status).toBe(409);
    const bogus = await check('get', '/api/events', '/api/events?state=bogus');
    expect(bogus.status).toBe(400);
    expect((bogus.body as unknown as { error: { message: string } }).error.message).toMatch(
      /^query state: Invalid option: expected one of "pending"/,
    );

    await check('post', '/api/members/import', '/api/members/import', { csv: 'email,name,credits\nann@club.example,Ann Smith,3\n' });
    await check('get', '/api/members', '/api/members?search=ann');
    await check('put', '/api/members/{email}', '/api/members/ann%40club.example', { membershipUntil: '2027-06-30' });
    await check('post', '/api/members/{email}/credits', '/api/members/ann%40club.example/credits', { amount: 2, expires: '2027-01-31' });
    await check('get', '/api/members/{email}', '/api/members/ann%40club.example');
    await check('get', '/api/gate/held', '/api/gate/held');
    expect((await check('post', '/api/bookings/{uid}/approve', '/api/bookings/api-tour-1/approve', {})).status).toBe(409);

    const view = await check('get', '/api/bookings/{uid}', '/api/bookings/api-tour-1');
    expect(view.body.data.room).toMatchObject({ name: '1A' });
    await check('get', '/api/rooms', '/api/rooms');
    await check('put', '/api/rooms/{name}', '/api/rooms/3C', { floor: 3, equipment: ['xray'], openHours: '08:00-18:00' });
    const blocked = await check('post', '/api/rooms/{name}/blocks', '/api/rooms/1A/blocks', {
      reason: 'Leak',
      until: new Date(start.getTime() + 3_600_000).toISOString(),
    });
    expect(blocked.body.data.plan).toMatchObject({ movedCount: 1, moves: [{ uid: 'api-tour-1', from: '1A', why: 'room_unusable' }] });
    // A person choosing a room sees the fitting ones first and why the others do not fit, in words.
    const options = (await check('get', '/api/bookings/{uid}/rooms', '/api/bookings/api-tour-1/rooms')).body.data as unknown as {
      room: string;
      fits: boolean;
      why: string;
    }[];
    expect(
      options
        .slice(0, 2)
        .map((o) => o.room)
        .sort(),
    ).toEqual(['2B', '3C']);
    expect(options.slice(0, 2).every((o) => o.fits && o.why.startsWith('Free'))).toBe(true);
    expect(options[2]).toMatchObject({ room: '1A', fits: false, code: 'room.blocked', why: 'Blocked: Leak.' });
    // Moved an hour later: the booking's old room is free again at its time, so nothing more has to move.
    const changed = await check('put', '/api/rooms/blocks/{id}', `/api/rooms/blocks/${blocked.body.data.blockId}`, {
      reason: 'Leak, plumber at noon',
      from: new Date(start.getTime() + 3_600_000).toISOString(),
      until: new Date(start.getTime() + 2 * 3_600_000).toISOString(),
    });
    expect(changed.status).toBe(200);
    await check('delete', '/api/rooms/blocks/{id}', `/api/rooms/blocks/${changed.body.data.blockId}`);
    await check('post', '/api/rooms/{name}/cleaned', '/api/rooms/2B/cleaned');
    await check('post', '/api/bookings/{uid}/room', '/api/bookings/api-tour-1/room', { room: '1A' });
    await check('post', '/api/rooms/replan', '/api/rooms/replan');
    await check('get', '/api/rooms/board', `/api/rooms/board?at=${encodeURIComponent(start.toISOString())}`);

    // What the data tells the clinic: the day's insights, the same as CSV, a what-if, a room's calendar.
    const day = start.toISOString().slice(0, 10);
    const insights = await check('get', '/api/insights', `/api/insights?from=${day}&to=${day}&grain=day`);
    expect(insights.body.data.rooms).toContainEqual(expect.objectContaining({ room: '1A', period: day, bookings: 1, bookedMinutes: 30 }));
    const csv = await request(`${t.usher.url}/api/insights.csv?table=clinic&from=${day}&to=${day}`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect((await csv.body.text()).split('\r\n')[0]).toMatch(/^period,openMinutes,bookedMinutes,/);
    expect((await check('get', '/api/insights', '/api/insights?from=2026-13-01')).status).toBe(400);
    const whatIf = await check('post', '/api/what-if', '/api/what-if', { from: day, to: day, without: ['1A'] });
    expect(whatIf.body.data).toMatchObject({ bookings: 1, rooms: { removed: ['1A'] }, differences: { otherRoom: 1 } });
    const unknown = await check('post', '/api/what-if', '/api/what-if', { from: day, to: day, without: ['1a'] });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('did you mean \\"1A\\"');
    const made = await check('post', '/api/calendar-feeds', '/api/calendar-feeds', { room: '1A' });
    const feedUrl = made.body.data.url as string;
    expect(feedUrl).toMatch(/\/calendars\/[\w-]{32}\.ics$/);
    const ics = await request(feedUrl);
    expect(ics.statusCode).toBe(200);
    expect(ics.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(await ics.body.text()).toContain('UID:api-tour-1@usher');
    expect(JSON.stringify((await check('get', '/api/calendar-feeds', '/api/calendar-feeds')).body)).not.toContain(
      feedUrl.split('/').at(-1)!,
    );
    const feedId = (made.body.data.feed as { id: number }).id;
    await check('delete', '/api/calendar-feeds/{id}', `/api/calendar-feeds/${feedId}`);
    expect((await request(feedUrl)).statusCode).toBe(404);
    expect((await check('delete', '/api/calendar-feeds/{id}', `/api/calendar-feeds/${feedId}`)).status).toBe(404);

    await check('delete', '/api/rooms/{name}', '/api/rooms/3C');
    expect((await check('put', '/api/rooms/{name}', '/api/rooms/4D', { openHours: '18:00-08:00' })).status).toBe(400);
  });

  it('answers an unknown path and a refused token in the same error shape as every other refusal', async () => {
    const nope = await request(`${t.usher.url}/api/nope`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(nope.statusCode).toBe(404);
    expect(await nope.body.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /api/nope' } });
    const wrong = await request(`${t.usher.url}/api/events`, { headers: { authorization: 'Bearer wrong' } });
    expect(wrong.statusCode).toBe(401);
    expect(await wrong.body.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });
});
