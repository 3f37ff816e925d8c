import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventPipeline } from '../../test/event-pipeline.ts';
import { roomClinic } from '../../test/room-clinic.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import type { Config } from '../config.ts';
import { blockRoom, unblockRoom } from '../rooms/room-operations.ts';
import type { RoomDeps } from '../rooms/room-planning.ts';
import { noShowBody, type PayloadBooking, sampleBooking } from '../sandbox/payloads.ts';
import { claimNextJob, completeJobs } from '../store/jobs.ts';
import { getAssignment } from '../store/rooms.ts';
import { insightsCsv, insightsReport } from './insights-report.ts';

const YAML = `
timeZone: Europe/London
rooms:
  - { name: "1A", floor: 1, cleaningMinutes: 10 }
  - { name: "2A", floor: 2, equipment: [ecg], cleaningMinutes: 10 }
  - { name: "3B", floor: 3, equipment: [ecg, xray], cleaningMinutes: 15, openHours: "09:00-17:00" }
doctors:
  "5": { preferredRooms: ["1A"] }
eventTypes:
  "7": { title: Consultation }
  "8": { title: ECG check, equipment: [ecg] }
insights: { openHours: "08:00-18:00", closedWeekdays: [sat, sun], holidays: ["2026-12-25"], minimumGapMinutes: 30 }
`;

const at = (day: string, hhmm: string) => new Date(`${day}T${hhmm}:00Z`);
const WED = '2026-12-02';
const visit = (from: string, to: string, over: Partial<PayloadBooking> = {}) =>
  sampleBooking({ start: at(WED, from), end: at(WED, to), lengthMinutes: 30, ...over });
const ecg = { eventTypeId: 8, eventTypeSlug: 'ecg', eventTitle: 'ECG check' };

