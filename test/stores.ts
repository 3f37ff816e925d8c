import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPglite, openPostgres, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';

export type StoreKind = 'pglite' | 'postgres';

/** The server lane runs when scripts/test.mjs started a PostgreSQL server and said where. */
export const serverUrl = process.env.USHER_TEST_DATABASE_URL;

export const storeKinds: StoreKind[] = serverUrl ? ['pglite', 'postgres'] : ['pglite'];

export interface TestStore {
  db: Db;
  kind: StoreKind;
  /** A connection string to the same database, for child processes (postgres only). */
  url: string | undefined;
  reset(): Promise<void>;
  close(): Promise<void>;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated store: in-memory PGlite, or a new database of its own on the test server. */
export async function openTestStore(kind: StoreKind): Promise<TestStore> {
  let db: Db;
  let url: string | undefined;
  let drop = async () => {};
  if (kind === 'pglite') {
    db = await openPglite(undefined);
  } else {
    if (!serverUrl) throw new Error('USHER_TEST_DATABASE_URL is not set');
    const name = `usher_test_${randomBytes(6).toString('hex')}`;
    await withAdmin((c) => c.query(`create database ${name}`));
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    db = await openPostgres(url);
    drop = () => withAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {});
  }
  await migrate(db);
  return {
    db,
    kind,
    url,
    async reset() {
      const tables = await db.query<{ t: string }>(
        `select tablename as t from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'`,
      );
      if (tables.rows.length) {
        await db.exec(`truncate ${tables.rows.map((r) => `"${r.t}"`).join(', ')} restart identity cascade`);
      }
    },
    async close() {
      await db.close();
      await drop();
    },
  };
}
