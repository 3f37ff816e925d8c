import type { Booking } from '../domain/booking.ts';
import type { Room, RoomBlock } from '../domain/room-model.ts';
import { bookingFromRow } from './bookings.ts';
import { z } from 'zod';
import { col, rowMapper } from './row-parsers.ts';
import { write, type Db, type Queryable, type Row } from './db.ts';

export interface RoomRecord extends Room {
  source: 'config' | 'api';
}

export interface Assignment {
  bookingUid: string;
  room: string | null;
  from: Date;
  to: Date;
  pinned: boolean;
  reasons: Record<string, unknown>;
  locationText: string | null;
  locationWritten: string | null;
  assignedAt: Date;
  updatedAt: Date;
}

const roomFromRow = rowMapper(
  'rooms',
  z.object({
    name: col.text,
    floor: col.int,
    building: col.text,
    equipment: col.textList.nullable(),
    cleaning_minutes: col.int,
    open_from_minute: col.nullableInt,
    open_until_minute: col.nullableInt,
    active: col.bool,
    source: col.oneOf(['config', 'api']),
    capacity: col.nullableInt.optional(),
  }),
  (r): RoomRecord => ({
    name: r.name,
    floor: r.floor,
    building: r.building,
    equipment: r.equipment ?? [],
    cleaningMinutes: r.cleaning_minutes,
    ...(r.open_from_minute !== null && r.open_until_minute !== null
      ? { open: { fromMinute: r.open_from_minute, toMinute: r.open_until_minute } }
      : {}),
    ...(r.capacity != null ? { capacity: r.capacity } : {}),
    active: r.active,
    source: r.source,
  }),
);

// Ranges are read as their bounds (both drivers give timestamptz as Date), never parsed from text.
const ASSIGNMENT_COLUMNS = `booking_uid, room, lower(during) as from_at, upper(during) as to_at, pinned, reasons,
  location_text, location_written, assigned_at, updated_at`;

const assignmentFromRow = rowMapper(
  'room_assignments',
  z.object({
    booking_uid: col.text,
    room: col.nullableText,
    from_at: col.time,
    to_at: col.time,
    pinned: col.bool,
    reasons: col.object.nullable(),
    location_text: col.nullableText,
    location_written: col.nullableText,
    assigned_at: col.time,
    updated_at: col.time,
  }),
  (r): Assignment => ({
    bookingUid: r.booking_uid,
    room: r.room,
    from: r.from_at,
    to: r.to_at,
    pinned: r.pinned,
    reasons: r.reasons ?? {},
    locationText: r.location_text,
    locationWritten: r.location_written,
    assignedAt: r.assigned_at,
    updatedAt: r.updated_at,
  }),
);

export async function listRooms(db: Queryable, options: { includeInactive?: boolean } = {}): Promise<RoomRecord[]> {
  const result = await db.query(`select * from rooms where $1 or active order by building, floor, name`, [
    options.includeInactive ?? false,
  ]);
  return result.rows.map(roomFromRow);
}

export async function getRoom(db: Queryable, name: string): Promise<RoomRecord | undefined> {
  const result = await db.query('select * from rooms where name = $1', [name]);
  return result.rows[0] ? roomFromRow(result.rows[0]) : undefined;
}

export async function upsertRoom(trx: Queryable, room: Room, source: 'config' | 'api', now: Date): Promise<{ created: boolean }> {
  const result = await trx.query<{ created: boolean }>(
    `insert into rooms (name, floor, building, equipment, cleaning_minutes, open_from_minute, open_until_minute, active, source,
        capacity, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10, $10)
     on conflict (name) do update set floor = excluded.floor, building = excluded.building, equipment = excluded.equipment,
       cleaning_minutes = excluded.cleaning_minutes, open_from_minute = excluded.open_from_minute, capacity = excluded.capacity,
       open_until_minute = excluded.open_until_minute, active = excluded.active, source = excluded.source, updated_at = excluded.updated_at
     returning (xmax = 0) as created`,
    [
      room.name,
      room.floor,
      room.building,
      [...room.equipment],
      room.cleaningMinutes,
      room.open?.fromMinute ?? null,
      room.open?.toMinute ?? null,
      room.active,
      source,
      now,
      room.capacity ?? null,
    ],
  );
  return { created: Boolean(result.rows[0]?.created) };
}