describe.each(storeKinds)('insights on %s', () => {
  let store: TestStore;
  let cal: EventPipeline;
  let rooms: RoomDeps;
  let config: Config;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());
  beforeEach(async () => {
    ({ config, rooms, cal } = await roomClinic(store, YAML, at('2026-12-01', '12:00')));
  });
  const report = (q: { from?: string; to?: string; grain?: 'day' | 'week' | 'month' }) =>
    insightsReport(store.db, config.insights, config.timeZone, q, cal.clock.now());

  /**
   * One Wednesday, hand-computed. Clinic hours 08:00–18:00 (600 min); 3B has its own 09:00–17:00 (480).
   *  1A: 09:00–10:00 (+10 cleaning), 10:30–11:00 marked a no-show at 10:40 (the room is free from then).
   *      Gaps: 08:00–09:00 (60), 10:10–10:30 (20: too short to book), 10:40–18:00 (440) → 2 gaps, 500 min.
   *  ECG 13:00–13:30 goes to 2A, then 2A is blocked 12:00–14:00 → it moves to 3B (one move out of 2A).
   *  Both ECG rooms blocked 14:00–16:00; an ECG at 15:00 waits 20 minutes, until 2A's block is lifted.
   *  2A: 15:00–15:30 (+10) → gaps 420 + 140; 3B: 13:00–13:30 (+15) → gaps 240 + 195.
   */
  async function wednesday() {
    const first = visit('09:00', '10:00', { lengthMinutes: 60 });
    const noShow = visit('10:30', '11:00');
    const moved = visit('13:00', '13:30', ecg);
    await cal.deliver('BOOKING_CREATED', first);
    await cal.deliver('BOOKING_CREATED', noShow);
    await cal.deliver('BOOKING_CREATED', moved);
    expect((await getAssignment(store.db, moved.uid))?.room).toBe('2A');
    const now = cal.clock.now();
    await blockRoom(store.db, rooms, { room: '2A', from: at(WED, '12:00'), to: at(WED, '14:00'), reason: 'sink leaks', by: 'desk' }, now);
    expect((await getAssignment(store.db, moved.uid))?.room).toBe('3B');
    const span = { from: at(WED, '14:00'), to: at(WED, '16:00'), reason: 'ECG serviced', by: 'desk' };
    const { blockId } = await blockRoom(store.db, rooms, { ...span, room: '2A' }, now);
    await blockRoom(store.db, rooms, { ...span, room: '3B' }, now);
    const waiting = visit('15:00', '15:30', ecg);
    await cal.deliver('BOOKING_CREATED', waiting);
    expect((await getAssignment(store.db, waiting.uid))?.room).toBeNull();
    cal.clock.advance(20 * 60_000);
    await unblockRoom(store.db, rooms, blockId, 'desk', cal.clock.now());
    expect((await getAssignment(store.db, waiting.uid))?.room).toBe('2A');
    // Location write-backs: the first done 30 s after it was written, the others 2 minutes later.
    cal.clock.advance(30_000);
    let job = await claimNextJob(store.db, 'test', cal.clock.now());
    const writes: number[] = [];
    while (job) {
      if (job.kind === 'cal.location') writes.push(job.id);
      await completeJobs(store.db, [{ id: job.id, response: {}, now: cal.clock.now() }]);
      cal.clock.advance(writes.length === 1 ? 120_000 : 0);
      job = await claimNextJob(store.db, 'test', cal.clock.now());
    }
    cal.clock.set(at(WED, '10:40'));
    await cal.deliverBody(
      'BOOKING_NO_SHOW_UPDATED',
      noShow.uid,
      noShowBody(noShow, [{ email: noShow.attendee.email, noShow: true }], cal.clock.now()),
    );
    return { writes, first };
  }

  it('per room and day: open, booked and cleaning minutes, bookable gaps, no-shows, waits and moves, hand-computed', async () => {
    await wednesday();
    // A laser treatment: no room has a laser, so it is counted apart as still without a room.
    await cal.deliver('BOOKING_CREATED', visit('16:00', '16:30', { metadata: { equipment: 'laser' } }));
    const r = await report({ from: WED, to: WED });
    expect(r.withoutRoom).toEqual([{ period: WED, bookings: 1 }]);
    const row = (room: string) => r.rooms.find((x) => x.room === room);
    expect(row('1A')).toEqual({
      room: '1A',
      period: WED,
      openMinutes: 600,
      bookedMinutes: 90,
      bookings: 2,
      cleaningMinutes: 10,
      idleGaps: 2,
      idleGapMinutes: 500,
      noShows: 1,
      waited: 0,
      waitMinutesTotal: 0,
      waitMinutesMax: 0,
      movesOut: 0,
      utilisation: 0.15,
    });
    expect(row('2A')).toMatchObject({
      openMinutes: 600,
      bookedMinutes: 30,
      bookings: 1,
      cleaningMinutes: 10,
      idleGaps: 2,
      idleGapMinutes: 560,
    });
    expect(row('2A')).toMatchObject({ waited: 1, waitMinutesTotal: 20, waitMinutesMax: 20, movesOut: 1, noShows: 0, utilisation: 0.05 });
    expect(row('3B')).toMatchObject({
      openMinutes: 480,
      bookedMinutes: 30,
      cleaningMinutes: 15,
      idleGaps: 2,
      idleGapMinutes: 435,
      movesOut: 0,
    });
    expect(r.clinic).toEqual([
      expect.objectContaining({ period: WED, openMinutes: 1680, bookedMinutes: 150, bookings: 4, noShows: 1, waited: 1, movesOut: 1 }),
    ]);
    expect(r.doctors).toEqual([
      { doctor: 'ada@clinic.example', period: WED, bookings: 4, bookedMinutes: 150, rooms: 3, noShows: 1, waited: 1 },
    ]);
  });

  it('a week leaves out the weekend and holidays from opening hours; a month adds up its weeks; write-back delays are measured', async () => {
    const { writes } = await wednesday();
    const week = await report({ from: '2026-11-30', to: '2026-12-06', grain: 'week' });
    // Monday to Friday open, Saturday and Sunday closed: 5 × 600 for 1A.
    expect(week.rooms.find((x) => x.room === '1A')).toMatchObject({
      period: '2026-11-30',
      openMinutes: 3000,
      bookedMinutes: 90,
      idleGaps: 6,
    });
    const christmas = await report({ from: '2026-12-21', to: '2026-12-27', grain: 'week' });
    expect(christmas.rooms.find((x) => x.room === '1A')).toMatchObject({
      openMinutes: 4 * 600,
      bookedMinutes: 0,
      idleGaps: 4,
      idleGapMinutes: 2400,
    });
    const month = await report({ from: '2026-12-01', to: '2026-12-31', grain: 'month' });
    // December 2026: 23 weekdays, one of them Christmas.
    expect(month.roomTotals.find((x) => x.room === '1A')).toMatchObject({ openMinutes: 22 * 600, bookedMinutes: 90 });
    expect(writes.length).toBe(4);
    expect(week.writeBack).toEqual([
      {
        period: '2026-11-30',
        writes: 4,
        retried: 0,
        p50Seconds: expect.any(Number),
        p95Seconds: expect.any(Number),
        maxSeconds: expect.any(Number),
      },
    ]);
    expect(week.writeBack[0]!.maxSeconds).toBeGreaterThanOrEqual(150);
    expect(week.writeBack[0]!.p50Seconds).toBeGreaterThan(0);
  });

  it('past days are kept once computed, with the same figures, and computed again when a decision touches them or the settings change', async () => {
    const { first } = await wednesday();
    const live = await report({ from: WED, to: WED }); // on Wednesday itself: computed afresh
    cal.clock.set(at('2026-12-10', '09:00'));
    expect((await report({ from: WED, to: WED })).rooms).toEqual(live.rooms); // computed, kept
    expect((await report({ from: WED, to: WED })).rooms).toEqual(live.rooms); // read back
    const { rows } = await store.db.query<{ n: number }>('select count(*)::int as n from insight_room_days');
    expect(rows[0]!.n).toBe(3);
    // Kept days and today together, a row per room and open day (weekdays 1–10 December).
    const span = await report({ from: '2026-12-01', to: '2026-12-10' });
    expect(span.rooms.filter((r) => r.room === '1A').map((r) => r.period)).toEqual(
      ['01', '02', '03', '04', '07', '08', '09', '10'].map((d) => `2026-12-${d}`),
    );
    expect(span.rooms.find((r) => r.room === '1A' && r.period === WED)).toEqual(live.rooms.find((r) => r.room === '1A'));
    // A no-show marked a week later: Wednesday is computed again.
    await cal.deliverBody(
      'BOOKING_NO_SHOW_UPDATED',
      first.uid,
      noShowBody(first, [{ email: first.attendee.email, noShow: true }], cal.clock.now()),
    );
    expect((await report({ from: WED, to: WED })).rooms.find((r) => r.room === '1A')).toMatchObject({ noShows: 2 });
    // Wednesday made a holiday: no opening hours that day, whatever was kept.
    const holiday = { ...config.insights, holidays: [WED] };
    const closed = await insightsReport(store.db, holiday, config.timeZone, { from: WED, to: WED }, cal.clock.now());
    expect(closed.rooms.find((r) => r.room === '1A')).toMatchObject({ openMinutes: 0, bookedMinutes: 90, noShows: 2 });
  });

  it('CSV: one line per row, quoted where needed, and a room named like a formula cannot run in a spreadsheet', async () => {
    await wednesday();
    const r = await report({ from: WED, to: WED });
    const csv = insightsCsv({ ...r, rooms: [...r.rooms, { ...r.rooms[0]!, room: '=HYPERLINK("x")' }] }, 'rooms');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'room,period,openMinutes,bookedMinutes,bookings,cleaningMinutes,idleGaps,idleGapMinutes,noShows,waited,waitMinutesTotal,waitMinutesMax,movesOut,utilisation',
    );
    expect(lines).toContain('1A,2026-12-02,600,90,2,10,2,500,1,0,0,0,0,0.15');
    expect(lines.at(-1)).toMatch(/^"'=HYPERLINK\(""x""\)",/);
    expect(insightsCsv({ ...r, doctors: [] }, 'doctors')).toBe('doctor,period,bookings,bookedMinutes,rooms,noShows,waited\r\n');
  });

  it('refuses a period backwards or longer than two years, with the field named', async () => {
    await expect(report({ from: '2026-12-05', to: '2026-12-01' })).rejects.toThrow(/from/);
    await expect(report({ from: '2024-01-01', to: '2026-12-01' })).rejects.toThrow(/731 days/);
  });
});
