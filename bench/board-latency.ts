// npm run bench:board — how long from a Cal.com webhook to the board showing it: a signed
// BOOKING_CREATED is posted, and the clock stops when a server-sent view names the booking (the
// worker has assigned its room, NOTIFY fired, the view was recomputed and pushed). The baseline in
// the same run is the webhook's own acknowledgement. On the embedded store one process does it all;
// with DATABASE_URL set, the webhook goes to one Usher and the board is read from another.
// Then: the cost of one view (what every change costs each process while someone watches) on a
// 300-room clinic day, against a 12-room one in the same run.
import { signBody } from '../src/cal/verify-signature.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startUsher, type Usher } from '../src/main.ts';
import { bookingPayload, envelopeBody, sampleBooking } from '../src/sandbox/payloads.ts';
import { openPostgres, type Db } from '../src/store/db.ts';
import { benchServer } from './bench-store.ts';
import { postWebhook } from './usher-process.ts';
import { BoardViews, boardView, boardViewDelta } from '../src/board/board-view.ts';
import { viewDelta } from '../src/board/view-patch.ts';
import { bookingPresenter } from '../src/rooms/room-board.ts';
import { saveBooking } from '../src/store/bookings.ts';
import { saveAssignment, upsertRoom } from '../src/store/rooms.ts';

const SECRET = 'bench-secret-0123456789';
const TOKEN = 'bench-admin-token-0123456789';
const N = Number(process.env.BENCH_N ?? 40);
const YAML = `
timeZone: Europe/London
reconciler: { intervalSeconds: 0 }
planner: { replanIntervalSeconds: 0 }
worker: { pollIntervalMs: 500 }
rooms:
${Array.from({ length: 12 }, (_, i) => `  - { name: "R${i + 1}", floor: ${i % 3}, building: "Main", cleaningMinutes: 10 }`).join('\n')}
`;

async function start(db: Db): Promise<Usher> {
  const result = loadConfig(
    {
      PORT: '0',
      CAL_WEBHOOK_SECRET: SECRET,
      USHER_ADMIN_TOKEN: TOKEN,
      CAL_API_URL: 'http://127.0.0.1:9',
      USHER_CONFIG: '/nonexistent.yaml',
    },
    { yamlText: YAML },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  return startUsher(result.config, { db, log: createLogger('silent') });
}

/** Signs in like a browser and follows the board's event stream, calling back with each view. */
async function follow(url: string, onView: (json: string, at: number) => void): Promise<() => void> {
  const signIn = await fetch(`${url}/board/sign-in`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
  const abort = new AbortController();
  const res = await fetch(`${url}/board/events`, { headers: { cookie }, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message.split('\n').find((l) => l.startsWith('data: '));
          if (data) onView(data.slice(6), performance.now());
        }
      }
    } catch {
      // aborted
    }
  })();
  return () => abort.abort();
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function measure(label: string, ingest: Usher, board: Usher): Promise<void> {
  const waiting = new Map<string, (at: number) => void>();
  const stop = await follow(board.url, (json, at) => {
    for (const [uid, resolve] of waiting)
      if (json.includes(uid)) {
        resolve(at);
        waiting.delete(uid);
      }
  });
  await new Promise((r) => setTimeout(r, 300));
  const acks: number[] = [];
  const shown: number[] = [];
  const base = Date.now() + 2 * 86_400_000;
  for (let i = 0; i < N; i++) {
    const b = sampleBooking({ id: 500_000 + i, start: new Date(base + i * 3_600_000) });
    const body = envelopeBody('BOOKING_CREATED', bookingPayload(b, 'BOOKING_CREATED'), new Date());
    const seen = new Promise<number>((resolve) => waiting.set(b.uid, resolve));
    const t0 = performance.now();
    const status = await postWebhook(ingest.url, body, signBody(body, SECRET));
    acks.push(performance.now() - t0);
    if (status >= 300) throw new Error(`webhook answered ${status}`);
    shown.push((await seen) - t0);
    await new Promise((r) => setTimeout(r, 150)); // one change at a time: measure latency, not batching
  }
  stop();
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(
    `${label}: webhook → board p50 ${f(pct(shown, 50))}, p95 ${f(pct(shown, 95))}, max ${f(Math.max(...shown))} | ack p50 ${f(pct(acks, 50))} | ratio p50 ${(pct(shown, 50) / pct(acks, 50)).toFixed(1)}× the ack (${N} webhooks)`,
  );
}

