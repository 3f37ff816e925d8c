-- A worker keeps to the days it has been deciding (issue 19, scale-out). 0021 steers two batches off
-- each other's days, but each batch still began with the days of the oldest events: with bookings
-- spread over 60 days, every batch of every process touched some 30 of them, so each process found
-- nearly every day it kept in memory changed by another (rooms/room-day-cache.ts) — with four
-- processes half their choices had to ask the store again, and each read back ~18 stays another
-- process had written (a temporary count per event in `bench:scale-out`; docs/benchmarks.md).
--
-- inbox_claim now takes the days the worker's recent batches held (`p_prefer`; none: 0021's claim,
-- as a worker's first batch makes it). Among the oldest 8 × size events: the oldest event's day
-- first, then the preferred days, then the others, each group in order of its days' first events,
-- each day with 0021's try-lock, until the days taken hold a batch's worth; the batch is their
-- oldest events (with any that name no day). A day is added only while the batch is short: 0021's
-- claim tried every day of the oldest `size` events first, so each batch took some 30 days, and
-- no worker's days stayed its own. The oldest pending event is always tried, so no event waits for
-- a worker that prefers its day; within a day, events keep their order. When no day is free, the
-- oldest events all the same, as 0021.
drop function inbox_claim(timestamptz, integer);

create function inbox_claim(p_now timestamptz, p_size integer, p_prefer integer[] default '{}') returns setof inbox_events
language plpgsql as $$
declare
  oldest bigint[];
  days integer[];
  d integer;
  c record;
  mine integer[] := '{}';
  counted integer := 0;
  held boolean := false;
begin
  if cardinality(p_prefer) > 0 then
    for c in
      select o.plan_day, count(*) as n
        from (select plan_day, run_at, id, row_number() over (order by run_at, id) as k
                from (select plan_day, run_at, id from inbox_events
                       where state = 'pending' and run_at <= p_now
                       order by run_at, id limit p_size * 8) as w) as o
       where o.plan_day is not null
       group by o.plan_day
       order by min(o.k) = 1 desc, o.plan_day = any(p_prefer) desc, min(o.k)
    loop
      exit when counted >= p_size;
      if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), c.plan_day) then
        mine := mine || c.plan_day;
        counted := counted + c.n;
      end if;
    end loop;
    return query select * from inbox_events
                  where state = 'pending' and run_at <= p_now
                    and (cardinality(mine) = 0 or plan_day is null or plan_day = any(mine))
                  order by run_at, id limit p_size
                  for update skip locked;
    return;
  end if;
  -- 0021's claim, unchanged: the oldest p_size events and their days, every day tried; a worker
  -- alone (no try fails) takes those events, found by their ids, and reads no further.
  select array_agg(id), array_agg(distinct plan_day) filter (where plan_day is not null)
    into oldest, days
    from (select id, plan_day from inbox_events
           where state = 'pending' and run_at <= p_now
           order by run_at, id limit p_size) as o;
  foreach d in array coalesce(days, '{}') loop
    if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), d) then
      mine := mine || d;
    else
      held := true;
    end if;
  end loop;
  if not held then
    return query select * from inbox_events
                  where id = any(oldest) and state = 'pending'
                  order by run_at, id
                  for update skip locked;
    return;
  end if;
  counted := (select count(*) from inbox_events where id = any(oldest) and plan_day = any(mine));
  for c in
    select plan_day, count(*) as n
      from (select plan_day, run_at, id from inbox_events
             where state = 'pending' and run_at <= p_now
             order by run_at, id limit p_size * 8) as o
     where plan_day is not null and not plan_day = any(days)
     group by plan_day
     order by min(run_at), min(id)
  loop
    exit when counted >= p_size;
    if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), c.plan_day) then
      mine := mine || c.plan_day;
      counted := counted + c.n;
    end if;
  end loop;
  return query select * from inbox_events
                where state = 'pending' and run_at <= p_now
                  and (cardinality(mine) = 0 or plan_day is null or plan_day = any(mine))
                order by run_at, id limit p_size
                for update skip locked;
end $$;