/** Config rooms no longer in the config stop being used (their bookings are re-planned). */
export async function deactivateConfigRoomsExcept(trx: Queryable, names: readonly string[], now: Date): Promise<string[]> {
  const result = await trx.query<{ name: string }>(
    `update rooms set active = false, updated_at = $2 where source = 'config' and active and not (name = any($1::text[])) returning name`,
    [names, now],
  );
  return result.rows.map((r) => r.name);
}

export async function setRoomActive(trx: Queryable, name: string, active: boolean, now: Date): Promise<boolean> {
  const result = await trx.query('update rooms set active = $2, updated_at = $3 where name = $1', [name, active, now]);
  return result.rowCount > 0;
}

export async function listBlocks(db: Queryable, window: { from: Date; to: Date }): Promise<RoomBlock[]> {
  const result = await db.query(
    `select id, room, lower(during) as from_at, upper(during) as to_at, reason from room_blocks
      where lifted_at is null and during && tstzrange($1, $2) order by id`,
    [window.from, window.to],
  );
  return result.rows.map((r) => ({
    id: Number(r.id),
    room: r.room as string,
    from: new Date(r.from_at as Date).getTime(),
    to: new Date(r.to_at as Date).getTime(),
    reason: r.reason as string,
  }));
}

export async function insertBlock(
  trx: Queryable,
  b: { room: string; from: Date; to: Date; reason: string; by: string },
  now: Date,
): Promise<number> {
  const result = await trx.query<{ id: string }>(
    `insert into room_blocks (room, during, reason, created_by, created_at) values ($1, tstzrange($2, $3), $4, $5, $6) returning id`,
    [b.room, b.from, b.to, b.reason, b.by, now],
  );
  return Number(result.rows[0]!.id);
}

export async function liftBlock(trx: Queryable, id: number, now: Date): Promise<{ room: string; from: Date; to: Date } | undefined> {
  const result = await trx.query(
    `update room_blocks set lifted_at = $2 where id = $1 and lifted_at is null returning room, lower(during) as from_at, upper(during) as to_at`,
    [id, now],
  );
  const r = result.rows[0];
  return r ? { room: r.room as string, from: new Date(r.from_at as Date), to: new Date(r.to_at as Date) } : undefined;
}

/** Does the business have any room at all? (One with only the gate has nothing to assign.) */
export async function hasActiveRooms(db: Queryable): Promise<boolean> {
  // A parameter makes it a prepared statement (db.ts): a worker asks once per batch, and planning
  // it afresh cost more than running it (37–59 µs against 4, pg_stat_statements).
  return (await db.query('select 1 from rooms where active = $1 limit 1', [true])).rows.length > 0;
}

const DAY = 86_400_000;

/** The UTC day (migration 0015) holding a moment: days since the epoch. */
export function planDayOf(at: Date): number {
  return Math.floor(at.getTime() / DAY);
}

/** The UTC days (migration 0015) a span touches, ascending: from its start's to its last millisecond's. */
export function planDays(span: { from: Date; to: Date }): number[] {
  const first = Math.floor(span.from.getTime() / DAY);
  const last = Math.floor((span.to.getTime() - 1) / DAY);
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}

/** The planning locks one transaction holds (advisory locks last until it ends). */
interface HeldPlanning {
  everything: boolean;
  days: Set<number>;
}

const held = new WeakMap<Queryable, HeldPlanning>();

/**
 * Serialises room decisions across workers and processes (migration 0015); the exclusion
 * constraint backs it up. Without spans: the whole plan, exclusively (an operator's block, a room
 * changed, a re-plan of everything upcoming). With spans: the whole plan shared and the UTC days
 * the spans touch exclusively, ascending — so choices on different days go on at once, in any
 * process. A transaction takes what it does not hold yet in one statement, and nothing when it
 * holds it all (a worker's batch takes its events' days first, in one order: roomBatchHooks, with
 * `around`). A
 * transaction's own triggers take the days it writes too; the same transaction re-enters them.
 */
