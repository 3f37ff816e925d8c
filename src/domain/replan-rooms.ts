import { chooseRoom, type Exclusion } from './choose-room.ts';
import { RoomIndex, type PlanningWorld } from './room-index.ts';
import { occupancy, staticRuleFailure, type RuleFailure } from './room-model.ts';
import { EjectionSearch } from './ejection-search.ts';
import { sweepPlan, SweepTooLarge, timeComponents, type SweepItem } from './sweep-plan.ts';

export interface RoomMove {
  uid: string;
  from?: string;
  to?: string;
  /** Why it moved: its room became unusable, it made way for another booking, it found a room, or none is left. */
  why: 'room_unusable' | 'made_way' | 'placed' | 'no_room';
  detail: Record<string, unknown>;
}

export interface ReplanResult {
  /** Every booking whose room changed (including to none), with the reason. */
  moves: RoomMove[];
  /** Announced bookings that changed room (what Cal.com must be told again). */
  movedCount: number;
  unassigned: { uid: string; excluded: Exclusion[] }[];
  /** How the plan was found: proven optimal (`direct`, `sweep`, `search`) or best effort (`greedy`). */
  method: 'none' | 'direct' | 'sweep' | 'search' | 'greedy';
  /** False only for `greedy`: the plan may move more bookings than needed. */
  exact: boolean;
  nodes: number;
}

export interface ReplanOptions {
  /** Nodes for the direct attempt (only displaced and waiting bookings move). */
  directNodes?: number;
  /** Largest time-connected group the exact sweep takes on. */
  sweepMaxBookings?: number;
  sweepMaxRooms?: number;
  /** Nodes for the short search tried before the sweep, and for the long one after it. */
  quickSearchNodes?: number;
  searchNodes?: number;
  /**
   * Above this many rooms, bookings already waiting before the change are placed after the
   * displaced ones are settled, and without moving anyone (see replanRooms). Default 30.
   */
  jointMaxRooms?: number;
  /** Nodes for the search that may move announced bookings for long-waiting ones (large clinics). */
  waitingSearchNodes?: number;
}

/**
 * Re-plans rooms after something changed (a block, a room closed, bookings waiting for a room).
 * Objective, in order: (1) every booking has a room; (2) the fewest announced bookings change room;
 * (3) frozen (starting soon, in progress) and pinned bookings never move unless their own room
 * became unusable; (4) the soft cost, as a tie-break.
 *
 * Three ways (the search twice: short before the sweep, long after it), each exact for (1) and (2):
 * - direct: place every displaced or waiting booking without moving anyone else. That meets the
 *   lower bound (displaced bookings must move; nobody else has to), so it is optimal when it works.
 * - sweep: dynamic programming over each time-connected group that contains such a booking
 *   (sweep-plan.ts), when the group is small enough.
 * - search: iterative deepening over (bookings without a room, moves) with ejection chains — a
 *   booking goes into a room and the movable bookings overlapping it there must find another.
 *   Any optimal plan is reachable this way (place each booking straight into its room in that plan;
 *   whatever overlaps it there moves in that plan too), so the first plan at the smallest budget is
 *   optimal. Bookings placed during the search are never ejected again: no cycles, no lost plans.
 * If the search runs out of nodes, displaced bookings are placed greedily (`exact: false`).
 *
 * On a large clinic (more than `jointMaxRooms` rooms), bookings that were already waiting for a room
 * before the change are a separate, second pass. Mixed into the first, a booking that could not be
 * placed before (its doctor's rooms all taken) makes every search run out — each node looks at every
 * room for every queued booking — and the plan fell back to greedy after 0.7–1.7 s at 300 rooms
 * (docs/benchmarks.md). Settled on their own, the displaced bookings get the exact plan above (the
 * `method` and `exact` said of the result are theirs); the waiting ones then take any room that is
 * free for them, moving nobody — what the greedy fallback did for them too, so no plan is worse.
 * Moving announced bookings to make room for a long-waiting one stays exact on small clinics, where
 * the joint search is cheap (HiGHS agrees on every instance of the benchmark).
 */
