import type { RoomIndex } from './room-index.ts';
import { occupancy } from './room-model.ts';

class SearchAborted extends Error {}

interface Option {
  room: string;
  ejects: string[];
  cost: number;
  /** The soft cost, worked out only for the booking the node actually branches on. */
  soft?: number;
}

/**
 * Iterative deepening over (bookings left without a room, moves) with ejection chains: a booking
 * goes into a room and the movable bookings overlapping it there join the queue. Why the first plan
 * at the smallest budget is optimal: see replanRooms in replan-rooms.ts.
 */
export class EjectionSearch {
  nodes = 0;
  readonly #index: RoomIndex;
  readonly #original: Map<string, string | undefined>;
  readonly #allowed: (uid: string) => string[];
  readonly #inSearch = new Set<string>();
  /**
   * Every booking whose room may differ from its original one: those already moved when a search
   * starts, and whatever the search touches. moves() counts over these instead of every booking
   * (it runs at each node; a clinic day has thousands of bookings and a search touches dozens).
   */
  #touched = new Set<string>();
  /**
   * Each queued booking's options, room by room, with the room's version when worked out (a search
   * node asks them for every queued booking and every room it may use; between two nodes only the
   * rooms the last step placed in or ejected from change). An option depends only on the room's
   * stays: who overlaps, whether they may move (placed by this search means placed in that room, a
   * version ago) and whether they moved already (they are in this room, not their own).
   */
  readonly #optionCache = new Map<string, { versions: number[]; options: (Option | null)[] }>();
  #limit = 0;
  #overBudget = Number.POSITIVE_INFINITY;
  #dropsWouldHelp = false;

  constructor(index: RoomIndex, original: Map<string, string | undefined>, allowed: (uid: string) => string[]) {
    this.#index = index;
    this.#original = original;
    this.#allowed = allowed;
    this.#resetTouched([]);
  }

