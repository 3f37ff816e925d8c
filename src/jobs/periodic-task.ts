import type { Logger } from 'pino';

/**
 * Work that runs every so often beside the worker (reconciliation, the automation dispatch, the
 * periodic re-plan). One pass at a time: a tick that finds the last pass still running is skipped,
 * so a slow Cal.com or store never stacks passes up. A failed pass is logged and the next tick
 * retries. The timer never keeps the process alive; stop() waits for the pass in hand.
 */
export class PeriodicTask {
  readonly #name: string;
  readonly #run: () => Promise<unknown>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(o: { name: string; everyMs: number; run: () => Promise<unknown>; log: Logger }) {
    this.#name = o.name;
    this.#run = o.run;
    this.#log = o.log;
    this.#timer = setInterval(() => void this.runOnce(), o.everyMs);
    this.#timer.unref();
  }

  /** One pass now, or the one already running. */
  runOnce(): Promise<unknown> {
    this.#running ??= this.#run()
      .catch((error: unknown) => this.#log.warn({ err: error }, `${this.#name} failed; the next pass retries`))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
