-- Workers claim inbox events by day (issue 19, scale-out). A worker's batch holds the room planning
-- locks of its events' days (0015) until it commits; batches claimed oldest first across 60 days of
-- bookings nearly always shared a day with another process's batch, so a second process mostly
-- waited for the first (pg_stat_activity sampled during `bench:scale-out`: half of the active
-- backends waiting on the days' advisory lock) and four processes decided fewer events than one.
--
-- * plan_day: the UTC day (as 0015 counts days) of the booking's start, written by the webhook route
--   and the reconciler; null when an event names no start (a no-show mark, a ping) or was stored
--   before this migration: such an event goes with any batch, as every event did before.
-- * inbox_claim_days: the days a batch takes, each with a try-lock of its own namespace
--   (hashtext('usher.inbox.day')) held to the batch's end. It never waits, so it cannot deadlock
--   with the planning locks; it only steers: a day another batch holds is left to that batch. The
--   days of the oldest `size` events are always tried, so one worker alone takes exactly the oldest
--   events, as before, and reads no further; when another worker holds some of them, more days, in
--   order of first appearance among the oldest 8 × size, until they hold `size` events. When every
--   day is held elsewhere the worker takes the oldest events anyway (and waits for their days, as
--   before), so nothing waits for a claim.
alter table inbox_events add column plan_day integer;

create function inbox_claim_days(p_now timestamptz, p_size integer) returns integer[] language plpgsql as $$
declare
  c record;
  tried integer[] := '{}';
  mine integer[] := '{}';
  counted integer := 0;
begin
  -- The days of the oldest p_size events, every one tried: a worker alone (no try fails) takes them.
  for c in
    select plan_day, count(*) as n
      from (select plan_day from inbox_events
             where state = 'pending' and run_at <= p_now
             order by run_at, id limit p_size) as oldest
     where plan_day is not null
     group by plan_day
  loop
    tried := tried || c.plan_day;
    if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), c.plan_day) then
      mine := mine || c.plan_day;
      counted := counted + c.n;
    end if;
  end loop;
  if cardinality(mine) = cardinality(tried) then
    return mine;
  end if;
  -- Another worker holds some: more days, in order of their first event among the oldest 8 × p_size,
  -- until those claimed hold a batch's worth.
  for c in
    select plan_day, count(*) as n
      from (select plan_day, run_at, id from inbox_events
             where state = 'pending' and run_at <= p_now
             order by run_at, id limit p_size * 8) as oldest
     where plan_day is not null and not plan_day = any(tried)
     group by plan_day
     order by min(run_at), min(id)
  loop
    exit when counted >= p_size;
    if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), c.plan_day) then
      mine := mine || c.plan_day;
      counted := counted + c.n;
    end if;
  end loop;
  return mine;
end $$;
