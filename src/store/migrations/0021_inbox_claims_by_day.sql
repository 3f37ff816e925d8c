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
--   events, as before; then, in order of first appearance among the oldest 8 × size, more days until
--   they hold `size` events. When every day is held elsewhere the worker takes the oldest events
--   anyway (and waits for their days, as before), so nothing waits for a claim.
alter table inbox_events add column plan_day integer;

create function inbox_claim_days(p_now timestamptz, p_size integer) returns integer[] language plpgsql as $$
declare
  c record;
  mine integer[] := '{}';
  counted integer := 0;
begin
  for c in
    select plan_day, count(*) as n, min(place) as first
      from (select plan_day, row_number() over (order by run_at, id) as place
              from (select plan_day, run_at, id from inbox_events
                     where state = 'pending' and run_at <= p_now
                     order by run_at, id limit p_size * 8) as oldest) as placed
     where plan_day is not null
     group by plan_day
     order by first
  loop
    exit when c.first > p_size and counted >= p_size;
    if pg_try_advisory_xact_lock(hashtext('usher.inbox.day'), c.plan_day) then
      mine := mine || c.plan_day;
      counted := counted + c.n;
    end if;
  end loop;
  return mine;
end $$;
