import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant: it serialises migrations between processes that share one PostgreSQL server.
const MIGRATION_LOCK = 774_211_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function listMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: await readFile(migrationsDir + file, 'utf8'),
    })),
  );
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export async function migrate(db: Db): Promise<MigrationResult> {
  const migrations = await listMigrations();
  return db.transaction(async (trx) => {
    await trx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await trx.query(`create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null default now())`);
    const done = new Set((await trx.query<{ version: number }>('select version from schema_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await trx.exec(migration.sql);
      await trx.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
      applied.push(`${String(migration.version).padStart(4, '0')}_${migration.name}`);
    }
    return { applied, alreadyApplied: done.size };
  });
}

/** Versions present in code but not yet applied to the database (empty when ready). */
export async function pendingMigrations(db: Db): Promise<number[]> {
  const exists = await db.query<{ t: string | null }>(`select to_regclass('schema_migrations')::text as t`);
  const migrations = await listMigrations();
  if (!exists.rows[0]?.t) return migrations.map((m) => m.version);
  const done = new Set((await db.query<{ version: number }>('select version from schema_migrations')).rows.map((r) => r.version));
  return migrations.filter((m) => !done.has(m.version)).map((m) => m.version);
}
