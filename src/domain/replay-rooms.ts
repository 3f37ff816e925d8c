import { chooseRoom } from './choose-room.ts';
import { replanRooms } from './replan-rooms.ts';
import { type PlanningWorld, RoomIndex } from './room-index.ts';
import {
  occupancy,
  type PlannedBooking,
  type Room,
  type RoomBlock,
  type RoomNeed,
  type SoftWeights,
  staticRuleFailure,
} from './room-model.ts';

/**
 * What-if (issue 18): a past period replayed through the same planner with another set of rooms.
 *
 * The period's history is a timeline of what reached the planner, in the order it did: a booking
 * arriving (its first room decision), leaving (cancelled, rescheduled away: its room released), a
 * person placing it (pinned), a block put on or lifted. Each step does what the live service does
 * at that step: an arrival takes the best free room by the same rules and soft costs (chooseRoom
 * over the rooms as they stand then); a block re-plans around it with the fewest moves
 * (replanRooms, with the same freeze); a freed room lets bookings waiting nearby in. Only the rooms
 * differ. With the rooms unchanged the replay gives every booking the room the planner gave it
 * (the property test checks this on generated clinics).
 */

export type ReplayStep =
  /** `from`: the booking it was rescheduled from, whose room it keeps if that room is free for it. */
  | { kind: 'arrive'; at: number; seq: number; uid: string; from?: string }
  | { kind: 'leave'; at: number; seq: number; uid: string }
  | { kind: 'place'; at: number; seq: number; uid: string; room: string }
  | { kind: 'block'; at: number; seq: number; block: RoomBlock }
  | { kind: 'lift'; at: number; seq: number; blockId: number };

export interface ReplayInput {
  rooms: readonly Room[];
  needs: readonly RoomNeed[];
  steps: readonly ReplayStep[];
  timeZone: string;
  weights: SoftWeights;
  freezeMinutes: number;
}

export interface ReplayOutcome {
  /** Every booking that did not leave: the room it ends in, or null (no room). */
  rooms: Map<string, string | null>;
  /** Announced bookings moved to another room by re-planning. */
  moves: number;
  /** Bookings that were without a room at some point. */
  waited: Set<string>;
  /** Replans that could not be proven optimal in their budget (the live service would say the same). */
  inexact: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

const order = (a: ReplayStep, b: ReplayStep) => a.at - b.at || a.seq - b.seq;

export function replayRooms(input: ReplayInput, onProgress?: (done: number, total: number) => void): ReplayOutcome {
  const needs = new Map(input.needs.map((n) => [n.uid, n]));
  const roomNames = new Set(input.rooms.map((r) => r.name));
  const placement = new Map<string, string | null>();
  const pinned = new Set<string>();
  const blocks = new Map<number, RoomBlock>();
  const everWaited = new Set<string>();
  let moves = 0;
  let inexact = 0;

  // The index of every booking of the period (unplaced ones are invisible to choices), rebuilt only
  // when blocks change; arrivals and re-plans update it in place.
  const indexOf = () =>
    new RoomIndex({
      rooms: input.rooms,
      blocks: [...blocks.values()],
      bookings: input.needs.map((need) => {
        const room = placement.get(need.uid);
        return { need, ...(room ? { room } : {}), frozen: false, pinned: false };
      }),
      timeZone: input.timeZone,
      weights: input.weights,
    });
  let index = indexOf();

  const setRoom = (uid: string, room: string | null) => {
    index.remove(uid);
    if (room) index.place(uid, room);
    else everWaited.add(uid);
    placement.set(uid, room);
  };

  /** replanWindow: bookings up to a day either side may move; two days either side occupy rooms. */
  const replan = (span: { from: number; to: number }, at: number, onlyIfWaiting: boolean) => {
    const near = (n: RoomNeed, days: number) => n.end > span.from - days * DAY && n.start < span.to + days * DAY;
    const present = [...placement.keys()].map((uid) => needs.get(uid)!);
    if (onlyIfWaiting && !present.some((n) => placement.get(n.uid) === null && near(n, 1))) return;
    const freezeUntil = at + input.freezeMinutes * MINUTE;
    const bookings: PlannedBooking[] = present
      // As the live planner (rooms/room-planning.ts buildWorld): waiting bookings beyond a day either side are left out.
      .filter((n) => near(n, 2) && (near(n, 1) || placement.get(n.uid) !== null))
      // The live planner's order (store/rooms.ts listAssignments): ties in the plan are broken by it.
      .sort((a, b) => a.start - b.start || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0))
      .map((need) => {
        const room = placement.get(need.uid);
        return { need, ...(room ? { room } : {}), frozen: need.start < freezeUntil || !near(need, 1), pinned: pinned.has(need.uid) };
      });
    const world: PlanningWorld = {
      rooms: input.rooms,
      blocks: [...blocks.values()],
      bookings,
      timeZone: input.timeZone,
      weights: input.weights,
    };
    const result = replanRooms(world);
    if (!result.exact) inexact++;
    moves += result.movedCount;
    for (const m of result.moves) {
      setRoom(m.uid, m.to ?? null);
      if (m.why === 'room_unusable') pinned.delete(m.uid);
    }
  };

