-- Inbox: every webhook Usher acknowledged, stored before the 2xx (DESIGN §2, invariant 1).
-- raw_body keeps the exact bytes Cal.com signed, so a replay re-parses what was really received.
create table inbox_events (
  id bigint generated always as identity primary key,
  dedupe_key text not null,
  trigger text not null,
  booking_uid text,
  source text not null check (source in ('webhook', 'reconciler', 'operator')),
  raw_body text not null,
  received_at timestamptz not null default now(),
  state text not null default 'pending'
    check (state in ('pending', 'running', 'done', 'ignored', 'unprocessable', 'dead')),
  attempts integer not null default 0,
  max_attempts integer not null,
  run_at timestamptz not null default now(),
  locked_by text,
  locked_at timestamptz,
  last_error text,
  finished_at timestamptz
);
create unique index inbox_events_dedupe_key on inbox_events (dedupe_key);
create index inbox_events_runnable on inbox_events (run_at, id) where state = 'pending';
create index inbox_events_booking on inbox_events (booking_uid);

-- Usher's view of a Cal.com booking, built from events (and later the reconciler).
create table bookings (
  uid text primary key,
  cal_id bigint,
  event_type_id bigint,
  event_type_slug text,
  status text not null check (status in ('pending', 'accepted', 'cancelled', 'rejected')),
  title text,
  start_at timestamptz not null,
  end_at timestamptz not null,
  organizer_id bigint,
  organizer_email text,
  attendee_email text,
  attendee_name text,
  rescheduled_from_uid text,
  rescheduled_to_uid text,
  location text,
  metadata jsonb not null default '{}'::jsonb,
  meeting_state text check (meeting_state in ('started', 'ended')),
  last_event_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index bookings_start on bookings (start_at);
create index bookings_attendee on bookings (lower(attendee_email));

-- Decision log: every decision with machine-readable reasons (invariant 4). Written in the same
-- transaction as the state change it explains, so it doubles as the proof of exactly-once effects.
create table decisions (
  id bigint generated always as identity primary key,
  booking_uid text,
  inbox_event_id bigint references inbox_events (id),
  kind text not null,
  outcome text not null,
  reasons jsonb not null default '[]'::jsonb,
  detail jsonb not null default '{}'::jsonb,
  decided_at timestamptz not null default now()
);
create index decisions_booking on decisions (booking_uid, id);
create unique index decisions_once_per_event on decisions (inbox_event_id, kind)
  where inbox_event_id is not null;

-- Outbox: every call Usher makes to Cal.com (and later to automation targets).
create table jobs (
  id bigint generated always as identity primary key,
  kind text not null,
  payload jsonb not null,
  booking_uid text,
  coalesce_key text,
  priority_at timestamptz,
  state text not null default 'pending'
    check (state in ('pending', 'running', 'done', 'dead', 'superseded')),
  attempts integer not null default 0,
  max_attempts integer not null,
  run_at timestamptz not null default now(),
  locked_by text,
  locked_at timestamptz,
  last_error text,
  last_response jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
-- A newer job with the same key replaces an unsent older one (coalescing) ...
create unique index jobs_coalesce_pending on jobs (coalesce_key) where state = 'pending';
-- ... and two jobs with one key never run at once, so an older value can never land last.
create unique index jobs_coalesce_running on jobs (coalesce_key) where state = 'running';
create index jobs_runnable on jobs (priority_at nulls last, id) where state = 'pending';
create index jobs_booking on jobs (booking_uid);

-- Cal.com rate budget shared by every Usher process on this database (invariant 5): a sliding
-- log of calls per bucket, and a block set when Cal.com answers 429 or reports nothing left.
create table rate_buckets (
  key text primary key,
  blocked_until timestamptz
);
create table rate_calls (
  bucket text not null references rate_buckets (key),
  called_at timestamptz not null
);
create index rate_calls_bucket_time on rate_calls (bucket, called_at);
