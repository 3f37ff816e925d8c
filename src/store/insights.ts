import { z } from 'zod';
import type { Db, Queryable } from './db.ts';
import { col, rowMapper } from './row-parsers.ts';

export type Grain = 'day' | 'week' | 'month';

export interface InsightsWindow {
  /** First and last local day of the period (YYYY-MM-DD, both included). */
  from: string;
  to: string;
  grain: Grain;
  timeZone: string;
  /** The clinic's opening hours for rooms that have none of their own (minutes from local midnight). */
  open: { fromMinute: number; toMinute: number };
  holidays: readonly string[];
  /** ISO weekdays the clinic is closed (1 = Monday … 7 = Sunday). */
  closedWeekdays: readonly number[];
  /** Idle time shorter than this between bookings cannot be booked, so it is not counted as a gap. */
  minimumGapMinutes: number;
}

/** One room's figures in one period (day, week or month starting `period`). */
export interface RoomPeriod {
  room: string;
  period: string;
  openMinutes: number;
  bookedMinutes: number;
  bookings: number;
  cleaningMinutes: number;
  idleGaps: number;
  idleGapMinutes: number;
  noShows: number;
  waited: number;
  waitMinutesTotal: number;
  waitMinutesMax: number;
  movesOut: number;
}

export interface DoctorPeriod {
  doctor: string;
  period: string;
  bookings: number;
  bookedMinutes: number;
  rooms: number;
  noShows: number;
  waited: number;
}

export interface WriteBackPeriod {
  period: string;
  writes: number;
  retried: number;
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
}

/*
 * Every figure is computed by PostgreSQL over the period's rows (issue 18: a year of a 30-room clinic
 * in ≤ 200 ms a view), never by loading bookings into Node. Local days are the clinic's: a day's
 * opening hours become instants with `(day + minutes) at time zone $tz`, so a DST change is right.
 *
 * Shared pieces: `$1..$3` are the first day, last day and time zone of every query below.
 */
const SPAN = `tstzrange(($1::date::timestamp at time zone $3), (($2::date + 1)::timestamp at time zone $3))`;
const PERIOD = (day: string) => `date_trunc($4, ${day}::timestamp)::date`;

// A booking in a room in the period, with its latest no-show mark and how long it waited for a room
// (its first "no room" decision to the first that gave it one).
const STAYS = `
  stays as materialized (
    select a.room, b.uid, b.start_at, b.end_at, upper(a.during) as stay_end, b.organizer_email,
           (b.start_at at time zone $3)::date as day
    from room_assignments a join bookings b on b.uid = a.booking_uid
    where a.room is not null and b.status = 'accepted' and a.during && ${SPAN}
  ),
  no_shows as (
    select distinct on (d.booking_uid) d.booking_uid, (d.detail->>'absent')::int > 0 as absent
    from decisions d
    where d.kind = 'booking.state' and d.outcome = 'no_show_updated' and d.booking_uid in (select uid from stays)
    order by d.booking_uid, d.id desc
  ),
  first_waits as (
    select distinct on (d.booking_uid) d.booking_uid, d.id, d.decided_at
    from decisions d
    where d.kind = 'room' and d.outcome = 'unassigned' and d.booking_uid in (select uid from stays)
    order by d.booking_uid, d.id
  ),
  waits as (
    select w.booking_uid, extract(epoch from min(g.decided_at) - w.decided_at) / 60 as minutes
    from first_waits w join decisions g on g.booking_uid = w.booking_uid and g.kind = 'room' and g.outcome in ('assigned', 'moved') and g.id > w.id
    group by w.booking_uid, w.decided_at
  ),
  marked as (
    select s.*, coalesce(n.absent, false) as no_show, w.minutes as waited_minutes
    from stays s left join no_shows n on n.booking_uid = s.uid left join waits w on w.booking_uid = s.uid
  )`;

