import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';

export const BOARD_CHANNEL = 'usher_board';

export type BoardListener = (json: string) => void;

export interface BoardFeedOptions {
  db: Db;
  log: Logger;
  /** The view as JSON (computed once per change for every viewer of this process). */
  compute: () => Promise<string>;
  /** Changes arriving closer together than this are shown together. */
  settleMs?: number;
  /** Time alone changes the board (in use → cleaning → free): recompute this often while watched. */
  tickMs?: number;
}

/**
 * The live board of one process. Every write to a table the board reads fires NOTIFY (migration
 * 0005), whichever process made it; each process LISTENs once, recomputes at most once per settle
 * period while anyone watches, and sends the new view only when it differs from the last one sent.
 */
export class BoardFeed {
  readonly #o: Required<BoardFeedOptions>;
  readonly #listeners = new Set<BoardListener>();
  #last: string | undefined;
  #stale = true;
  #timer: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(o: BoardFeedOptions) {
    this.#o = { settleMs: 100, tickMs: 15_000, ...o };
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#o.db.listen(BOARD_CHANNEL, () => this.changed());
  }

  get viewers(): number {
    return this.#listeners.size;
  }

  /** Adds a viewer and sends it the current view at once (a reconnect needs nothing else). */
  async subscribe(listener: BoardListener): Promise<() => void> {
    this.#listeners.add(listener);
    this.#ticker ??= setInterval(() => this.changed(), this.#o.tickMs).unref();
    if (this.#stale || this.#last === undefined) await this.#refresh();
    if (this.#last !== undefined && this.#listeners.has(listener)) listener(this.#last);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#ticker) {
        clearInterval(this.#ticker);
        this.#ticker = undefined;
      }
    };
  }

  /** Something the board shows may have changed (a NOTIFY, or the clock). */
  changed(): void {
    this.#stale = true;
    if (this.#closed || this.#listeners.size === 0 || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#refresh();
    }, this.#o.settleMs);
  }

  #refresh(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        this.#stale = false;
        try {
          const json = await this.#o.compute();
          if (json !== this.#last) {
            this.#last = json;
            for (const listener of this.#listeners) listener(json);
          }
        } catch (error) {
          // The viewers keep the last view; the next change or tick tries again.
          this.#stale = true;
          this.#o.log.warn({ err: error }, 'board view failed; keeping the last one');
        }
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#listeners.clear();
    await this.#running;
    await this.#unlisten?.();
  }
}
