import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { describeError, isUsherError, UsherError } from '../errors.ts';
import { allSent, type Db, type Queryable } from '../store/db.ts';
import { failInboxEvent, finishInboxEvents, lockInboxEvents, type InboxEvent } from '../store/inbox.ts';
import { claimJobs, deadLetterJob, JobCompletions, releaseStaleJobs, releaseWorkerJobs, rescheduleJob, type Job } from '../store/jobs.ts';
import { readRateRoom, type BucketLimit } from '../store/rate-budget.ts';
import { BatchReads, handleInboxEvent, parseInboxEvent, type BatchHooks, type EventHandler } from './handle-event.ts';
import { retryDelayMs, type BackoffPolicy } from './retry-schedule.ts';

const LOOPS = ['inbox', 'jobs'] as const;

/** Thrown out of a batch's transaction to roll it back and run it again event by event. */
class BatchFailed extends Error {
  constructor(cause: unknown) {
    super('an event in the batch failed', { cause });
  }
}

export interface JobContext {
  now: Date;
}

/** Runs one job kind; returns what to keep as the job's last response. Throws UsherError on failure. */
export type JobHandler = (job: Job, ctx: JobContext) => Promise<unknown>;

export interface WorkerHooks {
  onEvent?(state: string): void;
  onJob?(kind: string, state: string): void;
}

export interface WorkerOptions extends BackoffPolicy {
  db: Db;
  clock: Clock;
  log: Logger;
  eventHandlers: readonly EventHandler[];
  jobHandlers: Readonly<Record<string, JobHandler>>;
  pollIntervalMs: number;
  /** Events handled per transaction. */
  batchSize?: number;
  /**
   * Events per transaction while a backlog remains (the last batch came back full): each batch pays
   * its claim, its reads and its commit's fsync once, and under a steady stream of webhooks those,
   * not the events, were what the worker spent its time on (docs/benchmarks.md, ingest). Never fewer
   * than batchSize.
   */
  backlogBatchSize?: number;
  /**
   * What features do around a batch, their statements sent in the order given (main.ts: the rooms'
   * days, rooms/room-events.ts; the bookings' rows, jobs/handle-event.ts; the gate's reads,
   * gate/credit-lifecycle.ts).
   */
  batchHooks?: readonly BatchHooks[];
  /**
   * Whether acknowledgements are waiting that matter more than the next batch of decisions (main.ts:
   * webhooks waiting for their insert). The inbox loop then starts its next batch only once they are
   * fewer, or after yieldAtMostMs: a burst is acknowledged first, and a sustained one still leaves
   * the worker a batch every so often.
   */
  pressed?: () => boolean;
  /** How long the inbox loop waits at most, between batches, while `pressed`; a quarter second unless given. */
  yieldAtMostMs?: number;
  /**
   * Job kinds whose every job passes the same rate budgets, and those budgets (each Cal.com kind
   * calls one endpoint, jobs/cal-jobs.ts; an automation's kind does not: each automation has a
   * budget of its own). Once one is refused until a time, the others of its kind are not claimed
   * before then. Without it, a backlog under Cal.com's 5 location calls a minute was claimed,
   * refused and put back job by job, each of them every minute: in a burst of 1,000 bookings,
   * 7 statements per booking on top of the decision's (docs/benchmarks.md, scale-out). Only these
   * kinds run several jobs at once, and only while their budgets have room (#jobsLoop).
   */
  sharedBudgets?: ReadonlyMap<string, readonly BucketLimit[]>;
  /**
   * Jobs in flight at once (1 unless given; which may start beside which, #jobsLoop). One at a time,
   * each Cal.com call waited for the answer to the one before: twenty confirmations at once reached
   * a Cal.com answering in 100 ms at p50 ~1.2 s (docs/benchmarks.md, webhook → Cal.com).
   */
  jobsAtOnce?: number;
  /** A job running longer than this is presumed orphaned by a dead process and handed out again. */
  jobLeaseSeconds?: number;
  hooks?: WorkerHooks;
  random?: () => number;
}

/**
 * How many inbox batches' days a worker prefers. Each batch takes the days it prefers in order of
 * their oldest event, and stops at a batch's worth, so a worker's days would narrow batch by batch
 * if only the last one's counted; a few batches keep a set of days steady enough to stay its own.
 */
const RECENT_BATCHES = 4;

