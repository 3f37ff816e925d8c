import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CalClient } from './cal/api-client.ts';
import { createCalClient, createRateLimiter } from './create-cal-client.ts';
import { automationJobHandler } from './automations/automation-delivery.ts';
import { AUTOMATION_JOB, automationEventHandler, dispatchUsherEvents } from './automations/automation-dispatch.ts';
import { BoardAuth } from './board/board-auth.ts';
import { BoardFeed } from './board/board-feed.ts';
import { BoardViews, boardView, boardViewDelta, type BoardDeps, type BoardView } from './board/board-view.ts';
import type { Config } from './config.ts';
import { buildApp } from './http/app.ts';
import { localOperations, operationDeps } from './operations/local-operations.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { calJobBudgets, calJobHandlers } from './jobs/cal-jobs.ts';
import { bookingBatchHooks, recordBookingState } from './jobs/handle-event.ts';
import { seriesCheckHandler } from './jobs/series-check.ts';
import { PeriodicTask } from './jobs/periodic-task.ts';
import { Worker } from './jobs/worker.ts';
import { middayOfLocalDate } from './domain/calendar-period.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Db } from './store/db.ts';
import { InboxWriter } from './store/inbox.ts';
import { releaseStaleJobs } from './store/jobs.ts';
import { migrate } from './store/migrate.ts';
import { openStore, type OpenedStore } from './store/open-store.ts';
import { feedDifferences, reconcile, type ReconcileResult } from './cal/reconciler.ts';
import { reconcilerStore } from './store/reconciler-store.ts';
import { gateEventHandler } from './gate/gate-handler.ts';
import { gateBatchHooks } from './gate/gate-batch.ts';
import { roomBatchHooks, roomEventHandler } from './rooms/room-events.ts';
import { renderFeed } from './insights/calendar-feed.ts';
import { bookingPresenter } from './rooms/room-board.ts';
import { replanUpcoming, syncConfigRooms } from './rooms/room-operations.ts';
import { markLocationWritten, pruneRemovedStays } from './store/rooms.ts';

/**
 * Webhooks waiting for their insert at which the worker lets them go first (Worker pressed): at
 * 1,000/s a handful wait at any time, flat out as many as Cal.com has connections open.
 */
const ACKNOWLEDGEMENTS_FIRST = 16;

export interface Usher {
  app: FastifyInstance;
  db: Db;
  worker: Worker;
  cal: CalClient;
  metrics: Metrics;
  /** The live board of this process (its viewers, for health and tests). */
  board: BoardFeed<BoardView>;
  url: string;
  /** One reconciliation pass now (also run every `reconciler.intervalSeconds`). */
  reconcile(): Promise<ReconcileResult>;
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  clock?: Clock;
  /** Run the worker loops (off for tests that drive the worker by hand). */
  runWorker?: boolean;
  /** An already-open store (tests); otherwise opened from the config and closed on close(). */
  db?: Db;
  /** Check every admin API answer against its documented schema (tests; see http/app.ts). */
  validateResponses?: boolean;
}