const roomPeriodFromRow = rowMapper(
  'insights',
  z.object({
    room: col.text,
    period: col.text,
    open_minutes: col.int,
    booked_minutes: col.int,
    bookings: col.int,
    cleaning_minutes: col.int,
    idle_gaps: col.int,
    idle_gap_minutes: col.int,
    no_shows: col.int,
    waited: col.int,
    wait_minutes_total: col.int,
    wait_minutes_max: col.int,
    moves_out: col.int,
  }),
  (r): RoomPeriod => ({
    room: r.room,
    period: r.period,
    openMinutes: r.open_minutes,
    bookedMinutes: r.booked_minutes,
    bookings: r.bookings,
    cleaningMinutes: r.cleaning_minutes,
    idleGaps: r.idle_gaps,
    idleGapMinutes: r.idle_gap_minutes,
    noShows: r.no_shows,
    waited: r.waited,
    waitMinutesTotal: r.wait_minutes_total,
    waitMinutesMax: r.wait_minutes_max,
    movesOut: r.moves_out,
  }),
);

/**
 * Per room and period: opening minutes (the room's hours or the clinic's, without holidays and
 * closed weekdays), booked and cleaning minutes, bookings, idle gaps long enough to book, no-shows,
 * bookings that waited for a room, and re-planning moves out of it. Rooms retired since still show
 * for the periods they held bookings in.
 */
export async function roomInsights(db: Queryable, w: InsightsWindow): Promise<RoomPeriod[]> {
  const result = await db.query(
    `with ${STAYS},
    open_days as (
      select d::date as day from generate_series($1::date, $2::date, interval '1 day') d
      where not (d::date = any($7::date[])) and not (extract(isodow from d)::int = any($8::int[]))
    ),
    room_list as (
      select name, coalesce(open_from_minute, $5) as f, coalesce(open_until_minute, $6) as t from rooms
      where active or exists (select 1 from stays where stays.room = rooms.name)
    ),
    windows as (
      select r.name as room, o.day,
             ((o.day::timestamp + make_interval(mins => r.f)) at time zone $3) as open_at,
             ((o.day::timestamp + make_interval(mins => r.t)) at time zone $3) as close_at
      from room_list r cross join open_days o
    ),
    -- A stay counts on the day it starts (the equality keeps this a hash join: a year of a 30-room
    -- clinic is 7,800 room-days against 75,000 stays).
    clipped as (
      select w.room, w.day, w.open_at, greatest(s.start_at, w.open_at) as s, least(s.stay_end, w.close_at) as e
      from windows w join stays s on s.room = w.room and s.day = w.day and s.start_at < w.close_at and s.stay_end > w.open_at
    ),
    ordered as (
      select room, day, s, e,
             greatest(open_at, max(e) over (partition by room, day order by s, e rows between unbounded preceding and 1 preceding)) as prev_end
      from clipped
    ),
    gaps as (
      select room, day, extract(epoch from s - prev_end) / 60 as minutes from ordered where s > prev_end
      union all
      select w.room, w.day, extract(epoch from w.close_at - greatest(w.open_at, max(c.e))) / 60
      from windows w left join clipped c on c.room = w.room and c.day = w.day
      group by w.room, w.day, w.open_at, w.close_at
    ),
    moves as (
      select d.reasons->0->>'from' as room, ${PERIOD('(b.start_at at time zone $3)::date')} as period, count(*) as moves_out
      from bookings b join decisions d on d.booking_uid = b.uid and d.kind = 'room' and d.outcome = 'moved'
      where b.start_at >= ($1::date::timestamp at time zone $3) and b.start_at < (($2::date + 1)::timestamp at time zone $3)
        and d.reasons->0->>'code' <> 'room.moved_by_operator' and d.reasons->0->>'from' is not null
      group by 1, 2
    ),
    per_open as (
      select room, ${PERIOD('day')} as period, sum(extract(epoch from close_at - open_at) / 60) as open_minutes
      from windows group by 1, 2
    ),
    per_gap as (
      select room, ${PERIOD('day')} as period,
             count(*) filter (where minutes >= $9) as idle_gaps,
             coalesce(sum(minutes) filter (where minutes >= $9), 0) as idle_gap_minutes
      from gaps group by 1, 2
    ),
    per_stay as (
      select room, ${PERIOD('day')} as period,
             sum(extract(epoch from end_at - start_at) / 60) as booked_minutes,
             count(*) as bookings,
             sum(greatest(0, extract(epoch from stay_end - end_at) / 60)) as cleaning_minutes,
             count(*) filter (where no_show) as no_shows,
             count(waited_minutes) as waited,
             coalesce(sum(waited_minutes), 0) as wait_minutes_total,
             coalesce(max(waited_minutes), 0) as wait_minutes_max
      from marked where day between $1::date and $2::date group by 1, 2
    ),
    keys as (
      select room, period from per_open union select room, period from per_stay union select room, period from moves
      where room in (select name from room_list)
    )
    select k.room, k.period::text as period,
           round(coalesce(o.open_minutes, 0))::int as open_minutes, round(coalesce(s.booked_minutes, 0))::int as booked_minutes,
           coalesce(s.bookings, 0)::int as bookings, round(coalesce(s.cleaning_minutes, 0))::int as cleaning_minutes,
           coalesce(g.idle_gaps, 0)::int as idle_gaps, round(coalesce(g.idle_gap_minutes, 0))::int as idle_gap_minutes,
           coalesce(s.no_shows, 0)::int as no_shows, coalesce(s.waited, 0)::int as waited,
           round(coalesce(s.wait_minutes_total, 0))::int as wait_minutes_total, round(coalesce(s.wait_minutes_max, 0))::int as wait_minutes_max,
           coalesce(m.moves_out, 0)::int as moves_out
    from keys k
    left join per_open o using (room, period)
    left join per_gap g using (room, period)
    left join per_stay s using (room, period)
    left join moves m using (room, period)
    order by k.period, k.room`,
    [w.from, w.to, w.timeZone, w.grain, w.open.fromMinute, w.open.toMinute, w.holidays, w.closedWeekdays, w.minimumGapMinutes],
  );
  return result.rows.map(roomPeriodFromRow);
}

