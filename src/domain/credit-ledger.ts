/** One grant of credits and what is left of it (the ledger moves `remaining`; see store/credits.ts). */
export interface CreditLot {
  id: number;
  remaining: number;
  expiresAt?: Date;
  createdAt: Date;
}

export interface CreditDraw {
  lotId: number;
  amount: number;
}

export type HoldState = 'held' | 'captured' | 'released' | 'refunded' | 'forfeited';

export function isSpendable(lot: CreditLot, now: Date): boolean {
  return lot.remaining > 0 && (lot.expiresAt === undefined || lot.expiresAt > now);
}

export function availableCredits(lots: readonly CreditLot[], now: Date): number {
  return lots.filter((l) => isSpendable(l, now)).reduce((sum, l) => sum + l.remaining, 0);
}

/**
 * Which lots pay for `amount`: the soonest to expire first (a credit that would lapse is spent
 * before one that would not), then the oldest. Returns nothing when the lots cannot cover it.
 */
export function allocateCredits(lots: readonly CreditLot[], amount: number, now: Date): CreditDraw[] | undefined {
  if (amount <= 0) return [];
  const usable = lots
    .filter((l) => isSpendable(l, now))
    .sort(
      (a, b) =>
        (a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) - (b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) ||
        a.createdAt.getTime() - b.createdAt.getTime() ||
        a.id - b.id,
    );
  const draws: CreditDraw[] = [];
  let left = amount;
  for (const lot of usable) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    draws.push({ lotId: lot.id, amount: take });
    left -= take;
  }
  return left === 0 ? draws : undefined;
}

export interface CancellationFacts {
  state: HoldState;
  start: Date;
  cancelledAt: Date;
  windowHours: number;
  /** The organizer cancelled, or asked the member to reschedule (CONTRACT §1.2): never the member's fault. */
  byHost: boolean;
}

/**
 * What a cancellation does to a booking's credits. Credits only held (never confirmed) always go
 * back; captured credits go back when the member cancelled at least `windowHours` before the start
 * or the host cancelled, and are kept otherwise (a late cancellation).
 */
export function settleCancellation(f: CancellationFacts): { action: 'release' | 'refund' | 'forfeit' | 'none'; reason: string } {
  switch (f.state) {
    case 'held':
      return { action: 'release', reason: 'credits.released.never_confirmed' };
    case 'captured': {
      if (f.byHost) return { action: 'refund', reason: 'credits.refunded.host_cancelled' };
      const noticeHours = (f.start.getTime() - f.cancelledAt.getTime()) / 3_600_000;
      return noticeHours >= f.windowHours
        ? { action: 'refund', reason: 'credits.refunded.in_window' }
        : { action: 'forfeit', reason: 'credits.forfeited.late_cancellation' };
    }
    case 'released':
    case 'refunded':
    case 'forfeited':
      return { action: 'none', reason: `credits.already_${f.state}` };
  }
}
