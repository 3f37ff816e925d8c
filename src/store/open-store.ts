import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsherError } from '../errors.ts';
import { lockDataDir, readLockOwner, type DataDirLock } from './data-dir-lock.ts';
import { openPostgres, type Db } from './db.ts';
import { CLUSTER_DIR, startEmbeddedServer, type EmbeddedServer } from './embedded-server.ts';

export interface StoreSettings {
  databaseUrl: string | undefined;
  dataDir: string;
  postgresBin: string | undefined;
  postgresUser: string;
}

export interface OpenedStore {
  db: Db;
  /** The connection string of this store (for a second client of its own, such as a backup's). */
  url: string;
  /** Present for `usher serve` on the embedded store: one service per data dir. */
  lock: DataDirLock | undefined;
  /** The embedded server this store runs on (undefined with DATABASE_URL). */
  server: EmbeddedServer | undefined;
  close(): Promise<void>;
}

export type StoreRole =
  /** `usher serve`: the one service of this data dir; starts (or adopts) its server and stops it on exit. */
  | 'serve'
  /** A CLI command: joins the server `usher serve` runs, or starts one for its own duration. */
  | 'command'
  /** A command that only reads: never creates a data dir or a cluster. */
  | 'read';

/** Is there an embedded store in this data dir already? */
export function hasEmbeddedStore(dataDir: string): boolean {
  return existsSync(join(dataDir, CLUSTER_DIR, 'PG_VERSION'));
}

/**
 * PostgreSQL when DATABASE_URL is set; otherwise the embedded PostgreSQL server in the data dir
 * (src/store/embedded-server.ts), through the same `pg` code path.
 */
export async function openStore(settings: StoreSettings, role: StoreRole = 'serve', log?: (message: string) => void): Promise<OpenedStore> {
  if (settings.databaseUrl) {
    const db = await openPostgres(settings.databaseUrl, { kind: 'external' });
    return { db, url: settings.databaseUrl, lock: undefined, server: undefined, close: () => db.close() };
  }
  const { dataDir } = settings;
  if (role === 'read' && !hasEmbeddedStore(dataDir) && !existsSync(join(dataDir, 'pgdata'))) {
    throw new UsherError(
      'NO_STORE',
      `no Usher data in ${dataDir}: run \`usher serve\` there first, or set USHER_DATA_DIR (or DATABASE_URL) to where Usher keeps its data`,
    );
  }
  const lock = role === 'serve' ? lockDataDir(dataDir) : undefined;
  let server: EmbeddedServer | undefined;
  try {
    server = await startEmbeddedServer({
      dataDir,
      binDir: settings.postgresBin,
      rootRunsAs: settings.postgresUser,
      ...(log ? { log } : {}),
    });
    const db = await openPostgres(server.url, { kind: 'embedded' });
    const s = server;
    return {
      db,
      url: server.url,
      lock,
      server,
      async close() {
        try {
          await db.close();
        } finally {
          // `serve` stops the server it ran on; a command stops only one it started itself, and
          // leaves it to an `usher serve` that began meanwhile.
          if (role === 'serve' || (s.started && !readLockOwner(dataDir))) await s.stop();
          lock?.release();
        }
      },
    };
  } catch (error) {
    if (server && (role === 'serve' || server.started)) await server.stop().catch(() => {});
    lock?.release();
    throw error;
  }
}
