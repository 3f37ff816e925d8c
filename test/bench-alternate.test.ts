import { describe, expect, it } from 'vitest';
import { median, tableFigures } from '../bench/alternate.ts';

describe('bench:alternate reading a benchmark’s tables', () => {
  it('takes each cell’s last number, by table (in order), row and column, and leaves words and other lines alone', () => {
    const output = [
      'payload: 112000 distinct BOOKING_CREATED bodies',
      '| target | sustained req/s | p99 ms | PSS idle (MB) | pending |',
      '|---|---|---|---|---|',
      '| bare fastify (ceiling) | 29,707 | 7 | — | — |',
      '| usher serve | 3521 | 42.5 | 79 + 36 = **115** | 0 → 0 → 12 |',
      'not a table line',
      '| run | events/s |',
      '|---|---|',
      '| 20 rooms | 1009 |',
    ].join('\n');
    const figures = tableFigures(output);
    expect([...figures.keys()]).toEqual(['table 1 (target)', 'table 2 (run)']);
    const first = figures.get('table 1 (target)')!;
    expect(Object.fromEntries(first.get('bare fastify (ceiling)')!)).toEqual({ 'sustained req/s': 29707, 'p99 ms': 7 });
    expect(Object.fromEntries(first.get('usher serve')!)).toEqual({
      'sustained req/s': 3521,
      'p99 ms': 42.5,
      'PSS idle (MB)': 115,
      pending: 12,
    });
    expect(Object.fromEntries(figures.get('table 2 (run)')!.get('20 rooms')!)).toEqual({ 'events/s': 1009 });
  });

  it('gives the middle figure, or the mean of the two middle ones', () => {
    expect(median([981, 901, 1009])).toBe(981);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