const doctorPeriodFromRow = rowMapper(
  'insights',
  z.object({
    doctor: col.text,
    period: col.text,
    bookings: col.int,
    booked_minutes: col.int,
    rooms: col.int,
    no_shows: col.int,
    waited: col.int,
  }),
  (r): DoctorPeriod => ({
    doctor: r.doctor,
    period: r.period,
    bookings: r.bookings,
    bookedMinutes: r.booked_minutes,
    rooms: r.rooms,
    noShows: r.no_shows,
    waited: r.waited,
  }),
);

/**
 * Per doctor (the organizer's e-mail) and period: bookings in rooms, minutes, the most rooms used in
 * one day, no-shows, waits.
 */
export async function doctorInsights(
  db: Queryable,
  w: Pick<InsightsWindow, 'from' | 'to' | 'grain' | 'timeZone'>,
): Promise<DoctorPeriod[]> {
  const result = await db.query(
    `with ${STAYS},
    per_day as (
      select coalesce(organizer_email, '(no organizer)') as doctor, day,
             count(*) as bookings, sum(extract(epoch from end_at - start_at) / 60) as booked_minutes,
             count(distinct room) as rooms, count(*) filter (where no_show) as no_shows, count(waited_minutes) as waited
      from marked where day between $1::date and $2::date group by 1, 2
    )
    select doctor, ${PERIOD('day')}::text as period, sum(bookings)::int as bookings, round(sum(booked_minutes))::int as booked_minutes,
           max(rooms)::int as rooms, sum(no_shows)::int as no_shows, sum(waited)::int as waited
    from per_day group by 1, 2 order by 2, 1`,
    [w.from, w.to, w.timeZone, w.grain],
  );
  return result.rows.map(doctorPeriodFromRow);
}

const writeBackFromRow = rowMapper(
  'insights',
  z.object({
    period: col.text,
    writes: col.int,
    retried: col.int,
    p50: col.int,
    p95: col.int,
    max: col.int,
  }),
  (r): WriteBackPeriod => ({
    period: r.period,
    writes: r.writes,
    retried: r.retried,
    p50Seconds: r.p50,
    p95Seconds: r.p95,
    maxSeconds: r.max,
  }),
);

/**
 * Room locations written to Cal.com per period: how long each waited from the decision to Cal.com's
 * answer (Cal.com's location budget, `cal.rateLimit.locationRequestsPerWindow`, 5 a minute, is what
 * usually sets it) and how many needed more than one attempt.
 */
