import highsModule from 'highs';
import type { PlanningWorld } from '../src/domain/room-index.ts';
import { occupancy, overlaps, staticRuleFailure } from '../src/domain/room-model.ts';

// A CommonJS package whose types declare an ES default export: under NodeNext the default import is
// the loader function itself at runtime.
const highsLoader = highsModule as unknown as typeof highsModule.default;
type Highs = Awaited<ReturnType<typeof highsLoader>>;
let highs: Promise<Highs> | undefined;

/**
 * The re-planning objective as a mixed-integer program, solved exactly by HiGHS: maximise the
 * bookings with a room, then keep the most announced bookings where they are. Frozen and pinned
 * bookings whose room is still usable are fixed. Independent of the planner's own code except for
 * the hard rules it shares (equipment, doctor, hours, blocks, overlap with cleaning).
 */
export async function exactReplan(world: PlanningWorld): Promise<{ assigned: number; moved: number }> {
  highs ??= highsLoader();
  const solver = await highs;
  const rooms = new Map(world.rooms.map((r) => [r.name, r]));
  const vars: { name: string; uid: string; room: string; stays: boolean }[] = [];
  const fixed: string[] = [];
  world.bookings.forEach((b, i) => {
    const origUsable =
      b.room !== undefined && rooms.has(b.room) && !staticRuleFailure(b.need, rooms.get(b.room)!, world.blocks, world.timeZone);
    world.rooms.forEach((r, j) => {
      if (staticRuleFailure(b.need, r, world.blocks, world.timeZone)) return;
      if ((b.frozen || b.pinned) && origUsable && r.name !== b.room) return;
      const name = `x_${i}_${j}`;
      vars.push({ name, uid: b.need.uid, room: r.name, stays: r.name === b.room });
      if ((b.frozen || b.pinned) && origUsable) fixed.push(name);
    });
  });
  const announced = world.bookings.filter((b) => b.room !== undefined).length;
  const big = announced + 1;
  const lines: string[] = [
    'Maximize',
    ` obj: ${vars.map((v) => `${v.stays ? big + 1 : big} ${v.name}`).join(' + ') || '0 dummy'}`,
    'Subject To',
  ];
  let c = 0;
  const byBooking = new Map<string, string[]>();
  for (const v of vars) byBooking.set(v.uid, [...(byBooking.get(v.uid) ?? []), v.name]);
  for (const names of byBooking.values()) lines.push(` c${c++}: ${names.join(' + ')} <= 1`);
  for (const name of fixed) lines.push(` c${c++}: ${name} = 1`);
  const needOf = new Map(world.bookings.map((b) => [b.need.uid, b.need]));
  for (const room of world.rooms) {
    const here = vars.filter((v) => v.room === room.name);
    for (let i = 0; i < here.length; i++) {
      for (let j = i + 1; j < here.length; j++) {
        const a = occupancy(needOf.get(here[i]!.uid)!, room);
        const b = occupancy(needOf.get(here[j]!.uid)!, room);
        if (overlaps(a, b)) lines.push(` c${c++}: ${here[i]!.name} + ${here[j]!.name} <= 1`);
      }
    }
  }
  lines.push('Binary', ...vars.map((v) => ` ${v.name}`), 'End');
  const result = solver.solve(lines.join('\n'));
  if (result.Status !== 'Optimal') throw new Error(`HiGHS: ${result.Status}`);
  let assigned = 0;
  let stayed = 0;
  for (const v of vars) {
    const value = (result.Columns[v.name] as { Primal: number }).Primal;
    if (value > 0.5) {
      assigned++;
      if (v.stays) stayed++;
    }
  }
  return { assigned, moved: announced - stayed };
}
