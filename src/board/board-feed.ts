import type { Delta } from 'jsondiffpatch';
import type { Logger } from 'pino';
import type { Db, Session } from '../store/db.ts';
import { BOARD_VIEW_CHANNEL, publishBoardView, readBoardFeed, releaseBoard, tryLeadBoard } from '../store/shared-board.ts';
import { patchViewInPlace, viewDelta, type ViewPatchMessage } from './view-patch.ts';

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
  /** The view (computed once per change, by one process, for every viewer of every process). */
  compute: () => Promise<V>;
  /** How the last view became this one (undefined: no difference); jsondiffpatch's whole diff by default. */
  diff?: (before: V, after: V) => Delta | undefined;
  /** Changes arriving closer together than this are shown together. */
  settleMs?: number;
  /** Time alone changes the board (in use → cleaning → free): recompute this often while watched. */
  tickMs?: number;
  /** The computing process publishes the whole view again after this many patches (store/shared-board.ts). */
  wholeEvery?: number;
}

/**
 * The live board, shared by every process on one store. Every write to a table the board reads
 * fires NOTIFY (migration 0005), whichever process made it. Of the processes that have viewers, one
 * computes: it holds the board's session lock (store/shared-board.ts), recomputes at most once per
 * settle period, and publishes how the view changed — once, as the patch every viewer gets — to the
 * store's board feed. Every other process applies the published patches to its copy of the view
 * and passes them on to its viewers as they are; a viewer gets the whole view only when it connects.
 *
 * A computing process whose last viewer leaves, that stops, or whose connection breaks lets go of
 * the lock, and another process with viewers takes it over at the next change, tick or notice,
 * carrying on from the last version published (its viewers see no seam).
 */
export class BoardFeed<V = unknown> {
  readonly #o: Required<BoardFeedOptions<V>>;
  readonly #listeners = new Set<BoardListener>();
  /** Viewers that have not had a whole view yet (patches mean nothing to them). */
  readonly #needView = new Set<BoardListener>();
  /** The view this process shows (computed here, or patched from the feed), its JSON once asked for, and its version. */
  #view: V | undefined;
  #viewJson: string | undefined;
  #version = 0;
  #patchesSinceWhole = 0;
  /** While this process has viewers: the connection that tries for (or holds) the computing role. */
  #session: Session | undefined;
  #leading = false;
  #computed = 0;
  #stale = true;
  #timer: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  /** Computing, catching up and stepping down take turns. */
  #turn: Promise<void> = Promise.resolve();
  readonly #unlisten: (() => Promise<void>)[] = [];
  #closed = false;

  constructor(o: BoardFeedOptions<V>) {
    this.#o = { settleMs: 100, tickMs: 15_000, wholeEvery: 100, diff: viewDelta, ...o };
  }

  async start(): Promise<void> {
    this.#unlisten.push(await this.#o.db.listen(BOARD_CHANNEL, () => this.changed()));
    this.#unlisten.push(await this.#o.db.listen(BOARD_VIEW_CHANNEL, (payload) => this.#published(payload)));
  }

  get viewers(): number {
    return this.#listeners.size;
  }

  /** Whether this process computes the board for every process now. */
  get computing(): boolean {
    return this.#leading;
  }

  /** How many views this process has computed (the others only applied patches). */
  get computed(): number {
    return this.#computed;
  }

