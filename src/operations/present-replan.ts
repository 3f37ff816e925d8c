import type { ReplanResult } from '../domain/replan-rooms.ts';

/** A plan's changes for an operator: who moved where and why. */
export function presentReplan(r: ReplanResult | undefined) {
  if (!r) return { moves: [], movedCount: 0, unassigned: [], method: 'none' as const };
  return { moves: r.moves, movedCount: r.movedCount, unassigned: r.unassigned, method: r.method, exact: r.exact };
}

export type PresentedReplan = ReturnType<typeof presentReplan>;
