import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { runningServer } from '../src/store/embedded-server.ts';
import { openTestStore, type TestStore } from './stores.ts';
import { adminGet, postWebhook } from './usher.ts';
import { spawnServe } from './serve-process.ts';

// Three ways a kill -9 leaves things: the embedded server survives its Usher as an orphan (the next
// start adopts it), dies with it mid-write (the next start recovers it from its WAL), or the store
// is an external PostgreSQL server that never noticed.
const lanes = ['embedded store, server left running', 'embedded store, server killed too', 'external PostgreSQL'] as const;

describe.each(lanes)('a usher serve process killed mid-burst (%s)', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-crash-'));
  // The embedded server runs as an unprivileged user when the tests run as root: it must reach the data dir.
  chmodSync(dir, 0o755);
  let store: TestStore | undefined;
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event and processes each exactly once after restart', async () => {
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(configPath, 'worker: { pollIntervalMs: 50 }\n');
    let env: Record<string, string> = { USHER_CONFIG: configPath, USHER_DATA_DIR: join(dir, 'data') };
    const embedded = kind !== 'external PostgreSQL';
    if (!embedded) {
      store = await openTestStore();
      env = { ...env, DATABASE_URL: store.url };
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
    const orphan = embedded ? runningServer(join(dir, 'data')) : undefined;
    if (embedded) expect(orphan, 'the embedded server outlives a kill -9 of its Usher').toBeDefined();
    if (embedded) {
      // What made those acknowledgements durable: the embedded server's own settings (embedded-server.ts),
      // not the test stores'. wal_init_zero off only spares new WAL segments their zero-fill.
      const client = new pg.Client({ connectionString: orphan!.url });
      await client.connect();
      try {
        const settings = await client.query<{ name: string; setting: string }>(
          `select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_init_zero') order by name`,
        );
        expect(settings.rows.map((r) => `${r.name}=${r.setting}`)).toEqual([
          'fsync=on',
          'full_page_writes=on',
          'synchronous_commit=on',
          'wal_init_zero=off',
        ]);
      } finally {
        await client.end();
      }
    }
    if (kind === 'embedded store, server killed too') process.kill(orphan!.pid, 'SIGKILL');

    const second = await spawnServe(env);
    if (kind === 'embedded store, server left running')
      expect(runningServer(join(dir, 'data'))?.pid, 'the next start adopts the orphan').toBe(orphan!.pid);
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
    if (embedded) expect(runningServer(join(dir, 'data')), 'a clean stop stops the embedded server').toBeUndefined();
  });
});

describe('a fault in usher serve itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-fault-'));
  chmodSync(dir, 0o755);
  afterAll(() => {
    // Left running only when the test fails: stopped at once, so that no server outlives its data dir.
    const left = runningServer(join(dir, 'data'));
    if (left) process.kill(left.pid, 'SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops it in order, as a SIGTERM would, and then ends it with exit code 1: said why, the embedded server stopped', async () => {
    const configPath = join(dir, 'usher.config.yaml');
    writeFileSync(configPath, 'worker: { pollIntervalMs: 50 }\n');
    // A rejection nobody handles, made on a signal: what a fault in Usher's own code would leave.
    const fault = join(dir, 'fault.mjs');
    writeFileSync(fault, "process.on('SIGUSR2', () => { Promise.reject(new Error('injected fault')); });\n");
    const env = { USHER_CONFIG: configPath, USHER_DATA_DIR: join(dir, 'data'), NODE_OPTIONS: `--import=${pathToFileURL(fault).href}` };
    const server = await spawnServe(env);
    const b = sampleBooking({ id: 7001 });
    expect((await postWebhook(server.url, envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date()))).status).toBe(
      200,
    );
    server.child.kill('SIGUSR2');
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/a rejection nobody handled: a fault in Usher itself; stopping, then exit 1/);
    expect(server.output()).toContain('injected fault');
    // Node's own way would have left it running, for the next start to adopt.
    expect(runningServer(join(dir, 'data')), 'the embedded server stopped with its Usher').toBeUndefined();
  });
});
