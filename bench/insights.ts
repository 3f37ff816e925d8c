/**
 * npm run bench:insights — issue 18's two targets, on the embedded PostgreSQL server (fsync on):
 *
 * 1. Insights views over a year of a 30-room clinic (≈ 75,000 appointments, their decisions, no-shows,
 *    waits, moves and write-backs): each view asked 7 times, the last day being today — the first
 *    computes the past days and keeps them, the median and max are of the other six. Baseline in the
 *    same run: the same views over one month of a 5-room clinic.
 * 2. What-if: a working week of a 300-room hospital (≈ 14,000 appointments) replayed with ten rooms
 *    taken away, and unchanged as the baseline, through the real what-if (store reads + replay).
 *
 * The history is written straight into the tables by SQL (generate_series): what is measured is
 * reading it back, not making it. Figures go to docs/benchmarks.md.
 */
import { loadConfig } from '../src/config.ts';
import { insightsReport } from '../src/insights/insights-report.ts';
import { whatIf } from '../src/insights/what-if.ts';
import type { RoomDeps } from '../src/rooms/room-planning.ts';
import type { Db } from '../src/store/db.ts';
import { benchServer } from './bench-store.ts';

const ZONE = 'Europe/London';

/**
 * `rooms` rooms, weekdays from `from` to `to`: up to 12 appointments of 30 minutes a room and day
 * (80 % of slots taken), 10 minutes of cleaning; 5 % waited for a room first, 3 % no-shows, 1 % moved
 * by re-planning; every one's location written to Cal.com 2–90 s after its decision.
 */
async function makeHistory(db: Db, rooms: number, from: string, to: string): Promise<number> {
  await db.query(
    `insert into rooms (name, floor, building, equipment, cleaning_minutes, active, source, created_at, updated_at)
     select 'R' || i, i % 6, 'Main', case when i % 7 = 0 then '{ecg}'::text[] else '{}'::text[] end, 10, true, 'config', now(), now()
       from generate_series(1, $1::int) i`,
    [rooms],
  );
  await db.query(
    `insert into bookings (uid, status, start_at, end_at, organizer_email, attendee_email, attendee_name, event_type_id, created_at, updated_at)
     select 'b-' || r || '-' || to_char(d, 'YYYYMMDD') || '-' || s, 'accepted',
            ((d + interval '8 hours' + s * interval '40 minutes')::timestamp at time zone $4),
            ((d + interval '8 hours 30 minutes' + s * interval '40 minutes')::timestamp at time zone $4),
            'dr' || (r % ($1::int / 2 + 1)) || '@clinic.example', 'p' || r || s || '@example.com', 'Pat Ient', 7,
            ((d - interval '3 days' + (random() * 48) * interval '1 hour')::timestamp at time zone $4), now()
       from generate_series(1, $1::int) r, generate_series($2::date, $3::date, interval '1 day') d, generate_series(0, 11) s
      where extract(isodow from d) < 6 and random() < 0.8`,
    [rooms, from, to, ZONE],
  );
  await db.query(
    `insert into room_assignments (booking_uid, room, during, pinned, reasons, location_text, location_written, assigned_at, updated_at)
     select uid, 'R' || split_part(uid, '-', 2), tstzrange(start_at, end_at + interval '10 minutes'), false, '{}', 'Room', 'Room', created_at, created_at
       from bookings`,
  );
  await db.query(
    `insert into decisions (booking_uid, kind, outcome, reasons, detail, decided_at)
     select uid, 'room', 'unassigned', '[{"code":"room.occupied"}]', '{}', created_at from bookings where random() < 0.05`,
  );
  await db.query(
    `insert into decisions (booking_uid, kind, outcome, reasons, detail, decided_at)
     select uid, 'room', 'assigned', jsonb_build_array(jsonb_build_object('code', 'room.assigned', 'room', 'R' || split_part(uid, '-', 2))), '{}',
            created_at + interval '4 minutes' from bookings`,
  );
  await db.query(
    `insert into decisions (booking_uid, kind, outcome, reasons, detail, decided_at)
     select uid, 'room', 'moved', jsonb_build_array(jsonb_build_object('code', 'room.room_unusable', 'from', 'R1', 'to', 'R' || split_part(uid, '-', 2))), '{}',
            created_at + interval '1 hour' from bookings where random() < 0.01`,
  );
  await db.query(
    `insert into decisions (booking_uid, kind, outcome, reasons, detail, decided_at)
     select uid, 'booking.state', 'no_show_updated', '[{"code":"cal.BOOKING_NO_SHOW_UPDATED"}]', '{"absent":1,"present":0}', start_at + interval '10 minutes'
       from bookings where random() < 0.03`,
  );
  await db.query(
    `insert into jobs (kind, payload, booking_uid, state, attempts, max_attempts, run_at, created_at, updated_at, finished_at)
     select 'cal.location', '{}', uid, 'done', 1, 8, created_at, created_at, created_at, created_at + (2 + random() * 88) * interval '1 second'
       from bookings`,
  );
  await db.exec('vacuum analyze');
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from bookings');
  return rows[0]!.n;
}

