import { RoomDayCache } from './room-day-cache.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import type { GateDeps } from '../gate/decide-request.ts';
import { meetingBody, noShowBody, sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { listDecisions } from '../store/decisions.ts';
import { getBooking } from '../store/bookings.ts';
import { getGateRecord } from '../store/gate-decisions.ts';
import { listJobs } from '../store/jobs.ts';
import { getAssignment, listAssignments } from '../store/rooms.ts';
import { EventPipeline } from '../../test/event-pipeline.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { bookingPresenter, roomBoard } from './room-board.ts';
import { roomBatchHooks, roomEventHandler } from './room-events.ts';
import { blockRoom, markCleaned, moveBooking, syncConfigRooms, unblockRoom } from './room-operations.ts';
import { holdRoomForApproval, type RoomDeps } from './room-planning.ts';
import { importMembers } from '../gate/gate-operations.ts';

const YAML = `
timeZone: Europe/London
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "2A", floor: 2, building: "North wing", equipment: [ecg], cleaningMinutes: 10 }
  - { name: "3B", floor: 3, building: "South wing", equipment: [ecg, xray], cleaningMinutes: 15 }
doctors:
  "5": { rooms: ["1A", "2A", "3B"], preferredRooms: ["1A"] }
  "6": { rooms: ["2A", "3B"] }
eventTypes:
  "7": { title: Consultation }
  "8": { title: ECG check, equipment: [ecg] }
  "11": { title: Video call, needsRoom: false }
planner: { freezeMinutes: 30 }
`;

function deps(yaml: string) {
  const result = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'admin-token-0123456789', USHER_CONFIG: '/nonexistent' },
    { yamlText: yaml },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  const c = result.config;
  const rooms: RoomDeps = { settings: c.roomSettings, timeZone: c.timeZone, maxAttempts: 3, dayCache: new RoomDayCache() };
  const gate: GateDeps = {
    settings: c.gate,
    timeZone: c.timeZone,
    maxAttempts: 3,
    ...(c.roomSettings.requireRoom ? { holdRoom: (trx, booking, now) => holdRoomForApproval(trx, rooms, booking, now) } : {}),
  };
  return { config: c, rooms, gate };
}

const at = (hhmm: string) => new Date(`2026-12-02T${hhmm}:00Z`);
const visit = (over: Partial<PayloadBooking> & { from: string; to: string }) => {
  const { from, to, ...rest } = over;
  return sampleBooking({ start: at(from), end: at(to), lengthMinutes: 30, ...rest });
};
const alan = { id: 6, name: 'Dr Alan Turing', email: 'alan@clinic.example', username: 'alan', timeZone: 'Europe/London' };

