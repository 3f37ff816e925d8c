import { TZDate } from '@date-fns/tz';
import { addDays } from 'date-fns/addDays';
import { startOfDay } from 'date-fns/startOfDay';
import { describe, expect, it } from 'vitest';
import { periodBounds } from './calendar-period.ts';

describe('periodBounds', () => {
  it('gives the local day of every instant, kept per quarter hour, across clock changes in odd-offset zones', () => {
    const zones = ['Europe/London', 'America/Santiago', 'Asia/Kathmandu', 'Australia/Eucla', 'America/St_Johns', 'Pacific/Chatham'];
    // Days around 2027's clock changes (Santiago changes at midnight: its day then starts at 01:00).
    const spans = [Date.UTC(2027, 2, 26), Date.UTC(2027, 3, 2), Date.UTC(2027, 8, 3), Date.UTC(2027, 9, 29)];
    let days = 0;
    for (const zone of zones) {
      for (const from of spans) {
        // Every 7 minutes for 3 days: instants on and off the quarter hours, each day asked many times.
        for (let at = from; at < from + 3 * 86_400_000; at += 7 * 60_000) {
          const local = startOfDay(new TZDate(at, zone));
          const got = periodBounds(new Date(at), 'day', zone);
          expect({ from: got.from.getTime(), to: got.to.getTime() }, `${zone} ${new Date(at).toISOString()}`).toEqual({
            from: +local,
            to: +addDays(local, 1),
          });
          if (got.to.getTime() - got.from.getTime() !== 86_400_000) days++;
        }
      }
    }
    // Some of the days asked were 23 or 25 hours long (or the test would not cross a clock change).
    expect(days).toBeGreaterThan(0);
  });
});
