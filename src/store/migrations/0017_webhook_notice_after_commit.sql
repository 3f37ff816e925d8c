-- A webhook's event no longer sends its work notice inside the transaction that stores it.
-- PostgreSQL serialises the commits of transactions that NOTIFY — the lock on the notice queue is
-- held through the commit's fsync — so every process's webhook inserts (and its worker's commits)
-- queued behind one another instead of sharing fsyncs: measured on the embedded server (2 cores,
-- fsync on), 32 clients inserting a 3 KB row reached 5,709 commits/s without a NOTIFY trigger and
-- 1,936/s with it (docs/benchmarks.md). The webhook route wakes its own worker in-process and
-- sends the notice for the other processes right after its commit, in a transaction with nothing
-- to flush (store/inbox.ts InboxWriter). Events stored any other way (the reconciler, an operator,
-- the CLI) still notify at commit, as migration 0008 made them.
drop trigger work_inbox_events on inbox_events;

create function usher_work_added_unless_webhooks() returns trigger language plpgsql as $$
begin
  if exists (select 1 from added where source <> 'webhook') then
    perform pg_notify('usher_work', tg_table_name);
  end if;
  return null;
end $$;

create trigger work_inbox_events after insert on inbox_events referencing new table as added
  for each statement execute function usher_work_added_unless_webhooks();