export async function lockRoomPlanning(
  trx: Queryable,
  spans?: readonly { from: Date; to: Date }[],
  around?: { uids: readonly string[]; padDays: number },
): Promise<void> {
  const mine = held.get(trx) ?? { everything: false, days: new Set<number>() };
  held.set(trx, mine);
  if (mine.everything) return;
  if (!spans) {
    await trx.query(`select pg_advisory_xact_lock(hashtext('usher.rooms'), 0)`);
    mine.everything = true;
    return;
  }
  const wanted = [...new Set(spans.flatMap(planDays))].filter((d) => !mine.days.has(d));
  if (wanted.length === 0 && !around?.uids.length) return;
  // `around` (a worker's batch): also `padDays` either side of every stay these bookings hold now
  // (a release's re-plan reads them), worked out by the server in the same statement.
  const result = await trx.query<{ days: number[] | null }>(
    `select pg_advisory_xact_lock_shared(hashtext('usher.rooms'), 0),
            (select array_agg(d) from (select d, pg_advisory_xact_lock(hashtext('usher.rooms.day'), d)
               from (select distinct d from (
                       select unnest($1::integer[]) as d
                       union select room_plan_days_of(tstzrange(lower(during) - make_interval(days => $3), upper(during) + make_interval(days => $3)))
                         from room_assignments where booking_uid = any($2::text[])) as wanted
                      where not d = any($4::integer[]) order by d offset 0) as ordered) as taken) as days`,
    [wanted, around?.uids ?? [], around?.padDays ?? 0, [...mine.days]],
  );
  for (const d of result.rows[0]?.days ?? []) mine.days.add(Number(d));
}

/** Generations as the store holds them now: the epoch (undefined when unknown) and some days' (a day never changed: '0'). */
export interface PlanGenerations {
  epoch: string | undefined;
  days: Map<number, string>;
  /** The reading transaction's id (what a kept day read now is only as good as). */
  xact: string;
}

/**
 * Read right after lockRoomPlanning, in one round trip: the generations of the plan and of the
 * days a choice reads (migration 0015), the booking's assignment, and whether any room is in service.
 */
export async function readRoomPlan(
  trx: Queryable,
  uid: string,
  days: readonly number[],
  options: { soon?: boolean } = {},
): Promise<RoomPlan> {
  // `soon`: sent at once where the transaction can (db.ts), answered when awaited — a check of what
  // a choice assumed, read at its place among the transaction's statements (RoomDayCache.check).
  const ask = options.soon && trx.soon ? trx.soon.bind(trx) : trx.query.bind(trx);
  const result = await ask(
    `select (select generation::text from room_plan_epoch) as epoch, exists (select 1 from rooms where active) as any_active,
            (select json_object_agg(day, generation::text) from room_plan_days where day = any($2::integer[])) as days,
            pg_current_xact_id()::text as xact,
            ${ASSIGNMENT_COLUMNS}
       from (select 1) as one left join room_assignments on booking_uid = $1`,
    [uid, days],
  );
  const row = result.rows[0]!;
  return {
    generations: generationsOf(row, days),
    assignment: row.booking_uid ? assignmentFromRow(row) : undefined,
    anyActive: Boolean(row.any_active),
  };
}

/** The generations a plan read gave (its `epoch`, `days` and `xact` columns), a day never changed as '0'. */
function generationsOf(row: Row, days: readonly number[]): PlanGenerations {
  const known = (row.days ?? {}) as Record<string, string>;
  return {
    epoch: (row.epoch as string | null) ?? undefined,
    days: new Map(days.map((d) => [d, known[d] ?? '0'])),
    xact: row.xact as string,
  };
}

/** What a room choice reads first of the plan (readRoomPlan). */
export interface RoomPlan {
  generations: PlanGenerations;
  assignment: Assignment | undefined;
  anyActive: boolean;
}

