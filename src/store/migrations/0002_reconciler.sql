-- Where the reconciler has read Cal.com's bookings up to (their updatedAt).
create table reconciler_state (
  key text primary key,
  watermark timestamptz not null,
  updated_at timestamptz not null default now()
);
