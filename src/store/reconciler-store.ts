import type { ReconcilerPort } from '../cal/reconciler.ts';
import type { BookingStatus } from '../domain/booking-event.ts';
import type { Db } from './db.ts';
import { insertInboxEvents } from './inbox.ts';
import { planDayOf } from './rooms.ts';

export function reconcilerStore(db: Db, maxAttempts: number, onFed: () => void): ReconcilerPort {
  return {
    async readWatermark() {
      const result = await db.query<{ watermark: Date }>(`select watermark from reconciler_state where key = 'bookings'`);
      return result.rows[0] ? new Date(result.rows[0].watermark) : undefined;
    },
    async writeWatermark(at, now) {
      await db.query(
        `insert into reconciler_state (key, watermark, updated_at) values ('bookings', $1, $2)
         on conflict (key) do update set watermark = greatest(reconciler_state.watermark, excluded.watermark), updated_at = excluded.updated_at`,
        [at, now],
      );
    },
    async known(uids) {
      const result = await db.query<{ uid: string; status: BookingStatus; start_at: Date; end_at: Date; seats: number | null }>(
        'select uid, status, start_at, end_at, cardinality(seats) as seats from bookings where uid = any($1::text[])',
        [uids],
      );
      return new Map(
        result.rows.map((r) => [
          r.uid,
          {
            status: r.status,
            start: new Date(r.start_at),
            end: new Date(r.end_at),
            ...(r.seats !== null ? { seats: Number(r.seats) } : {}),
          },
        ]),
      );
    },
    async enqueue(events, now) {
      const stored = await insertInboxEvents(
        db,
        events.map(({ start, ...e }) => ({
          ...e,
          // Workers claim by the booking's day (migration 0021); a start Cal.com gave unreadable names none.
          ...(Number.isFinite(start.getTime()) ? { planDay: planDayOf(start) } : {}),
          source: 'reconciler' as const,
          state: 'pending' as const,
          maxAttempts,
          receivedAt: now,
        })),
      );
      const fresh = stored.filter((s) => !s.duplicate).length;
      if (fresh > 0) onFed();
      return fresh;
    },
  };
}
