import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import type { Delta } from 'jsondiffpatch';
import { viewDelta, type ViewPatchMessage } from './view-patch.ts';

export const BOARD_CHANNEL = 'usher_board';

/** One server-sent event: the whole view (`view`, on connect) or how the last one changed (`patch`). */
export interface BoardMessage {
  event: 'view' | 'patch';
  data: string;
}

export type BoardListener = (message: BoardMessage) => void;

export interface BoardFeedOptions<V = unknown> {
  db: Db;
  log: Logger;
  /** The view (computed once per change for every viewer of this process). */
  compute: () => Promise<V>;
  /** How the last view became this one (undefined: no difference); jsondiffpatch's whole diff by default. */
  diff?: (before: V, after: V) => Delta | undefined;
  /** Changes arriving closer together than this are shown together. */
  settleMs?: number;
  /** Time alone changes the board (in use → cleaning → free): recompute this often while watched. */
  tickMs?: number;
}

/**
 * The live board of one process. Every write to a table the board reads fires NOTIFY (migration
 * 0005), whichever process made it; each process LISTENs once, recomputes at most once per settle
 * period while anyone watches, and when the view differs from the last one sends every viewer the
 * same delta (view-patch.ts), worked out once: a viewer gets the whole view only when it connects.
 */
export class BoardFeed<V = unknown> {
  readonly #o: Required<BoardFeedOptions<V>>;
  readonly #listeners = new Set<BoardListener>();
  /** The last view as it was computed (to diff), as JSON once a viewer connects, and its number. */
  #lastView: V | undefined;
  #lastJson: string | undefined;
  #version = 0;
  #stale = true;
  #timer: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(o: BoardFeedOptions<V>) {
    this.#o = { settleMs: 100, tickMs: 15_000, diff: viewDelta, ...o };
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
    if (this.#stale || this.#lastView === undefined) await this.#refresh();
    // Patches sent to it before this (while the first view was computed) it ignores: it has no view yet.
    if (this.#lastView !== undefined && this.#listeners.has(listener)) {
      this.#lastJson ??= JSON.stringify(this.#lastView);
      listener({ event: 'view', data: `{"version":${this.#version},"view":${this.#lastJson}}` });
    }
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
          const view = await this.#o.compute();
          // The first view is sent by subscribe() to each viewer waiting for it.
          const delta = this.#lastView === undefined ? undefined : this.#o.diff(this.#lastView, view);
          if (this.#lastView === undefined || delta) {
            const from = this.#version;
            this.#version += 1;
            this.#lastView = view;
            this.#lastJson = undefined;
            if (delta) {
              const message: BoardMessage = {
                event: 'patch',
                data: JSON.stringify({ from, to: this.#version, delta } satisfies ViewPatchMessage),
              };
              for (const listener of this.#listeners) listener(message);
            }
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
