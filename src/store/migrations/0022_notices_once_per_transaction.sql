-- The board's and the workers' notices once per transaction, not once per statement (issues 13
-- and 19). The statement triggers of 0005, 0008, 0010 and 0019 ran a PL/pgSQL function and a
-- pg_notify for every statement that wrote their tables: a worker's batch of 32 bookings ran ~290 of
-- them, to send at commit the few distinct notices PostgreSQL keeps (it folds repeats). Measured with
-- pg_stat_statements and track_functions during `bench:worker`: ~9 board and work calls per event,
-- ~0.06 ms of PostgreSQL's ~0.75 ms of CPU per room decision.
--
-- Now the first such statement of a transaction notifies and marks it with a transaction-local
-- setting; every later one is skipped by its trigger's WHEN before any function runs. Nothing the
-- listeners do depends on which table a board notice names (board/board-feed.ts recomputes what
-- changed from the store), so one board notice per transaction wakes them as several did. A work
-- notice names its table (an event wakes the inbox loop, a job the jobs loop: jobs/worker.ts), so
-- each table has its own mark. A savepoint rolled back takes its notices and its marks with it
-- (PostgreSQL drops both), so a later statement of the transaction notifies again.

create or replace function usher_board_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('usher_board', tg_table_name);
  perform set_config('usher.board_noticed', 'on', true);
  return null;
end $$;

create or replace function usher_board_rows_changed() returns trigger language plpgsql as $$
begin
  if exists (select 1 from changed) then
    perform pg_notify('usher_board', tg_table_name);
    perform set_config('usher.board_noticed', 'on', true);
  end if;
  return null;
end $$;

create or replace function usher_board_inbox_added() returns trigger language plpgsql as $$
begin
  if exists (select 1 from added where state = 'unprocessable') then
    perform pg_notify('usher_board', tg_table_name);
    perform set_config('usher.board_noticed', 'on', true);
  end if;
  return null;
end $$;

create or replace function usher_work_added() returns trigger language plpgsql as $$
begin
  perform pg_notify('usher_work', tg_table_name);
  perform set_config('usher.work_noticed_' || tg_table_name, 'on', true);
  return null;
end $$;

-- The same triggers as before, each skipped once its transaction has sent the notice: first the
-- board's plain statement triggers (0005, 0019), then those that look at the rows they wrote.
do $$
declare
  t record;
begin
  for t in select * from (values
      ('board_rooms', 'rooms', 'insert or update or delete'),
      ('board_room_blocks', 'room_blocks', 'insert or update or delete'),
      ('board_room_assignments', 'room_assignments', 'insert or update or delete'),
      ('board_bookings', 'bookings', 'insert or update'),
      ('board_decisions', 'decisions', 'insert'),
      ('board_gate_decisions', 'gate_decisions', 'insert or update'),
      ('board_jobs_added', 'jobs', 'insert')) as v(name, tbl, events)
  loop
    execute format('drop trigger %I on %I', t.name, t.tbl);
    execute format($t$create trigger %I after %s on %I
                        for each statement when (current_setting('usher.board_noticed', true) is distinct from 'on')
                        execute function usher_board_changed()$t$, t.name, t.events, t.tbl);
  end loop;
end $$;

drop trigger board_jobs_changed on jobs;
create trigger board_jobs_changed after update on jobs
  referencing new table as changed
  for each statement when (current_setting('usher.board_noticed', true) is distinct from 'on')
  execute function usher_board_rows_changed();
drop trigger board_inbox_events_changed on inbox_events;
create trigger board_inbox_events_changed after update on inbox_events
  referencing new table as changed
  for each statement when (current_setting('usher.board_noticed', true) is distinct from 'on')
  execute function usher_board_rows_changed();
drop trigger board_inbox_events_added on inbox_events;
create trigger board_inbox_events_added after insert on inbox_events
  referencing new table as added
  for each statement when (current_setting('usher.board_noticed', true) is distinct from 'on')
  execute function usher_board_inbox_added();

drop trigger work_inbox_events on inbox_events;
create trigger work_inbox_events after insert on inbox_events
  for each statement when (current_setting('usher.work_noticed_inbox_events', true) is distinct from 'on')
  execute function usher_work_added();
drop trigger work_jobs on jobs;
create trigger work_jobs after insert on jobs
  for each statement when (current_setting('usher.work_noticed_jobs', true) is distinct from 'on')
  execute function usher_work_added();
drop trigger work_jobs_updated on jobs;
create trigger work_jobs_updated after update of payload on jobs
  for each statement when (current_setting('usher.work_noticed_jobs', true) is distinct from 'on')
  execute function usher_work_added();
