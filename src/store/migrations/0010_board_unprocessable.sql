-- The board lists events Usher could not read as received (stored 'unprocessable' at the door):
-- their arrival is an insert, which the board's update trigger on inbox_events does not see. Only a
-- statement that stored such an event notifies; the webhook hot path of pending events stays quiet.
create function usher_board_inbox_added() returns trigger language plpgsql as $$
begin
  if exists (select 1 from added where state = 'unprocessable') then
    perform pg_notify('usher_board', tg_table_name);
  end if;
  return null;
end $$;

create trigger board_inbox_events_added after insert on inbox_events
  referencing new table as added
  for each statement execute function usher_board_inbox_added();
