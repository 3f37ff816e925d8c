-- One trigger per assignment written instead of two (issues 13 and 19). Writing a room_assignments
-- row ran 0016's before trigger (room_plan_lock for the row's generation) and then 0015's after
-- trigger (room_plan_lock again, inside room_plan_touch, to move its days' generations): two PL/pgSQL
-- calls and two rounds of lock statements for the same days. In the worker's profile
-- (pg_stat_statements, track_functions; docs/benchmarks.md) the assignment's insert was the largest
-- statement of a room decision, ~0.19 ms, about half of it these triggers.
--
-- Now one before trigger does both, in the order the two did: the days locked, the row's generation
-- taken, the days' generations moved after it, and for an update the stay that left logged after
-- those (0016). A write that fails after it rolls all of it back with the row. An insert that meets
-- its conflict (`on conflict (booking_uid) do update`) runs the insert's before trigger for the row
-- it proposed and then the update's: the new stay's days move twice, which only tells a kept day to
-- read once more. A delete keeps its after trigger (0016's room_plan_assignment_changed).
create function room_plan_assignment_written() returns trigger language plpgsql as $$
declare
  touched integer[] := room_plan_lock(case when tg_op = 'UPDATE' then old.during end, new.during);
begin
  new.plan_generation := nextval('room_plan_generation');
  if touched is null then
    perform room_plan_everything();
  else
    insert into room_plan_days (day, generation)
      select d, nextval('room_plan_generation') from unnest(touched) as d
      on conflict (day) do update set previous = room_plan_days.generation, generation = excluded.generation;
  end if;
  if tg_op = 'UPDATE' then
    insert into room_plan_removed (generation, booking_uid, during) values (nextval('room_plan_generation'), old.booking_uid, old.during);
  end if;
  return new;
end $$;

drop trigger plan_generation_room_assignments on room_assignments;
drop trigger plan_room_assignments on room_assignments;
create trigger plan_room_assignments before insert or update of room, during, pinned on room_assignments
  for each row execute function room_plan_assignment_written();
create trigger plan_room_assignments_deleted after delete on room_assignments
  for each row execute function room_plan_assignment_changed();
