-- The days a room change touches, worked out by arithmetic instead of a query (issues 13 and 19).
-- Every write to room_assignments runs room_plan_lock twice (0016's before trigger for the row's
-- generation, 0015's after trigger for the days' generations), and each call ran a query: the
-- union of two set-returning room_plan_days_of calls, sorted and aggregated. In the worker's
-- profile (pg_stat_statements with track = all, docs/benchmarks.md) that query and its function
-- calls were ~0.15 ms of PostgreSQL's ~1.3 ms of CPU per room decision. The same days, ascending,
-- each once, are now counted out in PL/pgSQL from the spans' first and last days; the locks taken
-- and the answer are those of 0015 (a test compares both on random and edge spans).
create or replace function room_plan_lock(a tstzrange, b tstzrange) returns integer[] language plpgsql as $$
declare
  touched integer[] := '{}';
  a_first integer;
  a_last integer;
  b_first integer;
  b_last integer;
begin
  if (a is not null and (lower_inf(a) or upper_inf(a) or upper(a) - lower(a) > interval '400 days'))
    or (b is not null and (lower_inf(b) or upper_inf(b) or upper(b) - lower(b) > interval '400 days')) then
    perform pg_advisory_xact_lock(hashtext('usher.rooms'), 0);
    return null;
  end if;
  -- As room_plan_days_of: from the day of the start to the day holding the end's last microsecond.
  if a is not null and not isempty(a) then
    a_first := floor(extract(epoch from lower(a)) / 86400)::integer;
    a_last := floor(extract(epoch from upper(a) - interval '1 microsecond') / 86400)::integer;
  end if;
  if b is not null and not isempty(b) then
    b_first := floor(extract(epoch from lower(b)) / 86400)::integer;
    b_last := floor(extract(epoch from upper(b) - interval '1 microsecond') / 86400)::integer;
  end if;
  if a_first is not null or b_first is not null then
    -- least/greatest skip nulls; a day between the two spans (they are each under 400 days, but may
    -- lie years apart) is skipped.
    for n in least(a_first, b_first) .. greatest(a_last, b_last) loop
      if n between a_first and a_last or n between b_first and b_last then
        touched := touched || n;
      end if;
    end loop;
  end if;
  perform pg_advisory_xact_lock_shared(hashtext('usher.rooms'), 0);
  perform pg_advisory_xact_lock(hashtext('usher.rooms.day'), d) from unnest(touched) as d;
  return touched;
end $$;