describe.each(storeKinds)('rooms on %s', (kind) => {
  let store: TestStore;
  let d: ReturnType<typeof deps>;
  let cal: EventPipeline;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());
  const setUp = async (yaml = YAML) => {
    await store.reset();
    d = deps(yaml);
    cal = new EventPipeline(store.db, d.gate, undefined, [roomEventHandler(d.rooms)], roomBatchHooks(d.rooms));
    await syncConfigRooms(store.db, d.config.rooms, d.rooms, cal.clock.now());
  };
  beforeEach(() => setUp());

  const roomOf = async (uid: string) => (await getAssignment(store.db, uid))?.room;
  const locationJobs = async (uid: string) =>
    (await listJobs(store.db, { bookingUid: uid, limit: 20 }))
      .filter((j) => j.kind === 'cal.location')
      .map((j) => ({ state: j.state, address: j.payload.address }));

  it('gives a new booking a room, writes the room back as its location, and records why', async () => {
    const b = visit({ from: '09:00', to: '09:30' });
    await cal.deliver('BOOKING_CREATED', b);
    expect(await roomOf(b.uid)).toBe('1A');
    expect(await locationJobs(b.uid)).toEqual([{ state: 'pending', address: 'Room 1A — Floor 1, North wing' }]);
    const [job] = await listJobs(store.db, { bookingUid: b.uid, limit: 1 });
    expect(job).toMatchObject({ coalesceKey: `location:${b.uid}`, priorityAt: b.start });
    const decision = (await listDecisions(store.db, { bookingUid: b.uid, limit: 10 })).find((x) => x.kind === 'room');
    expect(decision).toMatchObject({
      outcome: 'assigned',
      reasons: [{ code: 'room.assigned', room: '1A', preferences: ['room.preferred'] }],
    });
    // a repeated BOOKING_CREATED changes nothing and sends nothing new
    await cal.deliver('BOOKING_CREATED', b, { extra: { description: 'again' } });
    expect(await locationJobs(b.uid)).toHaveLength(1);
  });

  it('never writes to a booking that had ended before Usher heard of it: its room is kept in the records, Cal.com is left alone, and why', async () => {
    // Usher's clock is 2026-12-01 08:00: yesterday's appointment arrives late (or from the reconciler).
    const past = sampleBooking({ start: new Date('2026-11-30T09:00:00Z'), end: new Date('2026-11-30T09:30:00Z'), lengthMinutes: 30 });
    await cal.deliver('BOOKING_CREATED', past);
    await cal.deliver('BOOKING_CREATED', past, { extra: { description: 'a second copy' } });
    expect(await roomOf(past.uid)).toBe('1A');
    expect(await locationJobs(past.uid)).toEqual([]);
    const said = (await listDecisions(store.db, { bookingUid: past.uid, limit: 10 })).filter((x) => x.outcome === 'write_skipped');
    expect(said).toEqual([
      expect.objectContaining({ kind: 'room', reasons: [expect.objectContaining({ code: 'room.write_skipped_ended' })] }),
    ]);
  });

  it('leaves a video, link or phone booking’s location alone: no room, nothing written to Cal.com, and why, once', async () => {
    const online = [
      visit({ from: '09:00', to: '09:30', location: 'integrations:daily', metadata: { videoCallUrl: 'https://app.cal.com/video/abc' } }),
      visit({ from: '09:00', to: '09:30', location: 'https://zoom.us/j/123456789' }),
      visit({ from: '09:00', to: '09:30', location: '+44 20 7946 0958' }),
    ];
    for (const b of online) {
      await cal.deliver('BOOKING_CREATED', b);
      await cal.deliver('BOOKING_CREATED', b, { extra: { description: 'a second copy' } });
      expect(await getAssignment(store.db, b.uid)).toBeUndefined();
      expect(await locationJobs(b.uid)).toEqual([]);
      const said = (await listDecisions(store.db, { bookingUid: b.uid, limit: 10 })).filter((x) => x.kind === 'room');
      expect(said).toEqual([
        expect.objectContaining({
          outcome: 'not_needed',
          reasons: [expect.objectContaining({ code: 'room.not_in_person', location: b.location })],
        }),
      ]);
    }
    // The room those three did not take is free for the in-person booking at the same time.
    const inPerson = visit({ from: '09:00', to: '09:30' });
    await cal.deliver('BOOKING_CREATED', inPerson);
    expect(await roomOf(inPerson.uid)).toBe('1A');
  });

  it('puts an ECG check only in a room with an ECG, and the doctor’s next appointment in the same room', async () => {
    const ecg = visit({ from: '09:00', to: '09:30', eventTypeId: 8, organizer: alan });
    const next = visit({ from: '09:45', to: '10:15', organizer: alan });
    await cal.deliver('BOOKING_CREATED', ecg);
    await cal.deliver('BOOKING_CREATED', next);
    expect(await roomOf(ecg.uid)).toBe('2A');
    expect(await roomOf(next.uid)).toBe('2A');
    // metadata.equipment adds to the event type's needs
    const xray = visit({ from: '11:00', to: '11:30', metadata: { equipment: 'xray' } });
    await cal.deliver('BOOKING_CREATED', xray);
    expect(await roomOf(xray.uid)).toBe('3B');
  });

  it('leaves event types that need no room alone', async () => {
    const call = visit({ from: '09:00', to: '09:30', eventTypeId: 11 });
    await cal.deliver('BOOKING_CREATED', call);
    expect(await getAssignment(store.db, call.uid)).toBeUndefined();
    expect(await locationJobs(call.uid)).toEqual([]);
  });

  it('marks a booking unassigned with the reasons when no room is free, writes nothing, and places it when one frees up', async () => {
    const first = visit({ from: '09:00', to: '10:00', eventTypeId: 8, organizer: alan });
    const second = visit({ from: '09:00', to: '10:00', eventTypeId: 8, organizer: alan });
    const third = visit({ from: '09:30', to: '10:00', eventTypeId: 8, organizer: alan });
    for (const b of [first, second, third]) await cal.deliver('BOOKING_CREATED', b);
    const waiting = await getAssignment(store.db, third.uid);
    expect(waiting).toMatchObject({ room: null, locationText: null });
    expect(waiting?.reasons.excluded).toEqual([
      { code: 'room.missing_equipment', rooms: ['1A'], detail: { missing: ['ecg'] } },
      { code: 'room.occupied', rooms: ['2A', '3B'] },
    ]);
    expect(await locationJobs(third.uid)).toEqual([]);

    await cal.deliver('BOOKING_CANCELLED', { ...second, status: 'CANCELLED' });
    expect(await getAssignment(store.db, second.uid)).toBeUndefined();
    const placed = await roomOf(third.uid);
    expect(placed).toBeTruthy();
    expect(await locationJobs(third.uid)).toHaveLength(1);
  });

  it('keeps the room across a reschedule when it is still free, and chooses again when it is not', async () => {
    const b = visit({ from: '09:00', to: '09:30', organizer: alan });
    await cal.deliver('BOOKING_CREATED', b);
    const room = await roomOf(b.uid);
    const moved = visit({
      id: 2002,
      from: '11:00',
      to: '11:30',
      organizer: alan,
      reschedule: { id: b.id, uid: b.uid, start: b.start, end: b.end },
    });
    await cal.deliver('BOOKING_RESCHEDULED', moved);
    expect(await roomOf(moved.uid)).toBe(room);
    expect(await getAssignment(store.db, b.uid)).toBeUndefined();
    const decisions = await listDecisions(store.db, { bookingUid: moved.uid, limit: 10 });
    expect(decisions.find((x) => x.kind === 'room')?.reasons[0]).toMatchObject({ code: 'room.kept_after_reschedule', room });

    // someone else takes that room at 14:00; a reschedule into 14:00 goes to the other room
    const blocker = visit({ from: '14:00', to: '14:30', eventTypeId: 8, organizer: alan });
    await cal.deliver('BOOKING_CREATED', blocker);
    const blockerRoom = await roomOf(blocker.uid);
    const again = visit({
      id: 2003,
      from: '14:00',
      to: '14:30',
      organizer: alan,
      reschedule: { id: moved.id, uid: moved.uid, start: moved.start, end: moved.end },
    });
    await cal.deliver('BOOKING_RESCHEDULED', again);
    expect(await roomOf(again.uid)).not.toBe(blockerRoom);
    expect(await roomOf(again.uid)).toBeTruthy();
  });

  it('blocking a room moves its bookings with the fewest moves, writes each new location, and leaves frozen bookings elsewhere alone', async () => {
    cal.clock.set('2026-12-02T08:00:00Z');
    const a = visit({ from: '09:00', to: '09:30' });
    const b = visit({ from: '10:00', to: '10:30' });
    const other = visit({ from: '09:00', to: '09:30', eventTypeId: 8, organizer: alan });
    for (const x of [a, b, other]) await cal.deliver('BOOKING_CREATED', x);
    expect(await roomOf(a.uid)).toBe('1A');
    expect(await roomOf(b.uid)).toBe('1A');
    const result = await blockRoom(
      store.db,
      d.rooms,
      { room: '1A', from: at('08:30'), to: at('12:00'), reason: 'water leak', by: 'desk' },
      cal.clock.now(),
    );
    expect(result.replan.movedCount).toBe(2);
    expect(
      result.replan.moves.map((m) => ({ uid: m.uid, from: m.from, why: m.why, rule: m.detail.rule, reason: m.detail.reason })),
    ).toEqual(
      expect.arrayContaining([
        { uid: a.uid, from: '1A', why: 'room_unusable', rule: 'room.blocked', reason: 'water leak' },
        { uid: b.uid, from: '1A', why: 'room_unusable', rule: 'room.blocked', reason: 'water leak' },
      ]),
    );
    expect(await roomOf(other.uid)).toBe('2A');
    expect(await roomOf(a.uid)).toBe('3B');
    // the newest location replaced the unsent first one: one pending call per booking
    expect(await locationJobs(a.uid)).toEqual([{ state: 'pending', address: 'Room 3B — Floor 3, South wing' }]);
    // unblocking lets nothing move back by itself (moves cost announcements), and nothing waits
    await unblockRoom(store.db, d.rooms, result.blockId, 'desk', cal.clock.now());
    expect(await roomOf(a.uid)).toBe('3B');
  });

  it('moves a frozen booking only when its own room becomes unusable', async () => {
    cal.clock.set('2026-12-02T08:50:00Z');
    const soon = visit({ from: '09:00', to: '09:30' }); // within the 30-minute freeze
    await cal.deliver('BOOKING_CREATED', soon);
    const ecg = visit({ from: '09:00', to: '09:30', eventTypeId: 8, organizer: alan });
    await cal.deliver('BOOKING_CREATED', ecg);
    expect(await roomOf(soon.uid)).toBe('1A');
    expect(await roomOf(ecg.uid)).toBe('2A');
    // blocking 2A: the frozen consultation in 1A stays; the ECG check goes to 3B
    await blockRoom(
      store.db,
      d.rooms,
      { room: '2A', from: at('08:55'), to: at('10:00'), reason: 'ECG broken', by: 'desk' },
      cal.clock.now(),
    );
    expect(await roomOf(soon.uid)).toBe('1A');
    expect(await roomOf(ecg.uid)).toBe('3B');
    // blocking 1A: the frozen booking's own room is unusable, so it moves after all
    await blockRoom(store.db, d.rooms, { room: '1A', from: at('08:55'), to: at('10:00'), reason: 'flood', by: 'desk' }, cal.clock.now());
    expect(await roomOf(soon.uid)).not.toBe('1A');
  });

  it('the database refuses two bookings in one room at once, cleaning buffer included, whatever the planner did', async () => {
    const a = visit({ from: '09:00', to: '09:30' });
    await cal.deliver('BOOKING_CREATED', a);
    const insert = (from: string, to: string) =>
      store.db.query(
        `insert into room_assignments (booking_uid, room, during, assigned_at, updated_at) values ($1, '1A', tstzrange($2, $3), now(), now())`,
        [`x-${from}`, at(from), at(to)],
      );
    // 1A's stay is 09:00–09:40 (10 minutes of cleaning)
    await expect(insert('09:35', '10:00')).rejects.toThrow(/room_assignments_no_overlap|exclusion|conflicting key/);
    await expect(insert('09:40', '10:00')).resolves.toBeDefined();
  });

  it('a cancellation two days after a booking still waiting for a room is handled: the re-plan never places it beside rooms it has not read', async () => {
    // 3B is the only X-ray room. A holds it until 16:45 (cleaning), so W (16:40) waits for it.
    const xray = { metadata: { equipment: 'xray' } };
    const a = visit({ from: '16:15', to: '16:30', ...xray });
    const w = visit({ from: '16:40', to: '16:55', ...xray });
    await cal.deliver('BOOKING_CREATED', a);
    await cal.deliver('BOOKING_CREATED', w);
    expect(await roomOf(a.uid)).toBe('3B');
    expect(await roomOf(w.uid)).toBeNull();
    // Two days later, at 16:50: its re-plan reads two days either side — W's stay reaches into that,
    // A's (ending 16:45) does not. W must not be "placed" in 3B on top of A.
    const later = sampleBooking({ start: new Date('2026-12-04T16:50:00Z'), end: new Date('2026-12-04T17:20:00Z'), lengthMinutes: 30 });
    await cal.deliver('BOOKING_CREATED', later);
    // A booking waiting that day too, so that the cancellation re-plans (for it).
    const onFourth = (hhmm: string) => new Date(`2026-12-04T${hhmm}:00Z`);
    await cal.deliver('BOOKING_CREATED', sampleBooking({ start: onFourth('10:00'), end: onFourth('10:15'), lengthMinutes: 15, ...xray }));
    const w2 = sampleBooking({ start: onFourth('10:05'), end: onFourth('10:20'), lengthMinutes: 15, ...xray });
    await cal.deliver('BOOKING_CREATED', w2);
    expect(await roomOf(w2.uid)).toBeNull();
    await cal.deliver('BOOKING_CANCELLED', { ...later, status: 'CANCELLED' });
    const events = await store.db.query<{ state: string; last_error: string | null }>(
      `select state, last_error from inbox_events where booking_uid = $1 and trigger = 'BOOKING_CANCELLED'`,
      [later.uid],
    );
    expect(events.rows).toEqual([{ state: 'done', last_error: null }]);
    expect(await getAssignment(store.db, later.uid)).toBeUndefined();
    expect(await roomOf(w.uid)).toBeNull();
  });

  it('a no-show frees the rest of the slot; a meeting that started shows in use, one that ended shows cleaning', async () => {
    const b = visit({ from: '09:00', to: '10:00' });
    await cal.deliver('BOOKING_CREATED', b);
    const board = async (hhmm: string) =>
      (await roomBoard(store.db, { timeZone: 'Europe/London', present: bookingPresenter({ showNames: false }) }, at(hhmm))).rooms.find(
        (r) => r.name === '1A',
      )!;
    expect((await board('08:00')).now).toEqual({ state: 'free' });
    expect((await board('08:00')).next).toMatchObject({
      uid: b.uid,
      who: 'G. H.',
      written: false,
      location: 'Room 1A — Floor 1, North wing',
    });
    cal.clock.set(at('09:05'));
    await cal.deliverBody('MEETING_STARTED', b.uid, meetingBody({ ...b, status: 'ACCEPTED' }, 'MEETING_STARTED'));
    expect((await board('09:05')).now).toEqual({ state: 'in_use', until: at('10:00').toISOString(), booking: b.uid, started: true });
    expect((await board('10:05')).now).toEqual({ state: 'cleaning', until: at('10:10').toISOString(), after: b.uid });

    cal.clock.set(at('09:20'));
    await cal.deliverBody('BOOKING_NO_SHOW_UPDATED', b.uid, noShowBody(b, [{ email: b.attendee.email, noShow: true }], cal.clock.now()));
    expect(await getAssignment(store.db, b.uid)).toMatchObject({ room: '1A', to: at('09:20') });
    expect((await board('09:30')).now).toEqual({ state: 'free' });
  });

  it('late in the evening, a room’s next booking after midnight is still shown as next; one past the next 12 hours is not', async () => {
    const late = visit({ from: '23:00', to: '23:30' });
    const afterMidnight = sampleBooking({
      start: new Date('2026-12-03T00:20:00Z'),
      end: new Date('2026-12-03T00:50:00Z'),
      lengthMinutes: 30,
    });
    const afternoon = sampleBooking({ start: new Date('2026-12-03T14:00:00Z'), end: new Date('2026-12-03T14:30:00Z'), lengthMinutes: 30 });
    for (const b of [late, afterMidnight, afternoon]) await cal.deliver('BOOKING_CREATED', b);
    const room = await roomOf(late.uid);
    expect(await roomOf(afterMidnight.uid)).toBe(room);
    const board = async (iso: string) =>
      (await roomBoard(store.db, { timeZone: 'Europe/London', present: bookingPresenter({ showNames: false }) }, new Date(iso))).rooms.find(
        (r) => r.name === room,
      )!;
    expect((await board('2026-12-02T22:00:00Z')).next?.uid).toBe(late.uid);
    const evening = await board('2026-12-02T23:10:00Z');
    expect(evening.now).toMatchObject({ state: 'in_use', booking: late.uid });
    expect(evening.next?.uid).toBe(afterMidnight.uid);
    expect(evening.day.bookings.map((b) => b.uid)).not.toContain(afterMidnight.uid); // the day is still today's
    expect((await board('2026-12-03T01:00:00Z')).next?.uid).toBe(afternoon.uid);
    await cal.deliver('BOOKING_CANCELLED', { ...afterMidnight, status: 'CANCELLED' });
    expect((await board('2026-12-02T23:10:00Z')).next).toBeNull(); // 14:00 tomorrow is more than 12 hours away
  });

  it('a seat moved to a later class leaves its class and the class’s room standing for the others', async () => {
    const person = (name: string) => ({ name, email: `${name.toLowerCase()}@example.com`, timeZone: 'Europe/London' });
    const seated = { seatsPerTimeSlot: 6, eventTypeId: 14, eventTypeSlug: 'back-care-class' };
    const morning = visit({ from: '09:00', to: '10:00', ...seated, attendee: person('Ann'), attendees: [person('Ann')] });
    await cal.deliver('BOOKING_CREATED', morning);
    await cal.deliver('BOOKING_CREATED', { ...morning, attendees: [person('Ann'), person('Ben')] });
    const room = await roomOf(morning.uid);
    expect(room).toBeTruthy();
    // Ben moves his seat to the 11:00 class (Cal.com's attendee reschedule of a seated booking).
    const later = visit({ from: '11:00', to: '12:00', ...seated, attendee: person('Ben'), attendees: [person('Ben')] });
    await cal.deliver('BOOKING_RESCHEDULED', {
      ...later,
      reschedule: { id: morning.id, uid: morning.uid, start: morning.start, end: morning.end },
    });
    expect(await getBooking(store.db, morning.uid)).toMatchObject({ status: 'accepted', seats: ['ann@example.com'] });
    expect(await roomOf(morning.uid)).toBe(room);
    expect(await roomOf(later.uid)).toBeTruthy();
  });

  it('an operator move pins the booking and is checked against every rule; cleaning can be cut short', async () => {
    const b = visit({ from: '09:00', to: '09:30' });
    const ecg = visit({ from: '09:00', to: '09:30', eventTypeId: 8, organizer: alan });
    await cal.deliver('BOOKING_CREATED', b);
    await cal.deliver('BOOKING_CREATED', ecg);
    await expect(moveBooking(store.db, d.rooms, { uid: ecg.uid, room: '1A', by: 'desk' }, cal.clock.now())).rejects.toThrow(
      /room.missing_equipment|not_allowed/,
    );
    await expect(
      moveBooking(store.db, d.rooms, { uid: b.uid, room: ecgRoomOf(await roomOf(ecg.uid)), by: 'desk' }, cal.clock.now()),
    ).rejects.toThrow(/taken by booking/);
    const moved = await moveBooking(store.db, d.rooms, { uid: b.uid, room: '3B', by: 'desk' }, cal.clock.now());
    expect(moved).toEqual({ room: '3B', location: 'Room 3B — Floor 3, South wing' });
    expect(await getAssignment(store.db, b.uid)).toMatchObject({ room: '3B', pinned: true });

    const cleaned = await markCleaned(store.db, d.rooms, '3B', 'desk', at('09:35'));
    expect(cleaned.shortened).toEqual([b.uid]);
    expect(await getAssignment(store.db, b.uid)).toMatchObject({ to: at('09:35') });
  });

  it('with gate.requireRoom, approves only when a room can be held, in the same transaction as the credits', async () => {
    await setUp(
      `${YAML}\ngate: { requireRoom: true }\n`.replace(
        '"8": { title: ECG check, equipment: [ecg] }',
        '"8": { title: ECG check, equipment: [ecg], gate: { creditCost: 1 } }',
      ),
    );
    await importMembers(store.db, [{ line: 1, email: 'grace@example.com', credits: 5 }], 'test', cal.clock.now());
    const first = visit({ from: '09:00', to: '10:00', eventTypeId: 8, organizer: alan, status: 'PENDING', requiresConfirmation: true });
    const second = visit({ from: '09:00', to: '10:00', eventTypeId: 8, organizer: alan, status: 'PENDING', requiresConfirmation: true });
    const third = visit({ from: '09:00', to: '10:00', eventTypeId: 8, organizer: alan, status: 'PENDING', requiresConfirmation: true });
    for (const b of [first, second, third]) await cal.deliver('BOOKING_REQUESTED', b);
    expect((await getGateRecord(store.db, first.uid))?.outcome).toBe('approve');
    expect((await getGateRecord(store.db, second.uid))?.outcome).toBe('approve');
    expect(await getGateRecord(store.db, third.uid)).toMatchObject({ outcome: 'decline', message: 'No room is free at that time' });
    // a held room for a pending booking is not written to Cal.com until it is confirmed
    expect(await roomOf(first.uid)).toBeTruthy();
    expect(await locationJobs(first.uid)).toEqual([]);
    await cal.deliver('BOOKING_CREATED', { ...first, status: 'ACCEPTED' }, { viaConfirm: true });
    expect(await locationJobs(first.uid)).toHaveLength(1);
    expect((await listAssignments(store.db, { from: at('08:00'), to: at('11:00') })).filter((a) => a.room)).toHaveLength(2);

    // The booker of the second moves it half an hour later (CONTRACT §1.2: BOOKING_REQUESTED with
    // rescheduleUid). Its own old slot must not count against it: it keeps its room and is approved.
    const secondRoom = await roomOf(second.uid);
    const later = visit({
      id: 3002,
      from: '09:30',
      to: '10:30',
      eventTypeId: 8,
      organizer: alan,
      status: 'PENDING',
      requiresConfirmation: true,
      reschedule: { id: second.id, uid: second.uid, start: second.start, end: second.end },
    });
    await cal.deliver('BOOKING_REQUESTED', later);
    expect((await getGateRecord(store.db, later.uid))?.outcome).toBe('approve');
    expect(await roomOf(later.uid)).toBe(secondRoom);
    expect(await getAssignment(store.db, second.uid)).toBeUndefined();
  });
});

function ecgRoomOf(room: string | null | undefined): string {
  if (!room) throw new Error('the ECG booking has no room');
  return room;
}