/**
 * Two loops over the database: inbox events (each handled inside the transaction that holds its
 * row lock, so a crash simply releases it) and outbox jobs (claimed as 'running', since an HTTP call
 * cannot sit inside a transaction). Polling guarantees progress; wake() only shortens the wait.
 */
export class Worker {
  readonly id = `worker-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #o: WorkerOptions;
  #running = false;
  #loops: Promise<void>[] = [];
  #wakers = new Map<string, () => void>();
  // Loops a wake-up reached while they were busy: their next idle() returns at once, so a wake-up
  // between "found nothing" and "waiting" is not lost.
  #wokenMeanwhile = new Set<string>();
  #unlisten: Promise<(() => Promise<void>) | undefined> | undefined;
  #lastStaleCheck = 0;
  /** Kinds sharing a budget that was refused, and until when (ms): not claimed before then. */
  readonly #heldKinds = new Map<string, number>();
  /** The last inbox batch came back full: more is waiting, and the next batch takes backlogBatchSize. */
  #backlog = false;
  /**
   * The days the last few inbox batches held, newest batch last: claimed first next time (migration
   * 0025), so that with several processes each keeps deciding its own days and finds the days it
   * keeps in memory as it left them (rooms/room-day-cache.ts).
   */
  readonly #recentDays: (readonly number[])[] = [];
  readonly #batchSize: number;
  readonly #backlogBatchSize: number;
  readonly #jobsAtOnce: number;
  /** Jobs that finish together are marked done together: one statement and one commit (store/jobs.ts). */
  readonly #completions: JobCompletions;

  constructor(options: WorkerOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 8;
    this.#backlogBatchSize = Math.max(this.#batchSize, options.backlogBatchSize ?? 32);
    this.#jobsAtOnce = Math.max(1, options.jobsAtOnce ?? 1);
    this.#completions = new JobCompletions(options.db);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Work stored by any process (an event, a Cal.com call a decision wrote) wakes the loops at once
    // (migration 0008); without it they would find it on their next poll.
    // The notice names the table (migration 0008): an event wakes the inbox loop, a job the jobs loop;
    // with several processes every one hears every notice, and a loop woken for nothing polls for nothing.
    this.#unlisten = this.#o.db
      .listen('usher_work', (table) => this.wake(table === 'inbox_events' ? 'inbox' : table === 'jobs' ? 'jobs' : undefined))
      .catch((error: unknown) => {
        this.#o.log.warn({ err: error }, 'cannot listen for new work; polling only');
        return undefined;
      });
    this.#loops = [
      this.#loop('inbox', async () => {
        await this.#yieldToAcknowledgements();
        return this.runInboxOnce();
      }),
      this.#jobsLoop(),
    ];
  }

  /** Stop taking work, let the item in hand finish, hand back claimed jobs. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    await Promise.all(this.#loops);
    await (await this.#unlisten)?.();
    await releaseWorkerJobs(this.#o.db, this.id, this.#o.clock.now());
  }

  /** Wakes one loop, or both. */
  wake(only?: (typeof LOOPS)[number]): void {
    for (const loop of only ? [only] : LOOPS) {
      const wake = this.#wakers.get(loop);
      if (wake) wake();
      else this.#wokenMeanwhile.add(loop);
    }
  }

  /** Processes everything runnable now; for tests and `usher` one-shot commands. */
  async drain(maxItems = 10_000): Promise<number> {
    let n = 0;
    while (n < maxItems && ((await this.runInboxOnce()) || (await this.runJobOnce()))) n++;
    return n;
  }

  async #loop(name: string, step: () => Promise<boolean>): Promise<void> {
    while (this.#running) {
      let didWork = false;
      try {
        didWork = await step();
      } catch (error) {
        // The store is unreachable or similar: nothing was decided, so wait and try again.
        this.#o.log.error({ err: error, loop: name }, 'worker loop step failed');
      }
      if (!didWork && this.#running) await this.#idle(name);
    }
  }

  async #yieldToAcknowledgements(): Promise<void> {
    const pressed = this.#o.pressed;
    if (!pressed?.()) return;
    const until = performance.now() + (this.#o.yieldAtMostMs ?? 250);
    while (this.#running && pressed() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  #idle(loop: string): Promise<void> {
    if (this.#wokenMeanwhile.delete(loop)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(loop);
        resolve();
      };
      const timer = setTimeout(done, this.#o.pollIntervalMs);
      this.#wakers.set(loop, done);
    });
  }

  /**
   * Handles a batch of events in one transaction that holds their row locks: a crash releases them
   * untouched. The batch first runs whole; if any event fails, it is rolled back and run again with
   * a savepoint per event, so a failing event rolls back alone and its failed attempt is recorded
   * in the same commit as its neighbours' effects.
   */
  async runInboxOnce(): Promise<boolean> {
    const limit = this.#backlog ? this.#backlogBatchSize : this.#batchSize;
    let outcomes: string[];
    try {
      outcomes = await this.#inboxBatch(limit, false);
    } catch (error) {
      for (const hooks of this.#o.batchHooks ?? []) hooks.rolledBack?.();
      if (!(error instanceof BatchFailed)) throw error;
      // Said once per batch: a failing event is also logged by itself below, but a feature's finish
      // (a room choice's check, rooms/room-events.ts) fails no event, and would go unseen.
      this.#o.log.info({ reason: describeError(error.cause) }, 'batch runs again, one event at a time');
      outcomes = await this.#inboxBatch(limit, true);
    }
    for (const state of outcomes) this.#o.hooks?.onEvent?.(state);
    // No rest after a batch: the next one's claim waits on the store, and each event lets requests in first.
    this.#backlog = outcomes.length >= limit;
    return outcomes.length > 0;
  }

  async #inboxBatch(limit: number, isolate: boolean): Promise<string[]> {
    const batch = { committing: false };
    try {
      return await this.#inboxTransaction(limit, isolate, batch);
    } catch (error) {
      // Whole, the batch's writes may still be in flight when the commit is sent: a failure among
      // them fails the commit, and the batch then runs isolated as for any failed event.
      throw batch.committing && !(error instanceof BatchFailed) ? new BatchFailed(error) : error;
    }
  }

  #inboxTransaction(limit: number, isolate: boolean, batch: { committing: boolean }): Promise<string[]> {
    const { db, clock, log } = this.#o;
    return db.transaction(async (trx) => {
      const now = clock.now();
      const claimed = await lockInboxEvents(trx, now, limit, [...new Set(this.#recentDays.flat())]);
      this.#remember(claimed);
      const events = claimed.map((inboxEvent) => ({ inboxEvent, parsed: parseInboxEvent(inboxEvent) }));
      const reads = new BatchReads(events);
      // Every feature's statements go out at once, in this order, and share one round trip. When one
      // fails (a deadlock broken, a timeout) the others fail behind it: its error is the one thrown.
      if (events.length > 0)
        await allSent((this.#o.batchHooks ?? []).map((hooks) => hooks.prepare?.(trx, events, reads, { isolated: isolate })));
      const states: string[] = [];
      const finished: { id: number; state: 'done' | 'ignored' | 'unprocessable'; note: string | null }[] = [];
      for (const { inboxEvent: event, parsed } of events) {
        // The worker's JavaScript shares Node's one thread with the webhook route, and an
        // acknowledgement matters more than a decision a moment later: before each event, the
        // requests read meanwhile run (a batch of 32 events without rooms is ~15 ms of JavaScript
        // that awaits nothing). Measured against yielding only while webhooks were being stored:
        // p99 at 1,000 webhooks/s 39 and 32 ms against 49 and 55 (docs/benchmarks.md).
        await new Promise((resolve) => setImmediate(resolve));
        if (isolate) await trx.query('savepoint inbox_event');
        // Isolated, each event gets its own handle on the transaction: what a handler remembers per
        // transaction (the planning locks it holds, store/rooms.ts) its savepoint's rollback gives back.
        const eventTrx: Queryable = isolate ? { ...trx } : trx;
        try {
          const outcome = await handleInboxEvent(
            this.#o.eventHandlers,
            { trx: eventTrx, inboxEvent: event, now, stored: new Map(), batch: reads },
            parsed,
          );
          // Isolated, the event's writes sent without waiting (Queryable.later) must have succeeded
          // before its savepoint is released: a failure among them is this event's.
          if (isolate) await trx.settle?.();
          finished.push({ id: event.id, state: outcome.state, note: outcome.state === 'done' ? null : outcome.note });
          if (isolate) await trx.query('release savepoint inbox_event');
          states.push(outcome.state);
        } catch (error) {
          if (!isolate) throw new BatchFailed(error);
          // Writes of this event still in flight are rolled back with it; their errors, if any, too.
          await trx.settle?.().catch(() => {});
          await trx.query('rollback to savepoint inbox_event');
          for (const hooks of this.#o.batchHooks ?? []) hooks.rolledBack?.();
          const attempt = event.attempts + 1;
          const retryAt = new Date(now.getTime() + retryDelayMs(attempt, this.#o, this.#o.random));
          const state = await failInboxEvent(trx, event.id, describeError(error), retryAt, now);
          log.warn({ eventId: event.id, attempt, state, err: error }, 'event failed');
          states.push(state === 'dead' ? 'dead' : 'retry');
        }
      }
      // Whole, a write sent without waiting that failed, or a feature's finish, fails the batch, which then runs isolated.
      const finishing = events.length > 0 ? Promise.all((this.#o.batchHooks ?? []).map((hooks) => hooks.finish?.())) : undefined;
      if (isolate) await finishing;
      else {
        // Only the finishes are awaited (a room choice's check read), the gathered rows sent first:
        // the writes go on meanwhile, and the events' finish and the commit are sent behind them
        // without a round trip of their own (a lone event's decision: 4 → 3). A finish that failed
        // waits for the writes: one that failed aborted the transaction, so a check read behind it
        // failed too, and is told as the cause.
        trx.flush?.();
        await finishing?.catch((error: unknown) =>
          allSent([trx.settle?.(), Promise.reject(error)]).catch((cause: unknown) => Promise.reject(new BatchFailed(cause))),
        );
      }
      await finishInboxEvents(trx, finished, now);
      batch.committing = !isolate;
      return states;
    });
  }

  #remember(claimed: readonly InboxEvent[]): void {
    const days = [...new Set(claimed.flatMap((e) => (e.planDay === null ? [] : [e.planDay])))];
    if (days.length === 0) return;
    this.#recentDays.push(days);
    if (this.#recentDays.length > RECENT_BATCHES) this.#recentDays.shift();
  }

  /**
   * The outbox loop: claims jobs soonest booking first and runs up to jobsAtOnce of them. A job
   * claimed beside others may reach a budget before them, so beside the jobs in flight a kind is
   * claimed only if each of its budgets is spent by none of them, or has room for every job that may
   * be in flight twice over (a call, and the booking read a refused confirmation makes,
   * cal-jobs.ts). While a budget is scarce (Cal.com's 5 location writes a minute) its jobs run one at
   * a time and the soonest booking spends it first, with confirmations going beside them. A kind
   * without a shared budget (automations) runs one job at a time too, so its deliveries keep their
   * order. Several processes each read the room for themselves; across processes the order was
   * never strict (each claims its own soonest job).
   */
  async #jobsLoop(): Promise<void> {
    const inFlight = new Map<Promise<void>, string>();
    while (this.#running) {
      let jobs: Job[] = [];
      try {
        if (inFlight.size < this.#jobsAtOnce) jobs = await this.#claimJobs([...inFlight.values()]);
      } catch (error) {
        // The store is unreachable or similar: nothing was claimed, so wait and try again.
        this.#o.log.error({ err: error, loop: 'jobs' }, 'worker loop step failed');
      }
      if (jobs.length === 0) {
        if (this.#running) await this.#idle('jobs');
        continue;
      }
      for (const job of jobs) {
        const run: Promise<void> = this.#runJob(job)
          .catch((error: unknown) => this.#o.log.error({ err: error, loop: 'jobs', jobId: job.id }, 'worker loop step failed'))
          .finally(() => {
            inFlight.delete(run);
            this.wake('jobs');
          });
        inFlight.set(run, job.kind);
      }
    }
    await Promise.all(inFlight.keys());
  }

  /** Claims and runs the soonest job; false when none is runnable. */
  async runJobOnce(): Promise<boolean> {
    const [job] = await this.#claimJobs([]);
    if (!job) return false;
    await this.#runJob(job);
    return true;
  }

  /**
   * With nothing in flight, the soonest job; beside jobs of the kinds in flight, in one claim, a job
   * for every place of the kinds that may start several, and one of those that may start one.
   */
  async #claimJobs(inFlight: readonly string[]): Promise<Job[]> {
    const now = this.#o.clock.now();
    await this.#releaseStale(now);
    const kinds = this.#claimableKinds(now);
    if (inFlight.length === 0) {
      // Every kind this worker runs is waiting for its budget: nothing to ask the store for.
      if (kinds?.length === 0) return [];
      return claimJobs(this.#o.db, this.id, now, kinds, 1);
    }
    const { several, one } = await this.#kindsBeside(kinds ?? Object.keys(this.#o.jobHandlers), inFlight, now);
    if (several.length === 0 && one.length === 0) return [];
    return claimJobs(this.#o.db, this.id, now, several, this.#jobsAtOnce - inFlight.length, one);
  }

  /**
   * Of `kinds`, those that may start beside jobs of the kinds in flight (#jobsLoop): `several`,
   * whose every budget has room for all that may be in flight; `one`, of which one job in all may
   * start — kinds let in because no job in flight spends their scarce budget (a location write
   * beside confirmations), or that have no shared budget (an automation).
   */
  async #kindsBeside(kinds: readonly string[], inFlight: readonly string[], now: Date): Promise<{ several: string[]; one: string[] }> {
    const budgets = this.#o.sharedBudgets ?? new Map<string, readonly BucketLimit[]>();
    const spent = new Set(inFlight.flatMap((kind) => budgets.get(kind)?.map((b) => b.key) ?? [kind]));
    const shared = [...new Map(kinds.flatMap((kind) => budgets.get(kind) ?? []).map((b) => [b.key, b])).values()];
    const room = shared.length > 0 ? await readRateRoom(this.#o.db, shared, now) : new Map<string, number>();
    const roomy = (b: BucketLimit) => room.get(b.key)! >= 2 * this.#jobsAtOnce;
    const several: string[] = [];
    const one: string[] = [];
    for (const kind of kinds) {
      const own = budgets.get(kind);
      if (own?.every(roomy)) several.push(kind);
      else if (own ? own.every((b) => !spent.has(b.key) || roomy(b)) : !spent.has(kind)) one.push(kind);
    }
    return { several, one };
  }

  async #runJob(job: Job): Promise<void> {
    const { db, clock, log } = this.#o;
    const now = clock.now();
    const handler = this.#o.jobHandlers[job.kind];
    if (!handler) {
      await deadLetterJob(db, job.id, `no handler for job kind ${job.kind}`, null, clock.now());
      this.#o.hooks?.onJob?.(job.kind, 'dead');
      return;
    }
    try {
      const response = await handler(job, { now });
      await this.#completions.complete(job.id, response, clock.now());
      this.#o.hooks?.onJob?.(job.kind, 'done');
    } catch (error) {
      const after = clock.now();
      if (isUsherError(error, 'RATE_LIMITED')) {
        const retryAt = (error.detail as { retryAt: Date }).retryAt;
        await rescheduleJob(db, job.id, retryAt, after, { refund: true });
        if (this.#o.sharedBudgets?.has(job.kind)) this.#heldKinds.set(job.kind, retryAt.getTime());
        this.#o.hooks?.onJob?.(job.kind, 'waiting');
      } else if (error instanceof UsherError && error.retryable) {
        const retryAt = new Date(after.getTime() + retryDelayMs(job.attempts, this.#o, this.#o.random));
        const state = await rescheduleJob(db, job.id, retryAt, after, {
          error: describeError(error),
          response: error.detail ?? null,
        });
        log.warn({ jobId: job.id, kind: job.kind, attempt: job.attempts, state, err: describeError(error) }, 'job failed');
        this.#o.hooks?.onJob?.(job.kind, state === 'dead' ? 'dead' : 'retry');
      } else {
        await deadLetterJob(db, job.id, describeError(error), error instanceof UsherError ? error.detail : null, after);
        log.warn({ jobId: job.id, kind: job.kind, err: describeError(error) }, 'job dead-lettered');
        this.#o.hooks?.onJob?.(job.kind, 'dead');
      }
    }
  }

  /**
   * While some kinds are held, the kinds this worker has handlers for and that are not held; otherwise
   * undefined (any kind, so that one without a handler is found and dead-lettered — that waits while
   * a kind is held).
   */
  #claimableKinds(now: Date): string[] | undefined {
    for (const [kind, until] of this.#heldKinds) if (until <= now.getTime()) this.#heldKinds.delete(kind);
    if (this.#heldKinds.size === 0) return undefined;
    return Object.keys(this.#o.jobHandlers).filter((kind) => !this.#heldKinds.has(kind));
  }

  async #releaseStale(now: Date): Promise<void> {
    const lease = (this.#o.jobLeaseSeconds ?? 300) * 1000;
    if (now.getTime() - this.#lastStaleCheck < Math.min(lease, 30_000)) return;
    this.#lastStaleCheck = now.getTime();
    const released = await releaseStaleJobs(this.#o.db, new Date(now.getTime() - lease), now);
    if (released > 0) this.#o.log.warn({ released }, 'released jobs orphaned by a stopped worker');
  }
}