export function replanRooms(world: PlanningWorld, options: ReplanOptions = {}): ReplanResult {
  const index = new RoomIndex(world);
  const original = new Map<string, string | undefined>();
  const pending: string[] = [];
  const displaced = new Map<string, RuleFailure>();
  for (const b of world.bookings) {
    original.set(b.need.uid, b.room);
    if (!b.room) {
      pending.push(b.need.uid);
      continue;
    }
    const room = index.rooms.get(b.room);
    const failure = room
      ? staticRuleFailure(b.need, room, index.blocksOf(room.name), world.timeZone)
      : { code: 'room.inactive' as const, room: b.room };
    if (failure) {
      displaced.set(b.need.uid, failure);
      index.remove(b.need.uid);
      pending.push(b.need.uid);
    }
  }
  // Rooms each booking may use at all, worked out only for bookings the plan actually touches.
  const allowedCache = new Map<string, string[]>();
  const allowed = (uid: string): string[] => {
    let rooms = allowedCache.get(uid);
    if (!rooms) {
      const need = index.bookings.get(uid)!.need;
      rooms = index.roomList.filter((r) => !staticRuleFailure(need, r, index.blocksOf(r.name), world.timeZone)).map((r) => r.name);
      allowedCache.set(uid, rooms);
    }
    return rooms;
  };

  // A booking for which every room it may use holds a booking that may not move (frozen, pinned)
  // there can never get a room, whatever else moves (the search only ever fixes more bookings): it
  // waits, and the searches are spared proving so by exhaustion (seconds on a large clinic).
  const hopeless = new Set(
    pending.filter((uid) => {
      const need = index.bookings.get(uid)!.need;
      return allowed(uid).every((name) =>
        index.occupants(name, occupancy(need, index.rooms.get(name)!), uid).some((o) => {
          const b = index.bookings.get(o)!;
          return b.frozen || b.pinned;
        }),
      );
    }),
  );

  let nodes = 0;
  let method: ReplanResult['method'] = 'none';
  const staged = index.roomList.length > (options.jointMaxRooms ?? 30);
  const waiting = staged ? pending.filter((uid) => !displaced.has(uid)) : [];
  if (staged) pending.splice(0, pending.length, ...pending.filter((uid) => displaced.has(uid)));
  if (pending.length > 0) {
    const search = new EjectionSearch(index, original, allowed);
    const lowerBound = search.moves();
    // A node looks at every room for every booking in the queue: budgets shrink as rooms grow, so
    // that a large clinic falls back to greedy in about a second rather than searching for minutes.
    const scale = Math.min(1, 100 / Math.max(10, index.roomList.length) ** 2);
    const limit = (n: number) => Math.max(50, Math.round(n * scale));
    // The searches leave the hopeless out (they wait whatever happens); the sweep plans whole groups.
    const searchable = pending.filter((uid) => !hopeless.has(uid));
    if (search.run(searchable, lowerBound, 0, options.directNodes ?? limit(20_000))) method = 'direct';
    // A short search first: it settles most cases where only a few bookings must move.
    if (method === 'none' && search.solve(searchable, options.quickSearchNodes ?? limit(3_000))) method = 'search';
    if (method === 'none' && sweepComponents(index, world, original, allowed, pending, options)) method = 'sweep';
    if (method === 'none' && search.solve(searchable, options.searchNodes ?? limit(400_000))) method = 'search';
    nodes = search.nodes;
    if (method === 'none') {
      method = 'greedy';
      for (const uid of pending) {
        const choice = chooseRoom(index, index.bookings.get(uid)!.need);
        if (choice.outcome === 'assigned') index.place(uid, choice.room);
      }
    }
  }
  // The second pass of a large clinic: long-waiting bookings into rooms free for them, soonest first;
  // then, for those still without one, a short search that may move announced bookings for them.
  const stillWaiting: string[] = [];
  for (const uid of waiting.sort((a, b) => index.bookings.get(a)!.need.start - index.bookings.get(b)!.need.start)) {
    const choice = chooseRoom(index, index.bookings.get(uid)!.need);
    if (choice.outcome === 'assigned') index.place(uid, choice.room);
    else if (!hopeless.has(uid)) stillWaiting.push(uid);
  }
  if (stillWaiting.length > 0) {
    // The displaced bookings, settled above, may make way again at no cost (EjectionSearch counts a
    // booking that has moved already once), as they could in the joint plan.
    const search = new EjectionSearch(index, original, allowed);
    const scale = Math.min(1, 100 / Math.max(10, index.roomList.length) ** 2);
    search.solve(stillWaiting, options.waitingSearchNodes ?? Math.max(50, Math.round(3_000 * scale)));
    nodes += search.nodes;
  }
  return explain(index, original, displaced, method, nodes);
}

