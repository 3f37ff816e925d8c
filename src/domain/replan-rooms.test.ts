import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockBusiestRoom, generateClinic } from '../../test/clinic-generator.ts';
import { exactReplan } from '../../test/exact-rooms.ts';
import type { PlanningWorld } from './room-index.ts';
import { occupancy, overlaps, staticRuleFailure, type PlannedBooking } from './room-model.ts';
import { replanRooms, type ReplanResult } from './replan-rooms.ts';

function finalRooms(world: PlanningWorld, result: ReplanResult): Map<string, string | undefined> {
  const rooms = new Map(world.bookings.map((b) => [b.need.uid, b.room]));
  for (const m of result.moves) rooms.set(m.uid, m.to);
  return rooms;
}

function checkHardRules(world: PlanningWorld, result: ReplanResult): void {
  const placed = finalRooms(world, result);
  const byUid = new Map(world.bookings.map((b) => [b.need.uid, b]));
  const roomOf = new Map(world.rooms.map((r) => [r.name, r]));
  for (const room of world.rooms) {
    const here = world.bookings.filter((b) => placed.get(b.need.uid) === room.name);
    for (const b of here)
      expect(staticRuleFailure(b.need, room, world.blocks, world.timeZone), `${b.need.uid} in ${room.name}`).toBeUndefined();
    for (let i = 0; i < here.length; i++) {
      for (let j = i + 1; j < here.length; j++) {
        expect(
          overlaps(occupancy(here[i]!.need, room), occupancy(here[j]!.need, room)),
          `${here[i]!.need.uid} / ${here[j]!.need.uid} in ${room.name}`,
        ).toBe(false);
      }
    }
  }
  for (const m of result.moves) {
    const b = byUid.get(m.uid)!;
    const ownRoomUnusable =
      !b.room || !roomOf.has(b.room) || staticRuleFailure(b.need, roomOf.get(b.room)!, world.blocks, world.timeZone) !== undefined;
    if (b.frozen || b.pinned) expect(ownRoomUnusable, `${m.uid} is ${b.frozen ? 'frozen' : 'pinned'} and moved`).toBe(true);
  }
}

