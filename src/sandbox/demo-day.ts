import { TZDate } from '@date-fns/tz';
import { noShowBody } from './payloads.ts';
import type { Sandbox } from './sandbox-server.ts';
import type { SbBooking } from './sandbox-state.ts';

const MINUTE = 60_000;
const PATIENTS = [
  'Ada Lovelace',
  'Grace Hopper',
  'Alan Kay',
  'Barbara Liskov',
  'Donald Knuth',
  'Frances Allen',
  'Ken Thompson',
  'Margaret Hamilton',
  'Radia Perlman',
  'Tim Berners-Lee',
  'Sophie Wilson',
  'Edsger Dijkstra',
  'Katherine Johnson',
  'Dorothy Vaughan',
  'Mary Jackson',
  'Hedy Lamarr',
  'Annie Easley',
  'John Backus',
];

/**
 * The demo's clinic day around now, whatever the hour: each doctor's appointments from a few hours
 * ago to a couple of hours ahead, back to back with short gaps, so that a newcomer's first look at
 * the board shows rooms in use, rooms being cleaned and what is next. They are made in the sandbox
 * as Cal.com would hold them (accepted, the event type's own location) and announced by webhook as
 * bookings made earlier, so Usher assigns them exactly as it would any other. The horizon ahead is
 * short on purpose: every upcoming booking costs one of Cal.com's five location writes a minute.
 *
 * Nothing is made when the doctors already have bookings around now (a demo restarted the same day).
 */
export function seedDemoDay(
  sandbox: Sandbox,
  now: Date,
  options: { random?: () => number; pastMinutes?: number; aheadMinutes?: number } = {},
): SbBooking[] {
  const random = options.random ?? Math.random;
  const state = sandbox.state;
  const from = now.getTime() - (options.pastMinutes ?? 150) * MINUTE;
  const until = now.getTime() + (options.aheadMinutes ?? 120) * MINUTE;
  // One patient per appointment: classes (seated types) fill up through the traffic, seat by seat.
  const inPerson = [...state.eventTypes.values()].filter((t) => !t.location.startsWith('integrations:') && !t.seatsPerTimeSlot);
  const byHost = new Map<number, typeof inPerson>();
  for (const t of inPerson) byHost.set(t.hostId, [...(byHost.get(t.hostId) ?? []), t]);
  const busyNow = [...state.bookings.values()].some(
    (b) => b.status === 'accepted' && b.start.getTime() < now.getTime() + 60 * MINUTE && b.end.getTime() > now.getTime() - 60 * MINUTE,
  );
  if (busyNow) return [];
  const made: SbBooking[] = [];
  let patient = Math.floor(random() * PATIENTS.length);
  for (const [hostId, types] of byHost) {
    // Each doctor starts at a different moment, on the five minutes, so the rooms do not turn over in step.
    let cursor = Math.floor((from + random() * 30 * MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    while (cursor < until) {
      const type = types[Math.floor(random() * types.length)]!;
      const start = new Date(cursor);
      const end = new Date(cursor + type.lengthInMinutes * MINUTE);
      const name = PATIENTS[patient++ % PATIENTS.length]!;
      if (!state.hostBusy(hostId, start, end)) {
        const booking = state.newBooking(
          {
            eventTypeId: type.id,
            hostId,
            attendee: { name, email: `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@example.com`, timeZone: 'Europe/London' },
            start,
            end,
            status: 'accepted',
            location: type.location,
            metadata: {},
          },
          new Date(start.getTime() - 3 * 86_400_000),
        );
        made.push(booking);
      }
      cursor = end.getTime() + (5 + Math.floor(random() * 5) * 5) * MINUTE;
    }
  }
  // Announced as Cal.com would have, oldest first: Usher learns of the day as if it had been there.
  for (const b of made.sort((a, b) => a.start.getTime() - b.start.getTime())) sandbox.sender.booking('BOOKING_CREATED', b);
  return made;
}

/**
 * The weeks before today, so that the insights page has a clinic's history to show a newcomer:
 * weekdays from 09:00 to 17:00 (the clinic's zone), each doctor's appointments with gaps between
 * them, a few cancelled and a few marked no-show. Made in the sandbox and announced by webhook as
 * Cal.com would have, oldest first, so Usher records them through its own path (rooms are given;
 * nothing is written back to bookings that have ended). Nothing is made if the history is there.
 */
export function seedDemoHistory(
  sandbox: Sandbox,
  now: Date,
  options: { random?: () => number; days?: number; timeZone?: string } = {},
): SbBooking[] {
  const random = options.random ?? Math.random;
  const zone = options.timeZone ?? 'Europe/London';
  const state = sandbox.state;
  const today = new TZDate(now.getTime(), zone);
  const firstDay = new TZDate(today.getFullYear(), today.getMonth(), today.getDate() - (options.days ?? 28), zone);
  if ([...state.bookings.values()].some((b) => b.start.getTime() < today.getTime() - 86_400_000)) return [];
  const inPerson = [...state.eventTypes.values()].filter(
    (t) => !t.location.startsWith('integrations:') && !t.seatsPerTimeSlot && !t.recurringEvent && !t.schedulingType,
  );
  const made: SbBooking[] = [];
  let patient = 0;
  for (let d = 0; d < (options.days ?? 28); d++) {
    const date = new TZDate(firstDay.getFullYear(), firstDay.getMonth(), firstDay.getDate() + d, zone);
    if (date.getDay() === 0 || date.getDay() === 6) continue;
    for (const hostId of new Set(inPerson.map((t) => t.hostId))) {
      const types = inPerson.filter((t) => t.hostId === hostId);
      let cursor =
        new TZDate(date.getFullYear(), date.getMonth(), date.getDate(), 9, 0, zone).getTime() + Math.floor(random() * 4) * 15 * MINUTE;
      const close = new TZDate(date.getFullYear(), date.getMonth(), date.getDate(), 17, 0, zone).getTime();
      while (cursor < close) {
        const type = types[Math.floor(random() * types.length)]!;
        const start = new Date(cursor);
        const end = new Date(cursor + type.lengthInMinutes * MINUTE);
        const name = PATIENTS[patient++ % PATIENTS.length]!;
        made.push(
          state.newBooking(
            {
              eventTypeId: type.id,
              hostId,
              attendee: { name, email: `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@example.com`, timeZone: zone },
              start,
              end,
              status: 'accepted',
              location: type.location,
              metadata: {},
            },
            new Date(start.getTime() - (2 + Math.floor(random() * 12)) * 86_400_000),
          ),
        );
        // Busier mornings: short gaps before noon, longer ones after; never shorter than the longest
        // cleaning (a doctor's next patient in a room still being cleaned would have no room).
        const gap = new TZDate(cursor, zone).getHours() < 12 ? 15 + Math.floor(random() * 2) * 5 : 15 + Math.floor(random() * 7) * 5;
        cursor = end.getTime() + gap * MINUTE;
      }
    }
  }
  for (const b of made.sort((a, b) => a.start.getTime() - b.start.getTime())) {
    sandbox.sender.booking('BOOKING_CREATED', b);
    const roll = random();
    if (roll < 0.04) {
      b.status = 'cancelled';
      b.cancellationReason = 'Patient unwell';
      sandbox.sender.booking('BOOKING_CANCELLED', b);
    } else if (roll < 0.1) {
      const pb = sandbox.sender.toPayloadBooking(b);
      sandbox.sender.raw('BOOKING_NO_SHOW_UPDATED', b.uid, () => noShowBody(pb, [{ email: b.attendee.email, noShow: true }], b.start));
    }
  }
  return made;
}
