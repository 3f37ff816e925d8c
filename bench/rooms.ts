/**
 * npm run bench:rooms — the room planner on generated clinic days (docs/benchmarks.md).
 *  1. choose a room for one new booking, 300 rooms × 5,000 bookings (target p99 ≤ 1 ms);
 *     baseline in the same run: the same choice by scanning every booking (no index).
 *  2. re-plan after blocking a busy room, 300 rooms × 3,000 bookings (target ≤ 100 ms), with moves;
 *     baseline: greedy re-placement of the displaced bookings (no search), its moves and time.
 *  3. small clinics (≤ 10 rooms × 60 bookings): planner vs the exact HiGHS MIP, time and moves.
 */
import { chooseRoom } from '../src/domain/choose-room.ts';
import { replanRooms } from '../src/domain/replan-rooms.ts';
import { RoomIndex } from '../src/domain/room-index.ts';
import { occupancy, overlaps, staticRuleFailure, type RoomNeed } from '../src/domain/room-model.ts';
import { blockBusiestRoom, DAY0, generateClinic, seeded } from '../test/clinic-generator.ts';
import { exactReplan } from '../test/exact-rooms.ts';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

function newNeeds(n: number, seed: number, days: number): RoomNeed[] {
  const rnd = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const start = DAY0 + Math.floor(rnd() * days) * 86_400_000 + (8 * 60 + 15 * Math.floor(rnd() * 40)) * 60_000;
    return {
      uid: `new${i}`,
      start,
      end: start + 30 * 60_000,
      doctor: `d${1 + Math.floor(rnd() * 150)}`,
      equipment: rnd() < 0.2 ? ['ecg'] : [],
      preferredRooms: [],
    };
  });
}

// 1. One choice, indexed vs a full scan.
{
  const world = generateClinic(1, { rooms: 300, bookings: 5000, days: 2, doctors: 150 });
  const t0 = performance.now();
  const index = new RoomIndex(world);
  const build = performance.now() - t0;
  const needs = newNeeds(2000, 7, 2);
  const times: number[] = [];
  let assigned = 0;
  for (const need of needs) {
    index.bookings.set(need.uid, { need, frozen: false, pinned: false });
    const t = performance.now();
    const c = chooseRoom(index, need);
    times.push(performance.now() - t);
    if (c.outcome === 'assigned') assigned++;
    index.bookings.delete(need.uid);
  }
  const placed = world.bookings.filter((b) => b.room);
  const scanTimes: number[] = [];
  for (const need of needs.slice(0, 200)) {
    const t = performance.now();
    let best: string | undefined;
    for (const room of world.rooms) {
      if (staticRuleFailure(need, room, world.blocks, world.timeZone)) continue;
      const span = occupancy(need, room);
      if (placed.some((b) => b.room === room.name && overlaps(occupancy(b.need, room), span))) continue;
      best ??= room.name;
    }
    scanTimes.push(performance.now() - t);
    void best;
  }
  console.log(`1. choose one room, 300 rooms × 5,000 bookings (${world.bookings.filter((b) => b.room).length} placed), 2,000 new bookings`);
  console.log(
    `   index build ${ms(build)}; choose p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(pct(times, 100))}; ${assigned} got a room`,
  );
  console.log(
    `   baseline full scan (no index, no soft cost) p50 ${ms(pct(scanTimes, 50))}, p99 ${ms(pct(scanTimes, 99))}; ratio p99 ${(pct(scanTimes, 99) / pct(times, 99)).toFixed(1)}× slower`,
  );
}

