-- Insights over long periods (issue 18: a year of a 30-room clinic in ≤ 200 ms a view): the figures
-- of each past day, per room and per doctor, kept once computed. A day is computed again when any
-- decision about one of its bookings (or made on it) is newer than the watermark: every change to a
-- booking, its room or its no-show writes a decision, so nothing changes a day unseen. The key is a
-- hash of what the figures depend on besides the data (opening hours, holidays, the gap length).
create table insight_days (
  settings_key text not null,
  day date not null,
  primary key (settings_key, day)
);
create table insight_room_days (
  settings_key text not null,
  day date not null,
  room text not null,
  open_minutes double precision not null,
  booked_minutes double precision not null,
  bookings integer not null,
  cleaning_minutes double precision not null,
  idle_gaps integer not null,
  idle_gap_minutes double precision not null,
  no_shows integer not null,
  waited integer not null,
  wait_minutes_total double precision not null,
  wait_minutes_max double precision not null,
  moves_out integer not null,
  primary key (settings_key, day, room)
);
create table insight_doctor_days (
  settings_key text not null,
  day date not null,
  doctor text not null,
  bookings integer not null,
  booked_minutes double precision not null,
  rooms integer not null,
  no_shows integer not null,
  waited integer not null,
  primary key (settings_key, day, doctor)
);
-- The newest decision whose day has been accounted for (one row).
create table insight_watermark (
  only_row boolean primary key default true check (only_row),
  last_decision_id bigint not null
);
insert into insight_watermark (last_decision_id) values (0);
