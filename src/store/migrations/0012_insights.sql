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

-- Insights read a period's room decisions by booking through decisions_booking (0001). The location
-- write-backs of a period are read by creation time: a short period (the page's four weeks) reads only
-- its own rows, from the index alone once vacuumed; a year's is most of the table and is scanned.
create index jobs_location_done on jobs (created_at) include (finished_at, attempts) where kind = 'cal.location' and state = 'done';
-- A room's stays in a period: the exclusion constraint's GiST (room, during) index already serves it.
