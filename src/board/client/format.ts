import type { ViewBooking } from './api.ts';
/** Times on the board are the clinic's, whatever the screen's own time zone. */
const formats = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, ...options });
    formats.set(key, f);
  }
  return f;
}

export function time(iso: string | number, timeZone: string): string {
  return format(timeZone, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

export function timeWithSeconds(at: number, timeZone: string): string {
  return format(timeZone, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(at));
}

export function day(iso: string | number, timeZone: string): string {
  return format(timeZone, { weekday: 'long', day: 'numeric', month: 'long' }).format(new Date(iso));
}

export function shortDay(iso: string | number, timeZone: string): string {
  return format(timeZone, { weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(iso));
}

/**
 * "10:30" today in the clinic; "Fri 00:05" within the coming six days (late in the evening the
 * room heads name the small hours, and the short form keeps them on one line on a tablet); else
 * "Tue 3 Dec 10:30".
 */
export function when(iso: string, timeZone: string, now: number): string {
  if (shortDay(iso, timeZone) === shortDay(now, timeZone)) return time(iso, timeZone);
  const ahead = Date.parse(iso) - now;
  const weekday =
    ahead > 0 && ahead < 6 * 86_400_000 ? format(timeZone, { weekday: 'short' }).format(new Date(iso)) : shortDay(iso, timeZone);
  return `${weekday} ${time(iso, timeZone)}`;
}

/**
 * When something going on now ends: the time alone while it is under twelve hours away ("until
 * 00:05" at 23:56 can only be the coming one), else as `when`. At midnight the day's name pushed three
 * cleaning rooms' state onto a second line and the demo's small wall past its height.
 */
export function until(iso: string, timeZone: string, now: number): string {
  const ahead = Date.parse(iso) - now;
  return ahead >= 0 && ahead < 12 * 3_600_000 ? time(iso, timeZone) : when(iso, timeZone, now);
}

/** "10:42", with a countdown when it is under two minutes away ("10:42, in 35 s"). */
export function eta(iso: string, timeZone: string, now: number): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  return seconds > 0 && seconds < 120 ? `${when(iso, timeZone, now)}, in ${seconds} s` : when(iso, timeZone, now);
}

/** Minutes since the clinic's midnight of the day `dayOf` falls in (may be <0 or >1440 for other days). */
export function minuteOfDay(at: string | number, dayOf: number, timeZone: string): number {
  const parts = (t: number) => {
    const p = Object.fromEntries(
      format(timeZone, { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
        .formatToParts(new Date(t))
        .map((x) => [x.type, x.value]),
    );
    return { date: Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)), minute: Number(p.hour) * 60 + Number(p.minute) };
  };
  const a = parts(new Date(at).getTime());
  const d = parts(dayOf);
  return (a.date - d.date) / 60_000 + a.minute;
}

export function roomLabel(name: string): string {
  return /^room\b/i.test(name) ? name : `Room ${name}`;
}

export function floorLabel(building: string, floor: number): string {
  const f = floor === 0 ? 'Ground floor' : `Floor ${floor}`;
  return building ? `${building} · ${f}` : f;
}

export function bookingLabel(b: ViewBooking | undefined): string {
  if (!b) return 'a booking';
  return [b.title ?? 'Booking', b.who].filter(Boolean).join(' · ');
}

export const WRITTEN = 'Cal.com shows this room';

/** Where Cal.com stands on this booking's room: shown, or when it will be. */
export function writeBackText(b: ViewBooking, zone: string, now: number): string {
  if (b.written) return WRITTEN;
  if (b.writeSkipped) return 'Cal.com left as it was: the appointment had ended';
  if (b.writeBack?.state === 'sending') return 'Cal.com: sending now';
  if (b.writeBack) return `Cal.com: expected ${eta(b.writeBack.expectedAt, zone, now)}`;
  return b.status === 'accepted' ? 'Cal.com: not yet updated' : 'Cal.com: written once confirmed';
}

/** The clinic's calendar date (YYYY-MM-DD) of an instant. */
export function localDate(at: number, timeZone: string): string {
  const p = Object.fromEntries(
    format(timeZone, { year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date(at))
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}`;
}

/** A calendar date moved by whole days (no time zone involved: dates, not instants). */
export function addDaysTo(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function wallClock(at: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  const p = Object.fromEntries(
    format(timeZone, { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
      .formatToParts(new Date(at))
      .map((x) => [x.type, Number(x.value)]),
  ) as Record<string, number>;
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour!, min: p.minute! };
}

/** An instant as a `datetime-local` value (YYYY-MM-DDTHH:MM) on the clinic's clock. */
export function localDateTime(at: number, timeZone: string): string {
  const c = wallClock(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${c.y}-${pad(c.m)}-${pad(c.d)}T${pad(c.h)}:${pad(c.min)}`;
}

/** A `datetime-local` value read on the clinic's clock (not the screen's): the instant it names. */
export function instantOf(local: string, timeZone: string): number {
  const [y, m, d, h, min] = local.split(/[-T:]/).map(Number) as [number, number, number, number, number];
  const wanted = Date.UTC(y, m - 1, d, h, min);
  const offsetAt = (at: number) => {
    const c = wallClock(at, timeZone);
    return Date.UTC(c.y, c.m - 1, c.d, c.h, c.min) - at;
  };
  // Twice: the offset at the first guess may differ from the one at the answer across a clock change.
  const first = wanted - offsetAt(wanted);
  return wanted - offsetAt(first);
}
