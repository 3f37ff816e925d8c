import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BatchHooks, EventHandler } from '../src/jobs/handle-event.ts';
import { Worker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { openPostgres, type Db } from '../src/store/db.ts';
import { insertInboxEvents } from '../src/store/inbox.ts';
import { planDayOf } from '../src/store/rooms.ts';
import { startEmbeddedServer } from '../src/store/embedded-server.ts';
import { migrate } from '../src/store/migrate.ts';

/** The postmaster of a Usher data dir's PostgreSQL server and every process it forked. */
export function serverPids(dataDir: string): number[] {
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return [];
  return withChildren(Number(readFileSync(pidFile, 'utf8').split('\n')[0]));
}

/** A process and the processes it forked that still run. */
function withChildren(pid: number): number[] {
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map(Number)
    .filter((p) => p > 0);
  return [pid, ...children];
}

/**
 * CPU time (ms) the PostgreSQL server of a data dir has used so far: its postmaster and every process
 * it forked that is still running (the pool's backends are). Beside process.cpuUsage() it tells
 * whether a benchmark waits on Node or on the server.
 */
export function serverCpuMs(dataDir: string): number {
  return cpuMsOf(serverPids(dataDir));
}

/** CPU time (ms) a process and the processes it forked that still run have used so far. */
export function processCpuMs(pid: number): number {
  return cpuMsOf(withChildren(pid));
}

/** The machine's CPU time so far, all cores (ms): busy, and in all (busy and idle). */
export function machineCpuMs(): { busy: number; all: number } {
  // /proc/stat's first line: user nice system idle iowait irq softirq steal … in USER_HZ ticks.
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const all = ticks.reduce((a, b) => a + b, 0);
  return { busy: (all - ticks[3]! - ticks[4]!) * 10, all: all * 10 };
}

function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // ended meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/**
 * BENCH_CPU_PROFILE=<file>: a CPU profile of the measured part only (open it in Chrome's DevTools);
 * returns the function that stops it and writes the file.
 */
export async function startCpuProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async (file) => {
    const { profile: cpu } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(cpu));
    session.disconnect();
  };
}

/** A fresh embedded PostgreSQL server for one benchmark, with Usher's production settings (fsync on). */
export async function benchServer(): Promise<{
  url: string;
  dataDir: string;
  fresh(): Promise<Db>;
  emptyDatabase(): Promise<string>;
  stop(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-pg-'));
  chmodSync(dir, 0o755);
  const server = await startEmbeddedServer({ dataDir: join(dir, 'data') });
  let n = 0;
  const emptyDatabase = async () => {
    const admin = await openPostgres(server.url);
    const name = `bench_${process.pid}_${n++}`;
    await admin.exec(`create database ${name}`);
    await admin.close();
    return server.url.replace(/\/usher$/, `/${name}`);
  };
  return {
    url: server.url,
    dataDir: join(dir, 'data'),
    /** A new, migrated database on the server. */
    async fresh() {
      const db = await openPostgres(await emptyDatabase(), { kind: 'embedded' });
      await migrate(db);
      return db;
    },
    /** A new, empty database on the server: its URL. */
    emptyDatabase,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const profile = new Map<string, { n: number; ms: number }>();

/** BENCH_PROFILE=1: time spent per statement (first words), measured around each query in a transaction. */
export function profiled(db: Db): Db {
  if (!process.env.BENCH_PROFILE) return db;
  const wrap = <T extends { query: Db['query'] }>(q: T): T =>
    new Proxy(q, {
      get(target, key, receiver) {
        if (key !== 'query') return Reflect.get(target, key, receiver);
        return async (sql: string, params?: readonly unknown[]) => {
          const t = performance.now();
          try {
            return await target.query(sql, params);
          } finally {
            const k = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
            const e = profile.get(k) ?? { n: 0, ms: 0 };
            e.n++;
            e.ms += performance.now() - t;
            profile.set(k, e);
          }
        };
      },
    });
  return new Proxy(db, {
    get(target, key, receiver) {
      if (key === 'transaction')
        return <R>(fn: (trx: Parameters<Parameters<Db['transaction']>[0]>[0]) => Promise<R>) => target.transaction((trx) => fn(wrap(trx)));
      return Reflect.get(target, key, receiver);
    },
  });
}

/** The statements that took the most time since the last call, then forgets them. */
export function printProfile(title: string): void {
  console.log(`statements, ${title} (total ms, count, statement):`);
  for (const [k, v] of [...profile].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15))
    console.log(`${v.ms.toFixed(0).padStart(6)} ms ${String(v.n).padStart(6)}× ${k}`);
  profile.clear();
}

/** Stores signed-and-received BOOKING_CREATED (or `trigger`) bodies in the inbox, pending, a thousand at a time. */
export async function storeCreatedEvents(
  db: Db,
  items: readonly { uid: string; body: string }[],
  now: Date,
  trigger = 'BOOKING_CREATED',
): Promise<void> {
  for (let i = 0; i < items.length; i += 1000)
    await insertInboxEvents(
      db,
      items.slice(i, i + 1000).map((c) => ({
        dedupeKey: randomUUID(),
        trigger,
        bookingUid: c.uid,
        // As the webhook route stores it (migration 0021).
        planDay: planDayOf(new Date((JSON.parse(c.body) as { payload: { startTime: string } }).payload.startTime)),
        source: 'webhook' as const,
        rawBody: c.body,
        state: 'pending' as const,
        maxAttempts: 8,
        receivedAt: now,
      })),
    );
}

/** The value at percentile p of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** n writes of one 8-KB page, each followed by fdatasync as a commit's WAL flush is (ms, sorted). */
export function diskFlushes(n: number): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-disk-'));
  const fd = openSync(join(dir, 'wal'), 'w');
  const page = Buffer.alloc(8192, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      writeSync(fd, page, 0, page.length, (i % 2048) * page.length);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

/** A worker with the given handlers and no jobs, driven by hand (runInboxOnce) at the clock `now`. */
export function benchWorker(
  db: Db,
  now: Date,
  features: { eventHandlers: EventHandler[]; batchHooks: BatchHooks[] },
  batchSize: number,
): Worker {
  return new Worker({
    db,
    clock: { now: () => now },
    log: createLogger('silent'),
    ...features,
    jobHandlers: {},
    pollIntervalMs: 50,
    batchSize,
    backlogBatchSize: batchSize,
    backoffBaseSeconds: 1,
    backoffMaxSeconds: 10,
  });
}

/**
 * The machine's floor: one transaction of one awaited insert (begin, insert, commit with fsync),
 * `measured` times (ms, sorted), after 3,000 untimed ones — as the decisions run after the clinic's
 * data was loaded: the first seconds of a new connection and of code not yet optimised have a longer tail.
 */
export async function oneInsertTransactions(db: Db, measured: number): Promise<number[]> {
  await db.exec('create table bench_floor (id bigint generated always as identity primary key, body text not null)');
  const times: number[] = [];
  for (let i = -3000; i < measured; i++) {
    const t = performance.now();
    await db.transaction((trx) => trx.query('insert into bench_floor (body) values ($1)', [`event ${i}`]));
    if (i >= 0) times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}