export async function writeBackInsights(
  db: Queryable,
  w: Pick<InsightsWindow, 'from' | 'to' | 'grain' | 'timeZone'>,
): Promise<WriteBackPeriod[]> {
  // Grouped by the date itself (cheaper to sort than its text); both percentiles come from one
  // ordered-set aggregate (PostgreSQL computes an identical aggregate once).
  const result = await db.query(
    `select period::text as period, count(*)::int as writes, count(*) filter (where attempts > 1)::int as retried,
            round((percentile_cont(array[0.5, 0.95]) within group (order by seconds))[1])::int as p50,
            round((percentile_cont(array[0.5, 0.95]) within group (order by seconds))[2])::int as p95,
            round(max(seconds))::int as max
       from (
         select ${PERIOD('(created_at at time zone $3)::date')} as period, attempts, extract(epoch from finished_at - created_at) as seconds
           from jobs
          where kind = 'cal.location' and state = 'done'
            and created_at >= ($1::date::timestamp at time zone $3) and created_at < (($2::date + 1)::timestamp at time zone $3)
       ) delays
      group by period order by period`,
    [w.from, w.to, w.timeZone, w.grain],
  );
  return result.rows.map(writeBackFromRow);
}

export interface UnplacedPeriod {
  period: string;
  /** Bookings in the period that needed a room and have none (the board's "no room" list). */
  bookings: number;
}

/** Per period: bookings still without a room — invisible in the rooms' figures, so counted apart. */
export async function unplacedInsights(
  db: Queryable,
  w: Pick<InsightsWindow, 'from' | 'to' | 'grain' | 'timeZone'>,
): Promise<UnplacedPeriod[]> {
  const result = await db.query(
    `select ${PERIOD('(b.start_at at time zone $3)::date')}::text as period, count(*)::int as bookings
       from room_assignments a join bookings b on b.uid = a.booking_uid
      where a.room is null and b.status = 'accepted'
        and b.start_at >= ($1::date::timestamp at time zone $3) and b.start_at < (($2::date + 1)::timestamp at time zone $3)
      group by 1 order by 1`,
    [w.from, w.to, w.timeZone, w.grain],
  );
  return result.rows.map((r) => ({ period: String(r.period), bookings: Number(r.bookings) }));
}

/**
 * Forgets the figures of every day a decision newer than the watermark touched (its booking's day,
 * or the day it was made for one without a booking: a block, a room marked cleaned), and moves the
 * watermark up to the decisions older than a minute — a transaction still open when this runs
 * commits a lower id after a higher one, and is seen on the next call. One caller at a time.
 */
export async function refreshInsightDays(db: Db, timeZone: string, now: Date): Promise<number> {
  return db.transaction(async (trx) => {
    await trx.query(`select pg_advisory_xact_lock(hashtext('usher_insight_days'))`);
    const { rows } = await trx.query<{ last_decision_id: string }>('select last_decision_id from insight_watermark');
    const watermark = Number(rows[0]?.last_decision_id ?? 0);
    const dirty = await trx.query<{ day: string }>(
      `select distinct coalesce((b.start_at at time zone $2)::date, (d.decided_at at time zone $2)::date)::text as day
         from decisions d left join bookings b on b.uid = d.booking_uid
        where d.id > $1`,
      [watermark, timeZone],
    );
    const days = dirty.rows.map((r) => r.day);
    if (days.length) {
      for (const table of ['insight_days', 'insight_room_days', 'insight_doctor_days'])
        await trx.query(`delete from ${table} where day = any($1::date[])`, [days]);
    }
    await trx.query(
      `update insight_watermark set last_decision_id = coalesce(
         (select max(id) from (select id, decided_at from decisions where id > $1 order by id desc limit 10000) recent where decided_at < $2),
         $1)`,
      [watermark, new Date(now.getTime() - 60_000)],
    );
    return days.length;
  });
}

/** The days of [from, to] whose figures are kept under this key. */
export async function keptInsightDays(db: Queryable, key: string, from: string, to: string): Promise<Set<string>> {
  const { rows } = await db.query<{ day: string }>(
    'select day::text as day from insight_days where settings_key = $1 and day between $2::date and $3::date',
    [key, from, to],
  );
  return new Set(rows.map((r) => r.day));
}

/**
 * Keeps the figures of whole days (rows by day, from roomInsights/doctorInsights with grain day) and
 * marks the days done, in one transaction; figures kept under another key (a changed configuration)
 * are dropped. A day another caller kept meanwhile is left as it is.
 */
