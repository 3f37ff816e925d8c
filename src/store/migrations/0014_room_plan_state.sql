-- What a room choice reads, kept in memory between decisions (rooms/room-day-cache.ts), is only
-- used while this row still names the state it was read at. Every change to what a choice reads
-- (an assignment's room, time or pin; a block; a room; a placed booking's status, times, doctor,
-- type, metadata, seats or hosts) — from any process, path or tool — takes a new generation from a
-- sequence. Sequence values are never handed out twice, even by a transaction that rolls back or a
-- savepoint rolled back to, so a generation seen once always means the same rows. `previous` is the
-- generation a change replaced: a process that wrote one change can tell that nothing else came
-- between what it held and its own write.
-- The row is derived: backups leave it out, and a missing row (a truncated table) means "unknown".
create sequence room_plan_generation;
create table room_plan_state (
  id boolean primary key check (id),
  generation bigint not null,
  previous bigint
);

create function room_plan_changed() returns trigger language plpgsql as $$
begin
  insert into room_plan_state (id, generation) values (true, nextval('room_plan_generation'))
    on conflict (id) do update set previous = room_plan_state.generation, generation = excluded.generation;
  return null;
end $$;

-- A booking's own row changes the plan only when it sits in a room: a gate-only business, and
-- bookings without a room, never touch (or wait on) the state row.
create function room_plan_booking_changed() returns trigger language plpgsql as $$
begin
  if exists (select 1 from room_assignments where booking_uid = new.uid and room is not null) then
    insert into room_plan_state (id, generation) values (true, nextval('room_plan_generation'))
      on conflict (id) do update set previous = room_plan_state.generation, generation = excluded.generation;
  end if;
  return null;
end $$;

create trigger plan_room_assignments after insert or delete or update of room, during, pinned on room_assignments
  for each row execute function room_plan_changed();
create trigger plan_room_blocks after insert or delete or update on room_blocks
  for each row execute function room_plan_changed();
create trigger plan_rooms after insert or delete or update on rooms
  for each row execute function room_plan_changed();
create trigger plan_bookings after update of status, start_at, end_at, organizer_id, organizer_email, event_type_id, metadata, seats, co_hosts
  on bookings for each row
  when (old.status is distinct from new.status or old.start_at is distinct from new.start_at or old.end_at is distinct from new.end_at
    or old.organizer_id is distinct from new.organizer_id or old.organizer_email is distinct from new.organizer_email
    or old.event_type_id is distinct from new.event_type_id or old.metadata is distinct from new.metadata
    or old.seats is distinct from new.seats or old.co_hosts is distinct from new.co_hosts)
  execute function room_plan_booking_changed();
create trigger plan_truncate_room_assignments after truncate on room_assignments
  for each statement execute function room_plan_changed();
create trigger plan_truncate_room_blocks after truncate on room_blocks
  for each statement execute function room_plan_changed();
create trigger plan_truncate_rooms after truncate on rooms
  for each statement execute function room_plan_changed();
