-- Workers claim inbox events by day (issue 19, scale-out). A worker's batch holds the room planning
-- locks of its events' days (0015) until it commits; batches claimed oldest first across 60 days of
-- bookings nearly always shared a day with another process's batch, so a second process mostly
-- waited for the first (pg_stat_activity sampled during `bench:scale-out`: half of the active
-- backends waiting on the days' advisory lock) and four processes decided fewer events than one.
--
-- * plan_day: the UTC day (as 0015 counts days) of the booking's start, written by the webhook route
--   and the reconciler; null when an event names no start (a no-show mark, a ping) or was stored
--   before this migration: such an event goes with any batch, as every event did before.
-- * inbox_claim: a batch's events, their days taken each with a try-lock of its own namespace
--   (hashtext('usher.inbox.day')) held to the batch's end. It never waits, so it cannot deadlock
--   with the planning locks; it only steers: a day another batch holds is left to that batch. The
--   days of the oldest `size` events are always tried, so one worker alone takes exactly the oldest
--   events, as before, and reads no further; when another worker holds some of them, more days, in
--   order of first appearance among the oldest 8 × size, until they hold `size` events. When every
--   day is held elsewhere the worker takes the oldest events anyway (and waits for their days, as
--   before), so nothing waits for a claim.
alter table inbox_events add column plan_day integer;

create function inbox_claim(p_now timestamptz, p_size integer) returns setof inbox_events language plpgsql as $$
declare
  oldest bigint[];
  days integer[];
  d integer;
  c record;
  mine integer[] := '{}';
  counted integer := 0;
  held boolean := false;
begin
  -- The oldest p_size events and their days, every day tried: a worker alone (no try fails) takes
  -- those events, found by their ids, and reads no further.
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
  -- Another worker holds some: more days, in order of their first event among the oldest 8 × p_size,
  -- until those claimed hold a batch's worth.
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
  -- With no day free, the oldest events all the same (their days are waited for, as before).
  return query select * from inbox_events
                where state = 'pending' and run_at <= p_now
                  and (cardinality(mine) = 0 or plan_day is null or plan_day = any(mine))
                order by run_at, id limit p_size
                for update skip locked;
end $$;
