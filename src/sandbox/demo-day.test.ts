import { describe, expect, it } from 'vitest';
import { seedDemoDay } from './demo-day.ts';
import { loadSeed } from './load-seed.ts';
import { Sandbox } from './sandbox-server.ts';

describe('the demo day', () => {
  it.each(['2026-12-01T03:10:00Z', '2026-12-01T10:45:00Z', '2027-06-15T22:55:00Z'])(
    'at %s: every in-person doctor has appointments that ended, one running or just past, and more ahead; none overlap; none video',
    (at) => {
      const sandbox = new Sandbox({ seed: loadSeed() });
      const now = new Date(at);
      const made = seedDemoDay(sandbox, now, { random: () => 0.5 });
      const hosts = new Set(
        [...sandbox.state.eventTypes.values()].filter((t) => !t.location.startsWith('integrations:')).map((t) => t.hostId),
      );
      for (const host of hosts) {
        const mine = made.filter((b) => b.hostId === host).sort((a, b) => a.start.getTime() - b.start.getTime());
        expect(
          mine.some((b) => b.end <= now),
          `host ${host} ended`,
        ).toBe(true);
        expect(
          mine.some((b) => b.start > now),
          `host ${host} ahead`,
        ).toBe(true);
        for (let i = 1; i < mine.length; i++) expect(mine[i]!.start >= mine[i - 1]!.end).toBe(true);
      }
      expect(made.every((b) => b.status === 'accepted' && !b.location?.startsWith('integrations:'))).toBe(true);
      // A demo restarted the same day keeps the clinic it had.
      expect(seedDemoDay(sandbox, new Date(now.getTime() + 20 * 60_000))).toEqual([]);
    },
  );
});
