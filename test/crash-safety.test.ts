import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { serverUrl } from './stores.ts';
import { openTestStore, type TestStore } from './stores.ts';
import { adminGet, postWebhook } from './usher.ts';
import { spawnServe } from './serve-process.ts';

const lanes = serverUrl ? (['pglite', 'postgres'] as const) : (['pglite'] as const);

describe.each(lanes)('a usher serve process killed mid-burst (%s)', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-crash-'));
  let store: TestStore | undefined;
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event and processes each exactly once after restart', async () => {
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(configPath, 'worker: { pollIntervalMs: 50 }\n');
    let env: Record<string, string> = { USHER_CONFIG: configPath, USHER_DATA_DIR: join(dir, 'data') };
    if (kind === 'postgres') {
      store = await openTestStore('postgres');
      env = { ...env, DATABASE_URL: store.url! };
    }
    const first = await spawnServe(env);

    const bookings = Array.from({ length: 400 }, (_, i) => sampleBooking({ id: 5000 + i }));
    const acked = new Map<string, number>();
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (next < bookings.length && !killed) {
        const b = bookings[next++]!;
        try {
          const res = await postWebhook(first.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()));
          if (res.status === 200) acked.set(b.uid, res.body.id);
        } catch {
          // connection reset by the kill: never acknowledged, so Cal.com would count it as failed
        }
        if (acked.size >= 150 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    await first.exited;
    expect(killed).toBe(true);
    expect(acked.size).toBeGreaterThanOrEqual(150);

    const second = await spawnServe(env);
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const pending = await adminGet(second.url, '/api/events?state=pending&limit=1');
        if (pending.body.data.length === 0) break;
        if (Date.now() > deadline) throw new Error('events still pending after restart');
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const [uid, id] of acked) {
        const view = await adminGet(second.url, `/api/bookings/${uid}`);
        expect(view.status, `acknowledged booking ${uid} is missing`).toBe(200);
        expect(view.body.data.booking.status).toBe('accepted');
        expect(view.body.data.events.map((e: { id: string; state: string }) => [e.id, e.state])).toEqual([[`evt_${id}`, 'done']]);
        expect(view.body.data.decisions).toHaveLength(1);
      }
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