/** The composition root: config → store → worker + HTTP. */
export async function startUsher(config: Config, options: StartOptions): Promise<Usher> {
  const { log } = options;
  const clock = options.clock ?? systemClock;
  const store: OpenedStore | undefined = options.db ? undefined : await openStore(config, 'serve', (message) => log.info(message));
  const db = options.db ?? store!.db;
  try {
    const migrated = await migrate(db);
    if (migrated.applied.length > 0) log.info({ applied: migrated.applied }, 'migrations applied');
    if (store?.lock) {
      // The embedded store has one process: whatever the last one left running is orphaned now.
      await releaseStaleJobs(db, clock.now(), clock.now());
    }
    if (!config.cal.webhookSecret) {
      log.warn(
        '!!! USHER_ALLOW_UNSIGNED_WEBHOOKS=true: webhooks are accepted WITHOUT a signature check. Anyone who can reach /webhooks/cal can forge bookings. Never run like this in production. !!!',
      );
    }
    if (!config.cal.apiKey) log.warn('CAL_API_KEY is not set: jobs that call Cal.com will wait and retry until it is');

    const metrics = createMetrics(db, () => clock.now());
    const limiter = createRateLimiter(config, db, clock);
    const cal = createCalClient(config, db, clock, metrics, limiter);
    const jobBudgets = calJobBudgets(limiter);
    const inbox = new InboxWriter(db);
    const { gate, rooms } = operationDeps(config);
    const synced = await syncConfigRooms(db, config.rooms, rooms, clock.now());
    if (synced.deactivated.length || synced.replan?.moves.length)
      log.info({ deactivated: synced.deactivated, moved: synced.replan?.movedCount ?? 0 }, 'rooms synced from the config');
    let running: Promise<ReconcileResult> | undefined;
    const reconcileOnce = () => {
      // One pass at a time per process: a slow Cal.com must not stack passes up.
      running ??= reconcile(
        cal,
        reconcilerStore(db, config.worker.maxAttempts, () => worker.wake()),
        () => clock.now(),
      ).finally(() => {
        running = undefined;
      });
      return running;
    };
    const worker = new Worker({
      db,
      clock,
      log: log.child({ component: 'worker' }),
      eventHandlers: [
        recordBookingState,
        seriesCheckHandler(config.worker.maxAttempts),
        gateEventHandler(gate),
        roomEventHandler(rooms),
        automationEventHandler(config.automations, config.worker.maxAttempts),
      ],
      jobHandlers: {
        ...calJobHandlers(cal, {
          onLocationWritten: (uid, address) => markLocationWritten(db, uid, address),
          onSeriesListed: (bookings) =>
            feedDifferences(
              reconcilerStore(db, config.worker.maxAttempts, () => worker.wake()),
              bookings,
              () => clock.now(),
            ),
        }),
        [AUTOMATION_JOB]: automationJobHandler({ db, automations: config.automations }),
      },
      sharedBudgets: jobBudgets,
      jobsAtOnce: config.worker.jobsAtOnce,
      pollIntervalMs: config.worker.pollIntervalMs,
      batchSize: config.worker.batchSize,
      backlogBatchSize: config.worker.backlogBatchSize,
      batchHooks: [roomBatchHooks(rooms), bookingBatchHooks, gateBatchHooks],
      backoffBaseSeconds: config.worker.backoffBaseSeconds,
      backoffMaxSeconds: config.worker.backoffMaxSeconds,
      // A burst of webhooks is acknowledged before more decisions are made (bench:ingest flat out:
      // 5,859/s with the worker stopped, ~4,000 with it taking its share of Node's thread).
      pressed: () => inbox.waiting >= ACKNOWLEDGEMENTS_FIRST,
      hooks: {
        onEvent: (state) => metrics.eventsProcessed.inc({ state }),
        onJob: (kind, state) => metrics.jobsProcessed.inc({ kind, state }),
      },
    });
    const eventTypeTitles = Object.fromEntries(Object.entries(config.eventTypes).map(([id, t]) => [id, t.title]));
    const present = bookingPresenter({ showNames: config.board.showNames, eventTypeTitles });
    const boardDeps: BoardDeps = {
      timeZone: config.timeZone,
      title: config.board.title,
      present,
      bucketsFor: (kind) => jobBudgets.get(kind) ?? limiter.bucketsFor('bookings.get'),
    };
    const views = new BoardViews(boardDeps);
    const feed = new BoardFeed({
      db,
      log: log.child({ component: 'board' }),
      compute: () => views.view(db, clock.now()),
      diff: boardViewDelta,
    });
    await feed.start();
    const app = await buildApp({
      db,
      log,
      metrics,
      inbox,
      now: () => clock.now(),
      webhookSecret: config.cal.webhookSecret,
      adminToken: config.adminToken,
      trustProxy: config.trustProxy,
      webhooks: config.webhooks,
      maxAttempts: config.worker.maxAttempts,
      wakeWorker: (loop) => worker.wake(loop),
      ops: (actor) =>
        localOperations({
          db,
          config,
          now: () => clock.now(),
          cal: () => cal,
          reconcile: reconcileOnce,
          actor,
          onChange: () => worker.wake(),
        }),
      timeZone: config.timeZone,
      cal,
      validateResponses: options.validateResponses ?? false,
      board: {
        auth: new BoardAuth(db, config.board, config.adminToken),
        feed,
        title: config.board.title,
        present,
        dayView: (date) => boardView(db, boardDeps, middayOfLocalDate(date, config.timeZone)),
      },
      calendars: {
        publicUrl: config.publicUrl,
        renderFeed: (f) =>
          renderFeed(
            db,
            f,
            {
              settings: config.calendars,
              timeZone: config.timeZone,
              title: config.board.title,
              present: (showNames) => bookingPresenter({ showNames, eventTypeTitles }),
            },
            clock.now(),
          ),
      },
    });
    const address = await app.listen({ port: config.port, host: config.host });
    const url = address.replace('[::1]', '127.0.0.1');
    store?.lock?.setAdminUrl(url);
    if (options.runWorker ?? true) worker.start();
    const background = options.runWorker ?? true;
    const periodic: PeriodicTask[] = [];
    if (background && config.cal.apiKey && config.reconciler.intervalSeconds > 0) {
      periodic.push(
        new PeriodicTask({
          name: 'reconciliation',
          everyMs: config.reconciler.intervalSeconds * 1000,
          log,
          run: async () => {
            const r = await reconcileOnce();
            if (r.fed > 0) log.info({ ...r }, 'reconciler fed missed changes into the inbox');
          },
        }),
      );
    }
    if (background) {
      // Usher's own events (room.moved, job.dead, …) become automation deliveries here.
      periodic.push(
        new PeriodicTask({
          name: 'the automation dispatch',
          everyMs: Math.min(config.worker.pollIntervalMs, 500),
          log,
          run: async () => {
            // Deliveries are jobs.
            if ((await dispatchUsherEvents(db, config.automations, config.worker.maxAttempts, clock.now())) > 0) worker.wake('jobs');
          },
        }),
      );
    }
    if (background) {
      // Kept days read what changed since they were read (migration 0016); a day further behind than
      // the last 100,000 removed stays is read whole instead.
      periodic.push(
        new PeriodicTask({ name: 'pruning the log of removed stays', everyMs: 60_000, log, run: () => pruneRemovedStays(db, 100_000) }),
      );
    }
    if (background && config.roomSettings.replanIntervalSeconds > 0) {
      // Waiting bookings try again even when no event frees a room (a block ran out, say).
      periodic.push(
        new PeriodicTask({
          name: 'the periodic re-plan',
          everyMs: config.roomSettings.replanIntervalSeconds * 1000,
          log,
          run: async () => {
            const r = await replanUpcoming(db, rooms, clock.now(), 'periodic');
            if (!r || r.moves.length === 0) return;
            worker.wake();
            log.info({ moved: r.movedCount, placed: r.moves.filter((m) => m.why === 'placed').length }, 'periodic re-plan changed rooms');
          },
        }),
      );
    }
    log.info({ url, store: db.kind }, 'usher is listening');

    let closing: Promise<void> | undefined;
    return {
      app,
      db,
      worker,
      cal,
      metrics,
      board: feed,
      url,
      reconcile: reconcileOnce,
      close() {
        closing ??= (async () => {
          // Each step says what it waits for, so a stop that takes long shows where it is.
          const step = async (what: string, work: () => Promise<unknown>) => {
            const started = performance.now();
            log.info(`stopping: ${what}`);
            await work();
            log.info({ ms: Math.round(performance.now() - started) }, `stopped: ${what}`);
          };
          await step('the periodic passes in hand (reconciliation, automation dispatch, re-plan)', () =>
            Promise.all(periodic.map((p) => p.stop())),
          );
          await step(`the board's live streams (${feed.viewers} open)`, () => feed.close());
          await step('HTTP: no new requests, finishing the ones in flight', () => app.close());
          await step('the worker: the batch and the Cal.com call in hand, then handing back claimed jobs', () => worker.stop());
          if (store)
            await step(
              store.server ? 'the store, and the embedded PostgreSQL server (a fast shutdown: every commit is on disk)' : 'the store',
              () => store!.close(),
            );
        })();
        return closing;
      },
    };
  } catch (error) {
    await store?.close();
    throw error;
  }
}
