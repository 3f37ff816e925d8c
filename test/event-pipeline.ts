import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config.ts';
import { gateEventHandler } from '../src/gate/gate-handler.ts';
import type { GateDeps } from '../src/gate/decide-request.ts';
import { gateBatchHooks } from '../src/gate/gate-batch.ts';
import { bookingBatchHooks, recordBookingState, type BatchHooks, type EventHandler } from '../src/jobs/handle-event.ts';
import { Worker } from '../src/jobs/worker.ts';
import type { Logger } from 'pino';
import { createLogger } from '../src/log.ts';
import { bookingPayload, envelopeBody, type PayloadBooking } from '../src/sandbox/payloads.ts';
import { insertInboxEvents } from '../src/store/inbox.ts';
import type { Db } from '../src/store/db.ts';
import { FakeClock } from './clock.ts';

/** Gate settings from YAML, as an operator would write them (faults fail the test at once). */
export function gateDeps(yaml: string, timeZone = 'Europe/London'): GateDeps {
  const result = loadConfig(
    { CAL_WEBHOOK_SECRET: 'x', USHER_ADMIN_TOKEN: 'admin-token-0123456789', USHER_CONFIG: '/nonexistent' },
    { yamlText: yaml },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  return { settings: result.config.gate, timeZone, maxAttempts: 3 };
}

/**
 * Feeds Cal.com events into the inbox and runs the real event pipeline (booking state, the gate,
 * and any other handlers given) on them; outbox jobs stay pending for the test to read.
 */
export class EventPipeline {
  readonly db: Db;
  readonly clock: FakeClock;
  readonly worker: Worker;

  constructor(
    db: Db,
    deps: GateDeps,
    clock = new FakeClock(),
    extraHandlers: EventHandler[] = [],
    roomHooks?: BatchHooks,
    log: Logger = createLogger('silent'),
  ) {
    this.db = db;
    this.clock = clock;
    this.worker = new Worker({
      db,
      clock,
      log,
      eventHandlers: [recordBookingState, gateEventHandler(deps), ...extraHandlers],
      // As main.ts wires them: the rooms' days, then the bookings and the gate's reads.
      batchHooks: [...(roomHooks ? [roomHooks] : []), bookingBatchHooks, gateBatchHooks],
      jobHandlers: {},
      pollIntervalMs: 50,
      backoffBaseSeconds: 1,
      backoffMaxSeconds: 10,
      random: () => 0,
    });
  }

  async deliver(
    trigger: string,
    b: PayloadBooking,
    options: { viaConfirm?: boolean; extra?: Record<string, unknown>; createdAt?: Date } = {},
  ): Promise<void> {
    await this.store(trigger, b, options);
    await this.run();
  }

  /** Any raw body (no-show, meeting events), as Cal.com would send it. */
  async deliverBody(trigger: string, bookingUid: string, rawBody: string): Promise<void> {
    await insertInboxEvents(this.db, [
      {
        dedupeKey: randomUUID(),
        trigger,
        bookingUid,
        source: 'webhook',
        rawBody,
        state: 'pending',
        maxAttempts: 3,
        receivedAt: this.clock.now(),
      },
    ]);
    await this.run();
  }

  /** Stores without processing (several events then one run). */
  async store(
    trigger: string,
    b: PayloadBooking,
    options: { viaConfirm?: boolean; extra?: Record<string, unknown>; createdAt?: Date } = {},
  ): Promise<void> {
    const payload = { ...bookingPayload(b, trigger, options.viaConfirm ? { viaConfirm: true } : {}), ...options.extra };
    await insertInboxEvents(this.db, [
      {
        dedupeKey: randomUUID(),
        trigger,
        bookingUid: b.uid,
        source: 'webhook',
        rawBody: envelopeBody(trigger, payload, options.createdAt ?? this.clock.now()),
        state: 'pending',
        maxAttempts: 3,
        receivedAt: this.clock.now(),
      },
    ]);
  }

  async run(): Promise<void> {
    while (await this.worker.runInboxOnce()) {
      // until the inbox has nothing runnable
    }
  }
}