/**
 * A worker's batch reads the plan once for all its room choices, sent right behind its planning
 * locks (same round trip): the generations of the days its choices read, and which of its
 * bookings hold an assignment now (room-day-cache.ts, RoomDayCache.beginBatch).
 */
export async function readBatchPlan(
  trx: Queryable,
  days: readonly number[],
  uids: readonly string[],
): Promise<{ generations: PlanGenerations; anyActive: boolean; assigned: Set<string> }> {
  const sql = `select (select generation::text from room_plan_epoch) as epoch, exists (select 1 from rooms where active) as any_active,
            (select json_object_agg(day, generation::text) from room_plan_days where day = any($1::integer[])) as days,
            (select coalesce(json_agg(booking_uid), '[]') from room_assignments where booking_uid = any($2::text[])) as assigned,
            pg_current_xact_id()::text as xact`;
  const result = await (trx.soon ? trx.soon(sql, [days, uids]) : trx.query(sql, [days, uids]));
  const row = result.rows[0]!;
  return { generations: generationsOf(row, days), anyActive: Boolean(row.any_active), assigned: new Set(row.assigned as string[]) };
}

/** A day's generation now and the one its last change replaced (migration 0015). */
export interface DayChange {
  day: number;
  generation: string;
  previous: string | undefined;
}

/**
 * Some days' generations now and the ones their last changes replaced. Right after this
 * transaction's own write, that write's: the rows stay locked to others until commit.
 */
export async function dayChanges(trx: Queryable, days: readonly number[]): Promise<DayChange[]> {
  type ChangeRow = { day: number; generation: string; previous: string | null };
  if (days.length === 0) return [];
  // The bounds beside the list let PostgreSQL keep one generic plan for the prepared statement: with
  // the list alone it planned it afresh on every call (pg_stat_statements: 3,001 plans for 3,000
  // decisions, planning three times its execution), the list's length being known only per call.
  const sql = `select day, generation::text as generation, previous::text as previous from room_plan_days
    where day between $2 and $3 and day = any($1::integer[])`;
  const params = [days, Math.min(...days), Math.max(...days)];
  // Sent at once where the transaction can (db.ts soon()): the caller may await the answer later.
  const result = await (trx.soon ? trx.soon<ChangeRow>(sql, params) : trx.query<ChangeRow>(sql, params));
  return result.rows.map((r) => ({ day: Number(r.day), generation: r.generation, previous: r.previous ?? undefined }));
}

export async function getAssignment(db: Queryable, uid: string): Promise<Assignment | undefined> {
  const result = await db.query(`select ${ASSIGNMENT_COLUMNS} from room_assignments where booking_uid = $1`, [uid]);
  return result.rows[0] ? assignmentFromRow(result.rows[0]) : undefined;
}

/** Assignments (and waiting bookings) whose time overlaps the window. */
export async function listAssignments(db: Queryable, window: { from: Date; to: Date }): Promise<Assignment[]> {
  const result = await db.query(
    // Byte order for uids whatever the server's collation: the planner breaks ties in this order, and
    // what-if (insights/what-if.ts) replays it with the same order on any server.
    `select ${ASSIGNMENT_COLUMNS} from room_assignments where during && tstzrange($1, $2) order by lower(during), booking_uid collate "C"`,
    [window.from, window.to],
  );
  return result.rows.map(assignmentFromRow);
}

/**
 * The bookings holding a room during a window, each with what planning reads of its booking, in
 * one query (room_assignments_during finds them). Waiting bookings occupy nothing and are left out;
 * an assignment whose booking row is gone comes without one. One room choice reads one day this way
 * instead of three days of assignments and then their bookings (docs/benchmarks.md, worker).
 */
export async function listPlacedStays(
  db: Queryable,
  window: { from: Date; to: Date },
): Promise<{ stay: PlacedStay; booking: Booking | undefined }[]> {
  // Only the columns planning reads: parsing rows in Node is most of this query's cost.
  const result = await db.query(
    `select ${PLACED_STAY_COLUMNS}
       from room_assignments a left join bookings b on b.uid = a.booking_uid
      where a.room is not null and a.during && tstzrange($1, $2)`,
    [window.from, window.to],
  );
  return result.rows.map((r) => ({ stay: placedStayFromRow(r)!, booking: r.uid ? bookingFromRow(r) : undefined }));
}

