import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleBooking, type PayloadBooking } from '../sandbox/payloads.ts';
import { creditBalance } from '../store/credits.ts';
import { EventPipeline, gateDeps } from '../../test/event-pipeline.ts';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';
import { adjustCredits, importMembers } from './gate-operations.ts';

const deps = gateDeps(`
eventTypes:
  "9": { gate: { creditCost: 1 } }
  "10": { gate: { creditCost: 2 } }
`);

type Step =
  | { op: 'grant'; amount: number }
  | { op: 'request'; eventTypeId: 9 | 10; dayOffset: number }
  | { op: 'repeat' | 'confirm' | 'reject' | 'cancelEarly' | 'cancelLate' | 'cancelByHost' | 'reschedule'; pick: number };

// Weighted towards events on bookings that exist, where the lifecycle rules are exercised.
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 3 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('request' as const),
      eventTypeId: fc.constantFrom(9 as const, 10 as const),
      dayOffset: fc.integer({ min: 0, max: 6 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constantFrom(
        'repeat' as const,
        'confirm' as const,
        'reject' as const,
        'cancelEarly' as const,
        'cancelLate' as const,
        'cancelByHost' as const,
        'reschedule' as const,
      ),
      pick: fc.nat({ max: 7 }),
    }),
  },
);

describe.each(storeKinds)('the credit ledger under random event sequences on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());

  it('never goes negative, never spends a credit twice, and always adds up', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.array(step, { minLength: 1, maxLength: 18 }), async (initial, steps) => {
        const email = `member${run++}@prop.example`;
        const cal = new EventPipeline(store.db, deps);
        await importMembers(store.db, [{ line: 1, email, credits: initial }], 'prop', cal.clock.now());
        const bookings: PayloadBooking[] = [];
        const cancelledKindly = new Set<string>();
        const cancelled = new Set<string>();
        let nextId = 1;
        const base = cal.clock.now().getTime() + 2 * 86_400_000;
        const pick = (n: number) => bookings[n % Math.max(1, bookings.length)];
        for (const s of steps) {
          cal.clock.advance(60_000);
          if (s.op === 'grant') {
            await adjustCredits(store.db, { email, amount: s.amount, actor: 'prop' }, cal.clock.now());
            continue;
          }
          if (s.op === 'request') {
            const b = sampleBooking({
              id: nextId++,
              eventTypeId: s.eventTypeId,
              status: 'PENDING',
              requiresConfirmation: true,
              start: new Date(base + s.dayOffset * 86_400_000),
              attendee: { name: 'Prop', email, timeZone: 'UTC' },
            });
            bookings.push(b);
            await cal.deliver('BOOKING_REQUESTED', b);
            continue;
          }
          const b = pick(s.pick);
          if (!b) continue;
          switch (s.op) {
            case 'repeat':
              await cal.deliver('BOOKING_REQUESTED', b, { extra: { description: `again ${nextId++}` } });
              break;
            case 'confirm':
              await cal.deliver('BOOKING_CREATED', { ...b, status: 'ACCEPTED', reschedule: undefined }, { viaConfirm: true });
              break;
            case 'reject':
              await cal.deliver('BOOKING_REJECTED', { ...b, status: 'REJECTED' });
              break;
            case 'cancelEarly':
            case 'cancelLate': {
              if (s.op === 'cancelEarly' && !cancelled.has(b.uid)) cancelledKindly.add(b.uid);
              cancelled.add(b.uid);
              const at = s.op === 'cancelEarly' ? new Date(b.start.getTime() - 48 * 3_600_000) : new Date(b.start.getTime() - 3_600_000);
              await cal.deliver(
                'BOOKING_CANCELLED',
                { ...b, status: 'CANCELLED' },
                { createdAt: new Date(Math.min(at.getTime(), cal.clock.now().getTime())) },
              );
              break;
            }
            case 'cancelByHost':
              if (!cancelled.has(b.uid)) cancelledKindly.add(b.uid);
              cancelled.add(b.uid);
              await cal.deliver('BOOKING_CANCELLED', { ...b, status: 'CANCELLED' }, { extra: { cancelledBy: b.organizer.email } });
              break;
            case 'reschedule': {
              const moved = sampleBooking({
                id: nextId++,
                eventTypeId: b.eventTypeId,
                status: 'PENDING',
                requiresConfirmation: true,
                start: new Date(b.start.getTime() + 86_400_000),
                attendee: b.attendee,
                reschedule: { id: b.id, uid: b.uid, start: b.start, end: b.end },
              });
              bookings.push(moved);
              await cal.deliver('BOOKING_REQUESTED', moved);
              break;
            }
          }
        }

        // 1. every lot's remaining is exactly its ledger's sum, and never below zero
        const lots = await store.db.query<{ id: string; remaining: number; ledger: number }>(
          `select l.id, l.remaining, coalesce(sum(e.amount), 0)::int as ledger from credit_lots l
             left join credit_ledger e on e.lot_id = l.id where l.member_email = $1 group by l.id, l.remaining`,
          [email],
        );
        for (const lot of lots.rows) {
          expect(Number(lot.remaining)).toBe(Number(lot.ledger));
          expect(Number(lot.remaining)).toBeGreaterThanOrEqual(0);
        }
        // 2. what was granted is either spendable or sits in a live or kept hold: nothing lost, nothing made
        const granted = await store.db.query<{ n: number }>(
          `select coalesce(sum(amount), 0)::int as n from credit_ledger where member_email = $1 and kind = 'grant'`,
          [email],
        );
        const revoked = await store.db.query<{ n: number }>(
          `select coalesce(sum(amount), 0)::int as n from credit_ledger where member_email = $1 and kind = 'revoke'`,
          [email],
        );
        const balance = await creditBalance(store.db, email, cal.clock.now());
        expect(balance.available + balance.held + balance.captured + balance.forfeited).toBe(
          Number(granted.rows[0]!.n) + Number(revoked.rows[0]!.n),
        );
        // 3. each hold drew its amount once, and gave back at most what it drew
        const holds = await store.db.query<{ amount: number; state: string; drawn: number; returned: number }>(
          `select h.amount, h.state,
                  coalesce(-sum(e.amount) filter (where e.kind = 'hold'), 0)::int as drawn,
                  coalesce(sum(e.amount) filter (where e.kind in ('release', 'refund')), 0)::int as returned
             from credit_holds h left join credit_ledger e on e.hold_id = h.id where h.member_email = $1 group by h.id`,
          [email],
        );
        for (const h of holds.rows) {
          expect(Number(h.drawn)).toBe(Number(h.amount));
          expect(Number(h.returned)).toBe(['released', 'refunded'].includes(h.state) ? Number(h.amount) : 0);
        }
        // 4. a rejected booking keeps no credit; a cancelled one only what a late cancellation forfeits
        const kept = await store.db.query<{ status: string; state: string; host: boolean; early: boolean }>(
          `select b.status, h.state from credit_holds h join bookings b on b.uid = h.booking_uid
            where h.member_email = $1 and b.status in ('cancelled', 'rejected') and h.state not in ('released', 'refunded')`,
          [email],
        );
        for (const row of kept.rows) expect(row).toEqual({ status: 'cancelled', state: 'forfeited' });
        // 5. a cancellation by the host or in the window never forfeits
        for (const b of cancelledKindly) {
          const hold = await store.db.query<{ state: string }>('select state from credit_holds where booking_uid = $1', [b]);
          expect(['released', 'refunded', undefined]).toContain(hold.rows[0]?.state);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
