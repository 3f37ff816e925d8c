-- Members of the business, known by e-mail (Cal.com's booker is attendees[0].email).
create table members (
  email text primary key check (email = lower(email) and position('@' in email) > 1),
  name text,
  active boolean not null default true,
  -- Last day of membership in the business's time zone; null = does not end.
  membership_until date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Credits come in lots (one per grant, each with its own optional expiry). `remaining` is never
-- written by the application: the trigger below moves it by each ledger row, so the ledger is the
-- history and the lot is its running sum. The CHECK makes overspending impossible whatever the
-- interleaving of workers: a hold that would take a lot below zero fails and rolls back (invariant 3).
create table credit_lots (
  id bigint generated always as identity primary key,
  member_email text not null references members (email),
  granted integer not null check (granted > 0),
  remaining integer not null default 0 check (remaining >= 0 and remaining <= granted),
  expires_at timestamptz,
  reason text,
  created_at timestamptz not null default now()
);
create index credit_lots_member on credit_lots (member_email);

-- Credits set aside for one booking. One hold per booking (unique uid): a duplicate or replayed
-- request can never take a second one. A reschedule moves the hold to the new uid.
create table credit_holds (
  id bigint generated always as identity primary key,
  booking_uid text not null unique,
  member_email text not null references members (email),
  amount integer not null check (amount > 0),
  state text not null check (state in ('held', 'captured', 'released', 'refunded', 'forfeited')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index credit_holds_member on credit_holds (member_email);

create table credit_ledger (
  id bigint generated always as identity primary key,
  member_email text not null references members (email),
  kind text not null check (kind in ('grant', 'revoke', 'hold', 'capture', 'release', 'refund', 'forfeit', 'transfer')),
  -- Change to the lot's remaining credits (0 for capture, forfeit and transfer, which move no credit).
  amount integer not null,
  lot_id bigint references credit_lots (id),
  hold_id bigint references credit_holds (id),
  booking_uid text,
  reason text,
  actor text not null,
  at timestamptz not null default now(),
  check ((amount = 0) = (lot_id is null))
);
create index credit_ledger_member on credit_ledger (member_email, id);
-- A hold draws from a lot once and gives back to it once: a credit is never spent or returned twice.
create unique index credit_ledger_hold_draw_once on credit_ledger (hold_id, lot_id)
  where kind = 'hold';
create unique index credit_ledger_hold_return_once on credit_ledger (hold_id, lot_id)
  where kind in ('release', 'refund');

create function credit_ledger_apply() returns trigger language plpgsql as $$
begin
  update credit_lots set remaining = remaining + new.amount where id = new.lot_id;
  return new;
end
$$;
create trigger credit_ledger_apply after insert on credit_ledger
  for each row when (new.lot_id is not null) execute function credit_ledger_apply();

-- The gate's current decision per booking (the decisions table keeps the history).
create table gate_decisions (
  booking_uid text primary key,
  member_email text,
  event_type_id bigint,
  outcome text not null check (outcome in ('approve', 'decline', 'hold')),
  reasons jsonb not null default '[]'::jsonb,
  message text,
  decided_by text not null,
  decided_at timestamptz not null
);
create index gate_decisions_held on gate_decisions (decided_at) where outcome = 'hold';
