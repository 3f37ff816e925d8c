import { join } from 'node:path';
import { openPglite, openPostgres, type Db } from './db.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';

export interface OpenedStore {
  db: Db;
  /** Present for the embedded store: released on close. */
  lock: DataDirLock | undefined;
  close(): Promise<void>;
}

/** PostgreSQL when DATABASE_URL is set, otherwise embedded PGlite in the data dir (one process at a time). */
export async function openStore(options: { databaseUrl: string | undefined; dataDir: string }): Promise<OpenedStore> {
  if (options.databaseUrl) {
    const db = await openPostgres(options.databaseUrl);
    return { db, lock: undefined, close: () => db.close() };
  }
  const lock = lockDataDir(options.dataDir);
  try {
    const db = await openPglite(join(options.dataDir, 'pgdata'));
    return {
      db,
      lock,
      async close() {
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
