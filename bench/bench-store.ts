import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres, type Db } from '../src/store/db.ts';
import { startEmbeddedServer } from '../src/store/embedded-server.ts';
import { migrate } from '../src/store/migrate.ts';

/** A fresh embedded PostgreSQL server for one benchmark, with Usher's production settings (fsync on). */
export async function benchServer(): Promise<{ url: string; dataDir: string; fresh(): Promise<Db>; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'usher-bench-pg-'));
  chmodSync(dir, 0o755);
  const server = await startEmbeddedServer({ dataDir: join(dir, 'data') });
  let n = 0;
  return {
    url: server.url,
    dataDir: join(dir, 'data'),
    /** A new, migrated database on the server. */
    async fresh() {
      const admin = await openPostgres(server.url);
      const name = `bench_${process.pid}_${n++}`;
      await admin.exec(`create database ${name}`);
      await admin.close();
      const db = await openPostgres(server.url.replace(/\/usher$/, `/${name}`), { kind: 'embedded' });
      await migrate(db);
      return db;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
