import { TZDate } from '@date-fns/tz';
// One module per function: the package root loads all ~250 of date-fns' modules (~0.4 s of every CLI command's start).
import { addDays } from 'date-fns/addDays';
import { addMonths } from 'date-fns/addMonths';
import { addWeeks } from 'date-fns/addWeeks';
import { startOfDay } from 'date-fns/startOfDay';
import { startOfMonth } from 'date-fns/startOfMonth';
import { startOfWeek } from 'date-fns/startOfWeek';

export type Period = 'day' | 'week' | 'month';
export const periods: readonly Period[] = ['day', 'week', 'month'];

/**
 * The calendar day, ISO week (Monday first) or month containing `at`, in the business's time zone:
 * a member's "two sessions a week" means the clinic's week, not UTC's, and a day is 23 or 25 hours
 * when the clocks change.
 */
export function periodBounds(at: Date, period: Period, timeZone: string): { from: Date; to: Date } {
  if (period === 'day') {
    const { from, to } = dayBounds(at.getTime(), timeZone);
    return { from: new Date(from), to: new Date(to) };
  }
  const local = new TZDate(at.getTime(), timeZone);
  switch (period) {
    case 'week': {
      const from = startOfWeek(local, { weekStartsOn: 1 });
      return { from: new Date(+from), to: new Date(+addWeeks(from, 1)) };
    }
    case 'month': {
      const from = startOfMonth(local);
      return { from: new Date(+from), to: new Date(+addMonths(from, 1)) };
    }
  }
}

const QUARTER_HOUR = 900_000;
const dayCache = new Map<string, { from: number; to: number }>();

/**
 * The local day around an instant, kept per time zone and quarter hour (every zone's offset, and so
 * every day's start, is a whole number of quarter hours; room-index.ts DayKeys relies on the same):
 * a worker asks it three times per room decision, and each TZDate computation costs ~30 µs.
 */
function dayBounds(at: number, timeZone: string): { from: number; to: number } {
  const key = `${timeZone}|${Math.floor(at / QUARTER_HOUR)}`;
  let bounds = dayCache.get(key);
  if (!bounds) {
    const from = startOfDay(new TZDate(at, timeZone));
    bounds = { from: +from, to: +addDays(from, 1) };
    if (dayCache.size >= 10_000) dayCache.clear();
    dayCache.set(key, bounds);
  }
  return bounds;
}

/** The local calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  const d = new TZDate(at.getTime(), timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The instant a local calendar date (YYYY-MM-DD) ends in a time zone: "valid until 31 Dec" means through that day. */
export function endOfLocalDate(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(+addDays(new TZDate(y, m - 1, d, timeZone), 1));
}

/** Midday of a local calendar date (YYYY-MM-DD) in a time zone: an instant inside that day however long it is. */
export function middayOfLocalDate(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(+new TZDate(y, m - 1, d, 12, 0, 0, timeZone));
}
