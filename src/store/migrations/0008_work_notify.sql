-- New work wakes every worker at once, in every process (DESIGN §5): an event stored by one
-- process's webhook route, or a Cal.com call written by another's decision, no longer waits for
-- the next poll. Statement-level, so a batch insert notifies once; PostgreSQL delivers at commit
-- and folds duplicates within a transaction. Polling still guarantees progress (STYLE §8).
create function usher_work_added() returns trigger language plpgsql as $$
begin
  perform pg_notify('usher_work', tg_table_name);
  return null;
end $$;

create trigger work_inbox_events after insert on inbox_events
  for each statement execute function usher_work_added();
create trigger work_jobs after insert on jobs
  for each statement execute function usher_work_added();
-- A coalesced job (insert … on conflict do update) is new work too.
create trigger work_jobs_updated after update of payload on jobs
  for each statement execute function usher_work_added();