// 2. Re-plan after a block on a busy clinic day. BENCH_BASELINE=<dir of another Usher checkout>: that
// checkout's planner runs on the same days in this process too ("today's" plans and times).
{
  const baseline: typeof replanRooms | undefined = process.env.BENCH_BASELINE
    ? (await import(`${process.env.BENCH_BASELINE}/src/domain/replan-rooms.ts`)).replanRooms
    : undefined;
  const baselineTimes: number[] = [];
  const worseThanBaseline: number[] = [];
  const times: number[] = [];
  const jointTimes: number[] = [];
  const worse: number[] = [];
  const greedyTimes: number[] = [];
  const rows: string[] = [];
  // One day first, not counted, so that the first measured day does not pay for compiling the
  // planner (a running server has planned before).
  const day = (seed: number) =>
    blockBusiestRoom(
      generateClinic(seed, { rooms: 300, bookings: 3000, days: 1, doctors: 150, frozenShare: 0.05, pinnedShare: 0.02 }),
      seed,
      8,
    );
  replanRooms(day(21).world);
  baseline?.(day(21).world);
  for (let seed = 1; seed <= 20; seed++) {
    const { world, block } = day(seed);
    const t = performance.now();
    const r = replanRooms(world);
    times.push(performance.now() - t);
    // In the same run: the joint plan (waiting bookings in the one search at any size), as it was
    // before the staged pass.
    let before = '';
    if (baseline) {
      const b0 = performance.now();
      const b = baseline(world);
      baselineTimes.push(performance.now() - b0);
      if (r.unassigned.length > b.unassigned.length || (r.unassigned.length === b.unassigned.length && r.movedCount > b.movedCount))
        worseThanBaseline.push(seed);
      before = `; baseline: moved ${b.movedCount}, unassigned ${b.unassigned.length} (${b.method})`;
    }
    const j0 = performance.now();
    const joint = replanRooms(world, { jointMaxRooms: Number.POSITIVE_INFINITY });
    jointTimes.push(performance.now() - j0);
    if (
      r.unassigned.length > joint.unassigned.length ||
      (r.unassigned.length === joint.unassigned.length && r.movedCount > joint.movedCount)
    )
      worse.push(seed);
    // Baseline: every displaced booking greedily into the best free room, nobody else moves.
    const g0 = performance.now();
    const index = new RoomIndex(world);
    const displaced = world.bookings.filter(
      (b) => b.room === block.room && overlaps(occupancy(b.need, world.rooms.find((x) => x.name === block.room)!), block),
    );
    for (const b of displaced) index.remove(b.need.uid);
    let greedyPlaced = 0;
    for (const b of displaced) {
      const c = chooseRoom(index, b.need);
      if (c.outcome === 'assigned') {
        index.place(b.need.uid, c.room);
        greedyPlaced++;
      }
    }
    greedyTimes.push(performance.now() - g0);
    const waiting = world.bookings.filter((b) => !b.room).length;
    rows.push(
      `   seed ${seed}: displaced ${displaced.length}, waiting ${waiting}; moved ${r.movedCount}, unassigned ${r.unassigned.length} (${r.method}, ${times.at(-1)!.toFixed(0)} ms) — joint: moved ${joint.movedCount}, unassigned ${joint.unassigned.length} (${joint.method})${before}; greedy placed ${greedyPlaced}/${displaced.length}`,
    );
  }
  console.log('2. re-plan after blocking the busiest room for 8 h, 300 rooms × 3,000 bookings, 20 days');
  for (const row of rows) console.log(row);
  console.log(
    `   re-plan p50 ${ms(pct(times, 50))}, p99/max ${ms(pct(times, 100))}; joint p50 ${ms(pct(jointTimes, 50))}, max ${ms(pct(jointTimes, 100))}; greedy baseline p50 ${ms(pct(greedyTimes, 50))}, max ${ms(pct(greedyTimes, 100))}`,
  );
  console.log(
    `   plans worse than the joint one (more unassigned, or as many and more moves): ${worse.length ? worse.join(', ') : 'none'}`,
  );
  if (baseline)
    console.log(
      `   baseline (${process.env.BENCH_BASELINE}) p50 ${ms(pct(baselineTimes, 50))}, p99/max ${ms(pct(baselineTimes, 100))}; plans worse than the baseline's: ${worseThanBaseline.length ? worseThanBaseline.join(', ') : 'none'}`,
    );
}

// 3. Small clinics against the exact MIP.
{
  let equal = 0;
  let total = 0;
  const planner: number[] = [];
  const mip: number[] = [];
  let moves = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const rooms = 3 + (seed % 8);
    const bookings = 10 + ((seed * 7) % 51);
    const { world } = blockBusiestRoom(generateClinic(seed, { rooms, bookings }), seed, 5);
    const t = performance.now();
    const r = replanRooms(world);
    planner.push(performance.now() - t);
    const t2 = performance.now();
    const exact = await exactReplan(world);
    mip.push(performance.now() - t2);
    const assigned =
      world.bookings.length -
      world.bookings.filter((b) => !b.room).length -
      r.moves.filter((m) => !m.to && m.from).length +
      r.moves.filter((m) => m.to && !m.from).length;
    total++;
    moves += r.movedCount;
    if (assigned === exact.assigned && r.movedCount === exact.moved) equal++;
  }
  console.log(
    `3. small clinics (3–10 rooms × 10–60 bookings), 60 instances: planner = HiGHS optimum on ${equal}/${total}; ${moves} moves in all`,
  );
  console.log(
    `   planner p50 ${ms(pct(planner, 50))}, max ${ms(pct(planner, 100))}; HiGHS p50 ${ms(pct(mip, 50))}, max ${ms(pct(mip, 100))}; ratio of medians ${(pct(mip, 50) / pct(planner, 50)).toFixed(1)}×`,
  );
}
