-- One clock (src/clock.ts). Every timestamp comes from Usher's injected clock as a parameter; a
-- column default of now() would silently take the database server's clock instead, and the worker
-- compares these columns with the application's time (run_at <= $now): a drift between the two
-- clocks delays every event by the drift. Without defaults an insert that forgets a timestamp fails
-- at once (NOT NULL) rather than mixing clocks.
alter table inbox_events alter column received_at drop default, alter column run_at drop default;
alter table bookings alter column created_at drop default, alter column updated_at drop default;
alter table decisions alter column decided_at drop default;
alter table jobs alter column run_at drop default, alter column created_at drop default, alter column updated_at drop default;
alter table reconciler_state alter column updated_at drop default;
alter table members alter column created_at drop default, alter column updated_at drop default;
alter table credit_lots alter column created_at drop default;
alter table credit_holds alter column created_at drop default, alter column updated_at drop default;
alter table credit_ledger alter column at drop default;
alter table rooms alter column created_at drop default, alter column updated_at drop default;
alter table room_blocks alter column created_at drop default;
