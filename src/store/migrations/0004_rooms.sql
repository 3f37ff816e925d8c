-- btree_gist lets a GiST index compare text with =, which the exclusion constraint below needs.
create extension if not exists btree_gist;

-- Physical rooms: declared in the config (synced at start) or added through the admin API.
create table rooms (
  name text primary key,
  floor integer not null default 0,
  building text not null default '',
  equipment text[] not null default '{}',
  cleaning_minutes integer not null default 0 check (cleaning_minutes >= 0),
  -- Daily opening hours in the business's time zone, minutes from midnight; null = always open.
  open_from_minute integer check (open_from_minute between 0 and 1440),
  open_until_minute integer check (open_until_minute between 0 and 1440),
  active boolean not null default true,
  source text not null default 'config' check (source in ('config', 'api')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table room_blocks (
  id bigint generated always as identity primary key,
  room text not null references rooms (name),
  during tstzrange not null check (not isempty(during)),
  reason text not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  lifted_at timestamptz
);
create index room_blocks_live on room_blocks using gist (room, during) where lifted_at is null;

-- One row per booking that needs a room; room null = waiting for one (with the reasons).
-- `during` is the slot plus the room's cleaning after it. The exclusion constraint is the last line
-- of defence for invariant 2: no interleaving of workers or operators can put two bookings in one
-- room at once, whatever the planner thought.
create table room_assignments (
  booking_uid text primary key,
  room text references rooms (name),
  during tstzrange not null check (not isempty(during)),
  pinned boolean not null default false,
  reasons jsonb not null default '{}'::jsonb,
  -- What Cal.com should show, and what it last confirmed (the write-back state).
  location_text text,
  location_written text,
  assigned_at timestamptz not null,
  updated_at timestamptz not null,
  constraint room_assignments_no_overlap exclude using gist (room with =, during with &&) where (room is not null)
);
create index room_assignments_during on room_assignments using gist (during);
create index room_assignments_waiting on room_assignments (booking_uid) where room is null;
