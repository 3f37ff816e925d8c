-- Usher's own events (room.moved, booking.declined, job.dead, …) waiting to be matched against the
-- automations. Written in the transaction of the change they report; the dispatcher turns each into
-- delivery jobs and deletes it in one transaction, so every event is dispatched exactly once.
create table usher_events (
  id bigint generated always as identity primary key,
  kind text not null,
  booking_uid text,
  data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null
);

-- Custom checkout: one Cal.com booking per Idempotency-Key, whatever the client retries.
create table booking_requests (
  idempotency_key text primary key,
  request_hash text not null,
  -- in_progress: a call is out (or was, when Usher stopped); done: `response` is the answer to repeat.
  state text not null check (state in ('in_progress', 'done')),
  status integer,
  response jsonb,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

-- job.dead, from whichever path dead-letters a job (a permanent failure, the last retry, no
-- handler). A delivery that was itself announcing a dead job does not announce its own death:
-- a broken alert target must not feed itself.
create function usher_job_dead() returns trigger language plpgsql as $$
begin
  if new.state = 'dead' and old.state is distinct from 'dead'
     and not (new.kind = 'automation.deliver' and new.payload ->> 'event' = 'job.dead') then
    insert into usher_events (kind, booking_uid, data, created_at)
    values ('job.dead', new.booking_uid,
            jsonb_build_object('job', jsonb_build_object('id', 'job_' || new.id, 'kind', new.kind, 'error', left(new.last_error, 500), 'attempts', new.attempts)),
            coalesce(new.finished_at, new.updated_at));
  end if;
  return null;
end $$;
create trigger jobs_dead_event after update of state on jobs
  for each row execute function usher_job_dead();
create index booking_requests_created on booking_requests (created_at);
