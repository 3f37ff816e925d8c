import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pacedLoadInThread } from '../bench/paced-load.ts';

describe('bench:ingest’s evenly paced load', () => {
  const arrivals: number[] = [];
  let url = '';
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(performance.now());
      // The first request is answered 300 ms late.
      if (arrivals.length === 1) setTimeout(() => res.end('late'), 300);
      else res.end('ok');
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends each request when it falls due, not a second’s worth at once, and counts a held answer from then', async () => {
    const run = await pacedLoadInThread(url, [{ body: '{}', headers: { 'content-type': 'application/json' } }], {
      rate: 100,
      seconds: 2,
      connections: 4,
      path: '/',
    });
    expect(run.sent).toBe(200);
    expect(run.non2xx + run.errors).toBe(0);
    // Spread over the run: a tenth of a second gets its 10, a few more after a stall of the
    // sending thread — never the second's 100 at once.
    const start = arrivals[0]!;
    const perTenth = new Map<number, number>();
    for (const at of arrivals) perTenth.set(Math.floor((at - start) / 100), (perTenth.get(Math.floor((at - start) / 100)) ?? 0) + 1);
    expect(Math.max(...perTenth.values())).toBeLessThanOrEqual(50);
    expect(arrivals.at(-1)! - start).toBeGreaterThan(1_700);
    // The held request counts the 300 ms it waited; the others went on over the other connections.
    expect(run.max).toBeGreaterThanOrEqual(290);
    expect(run.p50).toBeLessThan(100);
  });
});