  const steps = [...input.steps].sort(order);
  let done = 0;
  for (const step of steps) {
    switch (step.kind) {
      case 'arrive': {
        const need = needs.get(step.uid);
        if (!need || placement.has(step.uid)) break;
        // followReschedule: the old booking's room is freed, and kept by the new one if it can.
        const old = step.from ? placement.get(step.from) : undefined;
        if (step.from && old !== undefined) {
          index.remove(step.from);
          placement.delete(step.from);
        }
        const keep = old ? input.rooms.find((r) => r.name === old) : undefined;
        const keeps =
          keep &&
          !staticRuleFailure(need, keep, index.blocksOf(keep.name), input.timeZone) &&
          index.occupants(keep.name, occupancy(need, keep), need.uid).length === 0;
        const choice = keeps ? undefined : chooseRoom(index, need);
        setRoom(step.uid, keeps ? keep.name : choice?.outcome === 'assigned' ? choice.room : null);
        if (old && step.from) {
          const was = needs.get(step.from);
          if (was) replan({ from: was.start, to: was.end }, step.at, true);
        }
        break;
      }
      case 'leave': {
        const room = placement.get(step.uid);
        if (room === undefined) break;
        index.remove(step.uid);
        placement.delete(step.uid);
        pinned.delete(step.uid);
        const need = needs.get(step.uid)!;
        if (room) replan({ from: need.start, to: need.end }, step.at, true);
        break;
      }
      case 'place': {
        // A person's choice stands if that room exists in this replay and is free then; the booking
        // it left makes room for waiting ones, as on the board.
        const need = needs.get(step.uid);
        if (!need || !placement.has(step.uid) || !roomNames.has(step.room)) break;
        const room = input.rooms.find((r) => r.name === step.room)!;
        const free = index.occupants(room.name, occupancy(need, room), need.uid).length === 0;
        if (!free) break;
        setRoom(step.uid, room.name);
        pinned.add(step.uid);
        replan({ from: need.start, to: need.end }, step.at, true);
        break;
      }
      case 'block':
        if (!roomNames.has(step.block.room)) break;
        blocks.set(step.block.id, step.block);
        index = indexOf();
        replan(step.block, step.at, false);
        break;
      case 'lift': {
        const lifted = blocks.get(step.blockId);
        if (!lifted) break;
        blocks.delete(step.blockId);
        index = indexOf();
        replan(lifted, step.at, true);
        break;
      }
    }
    done++;
    if (onProgress && (done % 500 === 0 || done === steps.length)) onProgress(done, steps.length);
  }
  return { rooms: placement, moves, waited: everWaited, inexact };
}
