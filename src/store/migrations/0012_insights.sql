-- Calendar feeds (issue 18): one subscribable iCalendar URL per room or doctor. Only a hash of the
-- URL's secret is kept, so a copy of this table subscribes nobody; a feed ends when revoked.
create table calendar_feeds (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('room', 'doctor')),
  subject text not null,
  token_hash text not null unique,
  -- Full names in the events: off unless asked for (a shared calendar is seen by more people).
  show_names boolean not null,
  created_by text not null,
  created_at timestamptz not null,
  revoked_at timestamptz
);

-- Insights read a period's room decisions by booking (waits, moves) and its location write-backs by
-- creation time; both indexes serve those reads only, so the worker's inserts pay for little.
create index decisions_room_kind on decisions (booking_uid, id) where kind in ('room', 'booking.state');
-- Covering: the write-back delays of a year are read from the index alone (no visit to the jobs' rows).
create index jobs_location_done on jobs (created_at) include (finished_at, attempts) where kind = 'cal.location' and state = 'done';
-- A room's stays in a period: the exclusion constraint's GiST (room, during) index already serves it.
