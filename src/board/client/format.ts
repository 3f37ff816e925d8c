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

/** "10:30", or "Tue 3 Dec 10:30" when it is not today in the clinic. */
export function when(iso: string, timeZone: string, now: number): string {
  return shortDay(iso, timeZone) === shortDay(now, timeZone) ? time(iso, timeZone) : `${shortDay(iso, timeZone)} ${time(iso, timeZone)}`;
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
