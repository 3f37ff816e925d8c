import { localDate } from '../domain/calendar-period.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../store/db.ts';
import { listRooms, type RoomRecord } from '../store/rooms.ts';
import {
  type DoctorPeriod,
  doctorInsights,
  keepInsightDays,
  keptDoctorInsights,
  keptInsightDays,
  keptRoomInsights,
  refreshInsightDays,
  type Grain,
  type RoomPeriod,
  roomInsights,
  type UnplacedPeriod,
  unplacedInsights,
  type WriteBackPeriod,
  writeBackInsights,
} from '../store/insights.ts';
import type { InsightsSettings } from './insights-config.ts';

const MAX_DAYS = 731;
const localDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T12:00:00Z`)) && new Date(`${d}T12:00:00Z`).toISOString().startsWith(d), 'a real date');

export const insightsQuery = z
  .object({
    from: localDay.optional().describe('first day (clinic time); default: 27 days before `to`'),
    to: localDay.optional().describe('last day, included; default: today'),
    grain: z.enum(['day', 'week', 'month']).default('day'),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'must not be after to', path: ['from'] })
  .refine((q) => !q.from || !q.to || daysBetween(q.from, q.to) < MAX_DAYS, {
    message: `at most ${MAX_DAYS} days at once`,
    path: ['to'],
  });
export type InsightsQuery = z.input<typeof insightsQuery>;

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Booked minutes over open minutes, 0–1 (more than 1 when bookings ran outside the hours); null: never open. */
const ratio = (booked: number, open: number) => (open > 0 ? Math.round((booked / open) * 1000) / 1000 : null);

export type RoomFigures = Omit<RoomPeriod, 'room' | 'period'>;

export interface InsightsReport {
  from: string;
  to: string;
  grain: Grain;
  timeZone: string;
  minimumGapMinutes: number;
  /** Per room and period. */
  rooms: (RoomPeriod & { utilisation: number | null })[];
  /** The whole clinic per period (every room added up). */
  clinic: (RoomFigures & { period: string; utilisation: number | null })[];
  /** Each room over the whole period. */
  roomTotals: (RoomFigures & { room: string; utilisation: number | null })[];
  doctors: DoctorPeriod[];
  writeBack: WriteBackPeriod[];
  /** Bookings that needed a room and still have none, per period. */
  withoutRoom: UnplacedPeriod[];
}

const FIGURES: readonly (keyof RoomFigures)[] = [
  'openMinutes',
  'bookedMinutes',
  'bookings',
  'cleaningMinutes',
  'idleGaps',
  'idleGapMinutes',
  'noShows',
  'waited',
  'waitMinutesTotal',
  'waitMinutesMax',
  'movesOut',
];

function sumBy<K extends string>(rows: readonly RoomPeriod[], key: (r: RoomPeriod) => K): Map<K, RoomFigures> {
  const out = new Map<K, RoomFigures>();
  for (const r of rows) {
    const k = key(r);
    const acc = out.get(k) ?? (Object.fromEntries(FIGURES.map((f) => [f, 0])) as unknown as RoomFigures);
    for (const f of FIGURES) acc[f] = f === 'waitMinutesMax' ? Math.max(acc[f], r[f]) : acc[f] + r[f];
    out.set(k, acc);
  }
  return out;
}

/**
 * What the figures of a past day depend on besides the data: kept days are used only under the
 * same key (a changed opening hour or holiday makes them be computed again).
 */
function settingsKey(settings: InsightsSettings, timeZone: string, rooms: readonly RoomRecord[]): string {
  const hours = rooms.map((r) => [r.name, r.open?.fromMinute ?? null, r.open?.toMinute ?? null, r.active]);
  return createHash('sha256')
    .update(JSON.stringify([settings, timeZone, hours]))
    .digest('base64url')
    .slice(0, 22);
}

/** Plain code-point order (periods are ISO dates; thousands of rows: no locale rules needed). */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Runs of consecutive days, at most `most` long (one computation each). */
function runs(days: readonly string[], most: number): string[][] {
  const out: string[][] = [];
  for (const day of days) {
    const last = out.at(-1);
    if (last && last.length < most && addDays(last.at(-1)!, 1) === day) last.push(day);
    else out.push([day]);
  }
  return out;
}

function merge<T extends { period: string }>(a: readonly T[], b: readonly T[], key: (r: T) => string, add: (x: T, y: T) => T): T[] {
  const both = (r: T) => `${r.period}|${key(r)}`;
  const out = new Map(a.map((r) => [both(r), r]));
  for (const r of b) {
    const k = both(r);
    const had = out.get(k);
    out.set(k, had ? add(had, r) : r);
  }
  return [...out.values()].sort((x, y) => byText(x.period, y.period) || byText(key(x), key(y)));
}

/**
 * Every figure of a period, computed by the store (see store/insights.ts), with the sums drawn from
 * them. Past days are computed once and kept (store/insights.ts refreshInsightDays says when they
 * are computed again); today and later are always computed afresh.
 */
export async function insightsReport(
  db: Db,
  settings: InsightsSettings,
  timeZone: string,
  query: InsightsQuery,
  now: Date,
): Promise<InsightsReport> {
  const q = insightsQuery.parse(query);
  const today = localDate(now, timeZone);
  const to = q.to ?? today;
  const from = q.from ?? addDays(to, -27);
  if (from > to) return insightsReport(db, settings, timeZone, { ...q, from: to, to }, now);
  const window = { from, to, grain: q.grain, timeZone, ...settings };
  // Write-backs and bookings without a room are read beside the rest (another connection each).
  const extras = Promise.all([writeBackInsights(db, window), unplacedInsights(db, window)]);
  extras.catch(() => undefined);
  const lastKept = to < today ? to : addDays(today, -1);
  let rooms: RoomPeriod[] = [];
  let doctors: DoctorPeriod[] = [];
  if (from <= lastKept) {
    await refreshInsightDays(db, timeZone, now);
    const key = settingsKey(settings, timeZone, await listRooms(db, { includeInactive: true }));
    const kept = await keptInsightDays(db, key, from, lastKept);
    const missing: string[] = [];
    for (let day = from; day <= lastKept; day = addDays(day, 1)) if (!kept.has(day)) missing.push(day);
    for (const days of runs(missing, 92)) {
      const run = { ...window, from: days[0]!, to: days.at(-1)!, grain: 'day' as const };
      await keepInsightDays(db, key, days, await roomInsights(db, run), await doctorInsights(db, run));
    }
    const past = { from, to: lastKept, grain: q.grain };
    [rooms, doctors] = await Promise.all([keptRoomInsights(db, key, past), keptDoctorInsights(db, key, past)]);
  }
  if (to >= today) {
    const ahead = { ...window, from: [from, today].sort().at(-1)! }; // the later of two YYYY-MM-DD dates
    const [liveRooms, liveDoctors] = await Promise.all([roomInsights(db, ahead), doctorInsights(db, ahead)]);
    rooms = merge(
      rooms,
      liveRooms,
      (r) => r.room,
      (x, y) => {
        const sum = { ...x };
        for (const f of FIGURES) sum[f] = f === 'waitMinutesMax' ? Math.max(x[f], y[f]) : x[f] + y[f];
        return sum;
      },
    );
    doctors = merge(
      doctors,
      liveDoctors,
      (r) => r.doctor,
      (x, y) => ({
        ...x,
        bookings: x.bookings + y.bookings,
        bookedMinutes: x.bookedMinutes + y.bookedMinutes,
        rooms: Math.max(x.rooms, y.rooms),
        noShows: x.noShows + y.noShows,
        waited: x.waited + y.waited,
      }),
    );
  } else {
    rooms.sort((x, y) => byText(x.period, y.period) || byText(x.room, y.room));
    doctors.sort((x, y) => byText(x.period, y.period) || byText(x.doctor, y.doctor));
  }
  const [writeBack, withoutRoom] = await extras;
  return {
    from,
    to,
    grain: q.grain,
    timeZone,
    minimumGapMinutes: settings.minimumGapMinutes,
    rooms: rooms.map((r) => ({ ...r, utilisation: ratio(r.bookedMinutes, r.openMinutes) })),
    clinic: [...sumBy(rooms, (r) => r.period)].map(([period, f]) => ({ period, ...f, utilisation: ratio(f.bookedMinutes, f.openMinutes) })),
    roomTotals: [...sumBy(rooms, (r) => r.room)]
      .map(([room, f]) => ({ room, ...f, utilisation: ratio(f.bookedMinutes, f.openMinutes) }))
      .sort((a, b) => a.room.localeCompare(b.room, 'en', { numeric: true })),
    doctors,
    writeBack,
    withoutRoom,
  };
}

export const INSIGHTS_TABLES = ['rooms', 'clinic', 'doctors', 'write-back', 'without-room'] as const;
export type InsightsTable = (typeof INSIGHTS_TABLES)[number];

/**
 * One table of a report as CSV (RFC 4180). A cell that a spreadsheet would run as a formula (a room
 * or doctor named "=HYPERLINK(…)") is prefixed with an apostrophe (OWASP's CSV injection advice).
 */
export function insightsCsv(report: InsightsReport, table: InsightsTable): string {
  const tables = {
    rooms: report.rooms,
    clinic: report.clinic,
    doctors: report.doctors,
    'write-back': report.writeBack,
    'without-room': report.withoutRoom,
  };
  const rows = tables[table] as readonly object[] as readonly Record<string, unknown>[];
  const headers =
    rows.length > 0
      ? Object.keys(rows[0]!)
      : {
          rooms: ['room', 'period', ...FIGURES, 'utilisation'],
          clinic: ['period', ...FIGURES, 'utilisation'],
          doctors: ['doctor', 'period', 'bookings', 'bookedMinutes', 'rooms', 'noShows', 'waited'],
          'write-back': ['period', 'writes', 'retried', 'p50Seconds', 'p95Seconds', 'maxSeconds'],
          'without-room': ['period', 'bookings'],
        }[table];
  const cell = (v: unknown) => {
    let s = v === null || v === undefined ? '' : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[headers.map(cell).join(','), ...rows.map((r) => headers.map((h) => cell(r[h])).join(','))].join('\r\n')}\r\n`;
}
