import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openPostgres, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';

/** The server of this run (test/global-setup.ts): the embedded PostgreSQL 18, or the compatibility lane's. */
export const serverUrl = inject('databaseUrl');

/** What `describe.each(storeKinds)` names: the one engine of this run. */
export const storeKinds = [inject('databaseLane') === 'embedded' ? 'postgres' : `postgres (${inject('databaseLane')})`];

export interface TestStore {
  db: Db;
  /** A connection string to the same database, for child processes. */
  url: string;
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

/** A fresh, migrated database of its own on the run's server. */
export async function openTestStore(_kind?: string): Promise<TestStore> {
  const name = `usher_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name}`));
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = await openPostgres(url);
  await migrate(db);
  return {
    db,
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
      await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}
