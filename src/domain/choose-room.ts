import type { RoomIndex } from './room-index.ts';
import { occupancy, staticRuleFailure, type RoomNeed, type RuleCode } from './room-model.ts';

/** Which rule excluded which rooms, for the decision log and the board. */
export interface Exclusion {
  code: RuleCode;
  rooms: string[];
  /** Rooms beyond the first 20 are counted, not named. */
  more?: number;
  detail?: Record<string, unknown>;
}

export type RoomChoice =
  | { outcome: 'assigned'; room: string; cost: number; preferences: string[]; excluded: Exclusion[]; candidates: number }
  | { outcome: 'unassigned'; excluded: Exclusion[] };

const NAMED = 20;

export function groupExclusions(failures: readonly { code: RuleCode; room: string; detail?: Record<string, unknown> }[]): Exclusion[] {
  const groups = new Map<RuleCode, Exclusion>();
  for (const f of failures) {
    let g = groups.get(f.code);
    if (!g) {
      g = { code: f.code, rooms: [], ...(f.detail ? { detail: f.detail } : {}) };
      groups.set(f.code, g);
    }
    if (g.rooms.length < NAMED) g.rooms.push(f.room);
    else g.more = (g.more ?? 0) + 1;
  }
  return [...groups.values()];
}

/**
 * The best free room for one booking, with why: every hard rule is checked for every room, then
 * the soft cost picks among the rooms left (ties go to the room listed first, so the choice is
 * deterministic). Pure: reads the index, changes nothing.
 */
export function chooseRoom(index: RoomIndex, need: RoomNeed): RoomChoice {
  const failures: { code: RuleCode; room: string; detail?: Record<string, unknown> }[] = [];
  let best: { room: string; cost: number; preferences: string[] } | undefined;
  let candidates = 0;
  for (const room of index.roomList) {
    const rule = staticRuleFailure(need, room, index.blocksOf(room.name), index.timeZone);
    if (rule) {
      failures.push(rule);
      continue;
    }
    const busy = index.occupants(room.name, occupancy(need, room), need.uid);
    if (busy.length) {
      failures.push({ code: 'room.occupied', room: room.name });
      continue;
    }
    candidates++;
    const { cost, preferences } = index.softCost(need, room);
    if (!best || cost < best.cost) best = { room: room.name, cost, preferences };
  }
  const excluded = groupExclusions(failures);
  return best ? { outcome: 'assigned', ...best, excluded, candidates } : { outcome: 'unassigned', excluded };
}

/** One room as an option for a booking: whether it fits, and why not (or what it has going for it). */
export type RoomOption =
  | { room: string; fits: true; cost: number; preferences: string[] }
  | { room: string; fits: false; code: RuleCode; detail?: Record<string, unknown>; occupants?: string[] };

/**
 * Every room for one booking, for a person choosing: those that fit first, best first (the
 * planner's own soft cost), then those that do not, each with the rule it fails. Pure.
 */
export function roomOptions(index: RoomIndex, need: RoomNeed): RoomOption[] {
  const fitting: Extract<RoomOption, { fits: true }>[] = [];
  const unfit: Extract<RoomOption, { fits: false }>[] = [];
  for (const room of index.roomList) {
    const rule = staticRuleFailure(need, room, index.blocksOf(room.name), index.timeZone);
    if (rule) {
      unfit.push({ room: room.name, fits: false, code: rule.code, ...(rule.detail ? { detail: rule.detail } : {}) });
      continue;
    }
    const busy = index.occupants(room.name, occupancy(need, room), need.uid);
    if (busy.length) {
      unfit.push({ room: room.name, fits: false, code: 'room.occupied', occupants: busy });
      continue;
    }
    fitting.push({ room: room.name, fits: true, ...index.softCost(need, room) });
  }
  return [...fitting.sort((a, b) => a.cost - b.cost), ...unfit];
}