  moves(): number {
    let n = 0;
    for (const uid of this.#touched) {
      const room = this.#original.get(uid);
      if (room !== undefined && this.#index.placement.get(uid) !== room) n++;
    }
    return n;
  }

  /** Starts the touched set from the index as it stands (other planners may have changed it). */
  #resetTouched(pending: readonly string[]): void {
    this.#touched = new Set(pending);
    for (const [uid, room] of this.#original) if (room !== undefined && this.#index.placement.get(uid) !== room) this.#touched.add(uid);
  }

  /** One bounded attempt; the index holds the plan when it returns true, and is unchanged otherwise. */
  run(pending: readonly string[], budget: number, drops: number, nodeLimit: number): boolean {
    this.#limit = this.nodes + nodeLimit;
    this.#resetTouched(pending);
    const before = new Map(this.#index.placement);
    try {
      return this.#search([...pending], budget, drops);
    } catch (error) {
      if (!(error instanceof SearchAborted)) throw error;
      this.#restore(before);
      return false;
    }
  }

  /** An aborted search leaves its half-made plan behind (it unwinds by exception): put things back. */
  #restore(snapshot: ReadonlyMap<string, string>): void {
    const index = this.#index;
    for (const [uid, room] of [...index.placement]) if (snapshot.get(uid) !== room) index.remove(uid);
    for (const [uid, room] of snapshot) if (index.placement.get(uid) !== room) index.place(uid, room);
    this.#inSearch.clear();
    this.#optionCache.clear();
  }

  /** The optimum over (drops, moves), or false when the node limit is reached first. */
  solve(pending: readonly string[], nodeLimit: number): boolean {
    this.#limit = this.nodes + nodeLimit;
    this.#resetTouched(pending);
    const before = new Map(this.#index.placement);
    try {
      for (let drops = 0; drops <= pending.length; drops++) {
        let budget = this.moves();
        for (;;) {
          this.#overBudget = Number.POSITIVE_INFINITY;
          this.#dropsWouldHelp = false;
          if (this.#search([...pending], budget, drops)) return true;
          if (!Number.isFinite(this.#overBudget)) break;
          budget = this.#overBudget;
        }
        if (!this.#dropsWouldHelp) return false;
      }
      return false;
    } catch (error) {
      if (!(error instanceof SearchAborted)) throw error;
      this.#restore(before);
      return false;
    }
  }

  #movedAlready(uid: string): boolean {
    const orig = this.#original.get(uid);
    return orig !== undefined && this.#index.placement.get(uid) !== orig;
  }

  #movable(uid: string): boolean {
    const b = this.#index.bookings.get(uid)!;
    return !b.frozen && !b.pinned && !this.#inSearch.has(uid);
  }

  /** The rooms `uid` could go into now, in the order of `allowed` (fresh objects: #ordered sorts and annotates them). */
  #options(uid: string): Option[] {
    const index = this.#index;
    const rooms = this.#allowed(uid);
    let cached = this.#optionCache.get(uid);
    if (!cached) {
      cached = { versions: rooms.map(() => -1), options: rooms.map(() => null) };
      this.#optionCache.set(uid, cached);
    }
    const out: Option[] = [];
    for (let i = 0; i < rooms.length; i++) {
      const name = rooms[i]!;
      const version = index.versionOf(name);
      if (cached.versions[i] !== version) {
        cached.options[i] = this.#option(uid, name);
        cached.versions[i] = version;
      }
      const o = cached.options[i];
      if (o) out.push({ room: o.room, ejects: o.ejects, cost: o.cost });
    }
    return out;
  }

  #option(uid: string, name: string): Option | null {
    const index = this.#index;
    const need = index.bookings.get(uid)!.need;
    const ejects = index.occupants(name, occupancy(need, index.rooms.get(name)!), uid);
    if (!ejects.every((e) => this.#movable(e))) return null;
    const orig = this.#original.get(uid);
    // Ejecting a booking that has moved already (a displaced one, settled by an earlier pass) adds no
    // move: Cal.com is told once, wherever it ends up.
    const cost = (orig !== undefined && orig !== name ? 1 : 0) + ejects.filter((e) => !this.#movedAlready(e)).length;
    return { room: name, ejects, cost };
  }

  /** The chosen booking's options in the order they are tried: fewest moves, then the soft cost; those over the budget last. */
  #ordered(uid: string, options: Option[], maxCost: number): Option[] {
    const index = this.#index;
    const need = index.bookings.get(uid)!.need;
    // Options over the budget are never tried (only their cost is looked at): no soft cost for them.
    const within = options.filter((o) => o.cost <= maxCost);
    for (const o of within) o.soft = index.softCost(need, index.rooms.get(o.room)!).cost;
    within.sort((a, b) => a.cost - b.cost || a.soft! - b.soft!);
    return [...within, ...options.filter((o) => o.cost > maxCost)];
  }

  #search(queue: string[], budget: number, drops: number): boolean {
    if (++this.nodes > this.#limit) throw new SearchAborted();
    if (queue.length === 0) return true;
    const index = this.#index;
    // Branch on the booking with the fewest options within the budget (then the fewest at all). Every
    // plan puts it somewhere or drops it, so any choice keeps the search exact; this one meets a
    // booking that cannot be placed within the budget at once, instead of after trying every
    // combination of the others' rooms (the re-plan of seeds 7 and 20 ran out of nodes that way).
    const moves = this.moves();
    let pickAt = 0;
    let pickOptions: Option[] | undefined;
    let pickFitting = 0;
    for (let i = 0; i < queue.length; i++) {
      const opts = this.#options(queue[i]!);
      const base = moves - (this.#original.get(queue[i]!) !== undefined ? 1 : 0);
      let fitting = 0;
      for (const o of opts) if (base + o.cost <= budget) fitting++;
      if (!pickOptions || fitting < pickFitting || (fitting === pickFitting && opts.length < pickOptions.length)) {
        pickAt = i;
        pickOptions = opts;
        pickFitting = fitting;
        if (opts.length === 0) break;
      }
    }
    const uid = queue[pickAt]!;
    const rest = queue.filter((_, i) => i !== pickAt);
    const base = moves - (this.#original.get(uid) !== undefined ? 1 : 0);
    for (const o of this.#ordered(uid, pickOptions!, budget - base)) {
      const after = base + o.cost;
      if (after > budget) {
        this.#overBudget = Math.min(this.#overBudget, after);
        continue;
      }
      // Each ejected booking goes back where it was if this branch fails (its original room, or the
      // room an earlier pass gave it).
      const homes = o.ejects.map((e) => [e, index.placement.get(e)!] as const);
      for (const e of o.ejects) {
        index.remove(e);
        this.#touched.add(e);
      }
      index.place(uid, o.room);
      this.#touched.add(uid);
      this.#inSearch.add(uid);
      if (this.#search([...rest, ...o.ejects], budget, drops)) return true;
      this.#inSearch.delete(uid);
      index.remove(uid);
      for (const [e, room] of homes) index.place(e, room);
    }
    if (drops > 0) {
      if (this.#search(rest, budget, drops - 1)) return true;
    } else this.#dropsWouldHelp = true;
    return false;
  }
}