  /** Adds a viewer and sends it the current view at once (a reconnect needs nothing else). */
  async subscribe(listener: BoardListener): Promise<() => void> {
    this.#listeners.add(listener);
    this.#needView.add(listener);
    this.#ticker ??= setInterval(() => this.changed(), this.#o.tickMs).unref();
    await this.#inTurn(() => this.#bringUpToDate(this.#stale || this.#view === undefined));
    // Unless a whole view reached it meanwhile; without a view yet, it gets the first one published.
    if (this.#view !== undefined && this.#needView.delete(listener)) listener(this.#wholeMessage());
    return () => {
      this.#listeners.delete(listener);
      this.#needView.delete(listener);
      if (this.#listeners.size > 0) return;
      if (this.#ticker) clearInterval(this.#ticker);
      this.#ticker = undefined;
      void this.#inTurn(() => this.#stepDown());
    };
  }

  /** Something the board shows may have changed (a NOTIFY, or the clock). */
  changed(): void {
    this.#stale = true;
    if (this.#closed || this.#listeners.size === 0 || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A process that does not compute only tries to take over (the one computing may have died):
      // what the change did reaches it as the computing process's notice (#published), read once.
      void this.#inTurn(() => this.#bringUpToDate(true, false));
    }, this.#o.settleMs);
  }

  /** The computing process published a version, or let go of the role. */
  #published(payload: string): void {
    if (this.#closed || this.#listeners.size === 0) return;
    if (payload === 'released') void this.#inTurn(() => this.#bringUpToDate(true));
    else if (!this.#leading) void this.#inTurn(() => this.#catchUp());
  }

  #inTurn(fn: () => Promise<void>): Promise<void> {
    const run = this.#turn.then(fn).catch((error: unknown) => {
      // The viewers keep the last view; the next change or tick tries again.
      this.#stale = true;
      this.#o.log.warn({ err: error }, 'board view failed; keeping the last one');
    });
    this.#turn = run;
    return run;
  }

  /** Computes if this process computes (or can take that over), else follows what was published. */
  async #bringUpToDate(recompute: boolean, follow = true): Promise<void> {
    if (this.#closed || this.#listeners.size === 0) return;
    if (await this.#lead()) {
      if (recompute || this.#view === undefined) await this.#compute();
    } else if (follow || this.#view === undefined) await this.#catchUp();
  }

  async #lead(): Promise<boolean> {
    if (this.#leading) return true;
    if (!this.#session) {
      const session = await this.#o.db.session();
      this.#session = session;
      void session.lost.then(() => this.#lost(session));
    }
    if (!(await tryLeadBoard(this.#session))) return false;
    this.#leading = true;
    // Carry on from the last version published, by whichever process computed it.
    await this.#catchUp();
    this.#patchesSinceWhole = this.#o.wholeEvery;
    return true;
  }

  async #compute(): Promise<void> {
    this.#stale = false;
    const view = await this.#o.compute();
    this.#computed += 1;
    const delta = this.#view === undefined ? undefined : this.#o.diff(this.#view, view);
    if (this.#view !== undefined && !delta) return;
    const version = this.#version + 1;
    const patch = delta ? JSON.stringify({ from: this.#version, to: version, delta } satisfies ViewPatchMessage) : null;
    const whole = patch === null || this.#patchesSinceWhole >= this.#o.wholeEvery ? JSON.stringify(view) : null;
    try {
      await publishBoardView(this.#session!, { version, patch, whole });
    } catch (error) {
      // Another process computes now (this one lost its lock without noticing): follow it instead.
      this.#o.log.warn({ err: error }, 'board view not published; following the process that computes');
      this.#endSession();
      this.#stale = true;
      await this.#catchUp();
      return;
    }
    this.#patchesSinceWhole = whole === null ? this.#patchesSinceWhole + 1 : 0;
    this.#show(version, view, whole ?? undefined, patch);
  }

  /**
   * Applies what was published after this process's version, passing each patch on to its viewers;
   * with no view yet (or fallen behind past what the feed keeps) it starts from the newest whole
   * view and its viewers get the end of the chain whole, not every step from there.
   */
  async #catchUp(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const fresh = this.#view === undefined;
      const entries = await readBoardFeed(this.#o.db, fresh ? undefined : this.#version);
      let broken = false;
      for (const entry of entries) {
        if (this.#view !== undefined && entry.version === this.#version + 1 && entry.patch !== null) {
          const { delta } = JSON.parse(entry.patch) as ViewPatchMessage;
          this.#show(entry.version, patchViewInPlace(this.#view, delta), entry.whole ?? undefined, fresh ? undefined : entry.patch);
        } else if (entry.whole !== null) {
          this.#show(entry.version, JSON.parse(entry.whole) as V, entry.whole, fresh ? undefined : null);
        } else {
          broken = true;
          break;
        }
      }
      if (!broken) {
        if (fresh && this.#view !== undefined) this.#show(this.#version, this.#view, this.#viewJson, null);
        return;
      }
      // Fell behind past what the feed keeps: start again from its newest whole view.
      this.#view = undefined;
    }
  }

  /**
   * Makes `view` this process's view and tells its viewers: by the patch, whole when there is none
   * (null), or not yet (undefined: more is coming).
   */
  #show(version: number, view: V, json: string | undefined, patch: string | null | undefined): void {
    this.#version = version;
    this.#view = view;
    this.#viewJson = json;
    if (patch === undefined) return;
    if (patch === null) this.#needView.clear();
    const message: BoardMessage = patch !== null ? { event: 'patch', data: patch } : this.#wholeMessage();
    for (const listener of this.#listeners) if (!this.#needView.has(listener)) listener(message);
  }

  #wholeMessage(): BoardMessage {
    this.#viewJson ??= JSON.stringify(this.#view);
    return { event: 'view', data: `{"version":${this.#version},"view":${this.#viewJson}}` };
  }

  /** No viewers here any more: let another process compute, and close the connection kept for it. */
  async #stepDown(): Promise<void> {
    if (this.#listeners.size > 0) return;
    const leading = this.#leading;
    this.#endSession();
    if (leading) await releaseBoard(this.#o.db);
  }

  #endSession(): void {
    this.#leading = false;
    this.#session?.end();
    this.#session = undefined;
  }

  #lost(session: Session): void {
    if (this.#session !== session) return;
    this.#o.log.warn('the board lost its connection to the store; trying again');
    this.#leading = false;
    this.#session = undefined;
    this.changed();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#listeners.clear();
    this.#needView.clear();
    await this.#turn;
    await this.#stepDown().catch(() => {});
    for (const unlisten of this.#unlisten.splice(0)) await unlisten();
  }
}
