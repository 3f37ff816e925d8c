-- The board reads only what changed (issue 19, board by changes). At 300 rooms a view read the day's
-- ~3,000 assignments and bookings again on every change (~90 ms of a 20 ms budget). Now each row
-- the board shows of a booking says which transaction last wrote it, and a board that read the
-- store under snapshot S asks next time for the rows whose writer S did not see:
--
--   board_xact >= pg_snapshot_xmin(S) and not pg_visible_in_snapshot(board_xact, S)
--
-- A transaction still running when S was taken is not visible in S, so its rows are found once it
-- commits, whatever order transactions commit in (no sequence can say that: a smaller number can
-- commit later). Assignments that leave are already logged in room_plan_removed (0016); the log now
-- says by which transaction too. Rooms and truncates move the plan's epoch (0015) and pruning the log
-- moves removed_from (0016): a board that sees either changed reads everything again.
--
-- Existing rows get 0, visible in every snapshot: a board reads everything when it starts anyway.
alter table bookings add column board_xact xid8 not null default '0';
alter table bookings alter column board_xact set default pg_current_xact_id();
alter table room_assignments add column board_xact xid8 not null default '0';
alter table room_assignments alter column board_xact set default pg_current_xact_id();
alter table room_plan_removed add column xact xid8 not null default '0';
alter table room_plan_removed alter column xact set default pg_current_xact_id();

create function board_row_written() returns trigger language plpgsql as $$
begin
  new.board_xact := pg_current_xact_id();
  return new;
end $$;

create trigger board_xact_bookings before update on bookings
  for each row execute function board_row_written();
create trigger board_xact_room_assignments before update on room_assignments
  for each row execute function board_row_written();

create index bookings_board_xact on bookings (board_xact);
create index room_assignments_board_xact on room_assignments (board_xact);
create index room_plan_removed_xact on room_plan_removed (xact);