const server = await benchServer();
const embedded = await server.fresh();
const one = await start(embedded);
await measure('embedded store, one process', one, one);
await one.close();
await embedded.close();

if (process.env.DATABASE_URL) {
  const [a, b] = [await openPostgres(process.env.DATABASE_URL), await openPostgres(process.env.DATABASE_URL)];
  const ingest = await start(a);
  const board = await start(b);
  await measure('PostgreSQL, webhook into one Usher, board from another', ingest, board);
  await board.close();
  await ingest.close();
  await a.close();
  await b.close();
}

/** A clinic day straight into the store: `rooms` rooms, ten 30-minute bookings each, all assigned. */
async function clinicDay(rooms: number): Promise<Db> {
  const db = await server.fresh();
  const now = new Date();
  const day = new Date(now);
  day.setUTCHours(8, 0, 0, 0);
  await db.transaction(async (trx) => {
    for (let r = 0; r < rooms; r++) {
      const name = `R${r + 1}`;
      await upsertRoom(
        trx,
        { name, floor: r % 5, building: r < rooms / 2 ? 'North' : 'South', equipment: [], cleaningMinutes: 10, active: true },
        'api',
        now,
      );
      for (let k = 0; k < 10; k++) {
        const start = new Date(day.getTime() + k * 45 * 60_000);
        const uid = `b${r}-${k}`;
        await saveBooking(
          trx,
          {
            uid,
            status: 'accepted',
            eventTypeId: 7,
            eventTypeSlug: 'consultation',
            start,
            end: new Date(start.getTime() + 30 * 60_000),
            attendeeName: 'Pat Doe',
            attendeeEmail: `p${r}-${k}@example.com`,
            metadata: {},
          },
          now,
        );
        await saveAssignment(
          trx,
          {
            bookingUid: uid,
            room: name,
            from: start,
            to: new Date(start.getTime() + 40 * 60_000),
            pinned: false,
            reasons: {},
            locationText: `Room ${name}`,
          },
          now,
        );
      }
    }
  });
  return db;
}

const deps = { timeZone: 'Europe/London', title: 'Bench', present: bookingPresenter({ showNames: false }), bucketsFor: () => [] };
const cost: Record<number, number> = {};
for (const rooms of [12, 300]) {
  const db = await clinicDay(rooms);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    bytes = JSON.stringify(await boardView(db, deps, new Date())).length;
    times.push(performance.now() - t);
  }
  cost[rooms] = pct(times, 50);
  console.log(
    `one view, ${rooms} rooms × 10 bookings (embedded store): p50 ${pct(times, 50).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KB of JSON`,
  );
  await db.close();
}
console.log(`ratio 300 rooms / 12 rooms: ${(cost[300]! / cost[12]!).toFixed(1)}× the time`);