/** What planning reads of an assignment (a) and its booking (b): parsing rows in Node is most of such a query's cost. */
const PLACED_STAY_COLUMNS = `a.booking_uid, a.room, lower(a.during) as from_at, upper(a.during) as to_at, a.pinned,
            b.uid, b.status, b.start_at, b.end_at, b.metadata, b.event_type_id, b.organizer_id, b.organizer_email, b.seats, b.co_hosts`;

/** The stay of a row of PLACED_STAY_COLUMNS, or undefined when it holds no room (waiting). */
function placedStayFromRow(r: Row): PlacedStay | undefined {
  if (!r.room) return undefined;
  return {
    bookingUid: r.booking_uid as string,
    room: r.room as string,
    from: new Date(r.from_at as Date),
    to: new Date(r.to_at as Date),
    pinned: Boolean(r.pinned),
  };
}

/** What changed in a window after a generation (migration 0016), as one room choice reads it. */
export interface PlanChanges {
  /**
   * False when the changes cannot be trusted to be all: the log of removed stays no longer reaches
   * back that far, or the transaction that read up to it did not commit. Read the window whole.
   */
  complete: boolean;
  blocksChanged: boolean;
  /** Bookings whose stay left (or may have left) the window. */
  removed: string[];
  /** Stays that changed since, as they are now: in a room (placed) or not (waiting, no longer here). */
  changed: { stay: PlacedStay | undefined; uid: string; booking: Booking | undefined }[];
}

/**
 * In one round trip, what changed in a window after generation `since`, which transaction `xact`
 * read, and the current stays of `followed` bookings: call it under the window's planning locks
 * (every change on a day is made under that day's lock, so none is missed).
 */
export async function listPlanChanges(
  db: Queryable,
  window: { from: Date; to: Date },
  read: { since: string; xact: string; followed: readonly string[] },
): Promise<PlanChanges> {
  const result = await db.query(
    `select info.*, ${PLACED_STAY_COLUMNS}
       from (select (select removed_from from room_plan_epoch) <= $3::bigint
                      and ($4::xid8 = pg_current_xact_id() or pg_xact_status($4::xid8) = 'committed') as complete,
                    exists (select 1 from room_blocks where during && tstzrange($1, $2) and plan_generation > $3::bigint) as blocks_changed,
                    (select coalesce(json_agg(booking_uid), '[]') from room_plan_removed
                      where during && tstzrange($1, $2) and generation > $3::bigint) as removed) as info
       left join room_assignments a on a.during && tstzrange($1, $2) and (a.plan_generation > $3::bigint or a.booking_uid = any($5::text[]))
       left join bookings b on b.uid = a.booking_uid`,
    [window.from, window.to, read.since, read.xact, read.followed],
  );
  const first = result.rows[0]!;
  return {
    complete: Boolean(first.complete),
    blocksChanged: Boolean(first.blocks_changed),
    removed: first.removed as string[],
    changed: result.rows
      .filter((r) => r.booking_uid)
      .map((r) => ({ uid: r.booking_uid as string, stay: placedStayFromRow(r), booking: r.uid ? bookingFromRow(r) : undefined })),
  };
}

/**
 * Forgets removed stays older than the newest `keep` (migration 0016), and says from where the log
 * is whole, in one commit: a kept day older than that is read again whole.
 */
export async function pruneRemovedStays(db: Db, keep: number): Promise<number> {
  return db.transaction(async (trx) => {
    const horizon = await trx.query<{ generation: string }>(
      'select generation::text as generation from room_plan_removed order by generation desc offset $1 limit 1',
      [keep],
    );
    const from = horizon.rows[0]?.generation;
    if (!from) return 0;
    await trx.query('update room_plan_epoch set removed_from = greatest(removed_from, $1::bigint + 1)', [from]);
    return (await trx.query('delete from room_plan_removed where generation <= $1::bigint', [from])).rowCount;
  });
}