/** Bookings placed into a room by the plan that overlap `uid`'s old stay there: who it made way for. */
function madeWayFor(index: RoomIndex, uid: string, from: string): string | undefined {
  const room = index.rooms.get(from);
  const need = index.bookings.get(uid)!.need;
  return room ? index.occupants(from, occupancy(need, room), uid)[0] : undefined;
}

function explain(
  index: RoomIndex,
  original: Map<string, string | undefined>,
  displaced: Map<string, RuleFailure>,
  method: ReplanResult['method'],
  nodes: number,
): ReplanResult {
  const moves: RoomMove[] = [];
  const unassigned: ReplanResult['unassigned'] = [];
  for (const [uid, from] of original) {
    const to = index.placement.get(uid);
    if (to === undefined && from === undefined) {
      // Was waiting and still is: no move, but it belongs in the list of bookings without a room.
      const choice = chooseRoom(index, index.bookings.get(uid)!.need);
      unassigned.push({ uid, excluded: choice.outcome === 'unassigned' ? choice.excluded : [] });
      continue;
    }
    if (to === from) continue;
    const failure = displaced.get(uid);
    const why: RoomMove['why'] = !to ? 'no_room' : failure ? 'room_unusable' : from ? 'made_way' : 'placed';
    const detail: Record<string, unknown> = failure ? { rule: failure.code, ...failure.detail } : {};
    if (why === 'made_way') detail.forBooking = madeWayFor(index, uid, from!);
    moves.push({ uid, ...(from ? { from } : {}), ...(to ? { to } : {}), why, detail });
    if (!to) {
      const choice = chooseRoom(index, index.bookings.get(uid)!.need);
      unassigned.push({ uid, excluded: choice.outcome === 'unassigned' ? choice.excluded : [] });
    }
  }
  return { moves, movedCount: moves.filter((m) => m.from !== undefined).length, unassigned, method, exact: method !== 'greedy', nodes };
}

/** The exact sweep over each time-connected group holding a booking that needs a room. */
function sweepComponents(
  index: RoomIndex,
  world: PlanningWorld,
  original: Map<string, string | undefined>,
  allowed: (uid: string) => string[],
  pending: readonly string[],
  options: ReplanOptions,
): boolean {
  const roomAt = new Map(index.roomList.map((r, i) => [r.name, i]));
  const maxCleaning = Math.max(0, ...index.roomList.map((r) => r.cleaningMinutes)) * 60_000;
  const waiting = new Set(pending);
  const groups = timeComponents(
    world.bookings.map((b) => ({ uid: b.need.uid, start: b.need.start, end: b.need.end })),
    maxCleaning,
  ).filter((g) => g.some((x) => waiting.has(x.uid)));
  if (groups.some((g) => g.length > (options.sweepMaxBookings ?? 120)) || index.roomList.length > (options.sweepMaxRooms ?? 16))
    return false;
  const plans: Map<string, number>[] = [];
  try {
    for (const group of groups) {
      const items: SweepItem[] = group.map(({ uid }) => {
        const b = index.bookings.get(uid)!;
        const orig = original.get(uid);
        const usable = orig !== undefined && !waiting.has(uid);
        const prefs = allowed(uid)
          .map((name) => ({ name, soft: index.softCost(b.need, index.rooms.get(name)!).cost }))
          .sort((x, y) => x.soft - y.soft)
          .map((x) => roomAt.get(x.name)!);
        return {
          uid,
          start: b.need.start,
          end: b.need.end,
          rooms: prefs,
          stay: usable ? roomAt.get(orig)! : -1,
          announced: orig !== undefined,
          fixed: usable && (b.frozen || b.pinned),
        };
      });
      plans.push(sweepPlan(items, index.roomList).rooms);
    }
  } catch (error) {
    if (error instanceof SweepTooLarge) return false;
    throw error;
  }
  for (const plan of plans) {
    for (const uid of plan.keys()) index.remove(uid);
    for (const [uid, r] of plan) if (r >= 0) index.place(uid, index.roomList[r]!.name);
  }
  return true;
}
