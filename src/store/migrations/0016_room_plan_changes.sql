-- Kept days read only what changed (issue 19, scale-out). With migration 0015 a kept day whose UTC
-- days changed was read again whole; with two processes deciding the same days, half of all room
-- choices did (bench:scale-out). Now each change says which rows it was:
--
-- * room_assignments.plan_generation and room_blocks.plan_generation: the generation of the row's
--   last change to what a choice reads (its room, time or pin; a block's anything; a placed
--   booking's planning columns), taken once the row's days are locked;
-- * room_plan_removed: a stay that left where it was (deleted, moved, changed room) — the row as it
--   was, with a generation taken once its days are locked.
--
-- Every change on a day is made under that day's lock (0015), so a kept day can ask, under its
-- locks, for the rows changed after the newest generation it saw and miss none. The log of removed
-- stays is pruned (store/rooms.ts pruneRemovedStays): `room_plan_epoch.removed_from` says from which
-- generation on it is whole, and a kept day older than that is read again whole. Pruning and its
-- horizon commit together, so a statement sees both or neither.
alter table room_assignments add column plan_generation bigint not null default 0;
alter table room_blocks add column plan_generation bigint not null default 0;
alter table room_plan_epoch add column removed_from bigint not null default 0;

create table room_plan_removed (
  generation bigint primary key,
  booking_uid text not null,
  during tstzrange not null
);
create index room_plan_removed_during on room_plan_removed using gist (during);

-- A row's generation is taken only once its days are held: a kept day read under them before has
-- a smaller newest generation, one read after sees the row.
create function room_plan_row_generation() returns trigger language plpgsql as $$
begin
  perform room_plan_lock(case when tg_op = 'UPDATE' then old.during end, new.during);
  new.plan_generation := nextval('room_plan_generation');
  return new;
end $$;

create trigger plan_generation_room_assignments before insert or update of room, during, pinned on room_assignments
  for each row execute function room_plan_row_generation();
create trigger plan_generation_room_blocks before insert or update on room_blocks
  for each row execute function room_plan_row_generation();

create or replace function room_plan_assignment_changed() returns trigger language plpgsql as $$
begin
  perform room_plan_touch(case when tg_op <> 'INSERT' then old.during end, case when tg_op <> 'DELETE' then new.during end);
  -- After the days are held (and moved): a kept day that saw the change has seen this too, at worst
  -- it removes once more a stay it read again since.
  if tg_op <> 'INSERT' then
    insert into room_plan_removed (generation, booking_uid, during) values (nextval('room_plan_generation'), old.booking_uid, old.during);
  end if;
  return null;
end $$;

create or replace function room_plan_booking_changed() returns trigger language plpgsql as $$
declare
  span tstzrange;
begin
  select during into span from room_assignments where booking_uid = new.uid and room is not null;
  if found then
    perform room_plan_touch(span, null);
    -- Not one of the columns that fire the assignment's own triggers: the row is marked, the day already moved.
    update room_assignments set plan_generation = nextval('room_plan_generation') where booking_uid = new.uid;
  end if;
  return null;
end $$;

-- A block is lifted, not deleted; a deleted one (a restore, a test) outdates every kept day.
create trigger plan_blocks_deleted after delete on room_blocks
  for each statement execute function room_plan_everything_changed();
