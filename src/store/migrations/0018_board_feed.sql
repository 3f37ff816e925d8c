-- One board computation for every process (issue 19). Each process used to compute the board's view
-- for its own viewers on every change. Now the one process holding the session advisory lock
-- (hashtext('usher.board'), 0) computes it, and writes each change here as the patch its viewers get
-- (`patch`: {"from", "to", "delta"}), with the whole view at that version every so often and when
-- it starts (`whole`); it then NOTIFYs usher_board_view with the version. Every other process applies
-- the patches to its copy and passes them on to its viewers unchanged; one that falls behind past
-- what is kept starts again from the newest whole view. Derived: backups leave it out.
create table board_feed (
  version bigint primary key,
  patch text,
  whole text,
  check (patch is not null or whole is not null)
);
