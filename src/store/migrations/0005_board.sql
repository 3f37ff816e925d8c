-- Board sign-in sessions. In the database so that every Usher process behind one address knows
-- them and a restart signs nobody out. Only a hash of the cookie value is stored: a copy of this
-- table cannot be replayed as cookies.
create table board_sessions (
  id_hash text primary key,
  user_name text not null,
  role text not null check (role in ('staff', 'display')),
  -- Which token signed in (a hash prefix): a token removed from the config ends its sessions.
  token_fingerprint text not null,
  csrf_token text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index board_sessions_expiry on board_sessions (expires_at);

-- The board's change signal (DESIGN §2: NOTIFY across instances). A statement-level trigger per
-- table the board reads: every write, from a webhook, an operator, the planner or a worker in any
-- process, wakes every process's board feed. PostgreSQL folds identical notifications of one
-- transaction into one and delivers them at commit, so a rolled-back change says nothing.
create function usher_board_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('usher_board', tg_table_name);
  return null;
end $$;

create trigger board_rooms after insert or update or delete on rooms
  for each statement execute function usher_board_changed();
create trigger board_room_blocks after insert or update or delete on room_blocks
  for each statement execute function usher_board_changed();
create trigger board_room_assignments after insert or update or delete on room_assignments
  for each statement execute function usher_board_changed();
create trigger board_bookings after insert or update on bookings
  for each statement execute function usher_board_changed();
create trigger board_decisions after insert on decisions
  for each statement execute function usher_board_changed();
create trigger board_gate_decisions after insert or update on gate_decisions
  for each statement execute function usher_board_changed();
create trigger board_jobs after insert or update on jobs
  for each statement execute function usher_board_changed();
-- Inserts are the webhook hot path and change nothing on the board until processed (an update).
create trigger board_inbox_events after update on inbox_events
  for each statement execute function usher_board_changed();