export async function keepInsightDays(
  db: Db,
  key: string,
  days: readonly string[],
  rooms: readonly RoomPeriod[],
  doctors: readonly DoctorPeriod[],
): Promise<void> {
  await db.transaction(async (trx) => {
    for (const table of ['insight_days', 'insight_room_days', 'insight_doctor_days'])
      await trx.query(`delete from ${table} where settings_key <> $1`, [key]);
    const fresh = await trx.query<{ day: string }>(
      `insert into insight_days (settings_key, day) select $1, unnest($2::date[]) on conflict do nothing returning day::text as day`,
      [key, days],
    );
    const mine = new Set(fresh.rows.map((r) => r.day));
    const r = rooms.filter((x) => mine.has(x.period));
    if (r.length)
      await trx.query(
        `insert into insight_room_days (settings_key, day, room, open_minutes, booked_minutes, bookings, cleaning_minutes, idle_gaps,
           idle_gap_minutes, no_shows, waited, wait_minutes_total, wait_minutes_max, moves_out)
         select $1, * from unnest($2::date[], $3::text[], $4::float8[], $5::float8[], $6::int[], $7::float8[], $8::int[], $9::float8[],
           $10::int[], $11::int[], $12::float8[], $13::float8[], $14::int[])`,
        [
          key,
          r.map((x) => x.period),
          r.map((x) => x.room),
          r.map((x) => x.openMinutes),
          r.map((x) => x.bookedMinutes),
          r.map((x) => x.bookings),
          r.map((x) => x.cleaningMinutes),
          r.map((x) => x.idleGaps),
          r.map((x) => x.idleGapMinutes),
          r.map((x) => x.noShows),
          r.map((x) => x.waited),
          r.map((x) => x.waitMinutesTotal),
          r.map((x) => x.waitMinutesMax),
          r.map((x) => x.movesOut),
        ],
      );
    const d = doctors.filter((x) => mine.has(x.period));
    if (d.length)
      await trx.query(
        `insert into insight_doctor_days (settings_key, day, doctor, bookings, booked_minutes, rooms, no_shows, waited)
         select $1, * from unnest($2::date[], $3::text[], $4::int[], $5::float8[], $6::int[], $7::int[], $8::int[])`,
        [
          key,
          d.map((x) => x.period),
          d.map((x) => x.doctor),
          d.map((x) => x.bookings),
          d.map((x) => x.bookedMinutes),
          d.map((x) => x.rooms),
          d.map((x) => x.noShows),
          d.map((x) => x.waited),
        ],
      );
  });
}

/** The kept days of [from, to] added up per room and period (the longest wait is the longest of its days). */
export async function keptRoomInsights(
  db: Queryable,
  key: string,
  w: Pick<InsightsWindow, 'from' | 'to' | 'grain'>,
): Promise<RoomPeriod[]> {
  const result = await db.query(
    `select room, date_trunc($4, day::timestamp)::date::text as period,
            round(sum(open_minutes))::int as open_minutes, round(sum(booked_minutes))::int as booked_minutes, sum(bookings)::int as bookings,
            round(sum(cleaning_minutes))::int as cleaning_minutes, sum(idle_gaps)::int as idle_gaps,
            round(sum(idle_gap_minutes))::int as idle_gap_minutes, sum(no_shows)::int as no_shows, sum(waited)::int as waited,
            round(sum(wait_minutes_total))::int as wait_minutes_total, round(max(wait_minutes_max))::int as wait_minutes_max,
            sum(moves_out)::int as moves_out
       from insight_room_days where settings_key = $1 and day between $2::date and $3::date
      group by 1, 2`,
    [key, w.from, w.to, w.grain],
  );
  return result.rows.map(roomPeriodFromRow);
}

/** The kept days of [from, to] added up per doctor and period. */
export async function keptDoctorInsights(
  db: Queryable,
  key: string,
  w: Pick<InsightsWindow, 'from' | 'to' | 'grain'>,
): Promise<DoctorPeriod[]> {
  const result = await db.query(
    `select doctor, date_trunc($4, day::timestamp)::date::text as period, sum(bookings)::int as bookings,
            round(sum(booked_minutes))::int as booked_minutes, max(rooms)::int as rooms, sum(no_shows)::int as no_shows,
            sum(waited)::int as waited
       from insight_doctor_days where settings_key = $1 and day between $2::date and $3::date
      group by 1, 2`,
    [key, w.from, w.to, w.grain],
  );
  return result.rows.map(doctorPeriodFromRow);
}
