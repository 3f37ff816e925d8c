import type { PlannedBooking, Room } from './room-model.ts';

/** One booking in a sweep: its time, the rooms it may use, and whether it may change room. */
export interface SweepItem {
  uid: string;
  start: number;
  end: number;
  /** Indexes into the rooms array, in preference order. */
  rooms: number[];
  /** Index of the room it holds now and is announced in; -1 when unassigned or that room is unusable. */
  stay: number;
  /** True when it was announced in some room (moving or dropping it counts as a move). */
  announced: boolean;
  /** Frozen or pinned in a usable room: it must stay. */
  fixed: boolean;
}

export interface SweepResult {
  /** uid → room index, or -1 for no room. */
  rooms: Map<string, number>;
  unassigned: number;
  moved: number;
}

/** Above this many states the caller falls back to the bounded search (see replan-rooms.ts). */
export const SWEEP_STATE_LIMIT = 2_000_000;

export class SweepTooLarge extends Error {}

/**
 * Exact plan for one group of bookings connected in time, by dynamic programming over the bookings
 * in start order. The state is when each room next becomes free (times before the current start
 * count as free), so the remaining choices depend only on (next booking, state), and the memo makes
 * each such pair solved once. Cost is lexicographic: bookings without a room, then announced
 * bookings that changed room; ties keep the earlier option (preference order).
 */
export function sweepPlan(items: readonly SweepItem[], rooms: readonly Room[], stateLimit = SWEEP_STATE_LIMIT): SweepResult {
  const order = [...items].sort((a, b) => a.start - b.start || (a.uid < b.uid ? -1 : 1));
  const cleaning = rooms.map((r) => r.cleaningMinutes * 60_000);
  const n = order.length;
  const BIG = n + 1;
  const memo = new Map<string, { cost: number; choice: number }>();

  // A room free from time t can take booking j exactly when t <= start(j); so only the index of the
  // first later booking it could take matters, not t itself. Keying states by that index merges
  // every free-from time that falls between the same two starts.
  const starts = order.map((o) => o.start);
  const rank = (t: number, i: number): number => {
    if (t <= starts[i]!) return 0;
    let lo = i;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! >= t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const keyOf = (i: number, busy: readonly number[]) => {
    let key = String(i);
    for (const t of busy) key += `,${rank(t, i)}`;
    return key;
  };

  const solve = (i: number, busy: number[]): number => {
    if (i === n) return 0;
    const item = order[i]!;
    const key = keyOf(i, busy);
    const known = memo.get(key);
    if (known) return known.cost;
    if (memo.size >= stateLimit) throw new SweepTooLarge();
    let best = Number.POSITIVE_INFINITY;
    let choice = -2;
    const options = item.fixed ? [item.stay] : item.rooms;
    for (const r of options) {
      if (busy[r]! > item.start) continue;
      const before = busy[r]!;
      busy[r] = item.end + cleaning[r]!;
      const cost = (item.announced && r !== item.stay ? 1 : 0) + solve(i + 1, busy);
      busy[r] = before;
      if (cost < best) {
        best = cost;
        choice = r;
      }
    }
    if (!item.fixed) {
      const cost = BIG + (item.announced ? 1 : 0) + solve(i + 1, busy);
      if (cost < best) {
        best = cost;
        choice = -1;
      }
    }
    memo.set(key, { cost: best, choice });
    return best;
  };

  const busy = rooms.map(() => 0);
  const total = solve(0, busy);
  if (!Number.isFinite(total)) throw new Error('sweep plan: fixed bookings overlap; the input is not a valid plan');
  // Walk the memo forward to read the choices.
  const chosen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const item = order[i]!;
    const { choice } = memo.get(keyOf(i, busy))!;
    chosen.set(item.uid, choice);
    if (choice >= 0) busy[choice] = item.end + cleaning[choice]!;
  }
  return { rooms: chosen, unassigned: Math.floor(total / BIG), moved: total % BIG };
}

/** Splits bookings into groups that share no room time: each can be planned on its own. */
export function timeComponents<T extends { start: number; end: number }>(items: readonly T[], maxCleaningMs: number): T[][] {
  const sorted = [...items].sort((a, b) => a.start - b.start);
  const groups: T[][] = [];
  let reach = Number.NEGATIVE_INFINITY;
  for (const item of sorted) {
    if (item.start >= reach) groups.push([]);
    groups[groups.length - 1]!.push(item);
    reach = Math.max(reach, item.end + maxCleaningMs);
  }
  return groups;
}

export type { PlannedBooking };
