-- Room planning by day (issue 19, scale-out). Migration 0014 kept one generation for the whole
-- plan, and one advisory lock serialised every room decision: a second process's choice waited for
-- the first and then found its kept days outdated (throughput fell with processes). Now:
--
-- * Each UTC day has its own generation (room_plan_days), taken from the same never-repeating
--   sequence whenever what a room choice reads on that day changes: an assignment's room, time or
--   pin, a block, a placed booking's planning columns. `previous` is the generation the change
--   replaced. A change to the rooms themselves, or a truncate, moves the epoch (room_plan_epoch),
--   which outdates every day at once.
-- * Each UTC day has its own advisory lock (classid hashtext('usher.rooms.day'), objid = day), and
--   the whole plan one (hashtext('usher.rooms'), 0): a room choice holds the whole-plan lock shared
--   and its days exclusively; an operator's change (a block, a room, a re-plan of all that is
--   upcoming) holds the whole-plan lock exclusively. The triggers below take the same locks for the
--   days they touch, so no writer — any process, path or tool — changes a day's plan without
--   holding that day. The planner takes its days first, in ascending order, so the triggers only
--   re-enter locks it holds.
--
-- A day is the UTC day of the epoch (floor(seconds / 86400)); a stay from..to touches every day from
-- from's to the one holding to's last microsecond. The tables are derived: backups leave them out.
-- The 0014 row is dropped, not kept: a process still running the previous release then fails its room
-- choices loudly (and retries them) instead of trusting a generation that no longer moves.
drop trigger plan_room_assignments on room_assignments;
drop trigger plan_room_blocks on room_blocks;
drop trigger plan_rooms on rooms;
drop trigger plan_bookings on bookings;
drop trigger plan_truncate_room_assignments on room_assignments;
drop trigger plan_truncate_room_blocks on room_blocks;
drop trigger plan_truncate_rooms on rooms;
drop function room_plan_changed();
drop function room_plan_booking_changed();
drop table room_plan_state;

create table room_plan_epoch (
  id boolean primary key check (id),
  generation bigint not null
);
insert into room_plan_epoch (id, generation) values (true, nextval('room_plan_generation'));

create table room_plan_days (
  day integer primary key,
  generation bigint not null,
  previous bigint
);

-- Everything changed (rooms, a truncate, a lost day row): every kept day is outdated.
create function room_plan_everything() returns void language plpgsql as $$
begin
  perform pg_advisory_xact_lock(hashtext('usher.rooms'), 0);
  insert into room_plan_epoch (id, generation) values (true, nextval('room_plan_generation'))
    on conflict (id) do update set generation = excluded.generation;
end $$;

-- The days a span touches, ascending (none for an empty span).
create function room_plan_days_of(span tstzrange) returns setof integer language sql immutable as $$
  select generate_series(
    floor(extract(epoch from lower(span)) / 86400)::integer,
    floor(extract(epoch from upper(span) - interval '1 microsecond') / 86400)::integer)
  where not isempty(span) and not lower_inf(span) and not upper_inf(span)
$$;

-- The days one or two spans touch, ascending, under their locks (the whole plan shared first); null
-- when the spans are open or longer than a year (the epoch moves instead, under the whole plan's lock).
create function room_plan_lock(a tstzrange, b tstzrange) returns integer[] language plpgsql as $$
declare
  touched integer[];
begin
  if (a is not null and (lower_inf(a) or upper_inf(a) or upper(a) - lower(a) > interval '400 days'))
    or (b is not null and (lower_inf(b) or upper_inf(b) or upper(b) - lower(b) > interval '400 days')) then
    perform pg_advisory_xact_lock(hashtext('usher.rooms'), 0);
    return null;
  end if;
  select coalesce(array_agg(d order by d), '{}') into touched
    from (select room_plan_days_of(a) as d where a is not null union select room_plan_days_of(b) where b is not null) days;
  perform pg_advisory_xact_lock_shared(hashtext('usher.rooms'), 0);
  perform pg_advisory_xact_lock(hashtext('usher.rooms.day'), d) from unnest(touched) as d;
  return touched;
end $$;

-- New generations for the days of one or two spans (each day once), under their locks.
create function room_plan_touch(a tstzrange, b tstzrange) returns void language plpgsql as $$
declare
  touched integer[] := room_plan_lock(a, b);
begin
  if touched is null then
    perform room_plan_everything();
    return;
  end if;
  insert into room_plan_days (day, generation)
    select d, nextval('room_plan_generation') from unnest(touched) as d
    on conflict (day) do update set previous = room_plan_days.generation, generation = excluded.generation;
end $$;

create function room_plan_assignment_changed() returns trigger language plpgsql as $$
begin
  perform room_plan_touch(case when tg_op <> 'INSERT' then old.during end, case when tg_op <> 'DELETE' then new.during end);
  return null;
end $$;

create function room_plan_block_changed() returns trigger language plpgsql as $$
begin
  perform room_plan_touch(case when tg_op <> 'INSERT' then old.during end, case when tg_op <> 'DELETE' then new.during end);
  return null;
end $$;

-- A booking's own row changes the plan only when it sits in a room: a gate-only business, and
-- bookings without a room, never touch (or wait on) a day.
create function room_plan_booking_changed() returns trigger language plpgsql as $$
declare
  span tstzrange;
begin
  select during into span from room_assignments where booking_uid = new.uid and room is not null;
  if found then
    perform room_plan_touch(span, null);
  end if;
  return null;
end $$;

create function room_plan_everything_changed() returns trigger language plpgsql as $$
begin
  perform room_plan_everything();
  return null;
end $$;

create trigger plan_room_assignments after insert or delete or update of room, during, pinned on room_assignments
  for each row execute function room_plan_assignment_changed();
create trigger plan_room_blocks after insert or delete or update on room_blocks
  for each row execute function room_plan_block_changed();
create trigger plan_rooms after insert or delete or update on rooms
  for each row execute function room_plan_everything_changed();
create trigger plan_bookings after update of status, start_at, end_at, organizer_id, organizer_email, event_type_id, metadata, seats, co_hosts
  on bookings for each row
  when (old.status is distinct from new.status or old.start_at is distinct from new.start_at or old.end_at is distinct from new.end_at
    or old.organizer_id is distinct from new.organizer_id or old.organizer_email is distinct from new.organizer_email
    or old.event_type_id is distinct from new.event_type_id or old.metadata is distinct from new.metadata
    or old.seats is distinct from new.seats or old.co_hosts is distinct from new.co_hosts)
  execute function room_plan_booking_changed();
create trigger plan_truncate_room_assignments after truncate on room_assignments
  for each statement execute function room_plan_everything_changed();
create trigger plan_truncate_room_blocks after truncate on room_blocks
  for each statement execute function room_plan_everything_changed();
create trigger plan_truncate_rooms after truncate on rooms
  for each statement execute function room_plan_everything_changed();
-- A day row that disappears would let its day look unchanged since before: the epoch moves.
create trigger plan_days_lost after delete on room_plan_days
  for each statement execute function room_plan_everything_changed();
create trigger plan_days_truncated after truncate on room_plan_days
  for each statement execute function room_plan_everything_changed();
