/**
 * npm run bench:commit-notice — why a webhook's work notice is sent after its commit (migration
 * 0017): on the embedded PostgreSQL server (fsync on), clients each committing one 3 KB insert at a
 * time, into a table without a NOTIFY trigger (the baseline, in the same run) and into one whose
 * statement trigger sends a NOTIFY as migration 0008's did. PostgreSQL holds the notice queue's lock
 * through the commit's fsync, so notifying commits cannot share fsyncs.
 */
import pg from 'pg';
import { benchServer } from './bench-store.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

const server = await benchServer();
try {
  const db = await server.fresh();
  await db.exec(`
    create table quiet (id bigint generated always as identity, body text);
    create table noticed (id bigint generated always as identity, body text);
    create function bench_notice() returns trigger language plpgsql as $$
    begin
      perform pg_notify('bench_work', tg_table_name);
      return null;
    end $$;
    create trigger noticed_added after insert on noticed for each statement execute function bench_notice();`);
  const name = (await db.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
  await db.close();
  const url = server.url.replace(/\/usher$/, `/${name}`);
  const body = 'x'.repeat(3000);
  /** Commits per second with this many clients, each inserting one row per transaction. */
  const commits = async (table: string, clients: number): Promise<number> => {
    const pool = new pg.Pool({ connectionString: url, max: clients });
    pool.on('error', () => {});
    let n = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < end) {
          await pool.query(`insert into ${table} (body) values ($1)`, [body]);
          n++;
        }
      }),
    );
    await pool.end();
    return Math.round(n / SECONDS);
  };
  console.log(`one 3 KB insert per transaction, fsync on, ${SECONDS} s each (commits/s):`);
  console.log('| clients | baseline: no notice | NOTIFY in the transaction |');
  console.log('|---|---|---|');
  for (const clients of [1, 8, 32])
    console.log(`| ${clients} | ${await commits('quiet', clients)} | ${await commits('noticed', clients)} |`);
} finally {
  await server.stop();
}
