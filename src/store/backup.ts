import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import { UsherError } from '../errors.ts';
import type { Db, Queryable } from './db.ts';
import { listMigrations } from './migrate.ts';

/**
 * A logical backup of Usher's store: every table's rows as JSON lines in one gzip file, read in one
 * REPEATABLE READ transaction so the copy is consistent while Usher keeps working. Hand-written
 * because the embedded server ships no pg_dump (only initdb, pg_ctl and postgres), and because a
 * restore must not replay the credit ledger's trigger (it would apply every credit movement twice).
 *
 * Format: line 1 `{format, version, createdAt, migrations}`, then a `{"@table": name}` line (no
 * column can be named so) before each table's rows, one JSON object per line.
 */
const FORMAT = 'usher-backup';
const VERSION = 1;
const BATCH = 500;

const TABLE = '@table';

async function tables(db: Queryable): Promise<string[]> {
  const result = await db.query<{ t: string }>(
    // The room plan's generations (migration 0015) and the board's feed (0018) are derived: a restored
    // copy would name a state that is not the restored one.
    `select tablename as t from pg_tables where schemaname = 'public'
        and tablename not in ('schema_migrations', 'room_plan_epoch', 'room_plan_days', 'room_plan_removed', 'board_feed')
      order by tablename`,
  );
  return result.rows.map((r) => r.t);
}

async function migrationsApplied(db: Queryable): Promise<number[]> {
  return (await db.query<{ version: number }>('select version from schema_migrations order by version')).rows.map((r) => Number(r.version));
}

export interface BackupResult {
  file: string;
  tables: Record<string, number>;
}

/** Writes the store to `file` (gzip'd JSON lines); `now` is recorded as when it was taken. */
export async function backupStore(connectionString: string, file: string, now: Date): Promise<BackupResult> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const gzip = createGzip();
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  const write = async (value: unknown) => {
    if (!gzip.write(`${JSON.stringify(value)}\n`)) await once(gzip, 'drain');
  };
  const counts: Record<string, number> = {};
  try {
    await client.query('begin isolation level repeatable read read only');
    const q: Queryable = {
      query: async (sql, params) => {
        const r = await client.query(sql, params as unknown[] | undefined);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      },
      exec: async (sql) => {
        await client.query(sql);
      },
    };
    await write({ format: FORMAT, version: VERSION, createdAt: now.toISOString(), migrations: await migrationsApplied(q) });
    for (const table of await tables(q)) {
      await write({ [TABLE]: table });
      counts[table] = 0;
      await client.query(`declare rows_cursor no scroll cursor for select row_to_json(t) as r from ${pg.escapeIdentifier(table)} t`);
      for (;;) {
        const page = await client.query<{ r: unknown }>(`fetch ${BATCH} from rows_cursor`);
        for (const row of page.rows) await write(row.r);
        counts[table] += page.rows.length;
        if (page.rows.length < BATCH) break;
      }
      await client.query('close rows_cursor');
    }
    await client.query('commit');
  } finally {
    await client.end();
    gzip.end();
    await once(out, 'close');
  }
  return { file, tables: counts };
}

/**
 * Restores a backup into a migrated store that holds no events yet (or, with `replace`, replaces
 * what it holds), in one transaction: all of it or none. Triggers are off meanwhile
 * (`session_replication_role = replica`): the credit ledger's would apply every movement again, and
 * the board's would wake every viewer per row. That needs a role allowed to set it (the embedded
 * server's is; on a managed server use its own backups).
 */
export async function restoreStore(db: Db, file: string, options: { replace?: boolean } = {}): Promise<BackupResult> {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  let header: { format?: string; version?: number; migrations?: number[] };
  try {
    header = JSON.parse(String(first.value ?? '')) as typeof header;
  } catch {
    throw new UsherError('BAD_REQUEST', `${file} is not an Usher backup`);
  }
  if (header.format !== FORMAT || header.version !== VERSION)
    throw new UsherError('BAD_REQUEST', `${file} is not an Usher backup of version ${VERSION}`);
  const known = new Set((await listMigrations()).map((m) => m.version));
  const unknown = (header.migrations ?? []).filter((v) => !known.has(v));
  if (unknown.length > 0)
    throw new UsherError(
      'BAD_REQUEST',
      `${file} was taken by a newer Usher (migrations ${unknown.join(', ')} are unknown here): restore it with that version`,
    );
  const counts: Record<string, number> = {};
  await db.transaction(async (trx) => {
    const existing = await tables(trx);
    const held = Number((await trx.query<{ n: string }>('select count(*) as n from inbox_events')).rows[0]?.n ?? 0);
    if (held > 0 && !options.replace) {
      throw new UsherError(
        'CONFLICT',
        `the store already holds ${held} events: restore into an empty data dir, or pass --replace to replace everything in it`,
      );
    }
    try {
      await trx.query('set local session_replication_role = replica');
    } catch (error) {
      throw new UsherError(
        'BAD_REQUEST',
        'restoring needs a role that may set session_replication_role (a superuser, as the embedded server’s is); on a managed server, use its own backups',
        { cause: error },
      );
    }
    await trx.exec(`truncate ${existing.map((t) => pg.escapeIdentifier(t)).join(', ')} restart identity`);
    let table: string | undefined;
    let batch: unknown[] = [];
    const flush = async () => {
      if (!table || batch.length === 0) return;
      await trx.query(
        `insert into ${pg.escapeIdentifier(table)} overriding system value select * from json_populate_recordset(null::${pg.escapeIdentifier(table)}, $1::json)`,
        [JSON.stringify(batch)],
      );
      counts[table] = (counts[table] ?? 0) + batch.length;
      batch = [];
    };
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (!next.value) continue;
      const value = JSON.parse(next.value) as Record<string, unknown>;
      if (typeof value[TABLE] === 'string') {
        await flush();
        table = value[TABLE];
        if (!existing.includes(table)) throw new UsherError('BAD_REQUEST', `${file} holds a table this Usher does not have: ${table}`);
        counts[table] = 0;
        continue;
      }
      // The transaction that wrote a row (migration 0017) is one of the backed-up server's: here, none.
      if ('board_xact' in value) value.board_xact = '0';
      batch.push(value);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    // The triggers were off: every room plan kept in memory, and every board, must read everything again.
    await trx.query('select room_plan_everything()');
    await trx.query(`select pg_notify('usher_board', 'restore')`);
    // Identity columns carry on after the restored rows.
    const identities = await trx.query<{ t: string; c: string }>(
      `select table_name as t, column_name as c from information_schema.columns where table_schema = 'public' and is_identity = 'YES'`,
    );
    for (const { t, c } of identities.rows) {
      await trx.query(
        `select setval(pg_get_serial_sequence($1, $2), coalesce((select max(${pg.escapeIdentifier(c)}) from ${pg.escapeIdentifier(t)}), 0) + 1, false)`,
        [t, c],
      );
    }
  });
  return { file, tables: counts };
}