// A typical change at 300 rooms as viewers get it (issue 19): one booking made in a room. The server
// time per change two ways after the same write, in turn: the view read whole and diffed whole (the
// way before the live board), and the live board (read by changes, diffed by parts).
{
  const db = await clinicDay(300);
  const now = new Date();
  const views = new BoardViews(deps);
  let live = await views.view(db, now);
  let whole = await boardView(db, deps, now);
  const times = { whole: [] as number[], live: [] as number[] };
  const sizes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const uid = `new-${i}`;
    const start = new Date(live.at);
    start.setUTCHours(17, 30, 0, 0);
    await db.transaction(async (trx) => {
      await saveBooking(
        trx,
        {
          uid,
          status: 'accepted',
          eventTypeId: 7,
          start,
          end: new Date(start.getTime() + 1_800_000),
          attendeeName: 'Lia Late',
          metadata: {},
        },
        now,
      );
      await saveAssignment(
        trx,
        {
          bookingUid: uid,
          room: `R${i + 1}`,
          from: start,
          to: new Date(start.getTime() + 2_400_000),
          pinned: false,
          reasons: {},
          locationText: `Room R${i + 1}`,
        },
        now,
      );
    });
    const ways = [
      async () => {
        const t = performance.now();
        const after = await boardView(db, deps, now);
        viewDelta(whole, after);
        times.whole.push(performance.now() - t);
        whole = after;
      },
      async () => {
        const t = performance.now();
        const after = await views.view(db, now);
        const delta = boardViewDelta(live, after);
        times.live.push(performance.now() - t);
        sizes.push(JSON.stringify({ from: i, to: i + 1, delta }).length);
        live = after;
      },
    ];
    // In turn, so that neither always runs second (on a warmer cache).
    for (const way of i % 2 === 0 ? ways : ways.reverse()) await way();
  }
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
  console.log(
    `a booking made, 300 rooms, server time per change: view read whole + whole diff ${f(times.whole)} | live board (read by changes, diff by parts) ${f(times.live)}; patch p50 ${(pct(sizes, 50) / 1024).toFixed(1)} KB, max ${(Math.max(...sizes) / 1024).toFixed(1)} KB (the view: ${(JSON.stringify(live).length / 1024).toFixed(0)} KB)`,
  );

  // 1 and then 50 viewers of one process over HTTP, 20 changes each: the process's CPU per change.
  const usher = await start(db);
  for (const viewers of [1, 50]) {
    // Each viewer has had its whole view (~860 KB, read by this process too) before the clock starts.
    const viewed = new Set<number>();
    const stops = await Promise.all(
      Array.from({ length: viewers }, (_, i) =>
        follow(usher.url, () => {
          viewed.add(i);
        }),
      ),
    );
    while (viewed.size < viewers) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      await db.query(`update room_assignments set location_written = location_text where booking_uid = $1`, [`b${i}-0`]);
      await db.query(`select pg_notify('usher_board', 'room_assignments')`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    console.log(
      `${viewers} viewer(s), 300 rooms: ${((cpu.user + cpu.system) / 1000 / 20).toFixed(1)} ms of this process's CPU per change (viewers read in this process too; ${(wall / 20).toFixed(0)} ms apart)`,
    );
    for (const stop of stops) stop();
    await db.query(`update room_assignments set location_written = null`);
  }
  await usher.close();

  // Two processes on one store (each with its own connections), a viewer on each, 20 changes: how
  // many views each process computed, and whether both viewers got the same messages.
  const name = (await db.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
  const otherDb = await openPostgres(server.url.replace(/\/usher$/, `/${name}`));
  const processes = [await start(db), await start(otherDb)];
  const got: string[][] = [[], []];
  const stops = await Promise.all(processes.map((p, i) => follow(p.url, (json) => got[i]!.push(json))));
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 20; i++) {
    await db.query(`update room_assignments set location_written = location_text where booking_uid = $1`, [`b${i}-1`]);
    await db.query(`select pg_notify('usher_board', 'room_assignments')`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const stop of stops) stop();
  const same = got[0]!.length === got[1]!.length && got[0]!.every((m, i) => m === got[1]![i]);
  console.log(
    `two processes on one store, a viewer on each, 20 changes: views computed ${processes.map((p) => p.board.computed).join(' and ')}; the two viewers got ${same ? 'the same' : 'DIFFERENT'} ${got[0]!.length} messages`,
  );
  for (const p of processes) await p.close();
  await otherDb.close();
  await db.close();
}
await server.stop();