/** What the planner needs of an assignment. */
export type PlacedStay = Pick<Assignment, 'bookingUid' | 'room' | 'from' | 'to' | 'pinned'>;

export async function listWaiting(db: Queryable, after: Date, limit: number): Promise<Assignment[]> {
  const result = await db.query(
    `select ${ASSIGNMENT_COLUMNS} from room_assignments where room is null and upper(during) > $1 order by lower(during) limit $2`,
    [after, limit],
  );
  return result.rows.map(assignmentFromRow);
}

export async function saveAssignment(
  trx: Queryable,
  a: Omit<Assignment, 'locationWritten' | 'assignedAt' | 'updatedAt'>,
  now: Date,
): Promise<void> {
  // Sent without waiting inside a transaction (db.ts write): what reads it next runs behind it.
  await write(
    trx,
    `insert into room_assignments (booking_uid, room, during, pinned, reasons, location_text, assigned_at, updated_at)
     values ($1, $2, tstzrange($3, $4), $5, $6, $7, $8, $8)
     on conflict (booking_uid) do update set room = excluded.room, during = excluded.during, pinned = excluded.pinned,
       reasons = excluded.reasons, location_text = excluded.location_text, updated_at = excluded.updated_at,
       assigned_at = case when room_assignments.room is distinct from excluded.room then excluded.assigned_at else room_assignments.assigned_at end`,
    [a.bookingUid, a.room, a.from, a.to, a.pinned, JSON.stringify(a.reasons), a.locationText, now],
  );
}

/** Frees rooms first within a re-plan, so that swaps never meet the exclusion constraint half-done. */
export async function clearRooms(trx: Queryable, uids: readonly string[], now: Date): Promise<void> {
  if (uids.length === 0) return;
  await trx.query(`update room_assignments set room = null, updated_at = $2 where booking_uid = any($1::text[])`, [uids, now]);
}

export async function deleteAssignment(trx: Queryable, uid: string): Promise<Assignment | undefined> {
  const result = await trx.query(`delete from room_assignments where booking_uid = $1 returning ${ASSIGNMENT_COLUMNS}`, [uid]);
  return result.rows[0] ? assignmentFromRow(result.rows[0]) : undefined;
}

export async function setAssignmentSpan(trx: Queryable, uid: string, from: Date, to: Date, now: Date): Promise<void> {
  await trx.query(`update room_assignments set during = tstzrange($2, $3), updated_at = $4 where booking_uid = $1`, [uid, from, to, now]);
}

/** Cal.com confirmed a location: mark it written if it is still the one the booking should have. */
export async function markLocationWritten(db: Queryable, uid: string, address: string): Promise<void> {
  await db.query(`update room_assignments set location_written = $2 where booking_uid = $1 and location_text = $2`, [uid, address]);
}

/**
 * The span of upcoming bookings a re-plan must look at: those waiting for a room, and those sitting
 * in a room that is retired or blocked over them. Undefined when there are none.
 */
export async function unsettledSpan(db: Queryable, now: Date): Promise<{ from: Date; to: Date } | undefined> {
  const span = await db.query<{ from_at: Date | null; to_at: Date | null }>(
    `select min(lower(a.during)) as from_at, max(upper(a.during)) as to_at from room_assignments a
       left join rooms r on r.name = a.room
      where upper(a.during) > $1 and (a.room is null or not r.active
        or exists (select 1 from room_blocks b where b.room = a.room and b.lifted_at is null and b.during && a.during))`,
    [now],
  );
  const row = span.rows[0];
  return row?.from_at && row.to_at ? { from: new Date(row.from_at), to: new Date(row.to_at) } : undefined;
}

/** Whether any booking overlapping [from, to) is waiting for a room. */
export async function hasWaitingBetween(db: Queryable, from: Date, to: Date): Promise<boolean> {
  const waiting = await db.query(`select 1 from room_assignments where room is null and during && tstzrange($1, $2) limit 1`, [from, to]);
  return waiting.rows.length > 0;
}
