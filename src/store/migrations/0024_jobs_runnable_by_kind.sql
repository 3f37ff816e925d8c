-- Runnable jobs by kind, most urgent first within each (issue 19, scale-out). While a kind waits for
-- its Cal.com budget the worker claims only the other kinds (jobs/worker.ts, store/jobs.ts
-- claimNextJob): each is found by a short range scan here instead of a walk of jobs_runnable past
-- every held job (a backlog of thousands of location writes under 5 calls a minute).
create index jobs_runnable_by_kind on jobs (kind, priority_at nulls last, id) where state = 'pending';
