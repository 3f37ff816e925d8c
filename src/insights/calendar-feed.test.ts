import ICAL from 'ical.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventPipeline } from '../../test/event-pipeline.ts';
import { roomClinic } from '../../test/room-clinic.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import type { Config } from '../config.ts';
import { bookingPresenter } from '../rooms/room-board.ts';
import { blockRoom, moveBooking, unblockRoom } from '../rooms/room-operations.ts';
import type { RoomDeps } from '../rooms/room-planning.ts';
import { type PayloadBooking, sampleBooking } from '../sandbox/payloads.ts';
import { calendarFeeds, createFeed, endFeed, feedForToken, renderFeed } from './calendar-feed.ts';

// A clinic in Berlin: local midnight is 23:00 UTC in winter, so an all-day block shows whether
// the feed's dates are the clinic's.
const YAML = `
timeZone: Europe/Berlin
rooms:
  - { name: "1A", floor: 1, cleaningMinutes: 10 }
  - { name: "2A", floor: 2, cleaningMinutes: 10 }
doctors:
  "5": { preferredRooms: ["1A"] }
eventTypes:
  "7": { title: Consultation }
`;

interface ParsedEvent {
  uid: string;
  summary: string;
  location: string | null;
  description: string | null;
  status: string | null;
  sequence: number;
  start: string;
  end: string;
  allDay: boolean;
  busy: string | null;
}

/** Parsed back as a calendar client does (ical.js is Thunderbird's parser). */
function parse(text: string): { name: string; events: ParsedEvent[] } {
  const root = new ICAL.Component(ICAL.parse(text));
  return {
    name: String(root.getFirstPropertyValue('x-wr-calname')),
    events: root.getAllSubcomponents('vevent').map((c) => {
      const e = new ICAL.Event(c);
      return {
        uid: e.uid,
        summary: e.summary,
        location: (c.getFirstPropertyValue('location') as string | null) ?? null,
        description: (c.getFirstPropertyValue('description') as string | null) ?? null,
        status: (c.getFirstPropertyValue('status') as string | null) ?? null,
        sequence: e.sequence,
        start: e.startDate.isDate ? e.startDate.toString() : e.startDate.toJSDate().toISOString(),
        end: e.endDate.isDate ? e.endDate.toString() : e.endDate.toJSDate().toISOString(),
        allDay: e.startDate.isDate,
        busy: (c.getFirstPropertyValue('x-microsoft-cdo-busystatus') as string | null) ?? null,
      };
    }),
  };
}