describe('re-planning rooms after a block', () => {
  it('keeps every hard rule and never moves a frozen or pinned booking whose room is still usable', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 5, max: 60 }),
        (seed, rooms, bookings) => {
          const { world } = blockBusiestRoom(generateClinic(seed, { rooms, bookings, frozenShare: 0.2, pinnedShare: 0.1 }), seed);
          const result = replanRooms(world);
          checkHardRules(world, result);
          // deterministic: the same input gives the same plan
          expect(replanRooms(world)).toEqual(result);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('moves exactly as few bookings as the optimum (HiGHS MIP) on clinics up to 10 rooms × 60 bookings', async () => {
    let compared = 0;
    let withExtraMoves = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 3, max: 10 }),
        fc.integer({ min: 10, max: 60 }),
        async (seed, rooms, bookings) => {
          const { world } = blockBusiestRoom(generateClinic(seed, { rooms, bookings, frozenShare: 0.1, pinnedShare: 0.05 }), seed, 5);
          const result = replanRooms(world);
          const exact = await exactReplan(world);
          const assigned = [...finalRooms(world, result).values()].filter(Boolean).length;
          expect(result.exact).toBe(true);
          expect({ assigned, moved: result.movedCount }).toEqual(exact);
          compared++;
          const forced = result.moves.filter((m) => m.why === 'room_unusable' || (m.why === 'no_room' && m.from)).length;
          if (result.movedCount > forced) withExtraMoves++;
        },
      ),
      { numRuns: 120 },
    );
    expect(compared).toBe(120);
    // The instances must include ones where the best plan moves bookings that were not displaced,
    // or the comparison would only test the easy case.
    expect(withExtraMoves).toBeGreaterThan(0);
  }, 120_000);

  it('on a larger clinic settles the displaced bookings first and the waiting ones after — never worse than the joint plan', () => {
    let withWaiting = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const { world } = blockBusiestRoom(
        generateClinic(seed, { rooms: 35, bookings: 250, days: 1, doctors: 20, frozenShare: 0.05, pinnedShare: 0.02 }),
        seed,
        6,
      );
      if (world.bookings.some((b) => !b.room)) withWaiting++;
      const staged = replanRooms(world);
      const joint = replanRooms(world, { jointMaxRooms: Number.POSITIVE_INFINITY });
      checkHardRules(world, staged);
      expect(staged.unassigned.length, `seed ${seed}: unassigned`).toBeLessThanOrEqual(joint.unassigned.length);
      if (staged.unassigned.length === joint.unassigned.length)
        expect(staged.movedCount, `seed ${seed}: moves`).toBeLessThanOrEqual(joint.movedCount);
    }
    expect(withWaiting, 'some days have bookings waiting before the block').toBeGreaterThan(0);
  });

  it('finds the booking that needs another to make way before trying every room of the easy ones (small node budget)', () => {
    const H = 3_600_000;
    const room = (name: string) => ({ name, floor: 1, building: 'N', equipment: [], cleaningMinutes: 0, active: true });
    const at = (uid: string, from: number, to: number, where: string, more: Partial<PlannedBooking> = {}): PlannedBooking => ({
      need: { uid, start: from * H, end: to * H, equipment: [], preferredRooms: [] },
      room: where,
      frozen: false,
      pinned: false,
      ...more,
    });
    const world: PlanningWorld = {
      timeZone: 'UTC',
      weights: { sameRoom: 0, preferred: 0, sameFloor: 0, surplusPerItem: 0, balancePerHour: 0 },
      rooms: ['R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'Z'].map(room),
      blocks: [{ id: 1, room: 'Z', from: 0, to: 24 * H, reason: 'flood' }],
      bookings: [
        // Eight displaced bookings at eight different hours, each with its doctor's three free rooms.
        ...Array.from({ length: 8 }, (_, k) => {
          const b = at(`easy${k}`, 12 + k, 13 + k, 'Z');
          return { ...b, need: { ...b.need, allowedRooms: ['R1', 'R2', 'R3'] } };
        }),
        // Every room is taken during part of 10:00–11:00: R1–R6 from 10:30 by bookings that could
        // move to R7, R7 until 10:30 by one that may not move.
        ...['R1', 'R2', 'R3', 'R4', 'R5', 'R6'].map((r) => at(`half-${r}`, 10.5, 11.5, r)),
        at('frozen-R7', 10, 10.5, 'R7', { frozen: true }),
        at('needs-way', 10, 11, 'Z'),
      ],
    };
    // Within the budget (every displaced booking moves, nobody else) only the easy ones have rooms:
    // 3^8 ways to place them, none of which helps the last one.
    const result = replanRooms(world, { directNodes: 500, quickSearchNodes: 500, searchNodes: 2_000, sweepMaxRooms: 0 });
    checkHardRules(world, result);
    expect(result.method).toBe('search');
    expect(result.unassigned).toEqual([]);
    expect(result.movedCount).toBe(10);
    const made = result.moves.filter((m) => m.why === 'made_way');
    expect(made).toEqual([expect.objectContaining({ to: 'R7', detail: { forBooking: 'needs-way' } })]);
    expect(result.nodes).toBeLessThan(100);
  });

  it('explains each move: displaced by the block, made way for another booking, or found no room', () => {
    const world: PlanningWorld = {
      timeZone: 'UTC',
      weights: { sameRoom: 0, preferred: 0, sameFloor: 0, surplusPerItem: 0, balancePerHour: 0 },
      rooms: [
        { name: 'A', floor: 1, building: 'N', equipment: ['ecg'], cleaningMinutes: 0, active: true },
        { name: 'B', floor: 1, building: 'N', equipment: ['ecg'], cleaningMinutes: 0, active: true },
        { name: 'C', floor: 1, building: 'N', equipment: [], cleaningMinutes: 0, active: true },
      ],
      blocks: [{ id: 1, room: 'A', from: 0, to: 100, reason: 'flood' }],
      bookings: [
        // needs ECG: only A or B; B holds a booking that could go to C
        { need: { uid: 'ecg', start: 10, end: 20, equipment: ['ecg'], preferredRooms: [] }, room: 'A', frozen: false, pinned: false },
        { need: { uid: 'talk', start: 10, end: 20, equipment: [], preferredRooms: [] }, room: 'B', frozen: false, pinned: false },
      ],
    };
    const result = replanRooms(world);
    expect(result.moves).toEqual([
      {
        uid: 'ecg',
        from: 'A',
        to: 'B',
        why: 'room_unusable',
        detail: { rule: 'room.blocked', reason: 'flood', until: new Date(100).toISOString() },
      },
      { uid: 'talk', from: 'B', to: 'C', why: 'made_way', detail: { forBooking: 'ecg' } },
    ]);
    expect(result.movedCount).toBe(2);

    // if the other booking is frozen, the ECG booking has no room, and says why
    const frozen = replanRooms({ ...world, bookings: [world.bookings[0]!, { ...world.bookings[1]!, frozen: true }] });
    expect(frozen.moves).toEqual([expect.objectContaining({ uid: 'ecg', why: 'no_room' })]);
    expect(frozen.unassigned[0]!.excluded.map((e) => e.code).sort()).toEqual(['room.blocked', 'room.missing_equipment', 'room.occupied']);
  });
});
