-- The board woke on every statement that updates jobs or inbox_events, rows or none (migration
-- 0005's statement triggers): an idle worker's job claim is an UPDATE that finds nothing, so every
-- poll (twice a second by default, in every process) made the process computing the board compute
-- it again for nothing. Now an update wakes it only when it changed a row (a transition table, as
-- 0010 does for inserts); inserts of jobs still always do.
create function usher_board_rows_changed() returns trigger language plpgsql as $$
begin
  if exists (select 1 from changed) then
    perform pg_notify('usher_board', tg_table_name);
  end if;
  return null;
end $$;

drop trigger board_jobs on jobs;
create trigger board_jobs_added after insert on jobs
  for each statement execute function usher_board_changed();
create trigger board_jobs_changed after update on jobs
  referencing new table as changed
  for each statement execute function usher_board_rows_changed();

drop trigger board_inbox_events on inbox_events;
create trigger board_inbox_events_changed after update on inbox_events
  referencing new table as changed
  for each statement execute function usher_board_rows_changed();