describe.each(storeKinds)('calendar feeds on %s', () => {
  let store: TestStore;
  let cal: EventPipeline;
  let rooms: RoomDeps;
  let config: Config;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    ({ config, rooms, cal } = await roomClinic(store, YAML, '2026-12-01T08:00:00Z'));
  });
  const render = async (token: string) => {
    const feed = await feedForToken(store.db, token);
    if (!feed) return undefined;
    const present = (showNames: boolean) => bookingPresenter({ showNames, eventTypeTitles: { 7: 'Consultation' } });
    return parse(
      await renderFeed(
        store.db,
        feed,
        { settings: config.calendars, timeZone: config.timeZone, title: 'Harbour Clinic', present },
        cal.clock.now(),
      ),
    );
  };
  const tokenOf = (path: string) => /\/calendars\/(.+)\.ics$/.exec(path)![1]!;
  const visit = (iso: string, over: Partial<PayloadBooking> = {}) =>
    sampleBooking({ start: new Date(iso), end: new Date(new Date(iso).getTime() + 30 * 60_000), lengthMinutes: 30, ...over });

  it('a room’s feed: its bookings with initials and type in UTC, a move and a cancellation show on the next refresh', async () => {
    const first = visit('2026-12-02T09:00:00Z');
    const second = visit('2026-12-02T10:00:00Z', {
      attendee: { name: 'Ada Lovelace', email: 'ada.l@example.com', timeZone: 'Europe/Berlin' },
    });
    await cal.deliver('BOOKING_CREATED', first);
    await cal.deliver('BOOKING_CREATED', second);
    const { path } = await createFeed(store.db, config.calendars, { room: '1A' }, 'admin', cal.clock.now());
    const before = (await render(tokenOf(path)))!;
    expect(before.name).toBe('Room 1A · Harbour Clinic');
    expect(before.events).toEqual([
      expect.objectContaining({
        uid: `${first.uid}@usher`,
        summary: 'Consultation — G. H.',
        start: '2026-12-02T09:00:00.000Z',
        end: '2026-12-02T09:30:00.000Z',
        status: 'CONFIRMED',
      }),
      expect.objectContaining({ uid: `${second.uid}@usher`, summary: 'Consultation — A. L.', location: expect.stringContaining('1A') }),
    ]);
    const text = JSON.stringify(before);
    for (const secret of ['Grace', 'Hopper', 'grace@example.com', 'ada.l@example.com', 'Lovelace']) expect(text).not.toContain(secret);

    await moveBooking(store.db, rooms, { uid: first.uid, room: '2A', by: 'desk' }, cal.clock.now());
    await cal.deliver('BOOKING_CANCELLED', { ...second, status: 'CANCELLED' });
    const after = (await render(tokenOf(path)))!;
    // The moved booking is 2A's now; the cancelled one stays, cancelled, with a higher SEQUENCE.
    expect(after.events.map((e) => e.uid)).toEqual([`${second.uid}@usher`]);
    const cancelled = after.events[0]!;
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.sequence).toBeGreaterThan(before.events[1]!.sequence);
    const other = await createFeed(store.db, config.calendars, { room: '2A' }, 'admin', cal.clock.now());
    const moved = (await render(tokenOf(other.path)))!.events.find((e) => e.uid === `${first.uid}@usher`)!;
    expect(moved.sequence).toBeGreaterThan(before.events[0]!.sequence);
    expect(moved.location).toContain('2A');
  });

  it('blocks: a whole local day is an all-day event on the clinic’s dates; a lifted one is cancelled; hours stay timed', async () => {
    // 2026-12-24 00:00 to 2026-12-26 00:00 in Berlin (UTC+1).
    const holiday = await blockRoom(
      store.db,
      rooms,
      {
        room: '1A',
        from: new Date('2026-12-23T23:00:00Z'),
        to: new Date('2026-12-25T23:00:00Z'),
        reason: 'Closed for Christmas',
        by: 'desk',
      },
      cal.clock.now(),
    );
    const repair = await blockRoom(
      store.db,
      rooms,
      { room: '1A', from: new Date('2026-12-03T13:00:00Z'), to: new Date('2026-12-03T15:00:00Z'), reason: 'Sink repair', by: 'desk' },
      cal.clock.now(),
    );
    await unblockRoom(store.db, rooms, repair.blockId, 'desk', cal.clock.now());
    const { path } = await createFeed(store.db, config.calendars, { room: '1A' }, 'admin', cal.clock.now());
    const events = (await render(tokenOf(path)))!.events;
    expect(events).toContainEqual(
      expect.objectContaining({
        uid: `block-${holiday.blockId}@usher`,
        allDay: true,
        start: '2026-12-24',
        end: '2026-12-26',
        summary: 'Blocked: Closed for Christmas',
        busy: 'BUSY',
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        uid: `block-${repair.blockId}@usher`,
        allDay: false,
        start: '2026-12-03T13:00:00.000Z',
        status: 'CANCELLED',
        sequence: 1,
        busy: null,
      }),
    );
  });

  it('a doctor’s feed says which room each booking is in; names only when the feed was made with them', async () => {
    const b = visit('2026-12-02T09:00:00Z');
    await cal.deliver('BOOKING_CREATED', b);
    const plain = await createFeed(store.db, config.calendars, { doctor: 'Ada@Clinic.example' }, 'admin', cal.clock.now());
    expect(plain.feed).toMatchObject({ kind: 'doctor', subject: 'ada@clinic.example', showNames: false });
    expect((await render(tokenOf(plain.path)))!.events).toEqual([
      expect.objectContaining({ summary: 'Consultation — G. H.', description: 'Room 1A', location: expect.stringContaining('1A') }),
    ]);
    const named = await createFeed(store.db, config.calendars, { doctor: 'ada@clinic.example', showNames: true }, 'admin', cal.clock.now());
    expect((await render(tokenOf(named.path)))!.events[0]!.summary).toBe('Consultation — Grace Hopper');
  });

  it('refuses an unknown room or doctor with what was meant; a revoked or made-up URL opens nothing; the list never shows a secret', async () => {
    await cal.deliver('BOOKING_CREATED', visit('2026-12-02T09:00:00Z'));
    await expect(createFeed(store.db, config.calendars, { room: '1a' }, 'admin', cal.clock.now())).rejects.toThrow(
      'no room "1a" — did you mean "1A"?',
    );
    await expect(createFeed(store.db, config.calendars, { doctor: 'ada@clinic.exampel' }, 'admin', cal.clock.now())).rejects.toThrow(
      'did you mean "ada@clinic.example"?',
    );
    await expect(
      createFeed(store.db, config.calendars, { room: '1A', doctor: 'ada@clinic.example' }, 'admin', cal.clock.now()),
    ).rejects.toThrow(/not both/);
    const { feed, path } = await createFeed(store.db, config.calendars, { room: '1A' }, 'admin', cal.clock.now());
    expect(await render(tokenOf(path))).toBeDefined();
    expect(JSON.stringify(await calendarFeeds(store.db, true))).not.toContain(tokenOf(path));
    await endFeed(store.db, feed.id, cal.clock.now());
    expect(await render(tokenOf(path))).toBeUndefined();
    expect(await render('A'.repeat(32))).toBeUndefined();
    await expect(endFeed(store.db, feed.id, cal.clock.now())).rejects.toThrow(/no live calendar feed/);
  });
});