function deps(rooms: number): RoomDeps & { config: ReturnType<typeof loadConfig> } {
  const list = Array.from(
    { length: rooms },
    (_, i) => `  - { name: "R${i + 1}", floor: ${(i + 1) % 6}, cleaningMinutes: 10${(i + 1) % 7 === 0 ? ', equipment: [ecg]' : ''} }`,
  );
  const config = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'bench-admin-token-0123', USHER_CONFIG: '/nonexistent' },
    { yamlText: `timeZone: ${ZONE}\nrooms:\n${list.join('\n')}\n` },
  );
  if (!config.ok) throw new Error(config.faults.join('\n'));
  return { settings: config.config.roomSettings, timeZone: ZONE, maxAttempts: 8, config };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeViews(
  db: Db,
  rooms: number,
  from: string,
  to: string,
): Promise<Record<string, { first: number; median: number; max: number; rows: number }>> {
  const d = deps(rooms);
  if (!d.config.ok) throw new Error('config');
  const settings = d.config.config.insights;
  const views = {
    'by day': { from, to, grain: 'day' as const },
    'by week': { from, to, grain: 'week' as const },
    'by month': { from, to, grain: 'month' as const },
    'last 4 weeks by day': { from: shift(to, -27), to, grain: 'day' as const },
  };
  const out: Record<string, { first: number; median: number; max: number; rows: number }> = {};
  for (const [name, q] of Object.entries(views)) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      const r = await insightsReport(db, settings, ZONE, q, new Date(`${to}T20:00:00Z`));
      times.push(performance.now() - t);
      rows = r.rooms.length;
    }
    // The first view computes the past days it has not seen and keeps them; the rest read them back.
    const [first, ...rest] = times;
    out[name] = { first: Math.round(first!), median: Math.round(median(rest)), max: Math.round(Math.max(...rest)), rows };
  }
  return out;
}

const shift = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

async function main() {
  const server = await benchServer();
  try {
    const small = await server.fresh();
    const smallCount = await makeHistory(small, 5, '2026-11-01', '2026-11-30');
    const big = await server.fresh();
    const t0 = performance.now();
    const bigCount = await makeHistory(big, 30, '2026-01-01', '2026-12-31');
    process.stderr.write(`a year of 30 rooms: ${bigCount} appointments written in ${Math.round(performance.now() - t0)} ms\n`);
    const baseline = await timeViews(small, 5, '2026-11-01', '2026-11-30');
    const year = await timeViews(big, 30, '2026-01-01', '2026-12-31');
    console.log(
      '\n| insights view (the last day is today) | baseline: 5 rooms, a month — first / median / max ms | 30 rooms, a year — first / median / max ms | rows |',
    );
    console.log('|---|---|---|---|');
    for (const name of Object.keys(year)) {
      const b = baseline[name]!;
      const y = year[name]!;
      console.log(`| ${name} | ${b.first} / ${b.median} / ${b.max} | ${y.first} / **${y.median}** / ${y.max} | ${y.rows} |`);
    }
    console.log(`\n(${smallCount} and ${bigCount} appointments)`);

    const hospital = await server.fresh();
    const count = await makeHistory(hospital, 300, '2027-01-04', '2027-01-08');
    const d = deps(300);
    if (!d.config.ok) throw new Error('config');
    const settings = d.config.config.insights;
    const q = { from: '2027-01-04', to: '2027-01-08' };
    const rows: string[] = [];
    for (const [name, change] of [
      ['unchanged (baseline)', {}],
      ['ten rooms taken away', { without: Array.from({ length: 10 }, (_, i) => `R${i * 30 + 1}`) }],
      ['cleaning 20 min everywhere', { change: [{ room: '*', cleaningMinutes: 20 }] }],
    ] as [string, object][]) {
      const t = performance.now();
      const r = await whatIf(hospital, d, settings, { ...q, ...change });
      const ms = Math.round(performance.now() - t);
      rows.push(`| ${name} | **${(ms / 1000).toFixed(2)}** | ${r.bookings} | ${r.whatIf.withoutRoom} | ${r.whatIf.inexactPlans} |`);
    }
    console.log(
      `\n| what-if, 300 rooms, a working week (${count} appointments) | seconds | bookings replayed | without a room | re-plans not proven optimal |`,
    );
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    await small.close();
    await big.close();
    await hospital.close();
  } finally {
    await server.stop();
  }
}

await main();
