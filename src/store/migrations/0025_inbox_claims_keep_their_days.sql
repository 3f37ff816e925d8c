-- A worker keeps to the days it has been deciding (issue 19, scale-out). 0021 steers two batches off
-- each other's days, but each batch still began with the days of the oldest events: with bookings
-- spread over 60 days, every batch of every process touched some 30 of them, so each process found
-- nearly every day it kept in memory changed by another (rooms/room-day-cache.ts) — with four
-- processes half their choices had to ask the store again, and each read back ~18 stays another
-- process had written (a temporary count per event in `bench:scale-out`; docs/benchmarks.md).
--
-- inbox_claim now takes the days the worker's recent batches held (`p_prefer`; with none, as a
-- worker's first batch has, it is 0021's claim, kept as inbox_claim_oldest). Among the oldest
-- 8 × size events: the oldest event's day first, then the preferred days, then the others, each
-- group in order of its days' first events, each day with 0021's try-lock, until the days taken
-- hold a batch's worth; the batch is their oldest events (with any that name no day). A day is added only while the batch is short: 0021's
-- claim tried every day of the oldest `size` events first, so each batch took some 30 days, and
-- no worker's days stayed its own. The oldest pending event is always tried, so no event waits for
-- a worker that prefers its day; within a day, events keep their order. When no day is free, the
-- oldest events all the same, as 0021.
alter function inbox_claim(timestamptz, integer) rename to inbox_claim_oldest;

create function inbox_claim(p_now timestamptz, p_size integer, p_prefer integer[] default '{}') returns setof inbox_events
language plpgsql as $$
declare
  c record;
  mine integer[] := '{}';
  counted integer := 0;
begin
  if cardinality(p_prefer) = 0 then
    return query select * from inbox_claim_oldest(p_now, p_size);
    return;
  end if;
  for c in
    select o.plan_day, count(*) as n
      from (select plan_day, row_number() over (order by run_at, id) as k
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
end $$;
